//! The encoding, its limits and the per-operation rules.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::collections::{BTreeMap, BTreeSet};

use hush_crypto::Account;
use hush_crypto::devices::{AccountKey, AccountSigningKey};
use rand::SeedableRng;
use rand::rngs::StdRng;

use super::*;

pub(super) struct Person {
    pub(super) account: AccountKey,
    pub(super) device: Account,
}

pub(super) fn person(rng: &mut StdRng) -> Person {
    Person {
        account: AccountSigningKey::generate(rng).public(),
        device: Account::new(1_700_000_000, rng),
    }
}

pub(super) fn create(
    creator: &Person,
    others: &[(&Person, Role)],
    rng: &mut StdRng,
) -> (GroupUpdate, GroupLog) {
    let mut members: BTreeMap<AccountKey, Role> = others.iter().map(|(p, r)| (p.account, *r)).collect();
    members.insert(creator.account, Role::Admin);
    let creation = GroupUpdate::sign(
        GroupId::random(rng),
        1,
        creator.account,
        &creator.device,
        GroupOperation::Create {
            name: "climbing".into(),
            description: Some("tuesdays".into()),
            members,
        },
    )
    .unwrap();
    let log = GroupLog::new(creation.clone(), &creator.account).unwrap();
    (creation, log)
}

pub(super) fn sign(log: &GroupLog, version: u64, author: &Person, operation: GroupOperation) -> GroupUpdate {
    GroupUpdate::sign(
        log.state().id(),
        version,
        author.account,
        &author.device,
        operation,
    )
    .unwrap()
}

#[test]
fn every_operation_round_trips_through_its_one_encoding() {
    let mut rng = StdRng::seed_from_u64(1);
    let (alice, bob) = (person(&mut rng), person(&mut rng));
    let (creation, log) = create(&alice, &[(&bob, Role::Member)], &mut rng);
    let operations = [
        GroupOperation::Add {
            members: BTreeMap::from([(person(&mut rng).account, Role::Admin)]),
        },
        GroupOperation::Remove {
            accounts: BTreeSet::from([bob.account]),
        },
        GroupOperation::Leave,
        GroupOperation::Rename {
            name: "bouldering ⛰".into(),
            description: None,
        },
        GroupOperation::SetRole {
            account: bob.account,
            role: Role::Admin,
        },
    ];
    let mut updates = vec![creation];
    updates.extend(operations.into_iter().map(|op| sign(&log, 2, &alice, op)));
    for update in updates {
        let decoded = GroupUpdate::from_bytes(update.to_bytes()).unwrap();
        assert_eq!(decoded, update);
        assert_eq!(decoded.to_bytes(), update.to_bytes());
    }
}

#[test]
fn a_flipped_byte_never_decodes_as_a_signed_update() {
    let mut rng = StdRng::seed_from_u64(2);
    let (alice, bob) = (person(&mut rng), person(&mut rng));
    let (creation, _) = create(&alice, &[(&bob, Role::Member)], &mut rng);
    let bytes = creation.to_bytes();
    for position in 0..bytes.len() {
        let mut flipped = bytes.to_vec();
        flipped[position] ^= 0x01;
        assert!(GroupUpdate::from_bytes(&flipped).is_err(), "byte {position}");
    }
    let mut old = bytes.to_vec();
    old[0] = 2;
    assert_eq!(
        GroupUpdate::from_bytes(&old),
        Err(GroupUpdateError::UnsupportedVersion {
            expected: 1,
            found: 2
        })
    );
    let mut trailing = bytes.to_vec();
    trailing.push(0);
    assert!(matches!(
        GroupUpdate::from_bytes(&trailing),
        Err(GroupUpdateError::BadSignature | GroupUpdateError::TrailingBytes { .. })
    ));
}

#[test]
fn limits_are_refused_when_signing_and_when_decoding() {
    let mut rng = StdRng::seed_from_u64(3);
    let alice = person(&mut rng);
    let (_, log) = create(&alice, &[], &mut rng);
    let rename = |name: String, description: Option<String>| {
        GroupUpdate::sign(
            log.state().id(),
            2,
            alice.account,
            &alice.device,
            GroupOperation::Rename { name, description },
        )
    };
    assert!(
        rename(
            "n".repeat(MAX_GROUP_NAME_LEN),
            Some("d".repeat(MAX_GROUP_DESCRIPTION_LEN))
        )
        .is_ok()
    );
    assert_eq!(
        rename("n".repeat(MAX_GROUP_NAME_LEN + 1), None),
        Err(GroupUpdateError::TooLong {
            field: "name",
            length: MAX_GROUP_NAME_LEN + 1,
            max: MAX_GROUP_NAME_LEN
        })
    );
    assert_eq!(
        rename(String::new(), None),
        Err(GroupUpdateError::Empty { field: "name" })
    );
    assert!(matches!(
        rename("n".into(), Some("d".repeat(MAX_GROUP_DESCRIPTION_LEN + 1))),
        Err(GroupUpdateError::TooLong {
            field: "description",
            ..
        })
    ));
    // Version 1 is the creation's alone.
    assert!(matches!(
        GroupUpdate::sign(
            log.state().id(),
            1,
            alice.account,
            &alice.device,
            GroupOperation::Leave
        ),
        Err(GroupUpdateError::BadVersion { version: 1, .. })
    ));
    // A list of more than MAX_GROUP_MEMBERS is refused; exactly that many is fine.
    let members: BTreeMap<AccountKey, Role> = (0..=MAX_GROUP_MEMBERS)
        .map(|_| (AccountSigningKey::generate(&mut rng).public(), Role::Member))
        .collect();
    let add = |members: BTreeMap<AccountKey, Role>| {
        GroupUpdate::sign(
            log.state().id(),
            2,
            alice.account,
            &alice.device,
            GroupOperation::Add { members },
        )
    };
    assert!(matches!(
        add(members.clone()),
        Err(GroupUpdateError::TooLong { field: "members", .. })
    ));
    let exactly: BTreeMap<_, _> = members.into_iter().take(MAX_GROUP_MEMBERS).collect();
    let update = add(exactly).unwrap();
    assert_eq!(GroupUpdate::from_bytes(update.to_bytes()).unwrap(), update);
}

#[test]
fn each_operation_is_refused_to_whom_may_not_make_it() {
    let mut rng = StdRng::seed_from_u64(4);
    let (alice, bob, carol) = (person(&mut rng), person(&mut rng), person(&mut rng));
    let (_, mut log) = create(&alice, &[(&bob, Role::Member)], &mut rng);
    let cases = [
        (
            &bob,
            GroupOperation::Rename {
                name: "mine".into(),
                description: None,
            },
            GroupRuleError::AuthorNotAdmin,
        ),
        (&carol, GroupOperation::Leave, GroupRuleError::AuthorNotMember),
        (
            &alice,
            GroupOperation::Add {
                members: BTreeMap::from([(bob.account, Role::Member)]),
            },
            GroupRuleError::AlreadyMember,
        ),
        (
            &alice,
            GroupOperation::Remove {
                accounts: BTreeSet::from([carol.account]),
            },
            GroupRuleError::NotMember,
        ),
        (
            &alice,
            GroupOperation::Remove {
                accounts: BTreeSet::from([alice.account]),
            },
            GroupRuleError::RemovesAuthor,
        ),
        (&alice, GroupOperation::Leave, GroupRuleError::NoAdminLeft),
        (
            &alice,
            GroupOperation::SetRole {
                account: alice.account,
                role: Role::Member,
            },
            GroupRuleError::NoAdminLeft,
        ),
        (
            &alice,
            GroupOperation::SetRole {
                account: bob.account,
                role: Role::Member,
            },
            GroupRuleError::RoleUnchanged,
        ),
    ];
    // Each on its own copy: a refused update stays in the log and would be re-based onto the
    // next case's.
    for (author, operation, error) in cases {
        let mut log = log.clone();
        let update = sign(&log, 2, author, operation);
        let before = log.state().clone();
        assert_eq!(
            log.receive(update, &author.account),
            Ok(Received::Refused(error.clone()))
        );
        // Nothing changes but the version the refused update took.
        assert_eq!(log.state().members(), before.members(), "{error}");
        assert_eq!(log.state().name(), before.name(), "{error}");
        assert_eq!(log.state().version(), before.version() + 1, "{error}");
    }
    // A member leaves; an admin adds, promotes, renames.
    let leave = sign(&log, 2, &bob, GroupOperation::Leave);
    assert_eq!(log.receive(leave, &bob.account), Ok(Received::Applied));
    assert_eq!(log.state().role(&bob.account), None);
    log.make_update(
        &alice.device,
        alice.account,
        GroupOperation::Add {
            members: BTreeMap::from([(carol.account, Role::Member)]),
        },
    )
    .unwrap();
    log.make_update(
        &alice.device,
        alice.account,
        GroupOperation::SetRole {
            account: carol.account,
            role: Role::Admin,
        },
    )
    .unwrap();
    assert_eq!(log.state().role(&carol.account), Some(Role::Admin));
    assert_eq!(
        log.make_update(&bob.device, bob.account, GroupOperation::Leave),
        Err(GroupUpdateError::NotAllowed(GroupRuleError::AuthorNotMember))
    );
}

#[test]
fn an_update_naming_another_account_than_its_device_resolves_to_is_refused() {
    let mut rng = StdRng::seed_from_u64(5);
    let (alice, bob) = (person(&mut rng), person(&mut rng));
    let (creation, mut log) = create(&alice, &[(&bob, Role::Member)], &mut rng);
    // Bob's device signs an update claiming Alice's (admin) account.
    let forged = GroupUpdate::sign(
        log.state().id(),
        2,
        alice.account,
        &bob.device,
        GroupOperation::Rename {
            name: "pwned".into(),
            description: None,
        },
    )
    .unwrap();
    let before = log.state().clone();
    assert_eq!(
        log.receive(forged, &bob.account),
        Err(GroupUpdateError::AuthorAccountMismatch)
    );
    assert_eq!(*log.state(), before);
    assert_eq!(
        GroupLog::new(creation, &bob.account).err(),
        Some(GroupUpdateError::AuthorAccountMismatch)
    );
    // Another group's update.
    let (_, other) = create(&alice, &[], &mut rng);
    let elsewhere = sign(&other, 2, &alice, GroupOperation::Leave);
    assert_eq!(
        log.receive(elsewhere, &alice.account),
        Err(GroupUpdateError::WrongGroup)
    );
}

#[test]
fn a_stored_group_keeps_its_predecessors_and_one_stored_before_them_restores() {
    let mut rng = StdRng::seed_from_u64(12);
    let alice = person(&mut rng);
    let bob = person(&mut rng);
    let (_, log) = create(&alice, &[(&bob, Role::Member)], &mut rng);
    let id = log.state().id();
    let sender = hush_crypto::group::GroupSender::new(id.0, alice.device.identity_key(), 1, &mut rng);
    let mut record = GroupRecord::new(log, sender);
    let previous = Predecessor {
        distribution_id: [4; 16],
        count: 9,
    };
    record.previous = Some(previous);
    let chain: ChainId = (*bob.device.identity_key().as_bytes(), [6; 16]);
    record.after.insert(chain, previous);
    record.next.insert(chain, 3);

    let blob = record.to_blob();
    assert_eq!(blob.bytes[0], 3, "the version with predecessors");
    let restored = GroupRecord::from_blob(&blob).unwrap();
    assert_eq!(restored.previous, Some(previous));
    assert_eq!(restored.after.get(&chain), Some(&previous));
    assert_eq!(restored.next.get(&chain), Some(&3));

    // Version 1 is the same fields without the two at the end.
    let mut old = blob.bytes.clone();
    old[0] = 1;
    let tail = postcard::to_allocvec(&(Some(previous), vec![(chain, previous)])).unwrap();
    old.truncate(old.len() - tail.len());
    let restored = GroupRecord::from_blob(&GroupBlob { id, bytes: old }).unwrap();
    assert_eq!(restored.previous, None);
    assert!(restored.after.is_empty());
    assert_eq!(restored.next.get(&chain), Some(&3));
    assert_eq!(restored.state().id(), id);
    let mut unknown = blob.bytes.clone();
    unknown[0] = 2;
    assert!(GroupRecord::from_blob(&GroupBlob { id, bytes: unknown }).is_err());
}
