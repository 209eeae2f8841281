//! Why a group message was dropped (a kind of [`crate::DropReason`]).

use hush_crypto::GroupError;
use hush_crypto::sealed::SealError;
use hush_proto::SharedEnvelopeError;

use crate::content::PayloadError;

/// Why a group message was dropped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum GroupDropReason {
    /// Not a shared envelope the relay would have built.
    #[error("not a shared envelope: {0}")]
    NotShared(SharedEnvelopeError),
    /// The shared seal did not open for us.
    #[error("shared seal did not open: {0}")]
    Unsealable(SealError),
    /// The body is not a sender-key message.
    #[error("not a sender-key message")]
    Malformed,
    /// A group we do not hold (not, or not yet, a member).
    #[error("a message of a group we are not in")]
    UnknownGroup,
    /// The sending device belongs to no member account.
    #[error("a group message from a device of no member")]
    NotMember,
    /// The chain refused it (forged, altered, or a chain whose key was refused).
    #[error("group message refused by its chain: {0}")]
    Chain(GroupError),
    /// It decrypted but the payload is not valid, or names another account than its device's.
    #[error("invalid group payload: {0}")]
    Payload(PayloadError),
    /// Too many messages already wait in this group.
    #[error("too many group messages waiting")]
    TooManyWaiting,
}
