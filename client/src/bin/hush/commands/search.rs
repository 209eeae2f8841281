//! `hush search WORDS... [--with CONTACT] [--limit N] [--before POSITION]`: full-text search of
//! the local history (every word must match; `word*` is a prefix), newest first, from what is
//! stored (it does not fetch).

use std::path::Path;

use anyhow::Result;
use hush_client::store::{SearchPage, SearchScope};

use super::{format, name_or_address, with_profile};

/// What to look for and where.
pub struct Query<'a> {
    /// The words.
    pub words: &'a [String],
    /// A contact name or address to search in only.
    pub with: Option<&'a str>,
    /// Results per page.
    pub limit: usize,
    /// Results before this position (printed at the end of the previous page).
    pub before: Option<u64>,
}

pub async fn run(dir: &Path, query: Query<'_>) -> Result<()> {
    with_profile(dir, async |profile| {
        let scope = match query.with {
            Some(who) => SearchScope::With(profile.resolve(who).await?),
            None => SearchScope::All,
        };
        let text = query.words.join(" ");
        // One more than asked tells whether an older page exists.
        let page = SearchPage {
            before: query.before,
            limit: query.limit.saturating_add(1),
        };
        let mut hits = profile.client.search(&text, scope, page).await?;
        let more = hits.len() > query.limit;
        hits.truncate(query.limit);
        if hits.is_empty() {
            println!("no messages match {}", format::shell_word(&text));
        }
        for hit in &hits {
            let message = &hit.entry.message;
            let (_, name) = name_or_address(profile, &message.peer).await?;
            let who = match message.direction {
                hush_client::Direction::Incoming => name,
                _ => format!("me to {name}"),
            };
            let snippet = crate::chat::printable(&hit.snippet);
            println!("[{}] {who}: {snippet}", format::local_time(message.sent_at));
        }
        if let Some(last) = hits.last().filter(|_| more) {
            let words: Vec<String> = query.words.iter().map(|word| format::shell_word(word)).collect();
            let with = query
                .with
                .map(|who| format!(" --with {}", format::shell_word(who)))
                .unwrap_or_default();
            println!(
                "-- older results: hush search {}{with} --before {}",
                words.join(" "),
                last.entry.position
            );
        }
        Ok(())
    })
    .await
}
