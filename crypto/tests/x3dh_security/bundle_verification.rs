//! Prekey bundle verification: any bit flip in the signed-prekey signature or change to the signed
//! fields, a signed prekey signed by another identity, or an identity other than the pinned one
//! rejects the bundle.

use hush_crypto::{Account, BundleError, PreKeyBundle};

use crate::common::NOW;
use crate::rng;

#[test]
fn every_bit_flip_in_signed_prekey_signature_rejects_bundle() {
    let mut rng = rng(14);
    let mut bob = Account::new(NOW, &mut rng);
    let otk = bob.generate_one_time_prekeys(1, &mut rng)[0];
    let genuine = bob.prekey_bundle(Some(otk.id)).unwrap();
    genuine.verify(None).unwrap();
    genuine.verify(Some(&bob.identity_key())).unwrap();

    for bit in 0..64 * 8 {
        let mut bundle = genuine.clone();
        bundle.signed_prekey.signature[bit / 8] ^= 1 << (bit % 8);
        assert_eq!(
            bundle.verify(None),
            Err(BundleError::BadSignature),
            "flipped signature bit {bit}"
        );
        // The same through the wire encoding (the signature is not checked by decoding).
        let decoded = PreKeyBundle::from_bytes(&bundle.to_bytes()).unwrap();
        assert_eq!(decoded.verify(None), Err(BundleError::BadSignature));
    }
}

#[test]
fn any_change_to_the_signed_fields_rejects_bundle() {
    let mut rng = rng(1414);
    let bob = Account::new(NOW, &mut rng);
    let genuine = bob.prekey_bundle(None).unwrap();
    let other_key = Account::new(NOW, &mut rng).signed_prekey().unwrap().key;

    let mut changed_id = genuine.clone();
    changed_id.signed_prekey.id ^= 1;
    let mut changed_time = genuine.clone();
    changed_time.signed_prekey.created_at += 1;
    let mut changed_key = genuine.clone();
    changed_key.signed_prekey.key = other_key;
    for bundle in [changed_id, changed_time, changed_key] {
        assert_eq!(bundle.verify(None), Err(BundleError::BadSignature));
    }
}

#[test]
fn signed_prekey_signed_by_another_identity_is_rejected() {
    let mut rng = rng(15);
    let bob = Account::new(NOW, &mut rng);
    let mallory = Account::new(NOW, &mut rng);

    // Bob's identity with Mallory's (validly self-signed) signed prekey.
    let mut forged = bob.prekey_bundle(None).unwrap();
    forged.signed_prekey = mallory.signed_prekey().unwrap();
    assert_eq!(forged.verify(None), Err(BundleError::BadSignature));
    assert_eq!(
        forged.verify(Some(&bob.identity_key())),
        Err(BundleError::BadSignature)
    );

    // Mallory's identity with Bob's signed prekey.
    let mut forged = bob.prekey_bundle(None).unwrap();
    forged.identity_key = mallory.identity_key();
    assert_eq!(forged.verify(None), Err(BundleError::BadSignature));

    // Bob's signed prekey with a signature Mallory made over exactly the same bytes.
    #[cfg(feature = "hazmat")]
    {
        let mut forged = bob.prekey_bundle(None).unwrap();
        let spk = &forged.signed_prekey;
        forged.signed_prekey.signature = mallory.hazmat_sign_raw(&hush_crypto::signed_prekey_message(
            spk.id,
            spk.created_at,
            &spk.key,
        ));
        assert_eq!(forged.verify(None), Err(BundleError::BadSignature));
    }
}

#[test]
fn bundle_identity_differing_from_pinned_one_is_rejected() {
    let mut rng = rng(1515);
    let bob = Account::new(NOW, &mut rng);
    let mallory = Account::new(NOW, &mut rng);
    let bob_identity = bob.identity_key();

    // Mallory's own bundle is perfectly valid, but not Bob's.
    let mallory_bundle = mallory.prekey_bundle(None).unwrap();
    mallory_bundle.verify(None).unwrap();
    assert_eq!(
        mallory_bundle.verify(Some(&bob_identity)),
        Err(BundleError::IdentityMismatch)
    );
    assert!(
        bob.prekey_bundle(None)
            .unwrap()
            .verify(Some(&bob_identity))
            .is_ok()
    );
}
