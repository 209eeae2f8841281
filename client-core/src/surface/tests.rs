//! Effects that arrive before their target, on the core alone: the receive path after
//! ordering, fed by hand, and a memory store applying what it commits.

use rand::SeedableRng;
use rand::rngs::StdRng;

use super::IgnoredReason;
use crate::address::Address;
use crate::content::{Content, MessageId};
use crate::core::Core;
use crate::event::Event;
use crate::memory::MemoryStore;
use crate::records::{Commit, Direction, MessageStatus, StoreOp, StoredMessage};
use crate::store::Store;

const NOW: u64 = 1_750_000_000_000;

fn peer(seed: u64) -> Address {
    let account = hush_crypto::Account::new(NOW / 1000, &mut StdRng::seed_from_u64(seed));
    Address::from_identity(&account.identity_key())
}

fn incoming(id: u8, from: Address, content: Content) -> StoredMessage {
    StoredMessage {
        id: MessageId([id; 16]),
        peer: from,
        direction: Direction::Incoming,
        conv_seq: u64::from(id),
        sent_at: NOW,
        stored_at: NOW,
        content,
        status: MessageStatus::Received,
    }
}

/// A core and a store that has applied everything it committed.
struct Receiver {
    core: Core,
    store: MemoryStore,
}

impl Receiver {
    fn new() -> Self {
        let core = Core::create(NOW, Box::new(StdRng::seed_from_u64(7)));
        Self {
            core,
            store: MemoryStore::new(),
        }
    }

    fn deliver(&mut self, message: StoredMessage) -> Vec<Event> {
        let (mut ops, mut events) = (Vec::new(), Vec::new());
        self.core.deliver_content(message, &mut ops, &mut events);
        self.store.apply(&Commit { ops }).expect("memory store");
        events
    }

    fn content(&self, id: u8) -> Content {
        self.store
            .message(&MessageId([id; 16]))
            .expect("memory store")
            .expect("stored")
            .content
    }
}

#[test]
fn an_edit_before_its_target_is_applied_when_the_target_arrives() {
    let bob = peer(1);
    let target = MessageId([1; 16]);
    let mut receiver = Receiver::new();
    assert!(
        receiver
            .deliver(incoming(2, bob, Content::edit(target, "edited")))
            .is_empty()
    );
    let events = receiver.deliver(incoming(1, bob, Content::text("original")));
    assert_eq!(receiver.content(1), Content::text("edited"));
    assert_eq!(
        receiver.store.edits(&target).expect("memory store"),
        vec!["original"]
    );
    // The app hears of the message as stored, then of the edit.
    assert!(matches!(&events[0], Event::MessageReceived(m) if m.content == Content::text("edited")));
    assert!(matches!(&events[1], Event::MessageEdited { id, .. } if *id == target));
}

#[test]
fn a_delete_before_its_target_means_the_text_is_never_stored() {
    let bob = peer(1);
    let target = MessageId([1; 16]);
    let mut receiver = Receiver::new();
    receiver.deliver(incoming(2, bob, Content::edit(target, "edited secret")));
    receiver.deliver(incoming(3, bob, Content::Delete(target)));
    receiver.deliver(incoming(4, bob, Content::reaction(target, "👍", true)));
    let events = receiver.deliver(incoming(1, bob, Content::text("original secret")));
    assert_eq!(receiver.content(1), Content::tombstone(target));
    assert!(!format!("{:?}", receiver.store).contains("secret"));
    assert!(
        receiver
            .store
            .reactions(&target)
            .expect("memory store")
            .is_empty()
    );
    assert!(matches!(&events[0], Event::MessageReceived(m) if m.content == Content::tombstone(target)));
    assert!(events.contains(&Event::MessageDeleted {
        peer: bob,
        id: target
    }));
    // The reaction that came after the delete was ignored.
    assert!(events.contains(&Event::EffectIgnored {
        peer: bob,
        effect: MessageId([4; 16]),
        target,
        reason: IgnoredReason::TargetDeleted,
    }));
}

#[test]
fn an_early_edit_from_another_peer_is_ignored_when_the_target_arrives() {
    let (bob, carol) = (peer(1), peer(2));
    let target = MessageId([1; 16]);
    let mut receiver = Receiver::new();
    receiver.deliver(incoming(2, carol, Content::edit(target, "carol's words")));
    let events = receiver.deliver(incoming(1, bob, Content::text("bob's words")));
    assert_eq!(receiver.content(1), Content::text("bob's words"));
    assert!(events.contains(&Event::EffectIgnored {
        peer: carol,
        effect: MessageId([2; 16]),
        target,
        reason: IgnoredReason::NotAuthor,
    }));
}

#[test]
fn early_effects_survive_a_restart() {
    let bob = peer(1);
    let target = MessageId([1; 16]);
    let mut receiver = Receiver::new();
    receiver
        .store
        .apply(&Commit {
            ops: vec![StoreOp::PutAccount(receiver.core.account().pickle())],
        })
        .expect("memory store");
    receiver.deliver(incoming(2, bob, Content::Delete(target)));
    let snapshot = receiver.store.load().expect("memory store").expect("saved");
    receiver.core = Core::restore(NOW, snapshot, Box::new(StdRng::seed_from_u64(8))).expect("restores");
    receiver.deliver(incoming(1, bob, Content::text("original")));
    assert_eq!(receiver.content(1), Content::tombstone(target));
}

#[test]
fn early_effects_are_bounded() {
    let bob = peer(1);
    let mut receiver = Receiver::new();
    for n in 0..super::MAX_EARLY_EFFECTS {
        let target = MessageId((n as u128).to_be_bytes());
        let mut effect = incoming(0, bob, Content::Delete(target));
        effect.id = MessageId((n as u128 + (1 << 64)).to_be_bytes());
        assert!(receiver.deliver(effect).is_empty());
    }
    let events = receiver.deliver(incoming(1, bob, Content::Delete(MessageId([0xee; 16]))));
    assert!(matches!(
        events.as_slice(),
        [Event::EffectIgnored {
            reason: IgnoredReason::TooManyEarly,
            ..
        }]
    ));
}
