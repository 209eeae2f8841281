//! The disappearing-messages timer (content kind 7, proto/PROTOCOL.md "Content kinds"): either
//! side of a conversation sets it, and both sides then delete the text of every message stored
//! while it is set once the message is that old.
//!
//! Layout (after the payload's `kind` and `data` length): `seconds` u32, big-endian, exactly 4
//! bytes; `0` turns the timer off. The core carries it like text (numbered, acknowledged, shown
//! as an event in the history); what it does to later messages is the store's (its `expires_at`).

use crate::content::{Content, MAX_TIMER_SECONDS, PayloadError};

impl Content {
    /// Sets the conversation's disappearing timer to `seconds` (`0` turns it off).
    pub fn timer(seconds: u32) -> Self {
        Self::Timer { seconds }
    }

    /// Decodes kind 7: exactly four bytes, else `Malformed`.
    pub(crate) fn decode_timer(data: &[u8]) -> Result<Self, PayloadError> {
        let bytes = <[u8; 4]>::try_from(data).map_err(|_| PayloadError::Malformed)?;
        Ok(Self::Timer {
            seconds: u32::from_be_bytes(bytes),
        })
    }

    /// The timer this content sets, in seconds, if it is a timer (`0` is off), clamped to
    /// [`MAX_TIMER_SECONDS`].
    pub fn timer_seconds(&self) -> Option<u32> {
        match self {
            Self::Timer { seconds } => Some((*seconds).min(MAX_TIMER_SECONDS)),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_timer_round_trips_in_four_big_endian_bytes() {
        let content = Content::timer(3600);
        assert_eq!(content.to_parts(), (7, vec![0, 0, 0x0e, 0x10]));
        assert_eq!(Content::from_parts(7, vec![0, 0, 0x0e, 0x10]), Ok(content));
        assert_eq!(Content::from_parts(7, vec![0; 4]), Ok(Content::timer(0)));
        assert_eq!(Content::timer(0).timer_seconds(), Some(0));
        assert_eq!(Content::text("x").timer_seconds(), None);
    }

    #[test]
    fn bad_timers_get_typed_errors() {
        assert_eq!(Content::from_parts(7, vec![0; 3]), Err(PayloadError::Malformed));
        assert_eq!(Content::from_parts(7, vec![0; 5]), Err(PayloadError::Malformed));
        assert_eq!(Content::from_parts(7, Vec::new()), Err(PayloadError::Malformed));
        assert_eq!(
            Content::timer(MAX_TIMER_SECONDS + 1).validate(),
            Err(PayloadError::TimerTooLong {
                seconds: MAX_TIMER_SECONDS + 1
            })
        );
        assert_eq!(Content::timer(MAX_TIMER_SECONDS).validate(), Ok(()));
        // A received one from a peer that allows longer is clamped, not refused.
        assert_eq!(
            Content::from_parts(7, vec![0xff; 4]).unwrap().timer_seconds(),
            Some(MAX_TIMER_SECONDS)
        );
    }

    /// On the core's receive path a timer is a message like text: stored, listed in the
    /// history, told to the app (the visible event); it acts on nothing.
    #[test]
    fn a_received_timer_is_a_shown_message() {
        use rand::SeedableRng;

        use crate::content::MessageId;
        use crate::event::Event;
        use crate::memory::MemoryStore;
        use crate::records::{Commit, Direction, MessageStatus, StoredMessage};
        use crate::store::Store;

        let now = 1_750_000_000_000;
        let mut rng = rand::rngs::StdRng::seed_from_u64(3);
        let peer =
            crate::Address::from_identity(&hush_crypto::Account::new(now / 1000, &mut rng).identity_key());
        let mut core = crate::Core::create(now, Box::new(rng));
        let mut store = MemoryStore::new();
        let message = StoredMessage {
            id: MessageId([4; 16]),
            peer,
            direction: Direction::Incoming,
            conv_seq: 1,
            sent_at: now,
            stored_at: now,
            content: Content::timer(600),
            status: MessageStatus::Received,
        };
        let (mut ops, mut events) = (Vec::new(), Vec::new());
        core.deliver_content(message.clone(), &mut ops, &mut events);
        store.apply(&Commit { ops }).unwrap();
        assert!(
            matches!(&events[..], [Event::MessageReceived(m)] if m.content == Content::timer(600)),
            "{events:?}"
        );
        let history = store.history(&peer, None, 10).unwrap();
        assert_eq!(history.len(), 1);
        assert_eq!(history[0].message.content, Content::timer(600));
        assert!(!Content::timer(600).is_effect());
        assert_eq!(Content::timer(600).target(), None);
    }
}
