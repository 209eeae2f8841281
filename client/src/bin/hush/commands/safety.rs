//! `hush safety NAME [--verify]`: the safety number with a contact (over the two accounts'
//! keys, SPEC.md §16.6).

use std::path::Path;

use anyhow::Result;

use crate::profile::Profile;

pub async fn run(dir: &Path, name: &str, verify: bool) -> Result<()> {
    let profile = Profile::open(dir).await?;
    let contact = profile.client.contact(name).await?;
    let number = profile.client.account_safety_number(&contact.address).await?;
    println!("safety number with {name}: {}", number.to_display_string());
    if verify {
        profile.client.verify_contact(name).await?;
        println!("{name} marked verified");
    }
    profile.client.shutdown().await?;
    Ok(())
}
