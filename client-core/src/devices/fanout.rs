//! Fan-out to a contact's devices (proto/PROTOCOL.md "Accounts with several devices"): a
//! message to a contact whose device list is pinned is encrypted once per device that counts,
//! over that device's own pairwise session, sealed to that device's identity key, and sent to
//! every device's mailbox in one `SendMany` (one device: `Send`). One `send` stays one outbox
//! entry: its envelope field holds the sealed copies ([`Copies`]), resent unchanged until the
//! relay stores them all, so no message key is used twice.
//!
//! A contact with no pinned list is a single-device legacy peer: its address is its device's
//! identity key and the message takes today's 1:1 path (one raw sealed envelope).
//!
//! A `SendMany` refused with `NotFound` (a device's mailbox is gone: the list is stale) drops the
//! copies, fetches the list again and seals anew for the devices that count then; nothing is
//! lost. Receiving attributes a sender device to the contact whose pinned list counts it
//! ([`PeerLists::owner_of`](super::peers::PeerLists::owner_of)); any other device is its own
//! (legacy) peer.

use std::collections::{BTreeSet, HashMap};

use hush_crypto::peer::PeerSessions;
use hush_proto::{Addressed, Deliveries, Envelope, ErrorCode, ErrorResponse, Request};

use super::peers::PeerLists;
use crate::address::Address;
use crate::core::Core;
use crate::link::Pending;
use crate::records::{Conversation, OutboxItem, StoreOp};

/// First byte of an outbox envelope field that holds [`Copies`]. A sealed envelope (SPEC §15)
/// and a link message (§16.5) both start with version byte 2, so the two never meet.
const COPIES_TAG: u8 = 0xF6;

/// Which payload a device gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Copy {
    /// The item's payload.
    Plain,
    /// A `Sent` copy of it (our own other devices, for content: see `sync`).
    Sent,
}

/// Our account and other devices, for routing (computed once per pass).
#[derive(Debug, Clone)]
pub(crate) struct Own {
    pub(crate) account: Address,
    pub(crate) devices: Vec<Address>,
}

/// Where an outbox item goes: each device with the payload it gets. Empty when it cannot go
/// anywhere yet (a pinned list in which no device counts).
///
/// - An item to our own account (read-state sync, our access key): our other devices.
/// - An item to a contact with a pinned list: the devices that count in it.
/// - An item to a contact without one (a legacy peer): its address, as a device.
/// - Content to a contact also goes to our other devices, as a `Sent` copy.
pub(crate) fn targets(lists: &PeerLists, own: &Own, item: &OutboxItem) -> Vec<(Address, Copy)> {
    if item.peer == own.account {
        return own.devices.iter().map(|device| (*device, Copy::Plain)).collect();
    }
    let mut targets: Vec<(Address, Copy)> = match lists.get(&item.peer) {
        None => vec![(item.peer, Copy::Plain)],
        Some(pinned) => pinned
            .devices()
            .iter()
            .map(|key| (Address::from_identity(key), Copy::Plain))
            .collect(),
    };
    if targets.is_empty() {
        return targets;
    }
    if item.conv_seq > 0 {
        targets.extend(own.devices.iter().map(|device| (*device, Copy::Sent)));
    }
    targets
}

/// Whether `targets` is a legacy peer alone (its envelope is stored raw, as before fan-out).
pub(crate) fn is_single_legacy(targets: &[(Address, Copy)], peer: &Address) -> bool {
    targets == [(*peer, Copy::Plain)]
}

/// The devices of `item`'s targets that have no session yet (a bundle must be fetched for each
/// before the item can be encrypted); `None` when the item cannot go anywhere yet: its
/// contact's list was not answered on this connection (the item waits one round trip, so that
/// it is sealed for the devices the account has now, see [`Core::ask_for_routes`]), or no
/// device counts in it.
pub(crate) fn without_session(
    lists: &PeerLists,
    own: &Own,
    answered: &BTreeSet<Address>,
    sessions: &HashMap<Address, PeerSessions>,
    item: &OutboxItem,
) -> Option<Vec<Address>> {
    if item.peer != own.account && !answered.contains(&item.peer) {
        return None;
    }
    let targets = targets(lists, own, item);
    if targets.is_empty() {
        return None;
    }
    Some(
        targets
            .into_iter()
            .map(|(device, _)| device)
            .filter(|device| sessions.get(device).is_none_or(|s| s.active().is_none()))
            .collect(),
    )
}

/// The sealed copies of one outbox item, one per device, as the outbox keeps them:
/// `F6 || count u8 || (device identity key [32] || length u32 big-endian || envelope)*`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Copies(pub(crate) Vec<(Address, Vec<u8>)>);

impl Copies {
    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut out = vec![COPIES_TAG, u8::try_from(self.0.len()).unwrap_or(u8::MAX)];
        for (device, envelope) in self.0.iter().take(usize::from(u8::MAX)) {
            out.extend_from_slice(device.as_bytes());
            out.extend_from_slice(&u32::try_from(envelope.len()).unwrap_or(u32::MAX).to_be_bytes());
            out.extend_from_slice(envelope);
        }
        out
    }

    /// `None` for anything else (a single raw envelope, or bytes that do not decode).
    pub(crate) fn decode(bytes: &[u8]) -> Option<Self> {
        let (&tag, rest) = bytes.split_first()?;
        if tag != COPIES_TAG {
            return None;
        }
        let (&count, mut rest) = rest.split_first()?;
        let mut copies = Vec::with_capacity(usize::from(count));
        for _ in 0..count {
            let (key, tail) = rest.split_first_chunk::<32>()?;
            let (length, tail) = tail.split_first_chunk::<4>()?;
            let length = usize::try_from(u32::from_be_bytes(*length)).ok()?;
            if tail.len() < length {
                return None;
            }
            let (envelope, tail) = tail.split_at(length);
            copies.push((Address::from_bytes(*key).ok()?, envelope.to_vec()));
            rest = tail;
        }
        rest.is_empty().then_some(Self(copies))
    }
}

impl Core {
    /// The request that writes `copies` (for `peer`): `Send` for one, `SendMany` for several;
    /// `None` if an envelope is larger than the protocol allows.
    pub(crate) fn copies_request(&self, peer: &Address, copies: Copies) -> Option<Request> {
        let mut deliveries = Vec::with_capacity(copies.0.len());
        for (device, bytes) in copies.0 {
            let access = self.access.key_for(&device).or_else(|| self.access.key_for(peer));
            deliveries.push(Addressed {
                to: device.mailbox(),
                access,
                envelope: Envelope::new(bytes)?,
            });
        }
        if deliveries.len() == 1 {
            let one = deliveries.pop()?;
            return Some(Request::Send {
                to: one.to,
                access: one.access,
                envelope: one.envelope,
            });
        }
        Some(Request::SendMany {
            deliveries: Deliveries::new(deliveries)?,
        })
    }

    /// A fan-out send was refused: `NotFound` means a device left (the pinned list is stale), so
    /// the list is fetched again and the item sealed again for the devices that count then,
    /// keeping the copies of those still there (no message key is used twice, no number
    /// skipped); `AccessDenied` drops the keys of every device and writes again without them.
    /// Returns whether the refusal was handled here (the item stays either way).
    pub(crate) fn on_copies_refused(
        &mut self,
        now: u64,
        id: &crate::content::MessageId,
        error: &ErrorResponse,
    ) -> bool {
        let Some(item) = self.outbox.get(id).cloned() else {
            return false;
        };
        let Some(copies) = item.envelope.as_deref().and_then(Copies::decode) else {
            return false;
        };
        match error.code {
            ErrorCode::NotFound => {
                self.outbox.reroute(item.id);
                if item.peer == self.account_address() {
                    self.list_sync.checked = false;
                    self.sync_own_list(now);
                } else {
                    self.refetch_peer_list(item.peer);
                }
                self.backoff.back_off(now, item.peer, &mut self.rng);
                true
            }
            ErrorCode::AccessDenied => {
                let mut ops = Vec::new();
                for (device, _) in &copies.0 {
                    if let Some(access) = self.access.drop_key(device) {
                        ops.push(StoreOp::PutPeerAccess(access));
                    }
                }
                if let Some(access) = self.access.drop_key(&item.peer) {
                    ops.push(StoreOp::PutPeerAccess(access));
                }
                self.commit(ops);
                true
            }
            _ => false,
        }
    }

    /// `item` sealed for each of its targets (see [`targets`]): the raw envelope for a legacy
    /// peer alone, [`Copies`] otherwise. `None` if it cannot be yet: a device without a usable
    /// session goes into `refetch` (a bundle is fetched for it), and nothing of the item is kept.
    /// Devices whose session moved go into `touched`; the `Sent` streams to our devices that
    /// moved go into `ops`.
    pub(crate) fn seal_item(
        &mut self,
        now: u64,
        item: &OutboxItem,
        refetch: &mut Vec<Address>,
        touched: &mut Vec<Address>,
        ops: &mut Vec<StoreOp>,
    ) -> Option<Vec<u8>> {
        let own = Own {
            account: self.account_address(),
            devices: self.own_devices(),
        };
        let targets = targets(&self.peer_lists, &own, item);
        if targets.is_empty() || targets.iter().any(|(device, _)| refetch.contains(device)) {
            return None;
        }
        // Sealed before for other devices (see `Outbox::reroute`): the copies of devices still
        // there are kept as they are.
        let before = item.envelope.as_deref().map(|bytes| match Copies::decode(bytes) {
            Some(copies) => copies.0,
            None => vec![(item.peer, bytes.to_vec())],
        });
        let mut copies = Vec::with_capacity(targets.len());
        let mut streams: Vec<Conversation> = Vec::new();
        for (device, copy) in &targets {
            let kept = before
                .as_ref()
                .and_then(|before| before.iter().find(|(old, _)| old == device));
            if let Some((_, sealed)) = kept {
                copies.push((*device, sealed.clone()));
                continue;
            }
            let payload = match copy {
                // A legacy peer's content keeps the number it was queued with.
                Copy::Plain if *device == item.peer || item.conv_seq == 0 => item.payload.clone(),
                Copy::Plain | Copy::Sent => {
                    let (payload, stream) = self.numbered_copy(item, *device, *copy)?;
                    streams.push(stream);
                    payload
                }
            };
            let Some(sealed) = self.seal_for(now, *device, &payload) else {
                refetch.push(*device);
                return None;
            };
            if !touched.contains(device) {
                touched.push(*device);
            }
            copies.push((*device, sealed));
        }
        for stream in streams {
            self.conversations.insert(stream.peer, stream);
            ops.push(StoreOp::PutConversation(stream));
        }
        if is_single_legacy(&targets, &item.peer) {
            return copies.pop().map(|(_, sealed)| sealed);
        }
        Some(Copies(copies).encode())
    }

    /// Asks the relay for the list of every contact with unsealed items whose list was not
    /// asked on this connection: their items wait for the answer (see [`without_session`]).
    pub(crate) fn ask_for_routes(&mut self) {
        let own = self.account_address();
        for peer in self.outbox.unsealed_peers() {
            if peer != own && !self.peer_fetch.asked.contains(&peer) {
                self.fetch_peer_list(peer);
            }
        }
    }

    /// The devices of `peer` (`None`: ours) changed: its sealed content not yet stored is
    /// sealed again for the devices that count now (`Outbox::reroute`). Receipts and other
    /// unnumbered items go as they were sealed.
    pub(crate) fn reroute_sealed(&mut self, peer: Option<&Address>) {
        for id in self.outbox.sealed_for(peer) {
            self.outbox.reroute(id);
        }
    }

    /// The contact a sealed sender's device belongs to: the one whose pinned list counts it, or
    /// the device itself (a legacy peer).
    pub(crate) fn owner_of(&self, device: &Address) -> Address {
        self.peer_lists.owner_of(&device.identity()).unwrap_or(*device)
    }

    /// Writes the item `id`'s copies.
    pub(crate) fn transmit_copies(
        &mut self,
        id: crate::content::MessageId,
        peer: Address,
        copies: Copies,
    ) -> bool {
        let Some(request) = self.copies_request(&peer, copies) else {
            return false;
        };
        self.outbox.start_send(id);
        self.request(request, Pending::Send(id));
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn address(byte: u8) -> Address {
        let account = hush_crypto::Account::new(1, &mut rand::rngs::StdRng::seed_from_u64(u64::from(byte)));
        Address::from_identity(&account.identity_key())
    }

    use rand::SeedableRng;

    #[test]
    fn copies_round_trip_and_anything_else_is_not_copies() {
        let copies = Copies(vec![(address(1), vec![2, 9, 9]), (address(2), Vec::new())]);
        let bytes = copies.encode();
        assert_eq!(bytes[..2], [COPIES_TAG, 2]);
        assert_eq!(Copies::decode(&bytes), Some(copies));
        // A raw sealed envelope (version byte 2), a truncated or a padded encoding.
        assert_eq!(Copies::decode(&[2, 0xF6, 1]), None);
        assert_eq!(Copies::decode(&bytes[..bytes.len() - 1]), None);
        let mut longer = bytes.clone();
        longer.push(0);
        assert_eq!(Copies::decode(&longer), None);
        assert_eq!(Copies::decode(&[]), None);
    }
}
