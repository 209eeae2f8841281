//! `Send` and `SendMany`: store envelopes durably (answered only after the commit), then hand
//! each online recipient its message: pushed at once when it is next in sequence, otherwise read
//! from the store by the recipient's delivery task. Sending needs a login (for rate limits), but
//! who sent is neither passed here nor stored. A message without the recipient's access key is a
//! stranger's and is charged to the recipient's stranger budget before anything is stored; past
//! it the send is refused and the quota is untouched.

use std::sync::Arc;

use hush_proto::{Addressed, Envelope, ErrorCode, MailboxId, Response};
use tokio::time::Instant;

use super::access::{Standing, standing};
use super::{Outcome, error, store_error};
use crate::hub::Offered;
use crate::metrics::Metrics;
use crate::server::Shared;
use crate::store::{BackendError, Quota, Store, StoreError, StoredMessage};

/// Stores the envelopes and waits for the outcome.
pub(super) async fn apply<S: Store>(shared: &Arc<Shared<S>>, deliveries: Vec<Addressed>) -> Outcome {
    let (reply, outcome) = tokio::sync::oneshot::channel();
    submit(shared, deliveries, move |result| drop(reply.send(result))).await;
    outcome
        .await
        .unwrap_or_else(|_| Err(store_error(StoreError::Backend(BackendError::NoReply))))
}

/// Checks the envelopes and queues them to the store; returns once queued. `done` gets the
/// outcome once they are durable (or refused), after the online recipients were handed their
/// messages; it may run on a store task, so it must not block.
pub(crate) async fn submit<S, D>(shared: &Arc<Shared<S>>, deliveries: Vec<Addressed>, done: D)
where
    S: Store,
    D: FnOnce(Outcome) + Send + 'static,
{
    let received = Instant::now();
    let limits = &shared.config.limits;
    if deliveries.is_empty() {
        return done(Err(error(ErrorCode::Invalid, "no recipients")));
    }
    if deliveries
        .iter()
        .any(|addressed| addressed.envelope.len() > limits.max_envelope_len)
    {
        return done(Err(error(ErrorCode::Invalid, "envelope over the size limit")));
    }
    let mut strangers = Vec::new();
    for addressed in &deliveries {
        match standing(
            &shared.store,
            &shared.metrics,
            addressed.to,
            addressed.access.as_ref(),
        )
        .await
        {
            Ok(Standing::Contact) => {}
            Ok(Standing::Stranger) => strangers.push((addressed.to, addressed.envelope.len() as u64)),
            Err(refused) => return done(Err(refused)),
        }
    }
    if !shared.strangers.try_send(&strangers, shared.clock.now()) {
        Metrics::add(&shared.metrics.stranger_sends_refused, 1);
        return done(Err(error(
            ErrorCode::RateLimited,
            "the recipient's messages from strangers are spent",
        )));
    }
    let quota = Quota {
        max_messages: limits.mailbox_max_messages,
        max_bytes: limits.mailbox_max_bytes,
    };
    // Keep a copy of what goes to recipients online now, to hand over after the commit instead
    // of reading it back. Others read the store when they log in.
    let handover: Vec<(MailboxId, Option<Envelope>)> = deliveries
        .iter()
        .map(|addressed| {
            (
                addressed.to,
                shared
                    .hub
                    .is_online(&addressed.to)
                    .then(|| addressed.envelope.clone()),
            )
        })
        .collect();
    let deliveries = deliveries
        .into_iter()
        .map(|addressed| (addressed.to, addressed.envelope))
        .collect();
    let now = shared.clock.now();
    let after = shared.clone();
    shared
        .store
        .enqueue_then(deliveries, now, quota, move |stored| {
            let outcome = stored
                .map(|seqs| {
                    hand_over(&after, handover, &seqs, now, received);
                    Response::Stored
                })
                .map_err(store_error);
            done(outcome);
        })
        .await;
}

/// Counts the stored messages and gives each online recipient its own.
fn hand_over<S: Store>(
    shared: &Shared<S>,
    handover: Vec<(MailboxId, Option<Envelope>)>,
    seqs: &[u64],
    now: u64,
    received: Instant,
) {
    Metrics::add(&shared.metrics.messages_stored, seqs.len() as u64);
    for ((recipient, envelope), &seq) in handover.into_iter().zip(seqs) {
        match envelope {
            Some(envelope) => {
                let message = StoredMessage {
                    seq,
                    received_at: now,
                    envelope,
                };
                if shared.hub.offer(&recipient, message) == Some(Offered::Pushed) {
                    Metrics::add(&shared.metrics.messages_delivered, 1);
                    shared.metrics.observe_delivery(received.elapsed());
                }
            }
            None => shared.hub.wake(&recipient),
        }
    }
}
