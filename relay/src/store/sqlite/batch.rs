//! What a batch of writes sees and changes between the writer's flushes: each mailbox's
//! [`Queue`] as the writer knows it, the batch's journal records and its effects on reads. The
//! two hot writes, [`Batch::enqueue`] and [`Batch::ack`], change only these: they refuse before
//! their first change (see `writer::Guard`), and the writer's flush brings their result into the
//! database later.

use std::collections::HashMap;
use std::sync::Arc;

use hush_proto::{Envelope, MailboxId};
use rusqlite::Connection;

use super::journal::{encode_acked, encode_stored};
use super::ops::{self, QueueRow};
use super::recent::{Effect, Recent};
use crate::store::{BackendError, Quota, StoreError, StoredMessage};

/// The counters of a mailbox's queue, as a database row holds them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Counters {
    /// The next sequence number to hand out.
    pub(super) next_seq: u64,
    /// Unacknowledged messages queued.
    pub(super) count: u64,
    /// Their envelope bytes.
    pub(super) bytes: u64,
    /// The owner's acknowledgement.
    pub(super) acked_through: u64,
}

/// A mailbox's queue as the writer knows it: loaded from the database at first use after a
/// flush, then kept here (the database row is brought up to date at the next flush).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Queue {
    /// The mailbox's integer id in the database.
    pub(super) id: i64,
    /// The counters now.
    pub(super) live: Counters,
    /// The counters as the database row holds them (it changes only at a flush, which drops
    /// every queue the writer holds). Sequence numbers below `flushed.next_seq` are in the
    /// database (or were deleted from it).
    pub(super) flushed: Counters,
    /// Sequence numbers below this one are durable and visible to reads.
    pub(super) durable_next: u64,
}

impl Queue {
    fn loaded(row: QueueRow) -> Self {
        let counters = Counters {
            next_seq: row.next_seq,
            count: row.count,
            bytes: row.bytes,
            acked_through: row.acked_through,
        };
        Self {
            id: row.id,
            live: counters,
            flushed: counters,
            durable_next: row.next_seq,
        }
    }

    /// Changed since it was loaded: the next flush writes it back.
    pub(super) fn dirty(&self) -> bool {
        self.live != self.flushed
    }
}

/// What the writer keeps between batches, besides its connection and journal.
#[derive(Debug)]
pub(super) struct Pending {
    queues: HashMap<MailboxId, Queue>,
    /// The batch's journal records, written after its database commit.
    records: Vec<u8>,
    /// The batch's changes to [`Recent`], applied once the batch is durable.
    effects: Vec<Effect>,
    /// How to restore `queues` if the batch fails: each entry as it was before a change.
    undo: Vec<(MailboxId, Option<Queue>)>,
    recent: Arc<Recent>,
}

impl Pending {
    pub(super) fn new(recent: Arc<Recent>) -> Self {
        Self {
            queues: HashMap::new(),
            records: Vec::new(),
            effects: Vec::new(),
            undo: Vec::new(),
            recent,
        }
    }

    /// The batch's journal records, to append to the journal.
    pub(super) fn records(&self) -> &[u8] {
        &self.records
    }

    /// The batch is durable: its messages and acks become visible to reads.
    pub(super) fn commit(&mut self) {
        self.records.clear();
        self.undo.clear();
        let effects = std::mem::take(&mut self.effects);
        for effect in &effects {
            if let Effect::Stored {
                mailbox, messages, ..
            } = effect
                && let (Some(queue), Some(last)) = (self.queues.get_mut(mailbox), messages.last())
            {
                queue.durable_next = queue.durable_next.max(last.seq.saturating_add(1));
            }
        }
        self.recent.apply(effects);
    }

    /// Forgets a failed batch's changes.
    pub(super) fn abandon(&mut self) {
        self.records.clear();
        self.effects.clear();
        while let Some((mailbox, before)) = self.undo.pop() {
            match before {
                Some(queue) => self.queues.insert(mailbox, queue),
                None => self.queues.remove(&mailbox),
            };
        }
    }

    /// Every queue held since the last flush.
    pub(super) fn queues(&self) -> &HashMap<MailboxId, Queue> {
        &self.queues
    }

    /// Durable messages not yet flushed.
    pub(super) fn recent(&self) -> &Recent {
        &self.recent
    }

    /// Whether a held queue changed since it was loaded.
    pub(super) fn any_dirty(&self) -> bool {
        self.queues.values().any(Queue::dirty)
    }

    /// After a flush committed everything (or when nothing changed): forgets the queues, which
    /// bounds memory to busy mailboxes, and with `flushed` the messages held for reads.
    pub(super) fn forget(&mut self, flushed: bool) {
        if flushed {
            self.recent.clear();
        }
        self.queues.clear();
    }
}

/// What a job sees of the writer while it runs.
pub(super) struct Batch<'a> {
    conn: &'a Connection,
    in_transaction: bool,
    pending: &'a mut Pending,
}

impl<'a> Batch<'a> {
    /// A batch on `conn`, not yet in a transaction.
    pub(super) fn new(conn: &'a Connection, pending: &'a mut Pending) -> Self {
        Self {
            conn,
            in_transaction: false,
            pending,
        }
    }

    /// Whether a job began the batch's transaction.
    pub(super) fn in_transaction(&self) -> bool {
        self.in_transaction
    }

    /// The connection, inside the batch's transaction (begun here on first use).
    pub(super) fn sql(&mut self) -> Result<&'a Connection, BackendError> {
        if !self.in_transaction {
            self.conn.execute_batch("BEGIN IMMEDIATE")?;
            self.in_transaction = true;
        }
        Ok(self.conn)
    }

    /// The connection for reads, inside the batch's transaction if one is open (then reads see
    /// the batch's own changes) and without starting one if not.
    fn read(&self) -> &'a Connection {
        self.conn
    }

    /// The mailbox's queue, loaded if this is its first use since the last flush;
    /// `UnknownMailbox` if it is not registered.
    fn queue(&mut self, mailbox: &MailboxId) -> Result<Queue, StoreError> {
        if let Some(queue) = self.pending.queues.get(mailbox) {
            return Ok(*queue);
        }
        // Plain reads need no transaction; inside one, they see the batch's own changes (a
        // registration earlier in it), which the undo list forgets if the batch fails.
        let queue = Queue::loaded(ops::load_queue(self.read(), mailbox)?);
        self.pending.queues.insert(*mailbox, queue);
        self.pending.undo.push((*mailbox, None));
        Ok(queue)
    }

    /// Replaces the mailbox's queue (undone if the batch fails).
    fn set_queue(&mut self, mailbox: MailboxId, queue: Queue) {
        let before = self.pending.queues.insert(mailbox, queue);
        self.pending.undo.push((mailbox, before));
    }

    /// Stores one envelope per `(mailbox, envelope)`, all or none. Refuses before changing
    /// anything (unknown recipient, over quota), so it needs no savepoint. Writes one journal
    /// record per envelope; the messages reach the database at the writer's next flush, if they
    /// are still unacknowledged then.
    pub(super) fn enqueue(
        &mut self,
        deliveries: Vec<(MailboxId, Envelope)>,
        now: u64,
        quota: Quota,
    ) -> Result<Vec<u64>, StoreError> {
        // Checks first: every recipient's queue as it will be after this call, several envelopes
        // to one mailbox counted together.
        let mut queues: Vec<(MailboxId, Queue)> = Vec::new();
        let mut planned = Vec::with_capacity(deliveries.len());
        for (mailbox, envelope) in &deliveries {
            let slot = match queues.iter().position(|(known, _)| known == mailbox) {
                Some(slot) => slot,
                None => {
                    queues.push((*mailbox, self.queue(mailbox)?));
                    queues.len() - 1
                }
            };
            let (_, queue) = queues
                .get_mut(slot)
                .ok_or(BackendError::Invariant("enqueue lost a recipient"))?;
            let live = &mut queue.live;
            live.count = live.count.saturating_add(1);
            live.bytes = live.bytes.saturating_add(envelope.len() as u64);
            if live.count > quota.max_messages || live.bytes > quota.max_bytes {
                return Err(StoreError::QuotaExceeded { mailbox: *mailbox });
            }
            planned.push((live.next_seq, queue.flushed.next_seq));
            live.next_seq = live.next_seq.saturating_add(1);
        }
        // Then the changes: a record and a visible message per envelope.
        let seqs = planned.iter().map(|(seq, _)| *seq).collect();
        for ((seq, from_seq), (mailbox, envelope)) in planned.into_iter().zip(deliveries) {
            encode_stored(&mut self.pending.records, &mailbox, seq, now, envelope.as_bytes());
            self.pending.effects.push(Effect::Stored {
                mailbox,
                from_seq,
                messages: vec![StoredMessage {
                    seq,
                    received_at: now,
                    envelope,
                }],
            });
        }
        for (mailbox, queue) in queues {
            self.set_queue(mailbox, queue);
        }
        Ok(seqs)
    }

    /// Acknowledges the mailbox's messages through `through`. Like [`Batch::enqueue`], refuses
    /// (unknown mailbox) before changing anything, and writes only a journal record. Returns how
    /// many messages the ack took off the queue.
    pub(super) fn ack(&mut self, mailbox: MailboxId, through: u64) -> Result<u64, StoreError> {
        let mut queue = self.queue(&mailbox)?;
        // Never past the last durable sequence number, so a later message is never hidden.
        let through = through.min(queue.durable_next.saturating_sub(1));
        if through <= queue.live.acked_through {
            return Ok(0);
        }
        // The acknowledged messages still in the database, then those only in memory (the two
        // ranges do not overlap: memory holds `flushed.next_seq` and later).
        let (mut count, mut bytes) = (0u64, 0u64);
        let in_database = through.min(queue.flushed.next_seq.saturating_sub(1));
        if in_database > queue.live.acked_through {
            (count, bytes) =
                ops::count_between(self.read(), queue.id, queue.live.acked_through, in_database)?;
        }
        let (recent_count, recent_bytes) =
            self.pending
                .recent
                .count_between(&mailbox, queue.live.acked_through, through);
        count = count.saturating_add(recent_count);
        bytes = bytes.saturating_add(recent_bytes);
        let live = &mut queue.live;
        live.count = live.count.saturating_sub(count);
        live.bytes = live.bytes.saturating_sub(bytes);
        live.acked_through = through;
        encode_acked(&mut self.pending.records, &mailbox, through);
        self.pending.effects.push(Effect::Acked {
            mailbox,
            from_seq: queue.flushed.next_seq,
            through,
        });
        self.set_queue(mailbox, queue);
        Ok(count)
    }

    /// Unacknowledged messages in every mailbox, without a flush: the database's counts, with
    /// those of the queues the writer holds (changed since they were loaded) replaced by the
    /// writer's.
    pub(super) fn queue_depth(&mut self) -> Result<u64, StoreError> {
        let in_database = ops::total_queued(self.read())?;
        // The database's sum includes each held queue's `flushed.count`, so this never goes
        // below 0.
        let (held, flushed) = self
            .pending
            .queues
            .values()
            .fold((0u64, 0u64), |(held, flushed), queue| {
                (
                    held.saturating_add(queue.live.count),
                    flushed.saturating_add(queue.flushed.count),
                )
            });
        Ok(in_database.saturating_add(held).saturating_sub(flushed))
    }
}
