#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! Linking a new device to an account, as core state (test-vectors/SPEC.md §16.4, §16.5): the
//! new device shows a code, a holder answers with a link message through the outbox, the new
//! device opens it (also after a crash), pins the list, imports the contacts and publishes its
//! membership; a holder removes a device by publishing a list without it.

use hush_client_core::{
    Address, Contact, Core, DropReason, Event, LinkDeviceError, MemoryStore, Output, Store,
};
use hush_crypto::devices::LinkError;
use hush_proto::{
    Bundle, ClientFrame, Delivery, Envelope, ErrorCode, ErrorResponse, Push, Request, Response, Seq,
};
use rand::SeedableRng;
use rand::rngs::StdRng;

const NOW: u64 = 1_700_000_000_000;

/// A device: its core and its store, every commit applied.
struct Dev {
    core: Core,
    store: MemoryStore,
}

impl Dev {
    fn new(core: Core) -> Self {
        let mut dev = Self {
            core,
            store: MemoryStore::new(),
        };
        dev.drain();
        dev
    }

    /// Applies what the core output; returns its requests and events.
    fn drain(&mut self) -> (Vec<ClientFrame>, Vec<Event>) {
        let (mut requests, mut events) = (Vec::new(), Vec::new());
        while let Some(output) = self.core.poll_output() {
            match output {
                Output::Commit(commit) => self.store.apply(&commit).unwrap(),
                Output::Request(frame) => requests.push(frame),
                Output::Event(event) => events.push(event),
                _ => {}
            }
        }
        (requests, events)
    }

    /// Logs in and answers everything as a relay that stores whatever comes; returns what was
    /// sent (envelopes) and the events.
    fn online(&mut self, now: u64) -> (Vec<Vec<u8>>, Vec<Event>) {
        self.core.handle_authenticated(now, 100);
        self.settle(now)
    }

    fn settle(&mut self, now: u64) -> (Vec<Vec<u8>>, Vec<Event>) {
        let (mut sent, mut all_events) = (Vec::new(), Vec::new());
        loop {
            let (requests, events) = self.drain();
            let prekeys = |event: &Event| {
                matches!(
                    event,
                    Event::PreKeysReplenished { .. } | Event::KemPreKeysReplenished { .. }
                )
            };
            all_events.extend(events.into_iter().filter(|event| !prekeys(event)));
            if requests.is_empty() {
                return (sent, all_events);
            }
            for frame in requests {
                let answer = match frame.request {
                    Request::Send { envelope, .. } => {
                        sent.push(envelope.as_bytes().to_vec());
                        Response::Stored
                    }
                    Request::UploadPreKeys { .. } => Response::PreKeysStored {
                        one_time_prekeys: 100,
                    },
                    Request::UploadKemPreKeys { .. } => Response::KemPreKeysStored {
                        one_time_kem_prekeys: 100,
                    },
                    Request::SetAccessKey { .. } => Response::AccessKeySet,
                    Request::PublishDeviceList { .. } => Response::DeviceListStored,
                    Request::Ack { .. } => Response::Acked { deleted: 1 },
                    // No bundle here: the linked-device check waits for the next login. No list
                    // either: a contact is then its address's single device.
                    Request::FetchBundle { .. } | Request::FetchDeviceList { .. } => {
                        let missing = ErrorResponse {
                            code: ErrorCode::NotFound,
                            detail: "none".into(),
                        };
                        self.core.handle_response(now, frame.id, Err(missing));
                        continue;
                    }
                    other => panic!("unexpected request {other:?}"),
                };
                self.core.handle_response(now, frame.id, Ok(answer));
            }
        }
    }

    fn deliver(&mut self, now: u64, seq: u64, envelope: &[u8]) -> (Vec<Vec<u8>>, Vec<Event>) {
        let delivery = Delivery {
            seq: Seq(seq),
            received_at: now / 1000,
            envelope: Envelope::new(envelope.to_vec()).unwrap(),
        };
        self.core.handle_push(now, Push::Deliver(delivery));
        self.settle(now)
    }

    fn restarted(&self, now: u64, seed: u64) -> Self {
        let snapshot = self.store.load().unwrap().unwrap();
        let core = Core::restore(now, snapshot, Box::new(StdRng::seed_from_u64(seed))).unwrap();
        let mut dev = Self {
            core,
            store: self.store.clone(),
        };
        dev.drain();
        dev
    }
}

fn contact(name: &str, seed: u64) -> Contact {
    let identity = hush_crypto::Account::new(1, &mut StdRng::seed_from_u64(seed)).identity_key();
    Contact {
        name: name.into(),
        address: Address::from_identity(&identity),
        verified: seed.is_multiple_of(2),
        added_at: seed,
    }
}

/// The phone (a holder) and a laptop waiting to join, both online.
fn phone_and_laptop() -> (Dev, Dev) {
    let mut phone = Dev::new(Core::create(NOW, Box::new(StdRng::seed_from_u64(1))));
    phone.online(NOW);
    let mut laptop = Dev::new(Core::create_joining(NOW, Box::new(StdRng::seed_from_u64(2))));
    let (_, events) = laptop.online(NOW);
    assert!(
        events.is_empty(),
        "a joining device publishes nothing: {events:?}"
    );
    assert!(!laptop.core.own_account().is_published());
    (phone, laptop)
}

/// The phone links the laptop (no account key handed over): the link message it sent.
fn link_message(phone: &mut Dev, laptop: &Dev) -> Vec<u8> {
    let code = laptop.core.link_code().unwrap();
    phone
        .core
        .handle_link_device(NOW + 1_000, &code, false, &[])
        .unwrap();
    let (sent, _) = phone.settle(NOW + 1_000);
    let [message] = sent.try_into().unwrap();
    message
}

/// The phone links the laptop and the laptop joins.
fn link(phone: &mut Dev, laptop: &mut Dev) {
    let message = link_message(phone, laptop);
    joins(laptop, &message);
}

/// The phone reports the laptop removed and the relay stored the list without it.
fn removed_and_published(phone: &mut Dev, laptop_key: hush_crypto::IdentityKey) {
    let (_, events) = phone.settle(NOW + 3_000);
    let expected = vec![
        Event::DeviceRemoved { device: laptop_key },
        Event::OwnListPublished { counter: 3 },
    ];
    assert_eq!(events, expected);
}

/// `message` makes the laptop join.
fn joins(laptop: &mut Dev, message: &[u8]) {
    let (_, events) = laptop.deliver(NOW + 2_000, 1, message);
    assert!(
        matches!(events.first(), Some(Event::JoinedAccount { .. })),
        "{events:?}"
    );
}

#[test]
fn a_holder_links_a_new_device_which_joins_with_the_list_and_contacts() {
    for hand_over in [false, true] {
        let (mut phone, mut laptop) = phone_and_laptop();
        assert!(laptop.core.is_joining());
        let code = laptop.core.link_code().expect("a joining profile has a code");
        let text = code.to_text();
        let typed = hush_crypto::devices::LinkCode::from_text(&text).unwrap();
        let contacts = [contact("bob", 10), contact("carol", 11)];
        let laptop_key = laptop.core.account().identity_key();

        phone
            .core
            .handle_link_device(NOW + 1_000, &typed, hand_over, &contacts)
            .unwrap();
        let (sent, events) = phone.settle(NOW + 1_000);
        assert_eq!(
            events,
            vec![
                Event::DeviceAdded { device: laptop_key },
                Event::OwnListPublished { counter: 2 },
                Event::LinkSent { device: laptop_key }
            ]
        );
        let [message] = sent.try_into().unwrap();
        assert_eq!(
            &message[..2],
            &[2, 0x08],
            "a link message goes to the new device's mailbox"
        );
        let list = phone.core.own_account().list().clone();
        assert_eq!(list.counter(), 2);
        assert!(list.device(&laptop_key).is_some());

        let (_, events) = laptop.deliver(NOW + 2_000, 1, &message);
        assert_eq!(
            events,
            vec![
                Event::JoinedAccount {
                    account: phone.core.account_key(),
                    holder: hand_over
                },
                Event::OwnListPublished { counter: 2 }
            ]
        );
        assert!(!laptop.core.is_joining());
        assert_eq!(laptop.core.own_account().list(), &list);
        assert_eq!(laptop.core.own_account().is_holder(), hand_over);
        assert_eq!(laptop.core.account_key(), phone.core.account_key());
        let mut imported = laptop.store.contacts().unwrap();
        imported.sort_by(|a, b| a.name.cmp(&b.name));
        assert_eq!(imported, contacts);
        let saved = laptop.store.load().unwrap().unwrap();
        assert_eq!(saved.link_request, None, "the spent request is deleted");
        // The account's contacts are the laptop's: accepted (their messages are no requests).
        for contact in &contacts {
            let access = saved
                .peer_access
                .iter()
                .find(|access| access.peer == contact.address);
            assert_eq!(
                access.map(|a| a.standing),
                Some(hush_client_core::Standing::Accepted)
            );
        }
        assert_eq!(saved.own_account, Some(laptop.core.own_account().record()));
    }
}

#[test]
fn a_new_device_that_crashed_while_waiting_still_opens_the_answer() {
    let (mut phone, laptop) = phone_and_laptop();
    let code = laptop.core.link_code().unwrap();
    let sent = [link_message(&mut phone, &laptop)];

    let mut restarted = laptop.restarted(NOW + 1_500, 3);
    assert!(restarted.core.is_joining());
    assert_eq!(restarted.core.link_code(), Some(code));
    restarted.online(NOW + 1_500);
    let (_, events) = restarted.deliver(NOW + 2_000, 1, &sent[0]);
    assert!(
        matches!(events.first(), Some(Event::JoinedAccount { .. })),
        "{events:?}"
    );

    // A replay of the message to the joined device is refused, and changes nothing.
    let (_, events) = restarted.deliver(NOW + 3_000, 2, &sent[0]);
    assert_eq!(
        events,
        vec![Event::Dropped {
            claimed_from: None,
            reason: DropReason::Link(LinkError::AlreadyUsed)
        }]
    );
    assert_eq!(restarted.core.account_key(), phone.core.account_key());
}

#[test]
fn the_link_message_survives_a_holder_crash_in_the_outbox() {
    let (mut phone, mut laptop) = phone_and_laptop();
    let code = laptop.core.link_code().unwrap();
    phone
        .core
        .handle_link_device(NOW + 1_000, &code, false, &[])
        .unwrap();
    // The phone crashes before anything it wrote reached the relay.
    phone.drain();
    let mut phone = phone.restarted(NOW + 1_500, 4);
    let (sent, _) = phone.online(NOW + 1_500);
    let [message] = sent.try_into().unwrap();
    joins(&mut laptop, &message);
}

#[test]
fn only_a_holder_links_or_removes_and_never_itself() {
    let (mut phone, mut laptop) = phone_and_laptop();
    let own = phone.core.link_code();
    assert_eq!(own, None, "a profile that is not joining shows no code");
    assert_eq!(
        phone.core.handle_new_link_code(NOW).unwrap_err(),
        LinkDeviceError::NotJoining
    );
    link(&mut phone, &mut laptop);

    // The laptop holds no account key: it can neither link nor remove.
    let third = Dev::new(Core::create_joining(NOW, Box::new(StdRng::seed_from_u64(5))));
    let third_code = third.core.link_code().unwrap();
    assert_eq!(
        laptop
            .core
            .handle_link_device(NOW + 3_000, &third_code, false, &[]),
        Err(LinkDeviceError::NotHolder)
    );
    let phone_key = phone.core.account().identity_key();
    assert_eq!(
        laptop.core.handle_remove_device(NOW + 3_000, &phone_key),
        Err(LinkDeviceError::NotHolder)
    );
    assert_eq!(
        phone.core.handle_remove_device(NOW + 3_000, &phone_key),
        Err(LinkDeviceError::ThisDevice)
    );
    // An expired code is refused before anything changes.
    assert!(matches!(
        phone
            .core
            .handle_link_device(NOW + 700_000, &third_code, false, &[]),
        Err(LinkDeviceError::Link(LinkError::Expired { .. }))
    ));
    assert_eq!(phone.core.own_account().list().counter(), 2);
}

#[test]
fn a_holder_removes_a_device_with_a_list_without_it() {
    let (mut phone, mut laptop) = phone_and_laptop();
    link(&mut phone, &mut laptop);
    let laptop_key = laptop.core.account().identity_key();

    phone.core.handle_remove_device(NOW + 3_000, &laptop_key).unwrap();
    removed_and_published(&mut phone, laptop_key);
    let list = phone.core.own_account().list();
    assert_eq!(list.counter(), 3);
    assert!(list.device(&laptop_key).is_none());
    assert_eq!(
        phone.core.handle_remove_device(NOW + 3_000, &laptop_key),
        Err(LinkDeviceError::List(
            hush_crypto::devices::DeviceListError::UnknownDevice
        ))
    );
}

/// `account`'s bundle as the relay serves it.
fn served_bundle(account: &hush_crypto::Account) -> Bundle {
    let bundle = account.prekey_bundle(None).unwrap();
    Bundle {
        identity_key: *bundle.identity_key.as_bytes(),
        signed_prekey: hush_client_core::signed_prekey_to_wire(&bundle.signed_prekey),
        one_time_prekey: None,
        kem_prekey: None,
    }
}

/// The holder links the laptop; the relay answers its bundle check with `bundle`: the events.
fn check_answered_with(phone: &mut Dev, laptop: &Dev, bundle: Bundle) -> Vec<Event> {
    let code = laptop.core.link_code().unwrap();
    phone
        .core
        .handle_link_device(NOW + 1_000, &code, false, &[])
        .unwrap();
    let (requests, _) = phone.drain();
    let fetch = requests
        .iter()
        .find(|frame| matches!(frame.request, Request::FetchBundle { .. }))
        .expect("the holder checks the linked device's bundle");
    let laptop_mailbox = Address::from_identity(&code.identity_key()).mailbox();
    assert!(matches!(fetch.request, Request::FetchBundle { mailbox, .. } if mailbox == laptop_mailbox));
    phone
        .core
        .handle_response(NOW + 1_000, fetch.id, Ok(Response::Bundle(bundle)));
    phone.drain().1
}

#[test]
fn a_bundle_under_another_key_served_for_the_linked_device_is_reported() {
    let (mut phone, laptop) = phone_and_laptop();
    let impostor = hush_crypto::Account::new(NOW / 1000, &mut StdRng::seed_from_u64(9));
    let events = check_answered_with(&mut phone, &laptop, served_bundle(&impostor));
    assert_eq!(
        events,
        vec![Event::LinkedDeviceKeyMismatch {
            device: laptop.core.account().identity_key(),
            served: *impostor.identity_key().as_bytes(),
        }]
    );

    // The laptop's own bundle passes, and is not asked for again.
    let (mut phone, laptop) = phone_and_laptop();
    let events = check_answered_with(&mut phone, &laptop, served_bundle(laptop.core.account()));
    assert!(events.is_empty(), "{events:?}");
    phone.core.handle_disconnected(NOW + 2_000);
    phone.core.handle_authenticated(NOW + 2_000, 100);
    let (requests, _) = phone.drain();
    assert!(
        !requests
            .iter()
            .any(|frame| matches!(frame.request, Request::FetchBundle { .. })),
        "{requests:?}"
    );
}

#[test]
fn a_removal_made_while_the_login_fetch_is_answered_is_still_published() {
    let (mut phone, mut laptop) = phone_and_laptop();
    link(&mut phone, &mut laptop);
    let laptop_key = laptop.core.account().identity_key();
    let before = phone.core.own_account().list().clone();
    // The next login compares the relay's list with ours; we remove the laptop meanwhile.
    phone.core.handle_disconnected(NOW + 3_000);
    phone.core.handle_authenticated(NOW + 3_000, 100);
    let (requests, _) = phone.drain();
    let fetch = requests
        .iter()
        .find(|frame| matches!(frame.request, Request::FetchDeviceList { .. }))
        .expect("the login compares lists")
        .clone();
    phone.core.handle_remove_device(NOW + 3_000, &laptop_key).unwrap();
    let served = hush_proto::DeviceListBytes::new(before.to_bytes()).unwrap();
    let answer = Response::DeviceList {
        list: served,
        memberships: hush_proto::Memberships::new(Vec::new()).unwrap(),
    };
    phone.core.handle_response(NOW + 3_000, fetch.id, Ok(answer));
    removed_and_published(&mut phone, laptop_key);
}
