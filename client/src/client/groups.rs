//! Groups (proto/PROTOCOL.md, "Group control messages" and "Group messages"): made from
//! contacts' account addresses, each message encrypted once and uploaded once for every member
//! device. The group's messages are kept in the history under [`GroupId::conversation`];
//! incoming ones name their author ([`Client::group_author`], and the
//! [`Event::GroupMessageFrom`](hush_client_core::Event::GroupMessageFrom) event before each).
//!
//! ```no_run
//! # async fn demo(client: hush_client::Client, bob: hush_client::Address, carol: hush_client::Address) -> Result<(), hush_client::ClientError> {
//! use hush_client::Content;
//!
//! let group = client.create_group("climbing", &[bob, carol]).await?;
//! client.send_group(group, Content::text("tuesday at six?")).await?;
//! let history = client.group_history(group, None, 50).await?;
//! for entry in &history {
//!     let author = client.group_author(entry.message.id).await?;
//!     # let _ = author;
//! }
//! client.group_remove(group, &[carol]).await?;
//! # Ok(()) }
//! ```

use hush_client_core::groups::{GroupId, GroupState};
use hush_client_core::{Address, Content, GroupReceipts, HistoryEntry, MessageId, Store};
use tokio::sync::oneshot;

use super::{Client, stopped};
use crate::driver::Command;
use crate::error::ClientError;
use crate::group_command::{GroupChange, GroupCommand};

impl Client {
    /// Makes a group named `name` with us as admin and `members` (contacts' account addresses;
    /// no message need have been exchanged: their device lists are fetched, and the group goes
    /// to each member once its list is answered). Answered once durable; the members hear of it
    /// as soon as the relay is reachable. The members need not be each other's contacts.
    pub async fn create_group(&self, name: &str, members: &[Address]) -> Result<GroupId, ClientError> {
        let (reply, answer) = oneshot::channel();
        let command = GroupCommand::Create {
            name: name.to_owned(),
            members: members.to_vec(),
            reply,
        };
        self.command(Command::Group(command)).await?;
        answer.await.map_err(|_| stopped())?
    }

    /// Adds `members` to `group` (we must be an admin); they are sent its whole history of
    /// changes.
    pub async fn group_add(&self, group: GroupId, members: &[Address]) -> Result<(), ClientError> {
        self.change_group(group, GroupChange::Add(members.to_vec())).await
    }

    /// Removes `members` from `group` (we must be an admin). Every remaining member changes its
    /// sending key, so they cannot read what is sent after.
    pub async fn group_remove(&self, group: GroupId, members: &[Address]) -> Result<(), ClientError> {
        self.change_group(group, GroupChange::Remove(members.to_vec()))
            .await
    }

    /// Leaves `group` (its history stays).
    pub async fn group_leave(&self, group: GroupId) -> Result<(), ClientError> {
        self.change_group(group, GroupChange::Leave).await
    }

    /// Sends `content` to every member device of `group`; the id once durable in the outbox.
    /// A group with more member devices than one send reaches (1,000) is refused at once with
    /// [`ClientError::GroupSend`]`(`[`GroupSendError::TooManyDevices`](hush_client_core::GroupSendError::TooManyDevices)`)`.
    pub async fn send_group(&self, group: GroupId, content: Content) -> Result<MessageId, ClientError> {
        let (reply, answer) = oneshot::channel();
        self.command(Command::Group(GroupCommand::Send {
            group,
            content,
            reply,
        }))
        .await?;
        answer.await.map_err(|_| stopped())?
    }

    /// The groups we are or were in (a group we left or were removed from shows us no longer
    /// among its members).
    pub async fn groups(&self) -> Result<Vec<GroupState>, ClientError> {
        let (reply, answer) = oneshot::channel();
        self.command(Command::Group(GroupCommand::List { reply })).await?;
        answer.await.map_err(|_| stopped())
    }

    /// Up to `limit` messages of `group` before position `before` (latest if `None`), oldest
    /// first.
    pub async fn group_history(
        &self,
        group: GroupId,
        before: Option<u64>,
        limit: usize,
    ) -> Result<Vec<HistoryEntry>, ClientError> {
        let conversation = group.conversation();
        self.with_store(move |store| store.history(&conversation, before, limit))
            .await
    }

    /// Who wrote the incoming group message `message_id` (an account address).
    pub async fn group_author(&self, message_id: MessageId) -> Result<Option<Address>, ClientError> {
        self.with_store(move |store| store.author(&message_id)).await
    }

    /// Marks every unread message of `group` read and sends each author a read receipt (and
    /// our other devices the read state). Returns how many.
    pub async fn mark_group_read(&self, group: GroupId) -> Result<usize, ClientError> {
        let conversation = group.conversation();
        let read = self
            .with_store(move |store| {
                let mut read = Vec::new();
                for id in store.unread(&conversation)? {
                    // Every incoming group message has its author recorded with it.
                    if let Some(author) = store.author(&id)? {
                        read.push((id, author));
                    }
                }
                Ok(read)
            })
            .await?;
        if read.is_empty() {
            return Ok(0);
        }
        let count = read.len();
        let (reply, answer) = oneshot::channel();
        self.command(Command::Group(GroupCommand::MarkRead { group, read, reply }))
            .await?;
        answer.await.map_err(|_| stopped())??;
        Ok(count)
    }

    /// The receipts of our group message `message_id`: how many of the members it went to (the
    /// members when we sent it, our own account not counted) stored and read it, and each
    /// member's. `None` for a message that is not one of our group messages.
    /// [`Event::GroupReceiptsChanged`](hush_client_core::Event::GroupReceiptsChanged) says
    /// when they move.
    pub async fn group_receipts(&self, message_id: MessageId) -> Result<Option<GroupReceipts>, ClientError> {
        self.with_store(move |store| store.group_receipts(&message_id))
            .await
    }

    async fn change_group(&self, group: GroupId, change: GroupChange) -> Result<(), ClientError> {
        let (reply, answer) = oneshot::channel();
        self.command(Command::Group(GroupCommand::Change { group, change, reply }))
            .await?;
        answer.await.map_err(|_| stopped())?
    }
}
