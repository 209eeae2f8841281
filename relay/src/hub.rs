//! Who is online: the one logged-in connection per mailbox, so a stored message can wake its
//! delivery task at once and a relay-side notice (prekeys low) can reach it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use hush_proto::{MailboxId, ServerFrame};

use crate::delivery::{Offered, Online};
use crate::store::StoredMessage;

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

    /// The mailbox logged in on another relay node: forgets its connection here, if any, and
    /// signals it as a newer login here would.
    pub(crate) fn replaced_elsewhere(&self, mailbox: &MailboxId) {
        let previous = self.lock().remove(mailbox);
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

    /// Tells the mailbox's connection, if online here, that the store holds messages it was not
    /// offered (stored by another relay node, or anything else that bypassed [`Hub::offer`]).
    pub(crate) fn wake(&self, mailbox: &MailboxId) {
        if let Some(online) = self.online(mailbox) {
            online.stored();
        }
    }

    /// Hands a just-committed message to the mailbox's connection, if online here: pushed at once
    /// when it is next in sequence, otherwise read from the store by the delivery task. `None`
    /// when the mailbox is not online here.
    pub(crate) fn offer(&self, mailbox: &MailboxId, message: StoredMessage) -> Option<Offered> {
        self.online(mailbox).map(|online| online.offer(message))
    }

    /// Sends a notice to the mailbox's connection, if online; dropped if its outbox is full.
    pub(crate) fn notify(&self, mailbox: &MailboxId, frame: ServerFrame) {
        let target = self.online(mailbox);
        if let Some(online) = target {
            let _ = online.outbox.try_send(frame);
        }
    }

    /// Queues `frame` to the mailbox's connection if it is online here and its outbox has room;
    /// whether it was queued. Nothing else keeps it: a frame not queued is gone.
    pub(crate) fn push_now(&self, mailbox: &MailboxId, frame: ServerFrame) -> bool {
        self.online(mailbox)
            .is_some_and(|online| online.outbox.try_send(frame).is_ok())
    }

    /// The mailbox's connection, if online. The handle is cloned out so no caller holds the map
    /// lock while it touches the connection.
    pub(crate) fn online(&self, mailbox: &MailboxId) -> Option<Arc<Online>> {
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]

    use super::*;
    use crate::delivery::tests::{live, message};

    #[test]
    fn a_wake_from_elsewhere_makes_a_live_connection_read_the_store() {
        let hub = Hub::default();
        let (online, _frames) = live(8, 3);
        let online = Arc::new(online);
        let mailbox = MailboxId([9; 32]);
        hub.register(mailbox, online.clone());
        hub.wake(&mailbox);
        assert!(online.catching_up());
        assert!(
            online.start_reading().is_some(),
            "the wait is timed from the wake"
        );
        assert!(online.try_go_live());
        assert_eq!(hub.offer(&MailboxId([8; 32]), message(4)), None, "not online");
        assert_eq!(hub.offer(&mailbox, message(4)), Some(Offered::Pushed));
    }
}
