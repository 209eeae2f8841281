//! What the surface store ops do to the message they name, shared by every store.

use crate::content::{Content, MessageId};
use crate::records::{StoreOp, StoredMessage};

impl StoreOp {
    /// The message a [`StoreOp::EditMessage`], [`StoreOp::DeleteMessage`] or
    /// [`StoreOp::PutReaction`] names.
    pub fn surface_target(&self) -> Option<MessageId> {
        match self {
            Self::EditMessage { id, .. } | Self::DeleteMessage { id, .. } => Some(*id),
            Self::PutReaction { target, .. } => Some(*target),
            _ => None,
        }
    }

    /// Whether this surface op applies to `target`, the stored message it names: the guard each
    /// op's doc states (peer, direction where given, not a tombstone unless a delete).
    pub fn applies_to(&self, target: &StoredMessage) -> bool {
        let tombstone = target.content.is_tombstone_of(&target.id);
        match self {
            Self::EditMessage { peer, direction, .. } => {
                target.peer == *peer && target.direction == *direction && !tombstone
            }
            Self::DeleteMessage { peer, direction, .. } => {
                target.peer == *peer && target.direction == *direction
            }
            Self::PutReaction { peer, .. } => target.peer == *peer && !tombstone,
            _ => false,
        }
    }

    /// For an edit that applies to `target`: the text it replaces and the content after it
    /// (`None` for content without text to edit).
    pub fn edited(&self, target: &StoredMessage) -> Option<(String, Content)> {
        let Self::EditMessage { text, .. } = self else {
            return None;
        };
        let old = target.content.shown_text()?.to_string();
        Some((old, target.content.with_text(text)?))
    }
}
