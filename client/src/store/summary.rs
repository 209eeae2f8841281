//! [`ConversationSummary`]: one line of a conversation list, read for every conversation at once
//! (see [`SqlStore::conversations_summary`](super::SqlStore::conversations_summary)).

use hush_client_core::{Address, HistoryEntry};

/// A conversation as a list shows it: who, the latest message, and how many are unread.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConversationSummary {
    /// The other side.
    pub peer: Address,
    /// The peer's name in the address book (the first by name if it has several), `None` if
    /// the peer is not a contact.
    pub name: Option<String>,
    /// The latest message, either way.
    pub last: HistoryEntry,
    /// Incoming messages not yet marked read ([`Client::mark_read`](crate::Client::mark_read)).
    pub unread: usize,
}

#[cfg(test)]
mod tests {
    use hush_client_core::{
        Commit, Content, Direction, MessageId, MessageStatus, Store, StoreOp, StoredMessage,
    };

    use super::super::{DatabaseKey, SqlStore, StoreError};
    use super::*;

    fn peer() -> Address {
        Address::from_identity(&hush_crypto::Account::new(1_700_000_000, &mut rand::rng()).identity_key())
    }

    fn message(id: u8, peer: Address, direction: Direction, status: MessageStatus) -> StoreOp {
        StoreOp::InsertMessage(StoredMessage {
            id: MessageId([id; 16]),
            peer,
            direction,
            conv_seq: u64::from(id),
            sent_at: u64::from(id),
            stored_at: u64::from(id),
            content: Content::text(format!("m{id}")),
            status,
        })
    }

    /// Unread counts only incoming messages not yet seen; the order is by latest message; and
    /// a contact row the store cannot decode is an error, not a fallback to the address.
    #[test]
    fn summaries_count_unseen_incoming_only_and_a_damaged_contact_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let mut store =
            SqlStore::open(dir.path().join("profile.db"), &DatabaseKey::from_bytes([7; 32])).unwrap();
        let (bob, carol) = (peer(), peer());
        let ops = vec![
            message(1, bob, Direction::Incoming, MessageStatus::Seen),
            message(2, bob, Direction::Incoming, MessageStatus::Received),
            message(3, carol, Direction::Incoming, MessageStatus::Received),
            message(4, bob, Direction::Outgoing, MessageStatus::Sent),
            message(5, bob, Direction::Incoming, MessageStatus::Received),
            message(6, carol, Direction::Outgoing, MessageStatus::Read),
        ];
        store.apply(&Commit { ops }).unwrap();
        let contact = hush_client_core::Contact {
            name: "bob".to_owned(),
            address: bob,
            verified: false,
            added_at: 0,
        };
        store
            .apply(&Commit {
                ops: vec![StoreOp::PutContact(contact)],
            })
            .unwrap();
        let rows: Vec<_> = store
            .conversations_summary()
            .unwrap()
            .into_iter()
            .map(|summary| {
                (
                    summary.peer,
                    summary.name,
                    summary.last.message.id,
                    summary.unread,
                )
            })
            .collect();
        assert_eq!(
            rows,
            [
                (carol, None, MessageId([6; 16]), 1),
                (bob, Some("bob".to_owned()), MessageId([5; 16]), 2),
            ]
        );

        // A name that is not text, or a contact whose address no longer decodes: an error, not
        // bob shown unnamed under his address.
        for (damage, expected) in [
            ("UPDATE contacts SET name = x'ff00'", "contact name"),
            ("UPDATE contacts SET name = 'bob', address = x'00'", "address"),
        ] {
            store.conn.execute(damage, []).unwrap();
            let result = store.conversations_summary();
            assert!(
                matches!(&result, Err(StoreError::Decode { what, .. }) if *what == expected),
                "{damage}: {result:?}"
            );
        }
    }
}
