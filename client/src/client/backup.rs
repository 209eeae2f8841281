//! Backup and restore of a whole profile (test-vectors/SPEC.md §19): one encrypted file holding
//! the identity, account, contacts, sessions, outbox and history.
//!
//! A restored profile is the same device: same identity, same mailbox, same sessions. It carries
//! on every conversation where the backup is the device's latest state (the old copy is no
//! longer used). Where it is not (the old copy sent or received more after the export), the
//! first message that no longer decrypts on either side starts the session over and both sides
//! get [`hush_client_core::Event::SessionReset`]; unconfirmed messages are sent again.
//!
//! ```no_run
//! # async fn demo(client: hush_client::Client, relay: hush_client::RelayAddress) -> Result<(), hush_client::ClientError> {
//! use hush_client::{Client, DatabaseKey};
//!
//! client.export_backup("alice.hushbackup", "a long backup passphrase").await?;
//! client.shutdown().await?;
//! // Later, on a new machine:
//! let key = DatabaseKey::from_bytes([7; 32]);
//! Client::restore_backup("alice.hushbackup", "a long backup passphrase", "restored.db", &key).await?;
//! let (client, events) = Client::open("restored.db", &key, relay).await?;
//! # let _ = (client, events); Ok(()) }
//! ```

use std::path::Path;
use std::sync::Arc;

use zeroize::Zeroizing;

use super::Client;
use crate::error::{ClientError, StopReason};
use crate::store::{DatabaseKey, KdfParams, SqlStore};

impl Client {
    /// Writes a backup of this profile to `path` (which must not exist), under `passphrase`
    /// stretched with the default Argon2id cost. The file appears whole or not at all.
    pub async fn export_backup(&self, path: impl AsRef<Path>, passphrase: &str) -> Result<(), ClientError> {
        self.export_backup_with(path, passphrase, KdfParams::default())
            .await
    }

    /// [`Client::export_backup`] with the Argon2id cost `params`.
    pub async fn export_backup_with(
        &self,
        path: impl AsRef<Path>,
        passphrase: &str,
        params: KdfParams,
    ) -> Result<(), ClientError> {
        let (path, passphrase) = (path.as_ref().to_path_buf(), Zeroizing::new(passphrase.to_owned()));
        self.with_store(move |store| Ok(store.export_backup(&path, &passphrase, params)))
            .await?
            .map_err(ClientError::from)
    }

    /// Restores the backup at `backup` into a new profile database at `database` (which must not
    /// exist) under `key`; open it with [`Client::open`]. A wrong passphrase or an altered file
    /// is [`crate::BackupError::Unauthenticated`], and leaves nothing at `database`.
    pub async fn restore_backup(
        backup: impl AsRef<Path>,
        passphrase: &str,
        database: impl AsRef<Path>,
        key: &DatabaseKey,
    ) -> Result<(), ClientError> {
        let (backup, database) = (backup.as_ref().to_path_buf(), database.as_ref().to_path_buf());
        let (passphrase, key) = (Zeroizing::new(passphrase.to_owned()), key.clone());
        tokio::task::spawn_blocking(move || {
            SqlStore::import_backup(&backup, &passphrase, &database, &key).map(drop)
        })
        .await
        .map_err(|error| ClientError::Stopped(StopReason::Task(Arc::new(error))))?
        .map_err(ClientError::from)
    }
}
