//! Why the core could not start, or could not queue a message.

use thiserror::Error;

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
