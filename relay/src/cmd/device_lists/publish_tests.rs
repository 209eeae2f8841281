#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use hush_crypto::Account;
use hush_crypto::devices::{AccountSigningKey, DeviceEntry, DeviceListError};
use hush_proto::{DeviceListBytes, Signature};

use super::{PublishError, verify};

const NOW: u64 = 1_700_000_000;

fn bytes(list: &hush_crypto::devices::DeviceList) -> DeviceListBytes {
    DeviceListBytes::new(list.to_bytes()).unwrap()
}

/// `verify` of raw list bytes.
fn verify_raw(publisher: &Account, list: Vec<u8>, membership: Signature) -> Result<(), PublishError> {
    verify(
        &publisher.identity_key(),
        DeviceListBytes::new(list).unwrap(),
        membership,
    )
    .map(drop)
}

#[test]
fn a_listed_device_with_its_membership_is_accepted_with_what_the_store_needs() {
    let mut rng = rand::rng();
    let (phone, laptop) = (Account::new(NOW, &mut rng), Account::new(NOW, &mut rng));
    let account = AccountSigningKey::generate(&mut rng);
    let first = account.first_device_list(DeviceEntry::new(phone.identity_key(), NOW));
    let list = account
        .add_device(&first, DeviceEntry::new(laptop.identity_key(), NOW))
        .unwrap();
    let membership = Signature(laptop.sign_membership(&account.public()));
    let update = verify(&laptop.identity_key(), bytes(&list), membership).unwrap();
    assert_eq!(&update.account.0, account.public().as_bytes());
    assert_eq!(update.counter, 2);
    assert_eq!(update.list.as_bytes(), list.to_bytes());
    let mut devices = vec![
        *phone.identity_key().as_bytes(),
        *laptop.identity_key().as_bytes(),
    ];
    devices.sort_unstable();
    assert_eq!(update.devices, devices);
    assert_eq!(update.membership.identity_key, *laptop.identity_key().as_bytes());
    assert_eq!(update.membership.signature, membership);
}

#[test]
fn a_list_not_naming_the_publisher_is_refused() {
    let mut rng = rand::rng();
    let (phone, stranger) = (Account::new(NOW, &mut rng), Account::new(NOW, &mut rng));
    let account = AccountSigningKey::generate(&mut rng);
    let list = account.first_device_list(DeviceEntry::new(phone.identity_key(), NOW));
    let membership = Signature(stranger.sign_membership(&account.public()));
    assert!(matches!(
        verify(&stranger.identity_key(), bytes(&list), membership),
        Err(PublishError::PublisherNotListed)
    ));
}

#[test]
fn a_membership_for_another_account_or_by_another_device_is_refused() {
    let mut rng = rand::rng();
    let (phone, laptop) = (Account::new(NOW, &mut rng), Account::new(NOW, &mut rng));
    let account = AccountSigningKey::generate(&mut rng);
    let other = AccountSigningKey::generate(&mut rng);
    let list = account.first_device_list(DeviceEntry::new(phone.identity_key(), NOW));
    for membership in [
        phone.sign_membership(&other.public()),
        laptop.sign_membership(&account.public()),
        [0; 64],
    ] {
        assert!(matches!(
            verify(&phone.identity_key(), bytes(&list), Signature(membership)),
            Err(PublishError::BadMembership)
        ));
    }
}

#[test]
fn a_list_that_does_not_verify_or_decode_is_refused() {
    let mut rng = rand::rng();
    let phone = Account::new(NOW, &mut rng);
    let account = AccountSigningKey::generate(&mut rng);
    let list = account.first_device_list(DeviceEntry::new(phone.identity_key(), NOW));
    let membership = Signature(phone.sign_membership(&account.public()));

    let mut tampered = list.to_bytes();
    // The counter's last byte: a list whose counter was raised without the account key.
    tampered[2 + 32 + 7] ^= 1;
    assert!(matches!(
        verify_raw(&phone, tampered, membership),
        Err(PublishError::List(DeviceListError::BadSignature))
    ));
    let mut trailing = list.to_bytes();
    trailing.push(0);
    assert!(matches!(
        verify_raw(&phone, trailing, membership),
        Err(PublishError::List(DeviceListError::Decode(_)))
    ));
    assert!(matches!(
        verify_raw(&phone, Vec::new(), membership),
        Err(PublishError::List(DeviceListError::Decode(_)))
    ));
}

/// The account id a list is stored under is the key that signed it: a list that claims account
/// A's key but is signed by B's does not verify, so no one without A's key can write A's entry.
#[test]
fn a_list_naming_one_account_key_signed_by_another_is_refused() {
    let mut rng = rand::rng();
    let phone = Account::new(NOW, &mut rng);
    let (alice, mallory) = (
        AccountSigningKey::generate(&mut rng),
        AccountSigningKey::generate(&mut rng),
    );
    let by_mallory = mallory.first_device_list(DeviceEntry::new(phone.identity_key(), NOW));
    let mut forged = by_mallory.to_bytes();
    forged[2..34].copy_from_slice(alice.public().as_bytes());
    let membership = Signature(phone.sign_membership(&alice.public()));
    assert!(matches!(
        verify_raw(&phone, forged, membership),
        Err(PublishError::List(DeviceListError::BadSignature))
    ));
}
