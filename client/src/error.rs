//! The client's error type.

use hush_client_core::{AddressError, SendError};

use crate::net::NetError;
use crate::store::StoreError;

/// Why a client operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The local database failed; [`StoreError::WrongKey`] means a wrong key or passphrase.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The relay could not be reached or refused us.
    #[error(transparent)]
    Relay(NetError),
    /// Text that is not an address.
    #[error("invalid address: {0}")]
    InvalidAddress(#[from] AddressError),
    /// Messages to our own address are not supported.
    #[error("cannot send a message to your own address")]
    SendToSelf,
    /// The content breaks a limit (for example text over 32 KiB).
    #[error("cannot send this content: {0}")]
    InvalidContent(#[source] SendError),
    /// No contact of that name.
    #[error("no contact named {0:?}")]
    UnknownContact(String),
    /// A contact's address changed and the identity policy refused the new one.
    #[error("the new address for {name:?} was refused by the identity policy")]
    IdentityChangeRejected {
        /// The contact.
        name: String,
    },
    /// There is no profile at the path (create one first).
    #[error("no profile at {0}")]
    NoProfile(String),
    /// The client stopped (the local database could not be written, or it was shut down).
    #[error("client stopped: {0}")]
    Stopped(String),
}
