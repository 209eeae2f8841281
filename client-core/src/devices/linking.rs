//! Linking a device to an account (SPEC.md §16.4, §16.5), both sides.
//!
//! - The **new device** N is a profile made by [`Core::create_joining`]: a device (identity key,
//!   mailbox, prekeys: it logs in and registers as any device does) with a [`LinkRequest`] whose
//!   code it shows. The request is saved sealed ([`StoreOp::PutLinkRequest`]), so a crash while
//!   waiting loses nothing: the restored core still opens the answer. While it waits it
//!   publishes no list. An envelope that is a link message (type 0x08) is opened with the
//!   request; on success N pins the account's list, imports the contacts, saves all of it with
//!   the ack in one commit, emits [`Event::JoinedAccount`] and publishes its membership.
//! - An **account holder** X types the code ([`Core::handle_link_device`]): it signs the list
//!   with N added, seals the link message (with the account key's seed if the caller chooses),
//!   and queues it in the outbox for N's mailbox, in the same commit as the new list, so it is
//!   sent (and resent after a crash) until the relay stores it. The list is published as any
//!   change of ours is.

use hush_crypto::IdentityKey;
use hush_crypto::devices::{DeviceEntry, DeviceListError, LinkCode, LinkError, LinkRequest};
use serde::{Deserialize, Serialize};

use super::own::OwnAccount;
use crate::address::Address;
use crate::content::MessageId;
use crate::core::Core;
use crate::event::{DropReason, Event};
use crate::records::{Contact, OutboxItem, StoreOp};

/// Why linking or removing a device was refused. Nothing changed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LinkDeviceError {
    /// This device does not hold the account key, so it cannot sign a new list (SPEC.md §16.7).
    #[error("this device does not hold the account key")]
    NotHolder,
    /// The code is this device's own, or the device to remove is this one.
    #[error("that is this device")]
    ThisDevice,
    /// The list cannot take the change (full, or the device to remove is not listed).
    #[error("device list: {0}")]
    List(#[from] DeviceListError),
    /// The code is expired or dated in the future, or the message cannot be sealed.
    #[error("link: {0}")]
    Link(#[from] LinkError),
    /// The link message would not fit in an envelope (too many contacts).
    #[error("the link message is {length} bytes, over the envelope limit of {max}")]
    TooLarge {
        /// Its length.
        length: usize,
        /// The limit.
        max: usize,
    },
    /// This profile is not waiting to join an account.
    #[error("this profile is not waiting to join an account")]
    NotJoining,
}

/// A contact as a link message carries it (postcard, in the payload's `contacts` field).
#[derive(Debug, Serialize, Deserialize)]
struct LinkedContact {
    name: String,
    address: [u8; 32],
    verified: bool,
    added_at: u64,
}

/// The contacts' encoding in a link message.
pub(crate) fn encode_contacts(contacts: &[Contact]) -> Vec<u8> {
    let linked: Vec<LinkedContact> = contacts
        .iter()
        .map(|contact| LinkedContact {
            name: contact.name.clone(),
            address: *contact.address.as_bytes(),
            verified: contact.verified,
            added_at: contact.added_at,
        })
        .collect();
    postcard::to_allocvec(&linked).unwrap_or_default()
}

/// Decodes what [`encode_contacts`] made; entries with an invalid address are skipped, and
/// bytes that do not decode give no contact (the account's list is what joining needs).
pub(crate) fn decode_contacts(bytes: &[u8]) -> Vec<Contact> {
    let linked: Vec<LinkedContact> = postcard::from_bytes(bytes).unwrap_or_default();
    linked
        .into_iter()
        .filter_map(|contact| {
            Some(Contact {
                name: contact.name,
                address: Address::from_bytes(contact.address).ok()?,
                verified: contact.verified,
                added_at: contact.added_at,
            })
        })
        .collect()
}

impl Core {
    /// A new profile that is to join an existing account: a new device whose link request's
    /// code ([`Core::link_code`]) an account holder types. Saved (with the request, sealed) by
    /// the first commits.
    pub fn create_joining(now: u64, rng: Box<dyn rand_core::CryptoRng + Send>) -> Self {
        let mut core = Self::create(now, rng);
        core.new_link_request(now);
        core
    }

    /// Whether this profile waits for a link message to join an account.
    pub fn is_joining(&self) -> bool {
        self.joining.is_some()
    }

    /// The code to show while waiting to join (its text form is [`LinkCode::to_text`]).
    pub fn link_code(&self) -> Option<LinkCode> {
        self.joining.as_ref().map(LinkRequest::code)
    }

    /// A fresh link request for a profile waiting to join (the old code expired): the old one
    /// is forgotten. Refused for a profile that is not waiting.
    pub fn handle_new_link_code(&mut self, now: u64) -> Result<LinkCode, LinkDeviceError> {
        if self.joining.is_none() {
            return Err(LinkDeviceError::NotJoining);
        }
        Ok(self.new_link_request(now))
    }

    fn new_link_request(&mut self, now: u64) -> LinkCode {
        let request = LinkRequest::new(self.account.identity_key(), now / 1000, &mut self.rng);
        let code = request.code();
        self.commit(vec![StoreOp::PutLinkRequest(Some(request.pickle()))]);
        self.joining = Some(request);
        code
    }

    /// Links the device that shows `code` to our account (we must hold the account key): signs
    /// the list with it added, and queues the link message for its mailbox in the same commit,
    /// with the account key's seed if `hand_over_account_key` (the new device becomes a holder,
    /// SPEC.md §16.7) and `contacts`. Then publishes the list.
    pub fn handle_link_device(
        &mut self,
        now: u64,
        code: &LinkCode,
        hand_over_account_key: bool,
        contacts: &[Contact],
    ) -> Result<(), LinkDeviceError> {
        let me = self.account.identity_key();
        let device = code.identity_key();
        if device == me {
            return Err(LinkDeviceError::ThisDevice);
        }
        let key = self.own.signing_key().ok_or(LinkDeviceError::NotHolder)?.clone();
        // A device already listed (a second try with a new code) keeps the list as it is.
        let list = match self.own.list().device(&device) {
            Some(_) => self.own.list().clone(),
            None => key.add_device(self.own.list(), DeviceEntry::new(device, now / 1000))?,
        };
        let seed = hand_over_account_key.then_some(&key);
        let message = code.seal(
            &me,
            &list,
            seed,
            &encode_contacts(contacts),
            b"",
            now / 1000,
            &mut self.rng,
        )?;
        let max = hush_proto::MAX_ENVELOPE_LEN;
        if message.len() > max {
            return Err(LinkDeviceError::TooLarge {
                length: message.len(),
                max,
            });
        }
        let item = OutboxItem {
            id: MessageId::random(&mut self.rng),
            peer: Address::from_identity(&device),
            conv_seq: 0,
            // Empty: the envelope is sealed already (and the item is told apart by it).
            payload: Vec::new(),
            envelope: Some(message),
            created_at: now,
            not_before: now,
        };
        let added = super::publish::list_changes(self.own.list(), &list);
        self.own.pin(list);
        self.outbox.insert(item.clone());
        self.commit(vec![
            StoreOp::PutOwnAccount(self.own.record()),
            StoreOp::PutOutbox(item),
        ]);
        for event in added {
            self.event(event);
        }
        self.own_list_changed(now);
        self.check_bundle_of(device);
        self.pump(now);
        Ok(())
    }

    /// Removes `device` from our account (we must hold the account key): signs the list
    /// without it and publishes it. The account's devices and contacts encrypt nothing more to
    /// it, and the relay deletes its mailbox once it stores the list.
    pub fn handle_remove_device(&mut self, now: u64, device: &IdentityKey) -> Result<(), LinkDeviceError> {
        if *device == self.account.identity_key() {
            return Err(LinkDeviceError::ThisDevice);
        }
        let key = self.own.signing_key().ok_or(LinkDeviceError::NotHolder)?;
        let list = key.remove_device(self.own.list(), device)?;
        let removed = super::publish::list_changes(self.own.list(), &list);
        self.own.pin(list);
        self.save_own();
        for event in removed {
            self.event(event);
        }
        self.own_list_changed(now);
        Ok(())
    }

    /// An envelope that is a link message: opened with our request if we wait for one.
    pub(crate) fn on_link_message(
        &mut self,
        now: u64,
        message: &[u8],
        ops: &mut Vec<StoreOp>,
        events: &mut Vec<Event>,
    ) {
        let opened = match &mut self.joining {
            Some(request) => request.open(message, now / 1000),
            None => Err(LinkError::AlreadyUsed),
        };
        let linked = match opened {
            Ok(linked) => linked,
            Err(error) => {
                let reason = DropReason::Link(error);
                return events.push(Event::Dropped {
                    claimed_from: None,
                    reason,
                });
            }
        };
        let holder = linked.account_signing_key.is_some();
        let account = *linked.device_list.account_key();
        self.own = OwnAccount::from_parts(&self.account, linked.account_signing_key, linked.device_list, 0);
        self.joining = None;
        ops.push(StoreOp::PutOwnAccount(self.own.record()));
        ops.push(StoreOp::PutLinkRequest(None));
        // The account's contacts are this device's too: accepted, as a contact added by hand is
        // (they get our access key, and their messages are not requests).
        for contact in decode_contacts(&linked.contacts) {
            let peer = contact.address;
            ops.push(StoreOp::PutContact(contact));
            self.mark_accepted(now, peer, ops);
        }
        events.push(Event::JoinedAccount { account, holder });
        self.list_sync.halted = false;
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    /// The example of proto/PROTOCOL.md "Link messages: contacts", byte for byte.
    #[test]
    fn contacts_encode_as_the_protocol_text_says() {
        let mut address = [0x66u8; 32];
        address[0] = 0x58; // the Ed25519 base point: a valid identity key
        let bob = Contact {
            name: "bob".into(),
            address: Address::from_bytes(address).unwrap(),
            verified: true,
            added_at: 1_700_000_000_000,
        };
        let mut expected = vec![0x01, 0x03, b'b', b'o', b'b'];
        expected.extend_from_slice(&address);
        expected.extend_from_slice(&[0x01, 0x80, 0xd0, 0x95, 0xff, 0xbc, 0x31]);
        let encoded = encode_contacts(std::slice::from_ref(&bob));
        assert_eq!(encoded, expected);
        assert_eq!(decode_contacts(&encoded), vec![bob]);
    }

    /// An entry whose address is not a valid identity key is skipped; bytes that do not decode
    /// give no contact.
    #[test]
    fn contacts_that_do_not_decode_are_skipped() {
        let mut bytes = vec![0x01, 0x01, b'x'];
        bytes.extend_from_slice(&[0x00; 32]); // not a valid identity key
        bytes.extend_from_slice(&[0x00, 0x00]);
        assert!(decode_contacts(&bytes).is_empty());
        assert!(decode_contacts(&[0x05, 0x01]).is_empty());
    }
}
