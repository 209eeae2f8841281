use chrono::FixedOffset;
use hush_client::MessageStatus;
use ratatui::Terminal;
use ratatui::backend::TestBackend;

use super::*;
use crate::chat::tui::app::tests::{bob, message, two_chats};

/// 2026-12-07 09:05 UTC, in milliseconds.
const MONDAY_MORNING: u64 = 1_796_634_300_000;
const DAY: u64 = 86_400_000;

fn draw(app: &App, width: u16, height: u16) -> Vec<String> {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
    draw_on(&mut terminal, app)
}

fn draw_on(terminal: &mut Terminal<TestBackend>, app: &App) -> Vec<String> {
    let utc = Zone::Fixed(FixedOffset::east_opt(0).unwrap());
    terminal.draw(|frame| render(frame, app, utc)).unwrap();
    let buffer = terminal.backend().buffer();
    (0..buffer.area.height)
        .map(|y| {
            (0..buffer.area.width)
                .map(|x| buffer[(x, y)].symbol())
                .collect::<String>()
        })
        .collect()
}

/// Asserts that row `row` of `screen` shows `text`.
#[track_caller]
fn assert_row(screen: &[String], row: usize, text: &str) {
    let shown = screen.get(row).map_or("", String::as_str);
    assert!(
        shown.contains(text),
        "row {row} lacks {text:?}:\n{}",
        screen.join("\n")
    );
}

fn line_with<'a>(screen: &'a [String], text: &str) -> &'a str {
    screen
        .iter()
        .find(|line| line.contains(text))
        .unwrap_or_else(|| panic!("no line with {text:?} in\n{}", screen.join("\n")))
}

#[test]
fn own_messages_carry_their_status_mark_and_others_none() {
    let mut app = two_chats();
    app.on_sent(message(bob(), 20, true, MONDAY_MORNING), "bob");
    app.on_incoming(message(bob(), 21, false, MONDAY_MORNING + 60_000), "bob");
    app.on_status(app.messages[app.messages.len() - 2].id, MessageStatus::Delivered);
    let screen = draw(&app, 80, 20);
    let mine = line_with(&screen, "message 20");
    assert!(mine.contains("09:05 me: message 20  (delivered)"), "{mine}");
    let theirs = line_with(&screen, "message 21");
    assert!(theirs.contains("09:06 bob: message 21"), "{theirs}");
    assert!(!theirs.contains('('), "{theirs}");
}

#[test]
fn a_date_line_opens_each_day() {
    let mut app = two_chats();
    app.messages.clear();
    app.on_sent(message(bob(), 1, true, MONDAY_MORNING), "bob");
    app.on_incoming(message(bob(), 2, false, MONDAY_MORNING + 1_000), "bob");
    app.on_incoming(message(bob(), 3, false, MONDAY_MORNING + DAY), "bob");
    let screen = draw(&app, 80, 20);
    let monday = screen
        .iter()
        .position(|line| line.contains("── Monday 2026-12-07 ──"));
    let tuesday = screen
        .iter()
        .position(|line| line.contains("── Tuesday 2026-12-08 ──"));
    let third = screen.iter().position(|line| line.contains("message 3"));
    assert!(monday < tuesday && tuesday < third, "{}", screen.join("\n"));
    assert_eq!(screen.iter().filter(|line| line.contains("── ")).count(), 2);
}

#[test]
fn the_input_line_stays_at_the_bottom_after_a_resize() {
    let mut app = two_chats();
    app.input.set("still typing".into());
    let mut terminal = Terminal::new(TestBackend::new(80, 24)).unwrap();
    for (width, height) in [(80, 24), (40, 12), (120, 40)] {
        terminal.backend_mut().resize(width, height);
        let screen = draw_on(&mut terminal, &app);
        assert_eq!(screen.len(), usize::from(height));
        let rows = screen.len();
        assert_row(&screen, rows - 3, " message to bob ");
        assert_row(&screen, rows - 2, "> still typing");
        assert_row(&screen, 0, "hush · alice");
        // The list gives way on a narrow screen; the open conversation keeps its title.
        assert_eq!(
            screen[1].contains(" chats "),
            width >= 48,
            "{}",
            screen.join("\n")
        );
        assert_row(&screen, 1, " bob ");
    }
}

#[test]
fn unread_counts_and_the_connection_show() {
    let mut app = two_chats();
    app.on_link(Link::Offline {
        reason: "timed out".into(),
        retry_in_secs: 3,
    });
    let screen = draw(&app, 80, 12);
    assert!(line_with(&screen, "carol").contains("carol (2)"));
    assert!(!line_with(&screen, "> bob").contains('('));
    assert!(
        screen[0].contains("offline: timed out (retrying in 3 s)"),
        "{}",
        screen[0]
    );
    app.on_link(Link::Online);
    assert!(draw(&app, 80, 12)[0].contains("● online"));
}

#[test]
fn scrolled_back_the_screen_shows_earlier_messages_and_says_how_many_are_below() {
    let mut app = two_chats();
    app.messages.clear();
    for n in 0..40 {
        app.on_incoming(message(bob(), n, false, MONDAY_MORNING + u64::from(n)), "bob");
    }
    let area = Rect::new(0, 0, 80, 16);
    // 10 message rows: the last 10 messages fill them, and scrolled as far as it goes, the first
    // 10 (after the date line) do.
    assert_eq!(history_rows(area), 10);
    assert_eq!(max_scroll(&app, Zone::Local, area), 31);
    let screen = draw(&app, 80, 16);
    assert!(screen.iter().any(|line| line.contains("message 39")));
    assert!(!screen.iter().any(|line| line.contains("message 29 ")));
    app.scroll = 31;
    let screen = draw(&app, 80, 16);
    assert!(line_with(&screen, "── Monday").contains("── Monday"));
    assert!(screen.iter().any(|line| line.contains("message 0 ")));
    assert!(screen.iter().any(|line| line.contains("message 8 ")));
    assert!(!screen.iter().any(|line| line.contains("message 9 ")));
    assert!(line_with(&screen, "newer below").contains(" 31 newer below · PgDn "));
}

#[test]
fn a_long_message_wraps_inside_the_pane() {
    let mut app = two_chats();
    let mut long = message(bob(), 30, false, MONDAY_MORNING);
    long.content = hush_client::Content::text("word ".repeat(30));
    app.on_incoming(long, "bob");
    let screen = draw(&app, 60, 20);
    let wrapped = screen.iter().filter(|line| line.contains("word")).count();
    assert!(wrapped >= 3, "{}", screen.join("\n"));
}

#[test]
fn control_characters_from_a_peer_are_not_written_to_the_terminal() {
    let mut app = two_chats();
    let mut hostile = message(bob(), 31, false, MONDAY_MORNING);
    hostile.content = hush_client::Content::text("a\u{1b}[2Jb\nc");
    app.on_incoming(hostile, "bob");
    let screen = draw(&app, 80, 20);
    assert!(line_with(&screen, "bob: a").contains("bob: a\u{fffd}[2Jb\u{fffd}c"));
}

#[test]
fn scrolling_back_stops_when_the_first_message_is_at_the_top_even_when_messages_wrap() {
    let mut app = two_chats();
    app.messages.clear();
    for n in 0..6 {
        let mut long = message(bob(), 40 + n, false, MONDAY_MORNING);
        // Wider than the pane's 54 columns at 80: two lines each.
        long.content = hush_client::Content::text(format!("{n} {}", "x".repeat(60)));
        app.on_incoming(long, "bob");
    }
    let area = Rect::new(0, 0, 80, 12);
    assert_eq!(history_rows(area), 6);
    // Date line + 2 lines for message 0 + 2 for message 1 + 1 of message 2: 6 rows reached with
    // the third message, so at most the 3 after it are hidden.
    assert_eq!(max_scroll(&app, Zone::Local, area), 3);
    app.scroll = 3;
    let screen = draw(&app, 80, 12);
    assert_row(&screen, 2, "── Monday 2026-12-07 ──");
    assert_row(&screen, 3, "bob: 0 xxx");
}

#[test]
fn the_cursor_stands_where_the_typing_happens_even_in_a_long_line() {
    let mut app = two_chats();
    app.input.set("hello world".into());
    for _ in 0..5 {
        app.input.left();
    }
    let mut terminal = Terminal::new(TestBackend::new(40, 12)).unwrap();
    let screen = draw_on(&mut terminal, &app);
    assert!(screen[10].starts_with("│> hello world "), "{}", screen[10]);
    // The box's inside starts at column 1, the text after "> " at 3: "hello " is 6 columns.
    terminal.backend_mut().assert_cursor_position((9, 10));
    app.input.set(format!("{}END", "a".repeat(60)));
    let screen = draw_on(&mut terminal, &app);
    assert!(screen[10].contains("aaaEND"), "{}", screen[10]);
    terminal.backend_mut().assert_cursor_position((38, 10)); // the last column inside the box
    app.input.home();
    let screen = draw_on(&mut terminal, &app);
    assert!(!screen[10].contains("END"), "{}", screen[10]);
    terminal.backend_mut().assert_cursor_position((3, 10));
}
