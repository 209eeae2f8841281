use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use hush_client::{Address, Content, Direction, HistoryEntry, MessageId, MessageStatus, StoredMessage};

use super::*;
use crate::chat::tui::input::{on_key, on_paste};

/// Two real addresses (from `hush init`).
pub(crate) fn bob() -> Address {
    "hush:1ff0f54088ed96d160ca723802313f32b9cf089eb3974928c337a27bad203a1b"
        .parse()
        .unwrap()
}

pub(crate) fn carol() -> Address {
    "hush:50984b800dce242dbbbf515071a2fa20b55a8be78c425d44e21e43741eb53c67"
        .parse()
        .unwrap()
}

/// Message `n` with `peer` (`outgoing`: ours, queued), sent at `sent_at` ms.
pub(crate) fn message(peer: Address, n: u8, outgoing: bool, sent_at: u64) -> StoredMessage {
    StoredMessage {
        id: MessageId([n; 16]),
        peer,
        direction: if outgoing {
            Direction::Outgoing
        } else {
            Direction::Incoming
        },
        conv_seq: u64::from(n),
        sent_at,
        stored_at: sent_at,
        content: Content::text(format!("message {n}")),
        status: if outgoing {
            MessageStatus::Queued
        } else {
            MessageStatus::Received
        },
    }
}

pub(crate) fn page(peer: Address, range: std::ops::Range<u8>) -> Vec<HistoryEntry> {
    range
        .map(|n| HistoryEntry {
            position: u64::from(n),
            message: message(peer, n, n % 2 == 0, 1_000 * u64::from(n)),
        })
        .collect()
}

/// Bob open (his first page loaded), Carol with 2 unread.
pub(crate) fn two_chats() -> App {
    let rows = vec![
        Row {
            peer: bob(),
            name: "bob".into(),
            unread: 3,
        },
        Row {
            peer: carol(),
            name: "carol".into(),
            unread: 2,
        },
    ];
    let (mut app, open) = App::new("alice".into(), rows, 0);
    assert_eq!(open, Some(Action::Open { peer: bob() }));
    app.on_history(bob(), page(bob(), 1..5), false);
    app
}

fn key(code: KeyCode) -> KeyEvent {
    KeyEvent::new(code, KeyModifiers::NONE)
}

fn type_text(app: &mut App, text: &str) {
    for c in text.chars() {
        assert_eq!(on_key(app, key(KeyCode::Char(c))), None);
    }
}

#[test]
fn an_incoming_message_leaves_the_typed_line_alone() {
    let mut app = two_chats();
    type_text(&mut app, "half a sent");
    let action = app.on_incoming(message(bob(), 9, false, 9_000), "bob");
    assert_eq!(action, Some(Action::MarkRead { peer: bob() }));
    app.on_incoming(message(carol(), 10, false, 10_000), "carol");
    assert_eq!(app.input.text(), "half a sent");
    type_text(&mut app, "ence");
    let sent = on_key(&mut app, key(KeyCode::Enter));
    assert_eq!(
        sent,
        Some(Action::Send {
            peer: bob(),
            text: "half a sentence".into()
        })
    );
    assert_eq!(app.input.text(), "");
}

#[test]
fn unread_counts_grow_for_closed_conversations_and_clear_when_opened() {
    let mut app = two_chats();
    assert_eq!(app.rows[0].unread, 0, "the open conversation is read");
    assert_eq!(app.on_incoming(message(carol(), 9, false, 9_000), "carol"), None);
    // Carol's conversation is now the most recent: on top, with one more unread; Bob stays open.
    assert_eq!((app.rows[0].peer, app.rows[0].unread), (carol(), 3));
    assert_eq!(app.open_peer(), Some(bob()));
    assert!(app.messages.iter().all(|message| message.peer == bob()));
    let opened = on_key(&mut app, key(KeyCode::Tab));
    assert_eq!(opened, Some(Action::Open { peer: carol() }));
    assert_eq!(app.rows[0].unread, 0);
    assert!(app.messages.is_empty() && app.loading);
}

#[test]
fn a_message_from_a_new_peer_adds_its_conversation_on_top() {
    let (mut app, _) = App::new(
        "alice".into(),
        vec![Row {
            peer: bob(),
            name: "bob".into(),
            unread: 0,
        }],
        0,
    );
    app.on_incoming(message(carol(), 1, false, 1_000), "carol");
    assert_eq!(app.rows.len(), 2);
    assert_eq!((app.rows[0].name.as_str(), app.rows[0].unread), ("carol", 1));
    assert_eq!(app.open_peer(), Some(bob()));
}

#[test]
fn the_status_shown_is_the_highest_reached() {
    let mut app = two_chats();
    let id = app.messages[1].id;
    assert_eq!(app.messages[1].direction, Direction::Outgoing);
    app.on_status(id, MessageStatus::Sent);
    app.on_status(id, MessageStatus::Read);
    // The delivered receipt was overtaken by the read one: it must not move the mark back.
    app.on_status(id, MessageStatus::Delivered);
    assert_eq!(app.messages[1].status, MessageStatus::Read);
}

#[test]
fn scrolling_stops_at_the_top_and_asks_for_the_earlier_page_near_it() {
    let mut app = two_chats();
    // A full page: more history may be before it.
    app.on_history(bob(), page(bob(), 100..150), false);
    assert!(!app.complete);
    app.history_rows = 10;
    app.max_scroll = 40;
    assert_eq!(on_key(&mut app, key(KeyCode::PageUp)), None);
    assert_eq!(app.scroll, 5);
    assert_eq!(on_key(&mut app, key(KeyCode::Up)), None);
    assert_eq!(app.scroll, 6);
    let mut asked = None;
    for _ in 0..10 {
        asked = asked.or(on_key(&mut app, key(KeyCode::PageUp)));
    }
    assert_eq!(app.scroll, 40, "no further than the top");
    assert_eq!(
        asked,
        Some(Action::LoadEarlier {
            peer: bob(),
            before: 100
        })
    );
    assert!(app.loading, "one request at a time");
    // The earlier page arrives: the view stays on the same messages (counted from the newest).
    app.on_history(bob(), page(bob(), 80..100), true);
    assert_eq!(app.messages.len(), 70);
    assert_eq!(app.scroll, 40);
    assert_eq!(app.oldest, Some(80));
    assert!(app.complete, "a short page is the start of the conversation");
    on_key(&mut app, key(KeyCode::PageDown));
    assert_eq!(app.scroll, 35);
    // A message arriving while scrolled back does not move what is on screen.
    app.on_incoming(message(bob(), 200, false, 200_000), "bob");
    assert_eq!(app.scroll, 36);
    on_key(&mut app, key(KeyCode::End));
    assert_eq!(app.scroll, 0);
}

#[test]
fn a_page_for_a_conversation_no_longer_open_is_dropped() {
    let mut app = two_chats();
    on_key(&mut app, key(KeyCode::Tab));
    app.on_history(bob(), page(bob(), 1..5), false);
    assert!(app.messages.is_empty());
    app.on_history(carol(), page(carol(), 1..3), false);
    assert_eq!(app.messages.len(), 2);
    assert!(!app.loading);
}

#[test]
fn a_failed_send_gives_the_line_back() {
    let mut app = two_chats();
    type_text(&mut app, "hello");
    let Some(Action::Send { text, .. }) = on_key(&mut app, key(KeyCode::Enter)) else {
        panic!("Enter sends");
    };
    app.on_send_failed(text, "the client stopped");
    assert_eq!(app.input.text(), "hello");
    assert_eq!(app.notice.as_deref(), Some("not sent: the client stopped"));
    app.on_sent(message(bob(), 50, true, 50_000), "bob");
    assert_eq!(app.notice, None, "a send that worked clears the old error");
    app.notice = Some("session with bob started over".into());
    app.on_sent(message(bob(), 51, true, 51_000), "bob");
    assert!(app.notice.is_some(), "other notices stay");
}

#[test]
fn a_paste_lands_in_the_line_whole_and_is_sent_only_on_enter() {
    let mut app = two_chats();
    type_text(&mut app, "see: ");
    on_paste(&mut app, "first line\r\nsecond\tline\u{1b}");
    assert_eq!(app.input.text(), "see: first line  second line");
    let sent = on_key(&mut app, key(KeyCode::Enter));
    assert!(matches!(sent, Some(Action::Send { text, .. }) if text == "see: first line  second line"));
}

#[test]
fn escape_and_control_c_quit_and_blank_lines_are_not_sent() {
    let mut app = two_chats();
    type_text(&mut app, "   ");
    assert_eq!(on_key(&mut app, key(KeyCode::Enter)), None);
    on_key(&mut app, key(KeyCode::Esc));
    assert!(app.quit);
    let mut app = two_chats();
    on_key(&mut app, KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL));
    assert!(app.quit);
    assert_eq!(app.input.text(), "", "Ctrl-C is not typed");
}
