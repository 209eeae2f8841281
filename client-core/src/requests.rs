//! Message requests and access keys.
//!
//! A first message from someone we have never answered is a **request**: it is held (durably, with
//! the other held messages), the app gets [`Event::MessageRequest`] instead of
//! [`Event::MessageReceived`], and no delivered or read receipt goes back, until the app accepts.
//! Accepting delivers what was held, in order, exactly once, and gives the peer our **access
//! key**; sending to someone counts as accepting them. Blocking drops (and acknowledges) whatever
//! they send, and rotates our access key so theirs stops working at the relay, giving the new key
//! to every contact we kept. Reporting tells the relay and blocks.
//!
//! The access key (see hush-proto's `AccessKey`) is what the relay checks to tell a contact's
//! request from a stranger's. We present a peer's key when we hold one; a relay that answers
//! `AccessDenied` (the peer rotated it) makes us drop it and go on as a stranger.

use hush_proto::{AccessKey, ErrorCode, ErrorResponse, Request, Response};
use zeroize::Zeroize;

use crate::access::Standing;
use crate::address::Address;
use crate::content::{Body, MessageId, Payload};
use crate::core::Core;
use crate::event::Event;
use crate::link::Pending;
use crate::records::{Contact, OutboxItem, StoreOp};

/// Why an accept, block or report was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RequestError {
    /// The address is our own.
    #[error("cannot accept, block or report our own address")]
    ToSelf,
}

impl Core {
    /// The relay has (or should have) our access key: upload it if it has not confirmed it.
    pub(crate) fn upload_access_key(&mut self) {
        let Some(own) = &self.access.own else {
            return;
        };
        if own.uploaded || self.access.uploading || !self.link.is_online() {
            return;
        }
        let key = Some(AccessKey(own.key));
        self.access.uploading = true;
        self.request(Request::SetAccessKey { key }, Pending::AccessKey);
    }

    pub(crate) fn on_access_key_result(&mut self, result: Result<Response, ErrorResponse>) {
        self.access.uploading = false;
        if let (Ok(Response::AccessKeySet), Some(own)) = (result, &mut self.access.own) {
            own.uploaded = true;
            let own = own.clone();
            self.commit(vec![StoreOp::PutOwnAccessKey(own)]);
        }
        // On failure it is sent again at the next login.
    }

    /// A send or fetch for `peer` was refused for its access key: it rotated it, so we are a
    /// stranger to it until it gives us the new one.
    pub(crate) fn on_access_denied(&mut self, peer: Address, error: &ErrorResponse) -> bool {
        if error.code != ErrorCode::AccessDenied {
            return false;
        }
        if let Some(access) = self.access.drop_key(&peer) {
            self.commit(vec![StoreOp::PutPeerAccess(access)]);
        }
        true
    }

    /// We write to `peer`: that accepts it (and gives it our key) unless it is blocked. Writing
    /// to a peer whose request waits accepts the request (what it sent is delivered).
    pub(crate) fn accept_on_send(
        &mut self,
        now: u64,
        peer: Address,
        ops: &mut Vec<StoreOp>,
        events: &mut Vec<Event>,
    ) {
        match self.access.standing(&peer) {
            Some(Standing::Accepted) => {}
            // Writing to a blocked peer does not unblock it: only `handle_accept` does.
            Some(Standing::Blocked | Standing::ReportPending) => {}
            None => self.mark_accepted(now, peer, ops),
            Some(Standing::Requested) => {
                self.mark_accepted(now, peer, ops);
                self.release_from(now, peer, Vec::new(), ops, events);
            }
        }
    }

    pub(crate) fn mark_accepted(&mut self, now: u64, peer: Address, ops: &mut Vec<StoreOp>) {
        let access = self.access.entry(peer, Standing::Accepted);
        access.standing = Standing::Accepted;
        let access = access.clone();
        ops.push(StoreOp::PutPeerAccess(access));
        if let Some(item) = self.access_key_item(now, peer) {
            self.outbox.insert(item.clone());
            ops.push(StoreOp::PutOutbox(item));
        }
    }

    /// An outbox item giving `peer` our current access key.
    pub(crate) fn access_key_item(&mut self, now: u64, peer: Address) -> Option<OutboxItem> {
        let key = self.access.own.as_ref()?.key;
        let id = MessageId::random(&mut self.rng);
        let payload = Payload {
            id,
            conv_seq: 0,
            sent_at: now,
            body: Body::AccessKey(key),
        }
        .encode()
        .ok()?;
        Some(OutboxItem::unnumbered(id, peer, payload, now))
    }

    /// Whether content from `from` is held as a request. The first message held from a peer we
    /// have not answered comes with [`Event::MessageRequest`].
    pub(crate) fn hold_as_request(
        &mut self,
        from: Address,
        ops: &mut Vec<StoreOp>,
        events: &mut Vec<Event>,
    ) -> bool {
        match self.access.standing(&from) {
            Some(Standing::Accepted) => false,
            Some(Standing::Blocked | Standing::ReportPending) => true,
            standing @ (None | Some(Standing::Requested)) => {
                if standing.is_none() {
                    let access = self.access.entry(from, Standing::Requested).clone();
                    ops.push(StoreOp::PutPeerAccess(access));
                }
                if !self.inbox.holds_from(from) {
                    events.push(Event::MessageRequest { from });
                }
                true
            }
        }
    }

    /// Whether envelopes from `from` are dropped unread.
    pub(crate) fn is_blocked(&self, from: &Address) -> bool {
        self.access.standing(from).is_some_and(Standing::is_blocked)
    }

    /// `from` gave us its access key (kept whatever its standing, so that accepting it later
    /// lets us write to it as a contact).
    /// A device of a pinned contact (`contact` ≠ `from`) takes the contact's standing.
    pub(crate) fn store_peer_key(
        &mut self,
        from: Address,
        contact: Address,
        key: [u8; 32],
        ops: &mut Vec<StoreOp>,
    ) {
        let standing = match self.access.standing(&contact) {
            _ if self.is_own_device(&from) => Standing::Accepted,
            Some(standing) if contact != from => standing,
            _ => Standing::Requested,
        };
        let access = self.access.entry(from, standing);
        if access.access_key != Some(key) {
            access.access_key = Some(key);
            ops.push(StoreOp::PutPeerAccess(access.clone()));
        }
    }

    /// Accepts `peer`'s request: what it sent is delivered in order (with delivered receipts),
    /// and it gets our access key. Also unblocks.
    pub fn handle_accept(&mut self, now: u64, peer: Address) -> Result<(), RequestError> {
        if peer == self.address {
            return Err(RequestError::ToSelf);
        }
        let mut ops = Vec::new();
        let mut events = Vec::new();
        if self.access.standing(&peer) != Some(Standing::Accepted) {
            self.mark_accepted(now, peer, &mut ops);
        }
        self.release_from(now, peer, Vec::new(), &mut ops, &mut events);
        self.commit(ops);
        if !self.peer_lists.has(&peer) {
            self.fetch_peer_list(peer);
        }
        for event in events {
            self.event(event);
        }
        self.pump(now);
        Ok(())
    }

    /// Blocks `peer`: what it sent and we held is dropped, whatever it sends from now on is
    /// dropped and acknowledged, and our access key is rotated (the relay gets the new one, every
    /// accepted contact gets it too), so the key `peer` holds stops working.
    pub fn handle_block(&mut self, now: u64, peer: Address) -> Result<(), RequestError> {
        self.block_as(now, peer, Standing::Blocked)
    }

    /// Reports `peer` to the relay (which learns that `peer` wrote to us) and blocks it. The
    /// report is kept ([`Standing::ReportPending`]) and sent at each login until the relay
    /// confirms it, so one made offline, or lost with a crash, still arrives.
    pub fn handle_report(&mut self, now: u64, peer: Address) -> Result<(), RequestError> {
        self.block_as(now, peer, Standing::ReportPending)?;
        if self.link.is_online() {
            self.send_report(peer);
        }
        Ok(())
    }

    fn block_as(&mut self, now: u64, peer: Address, standing: Standing) -> Result<(), RequestError> {
        if peer == self.address {
            return Err(RequestError::ToSelf);
        }
        let mut ops = Vec::new();
        let access = self.access.entry(peer, standing);
        access.standing = standing;
        let access = access.clone();
        ops.push(StoreOp::PutPeerAccess(access));
        for conv_seq in self.inbox.drop_below(peer, None) {
            ops.push(StoreOp::RemoveHeld { peer, conv_seq });
        }
        let mut own = self.access.rotate_own(&mut self.rng);
        ops.push(StoreOp::PutOwnAccessKey(own.clone()));
        own.zeroize();
        let contacts = self.access.peers_with(Standing::Accepted);
        for contact in contacts {
            if let Some(item) = self.access_key_item(now, contact) {
                self.outbox.insert(item.clone());
                ops.push(StoreOp::PutOutbox(item));
            }
        }
        self.commit(ops);
        self.upload_access_key();
        self.pump(now);
        Ok(())
    }

    fn send_report(&mut self, peer: Address) {
        self.request(
            Request::Report {
                mailbox: peer.mailbox(),
            },
            Pending::Report(peer),
        );
    }

    /// Logged in: the reports the relay has not confirmed go (again).
    pub(crate) fn send_pending_reports(&mut self) {
        for peer in self.access.peers_with(Standing::ReportPending) {
            self.send_report(peer);
        }
    }

    /// The relay answered the report on `peer`: confirmed, it is a plain block from now on. An
    /// error leaves it pending for the next login.
    pub(crate) fn on_report_result(&mut self, peer: Address, result: &Result<Response, ErrorResponse>) {
        if !matches!(result, Ok(Response::Reported))
            || self.access.standing(&peer) != Some(Standing::ReportPending)
        {
            return;
        }
        let access = self.access.entry(peer, Standing::Blocked);
        access.standing = Standing::Blocked;
        let access = access.clone();
        self.commit(vec![StoreOp::PutPeerAccess(access)]);
    }

    /// Adds or replaces `contact` in the address book (one commit).
    pub fn handle_put_contact(&mut self, contact: Contact) {
        self.commit(vec![StoreOp::PutContact(contact)]);
    }

    /// Removes the contact `name` from the address book (one commit). Only the name goes: the
    /// history with its address, the sessions and the peer's standing (and so the access key
    /// it holds) stay.
    pub fn handle_remove_contact(&mut self, name: String) {
        self.commit(vec![StoreOp::RemoveContact(name)]);
    }

    /// Renames the contact `old` to `contact.name` in one commit, so a crash leaves one name or
    /// the other, never both or neither.
    pub fn handle_rename_contact(&mut self, old: String, contact: Contact) {
        self.commit(vec![StoreOp::RemoveContact(old), StoreOp::PutContact(contact)]);
    }

    /// Peers whose messages wait for the app to accept them.
    pub fn requests(&self) -> Vec<Address> {
        self.access.peers_with(Standing::Requested)
    }

    /// Where `peer` stands, `None` if nothing has happened with it.
    pub fn standing(&self, peer: &Address) -> Option<Standing> {
        self.access.standing(peer)
    }
}
