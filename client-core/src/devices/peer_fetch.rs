//! Fetching contacts' device lists (SPEC.md §16.8 "Pinning"): when a contact is accepted, and
//! at each login for every accepted contact with no pinned list, the core asks the relay for
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

    /// Asks for the list of every accepted contact with none pinned (at login).
    pub(crate) fn fetch_missing_peer_lists(&mut self) {
        for peer in self.access.peers_with(Standing::Accepted) {
            if !self.peer_lists.has(&peer) {
                self.fetch_peer_list(peer);
            }
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

    /// The relay answered a fetch of `peer`'s list.
    pub(crate) fn on_peer_list(&mut self, peer: Address, result: Result<Response, ErrorResponse>) {
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
