//! How `history`, `inbox` and `conversations` print messages: local times with dates, who
//! wrote, the text, and the status mark of one's own messages.

use std::sync::OnceLock;

use hush_client::{Content, Direction, HistoryEntry, MessageStatus, StoredMessage};
use time::{OffsetDateTime, UtcOffset};

/// The local time zone's offset from UTC, read once before any thread starts (reading it later
/// is refused on Unix, where another thread could change the environment meanwhile).
static LOCAL_OFFSET: OnceLock<UtcOffset> = OnceLock::new();

/// Reads the local offset; call at start-up, while the process has one thread. Without it (or
/// where the offset cannot be found) times are shown in UTC.
pub fn read_local_offset() {
    if let Ok(offset) = UtcOffset::current_local_offset() {
        let _ = LOCAL_OFFSET.set(offset);
    }
}

/// `unix_ms` as `YYYY-MM-DD hh:mm:ss` in local time. A time out of range (a peer's clock may
/// say anything) is shown as such rather than failing the listing.
pub fn local_time(unix_ms: u64) -> String {
    let offset = LOCAL_OFFSET.get().copied().unwrap_or(UtcOffset::UTC);
    let nanos = i128::from(unix_ms) * 1_000_000;
    match OffsetDateTime::from_unix_timestamp_nanos(nanos) {
        Ok(utc) => {
            let at = utc.to_offset(offset);
            format!(
                "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
                at.year(),
                u8::from(at.month()),
                at.day(),
                at.hour(),
                at.minute(),
                at.second()
            )
        }
        Err(_) => format!("(time out of range: {unix_ms} ms)"),
    }
}

/// The text of `content`, or a placeholder for a kind this build cannot show.
pub fn text(content: &Content) -> String {
    match content {
        Content::Text(text) => text.clone(),
        Content::Unsupported { kind, .. } => format!("<unsupported content of kind {kind}>"),
        other => format!("<unsupported content: {other:?}>"),
    }
}

/// Each status with its name in `--json` output and its mark in text listings (one's own
/// messages only: an incoming one is marked `*` while unread instead).
const STATUSES: [(MessageStatus, &str, &str); 7] = [
    (MessageStatus::Queued, "queued", "queued"),
    (MessageStatus::Sent, "sent", "sent"),
    (MessageStatus::Delivered, "delivered", "delivered"),
    (MessageStatus::Read, "read", "read"),
    (MessageStatus::Failed, "failed", "FAILED"),
    (MessageStatus::Received, "received", ""),
    (MessageStatus::Seen, "seen", ""),
];

/// The status's name in `--json` output; `unknown` for one this build does not know.
pub fn status_name(status: MessageStatus) -> &'static str {
    STATUSES
        .iter()
        .find(|(known, ..)| *known == status)
        .map_or("unknown", |(_, name, _)| name)
}

/// The highest state one's own message reached (statuses only move forward, so a read
/// message was delivered too).
pub fn status_mark(status: MessageStatus) -> &'static str {
    STATUSES
        .iter()
        .find(|(known, ..)| *known == status)
        .map_or("", |(.., mark)| mark)
}

/// Whether `message` is incoming and not yet marked read.
pub fn is_unread(message: &StoredMessage) -> bool {
    message.direction == Direction::Incoming && message.status == MessageStatus::Received
}

/// One message line: `[YYYY-MM-DD hh:mm:ss] name: text`, with `  (status)` after one's own.
pub fn message_line(message: &StoredMessage, peer_name: &str) -> String {
    let at = local_time(message.sent_at);
    let text = text(&message.content);
    match message.direction {
        Direction::Incoming => format!("[{at}] {peer_name}: {text}"),
        _ => format!("[{at}] me: {text}  ({})", status_mark(message.status)),
    }
}

/// A message line in a listing: `* ` before a new (unread) message, two spaces before others.
pub fn listing_line(entry: &HistoryEntry, peer_name: &str) -> String {
    let mark = if is_unread(&entry.message) { '*' } else { ' ' };
    format!("{mark} {}", message_line(&entry.message, peer_name))
}

/// `word` as one shell word, quoted only when it must be, for commands printed as hints.
pub fn shell_word(word: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "-_.:@+/".contains(c);
    if !word.is_empty() && word.chars().all(plain) {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

/// At most `chars` characters of `text` on one line, with `…` where it was cut.
pub fn preview(text: &str, chars: usize) -> String {
    let line = text.replace(['\n', '\r'], " ");
    match line.char_indices().nth(chars) {
        Some((cut, _)) => format!("{}…", line.get(..cut).unwrap_or_default()),
        None => line,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_have_dates_and_bad_times_do_not_fail() {
        // Without a local offset read, UTC.
        assert_eq!(local_time(0), "1970-01-01 00:00:00");
        assert_eq!(local_time(1_765_072_323_000), "2025-12-07 01:52:03");
        assert!(local_time(u64::MAX).starts_with("(time out of range"));
    }

    #[test]
    fn hint_words_are_quoted_only_when_needed() {
        assert_eq!(shell_word("bob"), "bob");
        assert_eq!(shell_word("hush:00ff"), "hush:00ff");
        assert_eq!(shell_word("Bob Smith"), "'Bob Smith'");
        assert_eq!(shell_word("o'hara"), r"'o'\''hara'");
        assert_eq!(shell_word(""), "''");
    }

    #[test]
    fn previews_cut_on_characters_and_stay_on_one_line() {
        assert_eq!(preview("héllo wörld", 5), "héllo…");
        assert_eq!(preview("a\nb", 10), "a b");
        assert_eq!(preview("short", 5), "short");
    }
}
