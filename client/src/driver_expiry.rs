//! The driver's side of disappearing messages: it waits for the store's next expiry like for
//! its other timers and expires what is due by the system clock (`Client::expire_due` is the
//! same with the caller's clock).

use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use crate::driver::{Driver, now_ms};
use crate::error::{ClientError, StopReason};

impl Driver {
    /// When the next stored message expires, if one will (read again on every turn of the
    /// loop, so a message just stored is counted).
    pub(crate) fn next_expiry(&self) -> Option<Instant> {
        let at = match self.store.lock().ok()?.next_expiry() {
            Ok(at) => at?,
            Err(error) => {
                tracing::warn!(%error, "could not read the next expiry");
                return None;
            }
        };
        Some(Instant::now() + Duration::from_millis(at.saturating_sub(now_ms())))
    }

    /// Expires what is due now.
    pub(crate) async fn expire_due(&mut self) {
        let store = Arc::clone(&self.store);
        let events = self.events.clone();
        let result =
            tokio::task::spawn_blocking(move || crate::client::expire(&store, &events, now_ms())).await;
        match result {
            Ok(Ok(_)) => {}
            // Texts that should be gone are not: stop, as for any store write that failed
            // (and rather than trying again on every turn).
            Ok(Err(ClientError::Stopped(reason))) => self.stop(reason),
            Ok(Err(ClientError::Store(error))) => self.stop(StopReason::StoreWrite(Arc::new(error))),
            Ok(Err(error)) => tracing::warn!(%error, "could not expire messages"),
            Err(error) => self.stop(StopReason::Task(Arc::new(error))),
        }
    }
}
