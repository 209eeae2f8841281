//! Write-ahead message journal: a file beside the database. Each batch of enqueued messages and
//! acks is appended as one frame ([`record`] has the bytes), with one write and one fdatasync,
//! before the senders are answered; the writer's flushes move what is still unacknowledged into
//! SQLite and [`Journal::reset`] the journal. At open the store replays its records ([`replay`]).
//!
//! The file is preallocated to [`CAPACITY`] by writing zeros once, and a reset never truncates
//! it: appends then overwrite written blocks, whose fdatasync needs no file-system metadata
//! commit. A reset writes the header with a new generation, which makes every frame already in
//! the file stale. Generations are random (never 0), not counted: the bytes past the current end
//! can be the middle of an older frame, envelope bytes a sender chose, and a sender who could
//! guess the next generation could plant a frame there that replay would take for a real one.
//! Within one generation frames are written one after the other, never over each other: a failed
//! append blocks appends until the next reset, and the store resets right after replaying.

mod record;
mod replay;
#[cfg(test)]
mod tests;

use std::fs::{File, OpenOptions};
use std::io::{self, Seek, SeekFrom, Write};
use std::path::Path;

pub(super) use self::record::{FILE_HEADER, Record, encode_acked, encode_stored};
use self::record::{FRAME_HEADER, encode_frame, file_header};
#[cfg(test)]
pub(super) use self::replay::peek;
use self::replay::replay;
#[cfg(feature = "fuzzing")]
pub(crate) use self::replay::{fuzz_replay, seed_files};

/// Size the file is preallocated to, with zeros written once (when a journal is created or found
/// shorter). The 32 MiB (`FLUSH_BYTES`) at which the store flushes and resets, plus 8 MiB for
/// one large batch, so steady-state appends overwrite written blocks. A burst past it grows the file,
/// and the next reset gives the space back.
pub(super) const CAPACITY: u64 = 40 << 20;
/// Largest write of zeros while preallocating: the 40 MiB are never one allocation.
const ZERO_CHUNK: usize = 1 << 20;

/// A random generation, neither 0 (a never-initialised header) nor `current`.
fn new_generation(current: u64) -> u64 {
    loop {
        let generation: u64 = rand::random();
        if generation != 0 && generation != current {
            return generation;
        }
    }
}

/// The open journal file.
#[derive(Debug)]
pub(super) struct Journal {
    file: File,
    /// The header's generation, which every frame appended now carries.
    generation: u64,
    /// Where the next frame goes.
    end: u64,
    /// Frame bytes appended since the last reset or open.
    appended: u64,
    /// How far frames may reach since the last [`Journal::scrub`] (after open: the file's old
    /// length; `preallocate` wrote zeros past it).
    written_to: u64,
    /// A write or sync failed, so what reached the disk is unknown; appends fail until a reset.
    broken: bool,
    /// The frame being written, kept for its capacity. Cleared after each write, so it never
    /// holds (or shows in `Debug`) an envelope between appends.
    frame: Vec<u8>,
}

impl Journal {
    /// Opens or creates (mode 0600: it holds envelopes) the journal at `path` and reads its
    /// records back for replay. Returns the journal, the records and how many bytes a torn last
    /// frame held. The records stay in the file until the caller has replayed them and calls
    /// [`Journal::reset`]; until then appends follow the last good frame.
    pub(super) fn open(path: &Path) -> io::Result<(Journal, Vec<Record>, u64)> {
        let mut options = OpenOptions::new();
        options.read(true).write(true).create(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let file = options.open(path)?;
        // One store per journal: a second relay on the same data directory would interleave its
        // frames with ours. Released when the file closes (the store shut down, or the process
        // died).
        if let Err(error) = file.try_lock() {
            return Err(match error {
                std::fs::TryLockError::WouldBlock => io::Error::new(
                    io::ErrorKind::WouldBlock,
                    "the message journal is in use by another relay process on this data directory",
                ),
                std::fs::TryLockError::Error(error) => error,
            });
        }
        let size = file.metadata()?.len();
        let found = replay(&file, size)?;
        preallocate(&file, path, size)?;
        let generation = match found.generation {
            Some(generation) => generation,
            None => {
                let generation = new_generation(0);
                write_at(&file, 0, &file_header(generation))?;
                file.sync_data()?;
                generation
            }
        };
        let journal = Journal {
            file,
            generation,
            end: found.end,
            appended: 0,
            // Past what the file held when opened, `preallocate` wrote only zeros.
            written_to: size.max(found.end),
            broken: false,
            frame: Vec::new(),
        };
        Ok((journal, found.records, found.torn))
    }

    /// Appends `bytes` (whole encoded records) as one frame in one write; with `sync`,
    /// fdatasyncs before returning. After a failure, appends fail until a [`Journal::reset`]:
    /// part of the frame may be in the file, and the next frame must not land on it.
    pub(super) fn append(&mut self, bytes: &[u8], sync: bool) -> io::Result<()> {
        if self.broken {
            return Err(io::Error::other(
                "an earlier journal write failed; appends wait for a reset",
            ));
        }
        let len = u32::try_from(bytes.len())
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "a journal batch over 4 GiB"))?;
        let written = self.write_frame(len, bytes, sync);
        self.broken = written.is_err();
        written
    }

    fn write_frame(&mut self, len: u32, bytes: &[u8], sync: bool) -> io::Result<()> {
        // Nothing to write: replay reads an empty frame as torn (see `replay`).
        if len > 0 {
            // One buffer, so one write syscall; the copy is small next to the fdatasync after it.
            encode_frame(&mut self.frame, self.generation, len, bytes);
            let written = write_at(&self.file, self.end, &self.frame);
            self.frame.clear();
            written?;
        }
        if sync {
            self.file.sync_data()?;
        }
        let size = if len > 0 { FRAME_HEADER + u64::from(len) } else { 0 };
        self.end += size;
        self.appended += size;
        self.written_to = self.written_to.max(self.end);
        Ok(())
    }

    /// Overwrites with zeros every frame the file may still hold past the current end (older
    /// generations: envelopes already moved into the database, acknowledged or deleted since),
    /// up to the furthest point written since the last scrub, and syncs. For deleting a mailbox
    /// and the periodic purge, which must leave no ciphertext behind; right after a
    /// [`Journal::reset`] that is everything but the header.
    pub(super) fn scrub(&mut self) -> io::Result<()> {
        let end = self.written_to.min(self.file.metadata()?.len());
        let mut zeros = vec![0; ZERO_CHUNK];
        let mut at = self.end;
        while at < end {
            zeros.truncate(usize::try_from(end - at).unwrap_or(usize::MAX));
            write_at(&self.file, at, &zeros)?;
            at += zeros.len() as u64;
        }
        self.file.sync_data()?;
        self.written_to = self.end;
        Ok(())
    }

    /// Makes every frame in the file stale, durably, so records already moved into SQLite are not
    /// replayed again after a crash: writes the header with the next generation (16 bytes in one
    /// sector, so the old header or the new one, never a mix) and syncs it. The next frame goes at
    /// offset 16. A file that a burst grew past [`CAPACITY`] is cut back to it.
    pub(super) fn reset(&mut self) -> io::Result<()> {
        // 0 never names a live journal: it is what zeros read as.
        let generation = new_generation(self.generation);
        let switched = write_at(&self.file, 0, &file_header(generation)).and_then(|()| self.file.sync_data());
        if let Err(error) = switched {
            // Either header may reach the disk: frames of either generation could be lost.
            self.broken = true;
            return Err(error);
        }
        self.generation = generation;
        self.end = FILE_HEADER;
        self.appended = 0;
        self.broken = false;
        // After the switch, so a failure here costs only disk space; the next reset retries.
        if self.file.metadata()?.len() > CAPACITY {
            self.file.set_len(CAPACITY)?;
            self.file.sync_all()?;
        }
        Ok(())
    }

    /// Frame bytes appended since the last reset or open (for deciding when to move records
    /// into SQLite).
    pub(super) fn len(&self) -> u64 {
        self.appended
    }
}

/// One positioned write. Seek and write rather than `FileExt::write_all_at`, which is unix-only.
fn write_at(mut file: &File, offset: u64, bytes: &[u8]) -> io::Result<()> {
    file.seek(SeekFrom::Start(offset))?;
    file.write_all(bytes)
}

/// Writes zeros from `len` up to [`CAPACITY`] and makes them and the file's name durable, so
/// appends overwrite written blocks and the file survives a crash. Nothing to do at `CAPACITY`.
fn preallocate(file: &File, path: &Path, len: u64) -> io::Result<()> {
    if len >= CAPACITY {
        return Ok(());
    }
    let mut zeros = vec![0; ZERO_CHUNK];
    let mut at = len;
    while at < CAPACITY {
        // Only ever shortens: for the last chunk.
        zeros.truncate(usize::try_from(CAPACITY - at).unwrap_or(usize::MAX));
        write_at(file, at, &zeros)?;
        at += zeros.len() as u64;
    }
    file.sync_all()?;
    sync_parent(path)
}

/// Makes a newly created journal's name durable: fdatasync on the file does not persist its
/// directory entry, and losing the file would lose messages whose senders were answered.
#[cfg(unix)]
fn sync_parent(path: &Path) -> io::Result<()> {
    let dir = path
        .parent()
        .filter(|dir| !dir.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    File::open(dir)?.sync_all()
}

#[cfg(not(unix))]
fn sync_parent(_path: &Path) -> io::Result<()> {
    Ok(())
}
