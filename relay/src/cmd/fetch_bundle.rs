//! `FetchBundle`: claim one one-time prekey atomically with the signed prekey, rate-limited per
//! requester and per target, and for requesters without the target's access key also by the
//! target's stranger budget, which all of them share (so many throwaway identities cannot drain
//! the one-time prekeys past it); claim one KEM prekey too (a one-time one, else the last-resort
//! one of the served signed prekey); tell the owner when either kind of one-time prekey runs low.

use hush_proto::{AccessKey, Bundle, ErrorCode, MailboxId, Push, Response, ServerFrame};

use super::access::{Standing, standing};
use super::{Outcome, error, store_error};
use crate::budget::StrangerBudget;
use crate::clock::Clock;
use crate::hub::Hub;
use crate::metrics::Metrics;
use crate::shared::BundleFetches;
use crate::store::Store;

/// What a bundle fetch uses of the relay.
pub(super) struct Directory<'a, S> {
    pub(super) store: &'a S,
    pub(super) hub: &'a Hub,
    pub(super) metrics: &'a Metrics,
    pub(super) fetches: &'a BundleFetches,
    pub(super) strangers: &'a StrangerBudget,
    pub(super) clock: &'a Clock,
    pub(super) prekey_low_threshold: u32,
}

pub(super) async fn apply<S: Store>(
    directory: Directory<'_, S>,
    requester: MailboxId,
    target: MailboxId,
    access: Option<AccessKey>,
) -> Outcome {
    let Directory {
        store,
        hub,
        metrics,
        fetches,
        strangers,
        clock,
        prekey_low_threshold,
    } = directory;
    if !fetches.by_requester.try_take(&requester) {
        return Err(error(ErrorCode::RateLimited, "too many bundle fetches"));
    }
    let standing = standing(store, metrics, target, access.as_ref()).await?;
    if standing == Standing::Stranger && !strangers.try_fetch(target, clock.now()) {
        Metrics::add(&metrics.stranger_fetches_refused, 1);
        return Err(error(
            ErrorCode::RateLimited,
            "the target's bundle fetches for strangers are spent",
        ));
    }
    if !fetches.by_target.try_take(&target) {
        return Err(error(ErrorCode::RateLimited, "too many bundle fetches"));
    }
    let claimed = store.claim_bundle(target).await.map_err(store_error)?;
    if claimed.remaining < prekey_low_threshold {
        hub.notify(
            &target,
            ServerFrame::Push(Push::PreKeysLow {
                remaining: claimed.remaining,
            }),
        );
    }
    let kem = store
        .claim_kem_prekey(target, claimed.signed_prekey.id)
        .await
        .map_err(store_error)?;
    if kem.remaining < prekey_low_threshold {
        hub.notify(
            &target,
            ServerFrame::Push(Push::KemPreKeysLow {
                remaining: kem.remaining,
            }),
        );
    }
    Ok(Response::Bundle(Bundle {
        identity_key: claimed.identity_key,
        signed_prekey: claimed.signed_prekey,
        one_time_prekey: claimed.one_time_prekey,
        kem_prekey: kem.prekey.map(Box::new),
    }))
}
