//! An unknown or older message version is refused first, before anything else is looked at, on
//! every message type.

use hush_crypto::group::{GroupSender, SENDER_KEY_VERSION, SenderKeyDistribution, SenderKeyMessage};
use hush_crypto::pq::PqPreKeyBundle;
use hush_crypto::{
    DecodeError, Message, PQXDH_VERSION, PreKeyBundle, PreKeyMessage, SessionMessage, VERSION,
};

use crate::common::{NOW, accounts, bundle, first_prekey_message, pair};
use crate::{inner_start, rng};

fn assert_version_refused(name: &str, genuine: &[u8], decode: &dyn Fn(&[u8]) -> Result<(), DecodeError>) {
    assert_versions_refused(name, genuine, None, &|_| VERSION, decode);
}

/// Every version but the genuine bytes' and `accepted_too` is refused first with
/// `UnsupportedVersion`, naming the newest version the decoder `expected` for those bytes.
fn assert_versions_refused(
    name: &str,
    genuine: &[u8],
    accepted_too: Option<u8>,
    expected_for: &dyn Fn(&[u8]) -> u8,
    decode: &dyn Fn(&[u8]) -> Result<(), DecodeError>,
) {
    assert!(decode(genuine).is_ok(), "{name}: genuine bytes decode");
    for version in [0u8, 1, 2, 3, 0x7f, 0x80, 255] {
        if Some(version) == accepted_too || genuine.first() == Some(&version) {
            continue;
        }
        let expected = |bytes: &[u8]| {
            Err(DecodeError::UnsupportedVersion {
                expected: expected_for(bytes),
                found: version,
            })
        };
        let mut changed = genuine.to_vec();
        changed[0] = version;
        assert_eq!(decode(&changed), expected(&changed), "{name} version {version}");
        // Refused before anything else is looked at: type, length, keys or trailing bytes.
        let mut garbage = changed.clone();
        garbage[1] = 0xee;
        garbage.push(0);
        for bytes in [
            &[version][..],
            &[version, 0xee],
            &changed[..changed.len() / 2],
            &garbage,
        ] {
            assert_eq!(
                decode(bytes),
                expected(bytes),
                "{name} version {version}, {} bytes",
                bytes.len()
            );
        }
        let mut weak_keys = changed.clone();
        for byte in weak_keys.iter_mut().skip(2).take(64) {
            *byte = 0;
        }
        assert_eq!(decode(&weak_keys), expected(&weak_keys));
    }
}

#[test]
fn unsupported_version_is_refused_first_on_every_message_type() {
    let mut rng = rng(24);
    let (alice, mut bob) = accounts(&mut rng);
    let bundle_bytes = bundle(&mut bob, true, &mut rng).bundle().to_bytes();
    let (_, first) = first_prekey_message(&alice, b"alice", &mut bob, b"bob", true, b"hi", &mut rng);
    let (mut session, _) = pair(&mut rng);
    let normal = session.encrypt(NOW, b"x", &mut rng).unwrap().to_bytes();
    let mut sender = GroupSender::new(
        [9; 16],
        hush_crypto::Account::new(0, &mut rng).identity_key(),
        1,
        &mut rng,
    );
    let distribution = sender.distribution().to_bytes();
    let group_message = sender.encrypt(b"group", &mut rng).unwrap().to_bytes();

    assert_version_refused("Message", &normal, &|b| Message::from_bytes(b).map(drop));
    assert_version_refused("SessionMessage(Normal)", &normal, &|b| {
        SessionMessage::from_bytes(b).map(drop)
    });
    let pq = Some(PQXDH_VERSION);
    assert_versions_refused("PreKeyMessage", &first.to_bytes(), pq, &|_| PQXDH_VERSION, &|b| {
        PreKeyMessage::from_bytes(b).map(drop)
    });
    // Bytes whose type byte is not 0x02 go to the ratchet-message decoder, which speaks only 1.
    let by_type = |b: &[u8]| {
        if b.get(1) == Some(&0x02) {
            PQXDH_VERSION
        } else {
            VERSION
        }
    };
    assert_versions_refused("SessionMessage(PreKey)", &first.to_bytes(), pq, &by_type, &|b| {
        SessionMessage::from_bytes(b).map(drop)
    });
    assert_version_refused("PreKeyBundle", &bundle_bytes, &|b| {
        PreKeyBundle::from_bytes(b).map(drop)
    });
    assert_versions_refused("PqPreKeyBundle", &bundle_bytes, pq, &|_| PQXDH_VERSION, &|b| {
        PqPreKeyBundle::from_bytes(b).map(drop)
    });
    // Sender keys speak only version 2: version 1 named no sender.
    let sender_keys = |_: &[u8]| SENDER_KEY_VERSION;
    assert_versions_refused("SenderKeyDistribution", &distribution, None, &sender_keys, &|b| {
        SenderKeyDistribution::from_bytes(b).map(drop)
    });
    assert_versions_refused("SenderKeyMessage", &group_message, None, &sender_keys, &|b| {
        SenderKeyMessage::from_bytes(b).map(drop)
    });

    // The ratchet message inside a pre-key message is checked too.
    let bytes = first.to_bytes();
    for version in [0u8, 2, 255] {
        let mut changed = bytes.clone();
        changed[inner_start(&first)] = version;
        assert_eq!(
            SessionMessage::from_bytes(&changed),
            Err(DecodeError::UnsupportedVersion {
                expected: VERSION,
                found: version
            })
        );
    }
}
