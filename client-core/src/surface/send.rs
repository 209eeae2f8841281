//! Sending reactions, edits, deletes for everyone, replies and thread messages.

use super::SurfaceError;
use super::apply::effect_ops;
use crate::address::Address;
use crate::content::{Content, MessageId};
use crate::core::Core;
use crate::records::Direction;

/// What the target of a reaction, edit or delete must be.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Need {
    /// A message of the conversation that is not deleted.
    InConversation,
    /// One of our own messages to the peer that is not deleted.
    OwnMessage,
}

impl Core {
    /// Puts `emoji` on message `target` of the conversation with `peer`.
    pub fn handle_react(
        &mut self,
        now: u64,
        peer: Address,
        target: MessageId,
        emoji: &str,
    ) -> Result<MessageId, SurfaceError> {
        let content = Content::reaction(target, emoji, true);
        self.send_effect(now, peer, target, content, Need::InConversation)
    }

    /// Takes our reaction `emoji` off message `target`.
    pub fn handle_unreact(
        &mut self,
        now: u64,
        peer: Address,
        target: MessageId,
        emoji: &str,
    ) -> Result<MessageId, SurfaceError> {
        let content = Content::reaction(target, emoji, false);
        self.send_effect(now, peer, target, content, Need::InConversation)
    }

    /// Replaces the text of our message `target` to `peer` (its earlier text stays in its edit
    /// history on both sides).
    pub fn handle_edit(
        &mut self,
        now: u64,
        peer: Address,
        target: MessageId,
        text: &str,
    ) -> Result<MessageId, SurfaceError> {
        self.send_effect(now, peer, target, Content::edit(target, text), Need::OwnMessage)
    }

    /// Deletes our message `target` to `peer` for everyone: both stores keep a tombstone only.
    pub fn handle_delete(
        &mut self,
        now: u64,
        peer: Address,
        target: MessageId,
    ) -> Result<MessageId, SurfaceError> {
        self.send_effect(now, peer, target, Content::Delete(target), Need::OwnMessage)
    }

    /// Sends `text` to `peer` quoting message `target`.
    pub fn handle_reply(
        &mut self,
        now: u64,
        peer: Address,
        target: MessageId,
        text: &str,
    ) -> Result<MessageId, SurfaceError> {
        self.check_target(peer, target, Need::InConversation)?;
        Ok(self.handle_send(now, peer, Content::reply(target, text))?)
    }

    /// Sends `text` to `peer` in the thread under message `root`.
    pub fn handle_thread_send(
        &mut self,
        now: u64,
        peer: Address,
        root: MessageId,
        text: &str,
    ) -> Result<MessageId, SurfaceError> {
        self.check_target(peer, root, Need::InConversation)?;
        Ok(self.handle_send(now, peer, Content::in_thread(root, text))?)
    }

    fn check_target(&self, peer: Address, target: MessageId, need: Need) -> Result<Direction, SurfaceError> {
        let known = self
            .surface
            .lookup(&target)
            .filter(|known| known.peer == peer)
            .ok_or(SurfaceError::UnknownMessage { id: target })?;
        if need == Need::OwnMessage && known.direction != Direction::Outgoing {
            return Err(SurfaceError::NotOwnMessage { id: target });
        }
        if known.deleted {
            return Err(SurfaceError::Deleted { id: target });
        }
        Ok(known.direction)
    }

    /// Queues an effect on `target` and applies it to our own copy in the same commit.
    fn send_effect(
        &mut self,
        now: u64,
        peer: Address,
        target: MessageId,
        content: Content,
        need: Need,
    ) -> Result<MessageId, SurfaceError> {
        let direction = self.check_target(peer, target, need)?;
        let mark = self.out.len();
        let id = self.handle_send(now, peer, content.clone())?;
        if let Some((op, _)) = effect_ops(&content, peer, self.address, direction, now) {
            if matches!(content, Content::Delete(_)) {
                self.surface.mark_deleted(&target);
            }
            self.out.join_commit(mark, vec![op]);
        }
        Ok(id)
    }
}
