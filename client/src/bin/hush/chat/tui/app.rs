//! The chat screen's state: a plain struct changed by pure functions (an event in, the state
//! and the actions the runtime should carry out out), so it is tested without a terminal.

use hush_client::{Address, HistoryEntry, MessageId, MessageStatus, StoredMessage};

use super::editor::Editor;

/// Messages loaded per history page (when a conversation opens, and per page scrolled back).
pub const PAGE: usize = 50;

/// How a send error's notice starts.
const NOT_SENT: &str = "not sent: ";

/// The relay connection as the status bar shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Link {
    /// Connecting and logging in (also before the first attempt has an outcome).
    Connecting,
    /// Logged in.
    Online,
    /// Not connected: why, and when the next attempt starts.
    Offline {
        /// The connection error.
        reason: String,
        /// Seconds until the next attempt.
        retry_in_secs: u64,
    },
}

/// One conversation in the list on the left.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    /// The other party.
    pub peer: Address,
    /// The contact name, or the address.
    pub name: String,
    /// Messages from them not read yet.
    pub unread: usize,
}

/// What the runtime should do for the state (it feeds the outcome back through `on_*`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Send `text` to `peer`, then [`App::on_sent`].
    Send {
        /// To whom.
        peer: Address,
        /// The typed line.
        text: String,
    },
    /// Load the latest page of `peer`'s history ([`App::on_history`]) and mark it read.
    Open {
        /// The conversation opened.
        peer: Address,
    },
    /// Load the page before position `before` ([`App::on_history`] with `earlier`).
    LoadEarlier {
        /// The open conversation.
        peer: Address,
        /// The position of the earliest message loaded.
        before: u64,
    },
    /// Mark what `peer` sent read (it arrived in the open conversation).
    MarkRead {
        /// The open conversation.
        peer: Address,
    },
}

/// The whole screen's state.
#[derive(Debug, Clone)]
pub struct App {
    /// Our own profile's name on the status bar.
    pub me: String,
    /// Conversations, most recent first.
    pub rows: Vec<Row>,
    /// The open conversation's index in `rows`.
    pub selected: usize,
    /// The open conversation's loaded messages, oldest first.
    pub messages: Vec<StoredMessage>,
    /// The history position of `messages[0]`, for loading the page before it.
    pub oldest: Option<u64>,
    /// Whether `messages` starts at the conversation's first message.
    pub complete: bool,
    /// Whether a page is being loaded (no second request meanwhile).
    pub loading: bool,
    /// Messages hidden below the view: 0 follows the newest message.
    pub scroll: usize,
    /// The line being typed. Nothing but keys changes it.
    pub input: Editor,
    /// The connection state.
    pub link: Link,
    /// The last thing worth telling (a send error, a session reset).
    pub notice: Option<String>,
    /// Rows the history pane has, for page sizes (set by the runtime from the terminal size).
    pub history_rows: usize,
    /// The largest `scroll` that still fills the pane (set by the runtime from the layout).
    pub max_scroll: usize,
    /// Set once the user asked to leave.
    pub quit: bool,
}

impl App {
    /// A screen with `rows`, `selected` open (its history not loaded yet: carry out the
    /// returned action).
    pub fn new(me: String, rows: Vec<Row>, selected: usize) -> (Self, Option<Action>) {
        let mut app = Self {
            me,
            rows,
            selected: 0,
            messages: Vec::new(),
            oldest: None,
            complete: false,
            loading: false,
            scroll: 0,
            input: Editor::default(),
            link: Link::Connecting,
            notice: None,
            history_rows: 10,
            max_scroll: 0,
            quit: false,
        };
        let action = app.select(selected);
        (app, action)
    }

    /// The open conversation.
    pub fn open_peer(&self) -> Option<Address> {
        self.rows.get(self.selected).map(|row| row.peer)
    }

    /// The open conversation's row.
    pub fn open_row(&self) -> Option<&Row> {
        self.rows.get(self.selected)
    }

    /// Opens conversation `index`: its messages are loaded by the returned action, and it is
    /// read from now on.
    pub fn select(&mut self, index: usize) -> Option<Action> {
        let row = self.rows.get_mut(index)?;
        row.unread = 0;
        let peer = row.peer;
        self.selected = index;
        self.messages.clear();
        self.oldest = None;
        self.complete = false;
        self.loading = true;
        self.scroll = 0;
        Some(Action::Open { peer })
    }

    /// Opens the next conversation (`step` 1) or the previous one (`step` -1), wrapping.
    pub fn select_next(&mut self, step: isize) -> Option<Action> {
        let count = self.rows.len();
        if count < 2 {
            return None;
        }
        let index = (self.selected + count).checked_add_signed(step)? % count;
        self.select(index)
    }

    /// A history page arrived: the latest one (replacing what is shown) or, with `earlier`, the
    /// one before the loaded messages. A page for a conversation no longer open is dropped.
    pub fn on_history(&mut self, peer: Address, page: Vec<HistoryEntry>, earlier: bool) {
        if self.open_peer() != Some(peer) {
            return;
        }
        self.loading = false;
        self.complete = page.len() < PAGE;
        if let Some(first) = page.first() {
            self.oldest = Some(first.position);
        }
        let page = page.into_iter().map(|entry| entry.message);
        if earlier {
            // `scroll` counts from the newest message, so the view stays where it was.
            let mut messages: Vec<StoredMessage> = page.collect();
            messages.append(&mut self.messages);
            self.messages = messages;
        } else {
            self.messages = page.collect();
            self.scroll = 0;
        }
    }

    /// A message arrived: shown (and to be marked read) if its conversation is open, counted as
    /// unread otherwise; its conversation moves to the top. `name` names a new conversation.
    pub fn on_incoming(&mut self, message: StoredMessage, name: &str) -> Option<Action> {
        let peer = message.peer;
        let open = self.open_peer() == Some(peer);
        self.touch(peer, name);
        if !open {
            if let Some(row) = self.rows.first_mut() {
                row.unread += 1;
            }
            return None;
        }
        if self.push(message) && self.scroll > 0 {
            // The reader is looking at earlier messages: keep them in place.
            self.scroll += 1;
        }
        Some(Action::MarkRead { peer })
    }

    /// One of ours was queued: shown if its conversation is open; the conversation moves up.
    /// An earlier send error is no longer news.
    pub fn on_sent(&mut self, message: StoredMessage, name: &str) {
        if self
            .notice
            .as_deref()
            .is_some_and(|notice| notice.starts_with(NOT_SENT))
        {
            self.notice = None;
        }
        let open = self.open_peer() == Some(message.peer);
        self.touch(message.peer, name);
        if open {
            self.push(message);
            self.scroll = 0;
        }
    }

    /// One of ours moved on. Statuses only move forward: a late `delivered` after `read` (the
    /// read receipt can overtake it) leaves `read`.
    pub fn on_status(&mut self, id: MessageId, status: MessageStatus) {
        if let Some(message) = self.messages.iter_mut().find(|message| message.id == id) {
            message.status = message.status.max(status);
        }
    }

    /// Sending `text` failed with `error`: the line goes back into the input box (unless
    /// something new was typed meanwhile) and the error is shown.
    pub fn on_send_failed(&mut self, text: String, error: &str) {
        if self.input.is_empty() {
            self.input.set(text);
        }
        self.notice = Some(format!("{NOT_SENT}{error}"));
    }

    /// The connection changed state.
    pub fn on_link(&mut self, link: Link) {
        self.link = link;
    }

    /// Scrolls towards earlier messages by `count` (as far as the earliest loaded one at the
    /// top); asks for the page before the loaded ones once less than a screenful is left above.
    pub fn scroll_up(&mut self, count: usize) -> Option<Action> {
        self.scroll = (self.scroll + count).min(self.max_scroll);
        let above = self.messages.len().saturating_sub(self.scroll);
        if above > self.history_rows || self.complete || self.loading {
            return None;
        }
        let before = self.oldest?;
        let peer = self.open_peer()?;
        self.loading = true;
        Some(Action::LoadEarlier { peer, before })
    }

    /// Scrolls towards the newest message by `count`.
    pub fn scroll_down(&mut self, count: usize) {
        self.scroll = self.scroll.saturating_sub(count);
    }

    /// Rows scrolled by PageUp/PageDown.
    pub fn page(&self) -> usize {
        (self.history_rows / 2).max(1)
    }

    /// Our messages in the open conversation that still wait in the outbox.
    pub fn queued(&self) -> usize {
        self.messages
            .iter()
            .filter(|message| message.status == MessageStatus::Queued)
            .count()
    }

    /// Appends `message` unless it is shown already; says whether it was new.
    fn push(&mut self, message: StoredMessage) -> bool {
        if self.messages.iter().any(|shown| shown.id == message.id) {
            return false;
        }
        self.messages.push(message);
        true
    }

    /// Moves `peer`'s row to the top (adding it, named `name`, if new), keeping the open
    /// conversation selected.
    fn touch(&mut self, peer: Address, name: &str) {
        let open = self.open_peer();
        let row = match self.rows.iter().position(|row| row.peer == peer) {
            Some(index) => self.rows.remove(index),
            None => Row {
                peer,
                name: name.to_owned(),
                unread: 0,
            },
        };
        self.rows.insert(0, row);
        if let Some(open) = open
            && let Some(index) = self.rows.iter().position(|row| row.peer == open)
        {
            self.selected = index;
        }
    }
}

#[cfg(test)]
#[path = "app_tests.rs"]
pub(crate) mod tests;
