//! Local search and disappearing messages.
//!
//! Search runs over the history in the encrypted database (`store::search`): every word of the
//! query must match, newest first, a page at a time. A disappearing timer is a message to the
//! peer (content kind 7) shown as an event on both sides; messages stored while it is set
//! expire that long after being stored, on both sides, each by its own clock. The client
//! expires them as they fall due (the driver waits for the next expiry as for its other
//! timers); [`Client::expire_due`] does it now for a given time (the
//! clock is the caller's: a test passes a later time instead of waiting).
//!
//! ```no_run
//! # async fn demo(client: hush_client::Client, bob: hush_client::Address) -> Result<(), hush_client::ClientError> {
//! use hush_client::store::{SearchPage, SearchScope};
//!
//! client.set_disappearing_timer(bob, 3600).await?; // an hour
//! let hits = client.search("lunch", SearchScope::With(bob), SearchPage::first(20)).await?;
//! for hit in &hits {
//!     println!("{} {}", hit.entry.message.id, hit.snippet);
//! }
//! if let Some(last) = hits.last() {
//!     let _older = client.search("lunch", SearchScope::All, SearchPage::after(last, 20)).await?;
//! }
//! # Ok(()) }
//! ```

use std::sync::{Arc, Mutex};

use hush_client_core::{Address, Content, MessageId};
use tokio::sync::mpsc;

use super::Client;
use crate::error::{ClientError, StopReason};
use crate::events::ClientEvent;
use crate::store::{Expired, SearchHit, SearchPage, SearchScope, SqlStore};

impl Client {
    /// Messages holding every word of `query` in `scope`, newest first, one `page` (see
    /// [`SearchPage`]). A query without words or too long is [`ClientError::Search`].
    pub async fn search(
        &self,
        query: &str,
        scope: SearchScope,
        page: SearchPage,
    ) -> Result<Vec<SearchHit>, ClientError> {
        let query = query.to_owned();
        let store = Arc::clone(&self.store);
        tokio::task::spawn_blocking(move || {
            let store = store
                .lock()
                .map_err(|_| ClientError::Stopped(StopReason::LockPoisoned))?;
            store.search(&query, scope, page).map_err(ClientError::from)
        })
        .await
        .map_err(|error| ClientError::Stopped(StopReason::Task(Arc::new(error))))?
    }

    /// Sets the disappearing timer of the conversation with `peer` to `seconds` (`0` turns it
    /// off; at most [`MAX_TIMER_SECONDS`](hush_client_core::MAX_TIMER_SECONDS)): a message both
    /// sides show. Returns its id once durable in the outbox.
    pub async fn set_disappearing_timer(
        &self,
        peer: Address,
        seconds: u32,
    ) -> Result<MessageId, ClientError> {
        self.send(peer, Content::timer(seconds)).await
    }

    /// The disappearing timer of the conversation with `peer` in seconds, `None` if off.
    pub async fn disappearing_timer(&self, peer: Address) -> Result<Option<u32>, ClientError> {
        self.with_store(move |store| store.disappearing_timer(&peer))
            .await
    }

    /// Expires every message due at `now` (Unix ms) and tells the app
    /// ([`ClientEvent::Expired`]); the background does the same with the system clock.
    pub async fn expire_due(&self, now: u64) -> Result<Vec<Expired>, ClientError> {
        let store = Arc::clone(&self.store);
        let events = self.events.clone();
        tokio::task::spawn_blocking(move || expire(&store, &events, now))
            .await
            .map_err(|error| ClientError::Stopped(StopReason::Task(Arc::new(error))))?
    }
}

/// Expires what is due at `now` in `store` and tells the app.
pub(crate) fn expire(
    store: &Mutex<SqlStore>,
    events: &mpsc::UnboundedSender<ClientEvent>,
    now: u64,
) -> Result<Vec<Expired>, ClientError> {
    let expired = store
        .lock()
        .map_err(|_| ClientError::Stopped(StopReason::LockPoisoned))?
        .expire(now)?;
    if !expired.is_empty() {
        let _ = events.send(ClientEvent::Expired(expired.clone()));
    }
    Ok(expired)
}

impl From<crate::store::SearchError> for ClientError {
    fn from(error: crate::store::SearchError) -> Self {
        match error {
            crate::store::SearchError::Store(error) => Self::Store(error),
            error => Self::Search(error),
        }
    }
}
