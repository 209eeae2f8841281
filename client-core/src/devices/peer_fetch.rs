//! Fetching contacts' device lists (SPEC.md §16.8 "Pinning"): when a contact is accepted, and
//! at each login for up to [`LOGIN_LIST_FETCHES`] accepted contacts with no pinned list (in
//! turn over logins), the core asks the relay for
//! the account's list (`FetchDeviceList` under the account key the address names) once per
//! connection, and pins what [`PeerLists::accept`] accepts.
//!
//! - `DeviceList`: accepted, saved, and [`Event::ContactDevicesChanged`] if the devices that
//!   count changed; a list under another account key is [`Event::ContactAccountKeyChanged`]
//!   and is not pinned; a refused list is dropped (the pinned one stays).
//! - `NotFound`: the contact stays a single-device legacy peer (today's 1:1 path); asked again
//!   at the next login.
//! - `RateLimited` or another error: asked again at the next login.

use hush_proto::{AccountId, ErrorResponse, Request, Response};

use super::peers::{ListOutcome, PeerLists};
use crate::access::Standing;
use crate::address::Address;
use crate::core::Core;
use crate::event::Event;
use crate::link::Pending;
use crate::records::StoreOp;

/// At most this many contacts' lists are fetched at one login (the relay's per-requester fetch
/// budget is shared with the bundle fetches sends need).
pub(crate) const LOGIN_LIST_FETCHES: usize = 4;

impl Core {
    /// The contacts' pinned lists.
    pub fn peer_lists(&self) -> &PeerLists {
        &self.peer_lists
    }

    /// Whether the relay had no list for `peer` on this connection (a single-device legacy
    /// peer: messages take today's 1:1 path).
    pub fn is_legacy_peer(&self, peer: &Address) -> bool {
        self.peer_fetch.legacy.contains(peer)
    }

    /// Asks for the lists of up to [`LOGIN_LIST_FETCHES`] accepted contacts with none pinned (at
    /// login). Device-list fetches share the relay's per-requester budget with bundle fetches
    /// (60 a minute by default), so a login must not spend it all on lists while sends wait for
    /// bundles; the other contacts are asked when they are accepted or at a later login.
    pub(crate) fn fetch_missing_peer_lists(&mut self) {
        let mut missing: Vec<Address> = self
            .access
            .peers_with(Standing::Accepted)
            .into_iter()
            .filter(|peer| !self.peer_lists.has(peer) && !self.is_own_device(peer))
            .collect();
        if missing.is_empty() {
            return;
        }
        // Each login starts where the last one's pass ended.
        let start = self.peer_fetch.logins.wrapping_mul(LOGIN_LIST_FETCHES) % missing.len();
        self.peer_fetch.logins = self.peer_fetch.logins.wrapping_add(1);
        missing.rotate_left(start);
        missing.truncate(LOGIN_LIST_FETCHES);
        for peer in missing {
            self.fetch_peer_list(peer);
        }
    }

    /// Asks for `peer`'s list, once per connection, if online.
    pub(crate) fn fetch_peer_list(&mut self, peer: Address) {
        if !self.link.is_online() || peer == self.address || !self.peer_fetch.asked.insert(peer) {
            return;
        }
        let account = AccountId(*peer.as_bytes());
        self.request(Request::FetchDeviceList { account }, Pending::PeerList(peer));
    }

    /// Asks for `peer`'s list again on this connection (it changed, or a device of it is gone):
    /// what is queued for it waits for the answer.
    pub(crate) fn refetch_peer_list(&mut self, peer: Address) {
        self.peer_fetch.asked.remove(&peer);
        self.peer_fetch.answered.remove(&peer);
        self.fetch_peer_list(peer);
    }

    /// The relay answered a fetch of `peer`'s list.
    pub(crate) fn on_peer_list(&mut self, peer: Address, result: Result<Response, ErrorResponse>) {
        self.peer_fetch.answered.insert(peer);
        // Only a list or a `NotFound` settles which devices count; after another answer the
        // group control held for it waits for the next login's fetch.
        let settled = matches!(result, Ok(Response::DeviceList { .. }))
            || matches!(&result, Err(error) if error.code == hush_proto::ErrorCode::NotFound);
        self.pin_answer(peer, result);
        // What its devices sent while unattributed is filed now.
        self.release_attributed(peer);
        if settled {
            self.release_group_attributed(peer);
        }
    }

    fn pin_answer(&mut self, peer: Address, result: Result<Response, ErrorResponse>) {
        let (list, memberships) = match result {
            Ok(Response::DeviceList { list, memberships }) => (list, memberships),
            Err(error) if error.code == hush_proto::ErrorCode::NotFound => {
                self.peer_fetch.legacy.insert(peer);
                return;
            }
            // Rate-limited, refused or answered with something else: asked at the next login.
            _ => return,
        };
        self.peer_fetch.legacy.remove(&peer);
        match self
            .peer_lists
            .accept(peer, list.as_bytes(), memberships.as_slice())
        {
            ListOutcome::Changed(devices) => {
                self.save_peer_list(peer);
                self.reroute_sealed(Some(&peer));
                self.event(Event::ContactDevicesChanged { peer, devices });
            }
            ListOutcome::Pinned => self.save_peer_list(peer),
            ListOutcome::AccountKeyChanged => self.event(Event::ContactAccountKeyChanged { peer }),
            ListOutcome::Unchanged | ListOutcome::Refused(_) => {}
        }
    }

    fn save_peer_list(&mut self, peer: Address) {
        if let Some(pinned) = self.peer_lists.get(&peer) {
            self.commit(vec![StoreOp::PutPeerDevices(pinned.record(peer))]);
        }
    }
}
