//! `hush passphrase change`: a new passphrase for a profile, crash-safely (see
//! `SqlStore::change_passphrase`).

use std::path::Path;

use anyhow::{Result, bail};
use clap::Subcommand;
use hush_client::{ClientError, SqlStore};

use crate::profile;

#[derive(Debug, Subcommand)]
pub enum PassphraseCommand {
    /// Change the profile's passphrase. Asks for the current passphrase, then the new one
    /// twice, at a terminal. The identity, contacts and history stay; no relay is contacted.
    #[command(after_help = "For scripts:\n  \
        HUSH_PASSPHRASE      the current passphrase\n  \
        HUSH_NEW_PASSPHRASE  the new passphrase\n\
        Without them and without a terminal, the current passphrase is the first line of standard \
        input and the new one the next line.\n\n\
        Interrupted (a crash, a full disk), the profile opens with the old passphrase or with the \
        new one; the other says which to use.")]
    Change,
}

pub fn run(dir: &Path, command: PassphraseCommand) -> Result<()> {
    match command {
        PassphraseCommand::Change => change(dir),
    }
}

fn change(dir: &Path) -> Result<()> {
    let database = profile::database(dir)?;
    let old = profile::ask_secret("HUSH_PASSPHRASE", "current passphrase", false)?;
    let key = profile::key(dir, &old)?;
    // Opened (and locked) before the new passphrase is asked: a wrong old one or a profile in
    // use fails first.
    let store = SqlStore::open_existing(&database, &key)
        .map_err(|error| profile::explain(ClientError::Store(error), &key))?;
    let new = profile::ask_secret("HUSH_NEW_PASSPHRASE", "new passphrase", true)?;
    if new == old {
        bail!("the new passphrase is the current one; nothing was changed");
    }
    drop(store.change_passphrase(&new, None)?);
    println!("passphrase of {} changed", dir.display());
    Ok(())
}
