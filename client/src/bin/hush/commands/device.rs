//! `hush init --link`, `hush device …`: this profile's account and its devices.
//!
//! The new device shows the code and an existing device of the account types it (SPEC.md
//! §16.4, as Signal links devices): `hush init --link` on the new device creates its profile,
//! registers it, prints the code and waits; `hush device link CODE` on a device holding the
//! account key answers it.

use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use hush_client::{ClientEvent, Event, RelayAddress};
use hush_crypto::IdentityKey;
use hush_crypto::devices::LINK_CODE_LIFETIME;

use super::with_profile;
use crate::profile::Profile;

/// How long `device link` waits for the relay to store the link message and the new list.
const LINK_WAIT: Duration = Duration::from_secs(30);

/// Lowercase hex.
fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// A device's id as `device list` prints it: its identity key in hex.
fn device_id(key: &IdentityKey) -> String {
    hex(key.as_bytes())
}

/// `hush init --link`: a new profile that joins an existing account.
pub async fn init_link(dir: &Path, relay: RelayAddress) -> Result<()> {
    let profile = Profile::create_joining(dir, relay).await?;
    println!("profile created in {}", dir.display());
    if let Err(error) = profile.client.register().await {
        profile.client.shutdown().await?;
        bail!(
            "profile created, but registration failed: {error}. Run `hush device join` once the \
             relay is reachable."
        );
    }
    wait_to_join(profile).await
}

/// `hush device join`: a profile made by `hush init --link` that has not joined yet shows its
/// (fresh) code and waits again.
pub async fn join(dir: &Path) -> Result<()> {
    let profile = Profile::open(dir).await?;
    profile.client.register().await?;
    wait_to_join(profile).await
}

async fn wait_to_join(mut profile: Profile) -> Result<()> {
    let code = profile.client.link_code().await?;
    println!("link code: {}", code.to_text());
    println!(
        "on a device of your account, run: hush device link CODE (the code works for {} minutes)",
        LINK_CODE_LIFETIME / 60
    );
    let wait = Duration::from_secs(LINK_CODE_LIFETIME);
    let joined = tokio::time::timeout(wait, profile.client.join_account()).await;
    let outcome = match joined {
        Ok(Ok(account)) => {
            let devices = profile.client.devices().await?;
            println!(
                "joined account {} ({} devices)",
                hex(account.as_bytes()),
                devices.len()
            );
            // Contacts count this device once its membership is at the relay: wait for it, so
            // that what they send next reaches it too.
            let published = profile
                .wait_for(LINK_WAIT, |event| match event {
                    ClientEvent::Core(Event::OwnListPublished { .. }) => Some(()),
                    _ => None,
                })
                .await;
            if let Err(reason) = published {
                println!(
                    "this device's membership is not published yet ({reason}); the next command                      that reaches the relay publishes it"
                );
            }
            Ok(())
        }
        Ok(Err(error)) => Err(error.into()),
        Err(_) => Err(anyhow::anyhow!(
            "no device linked this one in time; run `hush device join` for a new code"
        )),
    };
    profile.client.shutdown().await?;
    outcome
}

/// `hush device link CODE`: links the device showing `code` to this profile's account.
pub async fn link(dir: &Path, code: &str, holder: bool) -> Result<()> {
    let mut profile = Profile::open(dir).await?;
    let result = link_with(&mut profile, code, holder).await;
    profile.client.shutdown().await?;
    result
}

async fn link_with(profile: &mut Profile, code: &str, holder: bool) -> Result<()> {
    profile.client.register().await?;
    profile
        .client
        .link_device(code, holder)
        .await
        .context("cannot link that device")?;
    // Until the relay stores the link message (the new device reads it from its mailbox).
    let stored = profile
        .wait_for(LINK_WAIT, |event| match event {
            ClientEvent::Core(Event::LinkSent { device }) => Some(device),
            _ => None,
        })
        .await;
    match stored {
        Ok(device) => {
            let role = if holder { ", holding the account key" } else { "" };
            println!("linked device {}{role}", device_id(&device));
            Ok(())
        }
        Err(reason) => bail!(
            "the link message is queued but not sent ({reason}); any command that reaches the \
             relay sends it"
        ),
    }
}

/// `hush device list`.
pub async fn list(dir: &Path) -> Result<()> {
    let (list, me) = with_profile(dir, async |profile| {
        let list = profile.client.device_list().await?;
        Ok((list, profile.client.address().identity()))
    })
    .await?;
    println!(
        "account {} (list {})",
        hex(list.account_key().as_bytes()),
        list.counter()
    );
    for entry in list.devices() {
        let this = if entry.identity_key == me {
            " (this device)"
        } else {
            ""
        };
        println!(
            "{}\tadded {}{this}",
            device_id(&entry.identity_key),
            entry.created_at
        );
    }
    Ok(())
}

/// `hush device remove ID`: `id` is a device's id or a unique prefix of it (8 digits at least).
pub async fn remove(dir: &Path, id: &str) -> Result<()> {
    let id = id.to_ascii_lowercase();
    if id.len() < 8 {
        bail!("give at least 8 digits of the device id (`hush device list` shows them)");
    }
    let removed = with_profile(dir, async |profile| {
        let devices = profile.client.devices().await?;
        let matching: Vec<IdentityKey> = devices
            .iter()
            .map(|entry| entry.identity_key)
            .filter(|key| device_id(key).starts_with(&id))
            .collect();
        let [device] = matching.as_slice() else {
            bail!(
                "{} devices of this account have an id starting {id}",
                matching.len()
            );
        };
        profile.client.register().await?;
        profile.client.remove_device(*device).await?;
        // Until the relay stores the new list (it then deletes the removed device's mailbox).
        let counter = profile.client.device_list().await?.counter();
        let published = |event| {
            matches!(event, ClientEvent::Core(Event::OwnListPublished { counter: c }) if c == counter)
                .then_some(())
        };
        if let Err(reason) = profile.wait_for(LINK_WAIT, published).await {
            bail!(
                "the new list is saved but the relay did not store it yet ({reason}); any command \
                 that reaches the relay publishes it"
            );
        }
        Ok(*device)
    })
    .await?;
    println!("removed device {}", device_id(&removed));
    Ok(())
}
