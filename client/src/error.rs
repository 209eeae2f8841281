//! The client's error type.

use std::sync::Arc;

use hush_client_core::{AddressError, CoreError, SendError};

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
    /// A reaction, edit, delete, reply or thread message about a message it cannot be about
    /// (unknown, not ours to edit or delete, deleted).
    #[error(transparent)]
    Surface(hush_client_core::SurfaceError),
    /// A group change refused (no such group, not a member, not an admin, an account we do not
    /// know).
    #[error(transparent)]
    Group(hush_client_core::GroupCommandError),
    /// A group message refused (no such group, or no longer a member).
    #[error(transparent)]
    GroupSend(hush_client_core::GroupSendError),
    /// A search could not run (no words, too long, refused).
    #[error(transparent)]
    Search(crate::store::SearchError),
    /// No contact of that name.
    #[error("no contact named {0:?}")]
    UnknownContact(String),
    /// The address is this profile's own: a contact is someone else.
    #[error("that is your own address; a contact must be someone else's")]
    OwnAddress,
    /// Another contact already has this name (rename the other one, or choose another name).
    #[error("a contact named {0:?} already exists")]
    ContactNameTaken(String),
    /// A contact's address changed and the identity policy refused the new one.
    #[error("the new address for {name:?} was refused by the identity policy")]
    IdentityChangeRejected {
        /// The contact.
        name: String,
    },
    /// There is no profile at the path (create one first).
    #[error("no profile at {}", .0.display())]
    NoProfile(std::path::PathBuf),
    /// A profile that is to join an account must be new, and one is there already.
    #[error("a profile exists at {}; a device joins an account with a new profile", .0.display())]
    ProfileExists(std::path::PathBuf),
    /// A device could not be linked or removed, or this profile is not waiting to join.
    #[error(transparent)]
    Device(#[from] hush_client_core::LinkDeviceError),
    /// The link code does not parse.
    #[error("not a link code: {0}")]
    InvalidLinkCode(#[source] hush_crypto::devices::LinkCodeError),
    /// A backup could not be written or restored (a wrong passphrase or an altered file is
    /// [`crate::BackupError::Unauthenticated`]).
    #[error(transparent)]
    Backup(#[from] crate::store::BackupError),
    /// The client stopped (the local database could not be written, or it was shut down).
    #[error("client stopped: {0}")]
    Stopped(#[source] StopReason),
}

/// Why the client stopped, or could not start.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum StopReason {
    /// A commit could not be written: nothing after the last durable state was acknowledged
    /// or sent.
    #[error("could not write to the local database: {0}")]
    StoreWrite(#[source] Arc<StoreError>),
    /// A thread panicked while holding the local database.
    #[error("the local database's lock is poisoned")]
    LockPoisoned,
    /// A database task panicked or was cancelled.
    #[error("a local database task failed: {0}")]
    Task(#[source] Arc<tokio::task::JoinError>),
    /// The saved state could not be restored.
    #[error(transparent)]
    Restore(Arc<CoreError>),
    /// The client task has ended (shut down, or gone).
    #[error("the client task has ended")]
    Ended,
}
