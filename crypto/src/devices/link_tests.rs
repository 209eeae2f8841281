#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use rand::SeedableRng;
use rand::rngs::StdRng;

use super::*;
use crate::devices::DeviceEntry;
use crate::{Account, BundleError, DecodeError};

const NOW: u64 = 1_700_000_000;

struct World {
    rng: StdRng,
    phone: Account,
    laptop: Account,
    account: AccountSigningKey,
    request: LinkRequest,
    code: LinkCode,
    list: DeviceList,
}

fn world() -> World {
    let mut rng = StdRng::seed_from_u64(165);
    let phone = Account::new(NOW, &mut rng);
    let laptop = Account::new(NOW, &mut rng);
    let account = AccountSigningKey::generate(&mut rng);
    let first = account.first_device_list(DeviceEntry::new(phone.identity_key(), NOW));
    let request = LinkRequest::new(laptop.identity_key(), NOW, &mut rng);
    let code = LinkCode::from_text(&request.code().to_text()).unwrap();
    let list = account
        .add_device(&first, DeviceEntry::new(code.identity_key(), NOW + 30))
        .unwrap();
    World {
        rng,
        phone,
        laptop,
        account,
        request,
        code,
        list,
    }
}

impl World {
    fn seal(&mut self, seed: bool) -> Vec<u8> {
        let account = seed.then_some(&self.account);
        self.code
            .seal(
                &self.phone.identity_key(),
                &self.list,
                account,
                b"alice,bob",
                b"history",
                NOW + 30,
                &mut self.rng,
            )
            .unwrap()
    }
}

#[test]
fn a_new_device_joins_with_the_list_contacts_history_and_optionally_the_account_key() {
    for seed in [false, true] {
        let mut w = world();
        let message = w.seal(seed);
        let linked = w.request.open(&message, NOW + 60).unwrap();
        assert_eq!(linked.device_list, w.list);
        assert_eq!(linked.sender_device, w.phone.identity_key());
        assert_eq!(linked.contacts, b"alice,bob");
        assert_eq!(linked.history, b"history");
        assert_eq!(
            linked.account_signing_key.map(|key| key.public()),
            seed.then(|| w.account.public())
        );
    }
}

#[test]
fn a_link_message_opens_once() {
    let mut w = world();
    let message = w.seal(false);
    w.request.open(&message, NOW + 60).unwrap();
    assert_eq!(
        w.request.open(&message, NOW + 61).unwrap_err(),
        LinkError::AlreadyUsed
    );
    let again = w.seal(true);
    assert_eq!(
        w.request.open(&again, NOW + 61).unwrap_err(),
        LinkError::AlreadyUsed
    );
}

#[test]
fn a_message_for_an_older_code_is_refused() {
    let mut w = world();
    let old_message = w.seal(true);
    // The laptop gave up on that code and shows a new one.
    let mut fresh = LinkRequest::new(w.laptop.identity_key(), NOW + 100, &mut w.rng);
    assert_eq!(
        fresh.open(&old_message, NOW + 120).unwrap_err(),
        LinkError::WrongEphemeral
    );
    // Rewriting the old message's ephemeral to the new code's does not make it open.
    let mut rewritten = old_message.clone();
    rewritten[34..66].copy_from_slice(fresh.code().ephemeral().as_bytes());
    assert_eq!(
        fresh.open(&rewritten, NOW + 120).unwrap_err(),
        LinkError::Unauthenticated
    );
    assert!(fresh.open(&w.seal(false), NOW + 120).is_err());
}

#[test]
fn expired_codes_are_refused_on_both_sides() {
    let mut w = world();
    let late = NOW + LINK_CODE_LIFETIME + 1;
    let error = w
        .code
        .seal(&w.phone.identity_key(), &w.list, None, b"", b"", late, &mut w.rng)
        .unwrap_err();
    assert_eq!(
        error,
        LinkError::Expired {
            created_at: NOW,
            now: late
        }
    );
    let early = NOW - MAX_LINK_CLOCK_SKEW - 1;
    let error = w
        .code
        .seal(
            &w.phone.identity_key(),
            &w.list,
            None,
            b"",
            b"",
            early,
            &mut w.rng,
        )
        .unwrap_err();
    assert_eq!(
        error,
        LinkError::FromTheFuture {
            created_at: NOW,
            now: early
        }
    );
    let message = w.seal(false);
    assert_eq!(
        w.request.open(&message, late).unwrap_err(),
        LinkError::Expired {
            created_at: NOW,
            now: late
        }
    );
    // Refused without spending the request.
    assert!(w.request.open(&message, NOW + 60).is_ok());
}

/// A relay between the two devices swaps the new device's identity key or the ephemeral keys.
#[test]
fn a_relay_that_swaps_keys_during_linking_is_detected() {
    let mut w = world();
    let message = w.seal(true);
    let relay = Account::new(NOW, &mut w.rng);
    let relay_ephemeral = crate::keys::Curve25519KeyPair::generate(&mut w.rng).public();

    // The message names the relay's device instead of the laptop.
    let mut swapped_device = message.clone();
    swapped_device[2..34].copy_from_slice(relay.identity_key().as_bytes());
    assert_eq!(
        w.request.open(&swapped_device, NOW + 60).unwrap_err(),
        LinkError::WrongDevice
    );
    // The link ephemeral or the sender's ephemeral replaced by the relay's.
    let mut swapped_link = message.clone();
    swapped_link[34..66].copy_from_slice(relay_ephemeral.as_bytes());
    assert_eq!(
        w.request.open(&swapped_link, NOW + 60).unwrap_err(),
        LinkError::WrongEphemeral
    );
    let mut swapped_sender = message.clone();
    swapped_sender[66..98].copy_from_slice(relay_ephemeral.as_bytes());
    assert_eq!(
        w.request.open(&swapped_sender, NOW + 60).unwrap_err(),
        LinkError::Unauthenticated
    );
    // A relay that knows the code's public keys (but not its secret) seals its own message,
    // naming its own account and device.
    let mut guessed = w.code.to_bytes();
    guessed[66..82].copy_from_slice(&[0; 16]);
    let guessed = LinkCode::from_bytes(&guessed).unwrap();
    let relay_account = AccountSigningKey::generate(&mut w.rng);
    let relay_list = relay_account.first_device_list(DeviceEntry::new(relay.identity_key(), NOW));
    let relay_list = relay_account
        .add_device(&relay_list, DeviceEntry::new(w.laptop.identity_key(), NOW))
        .unwrap();
    let forged = guessed
        .seal(
            &relay.identity_key(),
            &relay_list,
            None,
            b"",
            b"",
            NOW,
            &mut w.rng,
        )
        .unwrap();
    assert_eq!(
        w.request.open(&forged, NOW + 60).unwrap_err(),
        LinkError::Unauthenticated
    );
    // Every flipped byte of the ciphertext.
    for position in [LINK_MESSAGE_HEADER_LEN + 4, message.len() / 2, message.len() - 1] {
        let mut flipped = message.clone();
        flipped[position] ^= 1;
        assert_eq!(
            w.request.open(&flipped, NOW + 60).unwrap_err(),
            LinkError::Unauthenticated
        );
    }
    // None of that spent the request.
    assert!(w.request.open(&message, NOW + 60).is_ok());

    // And on the linking side: a bundle the relay serves for the new device must carry the
    // code's identity key, so a swapped bundle is refused before any session starts.
    let mut relay_bundle = relay.prekey_bundle(None).unwrap();
    assert_eq!(
        relay_bundle
            .clone()
            .verify(Some(&w.code.identity_key()))
            .unwrap_err(),
        BundleError::IdentityMismatch
    );
    relay_bundle = w.laptop.prekey_bundle(None).unwrap();
    assert!(relay_bundle.verify(Some(&w.code.identity_key())).is_ok());
}

#[test]
fn sealing_refuses_lists_that_do_not_name_both_devices() {
    let mut w = world();
    let without_laptop = w
        .account
        .remove_device(&w.list, &w.laptop.identity_key())
        .unwrap();
    let phone = w.phone.identity_key();
    let laptop = w.laptop.identity_key();
    let seal = |w: &mut World, sender: &IdentityKey, list: &DeviceList, key: Option<&AccountSigningKey>| {
        w.code
            .seal(sender, list, key, b"", b"", NOW, &mut w.rng)
            .unwrap_err()
    };
    let list = w.list.clone();
    assert_eq!(
        seal(&mut w, &phone, &without_laptop, None),
        LinkError::NotInDeviceList
    );
    assert_eq!(
        seal(&mut w, &laptop, &list, None),
        LinkError::SenderNotInDeviceList
    );
    let stranger = Account::new(NOW, &mut w.rng).identity_key();
    assert_eq!(
        seal(&mut w, &stranger, &list, None),
        LinkError::SenderNotInDeviceList
    );
    let other = AccountSigningKey::generate(&mut w.rng);
    assert_eq!(
        seal(&mut w, &phone, &list, Some(&other)),
        LinkError::AccountSeedMismatch
    );
    let big = vec![0; MAX_LINK_CONTACTS_LEN + 1];
    let error = w
        .code
        .seal(&phone, &list, None, &big, b"", NOW, &mut w.rng)
        .unwrap_err();
    assert_eq!(
        error,
        LinkError::TooLong {
            field: "contacts",
            length: MAX_LINK_CONTACTS_LEN + 1,
            max: MAX_LINK_CONTACTS_LEN
        }
    );
}

#[test]
fn the_header_decodes_strictly() {
    let mut w = world();
    let message = w.seal(false);
    for len in [0, 1, 2, 33, 97, 101] {
        assert!(matches!(
            w.request.open(&message[..len], NOW).unwrap_err(),
            LinkError::Decode(DecodeError::Truncated { .. })
        ));
    }
    let mut extra = message.clone();
    extra.push(0);
    assert_eq!(
        w.request.open(&extra, NOW).unwrap_err(),
        LinkError::Decode(DecodeError::TrailingBytes { count: 1 })
    );
    let mut v1 = message.clone();
    v1[0] = 1;
    assert!(matches!(
        w.request.open(&v1, NOW).unwrap_err(),
        LinkError::Decode(DecodeError::UnsupportedVersion {
            expected: 2,
            found: 1
        })
    ));
    let mut short = message[..LINK_MESSAGE_HEADER_LEN].to_vec();
    short.extend_from_slice(&15u32.to_be_bytes());
    short.extend_from_slice(&[0; 15]);
    assert!(matches!(
        w.request.open(&short, NOW).unwrap_err(),
        LinkError::Decode(DecodeError::TooShort {
            field: "ciphertext",
            ..
        })
    ));
    let mut low_order = message.clone();
    low_order[66..98].copy_from_slice(&[0; 32]);
    assert!(matches!(
        w.request.open(&low_order, NOW).unwrap_err(),
        LinkError::Decode(DecodeError::InvalidKey {
            field: "sender_ephemeral",
            ..
        })
    ));
    assert!(w.request.open(&message, NOW).is_ok());
}

#[test]
fn the_sealer_draws_32_bytes_and_a_replayed_stream_repeats_nothing_for_another_payload() {
    use rand::TryRng;
    let w = world();
    struct Fixed(u8, usize);
    impl TryRng for Fixed {
        type Error = core::convert::Infallible;
        fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
            unreachable!()
        }
        fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
            unreachable!()
        }
        fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), Self::Error> {
            dest.fill(self.0);
            self.1 += dest.len();
            Ok(())
        }
    }
    impl rand::TryCryptoRng for Fixed {}
    let phone = w.phone.identity_key();
    let mut rng = Fixed(9, 0);
    let a = w
        .code
        .seal(&phone, &w.list, None, b"a", b"", NOW, &mut rng)
        .unwrap();
    assert_eq!(rng.1, 32);
    let b = w
        .code
        .seal(&phone, &w.list, None, b"b", b"", NOW, &mut Fixed(9, 0))
        .unwrap();
    let a_again = w
        .code
        .seal(&phone, &w.list, None, b"a", b"", NOW, &mut Fixed(9, 0))
        .unwrap();
    assert_ne!(
        a[66..98],
        b[66..98],
        "same RNG stream, other payload: other ephemeral"
    );
    assert_eq!(a, a_again);
}

#[test]
fn an_accepted_request_wipes_its_secrets() {
    fn assert_zeroize_on_drop<T: zeroize::ZeroizeOnDrop>() {}
    assert_zeroize_on_drop::<crate::devices::code::LinkSecret>();
    assert_zeroize_on_drop::<crate::keys::Curve25519KeyPair>();
    let mut w = world();
    let message = w.seal(true);
    assert_ne!(w.request.code.secret().bytes(), &[0; 16]);
    w.request.open(&message, NOW + 60).unwrap();
    assert_eq!(w.request.code.secret().bytes(), &[0; 16]);
    assert_eq!(w.request.ephemeral.secret().bytes(), &[0; 32]);
}

#[test]
fn a_link_request_restored_from_its_sealed_pickle_opens_the_answer_once() {
    let mut w = world();
    let pickle_key = crate::PickleKey::new([9; 32]);
    let sealed = w.request.pickle().encrypt(&pickle_key, &mut w.rng);
    let saved = super::super::LinkRequestPickle::from_encrypted(&pickle_key, &sealed).unwrap();
    let mut restored = LinkRequest::from_pickle(&saved).unwrap();
    let message = w.seal(false);
    assert_eq!(restored.open(&message, NOW + 60).unwrap().contacts, b"alice,bob");
    // Spent, and its saved form stays spent.
    let mut spent = LinkRequest::from_pickle(&restored.pickle()).unwrap();
    assert!(matches!(
        spent.open(&message, NOW + 60),
        Err(LinkError::AlreadyUsed)
    ));
}
