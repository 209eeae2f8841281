//! Attributing a sender's device to an account (proto/PROTOCOL.md "Accounts with several
//! devices"): every session plaintext names the account its sender claims
//! ([`unframe_payload`](crate::content::unframe_payload)); the claim proves nothing, but it says
//! which list to ask for. A device counts for an account only through that account's pinned
//! list (or, for our own account, our list).
//!
//! Content from a device no pinned list counts, claiming an account we know (a contact, a
//! request, a pinned list, a member of a group we are in) whose list was not answered on this connection, is held (durably,
//! like a message ahead of a gap) and the list asked for; the answer releases it: filed under the
//! account if the list now counts the device, under the device itself if not. So a contact's new
//! device is filed under its account from its first message. A device claiming an account we do
//! not know is its own peer (a stranger's request comes from the device; *not yet*: filing it
//! under the account it claims). `Sent` copies claim our own account whatever they say: they
//! count only from a device our list names.

use crate::address::Address;
use crate::content::Payload;
use crate::core::Core;
use crate::event::{DropReason, Event, PayloadFault};
use crate::records::{HeldMessage, StoreOp};

impl Core {
    /// Whether numbered content from the device `from` (claiming `claimed`) waits for a list to
    /// be attributed: if so it is held (`held`) and the list asked for.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn hold_for_attribution(
        &mut self,
        now: u64,
        from: Address,
        claimed: Option<Address>,
        sent: bool,
        held: HeldMessage,
        ops: &mut Vec<StoreOp>,
        events: &mut Vec<Event>,
    ) -> bool {
        if self.is_own_device(&from) || self.owner_of(&from) != from {
            return false;
        }
        let own = self.account_address();
        let account = if sent { own } else { claimed.unwrap_or(from) };
        if account == from {
            return false;
        }
        if account == own {
            // A device of ours we have not heard of (just linked by another): once per
            // connection for each, our list is fetched again.
            let first = self.peer_fetch.unknown_own.insert(from);
            if first {
                self.list_sync.checked = false;
                self.sync_own_list(now);
            }
            if !self.list_sync.in_flight {
                return false;
            }
        } else {
            // Only an account we know (a contact, a request, a pinned list): a stranger's device,
            // or a peer known by its device address, stays the device it is.
            let known = self.access.standing(&account).is_some()
                || self.peer_lists.has(&account)
                || self.shares_group_with(&account);
            if !known || self.peer_fetch.answered.contains(&account) {
                return false;
            }
            if !self.peer_fetch.asked.contains(&account) {
                self.fetch_peer_list(account);
            }
            if !self.peer_fetch.asked.contains(&account) {
                return false;
            }
        }
        self.peer_fetch.pending.entry(account).or_default().insert(from);
        if self.inbox.contains(from, held.conv_seq) {
            return true;
        }
        if self.inbox.hold(held.clone()) {
            ops.push(StoreOp::PutHeld(held));
        } else {
            events.push(Event::Dropped {
                claimed_from: Some(crate::event::ClaimedSender::new(from)),
                reason: DropReason::BadPayload(PayloadFault::TooManyHeld),
            });
        }
        true
    }

    /// `account`'s list was answered: what its devices sent while unattributed is accepted
    /// again, in each device's order.
    pub(crate) fn release_attributed(&mut self, account: Address) {
        let Some(devices) = self.peer_fetch.pending.remove(&account) else {
            return;
        };
        let (mut ops, mut events) = (Vec::new(), Vec::new());
        for device in devices {
            for held in self.inbox.take_all(device) {
                ops.push(StoreOp::RemoveHeld {
                    peer: device,
                    conv_seq: held.conv_seq,
                });
                if let Ok(payload) = Payload::decode(&held.payload) {
                    self.accept(
                        held.received_at,
                        device,
                        Some(account),
                        payload,
                        held.payload,
                        &mut ops,
                        &mut events,
                    );
                }
            }
        }
        if !ops.is_empty() {
            self.commit(ops);
        }
        for event in events {
            self.event(event);
        }
    }
}
