use std::fs::File;
use std::io;
use std::path::Path;

use hush_proto::MailboxId;

use super::record::{
    ACKED, ACKED_LEN, FILE_HEADER, HEADER, MAGIC, MAX_RECORD, Record, STORED, STORED_FIXED, decode,
    encode_frame, file_header,
};
use super::replay::replay;
use super::{CAPACITY, Journal, write_at};

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
