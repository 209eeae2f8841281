//! `cargo bench -p hush-client --bench search`: local full-text search on a profile of
//! 1,000,000 messages (`HUSH_SEARCH_MESSAGES` for fewer) of text from a fixed seeded generator
//! (a Zipf-distributed vocabulary of common English words and made-up rarer ones, 3 to 24
//! words a message, 50 peers).
//!
//! Two profiles are filled in the same run, batch by batch in turn so both see the same load:
//! one as the store is, one with the search index's triggers dropped (the baseline: storing
//! without indexing). Batches of 256 messages, one commit each, as the driver stores a burst
//! of deliveries. Then 200 single-word and 200 two-word queries (words drawn from the text's
//! own distribution, so common words are searched often), newest 20 hits each, all
//! conversations. Prints, for each query set,
//! `SEARCH messages=N p50_ms=.. p99_ms=.. index_mib=.. db_mib=.. insert_per_s=..` (the
//! indexed profile's insert rate) and then the baseline's rate and the ratio.
//!
//! `HUSH_SEARCH_DIR` is where the two profiles go (default: the current directory; both are
//! deleted at the end), `HUSH_SEARCH_SLOW` prints each query slower than 10 ms.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    clippy::indexing_slicing
)]

use std::path::Path;
use std::time::{Duration, Instant};

use hush_client::store::{SearchPage, SearchScope};
use hush_client::{
    Address, Content, DatabaseKey, Direction, MessageId, MessageStatus, SqlStore, StoredMessage,
};
use hush_client_core::{Commit, Store, StoreOp};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

const DEFAULT_MESSAGES: usize = 1_000_000;
const BATCH: usize = 256;
const PEERS: usize = 50;
const QUERIES: usize = 200;
const MADE_UP_WORDS: usize = 20_000;

const COMMON: &str = "the be to of and a in that have i it for not on with he as you do at this but his by \
from they we say her she or an will my one all would there their what so up out if about who get which go me \
when make can like time no just him know take people into year your good some could them see other than then \
now look only come its over think also back after use two how our work first well way even new want because \
any these give day most us is are was were been has had did said going lunch dinner tonight tomorrow meeting \
call later home office train bus car flight hotel weekend morning evening coffee tea beer wine pizza movie \
game match party birthday photo picture video link file report draft budget invoice contract plan idea \
question answer problem thanks thank please sorry sure okay yes maybe great nice cool love miss soon late \
early ready done busy free happy sad tired sick doctor school kids mom dad brother sister friend boss team \
project deadline monday tuesday wednesday thursday friday saturday sunday january march june september \
december city park beach station airport restaurant shop market street house room kitchen garden dog cat";

fn key() -> DatabaseKey {
    DatabaseKey::from_bytes([7; 32])
}

/// The vocabulary, most frequent first, and the cumulative Zipf weights to draw from it.
struct Words {
    words: Vec<String>,
    cumulative: Vec<f64>,
}

impl Words {
    fn new(rng: &mut StdRng) -> Self {
        let syllables = [
            "ka", "lo", "mi", "ne", "ta", "ri", "so", "ve", "du", "pa", "ge", "zo", "bri", "sta", "mon",
            "der", "lin", "qua", "fer", "ost",
        ];
        let mut words: Vec<String> = COMMON.split_whitespace().map(str::to_owned).collect();
        while words.len() < MADE_UP_WORDS {
            let parts = rng.random_range(2..=4);
            let word: String = (0..parts)
                .map(|_| syllables[rng.random_range(0..syllables.len())])
                .collect();
            words.push(word);
        }
        let mut total = 0.0;
        let cumulative = (0..words.len())
            .map(|rank| {
                total += 1.0 / (rank as f64 + 1.0);
                total
            })
            .collect();
        Self { words, cumulative }
    }

    fn draw(&self, rng: &mut StdRng) -> &str {
        let total = self.cumulative.last().copied().unwrap_or(1.0);
        let at = rng.random_range(0.0..total);
        let rank = self.cumulative.partition_point(|&weight| weight < at);
        &self.words[rank.min(self.words.len() - 1)]
    }

    fn message(&self, rng: &mut StdRng) -> String {
        let length = rng.random_range(3..=24);
        let mut text = String::new();
        for index in 0..length {
            if index > 0 {
                text.push(' ');
            }
            text.push_str(self.draw(rng));
        }
        text
    }
}

fn peers(rng: &mut StdRng) -> Vec<Address> {
    (0..PEERS)
        .map(|_| Address::from_identity(&hush_crypto::Account::new(1_700_000_000, rng).identity_key()))
        .collect()
}

/// A profile whose database has the search index's triggers dropped (what storing costs
/// without indexing).
fn unindexed(path: &Path) -> SqlStore {
    drop(SqlStore::open(path, &key()).unwrap());
    let conn = rusqlite::Connection::open(path).unwrap();
    let hex: String = [7u8; 32].iter().map(|byte| format!("{byte:02x}")).collect();
    conn.execute_batch(&format!(
        "PRAGMA key = \"x'{hex}'\"; DROP TRIGGER message_search_insert; \
         DROP TRIGGER message_search_update; DROP TRIGGER message_search_delete;"
    ))
    .unwrap();
    drop(conn);
    SqlStore::open_existing(path, &key()).unwrap()
}

fn file_mib(path: &Path) -> u64 {
    let size = |path: &Path| std::fs::metadata(path).map_or(0, |metadata| metadata.len());
    let wal = path.with_extension("db-wal");
    (size(path) + size(&wal)) >> 20
}

fn percentile(sorted: &[Duration], fraction: f64) -> f64 {
    let index = ((sorted.len() as f64 - 1.0) * fraction).round() as usize;
    sorted[index].as_secs_f64() * 1000.0
}

fn main() {
    let count: usize = std::env::var("HUSH_SEARCH_MESSAGES")
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(DEFAULT_MESSAGES);
    let dir = tempfile::tempdir_in(std::env::var("HUSH_SEARCH_DIR").unwrap_or_else(|_| ".".into())).unwrap();
    let mut rng = StdRng::seed_from_u64(20);
    let words = Words::new(&mut rng);
    let peers = peers(&mut rng);
    let indexed_path = dir.path().join("indexed.db");
    let mut indexed = SqlStore::open(&indexed_path, &key()).unwrap();
    let mut plain = unindexed(&dir.path().join("unindexed.db"));

    let (mut indexed_time, mut plain_time) = (Duration::ZERO, Duration::ZERO);
    let start_ms: u64 = 1_765_000_000_000;
    let mut stored = 0;
    while stored < count {
        let batch: Vec<StoreOp> = (stored..count.min(stored + BATCH))
            .map(|index| {
                let at = start_ms + index as u64 * 1000;
                let mut id = [0u8; 16];
                id[..8].copy_from_slice(&(index as u64).to_be_bytes());
                StoreOp::InsertMessage(StoredMessage {
                    id: MessageId(id),
                    peer: peers[rng.random_range(0..PEERS)],
                    direction: if rng.random_bool(0.5) {
                        Direction::Incoming
                    } else {
                        Direction::Outgoing
                    },
                    conv_seq: index as u64 + 1,
                    sent_at: at,
                    stored_at: at,
                    content: Content::text(words.message(&mut rng)),
                    status: MessageStatus::Received,
                })
            })
            .collect();
        stored += batch.len();
        let commit = Commit { ops: batch };
        // In turn which goes first, so neither always meets the disk after the other.
        let order = if (stored / BATCH).is_multiple_of(2) {
            [false, true]
        } else {
            [true, false]
        };
        for with_index in order {
            let started = Instant::now();
            if with_index {
                indexed.apply(&commit).unwrap();
                indexed_time += started.elapsed();
            } else {
                plain.apply(&commit).unwrap();
                plain_time += started.elapsed();
            }
        }
    }
    let rate = |time: Duration| (count as f64 / time.as_secs_f64()).round() as u64;
    let (indexed_rate, plain_rate) = (rate(indexed_time), rate(plain_time));
    let index_mib = indexed.search_index_bytes().unwrap() >> 20;
    let db_mib = file_mib(&indexed_path);

    for (label, terms) in [("single-word", 1), ("two-word", 2)] {
        let mut times = Vec::with_capacity(QUERIES);
        let mut hits = 0;
        for _ in 0..QUERIES {
            let query: Vec<&str> = (0..terms).map(|_| words.draw(&mut rng)).collect();
            let query = query.join(" ");
            let started = Instant::now();
            let found = indexed
                .search(&query, SearchScope::All, SearchPage::first(20))
                .unwrap();
            times.push(started.elapsed());
            if std::env::var_os("HUSH_SEARCH_SLOW").is_some() && started.elapsed() > Duration::from_millis(10)
            {
                println!("slow: {query:?} {:?}", started.elapsed());
            }
            hits += found.len();
        }
        times.sort();
        println!("# {label} queries: {QUERIES}, {hits} hits shown in all (at most 20 each)");
        println!(
            "SEARCH messages={count} p50_ms={:.2} p99_ms={:.2} index_mib={index_mib} db_mib={db_mib} insert_per_s={indexed_rate}",
            percentile(&times, 0.5),
            percentile(&times, 0.99),
        );
    }
    println!(
        "BASELINE messages={count} insert_per_s={plain_rate} (no index, same run, batches of {BATCH}) ratio={:.2}",
        indexed_rate as f64 / plain_rate as f64
    );
}
