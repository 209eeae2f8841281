//! Typing and presence on the core alone: what goes out for a contact, what comes in from one,
//! and that neither commits anything nor touches a session.

use hush_crypto::Account;
use hush_proto::{Push, Request};
use rand::SeedableRng;
use rand::rngs::StdRng;

use super::wire::{Ephemeral, EphemeralKind, Presence};
use super::{EPHEMERAL_MAX_SKEW_MS, PresenceSetting};
use crate::access::Standing;
use crate::address::Address;
use crate::core::{Core, Output};
use crate::event::Event;

const NOW: u64 = 1_750_000_000_000;

/// Bob's core, online, with Alice (a bare account: a legacy single-device peer) accepted.
fn bob_with(alice: &Account) -> (Core, Address) {
    let mut core = Core::create(NOW, Box::new(StdRng::seed_from_u64(7)));
    while core.poll_output().is_some() {}
    core.link.reset(true);
    let alice_address = Address::from_identity(&alice.identity_key());
    core.access.entry(alice_address, Standing::Accepted).access_key = Some([9; 32]);
    (core, alice_address)
}

fn alice() -> Account {
    Account::new(NOW / 1000, &mut StdRng::seed_from_u64(1))
}

fn outputs(core: &mut Core) -> Vec<Output> {
    std::iter::from_fn(|| core.poll_output()).collect()
}

fn sealed(from: &Account, to: &Core, ephemeral: &Ephemeral) -> Push {
    let bytes = hush_crypto::sealed::seal(
        from,
        &to.account.identity_key(),
        &ephemeral.encode(),
        &mut StdRng::seed_from_u64(3),
    )
    .unwrap();
    Push::Ephemeral {
        envelope: hush_proto::EphemeralEnvelope::new(bytes).unwrap(),
    }
}

fn typing(sent_at: u64, id: u8, started: bool) -> Ephemeral {
    Ephemeral {
        sent_at,
        id: [id; 16],
        kind: EphemeralKind::Typing(started),
    }
}

#[test]
fn typing_goes_out_sealed_to_the_contact_and_commits_nothing() {
    let alice = alice();
    let (mut bob, alice_address) = bob_with(&alice);
    bob.handle_typing(NOW, alice_address, true);
    let out = outputs(&mut bob);
    let [Output::Request(frame)] = out.as_slice() else {
        panic!("expected one request, got {out:?}");
    };
    let Request::SendEphemeral { to, access, envelope } = &frame.request else {
        panic!("expected SendEphemeral, got {:?}", frame.request);
    };
    assert_eq!(*to, alice_address.mailbox());
    assert_eq!(access.as_ref().map(|key| key.0), Some([9; 32]));
    let opened = alice.open_sealed(envelope.as_bytes()).unwrap();
    assert_eq!(opened.sender, bob.account.identity_key());
    let ephemeral = Ephemeral::decode(&opened.inner).unwrap();
    assert_eq!(
        (ephemeral.sent_at, ephemeral.kind),
        (NOW, EphemeralKind::Typing(true))
    );
    assert!(bob.peers.is_empty(), "no session was made or used");
}

#[test]
fn nothing_goes_to_a_stranger_a_requester_or_while_offline() {
    let alice = alice();
    let (mut bob, alice_address) = bob_with(&alice);
    let stranger = Address::from_identity(&Account::new(1, &mut StdRng::seed_from_u64(5)).identity_key());
    bob.handle_typing(NOW, stranger, true);
    bob.access.entry(stranger, Standing::Requested);
    bob.handle_typing(NOW, stranger, true);
    bob.link.reset(false);
    bob.handle_typing(NOW, alice_address, true);
    assert!(outputs(&mut bob).is_empty());
}

#[test]
fn a_contacts_typing_is_an_event_once_and_a_replay_or_stale_one_is_not() {
    let alice = alice();
    let (mut bob, alice_address) = bob_with(&alice);
    let push = sealed(&alice, &bob, &typing(NOW, 1, true));
    bob.handle_push(NOW, push.clone());
    let out = outputs(&mut bob);
    assert!(
        matches!(out.as_slice(), [Output::Event(Event::Typing { peer, typing: true })] if *peer == alice_address),
        "{out:?}"
    );
    bob.handle_push(NOW + 1, push);
    let stale = NOW - EPHEMERAL_MAX_SKEW_MS - 1;
    bob.handle_push(NOW, sealed(&alice, &bob, &typing(stale, 2, false)));
    assert!(
        outputs(&mut bob).is_empty(),
        "a replay and a stale one are ignored"
    );
}

#[test]
fn a_blocked_or_unknown_senders_ephemeral_is_ignored() {
    let alice = alice();
    let (mut bob, alice_address) = bob_with(&alice);
    let stranger = Account::new(1, &mut StdRng::seed_from_u64(5));
    bob.handle_push(NOW, sealed(&stranger, &bob, &typing(NOW, 1, true)));
    bob.access.entry(alice_address, Standing::Accepted).standing = Standing::Blocked;
    bob.handle_push(NOW, sealed(&alice, &bob, &typing(NOW, 2, true)));
    // A sealed session message is not an ephemeral.
    let mut bad = typing(NOW, 3, true).encode();
    bad[0] = 0x01;
    bob.access.entry(alice_address, Standing::Accepted).standing = Standing::Accepted;
    let bytes = hush_crypto::sealed::seal(
        &alice,
        &bob.account.identity_key(),
        &bad,
        &mut StdRng::seed_from_u64(4),
    )
    .unwrap();
    bob.handle_push(
        NOW,
        Push::Ephemeral {
            envelope: hush_proto::EphemeralEnvelope::new(bytes).unwrap(),
        },
    );
    assert!(outputs(&mut bob).is_empty());
}

#[test]
fn presence_is_off_by_default_and_on_says_online_and_answers_a_contact_that_asks() {
    let alice = alice();
    let (mut bob, alice_address) = bob_with(&alice);
    assert_eq!(bob.presence_setting(), PresenceSetting::Off);
    bob.announce_presence(NOW);
    bob.handle_leaving(NOW);
    let asks = Ephemeral {
        sent_at: NOW,
        id: [4; 16],
        kind: EphemeralKind::Presence {
            presence: Presence::Online,
            reply: true,
        },
    };
    bob.handle_push(NOW, sealed(&alice, &bob, &asks));
    let out = outputs(&mut bob);
    assert!(
        matches!(
            out.as_slice(),
            [Output::Event(Event::PresenceChanged {
                presence: Presence::Online,
                ..
            })]
        ),
        "with presence off Bob shows Alice's but sends none: {out:?}"
    );

    let presence_of = |out: &[Output]| -> Vec<(Presence, bool)> {
        out.iter()
            .filter_map(|output| match output {
                Output::Request(frame) => match &frame.request {
                    Request::SendEphemeral { envelope, .. } => {
                        let inner = alice.open_sealed(envelope.as_bytes()).unwrap().inner;
                        match Ephemeral::decode(&inner).unwrap().kind {
                            EphemeralKind::Presence { presence, reply } => Some((presence, reply)),
                            EphemeralKind::Typing(_) => None,
                        }
                    }
                    _ => None,
                },
                _ => None,
            })
            .collect()
    };
    bob.handle_presence_setting(NOW, PresenceSetting::On);
    assert_eq!(presence_of(&outputs(&mut bob)), [(Presence::Online, true)]);
    let asks_again = Ephemeral { id: [5; 16], ..asks };
    bob.handle_push(NOW, sealed(&alice, &bob, &asks_again));
    assert_eq!(presence_of(&outputs(&mut bob)), [(Presence::Online, false)]);
    bob.handle_presence_setting(NOW + 7, PresenceSetting::Off);
    assert_eq!(
        presence_of(&outputs(&mut bob)),
        [(Presence::LastSeen(NOW + 7), false)]
    );
    let _ = alice_address;
}
