//! The command behind [`crate::Client::send_typing`] and [`crate::Client::set_presence`]
//! (carried out by the driver in `driver.rs`'s command dispatch).

use hush_client_core::{Address, PresenceSetting};

/// What [`crate::Client::send_typing`] and [`crate::Client::set_presence`] ask of the driver. No answer:
/// nothing about them is durable.
#[derive(Debug, Clone, Copy)]
pub(crate) enum EphemeralCommand {
    Typing { peer: Address, typing: bool },
    Presence(PresenceSetting),
}

impl EphemeralCommand {
    /// Hands the command to the core at `now`.
    pub(crate) fn apply(self, core: &mut hush_client_core::Core, now: u64) {
        match self {
            Self::Typing { peer, typing } => core.handle_typing(now, peer, typing),
            Self::Presence(setting) => core.handle_presence_setting(now, setting),
        }
    }
}
