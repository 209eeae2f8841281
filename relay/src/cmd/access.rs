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

/// The standing of each request in `targets` (a target and the key presented for it), in order,
/// as [`standing`] would give them one by one: the first refusal in order is the answer. The
/// verifiers of the keyed targets are read together.
pub(super) async fn standings<S: Store>(
    store: &S,
    metrics: &Metrics,
    targets: &[(MailboxId, Option<&AccessKey>)],
) -> Result<Vec<Standing>, ErrorResponse> {
    let keyed: Vec<MailboxId> = targets
        .iter()
        .filter(|(_, key)| key.is_some())
        .map(|(target, _)| *target)
        .collect();
    let mut verifiers = if keyed.is_empty() {
        Vec::new()
    } else {
        store.access_verifiers(keyed).await.map_err(store_error)?
    }
    .into_iter();
    let mut out = Vec::with_capacity(targets.len());
    for (_, key) in targets {
        let Some(key) = key else {
            out.push(Standing::Stranger);
            continue;
        };
        let stored = verifiers
            .next()
            .unwrap_or(Err(crate::store::BackendError::Invariant(
                "a verifier per keyed target",
            )
            .into()))
            .map_err(store_error)?;
        if stored.is_some_and(|stored| bool::from(stored.ct_eq(&key.verifier()))) {
            out.push(Standing::Contact);
        } else {
            Metrics::add(&metrics.access_denied, 1);
            return Err(error(ErrorCode::AccessDenied, "access key does not match"));
        }
    }
    Ok(out)
}
