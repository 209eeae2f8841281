//! The account and device commands the app's [`crate::Client`] sends its driver (carried out
//! in `device_commands.rs`).

use hush_client_core::{Address, Contact};
use hush_crypto::IdentityKey;
use hush_crypto::devices::{AccountKey, DeviceList, LinkCode};
use tokio::sync::oneshot;

use crate::error::ClientError;

/// What the app asks about its account and devices.
#[derive(Debug)]
pub(crate) enum DeviceCommand {
    /// Our account's pinned device list.
    List { reply: oneshot::Sender<DeviceList> },
    /// The devices that count in a contact's pinned list (`None`: no list pinned).
    ContactDevices {
        peer: Address,
        reply: oneshot::Sender<Option<Vec<IdentityKey>>>,
    },
    /// The code of a profile waiting to join (a fresh one if the old expired); answered once
    /// the request behind it is durable.
    LinkCode {
        reply: oneshot::Sender<Result<LinkCode, ClientError>>,
    },
    /// Answered with the account key once this profile has joined an account (at once if it
    /// is not waiting to join).
    WaitJoined { reply: oneshot::Sender<AccountKey> },
    /// Link the device showing `code`; answered once the list and the link message are durable.
    Link {
        code: LinkCode,
        hand_over_account_key: bool,
        contacts: Vec<Contact>,
        reply: oneshot::Sender<Result<(), ClientError>>,
    },
    /// Remove a device from our account; answered once the new list is durable.
    Remove {
        device: IdentityKey,
        reply: oneshot::Sender<Result<(), ClientError>>,
    },
}

impl DeviceCommand {
    /// The client stopped: every reply says so (a dropped sender reads as stopped).
    pub(crate) fn refuse(self, error: ClientError) {
        match self {
            Self::List { .. } | Self::ContactDevices { .. } | Self::WaitJoined { .. } => {}
            Self::LinkCode { reply } => drop(reply.send(Err(error))),
            Self::Link { reply, .. } | Self::Remove { reply, .. } => drop(reply.send(Err(error))),
        }
    }
}
