//! The conversation-surface content kinds (proto/PROTOCOL.md, "Content kinds"): reactions,
//! edits, deletes for everyone, replies and thread messages. Each names another message by id.
//!
//! Layouts (after the payload's `kind` and `data` length; all fixed-position, so one encoding):
//! - kind 2 reaction: `target[16] || action u8 (1 add, 0 remove) || emoji` (UTF-8, 1 to
//!   [`MAX_EMOJI_LEN`] bytes);
//! - kind 3 edit, 5 reply, 6 thread message: `target[16] || text` (UTF-8, at most
//!   [`MAX_TEXT_LEN`] bytes);
//! - kind 4 delete: `target[16]`, nothing after.

use crate::content::{Content, MAX_TEXT_LEN, MessageId, PayloadError};

/// Kind number of [`Content::Reaction`].
pub(crate) const KIND_REACTION: u16 = 2;
/// Kind number of [`Content::Edit`].
pub(crate) const KIND_EDIT: u16 = 3;
/// Kind number of [`Content::Delete`].
pub(crate) const KIND_DELETE: u16 = 4;
/// Kind number of [`Content::Reply`].
pub(crate) const KIND_REPLY: u16 = 5;
/// Kind number of [`Content::InThread`].
pub(crate) const KIND_THREAD: u16 = 6;

/// Longest emoji a reaction may carry, in bytes: the longest emoji ZWJ sequences (families with
/// skin tones) stay under 40 bytes, and 64 keeps a reaction from carrying a message.
pub const MAX_EMOJI_LEN: usize = 64;

const ADD: u8 = 1;
const REMOVE: u8 = 0;

/// An emoji put on (or taken off) a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reaction {
    /// The message reacted to.
    pub target: MessageId,
    /// The emoji (any non-empty UTF-8 of at most [`MAX_EMOJI_LEN`] bytes).
    pub emoji: String,
    /// `true` adds the emoji, `false` removes the sender's reaction with it.
    pub added: bool,
}

/// Text that refers to another message: an edit's new text, a reply's text under its quote, a
/// thread message's text under its root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Referring {
    /// The message edited, quoted, or the thread's root.
    pub target: MessageId,
    /// The text (UTF-8, at most [`MAX_TEXT_LEN`] bytes).
    pub text: String,
}

impl Reaction {
    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut data = Vec::with_capacity(17 + self.emoji.len());
        data.extend_from_slice(&self.target.0);
        data.push(if self.added { ADD } else { REMOVE });
        data.extend_from_slice(self.emoji.as_bytes());
        data
    }

    fn decode(data: &[u8]) -> Result<Self, PayloadError> {
        let (target, rest) = split_target(data)?;
        let (&action, emoji) = rest.split_first().ok_or(PayloadError::Malformed)?;
        let added = match action {
            ADD => true,
            REMOVE => false,
            _ => return Err(PayloadError::Malformed),
        };
        check_emoji_len(emoji.len())?;
        let emoji = String::from_utf8(emoji.to_vec()).map_err(|_| PayloadError::TextNotUtf8)?;
        Ok(Self { target, emoji, added })
    }
}

impl Referring {
    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut data = Vec::with_capacity(16 + self.text.len());
        data.extend_from_slice(&self.target.0);
        data.extend_from_slice(self.text.as_bytes());
        data
    }

    fn decode(data: &[u8]) -> Result<Self, PayloadError> {
        let (target, text) = split_target(data)?;
        if text.len() > MAX_TEXT_LEN {
            return Err(PayloadError::TextTooLong { length: text.len() });
        }
        let text = String::from_utf8(text.to_vec()).map_err(|_| PayloadError::TextNotUtf8)?;
        Ok(Self { target, text })
    }
}

fn split_target(data: &[u8]) -> Result<(MessageId, &[u8]), PayloadError> {
    let (target, rest) = data.split_first_chunk::<16>().ok_or(PayloadError::Malformed)?;
    Ok((MessageId(*target), rest))
}

fn check_emoji_len(length: usize) -> Result<(), PayloadError> {
    if length == 0 || length > MAX_EMOJI_LEN {
        return Err(PayloadError::BadEmoji { length });
    }
    Ok(())
}

/// Whether `kind` is one of this module's kinds.
pub(crate) fn is_surface_kind(kind: u16) -> bool {
    (KIND_REACTION..=KIND_THREAD).contains(&kind)
}

/// Decodes one of this module's kinds (see [`is_surface_kind`]).
pub(crate) fn decode(kind: u16, data: &[u8]) -> Result<Content, PayloadError> {
    match kind {
        KIND_REACTION => Reaction::decode(data).map(Content::Reaction),
        KIND_EDIT => Referring::decode(data).map(Content::Edit),
        KIND_DELETE => match <[u8; 16]>::try_from(data) {
            Ok(target) => Ok(Content::Delete(MessageId(target))),
            Err(_) => Err(PayloadError::Malformed),
        },
        KIND_REPLY => Referring::decode(data).map(Content::Reply),
        KIND_THREAD => Referring::decode(data).map(Content::InThread),
        kind => Ok(Content::Unsupported {
            kind,
            data: data.to_vec(),
        }),
    }
}

/// Checks this module's limits before sending (other kinds pass).
pub(crate) fn validate(content: &Content) -> Result<(), PayloadError> {
    match content {
        Content::Reaction(reaction) => check_emoji_len(reaction.emoji.len()),
        Content::Edit(referring) | Content::Reply(referring) | Content::InThread(referring)
            if referring.text.len() > MAX_TEXT_LEN =>
        {
            Err(PayloadError::TextTooLong {
                length: referring.text.len(),
            })
        }
        _ => Ok(()),
    }
}

impl Content {
    /// A reaction with `emoji` on `target` (`added` false takes it off).
    pub fn reaction(target: MessageId, emoji: impl Into<String>, added: bool) -> Self {
        Self::Reaction(Reaction {
            target,
            emoji: emoji.into(),
            added,
        })
    }

    /// New text for our message `target`.
    pub fn edit(target: MessageId, text: impl Into<String>) -> Self {
        Self::Edit(Referring {
            target,
            text: text.into(),
        })
    }

    /// A reply quoting `target`.
    pub fn reply(target: MessageId, text: impl Into<String>) -> Self {
        Self::Reply(Referring {
            target,
            text: text.into(),
        })
    }

    /// A message in the thread under `root`.
    pub fn in_thread(root: MessageId, text: impl Into<String>) -> Self {
        Self::InThread(Referring {
            target: root,
            text: text.into(),
        })
    }

    /// What a deleted message `id` becomes in a store: its text is gone, only the mark is left.
    pub fn tombstone(id: MessageId) -> Self {
        Self::Delete(id)
    }

    /// Whether this is the tombstone of message `id`.
    pub fn is_tombstone_of(&self, id: &MessageId) -> bool {
        matches!(self, Self::Delete(target) if target == id)
    }

    /// The message this content acts on or refers to (reactions, edits, deletes, replies,
    /// thread messages).
    pub fn target(&self) -> Option<MessageId> {
        match self {
            Self::Reaction(reaction) => Some(reaction.target),
            Self::Edit(referring) | Self::Reply(referring) | Self::InThread(referring) => {
                Some(referring.target)
            }
            Self::Delete(target) => Some(*target),
            _ => None,
        }
    }

    /// Whether this acts on another message rather than being a message to show on its own
    /// (reactions, edits, deletes).
    pub fn is_effect(&self) -> bool {
        matches!(self, Self::Reaction(_) | Self::Edit(_) | Self::Delete(_))
    }

    /// Whether a message `id` with this content is listed in a history: everything but
    /// reactions, edits and deletes (a tombstone is listed).
    pub fn is_shown(&self, id: &MessageId) -> bool {
        !self.is_effect() || self.is_tombstone_of(id)
    }

    /// The text shown for this content, if it carries one (text, replies, thread messages).
    pub fn shown_text(&self) -> Option<&str> {
        match self {
            Self::Text(text) => Some(text),
            Self::Reply(referring) | Self::InThread(referring) => Some(&referring.text),
            _ => None,
        }
    }

    /// This content with its shown text replaced by `text` (an edit applied); `None` for content
    /// without text to edit.
    pub fn with_text(&self, text: &str) -> Option<Self> {
        let text = text.to_string();
        match self {
            Self::Text(_) => Some(Self::Text(text)),
            Self::Reply(referring) => Some(Self::Reply(Referring {
                target: referring.target,
                text,
            })),
            Self::InThread(referring) => Some(Self::InThread(Referring {
                target: referring.target,
                text,
            })),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: MessageId = MessageId([9; 16]);

    fn round_trip(content: Content) {
        let (kind, data) = content.to_parts();
        assert!(is_surface_kind(kind));
        assert_eq!(Content::from_parts(kind, data), Ok(content));
    }

    #[test]
    fn every_kind_round_trips() {
        round_trip(Content::reaction(T, "👍", true));
        round_trip(Content::reaction(T, "x", false));
        round_trip(Content::edit(T, "new text"));
        round_trip(Content::edit(T, ""));
        round_trip(Content::Delete(T));
        round_trip(Content::reply(T, "quoting"));
        round_trip(Content::in_thread(T, "in the thread"));
    }

    #[test]
    fn layouts_are_as_documented() {
        let (kind, data) = Content::reaction(T, "ok", true).to_parts();
        assert_eq!(kind, 2);
        assert_eq!(data, [&[9; 16][..], &[1], b"ok"].concat());
        assert_eq!(Content::Delete(T).to_parts(), (4, vec![9; 16]));
        assert_eq!(
            Content::reply(T, "a").to_parts(),
            (5, [&[9; 16][..], b"a"].concat())
        );
    }

    #[test]
    fn bad_encodings_get_typed_errors() {
        assert_eq!(decode(KIND_DELETE, &[9; 15]), Err(PayloadError::Malformed));
        assert_eq!(decode(KIND_DELETE, &[9; 17]), Err(PayloadError::Malformed));
        assert_eq!(decode(KIND_EDIT, &[9; 15]), Err(PayloadError::Malformed));
        assert_eq!(decode(KIND_REACTION, &[9; 16]), Err(PayloadError::Malformed));
        let reaction = |action: u8, emoji: &[u8]| [&[9; 16][..], &[action], emoji].concat();
        assert_eq!(
            decode(KIND_REACTION, &reaction(2, b"x")),
            Err(PayloadError::Malformed)
        );
        assert_eq!(
            decode(KIND_REACTION, &reaction(1, b"")),
            Err(PayloadError::BadEmoji { length: 0 })
        );
        assert_eq!(
            decode(KIND_REACTION, &reaction(1, &[b'x'; MAX_EMOJI_LEN + 1])),
            Err(PayloadError::BadEmoji {
                length: MAX_EMOJI_LEN + 1
            })
        );
        assert_eq!(
            decode(KIND_REACTION, &reaction(1, &[0xff])),
            Err(PayloadError::TextNotUtf8)
        );
        let long = [&[9; 16][..], &vec![b'x'; MAX_TEXT_LEN + 1]].concat();
        assert_eq!(
            decode(KIND_REPLY, &long),
            Err(PayloadError::TextTooLong {
                length: MAX_TEXT_LEN + 1
            })
        );
        assert_eq!(
            decode(KIND_THREAD, &[&[9; 16][..], &[0xc3, 0x28]].concat()),
            Err(PayloadError::TextNotUtf8)
        );
        assert_eq!(
            Content::reaction(T, "", true).validate(),
            Err(PayloadError::BadEmoji { length: 0 })
        );
    }

    #[test]
    fn edits_keep_what_they_refer_to() {
        let reply = Content::reply(T, "old");
        assert_eq!(reply.with_text("new"), Some(Content::reply(T, "new")));
        assert_eq!(Content::Delete(T).with_text("new"), None);
        assert!(Content::tombstone(T).is_tombstone_of(&T));
        assert!(!Content::Delete(T).is_tombstone_of(&MessageId([1; 16])));
    }
}
