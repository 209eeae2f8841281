//! One file per command or command group; `main.rs` parses the arguments and dispatches here.

pub mod backup;
pub mod contact;
pub mod conversations;
pub mod device;
mod format;
pub mod group;
pub mod history;
pub mod inbox;
pub mod init;
mod json;
pub mod passphrase;
pub mod peer;
pub mod relay;
pub mod safety;
pub mod search;
pub mod send;

use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use hush_client::{Address, ConversationSummary};

use crate::profile::Profile;

/// How long `inbox` and friends wait, once online, for no more messages to arrive.
const QUIET: Duration = Duration::from_millis(700);

/// Connects and takes what the relay holds for us, until nothing more arrives for [`QUIET`];
/// offline, warns (`offline` says what is shown instead) and returns false.
async fn fetch(profile: &mut Profile, offline: &str) -> anyhow::Result<bool> {
    if let Err(error) = profile.client.register().await {
        eprintln!("warning: {error}; {offline}");
        Ok(false)
    } else {
        // Queued messages arrive right after login; wait until they stop coming.
        profile.wait_quiet(QUIET).await?;
        Ok(true)
    }
}

/// Opens the profile in `dir`, runs `work` with it, and shuts it down whatever `work` returned.
async fn with_profile<T>(
    dir: &Path,
    work: impl AsyncFnOnce(&mut Profile) -> anyhow::Result<T>,
) -> anyhow::Result<T> {
    let mut profile = Profile::open(dir).await?;
    let result = work(&mut profile).await;
    profile.client.shutdown().await?;
    result
}

/// Every conversation with its name, latest message and unread count.
async fn summaries(profile: &Profile) -> anyhow::Result<Vec<ConversationSummary>> {
    let summaries = profile.client.conversations_summary().await;
    summaries.context("cannot read the contacts of this profile or its conversations")
}

/// A conversation's contact name, or its address when it is not a contact.
fn shown_name(summary: &ConversationSummary) -> String {
    summary.name.clone().unwrap_or_else(|| summary.peer.to_string())
}

/// The contact name of `peer` or its address; a store that cannot be read is an error.
async fn name_or_address(profile: &Profile, peer: &Address) -> anyhow::Result<(Option<String>, String)> {
    let name = profile.client.name_of(peer).await;
    let name = name.context("cannot read the contacts of this profile")?;
    let shown = name.clone().unwrap_or_else(|| peer.to_string());
    Ok((name, shown))
}
