//! Reading a journal file back at open. Replay reads the frames of the header's generation from
//! offset 16 and stops at the first frame of another generation (the normal end: a stale frame,
//! or the zeros of a file never written that far), or one that runs past the end of the file,
//! fails its CRC or does not decode into whole records. The latter is the torn last write of a
//! crash, whose senders were never answered. A frame is replayed whole or not at all.

use std::io::{self, Read};
#[cfg(test)]
use std::path::Path;

#[cfg(feature = "fuzzing")]
use hush_proto::MailboxId;

use super::record::{FILE_HEADER, FRAME_HEADER, MAGIC, Record, decode};
#[cfg(feature = "fuzzing")]
use super::record::{encode_acked, encode_frame, encode_stored, file_header};

/// What a journal file holds for replay.
#[derive(Debug)]
pub(in crate::store::sqlite) struct Replay {
    /// The header's generation; `None` for a journal never initialised (short or zero header).
    pub(super) generation: Option<u64>,
    /// The records of the generation's good frames, in order.
    pub(super) records: Vec<Record>,
    /// Just after the last good frame: where the next frame of this generation goes.
    pub(super) end: u64,
    /// Bytes of a frame of this generation that was cut short or is corrupt.
    pub(super) torn: u64,
}

/// Reads the header and the frames of its generation from `file`, `size` bytes long, stopping at
/// the first frame that is not good (see the module doc); an error if it is not a journal. Reads
/// only the live part of the file, and never allocates more than `size` for one frame.
pub(in crate::store::sqlite) fn replay(file: impl Read, size: u64) -> io::Result<Replay> {
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

pub(in crate::store::sqlite) fn read_array<const N: usize>(file: &mut impl Read) -> io::Result<[u8; N]> {
    let mut bytes = [0; N];
    file.read_exact(&mut bytes)?;
    Ok(bytes)
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
pub(in crate::store::sqlite) fn peek(path: &Path) -> Vec<Record> {
    let bytes = std::fs::read(path).unwrap_or_default();
    replay(&bytes[..], bytes.len() as u64)
        .map(|found| found.records)
        .unwrap_or_default()
}
