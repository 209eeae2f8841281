//! Hush does not encrypt headers; the property that still applies is that no (key, nonce) pair
//! repeats under one chain.

use std::collections::HashSet;

use crate::common::pair;
#[cfg(feature = "hazmat")]
use crate::{COUNTER, RATCHET_KEY, aead_key_and_nonce};
use crate::{SALT, plain, rng, send_many};

#[cfg(feature = "hazmat")]
#[test]
fn headers_not_encrypted_nonces_unique() {
    let mut rng = rng(24);
    let (mut alice, mut bob) = pair(&mut rng);
    let chain_key = alice.hazmat_keys().2.unwrap();
    let ad = alice.hazmat_associated_data().to_vec();
    let messages = send_many(&mut alice, "n", 1000, &mut rng);
    let mut key_nonces = HashSet::new();
    let mut nonces = HashSet::new();
    let mut salts = HashSet::new();
    for (counter, message) in messages.iter().enumerate() {
        let inner = plain(message);
        let bytes = message.to_bytes();
        // The header travels in the clear: ratchet key and counters are readable on the wire.
        // (If header encryption is ever added, this fails, and the checklist's header-key tests apply.)
        assert_eq!(&bytes[RATCHET_KEY], inner.ratchet_key().as_bytes());
        assert_eq!(bytes[COUNTER], u32::try_from(counter).unwrap().to_be_bytes());
        assert_eq!(inner.counter() as usize, counter);
        let (key, nonce) = aead_key_and_nonce(&chain_key, 0, &ad, message);
        assert!(
            key_nonces.insert((key, nonce)),
            "(key, nonce) repeated at {counter}"
        );
        assert!(nonces.insert(nonce), "nonce repeated at {counter}");
        assert!(salts.insert(inner.hazmat_salt()), "salt repeated at {counter}");
    }
    assert_eq!(key_nonces.len(), 1000);
    // All of them still decrypt at the peer.
    for (counter, message) in messages.iter().enumerate().rev() {
        assert_eq!(
            bob.decrypt(message, &mut rng).unwrap(),
            format!("n {counter}").as_bytes()
        );
    }
}

#[test]
fn headers_not_encrypted_counters_and_salts_unique_without_hazmat() {
    let mut rng = rng(25);
    let (mut alice, _bob) = pair(&mut rng);
    let messages = send_many(&mut alice, "n", 1000, &mut rng);
    let mut positions = HashSet::new();
    let mut salts = HashSet::new();
    for message in &messages {
        let bytes = message.to_bytes();
        assert!(positions.insert((plain(message).ratchet_key(), plain(message).counter())));
        assert!(salts.insert(bytes[SALT].to_vec()));
    }
    assert_eq!(positions.len(), 1000);
}
