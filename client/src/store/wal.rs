//! Keeping replaced secrets out of the write-ahead log.
//!
//! A commit appends the new images of the pages it changes to the `-wal` file; the old images
//! stay there (encrypted under the database key, like every page) until a checkpoint resets
//! the log and later commits happen to overwrite them. Session and account pickles hold chain
//! and prekey secrets that forward secrecy needs gone once they are replaced, so after a commit
//! that replaces one the store checkpoints with `TRUNCATE`: every page goes back into the
//! database file, over its old image, and the log is cut to zero bytes.

use hush_client_core::{Commit, StoreOp};
use rusqlite::Connection;

use super::StoreError;

/// Bytes the `-wal` file keeps after SQLite resets it (`journal_size_limit`). Commits that
/// replace no secret do not truncate the log; the automatic checkpoint resets it every 1,000
/// pages, and this cuts off the stale frames then instead of leaving them until overwritten.
/// Zero: nothing in a stale frame is worth the disk.
pub(super) const WAL_SIZE_LIMIT: i64 = 0;

/// Whether `commit` replaces state whose old copy must not survive it: the account (identity
/// and prekey secrets, one-time prekeys erased after use), a peer's sessions (ratchet chain
/// keys) or a message deleted for everyone (its text).
pub(super) fn replaces_secrets(commit: &Commit) -> bool {
    commit.ops.iter().any(|op| {
        matches!(
            op,
            StoreOp::PutAccount(_) | StoreOp::PutPeer(_) | StoreOp::DeleteMessage { .. }
        )
    })
}

/// Moves every page of the log into the database file and truncates the log to zero bytes.
///
/// Every commit that replaces a pickle pays for this: one write of the changed pages into the
/// database and one more fsync. The driver already merges what arrives together (a burst of
/// deliveries, concurrent sends) into one commit, so under load this is once per batch, not
/// per message.
pub(super) fn truncate(conn: &Connection) -> Result<(), StoreError> {
    // (busy, frames in the log, frames checkpointed); busy cannot happen while the store holds
    // its exclusive lock, but a checkpoint that did not finish must not pass as one that did.
    let (busy, log, checkpointed): (i64, i64, i64) =
        conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |row| {
            Ok((row.get(0)?, row.get(1)?, row.get(2)?))
        })?;
    if busy != 0 || log != checkpointed {
        return Err(StoreError::Backend(format!(
            "expected a complete checkpoint, got busy {busy} with {checkpointed} of {log} frames"
        )));
    }
    Ok(())
}

#[cfg(test)]
pub(super) mod tests {
    use std::collections::BTreeMap;
    use std::fs;
    use std::path::Path;

    use hush_client_core::Store;
    use hush_crypto::Account;
    use hush_crypto::peer::PeerSessions;

    use super::*;
    use crate::store::{DatabaseKey, SqlStore};

    /// Size of a WAL header and of a frame header (SQLite's file format, section 4).
    const WAL_HEADER: usize = 32;
    const FRAME_HEADER: usize = 24;

    pub(in crate::store) fn sessions_with(local: &Account, peer: &mut Account) -> PeerSessions {
        let mut rng = rand::rng();
        let otk = peer.generate_one_time_prekeys(1, &mut rng)[0];
        let bundle = peer.prekey_bundle(Some(otk.id)).unwrap().verify(None).unwrap();
        let session = local
            .create_outbound_session(b"local", b"peer", &bundle, 1_700_000_000, &mut rng)
            .unwrap();
        let mut sessions = PeerSessions::new(peer.identity_key());
        sessions.add_outbound(session).unwrap();
        sessions
    }

    /// What the files say each page holds now: its image in the database file, replaced by its
    /// last frame in the log. Page and frame headers are not encrypted, page contents are.
    fn page_images(db: &[u8], wal: &[u8]) -> BTreeMap<u32, Vec<u8>> {
        const PAGE: usize = 4096;
        let mut pages = BTreeMap::new();
        for (index, image) in db.chunks(PAGE).enumerate() {
            pages.insert(u32::try_from(index + 1).unwrap(), image.to_vec());
        }
        if wal.len() > WAL_HEADER {
            let page_size = u32::from_be_bytes(wal[8..12].try_into().unwrap()) as usize;
            assert_eq!(page_size, PAGE);
            for frame in wal[WAL_HEADER..].chunks(FRAME_HEADER + page_size) {
                let number = u32::from_be_bytes(frame[..4].try_into().unwrap());
                pages.insert(number, frame[FRAME_HEADER..].to_vec());
            }
        }
        pages
    }

    fn read(path: &Path) -> (Vec<u8>, Vec<u8>) {
        let wal = path.with_extension("db-wal");
        (fs::read(path).unwrap(), fs::read(&wal).unwrap_or_default())
    }

    fn contains(haystack: &[u8], needle: &[u8]) -> bool {
        haystack.windows(needle.len()).any(|window| window == needle)
    }

    /// Writes Bob's sessions, replaces them, and looks at the files while the store is still open
    /// (as a crash or a copy of the disk would find them). No page image that held the old
    /// sessions — each page the replacement rewrote, as it was on disk before — may be left in
    /// the log or in the database file, and the log must be empty. Without the checkpoint the
    /// old images stay in the log next to the new ones.
    #[test]
    fn replaced_session_pickles_leave_no_old_page_image_in_the_wal_or_the_database() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("profile.db");
        let mut store = SqlStore::open(&path, &DatabaseKey::from_bytes([7; 32])).unwrap();
        let local = Account::new(1_700_000_000, &mut rand::rng());
        let mut bob = Account::new(1_700_000_000, &mut rand::rng());
        let mut sessions = sessions_with(&local, &mut bob);
        let put = |sessions: &PeerSessions| Commit {
            ops: vec![StoreOp::PutPeer(sessions.pickle())],
        };
        store
            .apply(&Commit {
                ops: vec![
                    StoreOp::PutAccount(local.pickle()),
                    StoreOp::PutPeer(sessions.pickle()),
                ],
            })
            .unwrap();
        let (db, wal) = read(&path);
        let before = page_images(&db, &wal);

        // The chain moves on: the replaced pickle holds the chain key that encrypted this.
        sessions.encrypt(1_700_000_000, b"one", &mut rand::rng()).unwrap();
        store.apply(&put(&sessions)).unwrap();
        let (db, wal) = read(&path);
        let after = page_images(&db, &wal);
        let rewritten: Vec<u32> = before
            .iter()
            .filter(|(number, image)| after.get(number) != Some(image))
            .map(|(number, _)| *number)
            .collect();
        assert!(!rewritten.is_empty(), "the replacement rewrote no page");
        for number in rewritten {
            let old = &before[&number];
            assert!(!contains(&wal, old), "page {number}'s old image is in the WAL");
            assert!(
                !contains(&db, old),
                "page {number}'s old image is in the database"
            );
        }
        assert!(wal.is_empty(), "{} bytes left in the WAL", wal.len());
        assert_eq!(
            store.load().unwrap().unwrap().peers[0].to_plaintext_bytes(),
            sessions.pickle().to_plaintext_bytes()
        );
    }

    /// Commits that replace no secret do not pay for a checkpoint: their frames stay in the log
    /// until the next one that does (or the automatic checkpoint).
    #[test]
    fn only_commits_replacing_a_pickle_truncate_the_wal() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("profile.db");
        let mut store = SqlStore::open(&path, &DatabaseKey::from_bytes([7; 32])).unwrap();
        let account = Account::new(1_700_000_000, &mut rand::rng());
        let contact = hush_client_core::Contact {
            name: "bob".to_owned(),
            address: hush_client_core::Address::from_identity(&account.identity_key()),
            verified: false,
            added_at: 1,
        };
        let commit = Commit {
            ops: vec![StoreOp::PutContact(contact)],
        };
        assert!(!replaces_secrets(&commit));
        store.apply(&commit).unwrap();
        assert!(!read(&path).1.is_empty(), "the contact's commit is in the WAL");
        let commit = Commit {
            ops: vec![StoreOp::PutAccount(account.pickle())],
        };
        assert!(replaces_secrets(&commit));
        store.apply(&commit).unwrap();
        assert!(read(&path).1.is_empty());
    }
}
