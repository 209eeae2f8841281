//! The [`crate::MemoryStore`]'s part of the surface: edit histories, reactions, and the ops
//! that change them.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::StoredReaction;
use crate::content::{Content, MessageId};
use crate::records::{HistoryEntry, StoreOp, StoredMessage};

/// Edit histories and reactions, by message.
#[derive(Debug, Clone, Default)]
pub(crate) struct SurfaceTables {
    edits: HashMap<MessageId, Vec<String>>,
    reactions: HashMap<MessageId, BTreeSet<StoredReaction>>,
}

impl SurfaceTables {
    /// Applies a surface op ([`StoreOp::EditMessage`], [`StoreOp::DeleteMessage`],
    /// [`StoreOp::PutReaction`]) where [`StoreOp::applies_to`] lets it.
    pub(crate) fn apply(
        &mut self,
        op: &StoreOp,
        messages: &mut BTreeMap<u64, StoredMessage>,
        positions: &HashMap<MessageId, u64>,
    ) {
        let Some(id) = op.surface_target() else {
            return;
        };
        let Some(message) = positions.get(&id).and_then(|position| messages.get_mut(position)) else {
            return;
        };
        if !op.applies_to(message) {
            return;
        }
        match op {
            StoreOp::EditMessage { .. } => {
                if let Some((old, new)) = op.edited(message) {
                    self.edits.entry(id).or_default().push(old);
                    message.content = new;
                }
            }
            StoreOp::DeleteMessage { .. } => {
                message.content = Content::tombstone(id);
                self.edits.remove(&id);
                self.reactions.remove(&id);
                for message in messages.values_mut() {
                    if let Content::Edit(edit) = &mut message.content
                        && edit.target == id
                    {
                        edit.text.clear();
                    }
                }
            }
            StoreOp::PutReaction { by, emoji, added, .. } => {
                let reaction = StoredReaction {
                    by: *by,
                    emoji: emoji.clone(),
                };
                let set = self.reactions.entry(id).or_default();
                if *added {
                    set.insert(reaction);
                } else {
                    set.remove(&reaction);
                }
            }
            _ => {}
        }
    }

    /// Earlier texts of `id`, oldest first.
    pub(crate) fn edits(&self, id: &MessageId) -> Vec<String> {
        self.edits.get(id).cloned().unwrap_or_default()
    }

    /// Reactions on `id`, by who then emoji.
    pub(crate) fn reactions(&self, id: &MessageId) -> Vec<StoredReaction> {
        self.reactions
            .get(id)
            .map(|set| set.iter().cloned().collect())
            .unwrap_or_default()
    }
}

/// The thread under `root` before position `before`: its latest `limit` messages, oldest first.
pub(crate) fn thread_page(
    messages: &BTreeMap<u64, StoredMessage>,
    root: &MessageId,
    before: u64,
    limit: usize,
) -> Vec<HistoryEntry> {
    let mut page: Vec<HistoryEntry> = messages
        .range(..before)
        .rev()
        .filter(|(_, message)| matches!(&message.content, Content::InThread(m) if m.target == *root))
        .take(limit)
        .map(|(position, message)| HistoryEntry {
            position: *position,
            message: message.clone(),
        })
        .collect();
    page.reverse();
    page
}
