//! Groups over QUIC against a real relay (proto/PROTOCOL.md "Group control messages" and "Group
//! messages"): Alice makes a group of three; each member's messages reach the two others once,
//! in order, named with their author, each as one `SendShared`; after Alice removes Carol, what
//! the others send reaches Alice and Bob only.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod helpers;

use hush_client::{Address, Client, ClientEvent, Content, Event, Events, GroupId, StoredMessage};

use helpers::*;

/// Waits for a `GroupChanged` of `group`.
async fn group_changed(events: &mut Events, group: GroupId) {
    collect_until(events, |event, _| {
        matches!(event, ClientEvent::Core(Event::GroupChanged { group: changed }) if *changed == group)
    })
    .await;
}

/// Takes events until `count` messages of `group` arrived; returns them.
async fn group_messages(events: &mut Events, group: GroupId, count: usize) -> Vec<StoredMessage> {
    let conversation = group.conversation();
    collect_until(events, |_, received| {
        received.iter().filter(|m| m.peer == conversation).count() >= count
    })
    .await
    .into_iter()
    .filter(|m| m.peer == conversation)
    .collect()
}

fn text(message: &StoredMessage) -> String {
    match &message.content {
        Content::Text(text) => text.clone(),
        other => panic!("not text: {other:?}"),
    }
}

async fn send_all(client: &Client, group: GroupId, name: &str, tag: &str, count: usize) {
    for n in 0..count {
        client
            .send_group(group, Content::text(format!("{name} {tag} #{n}")))
            .await
            .unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_of_three_talks_and_a_removed_member_hears_nothing_after() {
    let relay = spawn_relay().await;
    let dir = tempfile::tempdir().unwrap();
    let mut clients = Vec::new();
    for (n, name) in ["alice", "bob", "carol"].iter().enumerate() {
        let (client, events) = online_client(
            &dir.path().join(format!("{name}.db")),
            &test_key(n as u8 + 1),
            &relay.address,
        )
        .await;
        let account = client.account_address().await.unwrap();
        clients.push((*name, client, events, account));
    }
    let accounts: Vec<Address> = clients.iter().map(|(_, _, _, account)| *account).collect();
    let names = ["alice", "bob", "carol"];
    for (_, client, _, own) in &clients {
        for (other, account) in names.iter().zip(&accounts) {
            if account != own {
                client.add_contact(other, *account).await.unwrap();
            }
        }
    }
    // A first message each way: every contact's device list is pinned on every side.
    for (name, client, _, own) in &clients {
        for account in accounts.iter().filter(|a| *a != own) {
            client
                .send(*account, Content::text(format!("hi from {name}")))
                .await
                .unwrap();
        }
    }
    for (_, _, events, _) in clients.iter_mut() {
        collect_until(events, |_, received| received.len() >= 2).await;
    }

    let group = clients[0]
        .1
        .create_group("climbing", &accounts[1..])
        .await
        .unwrap();
    for (_, _, events, _) in clients[1..].iter_mut() {
        group_changed(events, group).await;
    }
    for (name, client, _, _) in &clients {
        send_all(client, group, name, "hello", 5).await;
    }
    for (index, (name, client, events, _)) in clients.iter_mut().enumerate() {
        let got = group_messages(events, group, 10).await;
        for (other, account) in names.iter().zip(&accounts).filter(|(other, _)| *other != name) {
            let from: Vec<String> = got
                .iter()
                .map(text)
                .filter(|t| t.starts_with(&format!("{other} ")))
                .collect();
            let expected: Vec<String> = (0..5).map(|n| format!("{other} hello #{n}")).collect();
            assert_eq!(from, expected, "{name} from {other}");
            for message in got.iter().filter(|m| text(m).starts_with(&format!("{other} "))) {
                assert_eq!(client.group_author(message.id).await.unwrap(), Some(*account));
            }
        }
        let history = client.group_history(group, None, 100).await.unwrap();
        assert_eq!(history.len(), 15, "{name} (client {index}) keeps all 15 messages");
    }

    clients[0].1.group_remove(group, &[accounts[2]]).await.unwrap();
    group_changed(&mut clients[2].2, group).await;
    group_changed(&mut clients[1].2, group).await;
    let groups = clients[2].1.groups().await.unwrap();
    assert!(
        groups[0]
            .members()
            .keys()
            .all(|key| key.as_bytes() != accounts[2].as_bytes()),
        "carol sees she is out"
    );
    send_all(&clients[1].1, group, "bob", "after", 3).await;
    let got = group_messages(&mut clients[0].2, group, 3).await;
    assert_eq!(
        got.iter().map(text).collect::<Vec<_>>(),
        ["bob after #0", "bob after #1", "bob after #2"]
    );
    let carol = clients[2].1.group_history(group, None, 100).await.unwrap();
    assert!(
        carol.iter().all(|entry| !text(&entry.message).contains("after")),
        "carol got nothing after"
    );
    assert_eq!(carol.len(), 15);
    for (_, client, _, _) in clients {
        client.shutdown().await.unwrap();
    }
    relay.stop().await;
}
