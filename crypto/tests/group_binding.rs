#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! Sender keys are bound to their sender: forged, forwarded and re-labelled distributions and
//! messages are refused, each leaving the member's chains unchanged.

mod common;

use common::{NOW, establish};
use hush_crypto::group::{
    DISTRIBUTION_ID_LEN, GROUP_ID_LEN, GroupChains, GroupReceiver, GroupSender, MAX_CHAINS_PER_SENDER,
    SenderKeyDistribution, SenderKeyMessage,
};
use hush_crypto::{Account, GroupError, IdentityKey, Session};
use rand::SeedableRng;
use rand::rngs::StdRng;

const GROUP: [u8; GROUP_ID_LEN] = *b"hush bound group";
const OTHER_GROUP: [u8; GROUP_ID_LEN] = *b"hush other group";
const EPOCH: u64 = 7;

/// SPEC.md §10.4 and §10.5: the label's offsets, the same in both encodings.
const SENDER_AT: usize = 2 + GROUP_ID_LEN;
const EPOCH_AT: usize = SENDER_AT + 32;
const DISTRIBUTION_ID_AT: usize = EPOCH_AT + 8;
const CHAIN_KEY_AT: usize = DISTRIBUTION_ID_AT + DISTRIBUTION_ID_LEN + 4;
const SIGNING_KEY_AT: usize = CHAIN_KEY_AT + 32;

/// Bob, and the pairwise sessions Alice and Mallory (both members) have with him, as Bob sees
/// them; each member's group sender at `EPOCH`.
struct World {
    rng: StdRng,
    bob_from_alice: Session,
    bob_from_mallory: Session,
    alice: GroupSender,
    mallory: GroupSender,
}

fn world(seed: u64) -> World {
    let mut rng = StdRng::seed_from_u64(seed);
    let alice_account = Account::new(NOW, &mut rng);
    let mallory_account = Account::new(NOW, &mut rng);
    let mut bob_account = Account::new(NOW, &mut rng);
    let (_, bob_from_alice) = establish(&alice_account, b"alice", &mut bob_account, b"bob", &mut rng);
    let (_, bob_from_mallory) = establish(&mallory_account, b"mallory", &mut bob_account, b"bob", &mut rng);
    let alice = GroupSender::new(GROUP, alice_account.identity_key(), EPOCH, &mut rng);
    let mallory = GroupSender::new(GROUP, mallory_account.identity_key(), EPOCH, &mut rng);
    World {
        rng,
        bob_from_alice,
        bob_from_mallory,
        alice,
        mallory,
    }
}

fn chains_state(chains: &GroupChains) -> Vec<Vec<u8>> {
    chains
        .receivers()
        .map(|r| r.pickle().to_plaintext_bytes())
        .collect()
}

fn with(bytes: &[u8], at: usize, replacement: &[u8]) -> Vec<u8> {
    let mut changed = bytes.to_vec();
    changed[at..at + replacement.len()].copy_from_slice(replacement);
    changed
}

fn distribution_with(
    distribution: &SenderKeyDistribution,
    at: usize,
    replacement: &[u8],
) -> SenderKeyDistribution {
    SenderKeyDistribution::from_bytes(&with(&distribution.to_bytes(), at, replacement)).unwrap()
}

fn message_with(message: &SenderKeyMessage, at: usize, replacement: &[u8]) -> SenderKeyMessage {
    SenderKeyMessage::from_bytes(&with(&message.to_bytes(), at, replacement)).unwrap()
}

fn identity(sender: &GroupSender) -> IdentityKey {
    sender.label().sender
}

/// Bob's chains of the group, holding Alice's (taken over her own session).
fn chains_with_alice(w: &World) -> GroupChains {
    let mut chains = GroupChains::new(GROUP);
    chains
        .add_distribution(&w.alice.distribution(), &identity(&w.alice))
        .unwrap();
    chains
}

#[test]
fn distribution_forwarded_over_another_members_session_is_refused() {
    let mut w = world(1);
    let forwarded = w.alice.distribution();
    let mut chains = GroupChains::new(GROUP);
    // Mallory hands Bob Alice's distribution over her own session.
    let peer = w.bob_from_mallory.remote_identity();
    assert_eq!(
        chains.add_distribution(&forwarded, &peer),
        Err(GroupError::ForwardedDistribution)
    );
    assert_eq!(
        GroupReceiver::from_distribution(&forwarded, &peer).unwrap_err(),
        GroupError::ForwardedDistribution
    );
    assert_eq!(chains.chain_count(), 0);
    // Over Alice's own session it is taken, and her messages are hers.
    chains
        .add_distribution(&forwarded, &w.bob_from_alice.remote_identity())
        .unwrap();
    let message = w.alice.encrypt(b"from alice", &mut w.rng).unwrap();
    let opened = chains.decrypt(&message).unwrap();
    assert_eq!(opened.sender, identity(&w.alice));
    assert_eq!(opened.plaintext, b"from alice");
}

#[test]
fn distribution_relabelled_as_the_forwarders_own_does_not_take_the_senders_messages() {
    let mut w = world(2);
    let mallory_identity = w.bob_from_mallory.remote_identity();
    // Mallory puts her own identity on Alice's distribution (Alice's keys, her chain id), so it
    // passes the session check as hers.
    let relabelled = distribution_with(&w.alice.distribution(), SENDER_AT, mallory_identity.as_bytes());
    let mut chains = GroupChains::new(GROUP);
    chains.add_distribution(&relabelled, &mallory_identity).unwrap();
    let before = chains_state(&chains);
    // Alice's messages name Alice: there is no chain of hers, so none is read as Mallory's.
    let message = w.alice.encrypt(b"from alice", &mut w.rng).unwrap();
    assert_eq!(chains.decrypt(&message), Err(GroupError::UnknownChain));
    // Re-labelled to Mallory they reach her chain, whose keys are Alice's, but the sender is
    // signed: Alice's signature does not cover Mallory's name.
    let claimed = message_with(&message, SENDER_AT, mallory_identity.as_bytes());
    assert_eq!(chains.decrypt(&claimed), Err(GroupError::BadSignature));
    assert_eq!(chains_state(&chains), before);
}

#[test]
fn message_relabelled_to_another_sender_is_refused_on_every_chain() {
    let mut w = world(3);
    let alice_identity = w.bob_from_alice.remote_identity();
    let mallory_identity = w.bob_from_mallory.remote_identity();
    let mut chains = chains_with_alice(&w);
    chains
        .add_distribution(&w.mallory.distribution(), &mallory_identity)
        .unwrap();
    let before = chains_state(&chains);

    // Mallory's message re-labelled as Alice's: on Alice's chain by her id, it fails the
    // signature (and would fail the AEAD: the header is the associated data).
    let mallory_message = w.mallory.encrypt(b"i am alice", &mut w.rng).unwrap();
    let as_alice = message_with(&mallory_message, SENDER_AT, alice_identity.as_bytes());
    let as_alice = message_with(&as_alice, DISTRIBUTION_ID_AT, &w.alice.label().distribution_id);
    assert_eq!(chains.decrypt(&as_alice), Err(GroupError::BadSignature));
    // Without the id changed there is no such chain of Alice's.
    let only_sender = message_with(&mallory_message, SENDER_AT, alice_identity.as_bytes());
    assert_eq!(chains.decrypt(&only_sender), Err(GroupError::UnknownChain));
    // A single receiver refuses another sender's name before any signature work.
    let mut receiver =
        GroupReceiver::from_distribution(&w.mallory.distribution(), &mallory_identity).unwrap();
    assert_eq!(receiver.decrypt(&only_sender), Err(GroupError::WrongSender));
    assert_eq!(chains_state(&chains), before);
    assert_eq!(chains.decrypt(&mallory_message).unwrap().sender, mallory_identity);
}

#[test]
fn message_naming_another_epoch_is_refused() {
    let mut w = world(4);
    let alice_identity = identity(&w.alice);
    let mut chains = chains_with_alice(&w);
    let before = chains_state(&chains);
    let message = w.alice.encrypt(b"epoch 7", &mut w.rng).unwrap();
    for epoch in [EPOCH - 1, EPOCH + 1, u64::MAX] {
        let moved = message_with(&message, EPOCH_AT, &epoch.to_be_bytes());
        assert_eq!(
            chains.decrypt(&moved),
            Err(GroupError::WrongEpoch {
                expected: EPOCH,
                found: epoch
            })
        );
        assert_eq!(chains_state(&chains), before);
    }
    // A chain of Alice's at an earlier epoch is another chain: its messages are of that epoch.
    let mut old = GroupSender::new(GROUP, alice_identity, EPOCH - 1, &mut w.rng);
    chains
        .add_distribution(&old.distribution(), &alice_identity)
        .unwrap();
    let old_message = old.encrypt(b"epoch 6", &mut w.rng).unwrap();
    assert_eq!(chains.decrypt(&old_message).unwrap().epoch, EPOCH - 1);
    assert_eq!(chains.decrypt(&message).unwrap().epoch, EPOCH);
}

#[test]
fn message_or_distribution_of_another_group_is_refused() {
    let mut w = world(5);
    let alice_identity = identity(&w.alice);
    let mut chains = chains_with_alice(&w);
    let before = chains_state(&chains);
    let mut elsewhere = GroupSender::new(OTHER_GROUP, alice_identity, EPOCH, &mut w.rng);
    assert_eq!(
        chains.add_distribution(&elsewhere.distribution(), &alice_identity),
        Err(GroupError::WrongGroup)
    );
    let other_group_message = elsewhere.encrypt(b"elsewhere", &mut w.rng).unwrap();
    assert_eq!(chains.decrypt(&other_group_message), Err(GroupError::WrongGroup));
    // This group's message re-labelled to the other group, given to a receiver of this group.
    let message = w.alice.encrypt(b"here", &mut w.rng).unwrap();
    let moved = message_with(&message, 2, &OTHER_GROUP);
    let mut receiver = GroupReceiver::from_distribution(&w.alice.distribution(), &alice_identity).unwrap();
    assert_eq!(receiver.decrypt(&moved), Err(GroupError::WrongGroup));
    // And to a chain set of the other group that holds a chain with the same keys and id.
    let mut other_chains = GroupChains::new(OTHER_GROUP);
    let copied = distribution_with(&w.alice.distribution(), 2, &OTHER_GROUP);
    other_chains.add_distribution(&copied, &alice_identity).unwrap();
    assert_eq!(other_chains.decrypt(&moved), Err(GroupError::BadSignature));
    assert_eq!(chains_state(&chains), before);
}

#[test]
fn distribution_id_replayed_by_another_sender_is_a_separate_chain() {
    let mut w = world(6);
    let alice_identity = identity(&w.alice);
    let mallory_identity = identity(&w.mallory);
    let mut chains = GroupChains::new(GROUP);
    // Mallory's own chain under Alice's distribution id, arriving first and then after.
    let reused = distribution_with(
        &w.mallory.distribution(),
        DISTRIBUTION_ID_AT,
        &w.alice.label().distribution_id,
    );
    chains.add_distribution(&reused, &mallory_identity).unwrap();
    chains
        .add_distribution(&w.alice.distribution(), &alice_identity)
        .unwrap();
    assert_eq!(chains.chain_count(), 2);
    let alice_message = w.alice.encrypt(b"alice's", &mut w.rng).unwrap();
    let opened = chains.decrypt(&alice_message).unwrap();
    assert_eq!(
        (opened.sender, opened.plaintext),
        (alice_identity, b"alice's".to_vec())
    );
    // Mallory's messages name her own (original) id, so only her re-labelled ones could reach
    // the reused chain, and they are not signed for it.
    let mallory_message = w.mallory.encrypt(b"mallory's", &mut w.rng).unwrap();
    let on_reused = message_with(
        &mallory_message,
        DISTRIBUTION_ID_AT,
        &w.alice.label().distribution_id,
    );
    assert_eq!(chains.decrypt(&on_reused), Err(GroupError::BadSignature));
    let next = w.alice.encrypt(b"still alice's", &mut w.rng).unwrap();
    assert_eq!(chains.decrypt(&next).unwrap().sender, alice_identity);
}

#[test]
fn conflicting_distribution_for_a_held_chain_is_refused_and_a_redelivery_is_harmless() {
    let mut w = world(7);
    let alice_identity = identity(&w.alice);
    let mut chains = GroupChains::new(GROUP);
    let first = w.alice.distribution();
    chains.add_distribution(&first, &alice_identity).unwrap();
    let skipped = w.alice.encrypt(b"skipped", &mut w.rng).unwrap();
    let read = w.alice.encrypt(b"read", &mut w.rng).unwrap();
    chains.decrypt(&read).unwrap();
    let before = chains_state(&chains);
    // The same chain again (at its start, or later on): nothing changes, the skipped key stays.
    chains.add_distribution(&first, &alice_identity).unwrap();
    chains
        .add_distribution(&w.alice.distribution(), &alice_identity)
        .unwrap();
    assert_eq!(chains_state(&chains), before);
    // Other keys under the held sender and id.
    let other_keys = distribution_with(&first, SIGNING_KEY_AT, identity(&w.mallory).as_bytes());
    assert_eq!(
        chains.add_distribution(&other_keys, &alice_identity),
        Err(GroupError::ConflictingDistribution)
    );
    assert_eq!(chains_state(&chains), before);
    assert_eq!(chains.decrypt(&skipped).unwrap().plaintext, b"skipped");
}

#[test]
fn chains_per_sender_are_capped_and_the_oldest_dropped() {
    let mut w = world(8);
    let alice_identity = identity(&w.alice);
    let mallory_identity = identity(&w.mallory);
    let mut chains = GroupChains::new(GROUP);
    chains
        .add_distribution(&w.mallory.distribution(), &mallory_identity)
        .unwrap();
    let mut senders: Vec<GroupSender> = (0..MAX_CHAINS_PER_SENDER as u64 + 2)
        .map(|epoch| GroupSender::new(GROUP, alice_identity, epoch, &mut w.rng))
        .collect();
    for sender in &senders {
        chains
            .add_distribution(&sender.distribution(), &alice_identity)
            .unwrap();
    }
    assert_eq!(chains.chain_count(), MAX_CHAINS_PER_SENDER + 1);
    for (index, sender) in senders.iter_mut().enumerate() {
        let message = sender.encrypt(b"x", &mut w.rng).unwrap();
        let expected_kept = index >= 2;
        assert_eq!(chains.decrypt(&message).is_ok(), expected_kept, "chain {index}");
    }
    // Another sender's chains are not evicted by Alice's rotations.
    let message = w.mallory.encrypt(b"kept", &mut w.rng).unwrap();
    assert_eq!(chains.decrypt(&message).unwrap().plaintext, b"kept");
    chains.remove_sender(&alice_identity);
    assert_eq!(chains.chain_count(), 1);
    chains.drop_epochs_before(EPOCH + 1);
    assert_eq!(chains.chain_count(), 0);
}

#[test]
fn distribution_and_message_from_real_sessions_name_their_sender() {
    let w = world(9);
    // The distribution travels inside Alice's pairwise session; Bob ties it to that session.
    let mut rng = StdRng::seed_from_u64(99);
    let alice_account = Account::new(NOW, &mut rng);
    let mut bob = Account::new(NOW, &mut rng);
    let (mut alice_to_bob, mut bob_from_alice) =
        establish(&alice_account, b"alice", &mut bob, b"bob", &mut rng);
    let mut sender = GroupSender::new(GROUP, alice_account.identity_key(), EPOCH, &mut rng);
    let wire = alice_to_bob
        .encrypt(NOW, &sender.distribution().to_bytes(), &mut rng)
        .unwrap();
    let distribution =
        SenderKeyDistribution::from_bytes(&bob_from_alice.decrypt(&wire, &mut rng).unwrap()).unwrap();
    let mut chains = GroupChains::new(GROUP);
    chains
        .add_distribution(&distribution, &bob_from_alice.remote_identity())
        .unwrap();
    let message =
        SenderKeyMessage::from_bytes(&sender.encrypt(b"hi all", &mut rng).unwrap().to_bytes()).unwrap();
    assert_eq!(message.label().sender, alice_account.identity_key());
    assert_eq!(message.label().group_id, GROUP);
    assert_eq!(message.label().epoch, EPOCH);
    assert_eq!(
        chains.decrypt(&message).unwrap().sender,
        alice_account.identity_key()
    );
    // The same distribution over another session is refused.
    assert_eq!(
        chains.add_distribution(&distribution, &w.bob_from_mallory.remote_identity()),
        Err(GroupError::ForwardedDistribution)
    );
}
