//! Keys to state changes: Enter sends, Tab / Shift-Tab or Ctrl-N / Ctrl-P switch conversation,
//! PageUp / PageDown (a half screen) and Up / Down (one message) scroll, End returns to the
//! newest, Esc, Ctrl-C or Ctrl-D leaves; Left / Right, Home / End, Ctrl-A / Ctrl-E, Backspace, Delete
//! and Ctrl-U edit the line.

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use super::app::{Action, App};
use super::editor::Editor;

/// The key help on the input box.
pub const HELP: &str = "Enter send · Tab next chat · PgUp/PgDn scroll · Esc quit";

/// Applies `key` to `app`; returns what the runtime should do for it.
pub fn on_key(app: &mut App, key: KeyEvent) -> Option<Action> {
    if key.kind == KeyEventKind::Release {
        return None;
    }
    let control = key.modifiers.contains(KeyModifiers::CONTROL);
    match key.code {
        KeyCode::Esc => quit(app),
        KeyCode::Char('c' | 'd') if control => quit(app),
        KeyCode::Char('n') if control => app.select_next(1),
        KeyCode::Char('p') if control => app.select_next(-1),
        KeyCode::Char('u') if control => {
            app.input.take();
            None
        }
        KeyCode::Char('a') if control => edit(app, Editor::home),
        KeyCode::Char('e') if control => edit(app, Editor::end),
        KeyCode::Left => edit(app, Editor::left),
        KeyCode::Right => edit(app, Editor::right),
        KeyCode::Home => edit(app, Editor::home),
        KeyCode::Delete => edit(app, Editor::delete),
        KeyCode::Tab => app.select_next(1),
        KeyCode::BackTab => app.select_next(-1),
        KeyCode::PageUp => app.scroll_up(app.page()),
        KeyCode::Up => app.scroll_up(1),
        KeyCode::PageDown => {
            app.scroll_down(app.page());
            None
        }
        KeyCode::Down => {
            app.scroll_down(1);
            None
        }
        KeyCode::End => {
            app.scroll = 0;
            edit(app, Editor::end)
        }
        KeyCode::Enter => send(app),
        KeyCode::Backspace => edit(app, Editor::backspace),
        KeyCode::Char(c) if !control => {
            app.input.insert(c);
            None
        }
        _ => None,
    }
}

/// Pasted text goes into the line at the cursor, its line breaks and tabs as spaces: it is
/// sent only when Enter is pressed.
pub fn on_paste(app: &mut App, text: &str) {
    for ch in text.chars() {
        match ch {
            '\r' | '\n' | '\t' => app.input.insert(' '),
            ch if ch.is_control() => {}
            ch => app.input.insert(ch),
        }
    }
}

fn edit(app: &mut App, change: fn(&mut Editor)) -> Option<Action> {
    change(&mut app.input);
    None
}

fn quit(app: &mut App) -> Option<Action> {
    app.quit = true;
    None
}

/// The typed line goes to the open conversation (a blank one is not sent).
fn send(app: &mut App) -> Option<Action> {
    if app.input.text().trim().is_empty() {
        return None;
    }
    let peer = app.open_peer()?;
    let text = app.input.take();
    Some(Action::Send { peer, text })
}
