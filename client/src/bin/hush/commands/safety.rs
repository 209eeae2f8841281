//! `hush safety NAME [--verify]`: the safety number with a contact.

use std::path::Path;

use anyhow::Result;

use crate::profile::Profile;

pub async fn run(dir: &Path, name: &str, verify: bool) -> Result<()> {
    let profile = Profile::open(dir).await?;
    let contact = profile.client.contact(name).await?;
    let number = profile.client.safety_number(&contact.address);
    println!("safety number with {name}: {}", number.to_display_string());
    if verify {
        profile.client.verify_contact(name).await?;
        println!("{name} marked verified");
    }
    profile.client.shutdown().await?;
    Ok(())
}
