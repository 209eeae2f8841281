#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! Sender keys (group messages) and safety numbers: the behaviour the app relies on.

mod common;

use common::{NOW, accounts, pair};
use hush_crypto::group::{
    GROUP_ID_LEN, GroupReceiver, GroupSender, MAX_GROUP_SKIPPED_KEYS, SenderKeyDistribution, SenderKeyMessage,
};
use hush_crypto::ratchet::MAX_SKIP;
use hush_crypto::safety::{SAFETY_NUMBER_QR_LEN, SAFETY_NUMBER_QR_VERSION};
use hush_crypto::{Account, GroupError, IdentityKey, SafetyNumber};
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;

const GROUP: [u8; GROUP_ID_LEN] = *b"hush test group!";
const EPOCH: u64 = 3;

fn rng(seed: u64) -> StdRng {
    StdRng::seed_from_u64(seed)
}

/// A sender and a receiver that got the sender's distribution directly.
fn group(rng: &mut StdRng) -> (GroupSender, GroupReceiver) {
    let sender = new_sender(rng);
    let receiver = receiver_of(&sender.distribution());
    (sender, receiver)
}

fn new_sender(rng: &mut StdRng) -> GroupSender {
    let identity = Account::new(NOW, rng).identity_key();
    GroupSender::new(GROUP, identity, EPOCH, rng)
}

/// A receiver of a distribution that came over its sender's own pairwise session.
fn receiver_of(distribution: &SenderKeyDistribution) -> GroupReceiver {
    GroupReceiver::from_distribution(distribution, &distribution.label().sender).unwrap()
}

fn send_many(sender: &mut GroupSender, count: u32, rng: &mut StdRng) -> Vec<SenderKeyMessage> {
    (0..count)
        .map(|i| sender.encrypt(format!("g{i}").as_bytes(), rng).unwrap())
        .collect()
}

fn receiver_state(receiver: &GroupReceiver) -> Vec<u8> {
    receiver.pickle().to_plaintext_bytes()
}

// ---------------------------------------------------------------------------------------------
// Sender keys

#[test]
fn sender_key_distribution_over_pairwise_session_then_group_messages_decrypt() {
    let mut rng = rng(1);
    let (mut alice_to_bob, mut bob_from_alice) = pair(&mut rng);
    let mut sender = new_sender(&mut rng);
    sender.encrypt(b"before bob joined", &mut rng).unwrap();

    // The distribution travels encrypted in the pairwise session.
    let wire = alice_to_bob
        .encrypt(NOW, &sender.distribution().to_bytes(), &mut rng)
        .unwrap();
    let received = bob_from_alice.decrypt(&wire, &mut rng).unwrap();
    let distribution = SenderKeyDistribution::from_bytes(&received).unwrap();
    assert_eq!(distribution, sender.distribution());
    assert_eq!(distribution.label().group_id, GROUP);
    assert_eq!(distribution.label().epoch, EPOCH);
    let mut receiver = receiver_of(&distribution);

    for text in [&b"one"[..], b"two", b""] {
        let message = sender.encrypt(text, &mut rng).unwrap();
        let decoded = SenderKeyMessage::from_bytes(&message.to_bytes()).unwrap();
        assert_eq!(decoded, message);
        assert_eq!(receiver.decrypt(&decoded).unwrap(), text);
    }
}

#[test]
fn sender_key_new_member_cannot_read_messages_sent_before_distribution() {
    let mut rng = rng(2);
    let mut sender = new_sender(&mut rng);
    let early = send_many(&mut sender, 3, &mut rng);
    let mut receiver = receiver_of(&sender.distribution());
    let before = receiver_state(&receiver);
    for message in &early {
        assert_eq!(
            receiver.decrypt(message),
            Err(GroupError::MessageKeyEvicted {
                iteration: message.iteration()
            })
        );
    }
    assert_eq!(receiver_state(&receiver), before);
    let later = sender.encrypt(b"welcome", &mut rng).unwrap();
    assert_eq!(receiver.decrypt(&later).unwrap(), b"welcome");
}

#[test]
fn sender_key_out_of_order_messages_all_decrypt_and_skipped_keys_drain() {
    let mut rng = rng(3);
    let (mut sender, mut receiver) = group(&mut rng);
    let mut messages: Vec<(usize, SenderKeyMessage)> = send_many(&mut sender, 40, &mut rng)
        .into_iter()
        .enumerate()
        .collect();
    messages.shuffle(&mut rng);
    for (i, message) in &messages {
        assert_eq!(receiver.decrypt(message).unwrap(), format!("g{i}").as_bytes());
    }
    assert_eq!(receiver.skipped_key_count(), 0);
}

#[test]
fn sender_key_replay_is_duplicate_and_receiver_unchanged() {
    let mut rng = rng(4);
    let (mut sender, mut receiver) = group(&mut rng);
    let messages = send_many(&mut sender, 5, &mut rng);
    // 4 first (skipping 0..4), then 1: both paths (current chain and skipped key) replayed.
    for i in [4, 1] {
        receiver.decrypt(&messages[i]).unwrap();
    }
    let before = receiver_state(&receiver);
    for i in [4, 1] {
        assert_eq!(
            receiver.decrypt(&messages[i]),
            Err(GroupError::Duplicate { iteration: i as u32 })
        );
        assert_eq!(receiver_state(&receiver), before);
    }
    for i in [0, 2, 3] {
        assert_eq!(
            receiver.decrypt(&messages[i]).unwrap(),
            format!("g{i}").as_bytes()
        );
    }
}

#[test]
fn sender_key_gap_of_max_skip_accepted_and_one_more_is_too_many_skipped() {
    let mut rng = rng(5);
    let (mut sender, mut receiver) = group(&mut rng);
    let messages = send_many(&mut sender, MAX_SKIP + 2, &mut rng);
    let mut too_far = receiver.clone();
    let before = receiver_state(&too_far);
    assert_eq!(
        too_far.decrypt(&messages[MAX_SKIP as usize + 1]),
        Err(GroupError::TooManySkipped {
            requested: u64::from(MAX_SKIP) + 1,
            max: MAX_SKIP
        })
    );
    assert_eq!(receiver_state(&too_far), before);
    // Exactly MAX_SKIP skipped keys is fine.
    assert!(receiver.decrypt(&messages[MAX_SKIP as usize]).is_ok());
    assert_eq!(receiver.skipped_key_count(), MAX_SKIP as usize);
}

#[test]
fn sender_key_tampered_message_is_bad_signature_and_receiver_unchanged() {
    let mut rng = rng(6);
    let (mut sender, mut receiver) = group(&mut rng);
    let message = sender.encrypt(b"genuine", &mut rng).unwrap();
    let bytes = message.to_bytes();
    let before = receiver_state(&receiver);
    // SPEC.md §10.4: group id 2..18, sender 18..50, epoch 50..58, distribution id 58..74.
    let (mut bad_signature, mut mislabelled, mut malformed) = (0, 0, 0);
    for position in 0..bytes.len() {
        for mask in [0x01u8, 0x80] {
            let mut tampered = bytes.clone();
            tampered[position] ^= mask;
            let Ok(decoded) = SenderKeyMessage::from_bytes(&tampered) else {
                malformed += 1;
                continue;
            };
            let error = receiver.decrypt(&decoded).unwrap_err();
            let label_error = match position {
                2..18 => Some(GroupError::WrongGroup),
                18..50 => Some(GroupError::WrongSender),
                50..58 => Some(GroupError::WrongEpoch {
                    expected: EPOCH,
                    found: decoded.label().epoch,
                }),
                58..74 => Some(GroupError::WrongChain),
                _ => None,
            };
            if let Some(expected) = label_error {
                assert_eq!(error, expected, "byte {position}");
                mislabelled += 1;
            } else {
                assert_eq!(error, GroupError::BadSignature, "byte {position}");
                bad_signature += 1;
            }
            assert_eq!(
                receiver_state(&receiver),
                before,
                "byte {position} changed the receiver"
            );
        }
    }
    assert!(bad_signature > 100 && mislabelled > 100 && malformed > 0);
    assert_eq!(receiver.decrypt(&message).unwrap(), b"genuine");
}

#[test]
fn sender_key_message_signed_by_another_key_is_bad_signature() {
    let mut rng = rng(7);
    let (mut sender, receiver) = group(&mut rng);
    let message = sender.encrypt(b"x", &mut rng).unwrap();
    // The same ids and chain key under another signing key (as a member who knows the chain
    // but not the sender's signing key would have): the genuine message does not verify there.
    let mallory_identity: IdentityKey = Account::new(NOW, &mut rng).identity_key();
    let mut forged = sender.distribution().to_bytes();
    let len = forged.len();
    forged[len - 32..].copy_from_slice(mallory_identity.as_bytes());
    let mut forged_receiver = receiver_of(&SenderKeyDistribution::from_bytes(&forged).unwrap());
    assert_eq!(forged_receiver.decrypt(&message), Err(GroupError::BadSignature));
    let mut receiver = receiver;
    assert_eq!(receiver.decrypt(&message).unwrap(), b"x");
}

#[test]
fn sender_key_message_of_another_chain_or_group_is_refused_by_its_label() {
    let mut rng = rng(8);
    let (sender, mut receiver) = group(&mut rng);
    let before = receiver_state(&receiver);
    let identity = sender.label().sender;
    let mut rotated = GroupSender::new(GROUP, identity, EPOCH, &mut rng);
    let mut other_group = GroupSender::new([0xaa; GROUP_ID_LEN], identity, EPOCH, &mut rng);
    let mut other_member = new_sender(&mut rng);
    for (message, error) in [
        (
            rotated.encrypt(b"rotated", &mut rng).unwrap(),
            GroupError::WrongChain,
        ),
        (
            other_group.encrypt(b"elsewhere", &mut rng).unwrap(),
            GroupError::WrongGroup,
        ),
        (
            other_member.encrypt(b"someone else", &mut rng).unwrap(),
            GroupError::WrongSender,
        ),
    ] {
        assert_eq!(receiver.decrypt(&message), Err(error));
    }
    assert_eq!(receiver_state(&receiver), before);
}

#[test]
fn sender_key_skipped_key_store_is_capped_and_oldest_evicted() {
    let mut rng = rng(9);
    let (mut sender, mut receiver) = group(&mut rng);
    let extra = 10u32;
    let total = MAX_GROUP_SKIPPED_KEYS as u32 + extra + 1;
    let messages = send_many(&mut sender, total, &mut rng);
    // First jump: exactly the cap of skipped keys.
    receiver.decrypt(&messages[MAX_GROUP_SKIPPED_KEYS]).unwrap();
    assert_eq!(receiver.skipped_key_count(), MAX_GROUP_SKIPPED_KEYS);
    // Second jump: `extra - 1` more skipped keys push the oldest out.
    receiver.decrypt(&messages[total as usize - 1]).unwrap();
    assert_eq!(receiver.skipped_key_count(), MAX_GROUP_SKIPPED_KEYS);
    let evicted = extra as usize - 1;
    for (i, message) in messages.iter().enumerate().take(evicted) {
        assert_eq!(
            receiver.decrypt(message),
            Err(GroupError::MessageKeyEvicted { iteration: i as u32 })
        );
    }
    assert_eq!(
        receiver.decrypt(&messages[evicted]).unwrap(),
        format!("g{evicted}").as_bytes()
    );
    assert_eq!(receiver.skipped_key_count(), MAX_GROUP_SKIPPED_KEYS - 1);
    // The pickle keeps the same bound.
    let restored = GroupReceiver::from_pickle(&receiver.pickle()).unwrap();
    assert_eq!(restored.skipped_key_count(), receiver.skipped_key_count());
}

// ---------------------------------------------------------------------------------------------
// Safety numbers

fn identities(rng: &mut StdRng) -> (IdentityKey, IdentityKey) {
    let (alice, bob) = accounts(rng);
    (alice.identity_key(), bob.identity_key())
}

#[test]
fn safety_number_is_the_same_60_digits_on_both_sides() {
    let mut rng = rng(10);
    let (alice, bob) = identities(&mut rng);
    let alice_view = SafetyNumber::new(&alice, b"alice", &bob, b"bob");
    let bob_view = SafetyNumber::new(&bob, b"bob", &alice, b"alice");
    assert_eq!(alice_view.digits(), bob_view.digits());
    assert_eq!(alice_view.digits().len(), 60);
    assert!(alice_view.digits().bytes().all(|b| b.is_ascii_digit()));
    let display = alice_view.to_display_string();
    assert_eq!(display.split(' ').count(), 12);
    assert!(display.split(' ').all(|group| group.len() == 5));
    assert_eq!(display.replace(' ', ""), alice_view.digits());
    // Deterministic.
    assert_eq!(SafetyNumber::new(&alice, b"alice", &bob, b"bob"), alice_view);
    // Each side's half (what `hush init` shows) is one of the two 30-digit halves.
    let alice_half = SafetyNumber::half_for(&alice, b"alice");
    let bob_half = SafetyNumber::half_for(&bob, b"bob");
    assert_eq!(alice_half.len(), 30);
    let (first, second) = alice_view.digits().split_at(30);
    assert!(
        (first == alice_half && second == bob_half) || (first == bob_half && second == alice_half),
        "halves {alice_half} / {bob_half} do not make up {}",
        alice_view.digits()
    );
}

#[test]
fn safety_number_changes_when_a_key_or_stable_id_changes() {
    let mut rng = rng(11);
    let (alice, bob) = identities(&mut rng);
    let (mallory, _) = identities(&mut rng);
    let genuine = SafetyNumber::new(&alice, b"alice", &bob, b"bob");
    let variants = [
        SafetyNumber::new(&alice, b"alice", &mallory, b"bob"),
        SafetyNumber::new(&mallory, b"alice", &bob, b"bob"),
        SafetyNumber::new(&alice, b"alice", &bob, b"bobby"),
        SafetyNumber::new(&alice, b"alicia", &bob, b"bob"),
    ];
    for variant in &variants {
        assert_ne!(variant.digits(), genuine.digits());
        assert!(!genuine.matches_digits(variant.digits()));
        assert!(!genuine.matches_scanned(&variant.to_qr_bytes()));
    }
}

#[test]
fn safety_number_qr_cross_check_matches_only_the_peers_code() {
    let mut rng = rng(12);
    let (alice, bob) = identities(&mut rng);
    let (mallory, _) = identities(&mut rng);
    let alice_view = SafetyNumber::new(&alice, b"alice", &bob, b"bob");
    let bob_view = SafetyNumber::new(&bob, b"bob", &alice, b"alice");
    let bob_code = bob_view.to_qr_bytes();
    assert_eq!(bob_code.len(), SAFETY_NUMBER_QR_LEN);
    assert_eq!(bob_code[0], SAFETY_NUMBER_QR_VERSION);
    assert!(alice_view.matches_scanned(&bob_code));
    assert!(bob_view.matches_scanned(&alice_view.to_qr_bytes()));

    // Our own code (halves swapped), a man in the middle's, and malformed codes do not match.
    assert!(!alice_view.matches_scanned(&alice_view.to_qr_bytes()));
    let mitm = SafetyNumber::new(&mallory, b"bob", &alice, b"alice");
    assert!(!alice_view.matches_scanned(&mitm.to_qr_bytes()));
    let mut wrong_version = bob_code;
    wrong_version[0] ^= 1;
    let mut flipped = bob_code;
    flipped[40] ^= 1;
    let mut longer = bob_code.to_vec();
    longer.push(0);
    for bad in [
        &wrong_version[..],
        &flipped,
        &bob_code[..SAFETY_NUMBER_QR_LEN - 1],
        &longer,
        &[],
    ] {
        assert!(!alice_view.matches_scanned(bad));
    }
}

#[test]
fn safety_number_matches_digits_with_spaces_and_rejects_any_other_digits() {
    let mut rng = rng(13);
    let (alice, bob) = identities(&mut rng);
    let number = SafetyNumber::new(&alice, b"alice", &bob, b"bob");
    let digits = number.digits().to_owned();
    assert!(number.matches_digits(&digits));
    assert!(number.matches_digits(&number.to_display_string()));
    assert!(number.matches_digits(&format!("  {}\n", number.to_display_string().replace(' ', "  "))));

    let mut one_off = digits.clone().into_bytes();
    one_off[17] = if one_off[17] == b'9' {
        b'0'
    } else {
        one_off[17] + 1
    };
    let one_off = String::from_utf8(one_off).unwrap();
    for wrong in [&one_off[..], &digits[..59], &format!("{digits}0"), ""] {
        assert!(!number.matches_digits(wrong), "{wrong:?}");
    }
}
