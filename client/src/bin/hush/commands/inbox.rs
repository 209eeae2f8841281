//! `hush inbox`: fetch new messages, show each conversation's latest with the new ones marked,
//! and mark those shown read.

use std::path::Path;

use anyhow::Result;

use super::{format, json, shown_name, with_profile};
use crate::profile::Profile;

/// Messages shown before the new ones (or at all, when none is new).
const CONTEXT: usize = 5;
/// New messages shown per conversation; `hush history` shows the rest.
const MAX_NEW: usize = 50;

pub async fn run(dir: &Path, as_json: bool) -> Result<()> {
    with_profile(dir, async |profile| {
        let online = super::fetch(profile, "showing what is stored").await?;
        show(profile, online, as_json).await
    })
    .await
}

async fn show(profile: &Profile, online: bool, as_json: bool) -> Result<()> {
    let mut conversations = Vec::new();
    let summaries = super::summaries(profile).await?;
    if summaries.is_empty() && !as_json {
        println!("no conversations");
    }
    for summary in summaries {
        let new = summary.unread.min(MAX_NEW);
        let page = profile.client.history(summary.peer, None, new + CONTEXT).await?;
        if as_json {
            conversations.push(json::InboxConversation {
                with: json::Peer::new(&summary.peer, summary.name.clone()),
                unread: summary.unread,
                messages: page.iter().map(json::Message::new).collect(),
            });
        } else {
            let name = shown_name(&summary);
            match summary.unread {
                0 => println!("== {name}"),
                unread => println!("== {name} ({unread} new, marked *)"),
            }
            for entry in &page {
                println!("{}", format::listing_line(entry, &name));
            }
            let shown = page
                .iter()
                .filter(|entry| format::is_unread(&entry.message))
                .count();
            let older = summary.unread.saturating_sub(shown);
            if let (Some(first), true) = (page.first(), older > 0) {
                println!(
                    "  … {older} more new: hush history {} --before {}",
                    format::shell_word(&name),
                    first.position
                );
            }
        }
        // Shown, so read (the sender gets a read receipt); what arrived meanwhile stays new.
        let shown: Vec<_> = page.iter().map(|entry| entry.message.id).collect();
        profile.client.mark_read_messages(summary.peer, &shown).await?;
    }
    if as_json {
        json::print(&json::Inbox {
            online,
            conversations,
        })?;
    }
    Ok(())
}
