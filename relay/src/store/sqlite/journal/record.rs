//! The journal's bytes: the file header, the frames appended after it, and the records a frame
//! holds.
//!
//! ```text
//! header: magic b"HUSHJNL1", generation u64 LE            16 bytes at offset 0
//! frame:  generation u64 LE, len u32 LE, crc u32 LE       one per append, back to back from 16
//!         payload: len bytes of whole records, crc = CRC-32 (crc32fast) of the payload
//! record: len u32 LE   length of kind || body
//!         crc u32 LE   CRC-32 (crc32fast) of kind || body
//!         kind u8      1 = Stored, 2 = Acked
//!         body         Stored: mailbox [u8; 32], seq u64 LE, received_at u64 LE, envelope (the rest)
//!                      Acked:  mailbox [u8; 32], through u64 LE (exactly 40 bytes)
//! ```
//!
//! A record that is cut short, longer than [`MAX_RECORD`], fails its CRC, has an unknown kind or
//! a body of the wrong size for its kind ends [`decode`]; in a frame whose CRC matched that is a
//! bug, and replay drops the whole frame.

use std::fmt;

use hush_proto::MailboxId;

/// First bytes of every journal file: replay never reads a file that is something else.
pub(in crate::store::sqlite) const MAGIC: [u8; 8] = *b"HUSHJNL1";
/// Magic and generation: where the first frame starts.
pub(in crate::store::sqlite) const FILE_HEADER: u64 = 16;
/// A frame's generation, len and crc.
pub(in crate::store::sqlite) const FRAME_HEADER: u64 = 16;

/// Longest `kind || body` replay accepts. Above any real record: an envelope fits in one wire frame
/// (at most `hush_proto::MAX_FRAME_LEN`, about 1.06 MiB) and a record adds 49 bytes to it. Small
/// enough that a corrupt length can never make replay copy more than 8 MiB into one record.
pub(in crate::store::sqlite) const MAX_RECORD: u32 = 8 << 20;

/// `len` and `crc`.
pub(in crate::store::sqlite) const HEADER: usize = 8;
/// `kind`, mailbox, seq and received_at: a Stored record with an empty envelope.
pub(in crate::store::sqlite) const STORED_FIXED: usize = 1 + 32 + 8 + 8;
/// `kind`, mailbox and through.
#[cfg(test)]
pub(in crate::store::sqlite) const ACKED_LEN: usize = 1 + 32 + 8;
pub(in crate::store::sqlite) const STORED: u8 = 1;
pub(in crate::store::sqlite) const ACKED: u8 = 2;

// Every envelope the relay accepts fits in a record that replay reads back.
const _: () = assert!(hush_proto::MAX_FRAME_LEN as usize + STORED_FIXED <= MAX_RECORD as usize);

/// One journal record.
#[derive(Clone, PartialEq, Eq)]
pub(in crate::store::sqlite) enum Record {
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
    pub(in crate::store::sqlite) fn encode(&self, buf: &mut Vec<u8>) {
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
pub(in crate::store::sqlite) fn encode_stored(
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
pub(in crate::store::sqlite) fn encode_acked(buf: &mut Vec<u8>, mailbox: &MailboxId, through: u64) {
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
pub(in crate::store::sqlite) fn decode(bytes: &[u8]) -> (Vec<Record>, usize) {
    let mut records = Vec::new();
    let mut rest = bytes;
    while let Some((record, tail)) = decode_one(rest) {
        records.push(record);
        rest = tail;
    }
    (records, bytes.len() - rest.len())
}

/// The first record of `bytes` and what follows it, or `None` where the readable journal ends.
pub(in crate::store::sqlite) fn decode_one(bytes: &[u8]) -> Option<(Record, &[u8])> {
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

/// Appends a frame of `generation` around `payload` (`len` is its length) to `buf`.
pub(in crate::store::sqlite) fn encode_frame(buf: &mut Vec<u8>, generation: u64, len: u32, payload: &[u8]) {
    buf.extend_from_slice(&generation.to_le_bytes());
    buf.extend_from_slice(&len.to_le_bytes());
    buf.extend_from_slice(&crc32fast::hash(payload).to_le_bytes());
    buf.extend_from_slice(payload);
}

pub(in crate::store::sqlite) fn file_header(generation: u64) -> Vec<u8> {
    [MAGIC, generation.to_le_bytes()].concat()
}
