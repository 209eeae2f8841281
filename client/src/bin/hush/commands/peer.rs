//! `hush requests`, `accept`, `block` and `report`: message requests from strangers.

use std::path::Path;

use anyhow::Result;

use crate::profile::Profile;

/// What to do with a peer.
#[derive(Debug, Clone, Copy)]
pub enum PeerAction {
    Accept,
    Block,
    Report,
}

pub async fn requests(dir: &Path) -> Result<()> {
    let mut profile = Profile::open(dir).await?;
    super::fetch(&mut profile, "showing what is stored").await?;
    let requests = profile.client.requests().await?;
    if requests.is_empty() {
        println!("no message requests");
    }
    for peer in requests {
        println!("request from {peer} (hush accept|block|report <address>)");
    }
    profile.client.shutdown().await?;
    Ok(())
}

pub async fn act(dir: &Path, who: &str, action: PeerAction) -> Result<()> {
    let mut profile = Profile::open(dir).await?;
    let peer = profile.resolve(who).await?;
    // Online first, so a report and the rotated access key reach the relay now.
    if let Err(error) = profile.client.register().await {
        eprintln!("warning: {error}; the relay hears of it at the next connection");
    }
    match action {
        PeerAction::Accept => profile.client.accept(peer).await?,
        PeerAction::Block => profile.client.block(peer).await?,
        PeerAction::Report => profile.client.report(peer).await?,
    }
    // Let the requests this produced go out before shutting down.
    profile.wait_quiet(super::QUIET).await?;
    println!("{who}: {action:?} done");
    profile.client.shutdown().await?;
    Ok(())
}
