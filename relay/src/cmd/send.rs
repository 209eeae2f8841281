//! `Send` and `SendMany`: store envelopes durably (answered only after the commit), then hand
//! each online recipient its message: pushed at once when it is next in sequence, otherwise read
//! from the store by the recipient's delivery task. Sending needs a login (for rate limits), but
//! who sent is neither passed here nor stored. A message without the recipient's access key is a
//! stranger's and is charged to the recipient's stranger budget before anything is stored; past
//! it the send is refused and the quota is untouched.

use std::sync::Arc;

use hush_proto::{Addressed, Envelope, ErrorCode, MailboxId, Response};
use tokio::time::Instant;

use super::access::{Standing, standings};
use super::{Outcome, error, store_error};
use crate::budget::StrangerBudget;
use crate::clock::Clock;
use crate::config::Limits;
use crate::delivery::Offered;
use crate::hub::Hub;
use crate::metrics::Metrics;
use crate::store::{Quota, Store, StoredMessage};

/// What a send uses of the relay. The hub and the metrics are shared with the commit's
/// hand-over, which runs after the request has returned.
pub(super) struct Post<'a, S> {
    pub(super) store: &'a S,
    pub(super) hub: &'a Arc<Hub>,
    pub(super) metrics: &'a Arc<Metrics>,
    pub(super) strangers: &'a StrangerBudget,
    pub(super) clock: &'a Clock,
    pub(super) limits: &'a Limits,
}

/// Checks the envelopes and queues them to the store; returns once queued. `done` gets the
/// outcome once they are durable (or refused), after the online recipients were handed their
/// messages; it may run on a store task, so it must not block.
pub(super) async fn submit<S, D>(post: Post<'_, S>, deliveries: Vec<Addressed>, done: D)
where
    S: Store,
    D: FnOnce(Outcome) + Send + 'static,
{
    let Post {
        store,
        hub,
        metrics,
        strangers: budget,
        clock,
        limits,
    } = post;
    let received = Instant::now();
    if deliveries.is_empty() {
        return done(Err(error(ErrorCode::Invalid, "no recipients")));
    }
    if deliveries
        .iter()
        .any(|addressed| addressed.envelope.len() > limits.max_envelope_len)
    {
        return done(Err(error(ErrorCode::Invalid, "envelope over the size limit")));
    }
    let targets: Vec<_> = deliveries
        .iter()
        .map(|addressed| (addressed.to, addressed.access.as_ref()))
        .collect();
    let standings = match standings(store, metrics, &targets).await {
        Ok(standings) => standings,
        Err(refused) => return done(Err(refused)),
    };
    let strangers: Vec<_> = deliveries
        .iter()
        .zip(standings)
        .filter(|(_, standing)| *standing == Standing::Stranger)
        .map(|(addressed, _)| (addressed.to, addressed.envelope.len() as u64))
        .collect();
    if !budget.try_send(&strangers, clock.now()) {
        Metrics::add(&metrics.stranger_sends_refused, 1);
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
                hub.is_online(&addressed.to).then(|| addressed.envelope.clone()),
            )
        })
        .collect();
    let deliveries = deliveries
        .into_iter()
        .map(|addressed| (addressed.to, addressed.envelope))
        .collect();
    let now = clock.now();
    let (hub, metrics) = (hub.clone(), metrics.clone());
    store
        .enqueue_then(deliveries, now, quota, move |stored| {
            let outcome = stored
                .map(|seqs| {
                    hand_over(&hub, &metrics, handover, &seqs, now, received);
                    Response::Stored
                })
                .map_err(store_error);
            done(outcome);
        })
        .await;
}

/// Counts the stored messages and gives each online recipient its own.
fn hand_over(
    hub: &Hub,
    metrics: &Metrics,
    handover: Vec<(MailboxId, Option<Envelope>)>,
    seqs: &[u64],
    now: u64,
    received: Instant,
) {
    Metrics::add(&metrics.messages_stored, seqs.len() as u64);
    for ((recipient, envelope), &seq) in handover.into_iter().zip(seqs) {
        match envelope {
            Some(envelope) => {
                let message = StoredMessage {
                    seq,
                    received_at: now,
                    envelope,
                };
                if hub.offer(&recipient, message) == Some(Offered::Pushed) {
                    Metrics::add(&metrics.messages_delivered, 1);
                    metrics.observe_delivery(received.elapsed());
                }
            }
            None => hub.wake(&recipient),
        }
    }
}
