//! This device's account and its devices (test-vectors/SPEC.md §16): what the account's device
//! list names, joining an account with a new device, linking and removing devices.
//!
//! The new device shows the code and the existing one types it (SPEC.md §16.4, as Signal's
//! linking): the code carries the new device's identity key and a one-time key and secret, so
//! the answer is readable by that device only and accepted by it only from someone who saw the
//! code, and nothing of it passes through the relay.
//!
//! ```no_run
//! # async fn demo(relay: hush_client::RelayAddress, phone: hush_client::Client) -> Result<(), hush_client::ClientError> {
//! use hush_client::{Client, DatabaseKey};
//!
//! // On the laptop (new): a new profile that waits to join; show its code.
//! let key = DatabaseKey::from_bytes([7; 32]);
//! let (laptop, _events) = Client::open_joining("laptop.db", &key, relay).await?;
//! laptop.register().await?;
//! let code = laptop.link_code().await?.to_text();
//!
//! // On the phone (an account holder): type the code.
//! phone.link_device(&code, false).await?;
//!
//! // The laptop joins once the phone's link message arrives.
//! let account = laptop.join_account().await?;
//! # let _ = account; Ok(()) }
//! ```

use std::path::Path;

use hush_client_core::Address;
use hush_crypto::IdentityKey;
use hush_crypto::devices::{AccountKey, DeviceEntry, DeviceList, LinkCode};
use tokio::sync::oneshot;

use super::{Client, stopped};
use crate::device_command::DeviceCommand;
use crate::driver::Command;
use crate::error::ClientError;
use crate::relay_address::RelayAddress;
use crate::store::DatabaseKey;

impl Client {
    /// Creates a new profile at `path` that is to join an existing account (this device is
    /// then one of the account's devices): show [`Client::link_code`] to a device of the
    /// account, then wait with [`Client::join_account`]. A profile already at `path` is
    /// [`ClientError::ProfileExists`]; a profile made here that was closed before it joined
    /// still waits when opened again ([`Client::open_existing`]).
    pub async fn open_joining(
        path: impl AsRef<Path>,
        key: &DatabaseKey,
        relay: RelayAddress,
    ) -> Result<(Self, crate::Events), ClientError> {
        let path = path.as_ref();
        if path.exists() {
            return Err(ClientError::ProfileExists(path.to_path_buf()));
        }
        Self::start(
            path,
            key,
            relay,
            super::OpenOptions::default(),
            super::Opening::Joining,
        )
        .await
    }

    async fn device(&self, command: DeviceCommand) -> Result<(), ClientError> {
        self.command(Command::Device(command)).await
    }

    /// Our account's pinned device list (signed by the account key; it names this device).
    pub async fn device_list(&self) -> Result<DeviceList, ClientError> {
        let (reply, answer) = oneshot::channel();
        self.device(DeviceCommand::List { reply }).await?;
        answer.await.map_err(|_| stopped())
    }

    /// Our account key: the address and safety number are computed over it.
    pub async fn account_key(&self) -> Result<AccountKey, ClientError> {
        Ok(*self.device_list().await?.account_key())
    }

    /// Our account's address: the one to share. A contact that writes to it reaches every
    /// device of the account, and our other devices see what we send
    /// (proto/PROTOCOL.md "Accounts with several devices"); [`Client::address`] names this
    /// device alone (a contact that knows only it reaches only this device).
    pub async fn account_address(&self) -> Result<Address, ClientError> {
        let key = self.account_key().await?;
        // An account key is validated as an identity key is (SPEC.md §16.1).
        Ok(Address::from_bytes(*key.as_bytes()).unwrap_or(self.address))
    }

    /// The devices that count in `peer`'s pinned device list (named by the list, with a
    /// membership that verified), or `None` if no list is pinned for it (a single-device
    /// contact known by its device address, or one whose list was not fetched yet).
    pub async fn contact_devices(&self, peer: Address) -> Result<Option<Vec<IdentityKey>>, ClientError> {
        let (reply, answer) = oneshot::channel();
        self.device(DeviceCommand::ContactDevices { peer, reply }).await?;
        answer.await.map_err(|_| stopped())
    }

    /// The account safety number with `peer` (SPEC.md §16.6), over our account key and the
    /// key `peer`'s address names: linking or removing devices on either side changes nothing
    /// the two compared. Both sides must know each other by account address (what
    /// [`Client::account_address`] gives) for the numbers to match; [`Client::safety_number`]
    /// is the number over this device's identity key.
    pub async fn account_safety_number(
        &self,
        peer: &Address,
    ) -> Result<hush_crypto::SafetyNumber, ClientError> {
        let own = self.account_address().await?;
        let (Ok(local), Ok(remote)) = (
            AccountKey::from_bytes(own.as_bytes()),
            AccountKey::from_bytes(peer.as_bytes()),
        ) else {
            return Ok(self.safety_number(peer));
        };
        Ok(hush_crypto::SafetyNumber::for_accounts(
            &local,
            own.to_string().as_bytes(),
            &remote,
            peer.to_string().as_bytes(),
        ))
    }

    /// The devices of our account, this one included, in ascending order of identity key.
    pub async fn devices(&self) -> Result<Vec<DeviceEntry>, ClientError> {
        Ok(self.device_list().await?.devices().to_vec())
    }

    /// The link code of a profile waiting to join ([`Client::open_joining`]); a fresh one once
    /// the last expired (codes last ten minutes). Show its text form
    /// ([`LinkCode::to_text`]) or its bytes as a QR code, on this device's screen only.
    pub async fn link_code(&self) -> Result<LinkCode, ClientError> {
        let (reply, answer) = oneshot::channel();
        self.device(DeviceCommand::LinkCode { reply }).await?;
        answer.await.map_err(|_| stopped())?
    }

    /// Waits until this profile has joined an account (the link message answering its code
    /// arrived and opened), and returns the account key; at once for a profile that is not
    /// waiting to join.
    pub async fn join_account(&self) -> Result<AccountKey, ClientError> {
        let (reply, answer) = oneshot::channel();
        self.device(DeviceCommand::WaitJoined { reply }).await?;
        answer.await.map_err(|_| stopped())
    }

    /// Links the new device whose code (text form) is `code` to our account: signs the list
    /// with it added and sends it the link message (durably: resent after a crash until the
    /// relay stores it) with our contacts, and with the account key if
    /// `hand_over_account_key` (the new device can then link and remove devices too; see
    /// SPEC.md §16.7). This device must hold the account key.
    pub async fn link_device(&self, code: &str, hand_over_account_key: bool) -> Result<(), ClientError> {
        let code = LinkCode::from_text(code).map_err(ClientError::InvalidLinkCode)?;
        let contacts = self.contacts().await?;
        let (reply, answer) = oneshot::channel();
        let command = DeviceCommand::Link {
            code,
            hand_over_account_key,
            contacts,
            reply,
        };
        self.device(command).await?;
        answer.await.map_err(|_| stopped())?
    }

    /// Removes `device` from our account: signs and publishes a list without it. Contacts and
    /// our other devices then encrypt nothing more to it, and the relay deletes its mailbox.
    /// This device must hold the account key.
    pub async fn remove_device(&self, device: IdentityKey) -> Result<(), ClientError> {
        let (reply, answer) = oneshot::channel();
        self.device(DeviceCommand::Remove { device, reply }).await?;
        answer.await.map_err(|_| stopped())?
    }
}
