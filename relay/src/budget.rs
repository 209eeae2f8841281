//! Budgets for strangers: what all requesters without a valid access key may take from one
//! target mailbox per window, together. One budget per target, however many identities a stranger
//! makes, so throwaway mailboxes cannot sum past it; requests with the target's access key are
//! never charged.
//!
//! Fixed windows of the relay's [`Clock`](crate::clock::Clock) (so tests move time by hand), kept
//! in this node's memory like the other rate limits: a restart forgets them, and several nodes
//! sharing a PostgreSQL store each keep their own.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use hush_proto::MailboxId;

/// Most target mailboxes tracked at once. Past it, entries of earlier windows are dropped (they
/// are spent anyway); if every entry is of the current window, the oldest half of the table is
/// forgotten, which gives those targets a fresh budget: bounded memory is worth more than exact
/// budgets for an attacker who touches a million mailboxes in one window.
const MAX_TRACKED: usize = 1_000_000;

/// What strangers may take from one mailbox per window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Allowance {
    /// Bundle fetches (each may claim a one-time prekey).
    pub(crate) fetches: u32,
    /// Messages stored.
    pub(crate) messages: u32,
    /// Envelope bytes stored.
    pub(crate) bytes: u64,
}

#[derive(Debug, Clone, Copy, Default)]
struct Spent {
    window: u64,
    fetches: u32,
    messages: u32,
    bytes: u64,
}

/// Strangers' spending per target mailbox in the current window.
#[derive(Debug)]
pub(crate) struct StrangerBudget {
    allowance: Allowance,
    window_secs: u64,
    spent: Mutex<HashMap<MailboxId, Spent>>,
}

impl StrangerBudget {
    /// The budget the configured limits describe.
    pub(crate) fn from_limits(limits: &crate::config::Limits) -> Self {
        Self::new(
            Allowance {
                fetches: limits.stranger_fetches_per_target,
                messages: limits.stranger_messages_per_mailbox,
                bytes: limits.stranger_bytes_per_mailbox,
            },
            limits.stranger_window_secs,
        )
    }

    pub(crate) fn new(allowance: Allowance, window_secs: u64) -> Self {
        Self {
            allowance,
            window_secs: window_secs.max(1),
            spent: Mutex::new(HashMap::new()),
        }
    }

    /// Charges one stranger's fetch from `target` at `now` (Unix seconds); `false` (and nothing
    /// charged) when the window's fetches are spent.
    pub(crate) fn try_fetch(&self, target: MailboxId, now: u64) -> bool {
        self.charge(&[(target, None)], now)
    }

    /// Charges strangers' messages, `(target, envelope length)` each, all or none: `false` (and
    /// nothing charged) when any target would go past its window's messages or bytes.
    pub(crate) fn try_send(&self, messages: &[(MailboxId, u64)], now: u64) -> bool {
        let charges: Vec<(MailboxId, Option<u64>)> =
            messages.iter().map(|(to, bytes)| (*to, Some(*bytes))).collect();
        self.charge(&charges, now)
    }

    /// `None` charges a fetch, `Some(bytes)` a message.
    fn charge(&self, charges: &[(MailboxId, Option<u64>)], now: u64) -> bool {
        if charges.is_empty() {
            return true;
        }
        let window = now / self.window_secs;
        // Every change is made after the check, under the lock: a panic cannot leave half of one.
        let mut spent = self.spent.lock().unwrap_or_else(PoisonError::into_inner);
        if spent.len() >= MAX_TRACKED {
            spent.retain(|_, entry| entry.window == window);
            if spent.len() >= MAX_TRACKED {
                let keep = MAX_TRACKED / 2;
                let mut kept = 0;
                spent.retain(|_, _| {
                    kept += 1;
                    kept <= keep
                });
            }
        }
        // What this call would leave each target at (a target may appear more than once).
        let mut after: HashMap<MailboxId, Spent> = HashMap::new();
        for (target, charge) in charges {
            let entry = after.entry(*target).or_insert_with(|| {
                spent
                    .get(target)
                    .copied()
                    .filter(|entry| entry.window == window)
                    .unwrap_or(Spent {
                        window,
                        ..Spent::default()
                    })
            });
            match charge {
                None => entry.fetches = entry.fetches.saturating_add(1),
                Some(bytes) => {
                    entry.messages = entry.messages.saturating_add(1);
                    entry.bytes = entry.bytes.saturating_add(*bytes);
                }
            }
            if entry.fetches > self.allowance.fetches
                || entry.messages > self.allowance.messages
                || entry.bytes > self.allowance.bytes
            {
                return false;
            }
        }
        spent.extend(after);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALLOWANCE: Allowance = Allowance {
        fetches: 3,
        messages: 2,
        bytes: 100,
    };

    #[test]
    fn fetches_are_shared_per_target_and_come_back_next_window() {
        let budget = StrangerBudget::new(ALLOWANCE, 60);
        let (a, b) = (MailboxId([1; 32]), MailboxId([2; 32]));
        for _ in 0..3 {
            assert!(budget.try_fetch(a, 120));
        }
        assert!(!budget.try_fetch(a, 179), "the window's fetches are spent");
        assert!(budget.try_fetch(b, 179), "another target has its own budget");
        assert!(budget.try_fetch(a, 180), "a new window");
    }

    #[test]
    fn messages_count_and_bytes_and_a_refused_batch_charges_nothing() {
        let budget = StrangerBudget::new(ALLOWANCE, 60);
        let (a, b) = (MailboxId([1; 32]), MailboxId([2; 32]));
        assert!(budget.try_send(&[(a, 60)], 0));
        // `b` would fit, `a` would go past its bytes: nothing of the batch is charged.
        assert!(!budget.try_send(&[(b, 10), (a, 41)], 0));
        assert!(budget.try_send(&[(b, 10), (b, 10)], 0));
        assert!(!budget.try_send(&[(b, 1)], 0), "two messages is the count");
        assert!(
            budget.try_send(&[(a, 40)], 0),
            "a's refused 41 bytes were not charged"
        );
        assert!(!budget.try_send(&[(a, 0)], 0));
        // Fetch and send budgets are separate.
        assert!(budget.try_fetch(a, 0));
    }
}
