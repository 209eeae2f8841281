//! One file per command or command group; `main.rs` parses the arguments and dispatches here.

pub mod contact;
pub mod inbox;
pub mod init;
pub mod peer;
pub mod relay;
pub mod safety;
pub mod send;

use std::time::Duration;

use crate::profile::Profile;

/// How long `inbox` and friends wait, once online, for no more messages to arrive.
const QUIET: Duration = Duration::from_millis(700);

/// Connects and takes what the relay holds for us, until nothing more arrives for [`QUIET`];
/// offline, warns (`offline` says what is shown instead) and returns.
async fn fetch(profile: &mut Profile, offline: &str) {
    if let Err(error) = profile.client.register().await {
        eprintln!("warning: {error}; {offline}");
    } else {
        // Queued messages arrive right after login; wait until they stop coming.
        drain(profile).await;
    }
}

/// Takes events until none arrives for [`QUIET`].
async fn drain(profile: &mut Profile) {
    while let Ok(Some(_)) = tokio::time::timeout(QUIET, profile.events.next()).await {}
}
