//! The [`crate::MemoryStore`]'s part of the surface: edit histories, reactions, and the ops
//! that change them.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::StoredReaction;
use crate::address::Address;
use crate::content::{Content, MessageId};
use crate::records::{Direction, HistoryEntry, StoreOp, StoredMessage};

/// Edit histories and reactions, by message.
#[derive(Debug, Clone, Default)]
pub(crate) struct SurfaceTables {
    edits: HashMap<MessageId, Vec<String>>,
    reactions: HashMap<MessageId, BTreeSet<StoredReaction>>,
}

/// The message `id` if it has this peer (and direction, if given) and is not a tombstone
/// (unless `tombstone_too`).
fn guarded<'a>(
    messages: &'a mut BTreeMap<u64, StoredMessage>,
    positions: &HashMap<MessageId, u64>,
    id: &MessageId,
    (peer, direction): (&Address, Option<Direction>),
    tombstone_too: bool,
) -> Option<&'a mut StoredMessage> {
    let message = positions
        .get(id)
        .and_then(|position| messages.get_mut(position))?;
    let fits = message.peer == *peer
        && direction.is_none_or(|direction| message.direction == direction)
        && (tombstone_too || !message.content.is_tombstone_of(id));
    fits.then_some(message)
}

impl SurfaceTables {
    /// Applies a surface op ([`StoreOp::EditMessage`], [`StoreOp::DeleteMessage`],
    /// [`StoreOp::PutReaction`]); other ops are left alone.
    pub(crate) fn apply(
        &mut self,
        op: &StoreOp,
        messages: &mut BTreeMap<u64, StoredMessage>,
        positions: &HashMap<MessageId, u64>,
    ) {
        match op {
            StoreOp::EditMessage {
                id,
                peer,
                direction,
                text,
                ..
            } => {
                let Some(message) = guarded(messages, positions, id, (peer, Some(*direction)), false) else {
                    return;
                };
                let (Some(old), Some(new)) = (message.content.shown_text(), message.content.with_text(text))
                else {
                    return;
                };
                self.edits.entry(*id).or_default().push(old.to_string());
                message.content = new;
            }
            StoreOp::DeleteMessage { id, peer, direction } => {
                let Some(message) = guarded(messages, positions, id, (peer, Some(*direction)), true) else {
                    return;
                };
                message.content = Content::tombstone(*id);
                self.edits.remove(id);
                self.reactions.remove(id);
                for message in messages.values_mut() {
                    if let Content::Edit(edit) = &mut message.content
                        && edit.target == *id
                    {
                        edit.text.clear();
                    }
                }
            }
            StoreOp::PutReaction {
                target,
                peer,
                by,
                emoji,
                added,
            } => {
                if guarded(messages, positions, target, (peer, None), false).is_none() {
                    return;
                }
                let reaction = StoredReaction {
                    by: *by,
                    emoji: emoji.clone(),
                };
                let set = self.reactions.entry(*target).or_default();
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
