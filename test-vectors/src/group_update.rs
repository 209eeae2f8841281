//! `group_update.json`: group updates (proto/PROTOCOL.md, "Group updates"): one of each
//! operation with its fields, signature and hash; bytes that must not decode; and a set of
//! concurrent updates with the state and outcomes the ordering rule gives.
//!
//! No randomness: keys come from fixed seeds and Ed25519 signatures are deterministic.

use std::collections::{BTreeMap, BTreeSet};

use hush_client_core::groups::{
    GroupId, GroupLog, GroupOperation, GroupState, GroupUpdate, GroupUpdateError, Received, Role,
};
use hush_crypto::devices::{AccountKey, AccountSigningKey};
use hush_crypto::{Account, SignaturePurpose};
use serde_json::{Value, json};

use crate::rng::{Recorder, throwaway};
use crate::util::{NOW, hex, variant};

pub const DESCRIPTION: &str = "Group updates (proto/PROTOCOL.md, Group updates). `people` have an \
    account key (Ed25519 public key of `account_seed`) and a device identity key (of \
    `device_seed`), which signs with purpose 6. `updates` decode to their fields, re-encode and \
    re-sign to their bytes, and hash to `hash`. `refused` must not decode, with the named error \
    (those marked `resigned` were signed again after the change). `order`: the group made by \
    updates[0] receives the listed updates in `arrival` order (author accounts as the updates \
    name them); `state` and each update's `outcome` are what the ordering rule gives for that set \
    (any arrival order gives the same).";

const GROUP_ID: GroupId = GroupId(*b"hush vector grp!");

struct Person {
    name: &'static str,
    account_seed: [u8; 32],
    account: AccountKey,
    device_seed: [u8; 32],
    device: Account,
}

fn people() -> Vec<Person> {
    ["alice", "bob", "carol", "dave", "erin"]
        .into_iter()
        .enumerate()
        .map(|(index, name)| {
            let account_seed = [0xa0 + index as u8; 32];
            let device_seed = [0xd0 + index as u8; 32];
            Person {
                name,
                account_seed,
                account: AccountSigningKey::hazmat_from_seed(account_seed).public(),
                device_seed,
                device: Account::hazmat_from_seed(device_seed, NOW, &mut throwaway()),
            }
        })
        .collect()
}

fn sign(author: &Person, version: u64, operation: GroupOperation) -> GroupUpdate {
    GroupUpdate::sign(GROUP_ID, version, author.account, &author.device, operation).expect("within limits")
}

fn role_name(role: Role) -> &'static str {
    match role {
        Role::Admin => "admin",
        Role::Member => "member",
        _ => "unknown",
    }
}

fn members_json(members: &BTreeMap<AccountKey, Role>) -> Value {
    members
        .iter()
        .map(|(account, role)| json!({ "account": hex(account.as_bytes()), "role": role_name(*role) }))
        .collect()
}

/// The decoded fields of an update, as the vector file shows them.
pub fn fields(update: &GroupUpdate) -> Value {
    let operation = match update.operation() {
        GroupOperation::Create {
            name,
            description,
            members,
        } => {
            json!({ "kind": "create", "name": name, "description": description, "members": members_json(members) })
        }
        GroupOperation::Add { members } => json!({ "kind": "add", "members": members_json(members) }),
        GroupOperation::Remove { accounts } => json!({
            "kind": "remove",
            "accounts": accounts.iter().map(|a| hex(a.as_bytes())).collect::<Vec<_>>(),
        }),
        GroupOperation::Leave => json!({ "kind": "leave" }),
        GroupOperation::Rename { name, description } => {
            json!({ "kind": "rename", "name": name, "description": description })
        }
        GroupOperation::SetRole { account, role } => {
            json!({ "kind": "set_role", "account": hex(account.as_bytes()), "role": role_name(*role) })
        }
        _ => json!({ "kind": "unknown" }),
    };
    let bytes = update.to_bytes();
    json!({
        "group_id": hex(&update.group_id().0),
        "version": update.version(),
        "author_account": hex(update.author_account().as_bytes()),
        "author_device": hex(update.author_device().as_bytes()),
        "operation": operation,
        "signature": hex(&bytes[bytes.len() - 64..]),
    })
}

fn state_json(state: &GroupState) -> Value {
    json!({
        "group_id": hex(&state.id().0),
        "name": state.name(),
        "description": state.description(),
        "members": members_json(state.members()),
        "version": state.version(),
    })
}

fn outcome_name(outcome: Option<&Received>) -> String {
    match outcome {
        Some(Received::Applied) => "applied".into(),
        Some(Received::Waiting) => "waiting".into(),
        Some(Received::Refused(error)) => format!("refused:{}", variant(error)),
        _ => "absent".into(),
    }
}

/// The error name a refused input decodes to.
pub fn error_name(error: &GroupUpdateError) -> String {
    variant(error)
}

pub fn generate(_rng: &mut Recorder) -> Value {
    let people = people();
    let [alice, bob, carol, dave, erin] = &people[..] else {
        unreachable!("five people")
    };
    let creation = sign(
        alice,
        1,
        GroupOperation::Create {
            name: "climbing".into(),
            description: Some("tuesdays, 7pm".into()),
            members: BTreeMap::from([
                (alice.account, Role::Admin),
                (bob.account, Role::Admin),
                (carol.account, Role::Member),
            ]),
        },
    );
    // Concurrent updates: at version 2 Alice renames and removes Bob while Bob adds Dave; at 3
    // Bob (removed) promotes Carol and Alice adds Erin; Carol leaves at 7, on a state not reached.
    let updates = [
        ("create", creation.clone()),
        (
            "rename_v2",
            sign(
                alice,
                2,
                GroupOperation::Rename {
                    name: "granite".into(),
                    description: None,
                },
            ),
        ),
        (
            "add_v2_by_bob",
            sign(
                bob,
                2,
                GroupOperation::Add {
                    members: BTreeMap::from([(dave.account, Role::Member)]),
                },
            ),
        ),
        (
            "remove_bob_v2",
            sign(
                alice,
                2,
                GroupOperation::Remove {
                    accounts: BTreeSet::from([bob.account]),
                },
            ),
        ),
        (
            "set_role_v3_by_removed_bob",
            sign(
                bob,
                3,
                GroupOperation::SetRole {
                    account: carol.account,
                    role: Role::Admin,
                },
            ),
        ),
        (
            "add_erin_v3",
            sign(
                alice,
                3,
                GroupOperation::Add {
                    members: BTreeMap::from([(erin.account, Role::Admin)]),
                },
            ),
        ),
        ("leave_v7_waiting", sign(carol, 7, GroupOperation::Leave)),
        ("leave_v5_by_carol", sign(carol, 5, GroupOperation::Leave)),
    ];
    let arrival = [6, 4, 1, 7, 2, 5, 3];
    let mut log = GroupLog::new(creation.clone(), &alice.account).expect("a valid creation");
    for &index in &arrival {
        let update = &updates[index].1;
        log.receive(update.clone(), &update.author_account())
            .expect("a valid update");
    }
    // The same set in other orders orders to the same state.
    for order in [[1, 2, 3, 4, 5, 6, 7], [7, 6, 5, 4, 3, 2, 1]] {
        let mut other = GroupLog::new(creation.clone(), &alice.account).expect("a valid creation");
        for index in order {
            let update = &updates[index].1;
            other
                .receive(update.clone(), &update.author_account())
                .expect("a valid update");
        }
        assert_eq!(other.state(), log.state());
    }

    let update_cases: Vec<Value> = updates
        .iter()
        .map(|(name, update)| {
            json!({
                "name": name,
                "bytes": hex(update.to_bytes()),
                "fields": fields(update),
                "hash": hex(&update.hash()),
            })
        })
        .collect();

    json!({
        "people": people.iter().map(|p| json!({
            "name": p.name,
            "account_seed": hex(&p.account_seed),
            "account": hex(p.account.as_bytes()),
            "device_seed": hex(&p.device_seed),
            "device": hex(p.device.identity_key().as_bytes()),
        })).collect::<Vec<_>>(),
        "updates": update_cases,
        "refused": refused(alice, &updates[1].1, &creation),
        "order": {
            "creation": 0,
            "arrival": arrival,
            "state": state_json(log.state()),
            "outcomes": updates.iter().skip(1).map(|(name, update)| json!({
                "update": name,
                "outcome": outcome_name(log.outcome(&update.hash())),
            })).collect::<Vec<_>>(),
        },
    })
}

/// Bytes that must not decode: each a change of a genuine update (re-signed where marked, so
/// the change itself is what is refused).
fn refused(alice: &Person, rename: &GroupUpdate, creation: &GroupUpdate) -> Vec<Value> {
    let resign = |mut bytes: Vec<u8>| {
        let signed = bytes.len() - 64;
        let signature = alice.device.sign(SignaturePurpose::GroupUpdate, &bytes[..signed]);
        bytes[signed..].copy_from_slice(&signature);
        bytes
    };
    let with = |bytes: &[u8], at: usize, new: &[u8]| {
        let mut out = bytes.to_vec();
        out.splice(at..at + new.len(), new.iter().copied());
        out
    };
    let rename_bytes = rename.to_bytes();
    let creation_bytes = creation.to_bytes();
    // A rename's body starts at 91: u16 name length, name, description flag.
    let name_at = 91;
    let rename_with_name = |name: &[u8]| {
        let mut out = rename_bytes[..name_at].to_vec();
        out.extend_from_slice(&(name.len() as u16).to_be_bytes());
        out.extend_from_slice(name);
        out.push(0);
        out.extend_from_slice(&[0; 64]);
        resign(out)
    };
    // The creation's member list follows its texts; its first entry's account starts 2 bytes in.
    let members_at = creation_bytes.len() - 64 - 3 * 33 - 2;
    let mut swapped = creation_bytes[..members_at + 2].to_vec();
    let entry = |i: usize| &creation_bytes[members_at + 2 + 33 * i..members_at + 2 + 33 * (i + 1)];
    swapped.extend_from_slice(entry(1));
    swapped.extend_from_slice(entry(0));
    swapped.extend_from_slice(entry(2));
    swapped.extend_from_slice(&[0; 64]);
    let mut duplicate = creation_bytes[..members_at + 2].to_vec();
    duplicate.extend_from_slice(entry(0));
    duplicate.extend_from_slice(entry(0));
    duplicate.extend_from_slice(entry(2));
    duplicate.extend_from_slice(&[0; 64]);
    let mut bad_role = creation_bytes.to_vec();
    bad_role[members_at + 2 + 32] = 3;
    let mut flipped_signature = rename_bytes.to_vec();
    *flipped_signature.last_mut().expect("signature") ^= 1;
    let mut trailing = rename_bytes.to_vec();
    trailing.push(0);
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("format_2", with(rename_bytes, 0, &[2])),
        ("kind_0x48", with(rename_bytes, 1, &[0x48])),
        (
            "truncated_in_signature",
            rename_bytes[..rename_bytes.len() - 1].to_vec(),
        ),
        ("trailing_byte", trailing),
        ("bad_signature", flipped_signature),
        (
            "version_0_resigned",
            resign(with(rename_bytes, 18, &0u64.to_be_bytes())),
        ),
        (
            "rename_at_version_1_resigned",
            resign(with(rename_bytes, 18, &1u64.to_be_bytes())),
        ),
        (
            "create_at_version_2_resigned",
            resign(with(creation_bytes, 18, &2u64.to_be_bytes())),
        ),
        ("author_device_low_order", with(rename_bytes, 58, &[0; 32])),
        ("author_account_low_order", with(rename_bytes, 26, &[0; 32])),
        ("operation_7_resigned", resign(with(rename_bytes, 90, &[7]))),
        ("name_empty_resigned", rename_with_name(b"")),
        ("name_of_129_bytes_resigned", rename_with_name(&[b'n'; 129])),
        ("name_not_utf8_resigned", rename_with_name(&[0xff, 0xfe])),
        ("description_flag_2_resigned", {
            let mut out = rename_bytes[..rename_bytes.len() - 64].to_vec();
            *out.last_mut().expect("flag") = 2;
            out.extend_from_slice(&[0; 64]);
            resign(out)
        }),
        ("members_out_of_order_resigned", resign(swapped)),
        ("member_repeated_resigned", resign(duplicate)),
        ("role_3_resigned", resign(bad_role)),
        ("member_count_0_resigned", {
            let mut out = creation_bytes[..members_at].to_vec();
            out.extend_from_slice(&0u16.to_be_bytes());
            out.extend_from_slice(&[0; 64]);
            resign(out)
        }),
        (
            "member_count_1001",
            with(creation_bytes, members_at, &1001u16.to_be_bytes()),
        ),
    ];
    cases
        .into_iter()
        .map(|(name, bytes)| {
            let error = match GroupUpdate::from_bytes(&bytes) {
                Ok(_) => panic!("refused case {name} decodes"),
                Err(error) => error_name(&error),
            };
            json!({ "name": name, "bytes": hex(&bytes), "error": error })
        })
        .collect()
}
