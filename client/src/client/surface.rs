//! Reactions, edits, deletes for everyone, replies and threads (proto/PROTOCOL.md, "Content
//! kinds"). Each returns the id of the message that carries it, once durable in the outbox;
//! [`ClientError::Surface`] if the message named is not one of the latest of the conversation
//! (or, for an edit or delete, not ours), or was deleted.
//!
//! ```no_run
//! # async fn demo(client: hush_client::Client, bob: hush_client::Address) -> Result<(), hush_client::ClientError> {
//! use hush_client::Content;
//!
//! let id = client.send(bob, Content::text("lunch at noon?")).await?;
//! client.edit(bob, id, "lunch at one?").await?;
//! client.react(bob, id, "👍").await?;
//! client.reply(bob, id, "or two").await?;
//! client.send_in_thread(bob, id, "booked a table").await?;
//! let thread = client.thread(id, None, 20).await?;
//! client.delete_for_everyone(bob, id).await?;
//! # let _ = thread; Ok(()) }
//! ```

use hush_client_core::{Address, Content, HistoryEntry, MessageId, Store, StoredReaction};
use tokio::sync::oneshot;

use super::{Client, stopped};
use crate::driver::Command;
use crate::error::ClientError;
use crate::surface_command::SurfaceCommand;

type Queued = Result<MessageId, ClientError>;

impl Client {
    /// Puts `emoji` on message `message_id` of the conversation with `peer`.
    pub async fn react(&self, peer: Address, message_id: MessageId, emoji: &str) -> Queued {
        self.send_about(peer, Content::reaction(message_id, emoji, true))
            .await
    }

    /// Takes our reaction `emoji` off message `message_id`.
    pub async fn unreact(&self, peer: Address, message_id: MessageId, emoji: &str) -> Queued {
        self.send_about(peer, Content::reaction(message_id, emoji, false))
            .await
    }

    /// Gives our message `message_id` to `peer` new text; both sides keep the earlier text in
    /// its edit history ([`Client::edits`]).
    pub async fn edit(&self, peer: Address, message_id: MessageId, text: &str) -> Queued {
        self.send_about(peer, Content::edit(message_id, text)).await
    }

    /// Deletes our message `message_id` to `peer` for everyone: both databases keep a tombstone
    /// only (the text, its edits and reactions are overwritten).
    pub async fn delete_for_everyone(&self, peer: Address, message_id: MessageId) -> Queued {
        self.send_about(peer, Content::Delete(message_id)).await
    }

    /// Sends `text` to `peer` quoting message `message_id`.
    pub async fn reply(&self, peer: Address, message_id: MessageId, text: &str) -> Queued {
        self.send_about(peer, Content::reply(message_id, text)).await
    }

    /// Sends `text` to `peer` in the thread under message `root`.
    pub async fn send_in_thread(&self, peer: Address, root: MessageId, text: &str) -> Queued {
        self.send_about(peer, Content::in_thread(root, text)).await
    }

    /// Up to `limit` messages in the thread under `root` before position `before` (latest if
    /// `None`), oldest first. Page back with the first entry's position.
    pub async fn thread(
        &self,
        root: MessageId,
        before: Option<u64>,
        limit: usize,
    ) -> Result<Vec<HistoryEntry>, ClientError> {
        self.with_store(move |store| store.thread(&root, before, limit))
            .await
    }

    /// The earlier texts of message `message_id`, oldest first (empty if never edited).
    pub async fn edits(&self, message_id: MessageId) -> Result<Vec<String>, ClientError> {
        self.with_store(move |store| store.edits(&message_id)).await
    }

    /// The reactions on message `message_id`.
    pub async fn reactions(&self, message_id: MessageId) -> Result<Vec<StoredReaction>, ClientError> {
        self.with_store(move |store| store.reactions(&message_id)).await
    }

    async fn send_about(&self, peer: Address, content: Content) -> Queued {
        let (reply, answer) = oneshot::channel();
        let command = SurfaceCommand { peer, content, reply };
        self.command(Command::Surface(command)).await?;
        answer.await.map_err(|_| stopped())?
    }
}
