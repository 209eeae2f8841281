//! [`ConversationSummary`]: one line of a conversation list, read for every conversation in one
//! statement (see [`SqlStore::conversations_summary`](super::SqlStore::conversations_summary)).

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
