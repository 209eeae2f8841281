//! The `decode_group_update` target: the group-update decoder, and a log taking what it decodes;
//! and the `decode_group_control` target: the group control message decoder.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::OnceLock;

use hush_crypto::Account;
use hush_crypto::devices::AccountSigningKey;

use super::rng;
use crate::groups::{GroupControl, GroupId, GroupLog, GroupOperation, GroupUpdate, Role};

/// A group of Alice (admin) and Bob (member), and updates of theirs: one of each operation.
struct GroupsFixture {
    log: GroupLog,
    updates: Vec<GroupUpdate>,
}

// Honest steps on valid inputs: each `expect` states a fact about the library.
#[allow(clippy::expect_used)]
fn fixture() -> &'static GroupsFixture {
    static FIXTURE: OnceLock<GroupsFixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let mut rng = rng(40);
        let (alice, bob, carol) = (
            AccountSigningKey::generate(&mut *rng).public(),
            AccountSigningKey::generate(&mut *rng).public(),
            AccountSigningKey::generate(&mut *rng).public(),
        );
        let (alice_device, bob_device) = (Account::new(0, &mut *rng), Account::new(0, &mut *rng));
        let id = GroupId([0x47; 16]);
        let creation = GroupUpdate::sign(
            id,
            1,
            alice,
            &alice_device,
            GroupOperation::Create {
                name: "fuzz".into(),
                description: Some("group".into()),
                members: BTreeMap::from([(alice, Role::Admin), (bob, Role::Member)]),
            },
        )
        .expect("within the limits");
        let log = GroupLog::new(creation.clone(), &alice).expect("alice creates as an admin");
        let signed = |version, author, device: &Account, operation| {
            GroupUpdate::sign(id, version, author, device, operation).expect("within the limits")
        };
        let updates = vec![
            creation,
            signed(
                2,
                alice,
                &alice_device,
                GroupOperation::Add {
                    members: BTreeMap::from([(carol, Role::Member)]),
                },
            ),
            signed(
                2,
                alice,
                &alice_device,
                GroupOperation::Remove {
                    accounts: BTreeSet::from([bob]),
                },
            ),
            signed(2, bob, &bob_device, GroupOperation::Leave),
            signed(
                3,
                alice,
                &alice_device,
                GroupOperation::Rename {
                    name: "renamed".into(),
                    description: None,
                },
            ),
            signed(
                2,
                alice,
                &alice_device,
                GroupOperation::SetRole {
                    account: bob,
                    role: Role::Admin,
                },
            ),
            signed(9, bob, &bob_device, GroupOperation::Leave),
        ];
        GroupsFixture { log, updates }
    })
}

/// Decodes a group update; if it decodes (signature included) it re-encodes to exactly the
/// input, decodes again to itself, and a log of the fixture's group taking it (under the account
/// it names) returns normally, refuses it changing nothing, or takes it without lowering the
/// version; taken twice, the second time is a duplicate that changes nothing.
pub fn decode_group_update(data: &[u8]) {
    let Ok(update) = GroupUpdate::from_bytes(data) else {
        return;
    };
    assert!(
        update.to_bytes() == data,
        "a group update's encoding is not canonical"
    );
    assert_eq!(
        GroupUpdate::from_bytes(update.to_bytes()).as_ref(),
        Ok(&update),
        "a group update does not survive a round trip"
    );
    let mut log = fixture().log.clone();
    let before = log.state().clone();
    match log.receive(update.clone(), &update.author_account()) {
        Err(_) => assert!(*log.state() == before, "a refused group update changed the state"),
        Ok(_) => {
            assert!(
                log.state().version() >= before.version(),
                "a group update lowered the version"
            );
            let after = log.state().clone();
            let again = log.receive(update.clone(), &update.author_account());
            assert!(
                matches!(again, Ok(crate::groups::Received::Duplicate)) && *log.state() == after,
                "a group update taken twice changed the state"
            );
        }
    }
}

/// Seeds (name, bytes): each fixture update, and each with one byte flipped at a few places.
pub(super) fn seeds() -> Vec<(String, Vec<u8>)> {
    let mut seeds = Vec::new();
    for (index, update) in fixture().updates.iter().enumerate() {
        let bytes = update.to_bytes().to_vec();
        for at in [1usize, 20, 90, 93] {
            if let Some(byte) = bytes.get(at) {
                let mut flipped = bytes.clone();
                if let Some(slot) = flipped.get_mut(at) {
                    *slot = byte ^ 0x01;
                }
                seeds.push((format!("update_{index}_flip_{at}"), flipped));
            }
        }
        seeds.push((format!("update_{index}"), bytes));
    }
    seeds
}

/// Decodes a group control message; if it decodes, it encodes back to exactly the input (one
/// message, one encoding) and names the group its contents name.
pub fn decode_group_control(data: &[u8]) {
    let Ok(control) = GroupControl::decode(data) else {
        return;
    };
    assert!(
        control.encode() == data,
        "a group control message's encoding is not canonical"
    );
    assert!(
        control.group_id().is_some(),
        "a decoded control message names no group"
    );
}

/// Seeds for `decode_group_control`: the fixture's log in one message, each update alone, a
/// sender key (a first one, and one after a previous chain) and a key request of the fixture's
/// group.
// A fresh sender chain of a valid group always makes a distribution.
pub(super) fn control_seeds() -> Vec<(String, Vec<u8>)> {
    let fixture = fixture();
    let id = fixture.log.state().id();
    let mut seeds = vec![(
        "log".to_owned(),
        GroupControl::Updates(fixture.log.updates().cloned().collect()).encode(),
    )];
    for (index, update) in fixture.updates.iter().enumerate() {
        seeds.push((
            format!("update_{index}"),
            GroupControl::Updates(vec![update.clone()]).encode(),
        ));
    }
    let mut rng = rng(41);
    let device = Account::new(0, &mut *rng);
    let sender = hush_crypto::group::GroupSender::new(id.0, device.identity_key(), 3, &mut *rng);
    seeds.push((
        "sender_key".to_owned(),
        GroupControl::SenderKey {
            distribution: Box::new(sender.distribution()),
            after: None,
        }
        .encode(),
    ));
    seeds.push((
        "sender_key_after".to_owned(),
        GroupControl::SenderKey {
            distribution: Box::new(sender.distribution()),
            after: Some(crate::groups::Predecessor {
                distribution_id: [5; 16],
                count: 7,
            }),
        }
        .encode(),
    ));
    seeds.push(("key_request".to_owned(), GroupControl::KeyRequest(id).encode()));
    seeds
}
