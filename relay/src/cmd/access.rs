//! Whether a request carries the target's access key: a contact's request, a stranger's (no key),
//! or refused (a key that is not the target's).

use hush_proto::{AccessKey, ErrorCode, ErrorResponse, MailboxId};
use subtle::ConstantTimeEq;

use super::{error, store_error};
use crate::metrics::Metrics;
use crate::store::Store;

/// Who a request comes from, as far as the target's budgets care.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Standing {
    /// It carried the target's access key: not charged to the stranger budget.
    Contact,
    /// It carried no key.
    Stranger,
}

/// The standing of a request for `target` carrying `key`. A key that does not match (the target
/// rotated it, or has none) is `AccessDenied`, so a client holding a stale key learns to drop
/// it instead of being taken for a contact or silently charged as a stranger.
pub(super) async fn standing<S: Store>(
    store: &S,
    metrics: &Metrics,
    target: MailboxId,
    key: Option<&AccessKey>,
) -> Result<Standing, ErrorResponse> {
    let Some(key) = key else {
        return Ok(Standing::Stranger);
    };
    let stored = store.access_verifier(target).await.map_err(store_error)?;
    let matches = stored.is_some_and(|stored| bool::from(stored.ct_eq(&key.verifier())));
    if matches {
        Ok(Standing::Contact)
    } else {
        Metrics::add(&metrics.access_denied, 1);
        Err(error(ErrorCode::AccessDenied, "access key does not match"))
    }
}
