//! Our group messages' receipts: followed once, moved only forward, only for recipients, kept
//! across a reload in the order first followed.

use super::helpers::{account, address, apply, load, ok};
use crate::content::MessageId;
use crate::group_receipts::{GroupReceiptRecord, GroupReceipts, MemberReceipt};
use crate::groups::GroupId;
use crate::records::StoreOp;
use crate::store::Store;

fn counts<S: Store>(store: &S, id: u8) -> Option<(usize, usize, usize)> {
    ok(store.group_receipts(&MessageId([id; 16])), "group_receipts")
        .map(|receipts: GroupReceipts| (receipts.members, receipts.delivered, receipts.read))
}

/// `TrackGroupReceipts` and `SetGroupReceipt`.
pub fn group_receipts_move_forward_only_for_recipients<S: Store>(mut store: S) {
    apply(&mut store, vec![StoreOp::PutAccount(account().pickle())]);
    let (bob, carol, mallory) = (address(), address(), address());
    let group = GroupId([9; 16]);
    let record = |id: u8| GroupReceiptRecord {
        id: MessageId([id; 16]),
        group,
        by_member: vec![(bob, MemberReceipt::Sent), (carol, MemberReceipt::Sent)],
    };
    let set = |id: u8, member, receipt| StoreOp::SetGroupReceipt {
        id: MessageId([id; 16]),
        member,
        receipt,
    };
    assert_eq!(counts(&store, 1), None, "nothing followed yet");
    apply(
        &mut store,
        vec![
            StoreOp::TrackGroupReceipts(record(2)),
            StoreOp::TrackGroupReceipts(record(1)),
            set(1, bob, MemberReceipt::Read),
            // Backward, a non-recipient, an unknown message: all ignored.
            set(1, bob, MemberReceipt::Delivered),
            set(1, mallory, MemberReceipt::Read),
            set(3, bob, MemberReceipt::Read),
            set(1, carol, MemberReceipt::Delivered),
            // Followed again: keeps what it has.
            StoreOp::TrackGroupReceipts(record(1)),
        ],
    );
    assert_eq!(counts(&store, 1), Some((2, 2, 1)));
    assert_eq!(counts(&store, 2), Some((2, 0, 0)));
    assert_eq!(counts(&store, 3), None);
    let receipts = ok(store.group_receipts(&MessageId([1; 16])), "group_receipts").unwrap();
    assert_eq!(receipts.group, group);
    let mut expected = vec![(bob, MemberReceipt::Read), (carol, MemberReceipt::Delivered)];
    expected.sort_by_key(|(member, _)| *member.as_bytes());
    assert_eq!(receipts.by_member, expected);
    // The snapshot: oldest followed first, with what each member got to.
    let snapshot = load(&store);
    let ids: Vec<MessageId> = snapshot.group_receipts.iter().map(|r| r.id).collect();
    assert_eq!(ids, vec![MessageId([2; 16]), MessageId([1; 16])]);
    let mut loaded = snapshot.group_receipts[1].by_member.clone();
    loaded.sort_by_key(|(member, _)| *member.as_bytes());
    assert_eq!(loaded, expected);
}
