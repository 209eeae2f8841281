use rand::rngs::StdRng;
use rand::{Rng, RngExt, SeedableRng};

use super::*;

const NOW: u64 = 1_700_000_000;

fn accounts(count: usize) -> Vec<Account> {
    let mut rng = rand::rng();
    (0..count).map(|_| Account::new(NOW, &mut rng)).collect()
}

fn identities(accounts: &[Account]) -> Vec<IdentityKey> {
    accounts.iter().map(Account::identity_key).collect()
}

/// A body and a part for `recipient` made by hand: the body under `ephemeral_secret` and the
/// keys of `body_secret`, the part wrapping `wrapped` and tagged as a sealer who knows the
/// ephemeral secret can.
fn by_hand(
    ephemeral_secret: [u8; 32],
    body_secret: [u8; 32],
    wrapped: [u8; 32],
    recipient: &IdentityKey,
    plaintext: &[u8],
) -> (Vec<u8>, Vec<u8>) {
    let ephemeral = Curve25519KeyPair::from_secret(Secret32::new(ephemeral_secret));
    let body_keys = message_keys(&Secret32::new(body_secret));
    let mut body = [&[SHARED_SEAL_VERSION], ephemeral.public().as_bytes().as_slice()].concat();
    let sealed = primitives::aead_seal(&body_keys.key, &body_keys.nonce, &body, plaintext).unwrap();
    body.extend_from_slice(&sealed);
    let shared = ephemeral
        .diffie_hellman(&recipient.to_curve25519().unwrap())
        .unwrap();
    let keys = wrap_keys(&shared, &ephemeral.public(), recipient);
    let mut part = vec![SHARED_SEAL_VERSION];
    part.extend_from_slice(&xor(&wrapped, &keys.pad));
    let tag = part_tag(&keys, &part, &Sha256::digest(&body));
    part.extend_from_slice(&tag);
    (part, body)
}

#[test]
fn one_two_and_a_thousand_recipients_each_open_their_part() {
    let members = accounts(MAX_SHARED_RECIPIENTS);
    let keys = identities(&members);
    let plaintext = b"a sender-key message".as_slice();
    for count in [1, 2, MAX_SHARED_RECIPIENTS] {
        let seal = seal_shared(&keys[..count], plaintext, &mut rand::rng()).unwrap();
        assert_eq!(seal.parts.len(), count);
        assert_eq!(seal.body.len(), SHARED_BODY_OVERHEAD + plaintext.len());
        assert_eq!(seal.body[0], SHARED_SEAL_VERSION);
        for (member, part) in members.iter().zip(&seal.parts) {
            assert_eq!(part.len(), MAX_SHARED_PART_LEN);
            assert_eq!(member.open_shared(part, &seal.body).unwrap(), plaintext);
        }
    }
}

#[test]
fn a_recipient_opens_only_its_own_part() {
    let members = accounts(3);
    let seal = seal_shared(&identities(&members), b"hello group", &mut rand::rng()).unwrap();
    for (i, member) in members.iter().enumerate() {
        for (j, part) in seal.parts.iter().enumerate() {
            let opened = member.open_shared(part, &seal.body);
            if i == j {
                assert_eq!(opened.unwrap(), b"hello group");
            } else {
                assert_eq!(opened, Err(SealError::PartMismatch), "member {i}, part {j}");
            }
        }
    }
}

#[test]
fn a_non_recipient_is_refused() {
    let members = accounts(3);
    let seal = seal_shared(&identities(&members[..2]), b"not for you", &mut rand::rng()).unwrap();
    for part in &seal.parts {
        assert_eq!(
            members[2].open_shared(part, &seal.body),
            Err(SealError::PartMismatch)
        );
    }
}

#[test]
fn a_part_paired_with_another_body_is_refused() {
    let members = accounts(2);
    let keys = identities(&members);
    let mut rng = rand::rng();
    let first = seal_shared(&keys, b"first", &mut rng).unwrap();
    let second = seal_shared(&keys, b"other", &mut rng).unwrap();
    assert_eq!(
        members[0].open_shared(&first.parts[0], &second.body),
        Err(SealError::PartMismatch)
    );
    // Even with the second body's ephemeral key grafted on, the first part is for the first body.
    let grafted = [
        &second.body[..SHARED_BODY_HEADER_LEN],
        &first.body[SHARED_BODY_HEADER_LEN..],
    ]
    .concat();
    assert_eq!(
        members[0].open_shared(&first.parts[0], &grafted),
        Err(SealError::PartMismatch)
    );
}

#[test]
fn every_flipped_byte_of_part_and_body_is_refused_by_its_check() {
    let members = accounts(2);
    let seal = seal_shared(&identities(&members), b"hi", &mut rand::rng()).unwrap();
    let (part, body) = (&seal.parts[1], &seal.body);
    let bob = &members[1];
    for at in 0..part.len() {
        for mask in [0x01, 0x80, 0xff] {
            let mut altered = part.clone();
            altered[at] ^= mask;
            let expected = match at {
                0 => SealError::UnknownPartVersion {
                    found: part[0] ^ mask,
                },
                _ => SealError::PartMismatch,
            };
            assert_eq!(bob.open_shared(&altered, body), Err(expected), "part byte {at}");
        }
    }
    for at in 0..body.len() {
        for mask in [0x01, 0x80, 0xff] {
            let mut altered = body.clone();
            altered[at] ^= mask;
            let error = bob.open_shared(part, &altered).unwrap_err();
            match at {
                0 => assert_eq!(
                    error,
                    SealError::UnknownBodyVersion {
                        found: body[0] ^ mask
                    }
                ),
                // A changed ephemeral key may not be a key at all; otherwise the tag catches it.
                1..33 => assert!(
                    matches!(error, SealError::PartMismatch | SealError::Key(_)),
                    "body byte {at}: {error:?}"
                ),
                _ => assert_eq!(error, SealError::PartMismatch, "body byte {at}"),
            }
        }
    }
}

#[test]
fn truncated_extended_and_short_inputs_are_typed() {
    let members = accounts(1);
    let seal = seal_shared(&identities(&members), b"", &mut rand::rng()).unwrap();
    let (part, body, bob) = (&seal.parts[0], &seal.body, &members[0]);
    assert_eq!(bob.open_shared(part, body).unwrap(), b"");
    for length in [0, 1, MAX_SHARED_PART_LEN - 1] {
        assert_eq!(
            bob.open_shared(&part[..length], body),
            Err(SealError::PartLength { length })
        );
    }
    let extended = [part.as_slice(), &[0]].concat();
    assert_eq!(
        bob.open_shared(&extended, body),
        Err(SealError::PartLength {
            length: MAX_SHARED_PART_LEN + 1
        })
    );
    for length in [0, 1, SHARED_BODY_OVERHEAD - 1] {
        assert_eq!(
            bob.open_shared(part, &body[..length]),
            Err(SealError::BodyTooShort { length })
        );
    }
    // A body one byte longer is bound to another hash: the tag refuses it.
    let longer = [body.as_slice(), &[0]].concat();
    assert_eq!(bob.open_shared(part, &longer), Err(SealError::PartMismatch));
    // A sealed-sender envelope (version 2) is neither a part nor a body.
    let mut old = part.clone();
    old[0] = super::super::SEALED_VERSION;
    assert_eq!(
        bob.open_shared(&old, body),
        Err(SealError::UnknownPartVersion { found: 2 })
    );
}

#[test]
fn a_low_order_ephemeral_key_is_a_key_error() {
    let members = accounts(1);
    let seal = seal_shared(&identities(&members), b"x", &mut rand::rng()).unwrap();
    let mut body = seal.body.clone();
    body[1..33].copy_from_slice(&[0; 32]);
    assert_eq!(
        members[0].open_shared(&seal.parts[0], &body),
        Err(SealError::Key(KeyError::LowOrder))
    );
}

#[test]
fn hand_made_pairs_reach_the_checks_behind_the_tag() {
    let members = accounts(1);
    let (bob, key) = (&members[0], members[0].identity_key());
    let mut rng = rand::rng();
    let (ephemeral, message): ([u8; 32], [u8; 32]) = (rng.random(), rng.random());
    let own = *message_keys(&Secret32::new(message)).ephemeral.secret().bytes();
    // With the ephemeral secret `message` gives, the construction is a genuine seal.
    let (part, body) = by_hand(own, message, message, &key, b"x");
    assert_eq!(bob.open_shared(&part, &body).unwrap(), b"x");
    // The tag verifies (the sealer knows the ephemeral secret) and the body opens under the keys
    // of `message`, but `message` does not derive that ephemeral key.
    let (part, body) = by_hand(ephemeral, message, message, &key, b"x");
    assert_eq!(bob.open_shared(&part, &body), Err(SealError::EphemeralMismatch));
    // Everything checks out up to the body, sealed under another secret's keys.
    let (part, body) = by_hand(own, ephemeral, message, &key, b"x");
    assert_eq!(bob.open_shared(&part, &body), Err(SealError::BodyUnauthenticated));
}

#[test]
fn empty_oversized_and_repeating_lists_are_refused_before_any_draw() {
    let members = accounts(3);
    let keys = identities(&members);
    let many = identities(&accounts(MAX_SHARED_RECIPIENTS + 1));
    let cases: [(&[IdentityKey], SealError); 4] = [
        (&[], SealError::NoRecipients),
        (
            &many,
            SealError::TooManyRecipients {
                count: MAX_SHARED_RECIPIENTS + 1,
            },
        ),
        (
            &[keys[0], keys[1], keys[0]],
            SealError::DuplicateRecipient { index: 2 },
        ),
        (&[keys[2], keys[2]], SealError::DuplicateRecipient { index: 1 }),
    ];
    for (list, expected) in cases {
        let mut rng = StdRng::seed_from_u64(3);
        assert_eq!(seal_shared(list, b"x", &mut rng), Err(expected));
        assert_eq!(
            rng.next_u64(),
            StdRng::seed_from_u64(3).next_u64(),
            "{expected:?} drew"
        );
    }
}

#[test]
fn replayed_rng_repeats_keys_only_for_the_same_plaintext() {
    let members = accounts(2);
    let keys = identities(&members);
    let replayed = || StdRng::seed_from_u64(19);
    let first = seal_shared(&keys, b"pay Carol 10", &mut replayed()).unwrap();
    let second = seal_shared(&keys, b"pay Carol 99", &mut replayed()).unwrap();
    assert_ne!(first.body[1..33], second.body[1..33], "ephemeral key repeated");
    assert_ne!(first.parts, second.parts);
    let again = seal_shared(&keys, b"pay Carol 10", &mut replayed()).unwrap();
    assert_eq!(again, first);
}

#[test]
fn what_a_recipient_sees_does_not_depend_on_the_other_recipients() {
    let members = accounts(3);
    let keys = identities(&members);
    let replayed = || StdRng::seed_from_u64(23);
    let with_bob = seal_shared(&[keys[0], keys[1]], b"m", &mut replayed()).unwrap();
    let with_carol = seal_shared(&[keys[2], keys[0]], b"m", &mut replayed()).unwrap();
    let alone = seal_shared(&[keys[0]], b"m", &mut replayed()).unwrap();
    assert_eq!(with_bob.body, with_carol.body);
    assert_eq!(with_bob.body, alone.body);
    assert_eq!(with_bob.parts[0], with_carol.parts[1]);
    assert_eq!(with_bob.parts[0], alone.parts[0]);
}

#[test]
fn arbitrary_bytes_never_open_and_never_panic() {
    let members = accounts(1);
    let bob = &members[0];
    let seal = seal_shared(&identities(&members), b"genuine", &mut rand::rng()).unwrap();
    let mut rng = StdRng::seed_from_u64(7);
    for round in 0..2000 {
        let part_len = if round % 2 == 0 {
            MAX_SHARED_PART_LEN
        } else {
            rng.random_range(0..80)
        };
        let mut part: Vec<u8> = (0..part_len).map(|_| rng.random()).collect();
        let mut body: Vec<u8> = (0..rng.random_range(0..120)).map(|_| rng.random()).collect();
        if round % 3 == 0 {
            for bytes in [&mut part, &mut body] {
                if let Some(byte) = bytes.first_mut() {
                    *byte = SHARED_SEAL_VERSION;
                }
            }
        }
        if round % 5 == 0 {
            body = seal.body.clone();
        }
        assert!(bob.open_shared(&part, &body).is_err(), "round {round} opened");
    }
}

#[test]
fn the_batched_dh_gives_what_x25519_gives_for_each_recipient() {
    let keys = identities(&accounts(50));
    let points: Vec<_> = keys.iter().map(IdentityKey::edwards).collect();
    for _ in 0..4 {
        let secret: [u8; 32] = rand::rng().random();
        let batch = primitives::x25519_edwards_batch(&secret, &points);
        assert_eq!(batch.len(), keys.len());
        for (key, shared) in keys.iter().zip(batch) {
            let one = primitives::x25519(&secret, key.to_curve25519().unwrap().as_bytes()).unwrap();
            assert_eq!(shared.unwrap(), one);
        }
    }
}

#[test]
fn parts_made_on_several_threads_are_the_bytes_made_on_one() {
    let keys = identities(&accounts(300));
    let plaintext = b"a sender-key message".as_slice();
    for count in [
        1,
        MIN_PARTS_PER_THREAD * 2 - 1,
        MIN_PARTS_PER_THREAD * 2,
        257,
        300,
    ] {
        let one = seal_shared_on(&keys[..count], plaintext, &mut StdRng::seed_from_u64(7), 1).unwrap();
        for threads in [2, 3, MAX_SEAL_THREADS] {
            let several =
                seal_shared_on(&keys[..count], plaintext, &mut StdRng::seed_from_u64(7), threads).unwrap();
            assert_eq!(several, one, "{count} recipients on {threads} threads");
        }
        let public = seal_shared(&keys[..count], plaintext, &mut StdRng::seed_from_u64(7)).unwrap();
        assert_eq!(public, one, "{count} recipients, seal_shared");
    }
}

#[test]
fn chunks_are_joined_in_order_and_each_is_made_once() {
    let items: Vec<usize> = (0..100).collect();
    let calls = std::sync::atomic::AtomicUsize::new(0);
    for threads in 1..=MAX_SEAL_THREADS + 1 {
        calls.store(0, std::sync::atomic::Ordering::Relaxed);
        let out = in_chunks(&items, threads, |chunk| {
            calls.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            Ok::<_, ()>(chunk.iter().map(|item| item * 2).collect())
        })
        .unwrap();
        assert_eq!(out, items.iter().map(|item| item * 2).collect::<Vec<_>>());
        // 100 items make at most 6 chunks of MIN_PARTS_PER_THREAD.
        let expected = threads.min(100 / MIN_PARTS_PER_THREAD);
        assert_eq!(calls.load(std::sync::atomic::Ordering::Relaxed), expected);
    }
    // An error of any chunk is the result.
    let failed = in_chunks(&items, 4, |chunk| {
        if chunk.contains(&80) {
            Err(80)
        } else {
            Ok(chunk.to_vec())
        }
    });
    assert_eq!(failed, Err(80));
}
