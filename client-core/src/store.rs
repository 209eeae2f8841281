//! The storage contract: a synchronous trait every client store implements (the SQLCipher store
//! in `hush-client`, [`crate::MemoryStore`] here), and one test suite for all of them
//! ([`crate::store_suite`]).

use crate::address::Address;
use crate::content::MessageId;
use crate::group_receipts::GroupReceipts;
use crate::records::{Commit, Contact, HistoryEntry, Snapshot, StoredMessage};
use crate::surface::StoredReaction;

/// Durable client state.
pub trait Store {
    /// The backend's error.
    type Error: std::error::Error + Send + Sync + 'static;

    /// What the core starts from; `None` if no account has been written yet.
    fn load(&self) -> Result<Option<Snapshot>, Self::Error>;

    /// Applies every op of `commit` in one transaction, durably, or none of them.
    fn apply(&mut self, commit: &Commit) -> Result<(), Self::Error>;

    /// Up to `limit` messages with `peer` stored before position `before` (or the latest, if
    /// `None`), oldest first. Reactions, edits and deletes are not listed (they act on the
    /// messages they name); tombstones are.
    fn history(
        &self,
        peer: &Address,
        before: Option<u64>,
        limit: usize,
    ) -> Result<Vec<HistoryEntry>, Self::Error>;

    /// Earlier texts of message `id` (each edit appends the text it replaced), oldest first.
    fn edits(&self, id: &MessageId) -> Result<Vec<String>, Self::Error>;

    /// The reactions on message `id`, by who reacted, then emoji.
    fn reactions(&self, id: &MessageId) -> Result<Vec<StoredReaction>, Self::Error>;

    /// Up to `limit` messages in the thread under `root` stored before position `before` (or
    /// the latest), oldest first.
    fn thread(
        &self,
        root: &MessageId,
        before: Option<u64>,
        limit: usize,
    ) -> Result<Vec<HistoryEntry>, Self::Error>;

    /// The author of the group message `id` (an account address); `None` for a message that is
    /// not an incoming group message.
    fn author(&self, id: &MessageId) -> Result<Option<Address>, Self::Error>;

    /// The receipts of our group message `id` (the recipient accounts when it was sent, and how
    /// far each got); `None` for a message that is not one of ours with recipients.
    fn group_receipts(&self, id: &MessageId) -> Result<Option<GroupReceipts>, Self::Error>;

    /// One message by id.
    fn message(&self, id: &MessageId) -> Result<Option<StoredMessage>, Self::Error>;

    /// Ids of incoming messages from `peer` not yet marked read, oldest first.
    fn unread(&self, peer: &Address) -> Result<Vec<MessageId>, Self::Error>;

    /// Every contact, by name.
    fn contacts(&self) -> Result<Vec<Contact>, Self::Error>;

    /// Peers we have exchanged messages with, most recent activity first.
    fn peers(&self) -> Result<Vec<Address>, Self::Error>;
}
