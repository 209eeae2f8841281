//! Group messages, the sending side (proto/PROTOCOL.md "Group messages"): one outbox entry per
//! message, encrypted once on our sender chain, sealed once for every member device with a
//! shared seal (SPEC §15.1) and written as one `SendShared`: the body uploaded once, a 49-byte
//! part per device.
//!
//! The entry lives in the ordinary outbox under the group's conversation address
//! ([`GroupId::conversation`]), a local key that names no mailbox: the outbox keeps it durable
//! and resends it until the relay has stored it, the history keeps the group's messages under it.
//!
//! A message belongs to the group as it was when the app sent it, not when it leaves: it is
//! encrypted on our chain of that moment when it is queued, and its payload field then holds the
//! sender-key message with the member accounts of that moment ([`QueuedGroupMessage`]). It is
//! sealed for the devices of those accounts that are still members when it can go, so an account
//! added meanwhile gets nothing from before it joined (it holds no key of that chain anyway), and
//! one removed meanwhile gets nothing either. The envelope field then holds the sender-key
//! message and its shared seal ([`SharedCopies`]); when the member devices change before the
//! relay stored it (a device left: `NotFound`), the same sender-key message is sealed again for
//! the devices there now, so no chain position is used twice or skipped.

use std::collections::BTreeSet;

use hush_crypto::group::SenderKeyMessage;
use hush_crypto::sealed::seal_shared;
use hush_proto::{
    AccessKey, MAX_RECIPIENTS_PER_SEND, Request, SharedAddressed, SharedBody, SharedDeliveries, SharedPart,
};

use crate::address::Address;
use crate::content::{Content, MessageId};
use crate::core::Core;
use crate::error::SendError;
use crate::groups::GroupId;
use crate::link::Pending;
use crate::records::{OutboxItem, StoreOp};

/// First byte of an outbox envelope field holding a group message ([`SharedCopies`]); apart from
/// fan-out copies (`0xF6`) and sealed envelopes (version 2).
const SHARED_COPIES_TAG: u8 = 0xF5;

/// First byte of a group outbox entry's payload field once it is encrypted
/// ([`QueuedGroupMessage`]); a [`Payload`](crate::content::Payload) never starts with it (its
/// first byte is a payload version, 1).
const QUEUED_GROUP_TAG: u8 = 0xF3;

/// Why a group message could not be queued.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum GroupSendError {
    /// No such group.
    #[error("no such group")]
    UnknownGroup,
    /// We are no longer a member.
    #[error("not a member of this group")]
    NotMember,
    /// The content breaks a limit.
    #[error("{0}")]
    Send(#[from] SendError),
    /// Our sending chain of this group cannot encrypt it: the framed payload is longer than a
    /// sender-key message carries, or the chain's iteration counter is used up (it is replaced
    /// when the group's members next change).
    #[error("the group's sending chain refused it: {0}")]
    Chain(#[from] hush_crypto::GroupError),
    /// The group has more member devices (every device of every other member account, and our
    /// own other devices; an account whose list we have not pinned counts as one) than one
    /// `SendShared` reaches ([`MAX_RECIPIENTS_PER_SEND`], 1,000). Refused at once rather than
    /// queued to wait for good; nothing was queued.
    #[error("the group has {devices} member devices, more than the {max} one send reaches")]
    TooManyDevices {
        /// Member devices counted.
        devices: usize,
        /// [`MAX_RECIPIENTS_PER_SEND`].
        max: usize,
    },
}

/// A group message as the outbox keeps it: the sender-key message, the shared body and each
/// device's part. `F5 || u32 len || message || u32 len || body || u16 count || (device 32 ||
/// u8 len || part)*`, integers big-endian.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SharedCopies {
    pub(crate) message: Vec<u8>,
    pub(crate) body: Vec<u8>,
    pub(crate) parts: Vec<(Address, Vec<u8>)>,
}

impl SharedCopies {
    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut out = vec![SHARED_COPIES_TAG];
        for field in [&self.message, &self.body] {
            out.extend_from_slice(&u32::try_from(field.len()).unwrap_or(u32::MAX).to_be_bytes());
            out.extend_from_slice(field);
        }
        let count = self.parts.len().min(usize::from(u16::MAX));
        out.extend_from_slice(&(count as u16).to_be_bytes());
        for (device, part) in self.parts.iter().take(count) {
            out.extend_from_slice(device.as_bytes());
            out.push(u8::try_from(part.len()).unwrap_or(u8::MAX));
            out.extend_from_slice(part);
        }
        out
    }

    /// `None` for anything else.
    pub(crate) fn decode(bytes: &[u8]) -> Option<Self> {
        let (&SHARED_COPIES_TAG, mut rest) = bytes.split_first()? else {
            return None;
        };
        let mut fields = Vec::with_capacity(2);
        for _ in 0..2 {
            let (length, tail) = rest.split_first_chunk::<4>()?;
            let (field, tail) = tail.split_at_checked(usize::try_from(u32::from_be_bytes(*length)).ok()?)?;
            fields.push(field.to_vec());
            rest = tail;
        }
        let (count, mut rest) = rest.split_first_chunk::<2>()?;
        let mut parts = Vec::with_capacity(usize::from(u16::from_be_bytes(*count)));
        for _ in 0..u16::from_be_bytes(*count) {
            let (device, tail) = rest.split_first_chunk::<32>()?;
            let (&length, tail) = tail.split_first()?;
            let (part, tail) = tail.split_at_checked(usize::from(length))?;
            parts.push((Address::from_bytes(*device).ok()?, part.to_vec()));
            rest = tail;
        }
        let body = fields.pop()?;
        let message = fields.pop()?;
        rest.is_empty().then_some(Self { message, body, parts })
    }
}

/// A group message as queued: the sender-key message, made on our chain as it was when the app
/// sent it, and the member accounts of that moment (us included). `F3 || u32 len || message ||
/// u16 count || account 32 * count`, integers big-endian.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct QueuedGroupMessage {
    pub(crate) message: Vec<u8>,
    pub(crate) members: Vec<[u8; 32]>,
}

impl QueuedGroupMessage {
    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut out = vec![QUEUED_GROUP_TAG];
        out.extend_from_slice(
            &u32::try_from(self.message.len())
                .unwrap_or(u32::MAX)
                .to_be_bytes(),
        );
        out.extend_from_slice(&self.message);
        // At most MAX_GROUP_MEMBERS (1,000) accounts: the count fits.
        let count = self.members.len().min(usize::from(u16::MAX));
        out.extend_from_slice(&(count as u16).to_be_bytes());
        for account in self.members.iter().take(count) {
            out.extend_from_slice(account);
        }
        out
    }

    /// `None` for anything else (a payload queued before messages were encrypted at once).
    pub(crate) fn decode(bytes: &[u8]) -> Option<Self> {
        let (&QUEUED_GROUP_TAG, rest) = bytes.split_first()? else {
            return None;
        };
        let (length, rest) = rest.split_first_chunk::<4>()?;
        let (message, rest) = rest.split_at_checked(usize::try_from(u32::from_be_bytes(*length)).ok()?)?;
        let (count, mut rest) = rest.split_first_chunk::<2>()?;
        let mut members = Vec::with_capacity(usize::from(u16::from_be_bytes(*count)));
        for _ in 0..u16::from_be_bytes(*count) {
            let (account, tail) = rest.split_first_chunk::<32>()?;
            members.push(*account);
            rest = tail;
        }
        rest.is_empty().then(|| Self {
            message: message.to_vec(),
            members,
        })
    }
}

impl Core {
    /// Queues `content` for group `group`. Durable once the commit that follows is applied; it
    /// then survives crashes until the relay has stored it for every member device.
    pub fn send_group(
        &mut self,
        now: u64,
        group: GroupId,
        content: Content,
    ) -> Result<MessageId, GroupSendError> {
        if !self.groups.contains_key(&group) {
            return Err(GroupSendError::UnknownGroup);
        }
        if !self.is_group_member(&group) {
            return Err(GroupSendError::NotMember);
        }
        let devices = self.group_device_count(&group);
        if devices > MAX_RECIPIENTS_PER_SEND {
            return Err(GroupSendError::TooManyDevices {
                devices,
                max: MAX_RECIPIENTS_PER_SEND,
            });
        }
        // Encrypted now, on our chain of the group as it is now (see the module's doc).
        let mut sent_to = Vec::new();
        let (id, mut ops) = self.queue_content(now, group.conversation(), content, |core, payload| {
            let framed = crate::content::frame_payload(&core.account_address(), &payload);
            let record = core.groups.get_mut(&group).ok_or(GroupSendError::UnknownGroup)?;
            let members = record
                .state()
                .members()
                .keys()
                .map(|key| *key.as_bytes())
                .collect();
            let sender = record.sender.as_mut().ok_or(GroupSendError::NotMember)?;
            let message = sender.encrypt(&framed, &mut core.rng)?.to_bytes();
            sent_to.clone_from(&members);
            Ok::<_, GroupSendError>(QueuedGroupMessage { message, members }.encode())
        })?;
        if let Some(record) = self.groups.get(&group) {
            ops.push(StoreOp::PutGroup(record.to_blob()));
        }
        // Receipts count the members of this moment, as the message goes to them.
        self.track_group_message(id, group, &sent_to, &mut ops);
        self.commit(ops);
        self.pump(now);
        Ok(id)
    }

    /// How many devices a message of `group` goes to as far as we know now: our other devices
    /// and every device of every other member account (one for an account not pinned yet).
    fn group_device_count(&self, group: &GroupId) -> usize {
        let me = self.account_key();
        let others: usize = self
            .group(group)
            .map(|state| {
                state
                    .members()
                    .keys()
                    .filter(|account| **account != me)
                    .map(|account| {
                        self.peer_lists
                            .get(&Address::from_account(account))
                            .map_or(1, |pinned| pinned.devices().len())
                    })
                    .sum()
            })
            .unwrap_or(0);
        others + self.own_devices().len()
    }

    /// The group whose conversation address `peer` is, if any.
    pub(crate) fn group_of(&self, peer: &Address) -> Option<GroupId> {
        self.group_conversations.get(peer).copied()
    }

    /// Every device a message of `group` goes to (all devices of every member account but this
    /// one), or `None` while a member's device list has not been answered on this connection.
    pub(crate) fn group_devices(&self, group: &GroupId) -> Option<Vec<Address>> {
        self.group_devices_among(group, None)
    }

    /// [`Core::group_devices`], of the member accounts in `among` only (all when `None`).
    fn group_devices_among(
        &self,
        group: &GroupId,
        among: Option<&BTreeSet<[u8; 32]>>,
    ) -> Option<Vec<Address>> {
        let state = self.group(group)?;
        let me = self.account_key();
        let mut devices = self.own_devices();
        let accounts = state
            .members()
            .keys()
            .filter(|account| **account != me)
            .filter(|account| among.is_none_or(|among| among.contains(account.as_bytes())));
        for account in accounts {
            let address = Address::from_account(account);
            if !self.peer_fetch.answered.contains(&address) {
                return None;
            }
            if let Some(pinned) = self.peer_lists.get(&address) {
                devices.extend(pinned.devices().iter().map(Address::from_identity));
            }
        }
        Some(devices)
    }

    /// Each group's conversation address with unsealed messages in the outbox (`unsealed`),
    /// and whether they can be sealed now. Only those: the check walks every member's list, and
    /// runs at every pump.
    pub(crate) fn groups_ready(
        &self,
        unsealed: &BTreeSet<Address>,
    ) -> std::collections::HashMap<Address, bool> {
        self.group_conversations
            .iter()
            .filter(|(address, _)| unsealed.contains(address))
            .map(|(address, group)| {
                let ready = self
                    .group_devices(group)
                    .is_some_and(|devices| !devices.is_empty());
                (*address, ready)
            })
            .collect()
    }

    /// Asks for the lists of every member of the groups with unsealed messages that were not
    /// asked on this connection.
    pub(crate) fn ask_for_group_routes(&mut self) {
        let groups: Vec<GroupId> = self
            .outbox
            .unsealed_peers()
            .iter()
            .filter_map(|peer| self.group_of(peer))
            .collect();
        let me = self.account_key();
        for group in groups {
            let Some(state) = self.group(&group) else {
                continue;
            };
            let members: Vec<Address> = state
                .members()
                .keys()
                .filter(|account| **account != me)
                .map(Address::from_account)
                .collect();
            for member in members {
                self.fetch_peer_list(member);
            }
        }
    }

    /// A group item's envelope: encrypted on our chain (once: a re-seal keeps the message) and
    /// sealed for the member devices there now. `None` while it cannot be (a list not answered
    /// yet, no devices, or we are no longer a member); the group's chain goes into `ops`.
    pub(crate) fn seal_group_item(
        &mut self,
        group: GroupId,
        item: &OutboxItem,
        ops: &mut Vec<StoreOp>,
    ) -> Option<Vec<u8>> {
        let queued = QueuedGroupMessage::decode(&item.payload);
        // Only to the accounts it was sent to that are members still.
        let among: Option<BTreeSet<[u8; 32]>> = queued.as_ref().map(|q| q.members.iter().copied().collect());
        let devices = self.group_devices_among(&group, among.as_ref())?;
        if devices.is_empty() || devices.len() > MAX_RECIPIENTS_PER_SEND {
            return None;
        }
        let kept = item.envelope.as_deref().and_then(SharedCopies::decode);
        let message = match (kept, queued) {
            (Some(copies), _) => copies.message,
            (None, Some(queued)) => queued.message,
            (None, None) => {
                let framed = crate::content::frame_payload(&self.account_address(), &item.payload);
                let record = self.groups.get_mut(&group)?;
                let sender = record.sender.as_mut()?;
                let message: SenderKeyMessage = sender.encrypt(&framed, &mut self.rng).ok()?;
                ops.push(StoreOp::PutGroup(record.to_blob()));
                message.to_bytes()
            }
        };
        let keys: Vec<_> = devices.iter().map(Address::identity).collect();
        let seal = seal_shared(&keys, &message, &mut self.rng).ok()?;
        let parts = devices.into_iter().zip(seal.parts).collect();
        Some(
            SharedCopies {
                message,
                body: seal.body,
                parts,
            }
            .encode(),
        )
    }

    /// A group item's `SendShared` was refused: `NotFound` (a member device is gone) seals it
    /// again once the members' lists are fetched again; `AccessDenied` drops the keys of its
    /// devices and writes again without them. Returns whether the refusal was handled here.
    pub(crate) fn on_shared_refused(
        &mut self,
        now: u64,
        id: &MessageId,
        error: &hush_proto::ErrorResponse,
    ) -> bool {
        let Some(item) = self.outbox.get(id).cloned() else {
            return false;
        };
        let (Some(group), Some(copies)) = (
            self.group_of(&item.peer),
            item.envelope.as_deref().and_then(SharedCopies::decode),
        ) else {
            return false;
        };
        match error.code {
            hush_proto::ErrorCode::NotFound => {
                self.outbox.reroute(item.id);
                let members: Vec<Address> = self
                    .group(&group)
                    .map(|state| state.members().keys().map(Address::from_account).collect())
                    .unwrap_or_default();
                let own = self.account_address();
                for member in members.into_iter().filter(|member| *member != own) {
                    self.refetch_peer_list(member);
                }
                self.backoff.back_off(now, item.peer, &mut self.rng);
                true
            }
            hush_proto::ErrorCode::AccessDenied => {
                let mut ops = Vec::new();
                for (device, _) in &copies.parts {
                    if let Some(access) = self.access.drop_key(device) {
                        ops.push(StoreOp::PutPeerAccess(access));
                    }
                    if let Some(account) = self.peer_lists.owner_of(&device.identity())
                        && let Some(access) = self.access.drop_key(&account)
                    {
                        ops.push(StoreOp::PutPeerAccess(access));
                    }
                }
                self.commit(ops);
                true
            }
            _ => false,
        }
    }

    /// Writes a group item's `SendShared`; false if it is larger than the protocol allows.
    pub(crate) fn transmit_shared(&mut self, id: MessageId, copies: SharedCopies) -> bool {
        let Some(body) = SharedBody::new(copies.body) else {
            return false;
        };
        let mut deliveries = Vec::with_capacity(copies.parts.len());
        for (device, part) in copies.parts {
            let access: Option<AccessKey> = self.access.key_for(&device).or_else(|| {
                self.peer_lists
                    .owner_of(&device.identity())
                    .and_then(|account| self.access.key_for(&account))
            });
            let Some(part) = SharedPart::new(part) else {
                return false;
            };
            deliveries.push(SharedAddressed {
                to: device.mailbox(),
                access,
                part,
            });
        }
        let Some(deliveries) = SharedDeliveries::new(deliveries) else {
            return false;
        };
        self.outbox.start_send(id);
        self.request(Request::SendShared { body, deliveries }, Pending::Send(id));
        true
    }
}
