//! Typing and presence (SPEC.md §18): ephemerals sealed to every device of a contact and sent
//! with `SendEphemeral`, which the relay pushes to an online device or drops.
//!
//! An ephemeral never touches a Double Ratchet session: it is sealed (SPEC.md §15) straight to
//! the device's identity key, whose layer 2 is an AEAD under keys from the static-static DH of
//! the two identities and a fresh ephemeral key, so it authenticates the sending device and
//! a lost one desyncs nothing. Nothing about it is committed to the store: the core keeps only
//! the replay window, in memory. A relay that replays one is caught by the freshness bound and
//! the window ([`replay`]).

mod handlers;
mod replay;
pub(crate) mod wire;

pub(crate) use self::replay::ReplayWindow;
pub use self::replay::{EPHEMERAL_MAX_SKEW_MS, MAX_REPLAY_ENTRIES};
pub use self::wire::{
    EPHEMERAL_HEADER_LEN, EPHEMERAL_TAG, Ephemeral, EphemeralError, EphemeralKind, Presence,
};

/// Whether this device tells its contacts when it is online and when it was last seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum PresenceSetting {
    /// Nothing is sent (the default: presence is opt-in). Contacts' presence is still shown.
    #[default]
    Off,
    /// "Online" at each login and to a contact that comes online, "last seen" when leaving.
    On,
}

/// The ephemeral state: the presence setting and the replay window. Memory only.
#[derive(Debug, Default)]
pub(crate) struct Ephemerals {
    pub(crate) presence: PresenceSetting,
    pub(crate) seen: ReplayWindow,
}

#[cfg(test)]
mod tests;
