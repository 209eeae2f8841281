//! What a group holds among its early or waiting messages besides sender-key messages
//! (proto/PROTOCOL.md "What raced the log is held"): control that raced the log, or that came
//! from a device not attributed yet, tagged by its first byte (a sender-key message starts with
//! its version, 2). Local storage only, never on the wire.

use hush_crypto::group::SenderKeyDistribution;

use super::{GroupControl, GroupUpdate, Predecessor};
use crate::address::Address;

/// First byte of a held sender key among a group's early or waiting messages (a sender-key
/// message starts with its version, 2): `E0 || sending device's identity key 32 ||
/// distribution`, as earlier versions held them. Local storage only.
const HELD_KEY_TAG: u8 = 0xE0;
/// First byte of a held sender key, with the chain it follows on from: `E2 || sending
/// device's identity key 32 || sender-key control message (kind 2 or 4)`. Local storage only.
const HELD_KEY_AFTER_TAG: u8 = 0xE2;
/// First byte of held group updates among a group's early messages: `E1 || sending device's
/// identity key 32 || updates control message`. Local storage only.
const HELD_UPDATES_TAG: u8 = 0xE1;

/// First byte of group control held until the device that sent it is attributed: `E3 ||
/// sending device's identity key 32 || the account it claims 32 || control message`. Local
/// storage only.
const HELD_UNATTRIBUTED_TAG: u8 = 0xE3;

/// Control bytes from `from` claiming `account`, as held until `account`'s list is answered.
pub(crate) fn held_unattributed(from: &Address, account: &Address, control: &[u8]) -> Vec<u8> {
    let mut out = vec![HELD_UNATTRIBUTED_TAG];
    out.extend_from_slice(from.as_bytes());
    out.extend_from_slice(account.as_bytes());
    out.extend_from_slice(control);
    out
}

/// Whether held bytes are unattributed control claiming `account`.
pub(crate) fn claims(bytes: &[u8], account: &Address) -> bool {
    bytes.first() == Some(&HELD_UNATTRIBUTED_TAG) && bytes.get(33..65) == Some(account.as_bytes().as_slice())
}

/// Control bytes from `from`, as held under `tag`.
fn held_control(tag: u8, from: &Address, control: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    out.extend_from_slice(from.as_bytes());
    out.extend_from_slice(control);
    out
}

/// Updates control bytes from `from`, as held.
pub(crate) fn held_updates(from: &Address, control: &[u8]) -> Vec<u8> {
    held_control(HELD_UPDATES_TAG, from, control)
}

/// A sender key from `from`, as held.
pub(crate) fn held_key(
    from: &Address,
    distribution: &SenderKeyDistribution,
    after: Option<Predecessor>,
) -> Vec<u8> {
    let control = GroupControl::SenderKey {
        distribution: Box::new(distribution.clone()),
        after,
    };
    held_control(HELD_KEY_AFTER_TAG, from, &control.encode())
}

/// What a held entry is: updates or a key (with the device they came from), or a message.
pub(crate) enum Held {
    Updates(Address, Vec<GroupUpdate>),
    Key(Address, Box<SenderKeyDistribution>, Option<Predecessor>),
    /// Control from a device not yet attributed, the account it claims, the control's bytes.
    Unattributed(Address, Address, Vec<u8>),
    Message,
}

/// Sorts a held entry; bad bytes (which we wrote) count as a message and fail there.
pub(crate) fn unhold(bytes: &[u8]) -> Held {
    let Some((&tag, rest)) = bytes.split_first() else {
        return Held::Message;
    };
    let Some((device, control)) = rest.split_first_chunk::<32>() else {
        return Held::Message;
    };
    let Ok(device) = Address::from_bytes(*device) else {
        return Held::Message;
    };
    if tag == HELD_UNATTRIBUTED_TAG {
        let Some((claimed, control)) = control.split_first_chunk::<32>() else {
            return Held::Message;
        };
        return match Address::from_bytes(*claimed) {
            Ok(claimed) => Held::Unattributed(device, claimed, control.to_vec()),
            Err(_) => Held::Message,
        };
    }
    match tag {
        HELD_KEY_TAG => match SenderKeyDistribution::from_bytes(control) {
            Ok(distribution) => Held::Key(device, Box::new(distribution), None),
            Err(_) => Held::Message,
        },
        HELD_KEY_AFTER_TAG => match GroupControl::decode(control) {
            Ok(GroupControl::SenderKey { distribution, after }) => Held::Key(device, distribution, after),
            _ => Held::Message,
        },
        HELD_UPDATES_TAG => match GroupControl::decode(control) {
            Ok(GroupControl::Updates(updates)) => Held::Updates(device, updates),
            _ => Held::Message,
        },
        _ => Held::Message,
    }
}
