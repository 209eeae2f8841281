//! Deleting messages past their TTL: on demand and every `purge_interval_secs`.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tracing::warn;

use crate::clock::Clock;
use crate::metrics::Metrics;
use crate::shared::Shared;
use crate::store::{Store, StoreError};

/// Deletes the messages received more than `ttl_secs` before now; how many.
pub(crate) async fn purge<S: Store>(
    store: &S,
    clock: &Clock,
    ttl_secs: u64,
    metrics: &Metrics,
) -> Result<u64, StoreError> {
    let cutoff = clock.now().saturating_sub(ttl_secs);
    let purged = store.purge_expired(cutoff).await?;
    Metrics::add(&metrics.messages_expired, purged);
    Ok(purged)
}

/// Purges every `purge_interval_secs` until `stop` changes.
pub(crate) async fn purge_loop<S: Store>(shared: Arc<Shared<S>>, mut stop: watch::Receiver<bool>) {
    let limits = &shared.limits;
    let mut interval = tokio::time::interval(Duration::from_secs(limits.purge_interval_secs.max(1)));
    loop {
        tokio::select! {
            _ = interval.tick() => {
                let purged = purge(&*shared.store, &shared.clock, limits.message_ttl_secs, &shared.metrics).await;
                if let Err(error) = purged {
                    warn!(%error, "purging expired messages failed");
                }
            }
            _ = stop.changed() => return,
        }
    }
}
