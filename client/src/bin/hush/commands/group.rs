//! `hush group create|add|remove|leave|list|send|history`: groups of contacts. A group is named
//! by its name (if no other group of ours has it) or by the start of its id as `list` prints it.

use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use hush_client::{ClientEvent, Content, Direction, Event, GroupId, GroupRole, GroupState, MessageStatus};

use super::{QUIET, fetch, with_profile};
use crate::profile::Profile;

/// How long `group send` waits for the relay to store the message before leaving it queued.
const SEND_WAIT: Duration = Duration::from_secs(10);

/// The group's id as the commands print and take it: 32 hex digits.
fn id_text(id: &GroupId) -> String {
    id.0.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// The group `who` names: an id prefix of 8 digits or more, or the name of exactly one group.
pub(crate) async fn find(profile: &Profile, who: &str) -> Result<GroupState> {
    let groups = profile.client.groups().await?;
    let lower = who.to_ascii_lowercase();
    let by_id: Vec<&GroupState> = if lower.len() >= 8 && lower.chars().all(|c| c.is_ascii_hexdigit()) {
        groups
            .iter()
            .filter(|g| id_text(&g.id()).starts_with(&lower))
            .collect()
    } else {
        Vec::new()
    };
    let by_name: Vec<&GroupState> = groups.iter().filter(|g| g.name() == who).collect();
    match (by_id.as_slice(), by_name.as_slice()) {
        ([one], _) | ([], [one]) => Ok((*one).clone()),
        ([], []) => bail!("no group named {who:?} (`hush group list` shows them)"),
        _ => bail!("{who:?} names more than one group: use the id `hush group list` prints"),
    }
}

/// Resolves contact names (or addresses) to account addresses.
async fn members(profile: &Profile, names: &[String]) -> Result<Vec<hush_client::Address>> {
    let mut members = Vec::with_capacity(names.len());
    for name in names {
        members.push(profile.resolve(name).await?);
    }
    Ok(members)
}

/// Connects, so the change reaches the relay, and waits until things are quiet.
async fn flush(profile: &mut Profile) -> Result<()> {
    if !fetch(
        profile,
        "the change is queued and goes out with the next command that connects",
    )
    .await?
    {
        return Ok(());
    }
    profile.wait_quiet(QUIET).await
}

pub async fn create(dir: &Path, name: &str, contacts: &[String]) -> Result<()> {
    with_profile(dir, async |profile| {
        fetch(profile, "making the group offline").await?;
        let members = members(profile, contacts).await?;
        let id = profile.client.create_group(name, &members).await.context(
            "cannot make the group (every member must be one of your contacts: `hush contact add`)",
        )?;
        println!("group {} {name}", id_text(&id));
        flush(profile).await
    })
    .await
}

pub async fn add(dir: &Path, group: &str, contacts: &[String]) -> Result<()> {
    with_profile(dir, async |profile| {
        fetch(profile, "changing the group offline").await?;
        let state = find(profile, group).await?;
        let members = members(profile, contacts).await?;
        profile.client.group_add(state.id(), &members).await?;
        println!("added {} to {}", contacts.join(", "), state.name());
        flush(profile).await
    })
    .await
}

pub async fn remove(dir: &Path, group: &str, contacts: &[String]) -> Result<()> {
    with_profile(dir, async |profile| {
        fetch(profile, "changing the group offline").await?;
        let state = find(profile, group).await?;
        let members = members(profile, contacts).await?;
        profile.client.group_remove(state.id(), &members).await?;
        println!("removed {} from {}", contacts.join(", "), state.name());
        flush(profile).await
    })
    .await
}

pub async fn leave(dir: &Path, group: &str) -> Result<()> {
    with_profile(dir, async |profile| {
        fetch(profile, "leaving offline").await?;
        let state = find(profile, group).await?;
        profile.client.group_leave(state.id()).await?;
        println!("left {}", state.name());
        flush(profile).await
    })
    .await
}

pub async fn list(dir: &Path) -> Result<()> {
    with_profile(dir, async |profile| {
        fetch(profile, "showing what is stored").await?;
        let me = profile.client.account_address().await?;
        for state in profile.client.groups().await? {
            let mut names = Vec::new();
            let mut member = false;
            for (account, role) in state.members() {
                let address = hush_client::Address::from_bytes(*account.as_bytes())?;
                if address == me {
                    member = true;
                    continue;
                }
                let name = profile.display_name(&address).await?;
                names.push(if *role == GroupRole::Admin {
                    format!("{name} (admin)")
                } else {
                    name
                });
            }
            let left = if member {
                ""
            } else {
                " [you are no longer a member]"
            };
            println!(
                "{} {}{left}: {}",
                id_text(&state.id()),
                state.name(),
                names.join(", ")
            );
        }
        Ok(())
    })
    .await
}

pub async fn send(dir: &Path, group: &str, text: String) -> Result<()> {
    with_profile(dir, async |profile| {
        let online = fetch(profile, "the message is queued").await?;
        let state = find(profile, group).await?;
        let id = profile.client.send_group(state.id(), Content::text(text)).await?;
        println!("queued {id}");
        if !online {
            return Ok(());
        }
        let outcome = profile
            .wait_for(SEND_WAIT, |event| match event {
                ClientEvent::Core(Event::StatusChanged {
                    id: changed, status, ..
                }) if changed == id => Some(status),
                _ => None,
            })
            .await;
        match outcome {
            Ok(MessageStatus::Failed) => bail!("the message could not be sent"),
            Ok(_) => {
                println!("sent");
                Ok(())
            }
            Err(reason) => {
                eprintln!("warning: {reason}; the message stays queued");
                Ok(())
            }
        }
    })
    .await
}

pub async fn history(dir: &Path, group: &str, limit: usize) -> Result<()> {
    with_profile(dir, async |profile| {
        fetch(profile, "showing what is stored").await?;
        let state = find(profile, group).await?;
        for entry in profile.client.group_history(state.id(), None, limit).await? {
            let message = entry.message;
            let who = match message.direction {
                Direction::Outgoing => "me".to_owned(),
                Direction::Incoming => match profile.client.group_author(message.id).await? {
                    Some(author) => profile.display_name(&author).await?,
                    None => "?".to_owned(),
                },
            };
            // Our own messages say how far they got: "delivered to 2 of 3, read by 1 of 3".
            let receipts = match message.direction {
                Direction::Outgoing => profile.client.group_receipts(message.id).await?,
                Direction::Incoming => None,
            };
            match receipts {
                Some(r) => println!(
                    "{who}: {} (delivered to {} of {}, read by {} of {})",
                    super::format::text(&message.content),
                    r.delivered,
                    r.members,
                    r.read,
                    r.members
                ),
                None => println!("{who}: {}", super::format::text(&message.content)),
            }
        }
        Ok(())
    })
    .await
}
