//! `FetchBundle`: claim one one-time prekey atomically with the signed prekey, rate-limited per
//! requester and per target, and for requesters without the target's access key also by the
//! target's stranger budget, which all of them share (so many throwaway identities cannot drain
//! the one-time prekeys past it); tell the owner when its one-time prekeys run low.

use std::sync::Arc;

use hush_proto::{AccessKey, Bundle, ErrorCode, MailboxId, Push, Response, ServerFrame};

use super::access::{Standing, standing};
use super::{Outcome, error, store_error};
use crate::metrics::Metrics;
use crate::server::Shared;
use crate::store::Store;

pub(super) async fn apply<S: Store>(
    shared: &Arc<Shared<S>>,
    requester: MailboxId,
    target: MailboxId,
    access: Option<AccessKey>,
) -> Outcome {
    if !shared.fetch_by_requester.try_take(&requester) {
        return Err(error(ErrorCode::RateLimited, "too many bundle fetches"));
    }
    let standing = standing(&shared.store, &shared.metrics, target, access.as_ref()).await?;
    if standing == Standing::Stranger && !shared.strangers.try_fetch(target, shared.clock.now()) {
        Metrics::add(&shared.metrics.stranger_fetches_refused, 1);
        return Err(error(
            ErrorCode::RateLimited,
            "the target's bundle fetches for strangers are spent",
        ));
    }
    if !shared.fetch_by_target.try_take(&target) {
        return Err(error(ErrorCode::RateLimited, "too many bundle fetches"));
    }
    let claimed = shared.store.claim_bundle(target).await.map_err(store_error)?;
    if claimed.remaining < shared.config.limits.prekey_low_threshold {
        shared.hub.notify(
            &target,
            ServerFrame::Push(Push::PreKeysLow {
                remaining: claimed.remaining,
            }),
        );
    }
    Ok(Response::Bundle(Bundle {
        identity_key: claimed.identity_key,
        signed_prekey: claimed.signed_prekey,
        one_time_prekey: claimed.one_time_prekey,
    }))
}
