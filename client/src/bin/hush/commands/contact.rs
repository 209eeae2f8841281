//! `hush contact …`: the address book.

use std::path::Path;

use anyhow::{Context, Result};
use hush_client::{Address, ContactUpdate};

use super::{json, with_profile};

pub async fn add(dir: &Path, name: &str, address: &str) -> Result<()> {
    let address: Address = address.parse().context("that is not a Hush address")?;
    let update = with_profile(dir, async |profile| {
        Ok(profile.client.add_contact(name, address).await?)
    })
    .await?;
    match update {
        ContactUpdate::AddedDuplicate { other_names } => {
            println!("{name}: Added");
            eprintln!(
                "warning: {address} is also in your contacts as {}; both names now reach the same \
                 person (remove one with `hush contact remove NAME` if that is a mistake)",
                other_names.join(", ")
            );
        }
        update => println!("{name}: {update:?}"),
    }
    Ok(())
}

pub async fn list(dir: &Path, as_json: bool) -> Result<()> {
    let contacts = with_profile(dir, async |profile| Ok(profile.client.contacts().await?)).await?;
    if as_json {
        return json::print(&json::Contacts {
            contacts: contacts.iter().map(json::ContactEntry::new).collect(),
        });
    }
    for contact in contacts {
        let mark = if contact.verified { " (verified)" } else { "" };
        println!("{}\t{}{mark}", contact.name, contact.address);
    }
    Ok(())
}

pub async fn remove(dir: &Path, name: &str) -> Result<()> {
    let removed = with_profile(dir, async |profile| {
        Ok(profile.client.remove_contact(name).await?)
    })
    .await?;
    println!(
        "removed {name} ({}); the conversation stays, listed under the address, and they can still \
         write to you (`hush block {}` stops that)",
        removed.address, removed.address
    );
    Ok(())
}

pub async fn rename(dir: &Path, old: &str, new: &str) -> Result<()> {
    with_profile(dir, async |profile| {
        Ok(profile.client.rename_contact(old, new).await?)
    })
    .await?;
    println!("{old} renamed to {new}");
    Ok(())
}
