//! `Send` and `SendMany`: store envelopes durably (answered only after the commit), then wake
//! each recipient that is online. The store records no sender.

use std::sync::Arc;

use hush_proto::{Envelope, ErrorCode, MailboxId, Response};

use super::{Outcome, error, store_error};
use crate::metrics::Metrics;
use crate::server::Shared;
use crate::store::{Quota, Store};

pub(super) async fn apply<S: Store>(
    shared: &Arc<Shared<S>>,
    _sender: MailboxId,
    deliveries: Vec<(MailboxId, Envelope)>,
) -> Outcome {
    let limits = &shared.config.limits;
    if deliveries.is_empty() {
        return Err(error(ErrorCode::Invalid, "no recipients"));
    }
    if deliveries
        .iter()
        .any(|(_, envelope)| envelope.len() > limits.max_envelope_len)
    {
        return Err(error(ErrorCode::Invalid, "envelope over the size limit"));
    }
    let recipients: Vec<MailboxId> = deliveries.iter().map(|(to, _)| *to).collect();
    let count = deliveries.len() as u64;
    let quota = Quota {
        max_messages: limits.mailbox_max_messages,
        max_bytes: limits.mailbox_max_bytes,
    };
    let deliveries = deliveries
        .into_iter()
        .map(|(to, envelope)| (to, envelope.into_bytes()))
        .collect();
    shared
        .store
        .enqueue(deliveries, shared.clock.now(), quota)
        .await
        .map_err(store_error)?;
    Metrics::add(&shared.metrics.messages_stored, count);
    for recipient in &recipients {
        shared.hub.wake(recipient);
    }
    Ok(Response::Stored)
}
