//! `hush chat --group NAME`: the line mode for a group. Typed lines go to every member device;
//! incoming lines name their author and are marked read as they are shown (each author gets a
//! read receipt); our lines say how far they got (`delivered to 2 of 3, read by 1 of 3`); a
//! change of members or name is printed as it arrives.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use anyhow::Result;
use hush_client::{
    Address, ClientEvent, ConnectionState, Content, Direction, Event, GroupId, GroupRole, GroupState,
    MessageId, StoredMessage,
};
use tokio::io::{AsyncBufReadExt, BufReader};

use super::plain::{LEAVE_WAIT, sleep_until_opt, status_mark, text_of};
use crate::profile::Profile;

/// History lines shown when the chat opens.
const BACKLOG: usize = 20;

/// One group line: `[hh:mm:ss] author: text  (status)` (status for our own messages only).
pub fn format_line(message: &StoredMessage, author: &str) -> String {
    let seconds = message.sent_at / 1000;
    let clock = format!(
        "{:02}:{:02}:{:02}",
        (seconds / 3600) % 24,
        (seconds / 60) % 60,
        seconds % 60
    );
    let text = super::printable(&text_of(&message.content));
    let author = super::printable(author);
    match message.direction {
        Direction::Outgoing => format!("[{clock}] me: {text}  ({})", status_mark(message.status)),
        _ => format!("[{clock}] {author}: {text}"),
    }
}

/// The members line: names other than ours, admins marked; `None` if we are not a member.
async fn members_line(profile: &Profile, state: &GroupState, me: &Address) -> Result<Option<String>> {
    let mut names = Vec::new();
    let mut member = false;
    for (account, role) in state.members() {
        let address = Address::from_bytes(*account.as_bytes())?;
        if address == *me {
            member = true;
            continue;
        }
        let name = super::printable(&profile.display_name(&address).await?);
        names.push(if *role == GroupRole::Admin {
            format!("{name} (admin)")
        } else {
            name
        });
    }
    Ok(member.then(|| names.join(", ")))
}

/// The author's name for an incoming group message, from the event that preceded it or the
/// store.
async fn author_name(
    profile: &Profile,
    authors: &mut HashMap<MessageId, Address>,
    id: MessageId,
) -> Result<String> {
    let author = match authors.remove(&id) {
        Some(author) => Some(author),
        None => profile.client.group_author(id).await?,
    };
    Ok(match author {
        Some(author) => profile.display_name(&author).await?,
        None => "?".to_owned(),
    })
}

async fn current(profile: &Profile, group: GroupId) -> Result<Option<GroupState>> {
    Ok(profile
        .client
        .groups()
        .await?
        .into_iter()
        .find(|state| state.id() == group))
}

pub async fn run(dir: &Path, group: &str) -> Result<()> {
    let mut profile = Profile::open(dir).await?;
    let state = crate::commands::group::find(&profile, group).await?;
    let group = state.id();
    let conversation = group.conversation();
    let me = profile.client.account_address().await?;
    let mut authors: HashMap<MessageId, Address> = HashMap::new();
    for entry in profile.client.group_history(group, None, BACKLOG).await? {
        let author = author_name(&profile, &mut authors, entry.message.id).await?;
        println!("{}", format_line(&entry.message, &author));
    }
    profile.client.mark_group_read(group).await?;
    let name = super::printable(state.name());
    let mut member = match members_line(&profile, &state, &me).await? {
        Some(members) => {
            println!(
                "-- chatting in {name} with {members}; type a line and press enter to send, Ctrl-D to leave --"
            );
            true
        }
        None => {
            println!("-- {name}: you are no longer a member; new lines cannot be sent --");
            false
        }
    };
    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    let mut stdin_open = true;
    // As in the 1:1 line mode: on end of input, wait (a bounded time) for what we queued.
    let mut unsent: HashSet<MessageId> = HashSet::new();
    let mut leave_by = None;
    loop {
        tokio::select! {
            line = lines.next_line(), if stdin_open => match line? {
                Some(line) if line.trim().is_empty() => {}
                Some(line) if line.trim() == "/members" => {
                    match current(&profile, group).await? {
                        Some(state) => match members_line(&profile, &state, &me).await? {
                            Some(members) => println!("  members: me, {members}"),
                            None => println!("  you are no longer a member"),
                        },
                        None => println!("  ! the group is gone"),
                    }
                }
                Some(line) if line.starts_with('/') => {
                    println!("  ! unknown command; in a group: /members");
                }
                Some(line) => match profile.client.send_group(group, Content::text(line)).await {
                    Ok(id) => {
                        unsent.insert(id);
                        println!("  · {} queued", short(&id.to_string()));
                    }
                    Err(error) => println!("  ! not sent: {error}"),
                },
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
                Some(ClientEvent::Core(Event::GroupMessageFrom { group: about, id, author })) if about == group => {
                    authors.insert(id, author);
                }
                Some(ClientEvent::Core(Event::MessageReceived(message))) => {
                    if message.peer == conversation {
                        let author = author_name(&profile, &mut authors, message.id).await?;
                        println!("{}", format_line(&message, &author));
                        profile.client.mark_group_read(group).await?;
                    } else if let Some(other) = incoming_elsewhere(&profile, &message).await? {
                        println!("  (new message from {other})");
                    }
                }
                Some(ClientEvent::Core(Event::StatusChanged { id, peer: about, status })) if about == conversation => {
                    unsent.remove(&id);
                    println!("  · {} {}", short(&id.to_string()), status_mark(status));
                }
                Some(ClientEvent::Core(Event::GroupReceiptsChanged { id, receipts })) if receipts.group == group => {
                    println!(
                        "  · {} delivered to {} of {}, read by {} of {}",
                        short(&id.to_string()),
                        receipts.delivered,
                        receipts.members,
                        receipts.read,
                        receipts.members
                    );
                }
                Some(ClientEvent::Core(Event::GroupChanged { group: about })) if about == group => {
                    if let Some(state) = current(&profile, group).await? {
                        match members_line(&profile, &state, &me).await? {
                            Some(members) => {
                                member = true;
                                println!("  (group {} now: me, {members})", super::printable(state.name()));
                            }
                            None if member => {
                                member = false;
                                println!("  ! you are no longer a member of {}", super::printable(state.name()));
                            }
                            None => {}
                        }
                    }
                }
                Some(ClientEvent::Connection(ConnectionState::Online)) => println!("  (online)"),
                Some(ClientEvent::Connection(ConnectionState::Offline { reason, retry_in })) => {
                    println!("  (offline: {reason}; retrying in {} ms)", retry_in.as_millis());
                }
                Some(ClientEvent::Stopped(reason)) => {
                    println!("  ! stopped: {reason}");
                    break;
                }
                Some(_) => {}
            },
        }
        if !stdin_open && unsent.is_empty() {
            break;
        }
    }
    profile.client.shutdown().await?;
    Ok(())
}

/// Who wrote `message` if it belongs to another conversation (a 1:1 or another group).
async fn incoming_elsewhere(profile: &Profile, message: &StoredMessage) -> Result<Option<String>> {
    if message.direction != Direction::Incoming {
        return Ok(None);
    }
    let groups = profile.client.groups().await?;
    if let Some(other) = groups
        .iter()
        .find(|state| state.id().conversation() == message.peer)
    {
        return Ok(Some(format!("the group {}", super::printable(other.name()))));
    }
    Ok(Some(super::printable(
        &profile.display_name(&message.peer).await?,
    )))
}

fn short(id: &str) -> &str {
    id.get(..8).unwrap_or(id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use hush_client::MessageStatus;

    #[test]
    fn an_authors_name_and_text_cannot_move_the_cursor() {
        let message = StoredMessage {
            id: MessageId([2; 16]),
            peer: "hush:1ff0f54088ed96d160ca723802313f32b9cf089eb3974928c337a27bad203a1b"
                .parse()
                .unwrap(),
            direction: Direction::Incoming,
            conv_seq: 1,
            sent_at: 3_723_000,
            stored_at: 0,
            content: Content::text("hi\u{1b}[2J"),
            status: MessageStatus::Received,
        };
        assert_eq!(
            format_line(&message, "bo\u{1b}b"),
            "[01:02:03] bo\u{fffd}b: hi\u{fffd}[2J"
        );
    }
}
