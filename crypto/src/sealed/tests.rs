use rand::SeedableRng;
use rand::rngs::StdRng;

use super::*;

const NOW: u64 = 1_700_000_000;

fn accounts(count: usize) -> Vec<Account> {
    let mut rng = rand::rng();
    (0..count).map(|_| Account::new(NOW, &mut rng)).collect()
}

/// What a forger who holds `forger`'s keys but not `claimed`'s can build: layer 1 naming
/// `claimed` (it needs only public keys), layer 2 keyed with the forger's own static DH.
fn forge(forger: &Account, claimed: &IdentityKey, recipient: &IdentityKey, inner: &[u8]) -> Vec<u8> {
    let mut rng = rand::rng();
    let ephemeral = Curve25519KeyPair::generate(&mut rng);
    let recipient_dh = recipient.to_curve25519().unwrap();
    let layer1 = sender_keys(
        &ephemeral.diffie_hellman(&recipient_dh).unwrap(),
        &ephemeral.public(),
        recipient,
    );
    let sender_box = primitives::aead_seal(
        &layer1.key,
        &layer1.nonce,
        &sender_ad(&ephemeral.public(), recipient),
        claimed.as_bytes(),
    )
    .unwrap();
    let mut out = [
        &[SEALED_VERSION],
        ephemeral.public().as_bytes().as_slice(),
        &sender_box,
    ]
    .concat();
    let dh2 = Secret32::new(forger.identity_key_agreement(&recipient_dh).unwrap());
    let layer2 = inner_keys(
        &layer1,
        &dh2,
        &ephemeral.public(),
        recipient,
        claimed,
        &sender_box,
    );
    let inner_box =
        primitives::aead_seal(&layer2.key, &layer2.nonce, &inner_ad(&out, recipient), inner).unwrap();
    out.extend_from_slice(&inner_box);
    out
}

/// The ephemeral key and both layers' AEAD keys and nonces of an envelope.
type EnvelopeKeys = ([u8; 32], [u8; 32], [u8; 12], [u8; 32], [u8; 12]);

/// [`EnvelopeKeys`] as the envelope's recipient derives them.
fn keys_of(recipient: &Account, sealed: &[u8]) -> EnvelopeKeys {
    let parts = parse(sealed).unwrap();
    let identity = recipient.identity_key();
    let dh1 = Secret32::new(recipient.identity_key_agreement(&parts.ephemeral).unwrap());
    let layer1 = sender_keys(&dh1, &parts.ephemeral, &identity);
    let sender = recipient.open_sealed(sealed).unwrap().sender;
    let dh2 = Secret32::new(
        recipient
            .identity_key_agreement(&sender.to_curve25519().unwrap())
            .unwrap(),
    );
    let layer2 = inner_keys(
        &layer1,
        &dh2,
        &parts.ephemeral,
        &identity,
        &sender,
        parts.sender_box,
    );
    (
        parts.ephemeral.to_bytes(),
        layer1.key,
        layer1.nonce,
        layer2.key,
        layer2.nonce,
    )
}

#[test]
fn seal_round_trips_and_names_the_sender() {
    let [alice, bob] = <[Account; 2]>::try_from(accounts(2)).unwrap();
    let sealed = seal(&alice, &bob.identity_key(), b"inner", &mut rand::rng()).unwrap();
    assert_eq!(sealed.len(), SEAL_OVERHEAD + 5);
    assert_eq!(sealed[0], SEALED_VERSION);
    let opened = bob.open_sealed(&sealed).unwrap();
    assert_eq!(opened.sender, alice.identity_key());
    assert_eq!(opened.inner, b"inner");
}

#[test]
fn forged_claim_of_a_contact_does_not_open() {
    let [alice, bob, mallory] = <[Account; 3]>::try_from(accounts(3)).unwrap();
    // The shape is right: layer 1 opens and names Alice; only layer 2 gives it away.
    let forged = forge(&mallory, &alice.identity_key(), &bob.identity_key(), b"inner");
    assert_eq!(forged.len(), SEAL_OVERHEAD + 5);
    assert_eq!(bob.open_sealed(&forged), Err(SealError::Unauthenticated));
    // The same construction with Alice's own key is a genuine envelope.
    let genuine = forge(&alice, &alice.identity_key(), &bob.identity_key(), b"inner");
    assert_eq!(bob.open_sealed(&genuine).unwrap().sender, alice.identity_key());
}

#[test]
fn inner_box_spliced_onto_another_header_does_not_open() {
    let [alice, bob] = <[Account; 2]>::try_from(accounts(2)).unwrap();
    let mut rng = rand::rng();
    let first = seal(&alice, &bob.identity_key(), b"first", &mut rng).unwrap();
    let second = seal(&alice, &bob.identity_key(), b"other", &mut rng).unwrap();
    let spliced = [&first[..SEAL_HEADER_LEN], &second[SEAL_HEADER_LEN..]].concat();
    assert_eq!(bob.open_sealed(&spliced), Err(SealError::Unauthenticated));
}

#[test]
fn sealed_for_someone_else_does_not_open() {
    let [alice, bob, eve] = <[Account; 3]>::try_from(accounts(3)).unwrap();
    let sealed = seal(&alice, &bob.identity_key(), b"inner", &mut rand::rng()).unwrap();
    assert_eq!(eve.open_sealed(&sealed), Err(SealError::Unauthenticated));
}

#[test]
fn every_bit_flip_is_refused() {
    let [alice, bob] = <[Account; 2]>::try_from(accounts(2)).unwrap();
    let sealed = seal(&alice, &bob.identity_key(), b"hi", &mut rand::rng()).unwrap();
    for byte in 0..sealed.len() {
        for bit in 0..8 {
            let mut altered = sealed.clone();
            altered[byte] ^= 1 << bit;
            assert!(
                bob.open_sealed(&altered).is_err(),
                "flip of bit {bit} in byte {byte} accepted"
            );
        }
    }
}

#[test]
fn short_and_unknown_version_are_typed() {
    let [alice, bob] = <[Account; 2]>::try_from(accounts(2)).unwrap();
    assert_eq!(bob.open_sealed(&[2; 10]), Err(SealError::TooShort { length: 10 }));
    let mut sealed = seal(&alice, &bob.identity_key(), b"", &mut rand::rng()).unwrap();
    assert_eq!(
        bob.open_sealed(&sealed[..SEAL_OVERHEAD - 1]),
        Err(SealError::TooShort {
            length: SEAL_OVERHEAD - 1
        })
    );
    for version in [0, 1, 3, 0xff] {
        sealed[0] = version;
        assert_eq!(
            bob.open_sealed(&sealed),
            Err(SealError::UnknownVersion { found: version })
        );
    }
}

#[test]
fn two_seals_of_the_same_message_differ() {
    let [alice, bob] = <[Account; 2]>::try_from(accounts(2)).unwrap();
    let mut rng = rand::rng();
    let a = seal(&alice, &bob.identity_key(), b"same", &mut rng).unwrap();
    let b = seal(&alice, &bob.identity_key(), b"same", &mut rng).unwrap();
    assert_ne!(a, b);
}

#[test]
fn replayed_rng_never_repeats_ephemeral_key_or_aead_key_and_nonce() {
    let [alice, bob] = <[Account; 2]>::try_from(accounts(2)).unwrap();
    // rand 0.10's StdRng is not Clone: two RNGs from one seed are the same restored state.
    let replayed = || StdRng::seed_from_u64(15);
    let first = seal(&alice, &bob.identity_key(), b"pay Carol 10", &mut replayed()).unwrap();
    let second = seal(&alice, &bob.identity_key(), b"pay Carol 99", &mut replayed()).unwrap();
    let (e1, k1, n1, k2, n2) = keys_of(&bob, &first);
    let (e1b, k1b, n1b, k2b, n2b) = keys_of(&bob, &second);
    assert_ne!(e1, e1b, "ephemeral key repeated");
    for (one, other) in [(k1, k1b), (k2, k2b), (k1, k2b), (k2, k1b)] {
        assert_ne!(one, other, "AEAD key repeated");
    }
    assert_ne!(n1, n1b, "layer-1 nonce repeated");
    assert_ne!(n2, n2b, "layer-2 nonce repeated");
    // What a replayed RNG still shows: the same message sealed twice gives the same bytes.
    let again = seal(&alice, &bob.identity_key(), b"pay Carol 10", &mut replayed()).unwrap();
    assert_eq!(again, first);
    // And another recipient or sender under the same RNG stream gets another ephemeral key.
    let [carol] = <[Account; 1]>::try_from(accounts(1)).unwrap();
    let to_carol = seal(&alice, &carol.identity_key(), b"pay Carol 10", &mut replayed()).unwrap();
    let from_carol = seal(&carol, &bob.identity_key(), b"pay Carol 10", &mut replayed()).unwrap();
    assert_ne!(to_carol[1..33], first[1..33]);
    assert_ne!(from_carol[1..33], first[1..33]);
}
