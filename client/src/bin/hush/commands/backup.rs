//! `hush backup export FILE` and `hush backup import FILE`: the whole profile (identity,
//! contacts, sessions, history) in one file encrypted under its own passphrase
//! (`HUSH_BACKUP_PASSPHRASE`, or asked), restored into a new profile directory.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::Subcommand;
use hush_client::RelayAddress;

use crate::profile::{Profile, ask_secret};

#[derive(Debug, Subcommand)]
pub enum BackupCommand {
    /// Write the profile to FILE (which must not exist), encrypted under a backup passphrase.
    Export {
        /// The backup file.
        file: PathBuf,
    },
    /// Create the profile (which must not exist) from the backup FILE. The restored profile is
    /// the same device: stop using the one the backup came from.
    Import {
        /// The backup file.
        file: PathBuf,
        /// The relay address (host:port#fingerprint) the restored profile connects to.
        #[arg(long, env = "HUSH_RELAY")]
        relay: String,
    },
}

pub async fn run(dir: &Path, command: BackupCommand) -> Result<()> {
    match command {
        BackupCommand::Export { file } => {
            let profile = Profile::open(dir).await?;
            let passphrase = ask_secret("HUSH_BACKUP_PASSPHRASE", "backup passphrase", true)?;
            let written = profile.client.export_backup(&file, &passphrase).await;
            profile.client.shutdown().await?;
            written.with_context(|| format!("cannot write the backup {}", file.display()))?;
            println!("backup written to {}", file.display());
        }
        BackupCommand::Import { file, relay } => {
            let relay: RelayAddress = relay
                .parse()
                .with_context(|| format!("bad relay address {relay:?}; nothing was created"))?;
            Profile::restore(dir, &relay, &file).await?;
            println!("profile restored into {}", dir.display());
        }
    }
    Ok(())
}
