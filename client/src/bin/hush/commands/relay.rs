//! `hush relay show|set`: the profile's relay address.

use std::path::Path;

use anyhow::{Context, Result};
use hush_client::RelayAddress;

use crate::profile;

pub fn show(dir: &Path) -> Result<()> {
    println!("{}", profile::relay(dir)?);
    Ok(())
}

pub fn set(dir: &Path, address: &str) -> Result<()> {
    let relay: RelayAddress = address
        .parse()
        .with_context(|| format!("bad relay address {address:?}"))?;
    profile::set_relay(dir, &relay)?;
    println!("relay of {} set to {relay}", dir.display());
    Ok(())
}
