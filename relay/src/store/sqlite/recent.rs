//! Messages stored since the last flush, in memory, where reads find them.
//!
//! A message enqueued into the SQLite store is first made durable in the message journal (see
//! [`super::journal`]); the database gets it only at the next flush, about a second later, and
//! only if it is still unacknowledged then. Until that flush it lives here. Most messages are
//! pushed and acknowledged well within that second, so they never cost a database write.
//!
//! The writer thread is the only one that changes this: it applies a batch's [`Effect`]s once the
//! batch is durable (so a read never returns a message the journal could still lose), and it
//! empties the whole table right after a flush has committed. Reads take a snapshot here before
//! they read the database, so a flush between the two at worst shows a message twice, which the
//! reader drops (see `SqliteStore::fetch`).

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

use hush_proto::MailboxId;

use crate::store::StoredMessage;

/// What a durable batch changes here.
#[derive(Debug)]
pub(super) enum Effect {
    /// Messages stored for `mailbox`, in `seq` order.
    Stored {
        mailbox: MailboxId,
        /// The lowest `seq` the database does not hold for this mailbox.
        from_seq: u64,
        messages: Vec<StoredMessage>,
    },
    /// The owner acknowledged everything through `through`.
    Acked {
        mailbox: MailboxId,
        from_seq: u64,
        through: u64,
    },
}

/// One mailbox's part.
#[derive(Debug)]
struct RecentBox {
    /// Every `seq` below this one is in the database (or was deleted from it); every one from
    /// here on is only here.
    from_seq: u64,
    /// The owner's acknowledgement, which may be ahead of the database's.
    acked_through: u64,
    /// Unacknowledged messages, in `seq` order.
    messages: VecDeque<StoredMessage>,
}

/// What a read finds here for one mailbox.
#[derive(Debug)]
pub(super) struct Snapshot {
    /// The database holds no `seq` at or above this one for the mailbox.
    pub(super) from_seq: u64,
    /// Hide database rows at or below this.
    pub(super) acked_through: u64,
    /// Messages after the read's `after`, at most its `limit`.
    pub(super) messages: Vec<StoredMessage>,
}

/// The table, shared by the writer thread and the readers.
#[derive(Debug, Default)]
pub(super) struct Recent {
    boxes: Mutex<HashMap<MailboxId, RecentBox>>,
    /// Messages held, across mailboxes (changed only under the lock).
    held: AtomicUsize,
}

impl Recent {
    fn lock(&self) -> MutexGuard<'_, HashMap<MailboxId, RecentBox>> {
        // Every change below leaves the map consistent at each step: a panic while holding the
        // lock (none can happen here) would leave it usable.
        self.boxes.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Applies a durable batch's effects, in order.
    pub(super) fn apply(&self, effects: Vec<Effect>) {
        if effects.is_empty() {
            return;
        }
        let mut boxes = self.lock();
        for effect in effects {
            match effect {
                Effect::Stored {
                    mailbox,
                    from_seq,
                    messages,
                } => {
                    let slot = boxes.entry(mailbox).or_insert_with(|| RecentBox::new(from_seq));
                    let (acked, before) = (slot.acked_through, slot.messages.len());
                    slot.messages
                        .extend(messages.into_iter().filter(|message| message.seq > acked));
                    self.held
                        .fetch_add(slot.messages.len() - before, Ordering::Relaxed);
                }
                Effect::Acked {
                    mailbox,
                    from_seq,
                    through,
                } => {
                    let slot = boxes.entry(mailbox).or_insert_with(|| RecentBox::new(from_seq));
                    slot.acked_through = slot.acked_through.max(through);
                    while slot
                        .messages
                        .front()
                        .is_some_and(|message| message.seq <= through)
                    {
                        slot.messages.pop_front();
                        self.held.fetch_sub(1, Ordering::Relaxed);
                    }
                }
            }
        }
    }

    /// Up to `limit` of the mailbox's messages after `after`, with what the caller needs to merge
    /// them with the database's; `None` if nothing happened to the mailbox since the last flush.
    pub(super) fn snapshot(&self, mailbox: &MailboxId, after: u64, limit: usize) -> Option<Snapshot> {
        let boxes = self.lock();
        let slot = boxes.get(mailbox)?;
        Some(Snapshot {
            from_seq: slot.from_seq,
            acked_through: slot.acked_through,
            messages: slot
                .messages
                .iter()
                .filter(|message| message.seq > after)
                .take(limit)
                .cloned()
                .collect(),
        })
    }

    /// How many messages, and how many envelope bytes, held here for `mailbox` have
    /// `after < seq <= through`.
    pub(super) fn count_between(&self, mailbox: &MailboxId, after: u64, through: u64) -> (u64, u64) {
        let boxes = self.lock();
        let Some(slot) = boxes.get(mailbox) else {
            return (0, 0);
        };
        slot.messages
            .iter()
            .filter(|message| message.seq > after && message.seq <= through)
            .fold((0, 0), |(count, bytes), message| {
                (count + 1, bytes + message.envelope.len() as u64)
            })
    }

    /// Calls `visit` for every message held here (the flush's inserts), stopping at its first
    /// error.
    pub(super) fn visit<E>(
        &self,
        mut visit: impl FnMut(&MailboxId, &StoredMessage) -> Result<(), E>,
    ) -> Result<(), E> {
        let boxes = self.lock();
        for (mailbox, slot) in boxes.iter() {
            for message in &slot.messages {
                visit(mailbox, message)?;
            }
        }
        Ok(())
    }

    /// Forgets everything: after a flush has committed all of it to the database, or after the
    /// mailbox was deleted.
    pub(super) fn clear(&self) {
        let mut boxes = self.lock();
        boxes.clear();
        self.held.store(0, Ordering::Relaxed);
    }

    /// Messages held here (each one a row the next flush inserts).
    pub(super) fn len(&self) -> usize {
        self.held.load(Ordering::Relaxed)
    }
}

impl RecentBox {
    fn new(from_seq: u64) -> Self {
        Self {
            from_seq,
            acked_through: 0,
            messages: VecDeque::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(seq: u64) -> StoredMessage {
        StoredMessage {
            seq,
            received_at: 1,
            envelope: hush_proto::Envelope::new(vec![seq as u8; 3]).unwrap(),
        }
    }

    fn stored(mailbox: MailboxId, from_seq: u64, seqs: std::ops::RangeInclusive<u64>) -> Effect {
        Effect::Stored {
            mailbox,
            from_seq,
            messages: seqs.map(message).collect(),
        }
    }

    fn seqs(snapshot: &Snapshot) -> Vec<u64> {
        snapshot.messages.iter().map(|message| message.seq).collect()
    }

    #[test]
    fn acks_drop_messages_and_hide_later_stored_ones_at_or_below_the_mark() {
        let a = MailboxId([1; 32]);
        let recent = Recent::default();
        assert!(recent.snapshot(&a, 0, 10).is_none());
        recent.apply(vec![
            stored(a, 4, 4..=6),
            Effect::Acked {
                mailbox: a,
                from_seq: 4,
                through: 5,
            },
        ]);
        let snapshot = recent.snapshot(&a, 0, 10).unwrap();
        assert_eq!((snapshot.from_seq, snapshot.acked_through), (4, 5));
        assert_eq!(seqs(&snapshot), vec![6]);
        assert_eq!(recent.len(), 1);
        assert_eq!(recent.count_between(&a, 5, 9), (1, 3));
        assert_eq!(recent.count_between(&a, 6, 9), (0, 0));
        recent.apply(vec![stored(a, 4, 7..=9)]);
        assert_eq!(seqs(&recent.snapshot(&a, 7, 1).unwrap()), vec![8]);
        recent.clear();
        assert!(recent.snapshot(&a, 0, 10).is_none());
        assert_eq!(recent.len(), 0);
    }

    #[test]
    fn an_ack_before_any_message_keeps_its_mark_for_later_ones() {
        let a = MailboxId([2; 32]);
        let b = MailboxId([3; 32]);
        let recent = Recent::default();
        recent.apply(vec![Effect::Acked {
            mailbox: a,
            from_seq: 10,
            through: 12,
        }]);
        // A replayed or late store at or below the mark stays hidden; the other mailbox is
        // untouched.
        recent.apply(vec![stored(a, 10, 12..=13), stored(b, 1, 1..=1)]);
        assert_eq!(seqs(&recent.snapshot(&a, 0, 10).unwrap()), vec![13]);
        assert_eq!(seqs(&recent.snapshot(&b, 0, 10).unwrap()), vec![1]);
        assert_eq!(recent.len(), 2);
        let mut visited = Vec::new();
        recent
            .visit(|mailbox, message| {
                visited.push((mailbox.0[0], message.seq));
                Ok::<(), ()>(())
            })
            .unwrap();
        visited.sort();
        assert_eq!(visited, vec![(2, 13), (3, 1)]);
    }
}
