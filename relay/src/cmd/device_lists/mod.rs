//! The device-list requests (proto/PROTOCOL.md "Device lists"): `PublishDeviceList` in
//! [`publish`], `FetchDeviceList` in [`fetch`]. Both are limited per requester by one budget at
//! the bundle-fetch rate.

pub(super) mod fetch;
pub(crate) mod publish;

use hush_proto::{ErrorCode, ErrorResponse, MailboxId};

use super::error;
use crate::limits::KeyedLimiter;
use crate::metrics::Metrics;

/// What a device-list request uses of the relay.
pub(super) struct Directory<'a, S> {
    pub(super) store: &'a S,
    pub(super) metrics: &'a Metrics,
    /// Device-list requests per requester (publishes and fetches share it).
    pub(super) requests: &'a KeyedLimiter<MailboxId>,
}

impl<S> Directory<'_, S> {
    /// Spends one of `requester`'s device-list requests, or `RateLimited`.
    fn take(&self, requester: &MailboxId) -> Result<(), ErrorResponse> {
        if self.requests.try_take(requester) {
            Ok(())
        } else {
            Err(error(ErrorCode::RateLimited, "too many device-list requests"))
        }
    }
}
