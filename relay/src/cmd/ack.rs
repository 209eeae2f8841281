//! `Ack`: delete delivered messages up to a sequence number. Only the logged-in owner can ack,
//! and only what this connection was sent; a wrong number deletes nothing.

use hush_proto::{ErrorCode, MailboxId, Response, Seq};

use super::{Outcome, error, store_error};
use crate::metrics::Metrics;
use crate::store::Store;

/// Acks `through` for the logged-in `mailbox`, whose connection was pushed up to `pushed_through`.
pub(super) async fn apply<S: Store>(
    store: &S,
    metrics: &Metrics,
    mailbox: MailboxId,
    pushed_through: u64,
    through: Seq,
) -> Outcome {
    if through.0 == 0 || through.0 > pushed_through {
        return Err(error(
            ErrorCode::UnknownSequence,
            "sequence number not delivered on this connection",
        ));
    }
    let deleted = store.ack(mailbox, through.0).await.map_err(store_error)?;
    Metrics::add(&metrics.messages_acked, deleted);
    Ok(Response::Acked {
        deleted: u32::try_from(deleted).unwrap_or(u32::MAX),
    })
}
