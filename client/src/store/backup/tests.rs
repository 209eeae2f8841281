//! Backups: a restore gives back the same identity and rows; any changed byte, a cut, a wrong
//! passphrase or an existing target is refused with nothing left behind.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::Path;

use hush_client_core::{Core, Output, Store};
use rand::SeedableRng;

use super::stream::{BACKUP_HEADER_LEN, CHUNK_LEN};
use super::*;

const PASSPHRASE: &str = "correct horse battery staple";

fn cheap() -> KdfParams {
    KdfParams::new(8, 1, 1).unwrap()
}

/// A profile holding a new account (and, with `filler`, a row large enough for four chunks).
fn profile(dir: &Path, filler: bool) -> (SqlStore, hush_client_core::Address) {
    let mut store = SqlStore::open(dir.join("old.db"), &DatabaseKey::from_bytes([1; 32])).unwrap();
    let mut core = Core::create(1_750_000_000_000, Box::new(rand::rngs::StdRng::seed_from_u64(3)));
    while let Some(output) = core.poll_output() {
        if let Output::Commit(commit) = output {
            store.apply(&commit).unwrap();
        }
    }
    if filler {
        let payload = vec![0x5Au8; 3 * CHUNK_LEN + 100];
        store
            .conn
            .execute(
                "INSERT INTO outbox (id, peer, conv_seq, payload, envelope, created_at, not_before) VALUES (?1, ?2, 0, ?3, NULL, 0, 0)",
                rusqlite::params![[7u8; 16], [8u8; 32], payload],
            )
            .unwrap();
    }
    (store, core.address())
}

fn all_rows(store: &SqlStore, skip: &[&str]) -> Vec<(String, Vec<Vec<String>>)> {
    rows::tables(&store.conn, "main")
        .unwrap()
        .into_iter()
        .filter(|table| !skip.contains(&table.name.as_str()))
        .map(|table| {
            let list: Vec<String> = table.columns.iter().map(|c| format!("\"{c}\"")).collect();
            let mut statement = store
                .conn
                .prepare(&format!(
                    "SELECT {} FROM \"{}\" ORDER BY 1",
                    list.join(", "),
                    table.name
                ))
                .unwrap();
            let dump = statement
                .query_map([], |row| {
                    Ok((0..table.columns.len())
                        .map(|i| format!("{:?}", row.get_ref(i).unwrap()))
                        .collect())
                })
                .unwrap()
                .collect::<Result<Vec<_>, _>>()
                .unwrap();
            (table.name, dump)
        })
        .collect()
}

/// A profile (see [`profile`]) and its backup, in a new directory.
fn exported(
    filler: bool,
) -> (
    tempfile::TempDir,
    SqlStore,
    hush_client_core::Address,
    std::path::PathBuf,
) {
    let dir = tempfile::tempdir().unwrap();
    let (old, address) = profile(dir.path(), filler);
    let file = dir.path().join("backup.hush");
    old.export_backup(&file, PASSPHRASE, cheap()).unwrap();
    (dir, old, address, file)
}

#[test]
fn a_restore_has_the_same_identity_and_rows() {
    let (dir, old, address, file) = exported(false);
    assert_eq!(std::fs::read(&file).unwrap()[..8], *b"HUSHBKUP");
    let key = DatabaseKey::from_bytes([2; 32]);
    let new = SqlStore::import_backup(&file, PASSPHRASE, &dir.path().join("new.db"), &key).unwrap();
    // Pickles are sealed under each database's own key; everything else is the same bytes.
    let pickled = ["account", "peers", "own_account", "link_request"];
    assert_eq!(all_rows(&new, &pickled), all_rows(&old, &pickled));
    let snapshot = new.load().unwrap().expect("a profile");
    let restored = Core::restore(
        1_750_000_000_000,
        snapshot,
        Box::new(rand::rngs::StdRng::seed_from_u64(4)),
    )
    .unwrap();
    assert_eq!(restored.address(), address);
    // The new database opens under its own key after a restart.
    drop(new);
    SqlStore::open_existing(dir.path().join("new.db"), &key).unwrap();
}

#[test]
fn every_changed_byte_a_cut_or_a_wrong_passphrase_is_refused_and_leaves_nothing() {
    let (dir, old, _, file) = exported(true);
    let bytes = std::fs::read(&file).unwrap();
    let chunk = CHUNK_LEN + 16;
    assert!(bytes.len() > BACKUP_HEADER_LEN + 3 * chunk, "four chunks");
    let target = dir.path().join("new.db");
    let key = DatabaseKey::from_bytes([2; 32]);
    let refused = |bytes: &[u8], passphrase: &str| {
        let path = dir.path().join("altered.hush");
        std::fs::write(&path, bytes).unwrap();
        let error = SqlStore::import_backup(&path, passphrase, &target, &key)
            .map(|_| ())
            .unwrap_err();
        assert!(!target.exists(), "a refused restore left a database");
        error
    };
    // Every header byte; the first, a middle and the last bytes of every chunk's body and of
    // its tag.
    let mut positions: Vec<usize> = (0..BACKUP_HEADER_LEN).collect();
    let mut start = BACKUP_HEADER_LEN;
    while start < bytes.len() {
        let end = (start + chunk).min(bytes.len());
        positions.extend([start, (start + end - 16) / 2, end - 17, end - 16, end - 1]);
        start = end;
    }
    for at in positions {
        let mut altered = bytes.clone();
        altered[at] ^= 0x01;
        let error = refused(&altered, PASSPHRASE);
        let expected = match at {
            0..8 => matches!(error, BackupError::NotABackup),
            8 => matches!(error, BackupError::UnsupportedVersion { found: 0 }),
            9..21 => matches!(
                error,
                BackupError::Kdf(_) | BackupError::Unauthenticated { chunk: 0 }
            ),
            21..BACKUP_HEADER_LEN => matches!(error, BackupError::Unauthenticated { chunk: 0 }),
            _ => {
                let index = u32::try_from((at - BACKUP_HEADER_LEN) / chunk).unwrap();
                matches!(error, BackupError::Unauthenticated { chunk } if chunk == index)
            }
        };
        assert!(expected, "byte {at} flipped: {error:?}");
    }
    // Cut at a chunk boundary, inside a chunk, or with a chunk appended.
    let cut = refused(&bytes[..BACKUP_HEADER_LEN + chunk], PASSPHRASE);
    assert!(
        matches!(cut, BackupError::Unauthenticated { chunk: 0 }),
        "{cut:?}"
    );
    let cut = refused(&bytes[..bytes.len() - 1], PASSPHRASE);
    assert!(matches!(cut, BackupError::Unauthenticated { .. }), "{cut:?}");
    let longer = [
        bytes.as_slice(),
        &bytes[BACKUP_HEADER_LEN..BACKUP_HEADER_LEN + chunk],
    ]
    .concat();
    assert!(matches!(
        refused(&longer, PASSPHRASE),
        BackupError::Unauthenticated { .. }
    ));
    assert!(matches!(
        refused(&bytes, "wrong"),
        BackupError::Unauthenticated { chunk: 0 }
    ));
    assert!(matches!(
        refused(&bytes[..10], PASSPHRASE),
        BackupError::NotABackup
    ));
    // The genuine file restores, once.
    SqlStore::import_backup(&file, PASSPHRASE, &target, &key).unwrap();
    let again = SqlStore::import_backup(&file, PASSPHRASE, &target, &key)
        .map(|_| ())
        .unwrap_err();
    assert!(matches!(again, BackupError::Exists(_)), "{again:?}");
    assert!(matches!(
        old.export_backup(&file, PASSPHRASE, cheap()),
        Err(BackupError::Exists(_))
    ));
}
