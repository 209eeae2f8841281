//! Low-order, all-zero-output and non-canonical X25519 public keys (and small-order or
//! non-canonical Ed25519 identity keys) are refused wherever they appear.

use hush_crypto::group::{GroupSender, SenderKeyDistribution};
use hush_crypto::{
    Account, Curve25519PublicKey, DecodeError, IdentityKey, KeyError, Message, PreKeyBundle, PreKeyMessage,
    SessionMessage,
};

use crate::common::{NOW, accounts, bundle, first_prekey_message, pair};
use crate::{
    BUNDLE_IDENTITY, BUNDLE_ONE_TIME_PREKEY, BUNDLE_SIGNED_PREKEY, MESSAGE_RATCHET_KEY, PREKEY_BASE_KEY,
    PREKEY_IDENTITY, inner_start, rng, with_bytes,
};

fn hex32(text: &str) -> [u8; 32] {
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&text[2 * i..2 * i + 2], 16).unwrap();
    }
    out
}

/// p = 2^255 - 19 plus `add`, little-endian (`add` small enough not to carry past the low byte).
fn p_plus(add: u8) -> [u8; 32] {
    let mut out = [0xff; 32];
    out[0] = 0xed + add;
    out[31] = 0x7f;
    out
}

/// Canonical low-order X25519 u-coordinates (RFC 7748 section 6, libsodium's list).
fn low_order_x25519() -> Vec<[u8; 32]> {
    let mut one = [0u8; 32];
    one[0] = 1;
    let mut p_minus_1 = p_plus(0);
    p_minus_1[0] = 0xec;
    vec![
        [0; 32],
        one,
        hex32("e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800"),
        hex32("5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157"),
        p_minus_1,
    ]
}

/// Non-canonical X25519 encodings: p, p + 1 and the others up to 2^255 - 1, and every low-order
/// value with the top bit set, and all ones.
fn non_canonical_x25519() -> Vec<[u8; 32]> {
    let mut out: Vec<[u8; 32]> = (0..=18).map(p_plus).collect();
    for mut key in low_order_x25519() {
        key[31] |= 0x80;
        out.push(key);
    }
    out.push([0xff; 32]);
    // A valid key with the top bit set is still refused.
    let mut rng = rng(22);
    let mut valid = Account::new(NOW, &mut rng)
        .signed_prekey()
        .unwrap()
        .key
        .to_bytes();
    valid[31] |= 0x80;
    out.push(valid);
    out
}

fn refused_x25519() -> Vec<([u8; 32], KeyError)> {
    let low = low_order_x25519()
        .into_iter()
        .map(|key| (key, KeyError::LowOrder));
    low.chain(
        non_canonical_x25519()
            .into_iter()
            .map(|key| (key, KeyError::NonCanonical)),
    )
    .collect()
}

#[test]
fn low_order_and_non_canonical_x25519_public_keys_are_rejected() {
    let refused = refused_x25519();
    assert_eq!(refused.len(), 5 + 19 + 5 + 2);
    for (key, expected) in &refused {
        assert_eq!(Curve25519PublicKey::from_bytes(key), Err(*expected), "{key:02x?}");
        assert_eq!(Curve25519PublicKey::try_from(*key), Err(*expected));
        assert!(serde_json::from_str::<Curve25519PublicKey>(&serde_json::to_string(key).unwrap()).is_err());
        // The raw DH refuses it too (no all-zero or attacker-known shared secret).
        assert!(hush_crypto::primitives::x25519(&[0x42; 32], key).is_err());
    }
}

#[test]
fn weak_x25519_keys_in_bundles_and_messages_are_decode_errors() {
    let mut rng = rng(2222);
    let (alice, mut bob) = accounts(&mut rng);
    let bundle_bytes = bundle(&mut bob, true, &mut rng).bundle().to_bytes();
    PreKeyBundle::from_bytes(&bundle_bytes).unwrap();
    let (_, first) = first_prekey_message(&alice, b"alice", &mut bob, b"bob", true, b"hi", &mut rng);
    let prekey_bytes = first.to_bytes();
    let inner_ratchet_key = inner_start(&first) + MESSAGE_RATCHET_KEY.start;
    let inner_ratchet_key = inner_ratchet_key..inner_ratchet_key + 32;
    let (mut alice_session, _) = pair(&mut rng);
    let SessionMessage::Normal(message) = alice_session.encrypt(NOW, b"x", &mut rng).unwrap() else {
        panic!("an answered session sends normal messages");
    };
    let message_bytes = message.to_bytes();

    for (key, expected) in refused_x25519() {
        let invalid = |field| DecodeError::InvalidKey {
            field,
            source: expected,
        };
        assert_eq!(
            PreKeyBundle::from_bytes(&with_bytes(&bundle_bytes, BUNDLE_SIGNED_PREKEY, &key)),
            Err(invalid("signed_prekey"))
        );
        assert_eq!(
            PreKeyBundle::from_bytes(&with_bytes(&bundle_bytes, BUNDLE_ONE_TIME_PREKEY, &key)),
            Err(invalid("one_time_prekey"))
        );
        assert_eq!(
            PreKeyMessage::from_bytes(&with_bytes(&prekey_bytes, PREKEY_BASE_KEY, &key)),
            Err(invalid("base_key"))
        );
        assert_eq!(
            SessionMessage::from_bytes(&with_bytes(&prekey_bytes, inner_ratchet_key.clone(), &key)),
            Err(invalid("ratchet_key"))
        );
        assert_eq!(
            Message::from_bytes(&with_bytes(&message_bytes, MESSAGE_RATCHET_KEY, &key)),
            Err(invalid("ratchet_key"))
        );
        assert_eq!(
            SessionMessage::from_bytes(&with_bytes(&message_bytes, MESSAGE_RATCHET_KEY, &key)),
            Err(invalid("ratchet_key"))
        );
    }
}

/// Ed25519 encodings of the eight small-order points (and their sign-flipped twins), and the
/// non-canonical encodings `y >= p` with either sign.
fn refused_ed25519() -> Vec<[u8; 32]> {
    let mut one = [0u8; 32];
    one[0] = 1;
    let mut minus_one = p_plus(0);
    minus_one[0] = 0xec;
    let small_order = [
        one,
        minus_one,
        [0; 32],
        hex32("26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05"),
        hex32("c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a"),
    ];
    let mut out = Vec::new();
    for key in small_order {
        out.push(key);
        let mut signed = key;
        signed[31] |= 0x80;
        out.push(signed);
    }
    for add in 0..=18 {
        let key = p_plus(add);
        out.push(key);
        let mut signed = key;
        signed[31] |= 0x80;
        out.push(signed);
    }
    out
}

#[test]
fn small_order_and_non_canonical_ed25519_identity_keys_are_rejected() {
    let mut rng = rng(2223);
    let (alice, mut bob) = accounts(&mut rng);
    let bundle_bytes = bundle(&mut bob, true, &mut rng).bundle().to_bytes();
    let (_, first) = first_prekey_message(&alice, b"alice", &mut bob, b"bob", true, b"hi", &mut rng);
    let prekey_bytes = first.to_bytes();
    let distribution = GroupSender::new(
        [1; 16],
        hush_crypto::Account::new(0, &mut rng).identity_key(),
        1,
        &mut rng,
    )
    .distribution()
    .to_bytes();
    let invalid = |field| DecodeError::InvalidKey {
        field,
        source: KeyError::InvalidEd25519,
    };
    for key in refused_ed25519() {
        assert_eq!(
            IdentityKey::from_bytes(&key),
            Err(KeyError::InvalidEd25519),
            "{key:02x?}"
        );
        assert_eq!(
            PreKeyBundle::from_bytes(&with_bytes(&bundle_bytes, BUNDLE_IDENTITY, &key)),
            Err(invalid("identity_key"))
        );
        assert_eq!(
            PreKeyMessage::from_bytes(&with_bytes(&prekey_bytes, PREKEY_IDENTITY, &key)),
            Err(invalid("identity_key"))
        );
        let signing_key = distribution.len() - 32..distribution.len();
        assert_eq!(
            SenderKeyDistribution::from_bytes(&with_bytes(&distribution, signing_key, &key)),
            Err(invalid("signing_key"))
        );
    }
    // Sanity: genuine keys still parse.
    assert_eq!(
        IdentityKey::from_bytes(alice.identity_key().as_bytes()).unwrap(),
        alice.identity_key()
    );
}
