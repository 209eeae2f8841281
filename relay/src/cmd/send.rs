//! `Send` and `SendMany`: store envelopes durably (answered only after the commit), then hand
//! each online recipient's delivery task its message. Sending needs a login (for rate limits),
//! but who sent is neither passed here nor stored.

use std::sync::Arc;

use hush_proto::{Envelope, ErrorCode, MailboxId, Response};

use super::{Outcome, error, store_error};
use crate::metrics::Metrics;
use crate::server::Shared;
use crate::store::{Quota, Store, StoredMessage};

pub(super) async fn apply<S: Store>(
    shared: &Arc<Shared<S>>,
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
    let count = deliveries.len() as u64;
    let quota = Quota {
        max_messages: limits.mailbox_max_messages,
        max_bytes: limits.mailbox_max_bytes,
    };
    // Keep a copy of what goes to recipients online now, to hand to their delivery tasks after
    // the commit instead of reading it back. Others read the store when they log in.
    let handover: Vec<(MailboxId, Option<Vec<u8>>)> = deliveries
        .iter()
        .map(|(to, envelope)| {
            (
                *to,
                shared.hub.is_online(to).then(|| envelope.as_bytes().to_vec()),
            )
        })
        .collect();
    let deliveries = deliveries
        .into_iter()
        .map(|(to, envelope)| (to, envelope.into_bytes()))
        .collect();
    let now = shared.clock.now();
    let seqs = shared
        .store
        .enqueue(deliveries, now, quota)
        .await
        .map_err(store_error)?;
    Metrics::add(&shared.metrics.messages_stored, count);
    for ((recipient, envelope), seq) in handover.into_iter().zip(seqs) {
        match envelope {
            Some(envelope) => shared.hub.offer(
                &recipient,
                StoredMessage {
                    seq,
                    received_at: now,
                    envelope,
                },
            ),
            None => shared.hub.wake(&recipient),
        }
    }
    Ok(Response::Stored)
}
