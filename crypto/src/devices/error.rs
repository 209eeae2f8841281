//! Errors of the account layer, one enum per operation. Peer misbehaviour (bad bytes, bad
//! signatures, a swapped key) and caller misuse (a list the caller should not sign) are distinct
//! variants.

use thiserror::Error;

use crate::error::DecodeError;

/// A device list that is refused, or one the caller asked to sign that must not exist.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum DeviceListError {
    /// The bytes are not a well-formed device list.
    #[error("device list: {0}")]
    Decode(#[from] DecodeError),
    /// A list with no device (an account with no device cannot be reached).
    #[error("a device list names at least one device")]
    NoDevices,
    /// More devices than [`super::MAX_DEVICES`].
    #[error("{count} devices, at most {max} allowed")]
    TooManyDevices {
        /// Devices found or asked for.
        count: usize,
        /// The limit.
        max: usize,
    },
    /// The same device identity key twice.
    #[error("a device identity key appears twice")]
    DuplicateDevice,
    /// Entries not in ascending order of identity key (the one canonical order).
    #[error("device entries are not in ascending order of identity key")]
    DevicesOutOfOrder,
    /// The account key's signature over the list does not verify.
    #[error("device list signature does not verify under its account key")]
    BadSignature,
    /// The list is signed by an account key other than the pinned one: an identity change.
    #[error("device list is signed by another account key than the pinned one")]
    AccountKeyChanged,
    /// The list's counter does not exceed the pinned list's: an old or replayed list.
    #[error("device list counter {found} does not exceed the pinned counter {pinned}")]
    CounterNotGrowing {
        /// Counter of the pinned list.
        pinned: u64,
        /// Counter that came.
        found: u64,
    },
    /// The pinned list's counter is `u64::MAX`; no later list can exist.
    #[error("device list counter is exhausted")]
    CounterExhausted,
    /// Caller misuse: the signing key is not the account key of the list it should update.
    #[error("the signing key is not this list's account key")]
    WrongAccountKey,
    /// Caller misuse: removing a device the list does not name.
    #[error("the device is not in the list")]
    UnknownDevice,
}

/// Bytes or text that are not a link code.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum LinkCodeError {
    /// The bytes are not a well-formed link code.
    #[error("link code: {0}")]
    Decode(#[from] DecodeError),
    /// The text form holds a character that is not base32 (RFC 4648), or a length no encoding
    /// of a link code has.
    #[error("link code text is not base32 at character {position}")]
    NotBase32 {
        /// Index of the first offending character (of the text with separators removed), or the
        /// text's length when the length is wrong.
        position: usize,
    },
}

/// A link message that cannot be made or is refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum LinkError {
    /// The link message's header is not well formed.
    #[error("link message: {0}")]
    Decode(#[from] DecodeError),
    /// This link request already accepted a link message (a replay, or a second answer).
    #[error("this link request was already used")]
    AlreadyUsed,
    /// The code is older than [`super::LINK_CODE_LIFETIME`] (on the clock of whoever checks).
    #[error("link code created at {created_at} has expired at {now}")]
    Expired {
        /// The code's creation time.
        created_at: u64,
        /// The checker's time.
        now: u64,
    },
    /// The code is dated more than [`super::MAX_LINK_CLOCK_SKEW`] ahead of the sealer's clock.
    #[error("link code created at {created_at} is ahead of the clock {now}")]
    FromTheFuture {
        /// The code's creation time.
        created_at: u64,
        /// The sealer's time.
        now: u64,
    },
    /// The message names another new-device identity key than this request's: it was made for
    /// another device, or the key was swapped on the way.
    #[error("the link message is for another device identity key")]
    WrongDevice,
    /// The message names another link ephemeral key than this request's code: it answers another
    /// code, or the key was swapped on the way.
    #[error("the link message answers another link code")]
    WrongEphemeral,
    /// The message does not authenticate under this code (tampered, or made by someone without
    /// the code's secret).
    #[error("link message does not authenticate")]
    Unauthenticated,
    /// The authenticated payload is not well formed.
    #[error("link payload: {0}")]
    MalformedPayload(DecodeError),
    /// The device list inside is refused.
    #[error("link payload device list: {0}")]
    DeviceList(DeviceListError),
    /// The device list does not name the new device (sealing: the caller's list; opening: the
    /// sealer's).
    #[error("the device list does not name the new device")]
    NotInDeviceList,
    /// The device list does not name the sending device, or names it as the new one.
    #[error("the device list does not name the sending device")]
    SenderNotInDeviceList,
    /// The account seed inside is not the secret of the list's account key (opening), or the
    /// signing key given is not the list's account key (sealing).
    #[error("the account seed does not match the list's account key")]
    AccountSeedMismatch,
    /// Caller misuse: contacts or history over their limit.
    #[error("{field} of {length} bytes is over the limit of {max}")]
    TooLong {
        /// `contacts` or `history`.
        field: &'static str,
        /// Length given.
        length: usize,
        /// Limit.
        max: usize,
    },
}
