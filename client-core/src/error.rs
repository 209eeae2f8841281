//! Why the core could not start, queue a message or log in.

use thiserror::Error;

use hush_proto::ErrorResponse;

use crate::content::PayloadError;

/// Why the core could not start.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum CoreError {
    /// Saved state could not be restored.
    #[error("saved state is unreadable: {0}")]
    Restore(#[from] hush_crypto::PickleError),
    /// A saved outbox or held item names an invalid address or payload.
    #[error("saved state is inconsistent: {0}")]
    Inconsistent(&'static str),
    /// A saved group does not restore.
    #[error("saved group is unreadable: {0}")]
    Group(#[from] crate::groups::GroupRecordError),
}

/// Why a message could not be queued.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum SendError {
    /// The content breaks a limit.
    #[error("{0}")]
    Payload(#[from] PayloadError),
    /// Messages to ourselves are not supported.
    #[error("cannot send to our own address")]
    ToSelf,
}

/// Why a login failed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum LoginError {
    /// The relay answered the opening ping without sending a challenge first.
    #[error("the relay sent no login challenge")]
    NoChallenge,
    /// The relay answered a request we did not make.
    #[error("the relay answered a request we did not make")]
    UnexpectedResponse,
    /// The relay answered the login with something other than `Authenticated`.
    #[error("the relay answered the login with something else")]
    UnexpectedAnswer,
    /// The relay refused the login.
    #[error("relay refused login: {:?}: {}", .0.code, .0.detail)]
    Refused(ErrorResponse),
    /// The mailbox is not registered and the relay wants a registration token, and none was
    /// given. (A relay answers a correctly signed login `Unauthorized` only then.)
    #[error("the relay requires a registration token to register this address")]
    RegistrationTokenRequired,
    /// The relay refused the registration token given.
    #[error("the relay refused the registration token")]
    RegistrationTokenRefused {
        /// Whether the token's expiry had passed by our clock.
        expired: bool,
    },
}
