//! `hush inbox`: fetch new messages and list the conversations.

use std::path::Path;

use anyhow::Result;

use crate::chat;
use crate::profile::Profile;

pub async fn run(dir: &Path) -> Result<()> {
    let mut profile = Profile::open(dir).await?;
    super::fetch(&mut profile, "showing what is stored").await;
    for peer in profile.client.conversations().await? {
        let name = profile.display_name(&peer).await;
        let history = profile.client.history(peer, None, 5).await?;
        println!("== {name}");
        for entry in history {
            println!("  {}", chat::format_message(&entry.message, &name));
        }
    }
    profile.client.shutdown().await?;
    Ok(())
}
