//! Write-ahead message journal: a file beside the database. Each batch of enqueued messages and
//! acks is appended as one frame, with one write and one fdatasync, before the senders are
//! answered; about once a second (see `writer::FLUSH_TICK`) the store moves what is still unacknowledged into SQLite and
//! [`Journal::reset`]s the journal. At open the store replays the journal's records into SQLite.
//!
//! # File layout
//!
//! ```text
//! header: magic b"HUSHJNL1", generation u64 LE            16 bytes at offset 0
//! frame:  generation u64 LE, len u32 LE, crc u32 LE       one per append, back to back from 16
//!         payload: len bytes of whole records, crc = CRC-32 (crc32fast) of the payload
//! ```
//!
//! The file is preallocated to [`CAPACITY`] by writing zeros once, and a reset never truncates
//! it: it writes the header with a new generation, which makes every frame already in the
//! file stale. Generations are random (never 0), not counted: the bytes past the current end can
//! be the middle of an older frame, envelope bytes a sender chose, and a sender who could guess
//! the next generation could plant a frame there that replay would take for a real one. Appends therefore overwrite blocks that are allocated and written, and their
//! fdatasync needs no ext4 metadata commit. Growing the file (or writing fallocate's unwritten
//! extents) does: under load, waiting for the jbd2 thread made each append cost 300+ µs.
//!
//! Replay reads the frames of the header's generation from offset 16 and stops at the first
//! frame of another generation (the normal end: a stale frame, or the zeros of a file never
//! written that far), or one that runs past the end of the file, fails its CRC or does not
//! decode into whole records. The latter is the torn last write of a crash, whose senders were
//! never answered. A frame is replayed whole or not at all. Within one generation frames are
//! written one after the other, never over each other: a failed append blocks appends until the
//! next reset, and the store resets right after replaying.
//!
//! # Record format
//!
//! ```text
//! len:  u32 LE   length of kind || body
//! crc:  u32 LE   CRC-32 (crc32fast) of kind || body
//! kind: u8       1 = Stored, 2 = Acked
//! body: Stored   mailbox [u8; 32], seq u64 LE, received_at u64 LE, envelope (rest of the record)
//!       Acked    mailbox [u8; 32], through u64 LE (exactly 40 bytes)
//! ```
//!
//! A record that is cut short, longer than [`MAX_RECORD`], fails its CRC, has an unknown kind or
//! a body of the wrong size for its kind ends [`decode`]; in a frame whose CRC matched that is a
//! bug, and replay drops the whole frame.

use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::Path;

use hush_proto::MailboxId;

/// First bytes of every journal file: replay never reads a file that is something else.
const MAGIC: [u8; 8] = *b"HUSHJNL1";
/// Magic and generation: where the first frame starts.
pub(super) const FILE_HEADER: u64 = 16;
/// A frame's generation, len and crc.
const FRAME_HEADER: u64 = 16;
/// Size the file is preallocated to, with zeros written once (when a journal is created or found
/// shorter). The 32 MiB (`FLUSH_BYTES`) at which the store flushes and resets, plus 8 MiB for
/// one large batch, so steady-state appends overwrite written blocks. A burst past it grows the file,
/// and the next reset gives the space back.
pub(super) const CAPACITY: u64 = 40 << 20;
/// Largest write of zeros while preallocating: the 40 MiB are never one allocation.
const ZERO_CHUNK: usize = 1 << 20;

// The store resets the journal before it outgrows the preallocated space.
const _: () = assert!(super::writer::FLUSH_BYTES + (8 << 20) <= CAPACITY);

/// Longest `kind || body` replay accepts. Above any real record: an envelope fits in one wire frame
/// (at most `hush_proto::MAX_FRAME_LEN`, about 1.06 MiB) and a record adds 49 bytes to it. Small
/// enough that a corrupt length can never make replay copy more than 8 MiB into one record.
pub(super) const MAX_RECORD: u32 = 8 << 20;

/// `len` and `crc`.
const HEADER: usize = 8;
/// `kind`, mailbox, seq and received_at: a Stored record with an empty envelope.
const STORED_FIXED: usize = 1 + 32 + 8 + 8;
/// `kind`, mailbox and through.
#[cfg(test)]
const ACKED_LEN: usize = 1 + 32 + 8;
const STORED: u8 = 1;
const ACKED: u8 = 2;

// Every envelope the relay accepts fits in a record that replay reads back.
const _: () = assert!(hush_proto::MAX_FRAME_LEN as usize + STORED_FIXED <= MAX_RECORD as usize);

/// One journal record.
#[derive(Clone, PartialEq, Eq)]
pub(super) enum Record {
    /// A message was enqueued.
    Stored {
        /// The recipient's mailbox.
        mailbox: MailboxId,
        /// The message's sequence number in that mailbox.
        seq: u64,
        /// When the relay received it (the store's clock).
        received_at: u64,
        /// The opaque ciphertext.
        envelope: Vec<u8>,
    },
    /// The mailbox's owner acknowledged every message up to and including `through`.
    Acked {
        /// The acknowledging mailbox.
        mailbox: MailboxId,
        /// The highest acknowledged sequence number.
        through: u64,
    },
}

impl Record {
    /// Appends the record, encoded, to `buf` (what replay read back; the writer encodes from its
    /// own values with [`encode_stored`] and [`encode_acked`]).
    #[cfg(any(test, feature = "fuzzing"))]
    fn encode(&self, buf: &mut Vec<u8>) {
        match self {
            Self::Stored {
                mailbox,
                seq,
                received_at,
                envelope,
            } => encode_stored(buf, mailbox, *seq, *received_at, envelope),
            Self::Acked { mailbox, through } => encode_acked(buf, mailbox, *through),
        }
    }
}

// By hand: the relay never logs payloads, so only the envelope's length is shown.
impl fmt::Debug for Record {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Stored {
                mailbox,
                seq,
                received_at,
                envelope,
            } => f
                .debug_struct("Stored")
                .field("mailbox", mailbox)
                .field("seq", seq)
                .field("received_at", received_at)
                .field("envelope_len", &envelope.len())
                .finish(),
            Self::Acked { mailbox, through } => f
                .debug_struct("Acked")
                .field("mailbox", mailbox)
                .field("through", through)
                .finish(),
        }
    }
}

/// Appends one encoded Stored record to `buf`. The envelope must fit in a frame (see
/// [`MAX_RECORD`]); a longer one would end replay at this record.
pub(super) fn encode_stored(
    buf: &mut Vec<u8>,
    mailbox: &MailboxId,
    seq: u64,
    received_at: u64,
    envelope: &[u8],
) {
    let (seq, received_at) = (seq.to_le_bytes(), received_at.to_le_bytes());
    encode(buf, STORED, &[&mailbox.0, &seq, &received_at, envelope]);
}

/// Appends one encoded Acked record to `buf`.
pub(super) fn encode_acked(buf: &mut Vec<u8>, mailbox: &MailboxId, through: u64) {
    encode(buf, ACKED, &[&mailbox.0, &through.to_le_bytes()]);
}

fn encode(buf: &mut Vec<u8>, kind: u8, body: &[&[u8]]) {
    let len = 1 + body.iter().map(|part| part.len()).sum::<usize>();
    debug_assert!(len <= MAX_RECORD as usize, "a journal record over MAX_RECORD");
    let mut crc = crc32fast::Hasher::new();
    crc.update(&[kind]);
    body.iter().for_each(|part| crc.update(part));
    buf.reserve(HEADER + len);
    // Saturates on absurd sizes: replay then rejects the record instead of misreading the length.
    buf.extend_from_slice(&u32::try_from(len).unwrap_or(u32::MAX).to_le_bytes());
    buf.extend_from_slice(&crc.finalize().to_le_bytes());
    buf.push(kind);
    body.iter().for_each(|part| buf.extend_from_slice(part));
}

/// Decodes records from the start of `bytes`; returns them and the length of the valid prefix
/// (`bytes.len()` if every record is valid).
pub(super) fn decode(bytes: &[u8]) -> (Vec<Record>, usize) {
    let mut records = Vec::new();
    let mut rest = bytes;
    while let Some((record, tail)) = decode_one(rest) {
        records.push(record);
        rest = tail;
    }
    (records, bytes.len() - rest.len())
}

/// The first record of `bytes` and what follows it, or `None` where the readable journal ends.
fn decode_one(bytes: &[u8]) -> Option<(Record, &[u8])> {
    let (len, rest) = bytes.split_first_chunk::<4>()?;
    let (crc, rest) = rest.split_first_chunk::<4>()?;
    let len = u32::from_le_bytes(*len);
    if len > MAX_RECORD {
        return None;
    }
    let (payload, rest) = rest.split_at_checked(usize::try_from(len).ok()?)?;
    if crc32fast::hash(payload) != u32::from_le_bytes(*crc) {
        return None;
    }
    let (&kind, body) = payload.split_first()?;
    let (mailbox, body) = body.split_first_chunk::<32>()?;
    let mailbox = MailboxId(*mailbox);
    let record = match kind {
        STORED => {
            let (seq, body) = body.split_first_chunk::<8>()?;
            let (received_at, envelope) = body.split_first_chunk::<8>()?;
            let (seq, received_at) = (u64::from_le_bytes(*seq), u64::from_le_bytes(*received_at));
            Record::Stored {
                mailbox,
                seq,
                received_at,
                envelope: envelope.to_vec(),
            }
        }
        ACKED => Record::Acked {
            mailbox,
            through: u64::from_le_bytes(body.try_into().ok()?),
        },
        _ => return None,
    };
    Some((record, rest))
}

/// A random generation, neither 0 (a never-initialised header) nor `current`.
fn new_generation(current: u64) -> u64 {
    loop {
        let generation: u64 = rand::random();
        if generation != 0 && generation != current {
            return generation;
        }
    }
}

/// Appends a frame of `generation` around `payload` (`len` is its length) to `buf`.
fn encode_frame(buf: &mut Vec<u8>, generation: u64, len: u32, payload: &[u8]) {
    buf.extend_from_slice(&generation.to_le_bytes());
    buf.extend_from_slice(&len.to_le_bytes());
    buf.extend_from_slice(&crc32fast::hash(payload).to_le_bytes());
    buf.extend_from_slice(payload);
}

fn file_header(generation: u64) -> Vec<u8> {
    [MAGIC, generation.to_le_bytes()].concat()
}

/// What a journal file holds for replay.
#[derive(Debug)]
struct Replay {
    /// The header's generation; `None` for a journal never initialised (short or zero header).
    generation: Option<u64>,
    /// The records of the generation's good frames, in order.
    records: Vec<Record>,
    /// Just after the last good frame: where the next frame of this generation goes.
    end: u64,
    /// Bytes of a frame of this generation that was cut short or is corrupt.
    torn: u64,
}

/// Reads the header and the frames of its generation from `file`, `size` bytes long, stopping at
/// the first frame that is not good (see the module doc); an error if it is not a journal. Reads
/// only the live part of the file, and never allocates more than `size` for one frame.
fn replay(file: impl Read, size: u64) -> io::Result<Replay> {
    let mut file = io::BufReader::new(file);
    let mut replay = Replay {
        generation: None,
        records: Vec::new(),
        end: FILE_HEADER,
        torn: 0,
    };
    if size < FILE_HEADER {
        return Ok(replay);
    }
    let magic: [u8; 8] = read_array(&mut file)?;
    let generation = u64::from_le_bytes(read_array(&mut file)?);
    if magic == [0; 8] && generation == 0 {
        return Ok(replay);
    }
    if magic != MAGIC || generation == 0 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "not a Hush message journal: expected the magic HUSHJNL1 and a generation above 0, \
                 found {:?} and {generation}",
                String::from_utf8_lossy(&magic)
            ),
        ));
    }
    replay.generation = Some(generation);
    while size.saturating_sub(replay.end) >= FRAME_HEADER {
        let frame_generation = u64::from_le_bytes(read_array(&mut file)?);
        let len = u32::from_le_bytes(read_array(&mut file)?);
        let crc = u32::from_le_bytes(read_array(&mut file)?);
        if frame_generation != generation {
            // A stale frame or zeros: where the journal normally ends.
            break;
        }
        let available = size.saturating_sub(replay.end + FRAME_HEADER);
        // Appends never write an empty frame: an empty one is a header cut after its generation.
        if len == 0 || u64::from(len) > available {
            replay.torn = FRAME_HEADER + available.min(u64::from(len));
            break;
        }
        let mut payload = vec![0; len as usize];
        file.read_exact(&mut payload)?;
        let (records, valid) = decode(&payload);
        if crc32fast::hash(&payload) != crc || valid != payload.len() {
            replay.torn = FRAME_HEADER + u64::from(len);
            break;
        }
        replay.records.extend(records);
        replay.end += FRAME_HEADER + u64::from(len);
    }
    Ok(replay)
}

fn read_array<const N: usize>(file: &mut impl Read) -> io::Result<[u8; N]> {
    let mut bytes = [0; N];
    file.read_exact(&mut bytes)?;
    Ok(bytes)
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

/// The fuzz target `relay_journal_replay`: `data` as a journal file (replayed at open) and as
/// a run of records. Never panics on any input; asserts what replay promises.
#[cfg(feature = "fuzzing")]
#[allow(clippy::panic)]
pub(crate) fn fuzz_replay(data: &[u8]) {
    let size = data.len() as u64;
    if let Ok(found) = replay(data, size) {
        assert!(
            found.end >= FILE_HEADER && found.end <= size.max(FILE_HEADER),
            "end past the file"
        );
        assert!(found.torn <= size, "more torn bytes than the file holds");
        assert!(
            found.generation.is_some() || found.records.is_empty(),
            "records from a journal without a generation"
        );
    }
    // Whatever decodes as records re-encodes to exactly the bytes it came from.
    let (records, valid) = decode(data);
    let mut again = Vec::new();
    for record in &records {
        record.encode(&mut again);
    }
    assert_eq!(
        Some(again.as_slice()),
        data.get(..valid),
        "records do not re-encode to their bytes"
    );
}

/// Seed journal files for the fuzz target: frames of a few batches, one cut short, one behind a
/// stale generation. Deterministic.
#[cfg(feature = "fuzzing")]
pub(crate) fn seed_files() -> Vec<(String, Vec<u8>)> {
    let (a, b) = (MailboxId([1; 32]), MailboxId([2; 32]));
    let mut first = Vec::new();
    encode_stored(&mut first, &a, 1, 1_700_000_000, b"sealed envelope one");
    encode_stored(&mut first, &b, 7, 1_700_000_000, &[0x5a; 64]);
    let mut second = Vec::new();
    encode_acked(&mut second, &a, 1);
    encode_stored(&mut second, &a, 2, 1_700_000_001, b"");
    let frames = |generation: u64, batches: &[&[u8]]| {
        let mut file = file_header(generation);
        for batch in batches {
            encode_frame(&mut file, generation, batch.len() as u32, batch);
        }
        file
    };
    let whole = frames(0x1234_5678_9abc_def0, &[&first, &second]);
    let torn = whole
        .get(..whole.len().saturating_sub(5))
        .unwrap_or_default()
        .to_vec();
    let mut stale = frames(0x0fed_cba9_8765_4321, &[&second]);
    let mut old = Vec::new();
    encode_frame(&mut old, 0x1234_5678_9abc_def0, first.len() as u32, &first);
    stale.extend(old);
    vec![
        ("two_frames".to_owned(), whole),
        ("torn_last_frame".to_owned(), torn),
        ("stale_frame_after_the_end".to_owned(), stale),
        ("records_only".to_owned(), [first, second].concat()),
        ("new_journal".to_owned(), vec![0; 64]),
    ]
}

/// The records a replay of the file at `path` would find, read without taking the journal (a
/// store may have it open).
#[cfg(test)]
pub(super) fn peek(path: &Path) -> Vec<Record> {
    let bytes = std::fs::read(path).unwrap_or_default();
    replay(&bytes[..], bytes.len() as u64)
        .map(|found| found.records)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A new journal in a fresh directory (kept alive by the first element).
    fn new_journal() -> (tempfile::TempDir, std::path::PathBuf, Journal) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal");
        let (journal, _, _) = Journal::open(&path).unwrap();
        (dir, path, journal)
    }

    fn stored(n: u8, seq: u64, envelope: &[u8]) -> Record {
        Record::Stored {
            mailbox: MailboxId([n; 32]),
            seq,
            received_at: seq + 100,
            envelope: envelope.to_vec(),
        }
    }

    fn acked(n: u8, through: u64) -> Record {
        Record::Acked {
            mailbox: MailboxId([n; 32]),
            through,
        }
    }

    fn encode_all(records: &[Record]) -> Vec<u8> {
        let mut buf = Vec::new();
        for record in records {
            record.encode(&mut buf);
        }
        buf
    }

    /// A record with a correct length and CRC around any kind and body.
    fn raw(kind: u8, body: &[u8]) -> Vec<u8> {
        let payload = [&[kind], body].concat();
        let len = u32::try_from(payload.len()).unwrap();
        [
            &len.to_le_bytes()[..],
            &crc32fast::hash(&payload).to_le_bytes(),
            &payload,
        ]
        .concat()
    }

    /// A frame of `generation` around `payload`, as append writes it.
    fn frame(generation: u64, payload: &[u8]) -> Vec<u8> {
        let mut buf = Vec::new();
        encode_frame(
            &mut buf,
            generation,
            u32::try_from(payload.len()).unwrap(),
            payload,
        );
        buf
    }

    fn sample() -> Vec<Record> {
        vec![stored(1, 1, b"first"), acked(1, 1), stored(2, 7, b"")]
    }

    fn file_len(path: &Path) -> u64 {
        std::fs::metadata(path).unwrap().len()
    }

    #[test]
    fn records_round_trip_through_bytes() {
        let mut records = sample();
        records.push(stored(
            3,
            9,
            &(0..1 << 20).map(|i| (i % 251) as u8).collect::<Vec<_>>(),
        ));
        records.push(acked(3, u64::MAX));
        let bytes = encode_all(&records);
        assert_eq!(decode(&bytes), (records, bytes.len()));
    }

    #[test]
    fn batches_come_back_in_order_from_a_preallocated_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("relay.db-messages");
        let (mut journal, replayed, torn) = Journal::open(&path).unwrap();
        assert_eq!((replayed, torn, journal.len()), (vec![], 0, 0));
        assert_eq!(file_len(&path), CAPACITY);
        let batches = [&sample()[..1], &sample()[1..], &[acked(3, u64::MAX)]];
        for batch in batches {
            journal.append(&encode_all(batch), batch.len() == 1).unwrap();
        }
        let framed = batches.map(|batch| frame(1, &encode_all(batch)).len() as u64);
        assert_eq!(journal.len(), framed.iter().sum::<u64>());
        drop(journal);
        let (journal, replayed, torn) = Journal::open(&path).unwrap();
        assert_eq!((replayed, torn, journal.len()), (batches.concat(), 0, 0));
        assert_eq!(file_len(&path), CAPACITY);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn reset_hides_old_frames_and_later_appends_overwrite_in_place() {
        let (_dir, path, mut journal) = new_journal();
        let old = encode_all(&sample());
        journal.append(&old, true).unwrap();
        let first = journal.generation;
        journal.reset().unwrap();
        assert_eq!(journal.len(), 0);
        assert_ne!(journal.generation, first);
        // Not truncated: the old frame is still there, behind a header of the new generation.
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(bytes[..16], file_header(journal.generation));
        assert_eq!(bytes[16..16 + frame(first, &old).len()], frame(first, &old));
        drop(journal);
        let (mut journal, replayed, torn) = Journal::open(&path).unwrap();
        assert_eq!((replayed, torn), (vec![], 0));

        let later = encode_all(&[acked(8, 20)]);
        journal.append(&later, true).unwrap();
        assert_eq!(journal.len(), frame(journal.generation, &later).len() as u64);
        assert_eq!(file_len(&path), CAPACITY);
        drop(journal);
        let (_, replayed, torn) = Journal::open(&path).unwrap();
        assert_eq!((replayed, torn), (vec![acked(8, 20)], 0));
    }

    #[test]
    fn stale_frames_right_after_the_current_end_are_ignored() {
        let (_dir, path, mut journal) = new_journal();
        for n in 1..=3 {
            journal.append(&encode_all(&[acked(n, 5)]), true).unwrap();
        }
        journal.reset().unwrap();
        // The same size as the first stale frame: the next header replay reads is the second's.
        journal.append(&encode_all(&[acked(9, 6)]), true).unwrap();
        drop(journal);
        let (_, replayed, torn) = Journal::open(&path).unwrap();
        assert_eq!((replayed, torn), (vec![acked(9, 6)], 0));
    }

    #[test]
    fn reset_after_a_burst_gives_the_space_back() {
        let (_dir, path, mut journal) = new_journal();
        let envelope = vec![0x5a; 1 << 20];
        let batch = encode_all(&(0..8).map(|seq| stored(1, seq, &envelope)).collect::<Vec<_>>());
        for _ in 0..6 {
            journal.append(&batch, false).unwrap();
        }
        assert!(file_len(&path) > CAPACITY);
        journal.reset().unwrap();
        assert_eq!((journal.len(), file_len(&path)), (0, CAPACITY));
    }

    #[test]
    fn torn_last_frame_is_dropped_at_every_cut_and_appends_follow_the_good_frames() {
        let (_dir, path, mut journal) = new_journal();
        journal.append(&encode_all(&sample()), true).unwrap();
        let good_end = FILE_HEADER + journal.len();
        let generation = journal.generation;
        drop(journal);
        // Through u64::MAX: no trailing zero bytes that a cut would leave looking written.
        let last = frame(generation, &encode_all(&[acked(4, u64::MAX)]));
        let next = stored(5, 12, b"after the crash, longer than the torn frame");
        for cut in 1..last.len() {
            let partial = [&last[..cut], &vec![0; last.len() - cut]].concat();
            write_at(
                &File::options().write(true).open(&path).unwrap(),
                good_end,
                &partial,
            )
            .unwrap();
            let (mut journal, replayed, torn) = Journal::open(&path).unwrap();
            assert_eq!(replayed, sample(), "cut at {cut}");
            // A cut inside the generation field reads as another generation: the normal end.
            assert!(torn > 0 || cut < 8, "cut at {cut}");
            journal
                .append(&encode_all(std::slice::from_ref(&next)), true)
                .unwrap();
            drop(journal);
            let (_, replayed, torn) = Journal::open(&path).unwrap();
            assert_eq!(
                (replayed, torn),
                ([sample(), vec![next.clone()]].concat(), 0),
                "cut at {cut}"
            );
        }
    }

    #[test]
    fn flipped_bit_drops_that_frame_and_all_after_it() {
        let first = frame(7, &encode_all(&sample()[..1]));
        let target = frame(7, &encode_all(&[stored(6, 3, b"flip me"), acked(6, 3)]));
        let bytes = [
            file_header(7),
            first.clone(),
            target.clone(),
            frame(7, &encode_all(&sample())),
        ]
        .concat();
        let target_at = 16 + first.len();
        for byte in target_at..target_at + target.len() {
            for bit in 0..8 {
                let mut bytes = bytes.clone();
                bytes[byte] ^= 1 << bit;
                let found = replay(&bytes[..], bytes.len() as u64).unwrap();
                assert_eq!(
                    (found.records, found.end),
                    (sample()[..1].to_vec(), target_at as u64),
                    "byte {byte} bit {bit}"
                );
            }
        }
        // Cut short by the end of the file: the bytes present are torn.
        let cut = [&file_header(7)[..], &first, &target[..20]].concat();
        let found = replay(&cut[..], cut.len() as u64).unwrap();
        assert_eq!((found.records, found.torn), (sample()[..1].to_vec(), 20));
        // CRC-correct but not whole records: the frame is replayed whole or not at all.
        let partial = encode_all(&[acked(6, 3), acked(6, 4)]);
        let bytes = [file_header(7), first, frame(7, &partial[..partial.len() - 1])].concat();
        let found = replay(&bytes[..], bytes.len() as u64).unwrap();
        assert_eq!(
            (found.records, found.torn),
            (sample()[..1].to_vec(), partial.len() as u64 + 15)
        );
    }

    #[test]
    fn wrong_magic_is_an_error_and_an_empty_or_zeroed_file_is_a_new_journal() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal");
        for header in [*b"HUSHJNL2\x01\0\0\0\0\0\0\0", *b"HUSHJNL1\0\0\0\0\0\0\0\0"] {
            let contents = [&header[..], &frame(1, &encode_all(&sample()))].concat();
            std::fs::write(&path, &contents).unwrap();
            let error = Journal::open(&path).unwrap_err();
            assert_eq!(error.kind(), io::ErrorKind::InvalidData, "{error}");
            // Never guessed at, never overwritten.
            assert_eq!(std::fs::read(&path).unwrap(), contents);
        }
        for contents in [vec![], vec![0; 100], b"HUSH".to_vec()] {
            std::fs::write(&path, &contents).unwrap();
            let (journal, replayed, torn) = Journal::open(&path).unwrap();
            assert_eq!((replayed, torn, journal.len()), (vec![], 0, 0));
            assert_eq!(file_len(&path), CAPACITY);
            let header = std::fs::read(&path).unwrap()[..16].to_vec();
            assert_eq!(header[..8], MAGIC);
            assert_ne!(header[8..], [0; 8], "a new journal gets a generation");
            drop(journal);
        }
    }

    #[test]
    fn scrub_zeroes_every_earlier_frame_and_keeps_the_file() {
        let (_dir, path, mut journal) = new_journal();
        let marker = stored(3, 1, b"ciphertext that must go");
        for _ in 0..3 {
            journal
                .append(&encode_all(std::slice::from_ref(&marker)), true)
                .unwrap();
        }
        journal.reset().unwrap();
        let contains = |bytes: &[u8]| {
            bytes
                .windows(23)
                .any(|window| window == b"ciphertext that must go")
        };
        assert!(
            contains(&std::fs::read(&path).unwrap()),
            "a reset alone leaves it"
        );
        journal.scrub().unwrap();
        let bytes = std::fs::read(&path).unwrap();
        assert!(!contains(&bytes));
        assert!(bytes[16..].iter().all(|&byte| byte == 0));
        assert_eq!(file_len(&path), CAPACITY);
        // The journal works on: a later frame comes back alone.
        journal.append(&encode_all(&[acked(4, 9)]), true).unwrap();
        drop(journal);
        let (_, replayed, _) = Journal::open(&path).unwrap();
        assert_eq!(replayed, vec![acked(4, 9)]);
    }

    #[test]
    fn oversize_length_stops_decoding() {
        let prefix = encode_all(&sample());
        // Claims 4 GiB with 64 bytes present: rejected from the header alone.
        let bytes = [&prefix[..], &u32::MAX.to_le_bytes(), &[0; 64]].concat();
        assert_eq!(decode(&bytes), (sample(), prefix.len()));
        // Complete and CRC-correct: only the limit rejects one byte more than MAX_RECORD.
        let fixed = [&[7; 32][..], &1u64.to_le_bytes(), &2u64.to_le_bytes()].concat();
        for (extra, accepted) in [(1, false), (0, true)] {
            let envelope = vec![0xab; MAX_RECORD as usize - STORED_FIXED + extra];
            let record = raw(STORED, &[&fixed[..], &envelope].concat());
            let (records, valid) = decode(&[&prefix[..], &record].concat());
            assert_eq!(records.len(), sample().len() + usize::from(accepted));
            assert_eq!(valid, prefix.len() + if accepted { record.len() } else { 0 });
        }
    }

    #[test]
    fn unknown_kind_or_wrong_body_size_stops_decoding() {
        let prefix = encode_all(&sample());
        let ack = [&[9; 32][..], &5u64.to_le_bytes()].concat();
        assert_eq!(decode(&raw(ACKED, &ack)).0, vec![acked(9, 5)]);
        let bad = [
            raw(0, &ack),
            raw(3, &ack),
            raw(ACKED, &ack[..ACKED_LEN - 2]),
            raw(ACKED, &[&ack[..], &[0]].concat()),
            raw(STORED, &[0; STORED_FIXED - 2]),
            vec![0; HEADER], // len 0: the CRC of nothing is 0, but there is no kind
        ];
        for record in bad {
            let bytes = [&prefix[..], &record, &prefix].concat();
            assert_eq!(decode(&bytes), (sample(), prefix.len()), "{record:?}");
        }
    }

    #[test]
    fn debug_shows_the_envelope_length_not_its_bytes() {
        let envelope = [0xde, 0xad, 0xbe, 0xef];
        let text = format!("{:?}", stored(1, 2, &envelope));
        assert!(
            !text.contains(format!("{:?}", &envelope[..]).trim_matches(['[', ']'])),
            "{text}"
        );
        assert!(text.contains("envelope_len: 4"), "{text}");
    }
}
