//! Write-ahead message journal: an append-only file beside the database. Each batch of enqueued
//! messages and acks is appended with one write and one fdatasync before the senders are
//! answered; about once a second the store moves what is still unacknowledged into SQLite and
//! [`Journal::reset`]s the file. At open the store replays the journal's records into SQLite.
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
//! a body of the wrong size for its kind ends the readable journal: from its offset on the file
//! is a torn tail, left by a crash during the last write, whose senders were never answered.
//! [`Journal::open`] truncates the file to the readable prefix, so later records follow the
//! earlier ones directly instead of hiding behind the torn bytes.

use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::Path;

use hush_proto::MailboxId;

/// Longest `kind || body` replay accepts. Above any real record: an envelope fits in one frame
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

/// The open journal file.
#[derive(Debug)]
pub(super) struct Journal {
    file: File,
    /// End of the last successful append: where the next one writes.
    len: u64,
    /// A failed append could not be cut off again; appends fail until a [`Journal::reset`].
    broken: bool,
}

impl Journal {
    /// Opens or creates (mode 0600: it holds envelopes) the journal at `path` and reads its
    /// records back for replay. Returns the journal, the records and how many trailing bytes were
    /// a torn tail. The torn tail is truncated away; the rest of the file stays until the caller
    /// has replayed the records and calls [`Journal::reset`].
    pub(super) fn open(path: &Path) -> io::Result<(Journal, Vec<Record>, u64)> {
        let mut options = OpenOptions::new();
        options.read(true).write(true).create(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut file = options.open(path)?;
        sync_parent(path)?;
        // The caller empties the journal every second, so it is small enough to read at once.
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)?;
        let (records, valid) = decode(&bytes);
        let torn = (bytes.len() - valid) as u64;
        let len = valid as u64;
        if torn > 0 {
            file.set_len(len)?;
            file.sync_all()?;
        }
        Ok((
            Journal {
                file,
                len,
                broken: false,
            },
            records,
            torn,
        ))
    }

    /// Appends `bytes` (whole encoded records) at the end in one write; with `sync`, fdatasyncs
    /// before returning. On error the file is cut back to where it was, as the senders of this
    /// batch hear it failed.
    pub(super) fn append(&mut self, bytes: &[u8], sync: bool) -> io::Result<()> {
        if self.broken {
            return Err(io::Error::other("a failed journal append could not be cut off"));
        }
        let result = self.write_at_end(bytes, sync);
        if result.is_err() {
            // Part of this batch may be in the file. Left there, a shorter later batch would
            // leave whole records of it behind its own, replayed though their senders failed.
            self.broken = self.file.set_len(self.len).is_err();
        }
        result
    }

    fn write_at_end(&mut self, bytes: &[u8], sync: bool) -> io::Result<()> {
        self.file.seek(SeekFrom::Start(self.len))?;
        self.file.write_all(bytes)?;
        if sync {
            self.file.sync_data()?;
        }
        self.len += bytes.len() as u64;
        Ok(())
    }

    /// Empties the file and syncs it, so records already moved into SQLite are not replayed
    /// again after a crash. The next append starts at offset 0.
    pub(super) fn reset(&mut self) -> io::Result<()> {
        self.file.set_len(0)?;
        self.file.sync_all()?;
        self.len = 0;
        self.broken = false;
        Ok(())
    }

    /// Bytes appended since the last reset (for deciding when to move records into SQLite).
    pub(super) fn len(&self) -> u64 {
        self.len
    }
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

#[cfg(test)]
mod tests {
    use super::*;

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
            match record {
                Record::Stored {
                    mailbox,
                    seq,
                    received_at,
                    envelope,
                } => encode_stored(&mut buf, mailbox, *seq, *received_at, envelope),
                Record::Acked { mailbox, through } => encode_acked(&mut buf, mailbox, *through),
            }
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

    fn sample() -> Vec<Record> {
        vec![stored(1, 1, b"first"), acked(1, 1), stored(2, 7, b"")]
    }

    #[test]
    fn records_round_trip_through_bytes_and_file() {
        let mut records = sample();
        records.push(stored(
            3,
            9,
            &(0..1 << 20).map(|i| (i % 251) as u8).collect::<Vec<_>>(),
        ));
        records.push(acked(3, u64::MAX));
        let bytes = encode_all(&records);
        assert_eq!(decode(&bytes), (records.clone(), bytes.len()));

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("relay.db-journal");
        let (mut journal, replayed, torn) = Journal::open(&path).unwrap();
        assert_eq!((replayed, torn, journal.len()), (vec![], 0, 0));
        journal.append(&encode_all(&records[..2]), false).unwrap();
        journal.append(&encode_all(&records[2..]), true).unwrap();
        assert_eq!(journal.len(), bytes.len() as u64);
        drop(journal);
        let (journal, replayed, torn) = Journal::open(&path).unwrap();
        assert_eq!((replayed, torn, journal.len()), (records, 0, bytes.len() as u64));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
                0o600
            );
        }
    }

    #[test]
    fn torn_tail_at_every_offset_is_cut_and_appends_follow_the_valid_prefix() {
        let prefix = encode_all(&sample());
        let last = encode_all(&[stored(4, 11, b"cut short")]);
        let next = stored(5, 12, b"after the crash");
        let dir = tempfile::tempdir().unwrap();
        for cut in 0..last.len() {
            let path = dir.path().join(format!("journal-{cut}"));
            std::fs::write(&path, [&prefix[..], &last[..cut]].concat()).unwrap();
            let (mut journal, replayed, torn) = Journal::open(&path).unwrap();
            assert_eq!((replayed, torn), (sample(), cut as u64), "cut at {cut}");
            assert_eq!(std::fs::metadata(&path).unwrap().len(), prefix.len() as u64);
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
    fn flipped_bit_stops_decoding_at_that_record() {
        let first = encode_all(&sample()[..1]);
        let target = encode_all(&[stored(6, 3, b"flip me")]);
        let bytes = [first.clone(), target.clone(), encode_all(&sample())].concat();
        for byte in first.len()..first.len() + target.len() {
            for bit in 0..8 {
                let mut bytes = bytes.clone();
                bytes[byte] ^= 1 << bit;
                assert_eq!(
                    decode(&bytes),
                    (sample()[..1].to_vec(), first.len()),
                    "byte {byte} bit {bit}"
                );
            }
        }
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
    fn reset_empties_the_file_and_later_appends_read_back_alone() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal");
        let (mut journal, _, _) = Journal::open(&path).unwrap();
        journal.append(&encode_all(&sample()), true).unwrap();
        journal.reset().unwrap();
        assert_eq!((journal.len(), std::fs::metadata(&path).unwrap().len()), (0, 0));
        let later = encode_all(&[acked(8, 20)]);
        journal.append(&later, true).unwrap();
        assert_eq!(journal.len(), later.len() as u64);
        drop(journal);
        let (_, replayed, torn) = Journal::open(&path).unwrap();
        assert_eq!((replayed, torn), (vec![acked(8, 20)], 0));
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
