//! Replays of messages already decrypted, in order, out of order, below the eviction point and as
//! pre-key messages: refused as duplicates, the session unchanged.

use hush_crypto::ratchet::{MAX_SKIP, MAX_SKIPPED_KEYS};
use hush_crypto::{DecryptError, SessionMessage};

use crate::common::{NOW, accounts, bundle, pair};
use crate::{refused, rng, send, send_many};

#[test]
fn replay_in_order_and_out_of_order_is_duplicate_and_state_unchanged() {
    let mut rng = rng(10);
    let (mut alice, mut bob) = pair(&mut rng);
    let m = send_many(&mut alice, "m", 5, &mut rng);
    // In order: m0 (a DH step), m1.
    bob.decrypt(&m[0], &mut rng).unwrap();
    bob.decrypt(&m[1], &mut rng).unwrap();
    assert_eq!(
        refused(&mut bob, &m[1], &mut rng),
        DecryptError::Duplicate { counter: 1 }
    );
    assert_eq!(
        refused(&mut bob, &m[0], &mut rng),
        DecryptError::Duplicate { counter: 0 }
    );
    // Out of order: m4 then m2 (from the skipped store).
    bob.decrypt(&m[4], &mut rng).unwrap();
    bob.decrypt(&m[2], &mut rng).unwrap();
    assert_eq!(
        refused(&mut bob, &m[2], &mut rng),
        DecryptError::Duplicate { counter: 2 }
    );
    assert_eq!(
        refused(&mut bob, &m[4], &mut rng),
        DecryptError::Duplicate { counter: 4 }
    );
    assert_eq!(bob.decrypt(&m[3], &mut rng).unwrap(), b"m 3");
    assert_eq!(
        refused(&mut bob, &m[3], &mut rng),
        DecryptError::Duplicate { counter: 3 }
    );

    // After both sides stepped, replays of the old (closed) chain are still duplicates.
    let reply = send(&mut bob, b"reply", &mut rng);
    alice.decrypt(&reply, &mut rng).unwrap();
    let next = send(&mut alice, b"next", &mut rng);
    bob.decrypt(&next, &mut rng).unwrap();
    for (counter, message) in m.iter().enumerate() {
        assert_eq!(
            refused(&mut bob, message, &mut rng),
            DecryptError::Duplicate {
                counter: u32::try_from(counter).unwrap()
            }
        );
    }
    assert_eq!(
        refused(&mut alice, &reply, &mut rng),
        DecryptError::Duplicate { counter: 0 }
    );
}

#[test]
fn replay_below_the_eviction_point_is_still_refused_unchanged() {
    let mut rng = rng(29);
    let (mut alice, mut bob) = pair(&mut rng);
    let messages = send_many(&mut alice, "m", 2 * MAX_SKIP + 3, &mut rng);
    // Message 1 is decrypted; then two jumps of MAX_SKIP push keys 0 and 2.. out of the store.
    bob.decrypt(&messages[1], &mut rng).unwrap();
    bob.decrypt(&messages[(MAX_SKIP + 2) as usize], &mut rng).unwrap();
    bob.decrypt(&messages[(2 * MAX_SKIP + 2) as usize], &mut rng)
        .unwrap();
    assert_eq!(bob.skipped_key_count(), MAX_SKIPPED_KEYS);
    // The store cannot tell a used key from an evicted one below the eviction point: the replay
    // is refused with the eviction error rather than `Duplicate`, and nothing changes.
    assert_eq!(
        refused(&mut bob, &messages[1], &mut rng),
        DecryptError::MessageKeyEvicted { counter: 1 }
    );
    // Above it, replays are duplicates as usual.
    assert_eq!(
        refused(&mut bob, &messages[(2 * MAX_SKIP + 2) as usize], &mut rng),
        DecryptError::Duplicate {
            counter: 2 * MAX_SKIP + 2
        }
    );
}

#[test]
fn replayed_pre_key_message_is_duplicate_in_its_session() {
    let mut rng = rng(11);
    let (alice_account, mut bob_account) = accounts(&mut rng);
    let bundle = bundle(&mut bob_account, true, &mut rng);
    let mut alice = alice_account
        .create_outbound_session(b"alice", b"bob", &bundle, NOW, &mut rng)
        .unwrap();
    let first = send(&mut alice, b"first", &mut rng);
    let second = send(&mut alice, b"second", &mut rng);
    let SessionMessage::PreKey(prekey) = &first else {
        panic!("expected a pre-key message");
    };
    let mut bob = bob_account
        .create_inbound_session(b"bob", prekey, NOW, &mut rng)
        .unwrap()
        .session;
    assert_eq!(
        refused(&mut bob, &first, &mut rng),
        DecryptError::Duplicate { counter: 0 }
    );
    assert_eq!(bob.decrypt(&second, &mut rng).unwrap(), b"second");
    assert_eq!(
        refused(&mut bob, &second, &mut rng),
        DecryptError::Duplicate { counter: 1 }
    );
}
