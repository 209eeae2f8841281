//! `PublishDeviceList`: store an account's signed device list, published by one of its devices.
//! The list must decode strictly and verify under the account key it names, name the logged-in
//! device, and come with that device's membership signature for the account key; it replaces
//! the stored list only with a greater counter (or is the stored list again, adding the
//! publisher's membership). Anything else changes nothing.

use hush_crypto::IdentityKey;
use hush_crypto::devices::{DeviceList, DeviceListError};
use hush_proto::{AccountId, DeviceListBytes, ErrorCode, MailboxId, Membership, Response, Signature};
use thiserror::Error;

use super::Directory;
use crate::cmd::{Outcome, error, store_error, unauthorized};
use crate::metrics::Metrics;
use crate::store::{DeviceListUpdate, MailboxStatus, Store, StoreError};

/// Why a published list is refused as `Invalid`.
#[derive(Debug, Error)]
#[non_exhaustive]
pub(crate) enum PublishError {
    /// The list does not decode strictly, or its signature does not verify under its account key.
    #[error("device list refused: {0}")]
    List(#[from] DeviceListError),
    /// The list does not name the logged-in device.
    #[error("the device list does not name the publishing device")]
    PublisherNotListed,
    /// The publisher's membership signature does not verify for the list's account key.
    #[error("the membership signature does not verify for the list's account key")]
    BadMembership,
}

/// Checks a list `publisher` publishes with its `membership` signature; on success, what the
/// store keeps of it.
pub(crate) fn verify(
    publisher: &IdentityKey,
    list: DeviceListBytes,
    membership: Signature,
) -> Result<DeviceListUpdate, PublishError> {
    let decoded = DeviceList::from_bytes(list.as_bytes())?;
    if decoded.device(publisher).is_none() {
        return Err(PublishError::PublisherNotListed);
    }
    let account = decoded.account_key();
    account
        .verify_membership(publisher, &membership.0)
        .map_err(|_| PublishError::BadMembership)?;
    Ok(DeviceListUpdate {
        account: AccountId(*account.as_bytes()),
        counter: decoded.counter(),
        devices: decoded
            .devices()
            .iter()
            .map(|device| *device.identity_key.as_bytes())
            .collect(),
        membership: Membership {
            identity_key: *publisher.as_bytes(),
            signature: membership,
        },
        list,
    })
}

/// Publishes for the logged-in `mailbox`.
pub(in crate::cmd) async fn apply<S: Store>(
    relay: Directory<'_, S>,
    mailbox: MailboxId,
    list: DeviceListBytes,
    membership: Signature,
) -> Outcome {
    relay.take(&mailbox)?;
    let Directory { store, metrics, .. } = relay;
    let MailboxStatus::Active { identity_key } = store.mailbox_status(mailbox).await.map_err(store_error)?
    else {
        return Err(unauthorized());
    };
    let publisher = IdentityKey::from_bytes(&identity_key).map_err(|_| unauthorized())?;
    let update = verify(&publisher, list, membership)
        .map_err(|refused| error(ErrorCode::Invalid, &refused.to_string()))?;
    match store.publish_device_list(update).await {
        Ok(()) => {
            Metrics::add(&metrics.device_lists_stored, 1);
            Ok(Response::DeviceListStored)
        }
        Err(StoreError::StaleDeviceList) => {
            Metrics::add(&metrics.device_lists_stale, 1);
            Err(error(
                ErrorCode::StaleDeviceList,
                "a device list with a counter at least as high is stored",
            ))
        }
        Err(other) => Err(store_error(other)),
    }
}

#[cfg(test)]
#[path = "publish_tests.rs"]
mod tests;
