//! `hush send TO TEXT`: one message, waiting (a bounded time) for the relay to store it.

use std::path::Path;
use std::time::Duration;

use anyhow::{Result, bail};
use hush_client::{ClientEvent, Content, Event, MessageStatus};

use crate::profile::Profile;

/// How long `send` waits for the relay to store a message before leaving it queued.
const SEND_WAIT: Duration = Duration::from_secs(10);

/// Exit code of a `send` whose message stayed queued.
pub const QUEUED_EXIT: u8 = 3;

/// `send` could not hand the message to the relay; it stays queued (exit code
/// [`QUEUED_EXIT`]).
#[derive(Debug, thiserror::Error)]
#[error(
    "relay not reachable ({0}): the message is queued, not sent; the next command that reaches \
     the relay sends it"
)]
pub struct QueuedNotSent(String);

pub async fn run(dir: &Path, to: &str, text: String) -> Result<()> {
    let mut profile = Profile::open(dir).await?;
    let peer = profile.resolve(to).await?;
    let id = profile.client.send(peer, Content::text(text)).await?;
    println!("queued {id}");
    // Until the relay stores it, the first failed connection attempt, or SEND_WAIT.
    let outcome = profile
        .wait_for(SEND_WAIT, |event| match event {
            ClientEvent::Core(Event::StatusChanged {
                id: changed, status, ..
            }) if changed == id => Some(status),
            _ => None,
        })
        .await;
    profile.client.shutdown().await?;
    match outcome {
        Ok(MessageStatus::Failed) => bail!("the relay has no mailbox for {to}; message not delivered"),
        Ok(_) => {
            println!("sent");
            Ok(())
        }
        Err(reason) => Err(QueuedNotSent(reason).into()),
    }
}
