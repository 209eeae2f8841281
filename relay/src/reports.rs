//! Abuse reports received, counted per reported mailbox in memory (who reported is not kept).
//! An operator reads the total as a metric and the log line of each report with its count.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use hush_proto::MailboxId;

/// Most reported mailboxes tracked. Past it, mailboxes reported only once are forgotten first.
const MAX_TRACKED: usize = 100_000;

/// Report counts per reported mailbox.
#[derive(Debug, Default)]
pub(crate) struct Reports {
    counts: Mutex<HashMap<MailboxId, u64>>,
}

impl Reports {
    /// Counts one report of `reported`; returns its reports so far.
    pub(crate) fn record(&self, reported: MailboxId) -> u64 {
        let mut counts = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
        if counts.len() >= MAX_TRACKED && !counts.contains_key(&reported) {
            counts.retain(|_, count| *count > 1);
            if counts.len() >= MAX_TRACKED {
                counts.clear();
            }
        }
        let count = counts.entry(reported).or_insert(0);
        *count = count.saturating_add(1);
        *count
    }
}
