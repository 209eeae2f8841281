//! Group receipts over QUIC against a real relay (proto/PROTOCOL.md "Group messages",
//! Receipts): Alice's message to a group of four comes back delivered by the three others, and
//! read by the two that read it, through `Client::group_receipts` and the
//! `GroupReceiptsChanged` events; a member holds no receipts of a message it did not write.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod helpers;

use hush_client::{
    Address, ClientEvent, Content, Event, Events, GroupId, GroupReceipts, MemberReceipt, MessageId,
};

use helpers::*;

/// Waits for a `GroupChanged` of `group`.
async fn group_changed(events: &mut Events, group: GroupId) {
    collect_until(events, |event, _| {
        matches!(event, ClientEvent::Core(Event::GroupChanged { group: changed }) if *changed == group)
    })
    .await;
}

/// Waits until the receipts of `id` reach `delivered` and `read`; returns them.
async fn receipts_reach(events: &mut Events, id: MessageId, delivered: usize, read: usize) -> GroupReceipts {
    let mut last = None;
    collect_until(events, |event, _| {
        if let ClientEvent::Core(Event::GroupReceiptsChanged {
            id: changed,
            receipts,
        }) = event
            && *changed == id
        {
            last = Some(receipts.clone());
            return receipts.delivered == delivered && receipts.read == read;
        }
        false
    })
    .await;
    last.expect("a receipts event")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_receipts_add_up_through_the_api() {
    let relay = spawn_relay().await;
    let dir = tempfile::tempdir().unwrap();
    let names = ["alice", "bob", "carol", "dave"];
    let mut clients = Vec::new();
    for (n, name) in names.iter().enumerate() {
        let (client, events) = online_client(
            &dir.path().join(format!("{name}.db")),
            &test_key(n as u8 + 1),
            &relay.address,
        )
        .await;
        let account = client.account_address().await.unwrap();
        clients.push((client, events, account));
    }
    let accounts: Vec<Address> = clients.iter().map(|(_, _, account)| *account).collect();
    for (client, _, own) in &clients {
        for (other, account) in names.iter().zip(&accounts) {
            if account != own {
                client.add_contact(other, *account).await.unwrap();
            }
        }
    }
    // A first message each way: every contact's device list is pinned on every side.
    for (client, _, own) in &clients {
        for account in accounts.iter().filter(|a| *a != own) {
            client.send(*account, Content::text("hi")).await.unwrap();
        }
    }
    for (_, events, _) in clients.iter_mut() {
        collect_until(events, |_, received| received.len() >= 3).await;
    }
    let group = clients[0].0.create_group("crag", &accounts[1..]).await.unwrap();
    for (_, events, _) in clients[1..].iter_mut() {
        group_changed(events, group).await;
    }

    let id = clients[0]
        .0
        .send_group(group, Content::text("rope check"))
        .await
        .unwrap();
    let sent = clients[0].0.group_receipts(id).await.unwrap().unwrap();
    assert_eq!((sent.members, sent.delivered, sent.read), (3, 0, 0));
    let delivered = receipts_reach(&mut clients[0].1, id, 3, 0).await;
    assert_eq!(clients[0].0.group_receipts(id).await.unwrap(), Some(delivered));

    for (client, events, _) in &mut clients[1..3] {
        collect_until(events, |_, received| received.iter().any(|m| m.id == id)).await;
        assert_eq!(client.mark_group_read(group).await.unwrap(), 1);
        // A member's view of someone else's message: no receipts of its own.
        assert_eq!(client.group_receipts(id).await.unwrap(), None);
    }
    let read = receipts_reach(&mut clients[0].1, id, 3, 2).await;
    assert_eq!(read.members, 3);
    let stored = clients[0].0.group_receipts(id).await.unwrap().unwrap();
    assert_eq!(stored, read);
    let dave = accounts[3];
    for (member, receipt) in &stored.by_member {
        let expected = if *member == dave {
            MemberReceipt::Delivered
        } else {
            MemberReceipt::Read
        };
        assert_eq!(*receipt, expected);
    }
    for (client, _, _) in clients {
        client.shutdown().await.unwrap();
    }
    relay.stop().await;
}
