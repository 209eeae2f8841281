//! Who is online: the one logged-in connection per mailbox, so a stored message can wake its
//! delivery task at once and a relay-side notice (prekeys low) can reach it.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use hush_proto::{MailboxId, ServerFrame};

use crate::store::StoredMessage;

/// Most freshly stored messages handed straight to one connection's delivery task. Past it the
/// task is told to read from the store instead, so a slow reader costs bounded memory.
const DIRECT_CAPACITY: usize = 256;

/// Messages handed over without a store read, and whether the store must be read anyway.
#[derive(Debug, Default)]
pub(crate) struct Direct {
    /// Just committed, in the order their senders' commits returned (not necessarily `seq`
    /// order: the delivery task checks contiguity).
    pub(crate) messages: VecDeque<StoredMessage>,
    /// Something was stored that is not in `messages`: read the store.
    pub(crate) fetch: bool,
}
use tokio::sync::{Notify, mpsc};

/// A logged-in connection's handles.
#[derive(Debug)]
pub(crate) struct Online {
    /// Unique per connection.
    pub(crate) connection_id: u64,
    /// Wakes the delivery task: new messages are stored.
    pub(crate) wake: Notify,
    /// Fired when a newer login of the same mailbox replaces this connection.
    pub(crate) replaced: Notify,
    /// Frames to write to this connection.
    pub(crate) outbox: mpsc::Sender<ServerFrame>,
    /// When the oldest message not yet pushed was stored (for the latency histogram).
    pub(crate) pending_since: Mutex<Option<tokio::time::Instant>>,
    /// Freshly stored messages for the delivery task.
    pub(crate) direct: Mutex<Direct>,
}

impl Online {
    pub(crate) fn new(connection_id: u64, outbox: mpsc::Sender<ServerFrame>) -> Self {
        Self {
            connection_id,
            wake: Notify::new(),
            replaced: Notify::new(),
            outbox,
            pending_since: Mutex::new(None),
            direct: Mutex::new(Direct::default()),
        }
    }

    /// Takes what was handed over since the last call.
    pub(crate) fn take_direct(&self) -> Direct {
        std::mem::take(
            &mut *self
                .direct
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        )
    }

    fn mark_pending(&self) {
        self.pending_since
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get_or_insert_with(tokio::time::Instant::now);
    }

    /// Takes the time the oldest waiting message was stored.
    pub(crate) fn take_pending_since(&self) -> Option<tokio::time::Instant> {
        self.pending_since
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take()
    }
}

/// Online mailboxes.
#[derive(Debug, Default)]
pub(crate) struct Hub {
    online: Mutex<HashMap<MailboxId, Arc<Online>>>,
}

impl Hub {
    /// Records a login, replacing (and signalling) an older connection of the same mailbox.
    pub(crate) fn register(&self, mailbox: MailboxId, online: Arc<Online>) {
        let previous = self.lock().insert(mailbox, online);
        if let Some(previous) = previous {
            previous.replaced.notify_one();
        }
    }

    /// Forgets a connection if it is still the registered one.
    pub(crate) fn unregister(&self, mailbox: MailboxId, connection_id: u64) {
        let mut online = self.lock();
        if online
            .get(&mailbox)
            .is_some_and(|entry| entry.connection_id == connection_id)
        {
            online.remove(&mailbox);
        }
    }

    /// Whether the mailbox has a logged-in connection.
    pub(crate) fn is_online(&self, mailbox: &MailboxId) -> bool {
        self.lock().contains_key(mailbox)
    }

    /// Tells the mailbox's delivery task, if online, to read new messages from the store.
    pub(crate) fn wake(&self, mailbox: &MailboxId) {
        let target = self.online(mailbox);
        if let Some(online) = target {
            online.mark_pending();
            online
                .direct
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .fetch = true;
            online.wake.notify_one();
        }
    }

    /// Hands a just-committed message to the mailbox's delivery task, if online, so it can be
    /// pushed without reading it back from the store.
    pub(crate) fn offer(&self, mailbox: &MailboxId, message: StoredMessage) {
        let target = self.online(mailbox);
        if let Some(online) = target {
            online.mark_pending();
            {
                let mut direct = online
                    .direct
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                if direct.messages.len() < DIRECT_CAPACITY {
                    direct.messages.push_back(message);
                } else {
                    direct.fetch = true;
                }
            }
            online.wake.notify_one();
        }
    }

    /// Sends a notice to the mailbox's connection, if online; dropped if its outbox is full.
    pub(crate) fn notify(&self, mailbox: &MailboxId, frame: ServerFrame) {
        let target = self.online(mailbox);
        if let Some(online) = target {
            let _ = online.outbox.try_send(frame);
        }
    }

    /// The mailbox's connection, if online. The handle is cloned out so no caller holds the map
    /// lock while it touches the connection.
    fn online(&self, mailbox: &MailboxId) -> Option<Arc<Online>> {
        self.lock().get(mailbox).cloned()
    }

    /// Number of logged-in connections.
    pub(crate) fn len(&self) -> usize {
        self.lock().len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<MailboxId, Arc<Online>>> {
        // A panic while holding this lock cannot leave the map inconsistent (single inserts and
        // removes), so a poisoned lock is still usable.
        self.online
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}
