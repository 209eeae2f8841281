#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use rand::SeedableRng;
use rand::rngs::StdRng;

use super::*;
use crate::Account;

const NOW: u64 = 1_700_000_000;

fn device(rng: &mut StdRng) -> IdentityKey {
    Account::new(NOW, rng).identity_key()
}

fn setup() -> (StdRng, AccountSigningKey, DeviceList) {
    let mut rng = StdRng::seed_from_u64(16);
    let account = AccountSigningKey::generate(&mut rng);
    let list = account.first_device_list(DeviceEntry::new(device(&mut rng), NOW));
    (rng, account, list)
}

/// Re-signs `body` (a list encoding without its signature) under `account`, so a test can reach
/// the checks behind the signature with a body no honest signer makes.
fn signed(account: &AccountSigningKey, body: &[u8]) -> Vec<u8> {
    [body, &account.sign_list_body(body)].concat()
}

fn body(list: &DeviceList) -> Vec<u8> {
    let bytes = list.to_bytes();
    bytes[..bytes.len() - 64].to_vec()
}

#[test]
fn signed_lists_round_trip_and_verify() {
    let (mut rng, account, first) = setup();
    assert_eq!(first.counter(), 1);
    let decoded = DeviceList::from_bytes(&first.to_bytes()).unwrap();
    assert_eq!(decoded, first);
    let mut entry = DeviceEntry::new(device(&mut rng), NOW + 5);
    entry.mailbox = Some([7; 32]);
    let second = account.add_device(&first, entry).unwrap();
    assert_eq!(second.counter(), 2);
    assert_eq!(second.devices().len(), 2);
    assert_eq!(second.device(&entry.identity_key), Some(&entry));
    let verified = DeviceList::verify_update(&second.to_bytes(), &first).unwrap();
    assert_eq!(verified, second);
    assert_eq!(
        DeviceList::verify_for_account(&second.to_bytes(), &account.public()).unwrap(),
        second
    );
    let third = account.remove_device(&second, &entry.identity_key).unwrap();
    assert_eq!(third.counter(), 3);
    assert!(third.device(&entry.identity_key).is_none());
    assert_eq!(
        DeviceList::verify_update(&third.to_bytes(), &second).unwrap(),
        third
    );
}

#[test]
fn a_list_signed_by_another_account_key_is_an_identity_change() {
    let (mut rng, _, first) = setup();
    let other = AccountSigningKey::generate(&mut rng);
    let forged = other.first_device_list(first.devices()[0]);
    let forged = other
        .add_device(&forged, DeviceEntry::new(device(&mut rng), NOW))
        .unwrap();
    assert_eq!(
        DeviceList::verify_update(&forged.to_bytes(), &first).unwrap_err(),
        DeviceListError::AccountKeyChanged
    );
    assert_eq!(
        DeviceList::verify_for_account(&forged.to_bytes(), first.account_key()).unwrap_err(),
        DeviceListError::AccountKeyChanged
    );
    // The other key cannot pass its list off as the pinned account's: the signature is checked
    // under the key the list names.
    let mut claimed = forged.to_bytes();
    claimed[2..34].copy_from_slice(first.account_key().as_bytes());
    assert_eq!(
        DeviceList::verify_update(&claimed, &first).unwrap_err(),
        DeviceListError::BadSignature
    );
}

#[test]
fn a_counter_that_does_not_grow_is_refused() {
    let (mut rng, account, first) = setup();
    let second = account
        .add_device(&first, DeviceEntry::new(device(&mut rng), NOW))
        .unwrap();
    // The same list again, and the older list after the newer.
    for (bytes, pinned) in [(second.to_bytes(), &second), (first.to_bytes(), &second)] {
        assert!(matches!(
            DeviceList::verify_update(&bytes, pinned).unwrap_err(),
            DeviceListError::CounterNotGrowing { pinned: 2, .. }
        ));
    }
    // Another list with the pinned counter (a device re-added under an old counter).
    let same_counter = account.sign_device_list(2, first.devices().to_vec()).unwrap();
    assert_eq!(
        DeviceList::verify_update(&same_counter.to_bytes(), &second).unwrap_err(),
        DeviceListError::CounterNotGrowing { pinned: 2, found: 2 }
    );
    let last = account
        .sign_device_list(u64::MAX, first.devices().to_vec())
        .unwrap();
    assert_eq!(
        account
            .add_device(&last, DeviceEntry::new(device(&mut rng), NOW))
            .unwrap_err(),
        DeviceListError::CounterExhausted
    );
}

#[test]
fn duplicate_devices_unsorted_entries_and_bounds_are_refused() {
    let (mut rng, account, first) = setup();
    let entry = first.devices()[0];
    assert_eq!(
        account.add_device(&first, entry).unwrap_err(),
        DeviceListError::DuplicateDevice
    );
    assert_eq!(
        account.sign_device_list(1, vec![]).unwrap_err(),
        DeviceListError::NoDevices
    );
    let mut full = first.clone();
    for _ in 1..MAX_DEVICES {
        full = account
            .add_device(&full, DeviceEntry::new(device(&mut rng), NOW))
            .unwrap();
    }
    assert_eq!(full.devices().len(), MAX_DEVICES);
    assert_eq!(DeviceList::from_bytes(&full.to_bytes()).unwrap(), full);
    assert_eq!(
        account
            .add_device(&full, DeviceEntry::new(device(&mut rng), NOW))
            .unwrap_err(),
        DeviceListError::TooManyDevices {
            count: 7,
            max: MAX_DEVICES
        }
    );

    // Signed bodies no honest signer makes: each is refused before the signature counts.
    let two = account
        .add_device(&first, DeviceEntry::new(device(&mut rng), NOW))
        .unwrap();
    let mut duplicated = body(&first);
    duplicated[42] = 2;
    duplicated.extend_from_slice(&body(&first)[43..]);
    assert_eq!(
        DeviceList::from_bytes(&signed(&account, &duplicated)).unwrap_err(),
        DeviceListError::DuplicateDevice
    );
    let two_body = body(&two);
    let mut swapped = two_body[..43].to_vec();
    swapped.extend_from_slice(&two_body[43 + 41..]);
    swapped.extend_from_slice(&two_body[43..43 + 41]);
    assert_eq!(
        DeviceList::from_bytes(&signed(&account, &swapped)).unwrap_err(),
        DeviceListError::DevicesOutOfOrder
    );
    for (count, error) in [
        (0u8, DeviceListError::NoDevices),
        (7, DeviceListError::TooManyDevices { count: 7, max: 6 }),
    ] {
        let mut bad = body(&first);
        bad[42] = count;
        assert_eq!(
            DeviceList::from_bytes(&signed(&account, &bad)).unwrap_err(),
            error
        );
    }
    assert_eq!(MAX_DEVICE_LIST_LEN, 545);
}

#[test]
fn decoding_is_strict() {
    let (_, account, first) = setup();
    let bytes = first.to_bytes();
    for len in 0..bytes.len() {
        assert!(
            matches!(
                DeviceList::from_bytes(&bytes[..len]).unwrap_err(),
                DeviceListError::Decode(DecodeError::Truncated { .. })
            ),
            "prefix of {len} bytes"
        );
    }
    let edited = |position: usize, value: u8| {
        let mut edited = bytes.clone();
        edited[position] = value;
        edited
    };
    let cases = [
        (
            [&bytes[..], &[0]].concat(),
            DecodeError::TrailingBytes { count: 1 },
        ),
        (
            edited(0, 1),
            DecodeError::UnsupportedVersion {
                expected: 2,
                found: 1,
            },
        ),
        (
            edited(1, 0x07),
            DecodeError::UnexpectedType {
                expected: 0x06,
                found: 0x07,
            },
        ),
    ];
    for (input, error) in cases {
        assert_eq!(
            DeviceList::from_bytes(&input).unwrap_err(),
            DeviceListError::Decode(error)
        );
    }
    let mut flag = body(&first);
    flag[43 + 40] = 2;
    assert_eq!(
        DeviceList::from_bytes(&signed(&account, &flag)).unwrap_err(),
        DeviceListError::Decode(DecodeError::InvalidFlag {
            field: "device_has_mailbox",
            value: 2
        })
    );
    for position in [2, 40, 43, 80, bytes.len() - 1] {
        let mut tampered = bytes.clone();
        tampered[position] ^= 1;
        let error = DeviceList::from_bytes(&tampered).unwrap_err();
        assert!(
            matches!(
                error,
                DeviceListError::BadSignature | DeviceListError::Decode(DecodeError::InvalidKey { .. })
            ),
            "byte {position}: {error:?}"
        );
    }
}

#[test]
fn membership_signatures_bind_a_device_to_one_account() {
    let mut rng = StdRng::seed_from_u64(163);
    let phone = Account::new(NOW, &mut rng);
    let account = AccountSigningKey::generate(&mut rng).public();
    let other = AccountSigningKey::generate(&mut rng).public();
    let signature = phone.sign_membership(&account);
    assert!(
        account
            .verify_membership(&phone.identity_key(), &signature)
            .is_ok()
    );
    assert!(
        other
            .verify_membership(&phone.identity_key(), &signature)
            .is_err()
    );
    let laptop = Account::new(NOW, &mut rng).identity_key();
    assert!(account.verify_membership(&laptop, &signature).is_err());
    // A login signature over the same 32 bytes is no membership.
    let login = phone.sign(crate::SignaturePurpose::RelayLogin, account.as_bytes());
    assert!(account.verify_membership(&phone.identity_key(), &login).is_err());
}

#[test]
fn removing_refuses_unknown_devices_and_foreign_lists() {
    let (mut rng, account, first) = setup();
    assert_eq!(
        account.remove_device(&first, &device(&mut rng)).unwrap_err(),
        DeviceListError::UnknownDevice
    );
    assert_eq!(
        account
            .remove_device(&first, &first.devices()[0].identity_key)
            .unwrap_err(),
        DeviceListError::NoDevices
    );
    let other = AccountSigningKey::generate(&mut rng);
    assert_eq!(
        other
            .add_device(&first, DeviceEntry::new(device(&mut rng), NOW))
            .unwrap_err(),
        DeviceListError::WrongAccountKey
    );
}
