//! An initial message delivered to the wrong recipient identity, local address or claimed sender
//! is refused: sender and recipient are bound into the associated data.

use hush_crypto::{Account, InboundError};

use crate::common::{NOW, account_state, accounts, first_prekey_message};
use crate::{PREKEY_IDENTITY, address_range, decode_prekey, rng, with_bytes};

#[test]
fn initial_message_delivered_to_another_identity_with_same_prekey_ids_is_rejected() {
    let mut rng = rng(19);
    let (alice, mut bob) = accounts(&mut rng);
    let mut carol = Account::new(NOW, &mut rng);
    let (_, first) = first_prekey_message(&alice, b"alice", &mut bob, b"bob", true, b"hi", &mut rng);
    // Carol holds a signed prekey and a one-time prekey with exactly the ids the message names.
    let carol_otk = carol.generate_one_time_prekeys(1, &mut rng)[0];
    assert_eq!(carol.signed_prekey().unwrap().id, first.signed_prekey_id());
    assert_eq!(Some(carol_otk.id), first.one_time_prekey_id());

    let before = account_state(&carol);
    for address in [&b"bob"[..], b"carol"] {
        assert_eq!(
            carol
                .create_inbound_session(address, &first, NOW, &mut rng)
                .unwrap_err(),
            InboundError::Unauthenticated
        );
    }
    assert_eq!(account_state(&carol), before);
    assert_eq!(carol.one_time_prekey_count(), 1);
    // The intended recipient still accepts it.
    assert_eq!(
        bob.create_inbound_session(b"bob", &first, NOW, &mut rng)
            .unwrap()
            .plaintext,
        b"hi"
    );
}

#[test]
fn wrong_local_address_or_claimed_sender_is_rejected() {
    let mut rng = rng(1919);
    let (alice, mut bob) = accounts(&mut rng);
    let carol = Account::new(NOW, &mut rng);
    let (_, first) = first_prekey_message(&alice, b"alice", &mut bob, b"bob", true, b"hi", &mut rng);
    let before = account_state(&bob);
    for wrong in [&b"bobby"[..], b"", b"bo", b"carol"] {
        assert_eq!(
            bob.create_inbound_session(wrong, &first, NOW, &mut rng)
                .unwrap_err(),
            InboundError::Unauthenticated
        );
    }
    // Another sender address of the same length, and another claimed identity.
    let bytes = first.to_bytes();
    let other_sender = decode_prekey(&with_bytes(&bytes, address_range(&first), b"carol")).unwrap();
    let other_identity = decode_prekey(&with_bytes(
        &bytes,
        PREKEY_IDENTITY,
        carol.identity_key().as_bytes(),
    ))
    .unwrap();
    for forged in [other_sender, other_identity] {
        assert_eq!(
            bob.create_inbound_session(b"bob", &forged, NOW, &mut rng)
                .unwrap_err(),
            InboundError::Unauthenticated
        );
    }
    assert_eq!(account_state(&bob), before);
    assert!(bob.create_inbound_session(b"bob", &first, NOW, &mut rng).is_ok());
}
