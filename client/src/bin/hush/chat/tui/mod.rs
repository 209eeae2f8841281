//! `hush chat` at a terminal: every conversation on one screen. The state ([`app`]) changes
//! only through pure functions; this runtime feeds it keys ([`input`]) and client events,
//! carries out the [`Action`]s it returns and draws it ([`view`]) on the [`Screen`].

mod app;
mod editor;
mod input;
mod keys;
mod screen;
mod view;

use std::collections::VecDeque;
use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use crossterm::event::Event as TerminalEvent;
use hush_client::{Address, ClientEvent, ConnectionState, Content, Event, MessageId, StoredMessage};
use ratatui::layout::Rect;
use tokio::signal::unix::{SignalKind, signal};

use self::app::{Action, App, Link, PAGE, Row};
use self::keys::TerminalEvents;
use self::screen::Screen;
use self::view::Zone;
use crate::chat::plain::sleep_until_opt;
use crate::profile::Profile;

/// Longest wait, when leaving with messages still in the outbox, for the relay to take them.
const LEAVE_WAIT: Duration = Duration::from_secs(5);
/// Our latest messages searched for the one just queued (others may arrive meanwhile).
const SENT_SEARCH: usize = 16;

/// Runs the chat screen with `with` open. The passphrase is asked (if it is) before the screen
/// takes the terminal; the terminal is restored before any error is returned.
pub async fn run(dir: &Path, with: &str) -> Result<()> {
    let mut profile = Profile::open(dir).await?;
    let outcome = chat(&mut profile, dir, with).await;
    profile.client.shutdown().await?;
    outcome
}

async fn chat(profile: &mut Profile, dir: &Path, with: &str) -> Result<()> {
    let peer = profile.resolve(with).await?;
    let rows = conversation_rows(profile, peer).await?;
    let selected = rows.iter().position(|row| row.peer == peer).unwrap_or(0);
    let me = dir
        .file_name()
        .map_or_else(|| "me".to_owned(), |name| name.to_string_lossy().into_owned());
    let (mut app, open) = App::new(me, rows, selected);
    let mut screen = Screen::enter().context("cannot take over the terminal")?;
    let outcome = session(profile, &mut app, &mut screen, open).await;
    drop(screen);
    outcome
}

/// Conversations with messages (most recent first), then contacts without any, then `open`
/// if it is neither.
async fn conversation_rows(profile: &Profile, open: Address) -> Result<Vec<Row>> {
    let mut peers = profile.client.conversations().await?;
    for contact in profile.client.contacts().await? {
        if !peers.contains(&contact.address) {
            peers.push(contact.address);
        }
    }
    if !peers.contains(&open) {
        peers.push(open);
    }
    let mut rows = Vec::with_capacity(peers.len());
    for peer in peers {
        let name = profile.display_name(&peer).await?;
        let unread = profile.client.unread_count(peer).await?;
        rows.push(Row { peer, name, unread });
    }
    Ok(rows)
}

async fn session(
    profile: &mut Profile,
    app: &mut App,
    screen: &mut Screen,
    first: Option<Action>,
) -> Result<()> {
    let mut terminal_events = TerminalEvents::start();
    let mut hangup = signal(SignalKind::hangup()).context("cannot watch for hangups")?;
    let mut terminate = signal(SignalKind::terminate()).context("cannot watch for SIGTERM")?;
    let mut actions: VecDeque<Action> = first.into_iter().collect();
    let mut leave_by = None;
    loop {
        while let Some(action) = actions.pop_front() {
            perform(profile, app, action).await;
        }
        if app.quit {
            if leave_by.is_some() || app.queued() == 0 {
                break;
            }
            // Leaving right after typing: give the relay a moment to take the last lines.
            app.quit = false;
            leave_by = Some(tokio::time::Instant::now() + LEAVE_WAIT);
            app.notice = Some(format!(
                "sending {} queued message(s) before leaving; Esc again leaves now (they are sent next time)",
                app.queued()
            ));
        }
        if leave_by.is_some() && app.queued() == 0 {
            break;
        }
        let size = screen.terminal.size().context("cannot read the terminal size")?;
        let area = Rect::new(0, 0, size.width, size.height);
        app.history_rows = view::history_rows(area);
        app.max_scroll = view::max_scroll(app, Zone::Local, area);
        app.scroll = app.scroll.min(app.max_scroll);
        screen
            .terminal
            .draw(|frame| view::render(frame, app, Zone::Local))
            .context("cannot draw the chat screen")?;
        tokio::select! {
            event = terminal_events.next() => match event {
                Some(Ok(TerminalEvent::Key(key))) => actions.extend(input::on_key(app, key)),
                Some(Ok(TerminalEvent::Paste(text))) => input::on_paste(app, &text),
                // A resize (or focus, mouse): the next draw fits the new size.
                Some(Ok(_)) => {}
                Some(Err(error)) => return Err(error).context("cannot read the terminal"),
                None => break,
            },
            event = profile.events.next() => match event {
                Some(event) => actions.extend(on_client_event(profile, app, event).await?),
                None => break,
            },
            () = sleep_until_opt(leave_by) => break,
            _ = hangup.recv() => break,
            _ = terminate.recv() => break,
        }
    }
    Ok(())
}

/// Carries out `action`; what comes of it goes back into `app` (errors as a notice).
async fn perform(profile: &Profile, app: &mut App, action: Action) {
    let client = &profile.client;
    match action {
        Action::Send { peer, text } => match client.send(peer, Content::text(text.clone())).await {
            Ok(id) => match sent_message(profile, peer, id).await {
                Ok(Some(message)) => {
                    let name = app.open_row().map(|row| row.name.clone()).unwrap_or_default();
                    app.on_sent(message, &name);
                }
                Ok(None) => app.notice = Some("queued, but not found in the history".to_owned()),
                Err(error) => app.notice = Some(format!("queued, but cannot read the history: {error}")),
            },
            Err(error) => app.on_send_failed(text, &error.to_string()),
        },
        Action::Open { peer } => {
            match client.history(peer, None, PAGE).await {
                Ok(page) => app.on_history(peer, page, false),
                Err(error) => app.notice = Some(format!("cannot read the history: {error}")),
            }
            mark_read(profile, app, peer).await;
        }
        Action::LoadEarlier { peer, before } => match client.history(peer, Some(before), PAGE).await {
            Ok(page) => app.on_history(peer, page, true),
            Err(error) => app.notice = Some(format!("cannot read the history: {error}")),
        },
        Action::MarkRead { peer } => mark_read(profile, app, peer).await,
    }
}

async fn mark_read(profile: &Profile, app: &mut App, peer: Address) {
    if let Err(error) = profile.client.mark_read(peer).await {
        app.notice = Some(format!("cannot mark read: {error}"));
    }
}

/// The message `send` just queued, as the history holds it.
async fn sent_message(profile: &Profile, peer: Address, id: MessageId) -> Result<Option<StoredMessage>> {
    let latest = profile.client.history(peer, None, SENT_SEARCH).await?;
    Ok(latest
        .into_iter()
        .map(|entry| entry.message)
        .find(|message| message.id == id))
}

/// Applies a client event; a stopped client ends the chat with its reason.
async fn on_client_event(profile: &Profile, app: &mut App, event: ClientEvent) -> Result<Option<Action>> {
    match event {
        ClientEvent::Core(Event::MessageReceived(message)) => {
            let name = profile.display_name(&message.peer).await?;
            return Ok(app.on_incoming(message, &name));
        }
        ClientEvent::Core(Event::StatusChanged { id, status, .. }) => app.on_status(id, status),
        ClientEvent::Core(Event::SessionReset { peer, started_here }) => {
            let name = profile.display_name(&peer).await?;
            let by = if started_here {
                "this device"
            } else {
                "the other side"
            };
            app.notice = Some(format!(
                "session with {name} started over by {by}; unconfirmed messages are sent again"
            ));
        }
        ClientEvent::Core(Event::Dropped {
            claimed_from: Some(claimed),
            reason,
        }) => {
            // The name on a dropped envelope is only a claim: say so.
            let name = profile.display_name(&claimed.claimed_address()).await?;
            app.notice = Some(format!(
                "dropped an envelope claiming to be from {name}: {reason:?}"
            ));
        }
        ClientEvent::Core(event @ (Event::Typing { .. } | Event::PresenceChanged { .. })) => {
            // About the open conversation only: "bob is typing…", "(bob is online)".
            if let Some(peer) = app.open_peer() {
                let name = profile.display_name(&peer).await?;
                match super::typing::event_line(&event, &peer, &name) {
                    Some(line) => app.notice = Some(line.trim().to_owned()),
                    None if app.notice.as_deref().is_some_and(|n| n.ends_with("is typing…")) => {
                        app.notice = None
                    }
                    None => {}
                }
            }
        }
        ClientEvent::Connection(state) => app.on_link(link_of(state)),
        ClientEvent::ContactIdentityChanged { name, accepted, .. } => {
            app.notice = Some(format!(
                "{name}'s address changed (accepted: {accepted}); compare safety numbers again"
            ));
        }
        ClientEvent::Stopped(reason) => bail!("the client stopped: {reason}"),
        _ => {}
    }
    Ok(None)
}

fn link_of(state: ConnectionState) -> Link {
    match state {
        ConnectionState::Online => Link::Online,
        ConnectionState::Offline { reason, retry_in } => Link::Offline {
            reason,
            retry_in_secs: retry_in.as_millis().div_ceil(1000).try_into().unwrap_or(u64::MAX),
        },
        _ => Link::Connecting,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_status_bar_rounds_the_retry_up_and_knows_every_state() {
        let offline = ConnectionState::Offline {
            reason: "timed out".into(),
            retry_in: Duration::from_millis(2_100),
        };
        assert_eq!(
            link_of(offline),
            Link::Offline {
                reason: "timed out".into(),
                retry_in_secs: 3
            }
        );
        assert_eq!(link_of(ConnectionState::Online), Link::Online);
        assert_eq!(link_of(ConnectionState::Connecting), Link::Connecting);
    }
}
