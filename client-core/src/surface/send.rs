//! Sending reactions, edits, deletes for everyone, replies and thread messages.

use super::SurfaceError;
use super::apply::effect_ops;
use crate::address::Address;
use crate::content::{Content, MessageId};
use crate::core::Core;
use crate::records::Direction;

impl Core {
    /// Queues `content` that names another message (a reaction, edit, delete, reply or thread
    /// message; other content is queued as [`Core::handle_send`] does). Its target must be one
    /// of the latest messages with `peer` and not deleted, and for an edit or delete one of our
    /// own. An effect is applied to our own copy in the commit that queues it.
    pub fn handle_send_about(
        &mut self,
        now: u64,
        peer: Address,
        content: Content,
    ) -> Result<MessageId, SurfaceError> {
        let Some(target) = content.target() else {
            return Ok(self.handle_send(now, peer, content)?);
        };
        let known = self
            .surface
            .lookup(&target)
            .filter(|known| known.peer == peer)
            .ok_or(SurfaceError::UnknownMessage { id: target })?;
        let own_only = matches!(content, Content::Edit(_) | Content::Delete(_));
        if own_only && known.direction != Direction::Outgoing {
            return Err(SurfaceError::NotOwnMessage { id: target });
        }
        if known.deleted {
            return Err(SurfaceError::Deleted { id: target });
        }
        let mark = self.out.len();
        let id = self.handle_send(now, peer, content.clone())?;
        if let Some((op, _)) = effect_ops(&content, peer, self.address, known.direction, now) {
            if matches!(content, Content::Delete(_)) {
                self.surface.mark_deleted(&target);
            }
            self.out.join_commit(mark, vec![op]);
        }
        Ok(id)
    }
}
