//! Typing and presence (SPEC.md §18): ephemeral, end-to-end encrypted, never stored by either
//! client or the relay. Sent only while online, to an accepted contact; an offline contact
//! never hears of it.
//!
//! ```no_run
//! # async fn demo(client: hush_client::Client, bob: hush_client::Address) -> Result<(), hush_client::ClientError> {
//! use hush_client::PresenceSetting;
//!
//! client.send_typing(bob, true).await?; // Bob's devices get `Event::Typing { typing: true, .. }`
//! client.send_typing(bob, false).await?;
//! client.set_presence(PresenceSetting::On).await?; // opt-in: off by default
//! # Ok(()) }
//! ```

use hush_client_core::{Address, PresenceSetting};

use super::Client;
use crate::driver::Command;
use crate::ephemeral_command::EphemeralCommand;
use crate::error::ClientError;

impl Client {
    /// Tells `peer` that we started (`true`) or stopped typing. Lost if either side is offline
    /// (it is not queued); an error only if the client stopped.
    pub async fn send_typing(&self, peer: Address, typing: bool) -> Result<(), ClientError> {
        self.command(Command::Ephemeral(EphemeralCommand::Typing { peer, typing }))
            .await
    }

    /// Whether contacts see us online and when we were last seen (off unless set, for this
    /// process). Turning it off tells them "last seen now"; so does [`Client::shutdown`] while it
    /// is on.
    pub async fn set_presence(&self, setting: PresenceSetting) -> Result<(), ClientError> {
        self.command(Command::Ephemeral(EphemeralCommand::Presence(setting)))
            .await
    }
}
