//! How `history`, `inbox` and `conversations` print messages: local times with dates, who
//! wrote, the text, and the status mark of one's own messages.

use chrono::{DateTime, Local, TimeZone, Utc};
use hush_client::{Content, Direction, HistoryEntry, MessageStatus, StoredMessage};

/// `unix_ms` as `YYYY-MM-DD hh:mm:ss` in local time (the time zone's rules at that moment, so
/// daylight saving is right for old messages too).
pub fn local_time(unix_ms: u64) -> String {
    time_in(&Local, unix_ms)
}

/// `unix_ms` as `YYYY-MM-DD hh:mm:ss` in `zone`. A time out of range (a peer's clock may say
/// anything) is shown as such rather than failing the listing.
fn time_in<Zone: TimeZone>(zone: &Zone, unix_ms: u64) -> String
where
    Zone::Offset: std::fmt::Display,
{
    match i64::try_from(unix_ms)
        .ok()
        .and_then(DateTime::<Utc>::from_timestamp_millis)
    {
        Some(utc) => utc.with_timezone(zone).format("%Y-%m-%d %H:%M:%S").to_string(),
        None => format!("(time out of range: {unix_ms} ms)"),
    }
}

/// The text of `content` as sent, or a placeholder for a kind this build cannot show.
pub fn raw_text(content: &Content) -> String {
    match content {
        Content::Text(text) => text.clone(),
        Content::Unsupported { kind, .. } => format!("<unsupported content of kind {kind}>"),
        Content::Reply(reply) => format!("(reply to {}) {}", reply.target, reply.text),
        Content::InThread(message) => format!("(in thread {}) {}", message.target, message.text),
        Content::Delete(_) => "(deleted)".to_string(),
        Content::Timer { seconds: 0 } => "(turned disappearing messages off)".to_string(),
        Content::Timer { seconds } => format!("(set disappearing messages to {seconds} s)"),
        Content::Reaction(reaction) if reaction.added => format!("(reacted {})", reaction.emoji),
        Content::Reaction(reaction) => format!("(took back {})", reaction.emoji),
        Content::Edit(edit) => format!("(edited a message: {})", edit.text),
        other => format!("<unsupported content: {other:?}>"),
    }
}

/// [`raw_text`] for a terminal: control characters (escape sequences, newlines) are shown as
/// `�`, since what a peer writes must not move the cursor, restyle the terminal or fake a line
/// of ours.
pub fn text(content: &Content) -> String {
    raw_text(content)
        .chars()
        .map(|ch| if ch.is_control() { '\u{fffd}' } else { ch })
        .collect()
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

/// At most `chars` characters of `text`, with `…` where it was cut.
pub fn preview(text: &str, chars: usize) -> String {
    match text.char_indices().nth(chars) {
        Some((cut, _)) => format!("{}…", text.get(..cut).unwrap_or_default()),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_have_dates_and_bad_times_do_not_fail() {
        assert_eq!(time_in(&Utc, 0), "1970-01-01 00:00:00");
        assert_eq!(time_in(&Utc, 1_765_072_323_000), "2025-12-07 01:52:03");
        let east = chrono::FixedOffset::east_opt(9 * 3600).unwrap();
        assert_eq!(time_in(&east, 1_765_072_323_000), "2025-12-07 10:52:03");
        assert!(local_time(u64::MAX).starts_with("(time out of range"));
    }

    #[test]
    fn a_peer_s_control_characters_are_not_printed() {
        let text = super::text(&Content::text("hi\x1b[2J\nme: fake\r"));
        assert_eq!(text, "hi\u{fffd}[2J\u{fffd}me: fake\u{fffd}");
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
    fn previews_cut_on_characters() {
        assert_eq!(preview("héllo wörld", 5), "héllo…");
        assert_eq!(preview("short", 5), "short");
    }
}
