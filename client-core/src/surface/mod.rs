//! The conversation surface: what reactions, edits and deletes for everyone act on.
//!
//! The core remembers the latest [`MAX_SURFACE_WINDOW`] messages (who wrote them, with whom,
//! whether deleted) so it can refuse an edit of someone else's message before sending and flag
//! one on receipt. An effect whose target it does not know is kept ([`MAX_EARLY_EFFECTS`] at
//! most) and applied when the target arrives; it is also handed to the store, whose ops apply
//! only to a stored message of the right author, so an effect on a message older than the
//! window still lands. The rules are in proto/PROTOCOL.md, "Content kinds".

mod apply;
pub(crate) mod memory;
mod rules;
mod send;
pub(crate) mod timer;

use std::collections::{HashMap, VecDeque};

use thiserror::Error;

use crate::address::Address;
use crate::content::{Content, MessageId};
use crate::error::SendError;
use crate::records::{Direction, StoredMessage};

/// Messages the core remembers for the surface rules: the latest this many of the profile. One
/// can edit or delete a message while it is among them (like Signal's time limit on edits).
pub const MAX_SURFACE_WINDOW: usize = 10_000;
/// Effects kept for a target that has not arrived; more are ignored with
/// [`IgnoredReason::TooManyEarly`]. A sender resends in order, so a few are ever waiting.
pub const MAX_EARLY_EFFECTS: usize = 1_000;

/// Why a reaction, edit or delete someone sent us was ignored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum IgnoredReason {
    /// An edit or delete of a message the sender did not write, or a reaction to a message of
    /// another conversation.
    NotAuthor,
    /// The target was deleted.
    TargetDeleted,
    /// Too many effects wait for targets that have not arrived.
    TooManyEarly,
}

/// Why a reaction, edit, delete or reply could not be queued.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum SurfaceError {
    /// No message with this id with this peer among the latest [`MAX_SURFACE_WINDOW`].
    #[error("no recent message {id} in this conversation")]
    UnknownMessage {
        /// The id asked for.
        id: MessageId,
    },
    /// An edit or delete of a message the peer wrote.
    #[error("message {id} was not written by us")]
    NotOwnMessage {
        /// The id asked for.
        id: MessageId,
    },
    /// The message was deleted.
    #[error("message {id} was deleted")]
    Deleted {
        /// The id asked for.
        id: MessageId,
    },
    /// The content could not be queued.
    #[error(transparent)]
    Send(#[from] SendError),
}

/// A reaction on a stored message.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct StoredReaction {
    /// Who put it there (our own address for ours).
    pub by: Address,
    /// The emoji.
    pub emoji: String,
}

/// What the core knows of a recent message.
#[derive(Debug, Clone, Copy)]
struct Known {
    peer: Address,
    direction: Direction,
    deleted: bool,
}

/// An effect received before its target.
#[derive(Debug, Clone)]
struct Early {
    id: MessageId,
    peer: Address,
    content: Content,
    sent_at: u64,
}

/// The window of recent messages and the effects waiting for their targets.
#[derive(Debug, Default)]
pub(crate) struct Surface {
    known: HashMap<MessageId, Known>,
    /// `known`'s ids, oldest first, for eviction.
    order: VecDeque<MessageId>,
    early: HashMap<MessageId, Vec<Early>>,
    early_count: usize,
}

impl Surface {
    /// From the store's latest messages, oldest first: effects whose target is not among them
    /// wait again.
    pub(crate) fn restore(&mut self, recent: &[StoredMessage]) {
        for message in recent {
            match message.content.target() {
                Some(target) if message.content.is_effect() => {
                    if !self.known.contains_key(&target) && message.direction == Direction::Incoming {
                        self.keep_early(target, early_of(message));
                    }
                }
                _ => self.note(message),
            }
        }
    }

    /// A message now in the history (not an effect).
    pub(crate) fn note(&mut self, message: &StoredMessage) {
        if message.content.is_effect() && !message.content.is_tombstone_of(&message.id) {
            return;
        }
        let known = Known {
            peer: message.peer,
            direction: message.direction,
            deleted: message.content.is_tombstone_of(&message.id),
        };
        if self.known.insert(message.id, known).is_none() {
            self.order.push_back(message.id);
        }
        while self.order.len() > MAX_SURFACE_WINDOW {
            if let Some(old) = self.order.pop_front() {
                self.known.remove(&old);
            }
        }
    }

    /// The other party and direction of a recent message.
    pub(crate) fn peer_of(&self, id: &MessageId) -> Option<(Address, Direction)> {
        self.lookup(id).map(|known| (known.peer, known.direction))
    }

    fn lookup(&self, id: &MessageId) -> Option<Known> {
        self.known.get(id).copied()
    }

    fn mark_deleted(&mut self, id: &MessageId) {
        if let Some(known) = self.known.get_mut(id) {
            known.deleted = true;
        }
    }

    /// Keeps `early` for `target`; `false` if too many wait.
    fn keep_early(&mut self, target: MessageId, early: Early) -> bool {
        if self.early_count >= MAX_EARLY_EFFECTS {
            return false;
        }
        self.early_count += 1;
        self.early.entry(target).or_default().push(early);
        true
    }

    fn take_early(&mut self, target: &MessageId) -> Vec<Early> {
        let taken = self.early.remove(target).unwrap_or_default();
        self.early_count -= taken.len().min(self.early_count);
        taken
    }
}

fn early_of(message: &StoredMessage) -> Early {
    Early {
        id: message.id,
        peer: message.peer,
        content: message.content.clone(),
        sent_at: message.sent_at,
    }
}

#[cfg(test)]
mod tests;
