//! The state every connection of a relay shares: the store, the limits and the clock, who is
//! online, the metrics, and the budgets and counters that span connections.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use hush_crypto::IdentityKey;
use hush_proto::MailboxId;

use crate::admission::Admission;
use crate::budget::StrangerBudget;
use crate::clock::Clock;
use crate::config::Limits;
use crate::hub::Hub;
use crate::limits::KeyedLimiter;
use crate::metrics::Metrics;
use crate::reports::Reports;

/// State shared by every connection. Handlers are given the parts they use, not this.
#[derive(Debug)]
pub(crate) struct Shared<S> {
    /// Shared with the delivery tasks, which outlive a request.
    pub(crate) store: Arc<S>,
    pub(crate) limits: Limits,
    pub(crate) clock: Clock,
    /// Shared with the sends still committing, which hand their messages over when they land.
    pub(crate) hub: Arc<Hub>,
    pub(crate) metrics: Arc<Metrics>,
    /// The registration authority's key; `None` for open registration.
    pub(crate) registration_key: Option<IdentityKey>,
    pub(crate) bundle_fetches: BundleFetches,
    /// Device-list publishes and fetches per requester, at the per-requester bundle-fetch rate.
    pub(crate) device_list_requests: KeyedLimiter<MailboxId>,
    pub(crate) strangers: StrangerBudget,
    pub(crate) reports: Reports,
    pub(crate) admission: Admission,
    next_connection_id: AtomicU64,
}

/// The bundle-fetch rate limits: per requester, and per target over all requesters.
#[derive(Debug)]
pub(crate) struct BundleFetches {
    pub(crate) by_requester: KeyedLimiter<MailboxId>,
    pub(crate) by_target: KeyedLimiter<MailboxId>,
}

impl<S> Shared<S> {
    /// Fresh state for a relay with `limits`: nobody online, every budget full.
    pub(crate) fn new(store: S, limits: Limits, clock: Clock, registration_key: Option<IdentityKey>) -> Self {
        Self {
            bundle_fetches: BundleFetches {
                by_requester: KeyedLimiter::per_minute(limits.bundle_fetches_per_minute),
                by_target: KeyedLimiter::per_minute(limits.bundle_fetches_per_target_per_minute),
            },
            device_list_requests: KeyedLimiter::per_minute(limits.bundle_fetches_per_minute),
            strangers: StrangerBudget::from_limits(&limits),
            reports: Reports::default(),
            admission: Admission::new(&limits),
            store: Arc::new(store),
            clock,
            hub: Arc::new(Hub::default()),
            metrics: Arc::new(Metrics::default()),
            registration_key,
            next_connection_id: AtomicU64::new(1),
            limits,
        }
    }

    /// A new connection's id, unique for the relay's lifetime.
    pub(crate) fn connection_id(&self) -> u64 {
        self.next_connection_id.fetch_add(1, Ordering::Relaxed)
    }
}
