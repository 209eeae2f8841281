#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Each contact's pinned device list (test-vectors/SPEC.md §16.8 "Pinning"): fetched when a
//! contact is accepted and at login for contacts with none, pinned only as §16.2/§16.3 say, and
//! kept over a restart. A contact the relay has no list for stays a legacy single-device peer.

use hush_client_core::{Address, Core, Event, MemoryStore, Output, Store};
use hush_crypto::Account;
use hush_crypto::devices::{AccountSigningKey, DeviceEntry, DeviceList};
use hush_proto::{
    AccountId, ClientFrame, DeviceListBytes, ErrorCode, ErrorResponse, Membership, Memberships, Request,
    Response, Signature,
};
use rand::SeedableRng;
use rand::rngs::StdRng;

const NOW: u64 = 1_700_000_000_000;

/// Bob's core and store (every commit applied).
struct Dev {
    core: Core,
    store: MemoryStore,
}

impl Dev {
    fn new() -> Self {
        let mut bob = Self {
            core: Core::create(NOW, Box::new(StdRng::seed_from_u64(7))),
            store: MemoryStore::new(),
        };
        let _ = bob.drain();
        bob
    }

    /// Commits applied; the requests and events the core output, in order.
    fn drain(&mut self) -> (Vec<ClientFrame>, Vec<Event>) {
        let outputs: Vec<Output> = std::iter::from_fn(|| self.core.poll_output()).collect();
        let mut out = (Vec::new(), Vec::new());
        for output in outputs {
            if let Output::Commit(commit) = &output {
                self.store.apply(commit).unwrap();
            } else if let Output::Request(frame) = output {
                out.0.push(frame);
            } else if let Output::Event(event) = output {
                out.1.push(event);
            }
        }
        out
    }

    /// The fetches of `peer`'s list among the requests.
    fn fetches(requests: &[ClientFrame], peer: &Address) -> Vec<ClientFrame> {
        requests
            .iter()
            .filter(|frame| {
                matches!(&frame.request, Request::FetchDeviceList { account } if account == &AccountId(*peer.as_bytes()))
            })
            .cloned()
            .collect()
    }

    /// Accepts `peer` (as adding a contact does) and returns the one fetch of its list.
    fn add(&mut self, peer: Address) -> ClientFrame {
        self.core.handle_authenticated(NOW, 100);
        self.drain();
        self.core.handle_accept(NOW, peer).unwrap();
        let (requests, _) = self.drain();
        let [fetch] = Self::fetches(&requests, &peer).try_into().unwrap();
        fetch
    }

    fn answer(&mut self, frame: &ClientFrame, result: Result<Response, ErrorResponse>) -> Vec<Event> {
        self.core.handle_response(NOW, frame.id, result);
        self.drain().1
    }
}

/// An account with one device: its key, its address, the list and the device's membership.
fn alice(seed: u64) -> (AccountSigningKey, Address, DeviceList, Account) {
    let key = AccountSigningKey::generate(&mut StdRng::seed_from_u64(seed));
    let phone = Account::new(NOW / 1000, &mut StdRng::seed_from_u64(seed + 100));
    let list = key.first_device_list(DeviceEntry::new(phone.identity_key(), NOW / 1000));
    let address = Address::from_bytes(*key.public().as_bytes()).unwrap();
    (key, address, list, phone)
}

fn served(
    list: &DeviceList,
    key: &AccountSigningKey,
    devices: &[&Account],
) -> Result<Response, ErrorResponse> {
    let memberships = devices
        .iter()
        .map(|device| Membership {
            identity_key: *device.identity_key().as_bytes(),
            signature: Signature(device.sign_membership(&key.public())),
        })
        .collect();
    Ok(Response::DeviceList {
        list: DeviceListBytes::new(list.to_bytes()).unwrap(),
        memberships: Memberships::new(memberships).unwrap(),
    })
}

fn not_found() -> Result<Response, ErrorResponse> {
    Err(ErrorResponse {
        code: ErrorCode::NotFound,
        detail: String::new(),
    })
}

#[test]
fn a_contact_s_list_is_fetched_pinned_and_kept_over_a_restart() {
    let (key, alice, list, phone) = alice(1);
    let mut bob = Dev::new();
    let fetch = bob.add(alice);
    let events = bob.answer(&fetch, served(&list, &key, &[&phone]));
    assert!(
        events.contains(&Event::ContactDevicesChanged {
            peer: alice,
            devices: vec![phone.identity_key()],
        }),
        "{events:?}"
    );
    assert!(!bob.core.is_legacy_peer(&alice));

    // Restarted from the store: the list is still pinned, and login asks for it no more.
    let snapshot = bob.store.load().unwrap().unwrap();
    let mut restarted = Dev {
        core: Core::restore(NOW, snapshot, Box::new(StdRng::seed_from_u64(8))).unwrap(),
        store: bob.store,
    };
    let pinned = restarted
        .core
        .peer_lists()
        .get(&alice)
        .expect("pinned over a restart");
    assert_eq!(pinned.counter(), 1);
    assert_eq!(pinned.devices(), vec![phone.identity_key()]);
    // Its login asks for it again only because something waits to be sealed for Alice (our
    // access key): a send goes to the devices the account has now.
    assert_eq!(restarted.core.outbox_len(), 1);
    restarted.core.handle_authenticated(NOW, 100);
    let (requests, _) = restarted.drain();
    let [fetch] = Dev::fetches(&requests, &alice).try_into().unwrap();
    let events = restarted.answer(&fetch, served(&list, &key, &[&phone]));
    assert!(
        events.is_empty(),
        "the same list again changes nothing: {events:?}"
    );
}

#[test]
fn not_found_leaves_a_legacy_single_device_contact_asked_again_at_login() {
    let (_, alice, _, _) = alice(2);
    let mut bob = Dev::new();
    let fetch = bob.add(alice);
    let events = bob.answer(&fetch, not_found());
    assert!(events.is_empty(), "{events:?}");
    assert!(bob.core.is_legacy_peer(&alice));
    assert!(bob.core.peer_lists().get(&alice).is_none());
    assert!(bob.store.load().unwrap().unwrap().peer_devices.is_empty());

    bob.core.handle_authenticated(NOW, 100);
    let (requests, _) = bob.drain();
    assert_eq!(Dev::fetches(&requests, &alice).len(), 1, "{requests:?}");
}

#[test]
fn a_list_under_another_account_key_is_an_identity_change_and_not_pinned() {
    let (_, alice, _, _) = alice(3);
    let (mallory, _, forged, device) = self::alice(4);
    let mut bob = Dev::new();
    let fetch = bob.add(alice);
    let events = bob.answer(&fetch, served(&forged, &mallory, &[&device]));
    assert_eq!(events, vec![Event::ContactAccountKeyChanged { peer: alice }]);
    assert!(bob.core.peer_lists().get(&alice).is_none());
    assert!(bob.store.load().unwrap().unwrap().peer_devices.is_empty());
}

/// A login asks for a bounded number of missing lists (the relay's fetch budget is shared with
/// the bundle fetches sends need), and the next logins ask the others in turn.
#[test]
fn a_login_fetches_a_bounded_number_of_lists_and_the_next_logins_the_rest() {
    let mut bob = Dev::new();
    let contacts: Vec<Address> = (10..16).map(|seed| alice(seed).1).collect();
    for peer in &contacts {
        let fetch = bob.add(*peer);
        bob.answer(&fetch, not_found());
    }
    // Nothing queued for them (a queued item makes its contact's list asked for at once, to
    // seal it for the devices there are now): the bound is the login's own pass.
    let mut snapshot = bob.store.load().unwrap().unwrap();
    snapshot.outbox.clear();
    bob.core = Core::restore(NOW, snapshot, Box::new(StdRng::seed_from_u64(9))).unwrap();
    bob.drain();
    let list_fetches = |requests: &[ClientFrame]| -> Vec<Address> {
        contacts
            .iter()
            .filter(|peer| !Dev::fetches(requests, peer).is_empty())
            .copied()
            .collect()
    };
    let mut asked = std::collections::BTreeSet::new();
    for _ in 0..2 {
        bob.core.handle_disconnected(NOW);
        bob.drain();
        bob.core.handle_authenticated(NOW, 100);
        let (requests, _) = bob.drain();
        let fetched = list_fetches(&requests);
        assert_eq!(fetched.len(), 4, "one login asks at most 4 lists: {fetched:?}");
        asked.extend(fetched);
    }
    assert_eq!(
        asked.len(),
        contacts.len(),
        "two logins between them ask every contact"
    );
}
