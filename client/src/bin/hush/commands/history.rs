//! `hush history CONTACT [--limit N] [--before POSITION]`: pages back through a conversation,
//! oldest first within a page, from what is stored (it does not fetch or mark anything read).

use std::path::Path;

use anyhow::Result;

use super::{format, json, name_or_address, with_profile};
use crate::profile::Profile;

/// Parses `--before`: a position, as printed at the end of the page after it.
pub fn position(text: &str) -> Result<u64, String> {
    match text.parse::<u64>() {
        Ok(position) if position > 0 => Ok(position),
        _ => Err(format!(
            "{text:?} is not a position: --before takes the number printed at the end of a page \
             (`-- older messages: … --before N`)"
        )),
    }
}

pub async fn run(dir: &Path, who: &str, limit: usize, before: Option<u64>, as_json: bool) -> Result<()> {
    with_profile(dir, async |profile| {
        show(profile, who, limit, before, as_json).await
    })
    .await
}

async fn show(profile: &Profile, who: &str, limit: usize, before: Option<u64>, as_json: bool) -> Result<()> {
    let peer = profile.resolve(who).await?;
    let (name, shown) = name_or_address(profile, &peer).await?;
    // One more than asked tells whether an older page exists.
    let mut page = profile
        .client
        .history(peer, before, limit.saturating_add(1))
        .await?;
    let more = page.len() > limit;
    if more {
        page.remove(0);
    }
    let next_before = page.first().filter(|_| more).map(|entry| entry.position);
    if as_json {
        return json::print(&json::History {
            with: json::Peer::new(&peer, name),
            messages: page.iter().map(json::Message::new).collect(),
            next_before,
        });
    }
    if page.is_empty() {
        match before {
            Some(before) => println!("no messages with {shown} before {before}"),
            None => println!("no messages with {shown}"),
        }
    }
    for entry in &page {
        println!("{}", format::listing_line(entry, &shown));
    }
    if let Some(position) = next_before {
        let who = format::shell_word(who);
        println!("-- older messages: hush history {who} --before {position}");
    }
    Ok(())
}
