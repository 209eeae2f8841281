//! The relay link: whether we are logged in, request ids, and what each unanswered request was
//! for.

use std::collections::HashMap;

use hush_crypto::IdentityKey;
use hush_proto::{ClientFrame, Request, RequestId};

use crate::address::Address;
use crate::content::MessageId;
use crate::outputs::{Output, Outputs};

/// What a request in flight was for.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Pending {
    /// The ping that opens the stream; the login challenge comes before its answer.
    Open,
    Login,
    Send(MessageId),
    Fetch(Address),
    Upload,
    /// A KEM prekey upload.
    KemUpload,
    Ack,
    AccessKey,
    Report(Address),
    /// A publish or fetch of our own device list.
    OwnList(ListRequest),
    /// The bundle of a device we linked, fetched to check its identity key.
    LinkedBundle(IdentityKey),
    /// A contact's device list.
    PeerList(Address),
    /// A typing or presence ephemeral: pushed or dropped, nothing to do either way.
    Ephemeral,
}

/// A request about our own device list.
#[derive(Debug, Clone, Copy)]
pub(crate) enum ListRequest {
    /// Our list with that counter, published.
    Publish(u64),
    /// Our account's list, fetched (after the relay called ours stale, or to compare).
    Fetch { after_stale: bool },
}

/// Request ids and the requests awaiting answers on the current connection.
#[derive(Debug)]
pub(crate) struct Link {
    online: bool,
    next_request: u32,
    pending: HashMap<RequestId, Pending>,
}

impl Default for Link {
    fn default() -> Self {
        Self {
            online: false,
            next_request: 1,
            pending: HashMap::new(),
        }
    }
}

impl Link {
    pub(crate) fn is_online(&self) -> bool {
        self.online
    }

    /// A new connection (or none): nothing sent before is answered any more.
    pub(crate) fn reset(&mut self, online: bool) {
        self.online = online;
        self.pending.clear();
    }

    /// Queues `request` under a fresh id, remembering what it is for.
    pub(crate) fn request(&mut self, out: &mut Outputs, request: Request, pending: Pending) {
        let id = RequestId(self.next_request);
        // Ids wrap but skip 0 and the top value (which older drivers used for their own).
        self.next_request = self
            .next_request
            .checked_add(1)
            .filter(|id| *id < u32::MAX)
            .unwrap_or(1);
        self.pending.insert(id, pending);
        out.push(Output::Request(ClientFrame { id, request }));
    }

    /// What the request `id` was for; `None` if it is not ours or was answered.
    pub(crate) fn answered(&mut self, id: RequestId) -> Option<Pending> {
        self.pending.remove(&id)
    }

    /// Ephemeral sends not answered yet.
    pub(crate) fn ephemerals_in_flight(&self) -> usize {
        self.pending
            .values()
            .filter(|pending| matches!(pending, Pending::Ephemeral))
            .count()
    }

    /// The answer to a send of `message` still in flight no longer matters.
    pub(crate) fn ignore_send(&mut self, message: MessageId) {
        for value in self.pending.values_mut() {
            if matches!(value, Pending::Send(id) if *id == message) {
                *value = Pending::Ack;
            }
        }
    }
}
