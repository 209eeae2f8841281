//! `Report`: the logged-in owner reports a mailbox that sent it abuse. The relay counts reports
//! per reported mailbox in memory (the operator sees the total as a metric and the mailboxes
//! reported most in its log); who reported is not kept. What the relay learns from a report is in
//! SECURITY.md: that the reported mailbox sent something to the reporter.

use hush_proto::{ErrorCode, MailboxId, Response};

use super::{Outcome, error};
use crate::metrics::Metrics;
use crate::reports::Reports;

pub(super) fn apply(
    metrics: &Metrics,
    reports: &Reports,
    reporter: MailboxId,
    reported: MailboxId,
) -> Outcome {
    if reporter == reported {
        return Err(error(ErrorCode::Invalid, "a mailbox cannot report itself"));
    }
    Metrics::add(&metrics.reports, 1);
    let count = reports.record(reported);
    tracing::info!(reported = %hex(&reported), count, "abuse report");
    Ok(Response::Reported)
}

fn hex(mailbox: &MailboxId) -> String {
    mailbox.0.iter().map(|byte| format!("{byte:02x}")).collect()
}
