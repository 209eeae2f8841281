//! The PQXDH encodings: strict decoding of KEM prekeys, version-2 bundles and pre-key messages.

use hush_crypto::pq::{KEM_PUBLIC_KEY_LEN, KemPreKeyPublic, KemPublicKey, PqPreKeyBundle};
use hush_crypto::{Account, DecodeError, KeyError, PreKeyBundle, PreKeyMessage};

use crate::common::NOW;
use crate::{bob, rng, served, start};

#[test]
fn kem_prekey_encoding_round_trips_and_decodes_strictly() {
    let mut rng = rng(30);
    let mut account = Account::new(NOW, &mut rng);
    let key = account.generate_kem_one_time_prekeys(1, &mut rng).remove(0);
    let bytes = key.to_bytes();
    assert_eq!(bytes.len(), 2 + 1 + 1 + 4 + KEM_PUBLIC_KEY_LEN + 64);
    assert_eq!(&bytes[..4], &[1, 0x09, 0x01, 0x01]);
    assert_eq!(KemPreKeyPublic::from_bytes(&bytes).unwrap(), key);
    assert!(key.verify(&account.identity_key()).is_ok());

    let mut trailing = bytes.clone();
    trailing.push(0);
    assert_eq!(
        KemPreKeyPublic::from_bytes(&trailing),
        Err(DecodeError::TrailingBytes { count: 1 })
    );
    for (at, value, field) in [
        (2, 0x02, "kem_algorithm"),
        (3, 0x00, "kem_prekey_kind"),
        (3, 0x03, "kem_prekey_kind"),
    ] {
        let mut changed = bytes.clone();
        changed[at] = value;
        assert_eq!(
            KemPreKeyPublic::from_bytes(&changed),
            Err(DecodeError::InvalidFlag { field, value })
        );
    }
    // A coefficient of 4095 >= q fails FIPS 203's modulus check.
    let mut out_of_range = bytes.clone();
    out_of_range[8] = 0xff;
    out_of_range[9] = 0xff;
    assert_eq!(
        KemPreKeyPublic::from_bytes(&out_of_range),
        Err(DecodeError::InvalidKey {
            field: "kem_prekey",
            source: KeyError::InvalidKemKey
        })
    );
    assert_eq!(
        KemPublicKey::from_bytes(&[0xff; KEM_PUBLIC_KEY_LEN]),
        Err(KeyError::InvalidKemKey)
    );
    assert!(matches!(
        KemPreKeyPublic::from_bytes(&bytes[..bytes.len() - 1]),
        Err(DecodeError::Truncated {
            field: "kem_prekey_signature",
            ..
        })
    ));
}

#[test]
fn bundle_versions_decode_to_the_right_form() {
    let mut rng = rng(31);
    let bob = bob(&mut rng);
    let pq = served(&bob, true, Some(1));
    let bytes = pq.to_bytes();
    assert_eq!((bytes[0], bytes.len()), (2, 179 + 1638));
    assert_eq!(served(&bob, false, None).to_bytes().len(), 143 + 1638);
    // Version 2 is not a classical bundle; version 1 is both.
    assert!(matches!(
        PreKeyBundle::from_bytes(&bytes),
        Err(DecodeError::UnsupportedVersion { .. })
    ));
    let classical = bob.prekey_bundle(Some(1)).unwrap();
    let as_pq = PqPreKeyBundle::from_bytes(&classical.to_bytes()).unwrap();
    assert_eq!((as_pq.bundle, as_pq.kem_prekey), (classical, None));
    let mut trailing = bytes.clone();
    trailing.push(0);
    assert_eq!(
        PqPreKeyBundle::from_bytes(&trailing),
        Err(DecodeError::TrailingBytes { count: 1 })
    );
    assert!(matches!(
        PqPreKeyBundle::from_bytes(&bytes[..180]),
        Err(DecodeError::Truncated { .. })
    ));
}

#[test]
fn pqxdh_prekey_message_round_trips_and_decodes_strictly() {
    let mut rng = rng(32);
    let alice = Account::new(NOW, &mut rng);
    let bob = bob(&mut rng);
    let (_, first) = start(&alice, &served(&bob, true, Some(1)), &mut rng);
    let bytes = first.to_bytes();
    assert_eq!(PreKeyMessage::from_bytes(&bytes).unwrap(), first);
    let at = 2 + 32 + 32 + 4 + 1 + 4;
    let mut bad_algorithm = bytes.clone();
    bad_algorithm[at] = 7;
    assert_eq!(
        PreKeyMessage::from_bytes(&bad_algorithm),
        Err(DecodeError::InvalidFlag {
            field: "kem_algorithm",
            value: 7
        })
    );
    assert!(matches!(
        PreKeyMessage::from_bytes(&bytes[..at + 100]),
        Err(DecodeError::Truncated {
            field: "kem_ciphertext",
            ..
        })
    ));
}
