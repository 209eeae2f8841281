//! `hush contact …`: the address book.

use std::path::Path;

use anyhow::{Context, Result};
use hush_client::Address;

use crate::profile::Profile;

pub async fn add(dir: &Path, name: &str, address: &str) -> Result<()> {
    let profile = Profile::open(dir).await?;
    let address: Address = address.parse().context("that is not a Hush address")?;
    let update = profile.client.add_contact(name, address).await?;
    println!("{name}: {update:?}");
    profile.client.shutdown().await?;
    Ok(())
}

pub async fn list(dir: &Path) -> Result<()> {
    let profile = Profile::open(dir).await?;
    for contact in profile.client.contacts().await? {
        let mark = if contact.verified { " (verified)" } else { "" };
        println!("{}\t{}{mark}", contact.name, contact.address);
    }
    profile.client.shutdown().await?;
    Ok(())
}
