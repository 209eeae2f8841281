//! `hush chat --plain`: the line mode, for scripts (and wherever standard input or output is not
//! a terminal): typed lines are sent, incoming messages and status marks are printed as lines.

use std::path::Path;

use anyhow::Result;
use hush_client::{
    Address, ClientEvent, ConnectionState, Content, Direction, Event, MessageStatus, StoredMessage,
};
use tokio::io::{AsyncBufReadExt, BufReader};

use crate::profile::Profile;

/// Longest wait, once input ends, for our last messages to reach the relay.
pub(super) const LEAVE_WAIT: std::time::Duration = std::time::Duration::from_secs(10);
/// History lines shown when the chat opens.
const BACKLOG: usize = 20;

/// One history line: `[hh:mm:ss] name: text  (status)  #tag`.
pub fn format_message(message: &StoredMessage, peer_name: &str) -> String {
    let seconds = message.sent_at / 1000;
    let clock = format!(
        "{:02}:{:02}:{:02}",
        (seconds / 3600) % 24,
        (seconds / 60) % 60,
        seconds % 60
    );
    let who = match message.direction {
        Direction::Incoming => peer_name,
        _ => "me",
    };
    let text = super::printable(&text_of(&message.content));
    let tag = super::surface::tag(&message.id);
    match message.direction {
        Direction::Outgoing => format!(
            "[{clock}] {who}: {text}  ({})  #{tag}",
            status_mark(message.status)
        ),
        _ => format!("[{clock}] {who}: {text}  #{tag}"),
    }
}

/// The mark of a status change. Statuses only move forward, so a read receipt that overtakes
/// the delivered one is the only word of either: it says both.
fn status_change_mark(status: MessageStatus, delivered_shown: bool) -> &'static str {
    match status {
        MessageStatus::Read if !delivered_shown => "delivered, read",
        status => status_mark(status),
    }
}

/// What a message says, as text.
pub(super) fn text_of(content: &Content) -> String {
    super::surface::shown(content).unwrap_or_else(|| format!("<unsupported content: {content:?}>"))
}

/// The word for a status of one of our messages.
pub(super) fn status_mark(status: MessageStatus) -> &'static str {
    match status {
        MessageStatus::Queued => "queued",
        MessageStatus::Sent => "sent",
        MessageStatus::Delivered => "delivered",
        MessageStatus::Read => "read",
        MessageStatus::Failed => "FAILED",
        _ => "",
    }
}

pub async fn run(dir: &Path, with: &str) -> Result<()> {
    let mut profile = Profile::open(dir).await?;
    let peer: Address = profile.resolve(with).await?;
    let name = profile.display_name(&peer).await?;
    let names = |address: &Address| {
        if *address == peer {
            name.clone()
        } else {
            "me".to_string()
        }
    };
    for entry in profile.client.history(peer, None, BACKLOG).await? {
        let extra = super::surface::annotations(&profile.client, entry.message.id, &names).await?;
        println!("{}{extra}", format_message(&entry.message, &name));
    }
    profile.client.mark_read(peer).await?;
    println!("-- chatting with {name}; type a line and press enter to send, Ctrl-D to leave --");
    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    let mut stdin_open = true;
    // Our messages the relay has not stored yet; on end of input we wait (a bounded time) for
    // them, so a line typed just before Ctrl-D is on its way when the chat exits.
    let mut unsent = std::collections::HashSet::new();
    let mut delivered_shown = std::collections::HashSet::new();
    let mut leave_by = None;
    loop {
        tokio::select! {
            line = lines.next_line(), if stdin_open => match line? {
                Some(line) if line.trim().is_empty() => {}
                Some(line) if super::typing::is_presence_command(&line) => {
                    println!("{}", super::typing::presence_command(&profile.client, &line).await);
                }
                Some(line) if line.starts_with('/') => {
                    match super::surface::command(&profile.client, peer, &line).await {
                        Some(Ok(done)) => println!("{done}"),
                        Some(Err(error)) => println!("  ! {error}"),
                        None => println!("  ! unknown command; /react, /unreact, /edit, /delete, /reply, /thread, /show, /timer, /presence"),
                    }
                }
                Some(line) => {
                    // A line mode sees a line only once it is typed: "typing" goes just before it.
                    super::typing::typed(&profile.client, peer).await;
                    match profile.client.send(peer, Content::text(line)).await {
                        Ok(id) => {
                            unsent.insert(id);
                            println!("  · {} queued", short(&id.to_string()));
                        }
                        Err(error) => println!("  ! not sent: {error}"),
                    }
                }
                None => {
                    stdin_open = false;
                    leave_by = Some(tokio::time::Instant::now() + LEAVE_WAIT);
                }
            },
            () = sleep_until_opt(leave_by) => {
                println!("  (leaving with {} message(s) still queued; they are sent next time)", unsent.len());
                break;
            }
            event = profile.events.next() => match event {
                None => break,
                Some(ClientEvent::Core(Event::MessageReceived(message))) => {
                    if message.peer == peer {
                        println!("{}", format_message(&message, &name));
                        profile.client.mark_read(peer).await?;
                    } else {
                        let other = profile.display_name(&message.peer).await?;
                        println!("  (new message from {other})");
                    }
                }
                Some(ClientEvent::Core(Event::StatusChanged { id, peer: about, status })) if about == peer => {
                    unsent.remove(&id);
                    // Read is the last status: the id need not be remembered past it.
                    let mark = match status {
                        MessageStatus::Delivered => {
                            delivered_shown.insert(id);
                            status_change_mark(status, true)
                        }
                        status => status_change_mark(status, delivered_shown.remove(&id)),
                    };
                    println!("  · {} {}", short(&id.to_string()), mark);
                }
                Some(ClientEvent::Core(event)) if super::typing::event_line(&event, &peer, &name).is_some() => {
                    println!("{}", super::typing::event_line(&event, &peer, &name).unwrap_or_default());
                }
                Some(ClientEvent::Core(event)) if super::surface::event_line(&event, &peer, &name).is_some() => {
                    println!("{}", super::surface::event_line(&event, &peer, &name).unwrap_or_default());
                }
                Some(ClientEvent::Core(Event::SessionReset { peer: about, started_here })) if about == peer => {
                    let by = if started_here { "this device" } else { "the other side" };
                    println!("  (session started over by {by}; unconfirmed messages are sent again)");
                }
                Some(ClientEvent::Core(Event::Dropped { claimed_from: Some(claimed), reason }))
                    if claimed.claimed_address() == peer =>
                {
                    // The name on a dropped envelope is only a claim: say so.
                    println!("  ! dropped an envelope claiming to be from {name}: {reason:?}");
                }
                Some(ClientEvent::Connection(ConnectionState::Online)) => println!("  (online)"),
                Some(ClientEvent::Connection(ConnectionState::Offline { reason, retry_in })) => {
                    println!("  (offline: {reason}; retrying in {} ms)", retry_in.as_millis());
                }
                Some(ClientEvent::ContactIdentityChanged { name, accepted, .. }) => {
                    println!("  ! {name}'s address changed (accepted: {accepted}); compare safety numbers again");
                }
                Some(ClientEvent::Expired(expired)) => {
                    let here = expired.iter().filter(|expired| expired.peer == peer).count();
                    if here > 0 {
                        println!("  ⌛ {here} message(s) disappeared");
                    }
                }
                Some(ClientEvent::Stopped(reason)) => {
                    println!("  ! stopped: {reason}");
                    break;
                }
                Some(_) => {}
            },
        }
        if !stdin_open && unsent.is_empty() {
            // Input ended (Ctrl-D or a closed pipe) and the relay has everything we sent.
            break;
        }
    }
    profile.client.shutdown().await?;
    Ok(())
}

/// Waits until `at`, or for ever.
pub(super) async fn sleep_until_opt(at: Option<tokio::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

fn short(id: &str) -> &str {
    id.get(..8).unwrap_or(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_peers_escape_sequences_are_not_printed() {
        let message = StoredMessage {
            id: hush_client::MessageId([1; 16]),
            peer: "hush:1ff0f54088ed96d160ca723802313f32b9cf089eb3974928c337a27bad203a1b"
                .parse()
                .unwrap(),
            direction: Direction::Incoming,
            conv_seq: 1,
            sent_at: 0,
            stored_at: 0,
            content: Content::text("hi\u{1b}]0;pwned\u{7}\n[00:00:00] me: fake"),
            status: MessageStatus::Received,
        };
        assert_eq!(
            format_message(&message, "bob"),
            "[00:00:00] bob: hi\u{fffd}]0;pwned\u{fffd}\u{fffd}[00:00:00] me: fake  #01010101"
        );
    }

    #[test]
    fn a_read_receipt_that_overtakes_the_delivered_one_shows_both() {
        assert_eq!(status_change_mark(MessageStatus::Read, false), "delivered, read");
        assert_eq!(status_change_mark(MessageStatus::Read, true), "read");
        assert_eq!(status_change_mark(MessageStatus::Delivered, false), "delivered");
        assert_eq!(status_change_mark(MessageStatus::Sent, false), "sent");
    }
}
