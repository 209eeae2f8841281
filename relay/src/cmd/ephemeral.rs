//! `SendEphemeral`: typing and presence. Pushed to the recipient's connection if it is online on
//! this relay node and has room, otherwise dropped. Nothing is written: not the store, not the
//! journal, not a log line with the payload. The answer says which happened, so it tells the
//! sender whether the recipient is online; that is why only a contact (a sender holding the
//! recipient's access key) may send one, and why each connection has its own ephemeral budget.

use hush_proto::{AccessKey, EphemeralEnvelope, ErrorCode, MailboxId, Push, Response, ServerFrame};

use super::access::{Standing, standing};
use super::{Outcome, error};
use crate::hub::Hub;
use crate::limits::TokenBucket;
use crate::metrics::Metrics;
use crate::store::Store;

/// What an ephemeral send uses of the relay.
pub(super) struct Relay<'a, S> {
    pub(super) store: &'a S,
    pub(super) hub: &'a Hub,
    pub(super) metrics: &'a Metrics,
}

/// Pushes `envelope` to `to` now or drops it. `budget` is the connection's ephemeral bucket.
pub(super) async fn apply<S: Store>(
    relay: Relay<'_, S>,
    budget: &mut TokenBucket,
    to: MailboxId,
    access: Option<AccessKey>,
    envelope: EphemeralEnvelope,
) -> Outcome {
    if !budget.try_take() {
        return Err(error(ErrorCode::RateLimited, "too many ephemeral sends"));
    }
    match standing(relay.store, relay.metrics, to, access.as_ref()).await? {
        Standing::Contact => {}
        Standing::Stranger => {
            return Err(error(
                ErrorCode::AccessDenied,
                "an ephemeral send needs the recipient's access key",
            ));
        }
    }
    let frame = ServerFrame::Push(Push::Ephemeral { envelope });
    if relay.hub.push_now(&to, frame) {
        Ok(Response::EphemeralPushed)
    } else {
        Ok(Response::EphemeralDropped)
    }
}
