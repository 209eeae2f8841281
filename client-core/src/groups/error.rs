//! Why a group update was refused: malformed or unauthenticated bytes ([`GroupUpdateError`]),
//! or a well-formed update that does not apply to the group as it stands ([`GroupRuleError`]).

use hush_crypto::KeyError;
use thiserror::Error;

/// A group update that cannot be taken at all: bad bytes, a bad signature, or one that does not
/// belong to this group. Nothing is stored.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum GroupUpdateError {
    /// The input ended before a field was complete.
    #[error("truncated group update: {field} needs {needed} more bytes, {available} left")]
    Truncated {
        /// The field being read.
        field: &'static str,
        /// Bytes the field needs.
        needed: usize,
        /// Bytes that were left.
        available: usize,
    },
    /// Bytes were left after a complete update.
    #[error("{count} trailing bytes after a group update")]
    TrailingBytes {
        /// Number of unread bytes.
        count: usize,
    },
    /// The format byte is not one this client speaks.
    #[error("group update format {found}, expected {expected}")]
    UnsupportedVersion {
        /// Format this client speaks.
        expected: u8,
        /// Format that came.
        found: u8,
    },
    /// The kind byte is not that of a group update.
    #[error("kind {found:#04x} is not a group update ({expected:#04x})")]
    UnexpectedKind {
        /// The group update kind.
        expected: u8,
        /// Kind that came.
        found: u8,
    },
    /// The operation byte names no operation.
    #[error("unknown group operation {0:#04x}")]
    UnknownOperation(u8),
    /// A role byte names no role.
    #[error("unknown role {0}")]
    UnknownRole(u8),
    /// A flag byte is neither 0 nor 1.
    #[error("{field} flag is {value}, expected 0 or 1")]
    InvalidFlag {
        /// The field.
        field: &'static str,
        /// Value that came.
        value: u8,
    },
    /// A key field is not a valid Ed25519 public key.
    #[error("{field} is not a valid key: {source}")]
    InvalidKey {
        /// The field.
        field: &'static str,
        /// Why the key was refused.
        source: KeyError,
    },
    /// A text or list is longer than its limit (checked before allocating).
    #[error("{field} length {length} is over the limit of {max}")]
    TooLong {
        /// The field.
        field: &'static str,
        /// Length that came.
        length: usize,
        /// Limit.
        max: usize,
    },
    /// The name is empty, or a list that must name someone is empty.
    #[error("{field} is empty")]
    Empty {
        /// The field.
        field: &'static str,
    },
    /// A name or description is not UTF-8.
    #[error("{field} is not UTF-8")]
    NotUtf8 {
        /// The field.
        field: &'static str,
    },
    /// Accounts in a list are not in strictly ascending byte order (or repeat): an update has
    /// one encoding.
    #[error("{field} is not in strictly ascending order")]
    OutOfOrder {
        /// The field.
        field: &'static str,
    },
    /// The version is 0, a creation is not version 1, or another update claims version 1.
    #[error("version {version} does not fit a {operation} update")]
    BadVersion {
        /// The update's version.
        version: u64,
        /// The operation.
        operation: &'static str,
    },
    /// The author device's signature does not verify.
    #[error("group update signature does not verify")]
    BadSignature,
    /// The update names another author account than the one the caller resolved the author
    /// device to (through that contact's accepted device list).
    #[error("group update names another author account than its device belongs to")]
    AuthorAccountMismatch,
    /// A log must start from a creation.
    #[error("a group log starts from a creation")]
    NotACreation,
    /// The creation does not list its author as an admin.
    #[error("the creation does not list its author as an admin")]
    CreatorNotAdmin,
    /// The update is for another group than this one.
    #[error("group update is for another group")]
    WrongGroup,
    /// Caller error: the update made would not apply to the group as it stands.
    #[error("the update would not apply: {0}")]
    NotAllowed(#[from] GroupRuleError),
    /// The log already holds [`super::MAX_WAITING_UPDATES`] updates that wait for earlier
    /// versions; this one is not stored (it can be delivered again later).
    #[error("too many group updates wait for earlier versions (limit {max})")]
    TooManyWaiting {
        /// Limit.
        max: usize,
    },
}

/// A well-formed, signed update that does not apply to the group state it is ordered after. It
/// stays in the log (an update ordered earlier may arrive and make it apply) and takes its
/// version, but changes nothing else.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum GroupRuleError {
    /// The author's account is not a member.
    #[error("the author is not a member")]
    AuthorNotMember,
    /// The operation needs an admin and the author is not one.
    #[error("the author is not an admin")]
    AuthorNotAdmin,
    /// An added account is already a member.
    #[error("an added account is already a member")]
    AlreadyMember,
    /// A removed or re-roled account is not a member.
    #[error("the account is not a member")]
    NotMember,
    /// The group would have more than [`super::MAX_GROUP_MEMBERS`] members.
    #[error("the group would have {count} members, over the limit of {max}")]
    TooManyMembers {
        /// Members it would have.
        count: usize,
        /// Limit.
        max: usize,
    },
    /// Members would remain but no admin among them.
    #[error("no admin would be left")]
    NoAdminLeft,
    /// A role change to the role the member already has.
    #[error("the member already has that role")]
    RoleUnchanged,
    /// A second creation for a group that has one.
    #[error("the group already exists")]
    SecondCreation,
    /// A removal naming the author: leaving is its own operation.
    #[error("an admin removes itself by leaving")]
    RemovesAuthor,
}
