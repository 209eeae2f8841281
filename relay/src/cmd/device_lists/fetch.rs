//! `FetchDeviceList`: the latest stored list of an account key with the membership signatures
//! held for its devices, or `NotFound`. Rate-limited per requester at the bundle-fetch rate, so
//! the directory of accounts cannot be read faster than bundles. The relay vouches for nothing:
//! the client verifies the list and every membership itself.

use hush_proto::{AccountId, ErrorCode, MailboxId, Memberships, Response};

use super::Directory;
use crate::cmd::{Outcome, error, error_not_found, store_error};
use crate::metrics::Metrics;
use crate::store::Store;

/// Fetches `account`'s list for the logged-in `requester`.
pub(in crate::cmd) async fn apply<S: Store>(
    relay: Directory<'_, S>,
    requester: MailboxId,
    account: AccountId,
) -> Outcome {
    relay.take(&requester)?;
    let Directory { store, metrics, .. } = relay;
    let stored = store
        .device_list(account)
        .await
        .map_err(store_error)?
        .ok_or_else(error_not_found)?;
    // The store drops memberships of devices a list does not name, and a list names at most
    // `MAX_DEVICES`: more would be a store bug, answered as one.
    let memberships =
        Memberships::new(stored.memberships).ok_or_else(|| error(ErrorCode::Internal, "storage failure"))?;
    Metrics::add(&metrics.device_lists_served, 1);
    Ok(Response::DeviceList {
        list: stored.list,
        memberships,
    })
}
