//! The conversation-surface content kinds (proto/PROTOCOL.md, "Content kinds"): reactions,
//! edits, deletes for everyone, replies and thread messages. Each names another message by id.
//!
//! Layouts (after the payload's `kind` and `data` length; all fixed-position, so one encoding):
//! - kind 2 reaction: `target[16] || action u8 (1 add, 0 remove) || emoji` (UTF-8, 1 to
//!   [`MAX_EMOJI_LEN`] bytes);
//! - kind 3 edit, 5 reply, 6 thread message: `target[16] || text` (UTF-8, at most
//!   [`MAX_TEXT_LEN`] bytes);
//! - kind 4 delete: `target[16]`, nothing after.

use crate::content::{
    Content, KIND_DELETE, KIND_EDIT, KIND_REACTION, KIND_REPLY, KIND_THREAD, MAX_EMOJI_LEN, MAX_TEXT_LEN,
    MessageId, PayloadError, Reaction, Referring,
};

const ADD: u8 = 1;
const REMOVE: u8 = 0;

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

impl Content {
    /// Decodes one of this module's kinds (2 to 6).
    pub(crate) fn decode_surface(kind: u16, data: &[u8]) -> Result<Self, PayloadError> {
        match kind {
            KIND_REACTION => Reaction::decode(data).map(Self::Reaction),
            KIND_EDIT => Referring::decode(data).map(Self::Edit),
            KIND_DELETE => match <[u8; 16]>::try_from(data) {
                Ok(target) => Ok(Self::Delete(MessageId(target))),
                Err(_) => Err(PayloadError::Malformed),
            },
            KIND_REPLY => Referring::decode(data).map(Self::Reply),
            KIND_THREAD => Referring::decode(data).map(Self::InThread),
            kind => Ok(Self::Unsupported {
                kind,
                data: data.to_vec(),
            }),
        }
    }

    /// Checks this module's limits before sending (other kinds pass).
    pub(crate) fn validate_surface(&self) -> Result<(), PayloadError> {
        match self {
            Self::Reaction(reaction) => check_emoji_len(reaction.emoji.len()),
            Self::Edit(referring) | Self::Reply(referring) | Self::InThread(referring)
                if referring.text.len() > MAX_TEXT_LEN =>
            {
                Err(PayloadError::TextTooLong {
                    length: referring.text.len(),
                })
            }
            _ => Ok(()),
        }
    }

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
        assert!((KIND_REACTION..=KIND_THREAD).contains(&kind));
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
        assert_eq!(
            Content::decode_surface(KIND_DELETE, &[9; 15]),
            Err(PayloadError::Malformed)
        );
        assert_eq!(
            Content::decode_surface(KIND_DELETE, &[9; 17]),
            Err(PayloadError::Malformed)
        );
        assert_eq!(
            Content::decode_surface(KIND_EDIT, &[9; 15]),
            Err(PayloadError::Malformed)
        );
        assert_eq!(
            Content::decode_surface(KIND_REACTION, &[9; 16]),
            Err(PayloadError::Malformed)
        );
        let reaction = |action: u8, emoji: &[u8]| [&[9; 16][..], &[action], emoji].concat();
        assert_eq!(
            Content::decode_surface(KIND_REACTION, &reaction(2, b"x")),
            Err(PayloadError::Malformed)
        );
        assert_eq!(
            Content::decode_surface(KIND_REACTION, &reaction(1, b"")),
            Err(PayloadError::BadEmoji { length: 0 })
        );
        assert_eq!(
            Content::decode_surface(KIND_REACTION, &reaction(1, &[b'x'; MAX_EMOJI_LEN + 1])),
            Err(PayloadError::BadEmoji {
                length: MAX_EMOJI_LEN + 1
            })
        );
        assert_eq!(
            Content::decode_surface(KIND_REACTION, &reaction(1, &[0xff])),
            Err(PayloadError::TextNotUtf8)
        );
        let long = [&[9; 16][..], &vec![b'x'; MAX_TEXT_LEN + 1]].concat();
        assert_eq!(
            Content::decode_surface(KIND_REPLY, &long),
            Err(PayloadError::TextTooLong {
                length: MAX_TEXT_LEN + 1
            })
        );
        assert_eq!(
            Content::decode_surface(KIND_THREAD, &[&[9; 16][..], &[0xc3, 0x28]].concat()),
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
