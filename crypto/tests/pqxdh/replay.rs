//! PQXDH and the per-signed-prekey replay cache (SPEC.md §17.6).

use hush_crypto::pq::KemPreKeyKind;
use hush_crypto::{Account, InboundError, MAX_BASE_KEYS_PER_SIGNED_PREKEY, SessionMessage};

use crate::common::{NOW, account_state};
use crate::{bob, rng, served, start};

/// Once a signed prekey remembers the most base keys it may, a message with neither a one-time
/// prekey nor a one-time KEM prekey is refused (classical or last-resort KEM alike), while one
/// with a one-time KEM prekey is accepted: erasing that key refuses its replays.
#[test]
fn full_replay_cache_still_accepts_a_one_time_kem_prekey_and_refuses_its_replay() {
    let mut rng = rng(40);
    let alice = Account::new(NOW, &mut rng);
    let mut bob = bob(&mut rng);
    let spk_id = bob.signed_prekey().unwrap().id;
    let classical = bob.prekey_bundle(None).unwrap().verify(None).unwrap();
    for _ in 0..MAX_BASE_KEYS_PER_SIGNED_PREKEY {
        let mut session = alice
            .create_outbound_session(b"alice", b"bob", &classical, NOW, &mut rng)
            .unwrap();
        let SessionMessage::PreKey(first) = session.encrypt(NOW, b"fill", &mut rng).unwrap() else {
            panic!()
        };
        bob.create_inbound_session(b"bob", &first, NOW, &mut rng).unwrap();
    }
    assert_eq!(bob.remembered_base_keys(spk_id), MAX_BASE_KEYS_PER_SIGNED_PREKEY);

    let (_, last_resort) = start(&alice, &served(&bob, false, None), &mut rng);
    let before = account_state(&bob);
    assert_eq!(
        bob.create_inbound_session(b"bob", &last_resort, NOW, &mut rng)
            .unwrap_err(),
        InboundError::ReplayCacheFull { id: spk_id }
    );
    assert_eq!(account_state(&bob), before);

    let (_, one_time) = start(&alice, &served(&bob, false, Some(1)), &mut rng);
    assert_eq!(
        bob.create_inbound_session(b"bob", &one_time, NOW, &mut rng)
            .unwrap()
            .plaintext,
        b"hello"
    );
    let after = account_state(&bob);
    assert_eq!(
        bob.create_inbound_session(b"bob", &one_time, NOW, &mut rng)
            .unwrap_err(),
        InboundError::UnknownKemPreKey {
            kind: KemPreKeyKind::OneTime,
            id: 1
        }
    );
    assert_eq!(account_state(&bob), after);
}
