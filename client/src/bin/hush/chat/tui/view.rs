//! Draws an [`App`]: the status bar on top, the conversation list on the left, the open
//! conversation's history beside it, the input box at the bottom. Reads the state, changes
//! nothing, so a `TestBackend` shows exactly what a terminal would.

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime};
use hush_client::{Direction, MessageStatus, StoredMessage};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph};

use super::app::{App, Link};
use super::editor::char_width;
use super::input::HELP;
use crate::chat::plain::{status_mark, text_of};
use crate::chat::printable as clean;

/// Widest the conversation list gets.
const LIST_WIDTH: u16 = 24;
/// Below this terminal width the list is hidden so the history keeps its room.
const LIST_MIN_TERMINAL: u16 = 48;

/// The time zone times are shown in.
#[derive(Debug, Clone, Copy)]
pub enum Zone {
    /// The machine's (with its daylight saving rules).
    Local,
    /// A fixed offset (tests).
    #[cfg_attr(not(test), allow(dead_code))]
    Fixed(FixedOffset),
}

impl Zone {
    /// Unix milliseconds as a date and time in this zone.
    fn at(self, millis: u64) -> NaiveDateTime {
        let utc =
            DateTime::from_timestamp_millis(i64::try_from(millis).unwrap_or(i64::MAX)).unwrap_or_default();
        match self {
            Self::Local => utc.with_timezone(&chrono::Local).naive_local(),
            Self::Fixed(offset) => utc.with_timezone(&offset).naive_local(),
        }
    }
}

/// Where each part goes on a screen of `area`.
#[derive(Debug, Clone, Copy)]
pub struct Areas {
    /// One line on top: who, the connection, the last notice.
    pub status: Rect,
    /// The conversation list (zero-sized on a narrow screen).
    pub list: Rect,
    /// The open conversation.
    pub history: Rect,
    /// The input box at the bottom.
    pub input: Rect,
}

/// The screen's layout for `area`.
pub fn areas(area: Rect) -> Areas {
    let [status, main, input] =
        Layout::vertical([Constraint::Length(1), Constraint::Min(0), Constraint::Length(3)]).areas(area);
    let list_width = if area.width < LIST_MIN_TERMINAL {
        0
    } else {
        LIST_WIDTH.min(area.width / 3)
    };
    let [list, history] =
        Layout::horizontal([Constraint::Length(list_width), Constraint::Min(0)]).areas(main);
    Areas {
        status,
        list,
        history,
        input,
    }
}

/// Message rows the history pane of a screen of `area` has (inside its border).
pub fn history_rows(area: Rect) -> usize {
    usize::from(areas(area).history.height.saturating_sub(2))
}

/// The largest scroll (messages hidden below) that still fills the history pane of a screen
/// of `area`: scrolled that far, the earliest loaded message is at the top.
pub fn max_scroll(app: &App, zone: Zone, area: Rect) -> usize {
    let inner = Block::bordered().inner(areas(area).history);
    let name = app.open_row().map(|row| clean(&row.name)).unwrap_or_default();
    max_scroll_in(app, &name, zone, inner)
}

/// [`max_scroll`] for a history pane whose inside is `inner`.
fn max_scroll_in(app: &App, name: &str, zone: Zone, inner: Rect) -> usize {
    let (width, rows) = (usize::from(inner.width), usize::from(inner.height));
    let mut count = 0;
    for (index, message) in app.messages.iter().enumerate() {
        count += message_lines(app, index, message, name, zone, width).len();
        if count >= rows {
            return app.messages.len() - index - 1;
        }
    }
    0
}

/// Draws the whole screen.
pub fn render(frame: &mut Frame, app: &App, zone: Zone) {
    let areas = areas(frame.area());
    frame.render_widget(Paragraph::new(status_line(app)), areas.status);
    if !areas.list.is_empty() {
        frame.render_widget(conversation_list(app), areas.list);
    }
    render_history(frame, app, zone, areas.history);
    render_input(frame, app, areas.input);
}

fn status_line(app: &App) -> Line<'static> {
    let (mark, color) = match &app.link {
        Link::Online => ("● online".to_owned(), Color::Green),
        Link::Connecting => ("… connecting".to_owned(), Color::Yellow),
        Link::Offline {
            reason,
            retry_in_secs,
        } => (
            format!("○ offline: {} (retrying in {retry_in_secs} s)", clean(reason)),
            Color::Red,
        ),
    };
    let mut spans = vec![
        Span::styled(
            format!(" hush · {} ", clean(&app.me)),
            Style::new().add_modifier(Modifier::BOLD),
        ),
        Span::styled(mark, Style::new().fg(color)),
    ];
    if let Some(notice) = &app.notice {
        spans.push(Span::raw(format!("  · {}", clean(notice))));
    }
    Line::from(spans)
}

fn conversation_list(app: &App) -> Paragraph<'static> {
    let lines: Vec<Line> = app
        .rows
        .iter()
        .enumerate()
        .map(|(index, row)| {
            let open = index == app.selected;
            let style = if open {
                Style::new().add_modifier(Modifier::REVERSED)
            } else {
                Style::new()
            };
            let mut spans = vec![Span::styled(
                format!("{}{}", if open { "> " } else { "  " }, clean(&row.name)),
                style,
            )];
            if row.unread > 0 {
                let unread = Style::new().add_modifier(Modifier::BOLD).fg(Color::Yellow);
                spans.push(Span::styled(format!(" ({})", row.unread), unread));
            }
            Line::from(spans)
        })
        .collect();
    Paragraph::new(lines).block(Block::bordered().title(" chats "))
}

fn render_history(frame: &mut Frame, app: &App, zone: Zone, area: Rect) {
    let name = app.open_row().map(|row| clean(&row.name)).unwrap_or_default();
    let mut block = Block::bordered().title(format!(" {name} "));
    if app.loading {
        block = block.title_bottom(" loading… ");
    } else if app.scroll > 0 {
        block = block.title_bottom(format!(" {} newer below · PgDn ", app.scroll));
    }
    let inner = block.inner(area);
    let lines = if app.messages.is_empty() && !app.loading {
        vec![Line::styled(
            "no messages yet: type one below",
            Style::new().fg(Color::DarkGray),
        )]
    } else {
        history_lines(app, &name, zone, inner)
    };
    frame.render_widget(Paragraph::new(lines).block(block), area);
}

/// The lines that fill `inner` (wrapped to its width), ending `app.scroll` messages before the
/// newest, with a date line where the day changes; scrolled back all the way, the first ones.
fn history_lines(app: &App, name: &str, zone: Zone, inner: Rect) -> Vec<Line<'static>> {
    let (width, rows) = (usize::from(inner.width), usize::from(inner.height));
    if app.scroll > 0 && app.scroll >= max_scroll_in(app, name, zone, inner) {
        let lines = app
            .messages
            .iter()
            .enumerate()
            .flat_map(|(index, message)| message_lines(app, index, message, name, zone, width));
        return lines.take(rows).collect();
    }
    let end = app.messages.len().saturating_sub(app.scroll);
    let mut blocks: Vec<Vec<Line<'static>>> = Vec::new();
    let mut count = 0;
    for index in (0..end).rev() {
        let Some(message) = app.messages.get(index) else {
            continue;
        };
        let block = message_lines(app, index, message, name, zone, width);
        count += block.len();
        blocks.push(block);
        if count >= rows {
            break;
        }
    }
    let lines: Vec<Line<'static>> = blocks.into_iter().rev().flatten().collect();
    let skip = lines.len().saturating_sub(rows);
    lines.into_iter().skip(skip).collect()
}

/// Message `index` wrapped to `width`, after a date line if its day differs from the message
/// before it.
fn message_lines(
    app: &App,
    index: usize,
    message: &StoredMessage,
    name: &str,
    zone: Zone,
    width: usize,
) -> Vec<Line<'static>> {
    let day = zone.at(message.sent_at).date();
    let previous = index.checked_sub(1).and_then(|before| app.messages.get(before));
    let mut lines = Vec::new();
    if previous.map(|previous| zone.at(previous.sent_at).date()) != Some(day) {
        lines.push(date_line(day));
    }
    lines.extend(wrap(message_spans(message, name, zone), width));
    lines
}

fn date_line(day: NaiveDate) -> Line<'static> {
    Line::styled(
        format!("── {} ──", day.format("%A %Y-%m-%d")),
        Style::new().fg(Color::DarkGray),
    )
}

/// `hh:mm who: text`, and for our own messages the highest status reached.
fn message_spans(message: &StoredMessage, name: &str, zone: Zone) -> Vec<Span<'static>> {
    let time = zone.at(message.sent_at).format("%H:%M").to_string();
    let outgoing = message.direction == Direction::Outgoing;
    let (who, color) = if outgoing {
        ("me".to_owned(), Color::Cyan)
    } else {
        (name.to_owned(), Color::Green)
    };
    let mut spans = vec![
        Span::styled(format!("{time} "), Style::new().fg(Color::DarkGray)),
        Span::styled(
            format!("{who}: "),
            Style::new().fg(color).add_modifier(Modifier::BOLD),
        ),
        Span::raw(clean(&text_of(&message.content))),
    ];
    if outgoing {
        let style = match message.status {
            MessageStatus::Failed => Style::new().fg(Color::Red),
            MessageStatus::Read => Style::new().fg(Color::Green),
            _ => Style::new().fg(Color::DarkGray),
        };
        spans.push(Span::styled(
            format!("  ({})", status_mark(message.status)),
            style,
        ));
    }
    spans
}

fn render_input(frame: &mut Frame, app: &App, area: Rect) {
    let name = app.open_row().map(|row| clean(&row.name)).unwrap_or_default();
    let block = Block::bordered()
        .title(format!(" message to {name} "))
        .title_bottom(Line::styled(
            format!(" {HELP} "),
            Style::new().fg(Color::DarkGray),
        ));
    let inner = block.inner(area);
    // Of a line longer than the box, the part around the cursor.
    let (shown, column) = app.input.window(usize::from(inner.width).saturating_sub(2));
    let shown = clean(&shown);
    frame.render_widget(Paragraph::new(format!("> {shown}")).block(block), area);
    if !inner.is_empty() {
        let x = inner
            .x
            .saturating_add(u16::try_from(column + 2).unwrap_or(u16::MAX));
        frame.set_cursor_position((x.min(inner.right().saturating_sub(1)), inner.y));
    }
}

/// `spans` cut into lines of at most `width` columns.
fn wrap(spans: Vec<Span<'static>>, width: usize) -> Vec<Line<'static>> {
    let width = width.max(1);
    let mut lines = Vec::new();
    let mut line = Vec::new();
    let mut used = 0;
    for span in spans {
        let mut piece = String::new();
        for ch in span.content.chars() {
            let columns = char_width(ch);
            if used + columns > width && used > 0 {
                if !piece.is_empty() {
                    line.push(Span::styled(std::mem::take(&mut piece), span.style));
                }
                lines.push(Line::from(std::mem::take(&mut line)));
                used = 0;
            }
            piece.push(ch);
            used += columns;
        }
        if !piece.is_empty() {
            line.push(Span::styled(piece, span.style));
        }
    }
    if !line.is_empty() || lines.is_empty() {
        lines.push(Line::from(line));
    }
    lines
}

#[cfg(test)]
#[path = "view_tests.rs"]
mod tests;
