//! `Ack`: delete delivered messages up to a sequence number. Only the logged-in owner can ack,
//! and only what this connection was sent; a wrong number deletes nothing.

use std::sync::Arc;

use hush_proto::{ErrorCode, Response, Seq};

use super::{Outcome, error, logged_in, store_error};
use crate::connection::ConnState;
use crate::metrics::Metrics;
use crate::server::Shared;
use crate::store::Store;

pub(super) async fn apply<S: Store>(shared: &Arc<Shared<S>>, state: &ConnState, through: Seq) -> Outcome {
    let mailbox = logged_in(state)?;
    if through.0 == 0 || through.0 > state.pushed_through() {
        return Err(error(
            ErrorCode::UnknownSequence,
            "sequence number not delivered on this connection",
        ));
    }
    let deleted = shared.store.ack(mailbox, through.0).await.map_err(store_error)?;
    Metrics::add(&shared.metrics.messages_acked, deleted);
    Ok(Response::Acked {
        deleted: u32::try_from(deleted).unwrap_or(u32::MAX),
    })
}
