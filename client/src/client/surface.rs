//! Reactions, edits, deletes for everyone, replies and threads (proto/PROTOCOL.md, "Content
//! kinds"). Each returns the id of the message that carries it, once durable in the outbox.
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

use hush_client_core::{Address, HistoryEntry, MessageId, Store, StoredReaction};
use tokio::sync::oneshot;

use super::{Client, stopped};
use crate::driver::Command;
use crate::error::ClientError;
use crate::surface_command::{SurfaceAction, SurfaceCommand};

impl Client {
    /// Puts `emoji` on message `message_id` of the conversation with `peer`.
    /// [`ClientError::Surface`] if the message is not one of the latest of that conversation,
    /// or was deleted.
    pub async fn react(
        &self,
        peer: Address,
        message_id: MessageId,
        emoji: &str,
    ) -> Result<MessageId, ClientError> {
        let emoji = emoji.to_string();
        self.surface(peer, message_id, SurfaceAction::React { emoji })
            .await
    }

    /// Takes our reaction `emoji` off message `message_id`.
    pub async fn unreact(
        &self,
        peer: Address,
        message_id: MessageId,
        emoji: &str,
    ) -> Result<MessageId, ClientError> {
        let emoji = emoji.to_string();
        self.surface(peer, message_id, SurfaceAction::Unreact { emoji })
            .await
    }

    /// Gives our message `message_id` to `peer` new text; both sides keep the earlier text in
    /// its edit history ([`Client::edits`]). [`ClientError::Surface`] for a message we did not
    /// send, an unknown one, or a deleted one.
    pub async fn edit(
        &self,
        peer: Address,
        message_id: MessageId,
        text: &str,
    ) -> Result<MessageId, ClientError> {
        let text = text.to_string();
        self.surface(peer, message_id, SurfaceAction::Edit { text }).await
    }

    /// Deletes our message `message_id` to `peer` for everyone: both databases keep a tombstone
    /// only (the text, its edits and reactions are overwritten). Same refusals as
    /// [`Client::edit`].
    pub async fn delete_for_everyone(
        &self,
        peer: Address,
        message_id: MessageId,
    ) -> Result<MessageId, ClientError> {
        self.surface(peer, message_id, SurfaceAction::Delete).await
    }

    /// Sends `text` to `peer` quoting message `message_id`.
    pub async fn reply(
        &self,
        peer: Address,
        message_id: MessageId,
        text: &str,
    ) -> Result<MessageId, ClientError> {
        let text = text.to_string();
        self.surface(peer, message_id, SurfaceAction::Reply { text })
            .await
    }

    /// Sends `text` to `peer` in the thread under message `root`.
    pub async fn send_in_thread(
        &self,
        peer: Address,
        root: MessageId,
        text: &str,
    ) -> Result<MessageId, ClientError> {
        let text = text.to_string();
        self.surface(peer, root, SurfaceAction::InThread { text }).await
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

    async fn surface(
        &self,
        peer: Address,
        target: MessageId,
        action: SurfaceAction,
    ) -> Result<MessageId, ClientError> {
        let (reply, answer) = oneshot::channel();
        let command = SurfaceCommand {
            peer,
            target,
            action,
            reply,
        };
        self.command(Command::Surface(command)).await?;
        answer.await.map_err(|_| stopped())?
    }
}
