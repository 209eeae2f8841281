#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! This device's own account (test-vectors/SPEC.md §16): made with a new profile, migrated from a
//! profile from before accounts, and published at the relay at each login, with the relay's
//! refusals handled as typed events.

use hush_client_core::{Core, Event, LIST_RETRY_MS, MemoryStore, Output, OwnListError, Store, StoreOp};
use hush_crypto::devices::{AccountSigningKey, DeviceEntry, DeviceList, DeviceListError};
use hush_crypto::{Account, IdentityKey};
use hush_proto::{ClientFrame, DeviceListBytes, ErrorCode, ErrorResponse, Memberships, Request, Response};
use rand::SeedableRng;
use rand::rngs::StdRng;

const NOW: u64 = 1_700_000_000_000;

fn outputs(core: &mut Core) -> Vec<Output> {
    std::iter::from_fn(|| core.poll_output()).collect()
}

/// A device: its core and its store, every commit applied.
struct Dev {
    core: Core,
    store: MemoryStore,
}

/// A new core and its store with the first commit applied.
fn created(seed: u64) -> Dev {
    let mut core = Core::create(NOW, Box::new(StdRng::seed_from_u64(seed)));
    let mut store = MemoryStore::new();
    apply_all(&mut store, outputs(&mut core));
    Dev { core, store }
}

impl Dev {
    /// Applies what the core output; returns its requests and events.
    fn drain(&mut self) -> (Vec<ClientFrame>, Vec<Event>) {
        apply_all(&mut self.store, outputs(&mut self.core))
    }

    /// Logs in (as the driver does after `Authenticated`) and returns the list request it made.
    fn login(&mut self, now: u64) -> ClientFrame {
        self.core.handle_authenticated(now, 100);
        let (requests, _) = self.drain();
        match list_requests(&requests).as_slice() {
            [frame] => frame.clone(),
            other => panic!("expected one device-list request at login, got {other:?}"),
        }
    }

    fn answer(
        &mut self,
        now: u64,
        frame: &ClientFrame,
        result: Result<Response, ErrorResponse>,
    ) -> (Vec<ClientFrame>, Vec<Event>) {
        self.core.handle_response(now, frame.id, result);
        self.drain()
    }

    /// Logs in; the relay calls our list stale and then serves `served_list`: what followed.
    fn stale_then_served(&mut self, served_list: &DeviceList) -> (Vec<ClientFrame>, Vec<Event>) {
        let publish = self.login(NOW);
        assert!(matches!(publish.request, Request::PublishDeviceList { .. }));
        let (requests, events) = self.answer(NOW, &publish, refusal(ErrorCode::StaleDeviceList));
        assert!(events.is_empty(), "{events:?}");
        let [fetch] = list_requests(&requests).try_into().unwrap();
        assert!(matches!(fetch.request, Request::FetchDeviceList { .. }));
        self.answer(NOW, &fetch, served(served_list))
    }
}

fn apply_all(store: &mut MemoryStore, outputs: Vec<Output>) -> (Vec<ClientFrame>, Vec<Event>) {
    let (mut requests, mut events) = (Vec::new(), Vec::new());
    for output in outputs {
        match output {
            Output::Commit(commit) => store.apply(&commit).unwrap(),
            Output::Request(frame) => requests.push(frame),
            Output::Event(event) => events.push(event),
            _ => {}
        }
    }
    (requests, events)
}

fn list_requests(requests: &[ClientFrame]) -> Vec<ClientFrame> {
    requests
        .iter()
        .filter(|frame| {
            matches!(
                frame.request,
                Request::PublishDeviceList { .. } | Request::FetchDeviceList { .. }
            )
        })
        .cloned()
        .collect()
}

fn refusal(code: ErrorCode) -> Result<Response, ErrorResponse> {
    Err(ErrorResponse {
        code,
        detail: "no".into(),
    })
}

fn served(list: &DeviceList) -> Result<Response, ErrorResponse> {
    Ok(Response::DeviceList {
        list: DeviceListBytes::new(list.to_bytes()).unwrap(),
        memberships: Memberships::new(Vec::new()).unwrap(),
    })
}

fn saved_list(store: &MemoryStore) -> (DeviceList, u64) {
    let record = store
        .load()
        .unwrap()
        .unwrap()
        .own_account
        .expect("the own account is saved");
    (DeviceList::from_bytes(&record.list).unwrap(), record.published)
}

#[test]
fn a_new_profile_is_the_first_device_of_a_new_account_and_publishes_it_at_login() {
    let mut d = created(1);
    let me = d.core.account().identity_key();
    let own = d.core.own_account();
    assert!(own.is_holder());
    assert_eq!(own.list().counter(), 1);
    assert_eq!(own.list().devices().len(), 1);
    assert!(own.list().device(&me).is_some());
    assert!(own.other_devices(&me).is_empty());
    assert_eq!(d.core.account_key(), *own.list().account_key());
    assert_eq!(own.signing_key().unwrap().public(), d.core.account_key());
    assert_eq!(saved_list(&d.store), (own.list().clone(), 0));

    let publish = d.login(NOW);
    let Request::PublishDeviceList { list, membership } = &publish.request else {
        panic!("a new profile publishes, got {:?}", publish.request);
    };
    assert_eq!(list.as_bytes(), d.core.own_account().list().to_bytes());
    d.core
        .account_key()
        .verify_membership(&me, &membership.0)
        .expect("the membership is ours, for our account key");
    let (_, events) = d.answer(NOW, &publish, Ok(Response::DeviceListStored));
    assert_eq!(events, vec![Event::OwnListPublished { counter: 1 }]);
    assert_eq!(saved_list(&d.store).1, 1, "the relay's confirmation is saved");

    // The next login only compares the relay's list with ours.
    d.core.handle_disconnected(NOW);
    let fetch = d.login(NOW + 1);
    assert!(
        matches!(fetch.request, Request::FetchDeviceList { account } if account.0 == *d.core.account_key().as_bytes()),
        "{:?}",
        fetch.request
    );
    let list = d.core.own_account().list().clone();
    let (requests, events) = d.answer(NOW + 1, &fetch, served(&list));
    assert!(list_requests(&requests).is_empty() && events.is_empty());
}

#[test]
fn a_profile_from_before_accounts_migrates_keeping_its_identity() {
    let d = created(2);
    let identity = d.core.account().identity_key();
    let address = d.core.address();
    let mut snapshot = d.store.load().unwrap().unwrap();
    snapshot.own_account = None;

    let mut migrated = Core::restore(NOW + 5_000, snapshot, Box::new(StdRng::seed_from_u64(3))).unwrap();
    assert_eq!(migrated.account().identity_key(), identity);
    assert_eq!(migrated.address(), address);
    let mut store = d.store.clone();
    let outputs = outputs(&mut migrated);
    assert!(
        matches!(outputs.first(), Some(Output::Commit(commit)) if commit.ops.iter().any(|op| matches!(op, StoreOp::PutOwnAccount(_)))),
        "the migration is the first commit: {outputs:?}"
    );
    apply_all(&mut store, outputs);
    let own = migrated.own_account();
    assert_ne!(
        migrated.account_key(),
        d.core.account_key(),
        "a new account key is drawn"
    );
    assert_eq!(own.list().counter(), 1);
    let entry = own
        .list()
        .device(&identity)
        .expect("the list names the old identity key");
    assert_eq!(
        entry.created_at,
        (NOW + 5_000) / 1000,
        "created at the migration time"
    );
    migrated
        .account_key()
        .verify_membership(&identity, own.membership())
        .expect("the old key vouches for the new account");
    assert_eq!(saved_list(&store).0, own.list().clone());

    // Restoring again does not migrate again.
    let again = Core::restore(
        NOW + 9_000,
        store.load().unwrap().unwrap(),
        Box::new(StdRng::seed_from_u64(4)),
    )
    .unwrap();
    assert_eq!(again.account_key(), migrated.account_key());
}

#[test]
fn a_stale_list_makes_the_core_adopt_the_newer_list_of_its_account_and_publish_on_it() {
    let mut d = created(5);
    let key: AccountSigningKey = d.core.own_account().signing_key().unwrap().clone();
    let laptop = Account::new(NOW / 1000, &mut StdRng::seed_from_u64(6)).identity_key();
    let newer = key
        .add_device(d.core.own_account().list(), DeviceEntry::new(laptop, NOW / 1000))
        .unwrap();

    let (requests, events) = d.stale_then_served(&newer);
    assert_eq!(events, vec![Event::DeviceAdded { device: laptop }]);
    assert_eq!(d.core.own_account().list(), &newer);
    assert_eq!(saved_list(&d.store), (newer.clone(), 0));
    let [republish] = list_requests(&requests).try_into().unwrap();
    assert!(
        matches!(&republish.request, Request::PublishDeviceList { list, .. } if list.as_bytes() == newer.to_bytes()),
        "our membership goes up on the adopted list"
    );
    d.answer(NOW, &republish, Ok(Response::DeviceListStored));
    assert_eq!(saved_list(&d.store).1, 2);
}

#[test]
fn a_list_of_another_account_or_one_without_us_is_not_adopted() {
    let mut d = created(7);
    let me = d.core.account().identity_key();
    let pinned = d.core.own_account().list().clone();
    let other_key = AccountSigningKey::generate(&mut StdRng::seed_from_u64(8));
    let foreign = other_key.first_device_list(DeviceEntry::new(me, 1));
    let (requests, events) = d.stale_then_served(&foreign);
    assert_eq!(
        events,
        vec![Event::OwnListFailed(OwnListError::Rejected(
            DeviceListError::AccountKeyChanged
        ))]
    );
    assert!(
        list_requests(&requests).is_empty(),
        "no retry loop on this connection"
    );
    assert_eq!(d.core.own_account().list(), &pinned);

    // A newer list of our account that does not name us: we were removed.
    let key = d.core.own_account().signing_key().unwrap().clone();
    let laptop: IdentityKey = Account::new(1, &mut StdRng::seed_from_u64(9)).identity_key();
    let two = key.add_device(&pinned, DeviceEntry::new(laptop, 1)).unwrap();
    let without_me = key.remove_device(&two, &me).unwrap();
    d.core.handle_disconnected(NOW);
    let (_, events) = d.stale_then_served(&without_me);
    assert_eq!(
        events,
        vec![Event::OwnListFailed(OwnListError::RemovedFromAccount)]
    );
    assert_eq!(d.core.own_account().list(), &pinned);
}

#[test]
fn rate_limited_publishes_retry_a_minute_later_and_refusals_are_events() {
    let mut d = created(10);
    let publish = d.login(NOW);
    let (requests, events) = d.answer(NOW, &publish, refusal(ErrorCode::RateLimited));
    assert!(list_requests(&requests).is_empty() && events.is_empty());
    let due = d.core.poll_timeout().expect("a retry is armed");
    assert!(due <= NOW + LIST_RETRY_MS);
    d.core.handle_timeout(NOW + LIST_RETRY_MS - 1);
    let (requests, _) = d.drain();
    assert!(
        list_requests(&requests).is_empty(),
        "not before the minute is over"
    );
    d.core.handle_timeout(NOW + LIST_RETRY_MS);
    let (requests, _) = d.drain();
    let [again] = list_requests(&requests).try_into().unwrap();
    assert!(matches!(again.request, Request::PublishDeviceList { .. }));

    let (_, events) = d.answer(NOW + LIST_RETRY_MS, &again, refusal(ErrorCode::Invalid));
    assert!(
        matches!(events.as_slice(), [Event::OwnListFailed(OwnListError::Refused(error))] if error.code == ErrorCode::Invalid),
        "{events:?}"
    );
    assert_eq!(
        saved_list(&d.store).1,
        0,
        "still unpublished: the next login tries again"
    );
}
