//! Keeping the relay's copy of our account's device list current: at each login the core
//! publishes the pinned list with this device's membership if the relay may not have it, or
//! else fetches the account's list once to learn what the account's other devices changed.
//!
//! - `DeviceListStored`: the relay holds our list and membership; saved as published.
//! - `StaleDeviceList`: the relay holds a list at least as new: fetch it and, if it is a newer
//!   valid list of our account key naming us, pin it and publish our membership on it.
//! - `RateLimited`: try again a minute later (a timer through [`crate::Core::poll_timeout`]).
//! - anything else, or a list we do not accept: [`Event::OwnListFailed`], tried again at the next
//!   login.

use hush_crypto::IdentityKey;
use hush_crypto::devices::{DeviceList, DeviceListError};
use hush_proto::{AccountId, DeviceListBytes, ErrorCode, ErrorResponse, Request, Response, Signature};

use super::own::{LIST_RETRY_MS, OwnListError};
use crate::core::Core;
use crate::event::Event;
use crate::link::{ListRequest, Pending};
use crate::records::StoreOp;

/// The identity keys `from` names and `to` does not.
fn missing(from: &DeviceList, to: &DeviceList) -> impl Iterator<Item = IdentityKey> {
    let left: Vec<IdentityKey> = from
        .devices()
        .iter()
        .map(|entry| entry.identity_key)
        .filter(|key| to.device(key).is_none())
        .collect();
    left.into_iter()
}

/// Events for what changed from `old` to `new`.
pub(crate) fn list_changes(old: &DeviceList, new: &DeviceList) -> Vec<Event> {
    let added = missing(new, old).map(|device| Event::DeviceAdded { device });
    let removed = missing(old, new).map(|device| Event::DeviceRemoved { device });
    added.chain(removed).collect()
}

impl Core {
    /// Publishes our list if the relay may not have it, else compares the relay's once per
    /// connection. Does nothing offline, while a request is in flight, or while rate-limited.
    pub(crate) fn sync_own_list(&mut self, now: u64) {
        let sync = &mut self.list_sync;
        if !self.link.is_online() || sync.in_flight || sync.halted || self.joining.is_some() {
            return;
        }
        if let Some(at) = sync.retry_at {
            if now < at {
                return;
            }
            sync.retry_at = None;
        }
        if !self.own.is_published() {
            self.publish_own_list();
        } else if !self.list_sync.checked {
            self.fetch_own_list(false);
        }
    }

    fn publish_own_list(&mut self) {
        let Some(list) = DeviceListBytes::new(self.own.list().to_bytes()) else {
            // A list we signed or verified is never over the limit.
            return;
        };
        let request = Request::PublishDeviceList {
            list,
            membership: Signature(*self.own.membership()),
        };
        self.list_sync.in_flight = true;
        self.request(
            request,
            Pending::OwnList(ListRequest::Publish(self.own.list().counter())),
        );
    }

    fn fetch_own_list(&mut self, after_stale: bool) {
        let account = AccountId(*self.own.account_key().as_bytes());
        self.list_sync.in_flight = true;
        self.request(
            Request::FetchDeviceList { account },
            Pending::OwnList(ListRequest::Fetch { after_stale }),
        );
    }

    /// We changed our list (linked or removed a device): publish it now if online.
    pub(crate) fn own_list_changed(&mut self, now: u64) {
        self.reroute_sealed(None);
        self.list_sync.halted = false;
        self.sync_own_list(now);
    }

    fn own_list_failed(&mut self, error: OwnListError) {
        self.list_sync.halted = true;
        self.event(Event::OwnListFailed(error));
    }

    pub(crate) fn save_own(&mut self) {
        self.commit(vec![StoreOp::PutOwnAccount(self.own.record())]);
    }

    /// The relay answered a publish or fetch of our list.
    pub(crate) fn on_list_answer(
        &mut self,
        now: u64,
        asked: ListRequest,
        result: Result<Response, ErrorResponse>,
    ) {
        self.list_sync.in_flight = false;
        self.list_sync.checked = true;
        let after_stale = matches!(asked, ListRequest::Fetch { after_stale: true });
        match (asked, result) {
            (ListRequest::Publish(counter), Ok(Response::DeviceListStored)) => {
                if counter == self.own.list().counter() && !self.own.is_published() {
                    self.own.published = counter;
                    self.save_own();
                    self.event(Event::OwnListPublished { counter });
                    self.queue_list_hints(now, counter);
                }
            }
            (ListRequest::Fetch { .. }, Ok(Response::DeviceList { list, .. })) => {
                self.adopt_own_list(list.as_bytes(), after_stale);
            }
            (_, Ok(_)) => self.own_list_failed(OwnListError::UnexpectedAnswer),
            (ListRequest::Publish(_), Err(error)) if error.code == ErrorCode::StaleDeviceList => {
                self.fetch_own_list(true);
            }
            (ListRequest::Fetch { .. }, Err(error)) if error.code == ErrorCode::NotFound => {
                if after_stale {
                    self.own_list_failed(OwnListError::Missing);
                } else {
                    // The relay lost our list (a new database): publish it again.
                    self.own.published = 0;
                    self.save_own();
                }
            }
            (_, Err(error)) if error.code == ErrorCode::RateLimited => {
                self.list_sync.retry_at = Some(now.saturating_add(LIST_RETRY_MS));
            }
            (_, Err(error)) => self.own_list_failed(OwnListError::Refused(error)),
        }
        self.sync_own_list(now);
        if !self.list_sync.in_flight {
            let own = self.account_address();
            self.release_attributed(own);
        }
    }

    /// The relay's list of our account: pinned if it is a newer valid list naming us.
    fn adopt_own_list(&mut self, bytes: &[u8], after_stale: bool) {
        if bytes == self.own.list().to_bytes() {
            if after_stale {
                // The relay refused this very list as stale and serves it back: it misbehaves.
                self.own_list_failed(OwnListError::UnexpectedAnswer);
            }
            return;
        }
        let newer = match DeviceList::verify_update(bytes, self.own.list()) {
            Ok(newer) => newer,
            // We changed our list while the fetch was answered: the relay has the one before
            // it, and ours is published next.
            Err(DeviceListError::CounterNotGrowing { .. }) if !after_stale && !self.own.is_published() => {
                return;
            }
            Err(error) => return self.own_list_failed(OwnListError::Rejected(error)),
        };
        if newer.device(&self.account.identity_key()).is_none() {
            return self.own_list_failed(OwnListError::RemovedFromAccount);
        }
        let events = list_changes(self.own.list(), &newer);
        // Our membership stays at the relay with a list that still names us, if we published it.
        let published = if self.own.published > 0 {
            newer.counter()
        } else {
            0
        };
        self.own.pin(newer);
        self.own.published = published;
        self.save_own();
        if !events.is_empty() {
            self.reroute_sealed(None);
        }
        for event in events {
            self.event(event);
        }
    }
}
