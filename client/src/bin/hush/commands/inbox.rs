//! `hush inbox`: fetch new messages, show each conversation's latest with the new ones marked,
//! and mark them read.

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
        let online = super::fetch(profile, "showing what is stored").await;
        show(profile, online, as_json).await
    })
    .await
}

async fn show(profile: &Profile, online: bool, as_json: bool) -> Result<()> {
    let mut conversations = Vec::new();
    for summary in profile.client.conversations_summary().await? {
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
            if let (Some(first), true) = (page.first(), summary.unread > MAX_NEW) {
                println!(
                    "  … {} more new: hush history {name} --before {}",
                    summary.unread - MAX_NEW,
                    first.position
                );
            }
        }
        if summary.unread > 0 {
            // Shown, so read: the sender gets a read receipt.
            profile.client.mark_read(summary.peer).await?;
        }
    }
    if as_json {
        json::print(&json::Inbox {
            online,
            conversations,
        })?;
    }
    Ok(())
}
