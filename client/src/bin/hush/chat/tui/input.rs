//! Keys to state changes: Enter sends, Tab / Shift-Tab or Ctrl-N / Ctrl-P switch conversation,
//! PageUp / PageDown (a half screen) and Up / Down (one message) scroll, Esc or Ctrl-C leaves.

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use super::app::{Action, App};

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
            app.input.clear();
            None
        }
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
            None
        }
        KeyCode::Enter => send(app),
        KeyCode::Backspace => {
            app.input.pop();
            None
        }
        KeyCode::Char(c) if !control => {
            app.input.push(c);
            None
        }
        _ => None,
    }
}

fn quit(app: &mut App) -> Option<Action> {
    app.quit = true;
    None
}

/// The typed line goes to the open conversation (a blank one is not sent).
fn send(app: &mut App) -> Option<Action> {
    if app.input.trim().is_empty() {
        return None;
    }
    let peer = app.open_peer()?;
    let text = std::mem::take(&mut app.input);
    Some(Action::Send { peer, text })
}
