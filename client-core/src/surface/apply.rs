//! Receiving reactions, edits and deletes, and the ones that waited for a message that arrives.

use super::{Early, IgnoredReason, Known, early_of};
use crate::address::Address;
use crate::content::{Content, MessageId};
use crate::core::Core;
use crate::event::Event;
use crate::records::{Direction, MessageStatus, StoreOp, StoredMessage};

/// What an effect does to a known target.
enum Verdict {
    Apply,
    Ignore(IgnoredReason),
}

fn judge(effect: &Early, target: Known) -> Verdict {
    let authored = match effect.content {
        // A reaction goes on any message of the conversation.
        Content::Reaction(_) => target.peer == effect.peer,
        _ => target.peer == effect.peer && target.direction == Direction::Incoming,
    };
    if !authored {
        Verdict::Ignore(IgnoredReason::NotAuthor)
    } else if target.deleted {
        Verdict::Ignore(IgnoredReason::TargetDeleted)
    } else {
        Verdict::Apply
    }
}

/// The store op (guarded by the target's author) and the event of an effect that applies.
/// `by` is who sent the effect, `direction` the target's.
pub(super) fn effect_ops(
    content: &Content,
    peer: Address,
    by: Address,
    direction: Direction,
    sent_at: u64,
) -> Option<(StoreOp, Event)> {
    Some(match content {
        Content::Edit(edit) => (
            StoreOp::EditMessage {
                id: edit.target,
                peer,
                direction,
                text: edit.text.clone(),
                edited_at: sent_at,
            },
            Event::MessageEdited {
                peer,
                id: edit.target,
                text: edit.text.clone(),
            },
        ),
        Content::Delete(target) => (
            StoreOp::DeleteMessage {
                id: *target,
                peer,
                direction,
            },
            Event::MessageDeleted { peer, id: *target },
        ),
        Content::Reaction(reaction) => (
            StoreOp::PutReaction {
                target: reaction.target,
                peer,
                by,
                emoji: reaction.emoji.clone(),
                added: reaction.added,
            },
            Event::ReactionChanged {
                peer,
                id: reaction.target,
                emoji: reaction.emoji.clone(),
                added: reaction.added,
            },
        ),
        _ => return None,
    })
}

fn ignored(effect: &Early, target: MessageId, reason: IgnoredReason) -> Event {
    Event::EffectIgnored {
        peer: effect.peer,
        effect: effect.id,
        target,
        reason,
    }
}

impl Core {
    /// Stores an incoming content message (after ordering and deduplication) and announces it.
    /// An effect (reaction, edit, delete) acts on its target instead of showing on its own; a
    /// message takes the effects that arrived before it.
    pub(crate) fn deliver_content(
        &mut self,
        message: StoredMessage,
        ops: &mut Vec<StoreOp>,
        events: &mut Vec<Event>,
    ) {
        if message.content.is_effect() {
            // Not shown on its own, so nothing to read: it never counts as unread.
            let message = StoredMessage {
                status: MessageStatus::Seen,
                ..message
            };
            ops.push(StoreOp::InsertMessage(message.clone()));
            self.receive_effect(early_of(&message), ops, events);
            return;
        }
        let waiting = self.surface.take_early(&message.id);
        let mut shown = message.clone();
        let mut known = Known {
            peer: message.peer,
            direction: message.direction,
            deleted: false,
        };
        let (mut later_ops, mut later_events) = (Vec::new(), Vec::new());
        for effect in waiting {
            match judge(&effect, known) {
                Verdict::Ignore(reason) => later_events.push(ignored(&effect, message.id, reason)),
                Verdict::Apply => {
                    let Some((op, event)) = effect_ops(
                        &effect.content,
                        effect.peer,
                        effect.peer,
                        Direction::Incoming,
                        effect.sent_at,
                    ) else {
                        continue;
                    };
                    match &effect.content {
                        Content::Delete(_) => {
                            known.deleted = true;
                            shown.content = Content::tombstone(message.id);
                            // Only the delete is left to write: the text never reaches the store.
                            later_ops.clear();
                            later_events.retain(|event| matches!(event, Event::EffectIgnored { .. }));
                        }
                        Content::Edit(edit) => {
                            if let Some(content) = shown.content.with_text(&edit.text) {
                                shown.content = content;
                            }
                        }
                        _ => {}
                    }
                    later_ops.push(op);
                    later_events.push(event);
                }
            }
        }
        let inserted = if known.deleted { shown.clone() } else { message };
        ops.push(StoreOp::InsertMessage(inserted));
        ops.append(&mut later_ops);
        self.surface.note(&shown);
        events.push(Event::MessageReceived(shown));
        events.append(&mut later_events);
    }

    fn receive_effect(&mut self, effect: Early, ops: &mut Vec<StoreOp>, events: &mut Vec<Event>) {
        let Some(target) = effect.content.target() else {
            return;
        };
        match self.surface.lookup(&target) {
            Some(known) => match judge(&effect, known) {
                Verdict::Ignore(reason) => events.push(ignored(&effect, target, reason)),
                Verdict::Apply => {
                    if let Some((op, event)) = effect_ops(
                        &effect.content,
                        effect.peer,
                        effect.peer,
                        Direction::Incoming,
                        effect.sent_at,
                    ) {
                        if matches!(effect.content, Content::Delete(_)) {
                            self.surface.mark_deleted(&target);
                        }
                        ops.push(op);
                        events.push(event);
                    }
                }
            },
            None => {
                // Older than the window (the store's guard still checks the author) or not
                // here yet (applied when it arrives).
                if let Some((op, _)) = effect_ops(
                    &effect.content,
                    effect.peer,
                    effect.peer,
                    Direction::Incoming,
                    effect.sent_at,
                ) {
                    ops.push(op);
                }
                if !self.surface.keep_early(target, effect.clone()) {
                    events.push(ignored(&effect, target, IgnoredReason::TooManyEarly));
                }
            }
        }
    }
}
