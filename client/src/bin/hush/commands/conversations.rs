//! `hush conversations`: every conversation, most recent first, with its unread count and the
//! latest message.

use std::path::Path;

use anyhow::Result;
use hush_client::Direction;

use super::{format, json, shown_name, with_profile};

/// Characters of the latest message shown.
const PREVIEW: usize = 60;

pub async fn run(dir: &Path, as_json: bool) -> Result<()> {
    let list = with_profile(dir, async |profile| {
        super::fetch(profile, "showing what is stored").await?;
        super::summaries(profile).await
    })
    .await?;
    if as_json {
        return json::print(&json::Conversations {
            conversations: list.iter().map(json::Conversation::new).collect(),
        });
    }
    if list.is_empty() {
        println!("no conversations");
    }
    for conversation in &list {
        let name = shown_name(conversation);
        let message = &conversation.last.message;
        let who = match message.direction {
            Direction::Incoming => name.as_str(),
            _ => "me",
        };
        println!(
            "{name}\t{} unread\t[{}] {who}: {}",
            conversation.unread,
            format::local_time(message.sent_at),
            format::preview(&format::text(&message.content), PREVIEW)
        );
    }
    Ok(())
}
