//! The associated data and the header encode unambiguously: length-prefixed addresses, fixed-width
//! header fields, a length-prefixed message associated data.

use hush_crypto::DecryptError;

use crate::common::{accounts, establish, pair};
use crate::{
    BODY_START, CIPHERTEXT_LEN_FIELD, COUNTER, HEADER_LEN, PREVIOUS_COUNTER, RATCHET_KEY, TAG_LEN,
    associated_data, plain, refused, rng, send, send_many, session_ad, with_associated_data,
};

#[test]
fn address_split_is_unambiguous_in_session_associated_data() {
    let mut rng = rng(21);
    let (alice_account, mut bob_account) = accounts(&mut rng);
    let (mut alice, bob) = establish(&alice_account, b"ab", &mut bob_account, b"c", &mut rng);
    let ids = (
        alice_account.identity_key().to_bytes(),
        bob_account.identity_key().to_bytes(),
    );
    let ab_c = session_ad(&ids.0, b"ab", &ids.1, b"c");
    let a_bc = session_ad(&ids.0, b"a", &ids.1, b"bc");
    assert_eq!(associated_data(&bob), ab_c);
    assert_ne!(
        ab_c, a_bc,
        "\"ab\"+\"c\" and \"a\"+\"bc\" must encode differently"
    );
    // Same keys, only the split differs: the message does not authenticate.
    let message = send(&mut alice, b"split", &mut rng);
    let mut other_split = with_associated_data(&bob, &a_bc);
    assert_eq!(
        refused(&mut other_split, &message, &mut rng),
        DecryptError::Unauthenticated
    );
    let mut bob = bob;
    assert_eq!(bob.decrypt(&message, &mut rng).unwrap(), b"split");

    // Real sessions with the two splits cannot read each other either.
    let (mut alice_2, mut bob_2) = establish(&alice_account, b"a", &mut bob_account, b"bc", &mut rng);
    assert_eq!(associated_data(&bob_2), a_bc);
    let cross = send(&mut alice_2, b"other split", &mut rng);
    refused(&mut bob, &cross, &mut rng);
    let cross = send(&mut alice, b"first split", &mut rng);
    refused(&mut bob_2, &cross, &mut rng);
}

#[test]
fn header_fields_have_fixed_width() {
    let mut rng = rng(22);
    let (mut alice, _bob) = pair(&mut rng);
    let messages = send_many(&mut alice, "x", 300, &mut rng);
    for message in [&messages[0], &messages[255], &messages[299]] {
        let bytes = message.to_bytes();
        let inner = plain(message);
        assert_eq!(&bytes[RATCHET_KEY], inner.ratchet_key().as_bytes());
        assert_eq!(bytes[PREVIOUS_COUNTER], inner.previous_counter().to_be_bytes());
        assert_eq!(bytes[COUNTER], inner.counter().to_be_bytes());
        let body_len = u32::from_be_bytes(bytes[CIPHERTEXT_LEN_FIELD].try_into().unwrap());
        assert_eq!(body_len as usize, bytes.len() - BODY_START);
        // Whatever the counters, the header before the framed body is the same fixed size.
        assert_eq!(
            bytes.len() - CIPHERTEXT_LEN_FIELD.len() - body_len as usize,
            HEADER_LEN
        );
        // Only the body varies in length, and its length is in the frame.
        assert_eq!(
            body_len as usize,
            format!("x {}", inner.counter()).len() + TAG_LEN
        );
    }
}

#[cfg(feature = "hazmat")]
#[test]
fn message_associated_data_is_length_prefixed() {
    use hush_crypto::ratchet::hazmat_aead_associated_data;
    let one = hazmat_aead_associated_data(b"x", b"yz");
    let other = hazmat_aead_associated_data(b"xy", b"z");
    assert_ne!(one, other);
    assert_eq!(one, [0, 0, 0, 1, b'x', b'y', b'z']);
    assert_eq!(other, [0, 0, 0, 2, b'x', b'y', b'z']);
}
