//! Crash safety: a client process SIGKILLed mid-send or mid-receive, then restarted on the same
//! profile, loses nothing and duplicates nothing.
//!
//! The relay and the other party run in this process; the client that is killed runs as a child
//! process: this test executable started again, running only [`crash_peer_process`] (the
//! program is in `crash_peer/mod.rs`). Re-running our own executable means the child is always
//! built, and built from the current source, whatever targets cargo was asked to build.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod crash_peer;
mod helpers;

use std::collections::HashSet;
use std::os::unix::process::ExitStatusExt as _;
use std::path::Path;
use std::process::Stdio;

use hush_client::{
    Address, Client, ClientEvent, Content, Direction, Event, MessageId, MessageStatus, RelayAddress,
};
use tokio::io::{AsyncBufReadExt as _, BufReader, Lines};
use tokio::process::{Child, ChildStdout, Command};
use tokio::sync::oneshot;

use helpers::*;

/// Messages per test.
const N: usize = 300;
/// History page that holds a whole test conversation.
const WHOLE_CONVERSATION: usize = 10 * N;
/// The signal `Child::start_kill` sends on Unix.
const SIGKILL: i32 = 9;
/// The child is killed once it reported these messages (queued or received): the first one (the
/// session is being set up), then two in the stream.
const KILLS_AFTER: [usize; 3] = [0, 100, 200];

/// Not a test: the body of the child process the tests start ([`PeerProcess::start`]). It does
/// something only when its arguments are in the environment.
#[test]
#[ignore = "the crash tests' child process; they start it themselves"]
fn crash_peer_process() {
    let Ok(args) = std::env::var(crash_peer::ARGS_VAR) else {
        return;
    };
    let args: Vec<String> = args.split(crash_peer::SEPARATOR).map(str::to_owned).collect();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    if let Err(error) = runtime.block_on(crash_peer::run(&args)) {
        panic!("crash peer failed: {error:#}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sender_killed_mid_send_loses_and_duplicates_nothing() {
    let relay = spawn_relay().await;
    let dir = tempfile::tempdir().unwrap();
    let sender = Profile::register(&dir.path().join("sender.db"), 1, &relay.address).await;
    let (receiver, mut receiver_events) =
        online_client(&dir.path().join("receiver.db"), &test_key(2), &relay.address).await;
    receiver.accept(sender.address).await.unwrap();

    // Killed mid-send at each of KILLS_AFTER (once it reported that message; more may be queued
    // before the kill lands), then left to finish.
    let mut next = 0;
    for (run, kill_after) in KILLS_AFTER.into_iter().enumerate() {
        let name = format!("sender, run {run}");
        let mut process = sender
            .start(&name, &relay.address, receiver.address(), "send", N)
            .await;
        process.until(&format!("queued {kill_after}")).await;
        let queued = resumed_queue(&name, &process.kill().await, next);
        assert!(*queued.end() < N - 1, "{name}: the kill came after the last send");
        eprintln!(
            "{name}: queued m{}..=m{}, then killed",
            queued.start(),
            queued.end()
        );
        next = queued.end() + 1;
    }
    let name = "sender, last run";
    let lines = sender
        .start(name, &relay.address, receiver.address(), "send", N)
        .await
        .finish()
        .await;
    let queued = resumed_queue(name, &lines, next);
    assert_eq!(*queued.end(), N - 1, "{name}");
    assert!(lines.iter().any(|line| line == "all-sent"), "{name}: {lines:?}");

    // One more run sends one more, m{N}: it reaches the receiver after anything the runs before
    // put in its mailbox, so once it arrives no late duplicate can still be coming.
    let extra = sender
        .start(
            "sender, extra run",
            &relay.address,
            receiver.address(),
            "send",
            N + 1,
        )
        .await;
    let extra = extra.finish().await;
    assert_eq!(numbers(&extra, "queued "), [N], "extra run");

    let last = format!("m{N}");
    let mut dropped = Vec::new();
    let received = collect_until(&mut receiver_events, |event, received| {
        if let ClientEvent::Core(Event::Dropped { reason, .. }) = event {
            dropped.push(reason.clone());
        }
        received
            .last()
            .is_some_and(|message| message.content == Content::text(last.clone()))
    })
    .await;
    let expected: Vec<String> = (0..=N).map(|i| format!("m{i}")).collect();
    assert_same_sequence(&texts(&received), &expected, "the receiver's events");
    assert!(received.iter().all(|message| message.peer == sender.address));
    assert!(dropped.is_empty(), "the receiver dropped envelopes: {dropped:?}");
    let history = receiver
        .history(sender.address, None, WHOLE_CONVERSATION)
        .await
        .unwrap();
    let history: Vec<_> = history.into_iter().map(|entry| entry.message).collect();
    assert!(
        history
            .iter()
            .all(|message| message.direction == Direction::Incoming)
    );
    assert_same_sequence(&texts(&history), &expected, "the receiver's history");
    receiver.shutdown().await.unwrap();
    relay.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_killed_mid_receive_loses_and_duplicates_nothing() {
    let relay = spawn_relay().await;
    let dir = tempfile::tempdir().unwrap();
    let receiver = Profile::register(&dir.path().join("receiver.db"), 3, &relay.address).await;
    let (sender, mut sender_events) =
        online_client(&dir.path().join("sender.db"), &test_key(4), &relay.address).await;
    let sender_address = sender.address();
    let receiver_address = receiver.address;
    receiver.accept(sender_address, &relay.address).await;

    // The sender queues while the receiver runs, so the receiver is killed while messages keep
    // coming rather than after it drained a full mailbox. The last message waits until the runs
    // to be killed are over: none of them can finish before its kill lands.
    let (release_last, last_released) = oneshot::channel::<()>();
    let sending = tokio::spawn(async move {
        for i in 0..N - 1 {
            sender
                .send(receiver_address, Content::text(format!("m{i}")))
                .await
                .unwrap();
        }
        last_released.await.unwrap();
        sender
            .send(receiver_address, Content::text(format!("m{}", N - 1)))
            .await
            .unwrap();
        sender
    });
    // Killed mid-receive at each of KILLS_AFTER (once it reported that message), then left to
    // finish.
    let mut runs = Vec::new();
    for (run, kill_after) in KILLS_AFTER.into_iter().enumerate() {
        let name = format!("receiver, run {run}");
        let mut process = receiver
            .start(&name, &relay.address, sender_address, "receive", N)
            .await;
        process.until(&format!("got m{kill_after}")).await;
        let lines = process.kill().await;
        assert!(
            !lines.iter().any(|line| line == "done"),
            "{name}: the kill came after the end"
        );
        let got = numbers(&lines, "got m");
        eprintln!(
            "{name}: got {} messages, {:?} to {:?}, then killed",
            got.len(),
            got.first(),
            got.last()
        );
        runs.push(lines);
    }
    release_last.send(()).unwrap();
    let name = "receiver, last run";
    let last = receiver
        .start(name, &relay.address, sender_address, "receive", N)
        .await
        .finish()
        .await;
    assert!(last.iter().any(|line| line == "done"), "{name}: {last:?}");
    runs.push(last);

    // Each message is reported by at most one run, in order: what a killed run reported was
    // stored, so no later run sees it again. (A run killed between storing a message and
    // reporting it leaves a gap here; the history below must fill it.)
    let got: Vec<usize> = runs.iter().flat_map(|lines| numbers(lines, "got m")).collect();
    assert!(
        got.windows(2).all(|pair| pair[0] < pair[1]),
        "reported across runs: {got:?}"
    );
    assert!(got.iter().all(|i| *i < N));

    // The sender's last message arrives after anything still in the receiver's mailbox (copies
    // the relay redelivers because a killed run never acknowledged them).
    let sender = sending.await.unwrap();
    sender.send(receiver.address, Content::text("end")).await.unwrap();
    let (reopened, mut reopened_events) =
        Client::open(&receiver.path, &test_key(receiver.key), relay.address.clone())
            .await
            .unwrap();
    let received = collect_until(&mut reopened_events, |_, received| {
        received
            .iter()
            .any(|message| message.content == Content::text("end"))
    })
    .await;
    assert_eq!(
        texts(&received),
        ["end"],
        "after the last run only the sender's last message is new"
    );
    let history = reopened
        .history(sender_address, None, WHOLE_CONVERSATION)
        .await
        .unwrap();
    let history: Vec<_> = history.into_iter().map(|entry| entry.message).collect();
    let incoming: Vec<_> = history
        .iter()
        .filter(|message| message.direction == Direction::Incoming)
        .cloned()
        .collect();
    let expected: Vec<String> = (0..N)
        .map(|i| format!("m{i}"))
        .chain(["end".to_owned()])
        .collect();
    assert_same_sequence(&texts(&incoming), &expected, "the receiver's history");
    assert_eq!(history.len(), incoming.len(), "the receiver sent no messages");

    // Delivered receipts survive the kills too: every message of the sender is delivered.
    let outgoing = sender
        .history(receiver.address, None, WHOLE_CONVERSATION)
        .await
        .unwrap();
    assert_eq!(outgoing.len(), N + 1);
    let mut undelivered: HashSet<MessageId> = outgoing
        .iter()
        .filter(|entry| {
            !matches!(
                entry.message.status,
                MessageStatus::Delivered | MessageStatus::Read
            )
        })
        .map(|entry| entry.message.id)
        .collect();
    if !undelivered.is_empty() {
        collect_until(&mut sender_events, |event, _| {
            if let ClientEvent::Core(Event::StatusChanged {
                id,
                status: MessageStatus::Delivered,
                ..
            }) = event
            {
                undelivered.remove(id);
            }
            undelivered.is_empty()
        })
        .await;
    }
    let outgoing = sender
        .history(receiver.address, None, WHOLE_CONVERSATION)
        .await
        .unwrap();
    assert!(
        outgoing
            .iter()
            .all(|entry| entry.message.status == MessageStatus::Delivered)
    );
    reopened.shutdown().await.unwrap();
    sender.shutdown().await.unwrap();
    relay.stop().await;
}

/// A profile the child process runs on: created and registered here first, so the other party
/// can fetch its prekeys before the child ever runs.
struct Profile {
    path: std::path::PathBuf,
    key: u8,
    address: Address,
}

impl Profile {
    async fn register(path: &Path, key: u8, relay: &RelayAddress) -> Self {
        let (client, _events) = online_client(path, &test_key(key), relay).await;
        let address = client.address();
        client.shutdown().await.unwrap();
        Self {
            path: path.to_path_buf(),
            key,
            address,
        }
    }

    /// Opens the profile once to accept `peer`'s messages (not as a request).
    async fn accept(&self, peer: Address, relay: &RelayAddress) {
        let (client, _events) = online_client(&self.path, &test_key(self.key), relay).await;
        client.accept(peer).await.unwrap();
        client.shutdown().await.unwrap();
    }

    /// Starts the child on this profile and checks it reports our address.
    async fn start(
        &self,
        name: &str,
        relay: &RelayAddress,
        peer: Address,
        mode: &str,
        count: usize,
    ) -> PeerProcess {
        let key: String = std::iter::repeat_n(format!("{:02x}", self.key), 32).collect();
        let args = [
            self.path.display().to_string(),
            key,
            relay.to_string(),
            peer.to_string(),
            mode.to_owned(),
            count.to_string(),
        ];
        let mut process = PeerProcess::start(name, &args.join(&crash_peer::SEPARATOR.to_string()));
        let first = process.next().await;
        assert_eq!(first, Some(format!("address {}", self.address)), "{name}");
        process
    }
}

/// A running child and what it has written.
struct PeerProcess {
    name: String,
    child: Child,
    stdout: Lines<BufReader<ChildStdout>>,
    lines: Vec<String>,
}

/// How the child's lines start; the test harness's own lines ("running 1 test", ...) do not.
const PEER_LINES: [&str; 5] = ["address ", "queued ", "all-sent", "got ", "done"];

impl PeerProcess {
    fn start(name: &str, args: &str) -> Self {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([
                "crash_peer_process",
                "--exact",
                "--ignored",
                "--nocapture",
                "--quiet",
                "--test-threads=1",
            ])
            .env(crash_peer::ARGS_VAR, args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let stdout = BufReader::new(child.stdout.take().unwrap()).lines();
        // The child's errors go to this test's output, shown if it fails.
        let mut stderr = BufReader::new(child.stderr.take().unwrap()).lines();
        let prefix = name.to_owned();
        tokio::spawn(async move {
            while let Ok(Some(line)) = stderr.next_line().await {
                eprintln!("[{prefix}] {line}");
            }
        });
        Self {
            name: name.to_owned(),
            child,
            stdout,
            lines: Vec::new(),
        }
    }

    /// The child's next line, or `None` once its output ended.
    async fn next(&mut self) -> Option<String> {
        loop {
            let line = tokio::time::timeout(PATIENCE, self.stdout.next_line())
                .await
                .unwrap_or_else(|_| {
                    panic!(
                        "{}: silent for {PATIENCE:?} after {:?}",
                        self.name,
                        self.lines.last()
                    )
                })
                .unwrap()?;
            if PEER_LINES.iter().any(|start| line.starts_with(start)) {
                self.lines.push(line.clone());
                return Some(line);
            }
        }
    }

    /// Reads until the child writes `line`.
    async fn until(&mut self, line: &str) {
        while let Some(next) = self.next().await {
            if next == line {
                return;
            }
        }
        panic!(
            "{}: ended before writing {line:?}; it wrote {:?}",
            self.name, self.lines
        );
    }

    /// SIGKILLs the child; returns every line it wrote.
    async fn kill(mut self) -> Vec<String> {
        self.child.start_kill().unwrap();
        while self.next().await.is_some() {}
        let status = tokio::time::timeout(PATIENCE, self.child.wait())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            status.signal(),
            Some(SIGKILL),
            "{}: the kill came after it exited ({status})",
            self.name
        );
        self.lines
    }

    /// Waits for the child to finish on its own; returns every line it wrote.
    async fn finish(mut self) -> Vec<String> {
        while self.next().await.is_some() {}
        let status = tokio::time::timeout(PATIENCE, self.child.wait())
            .await
            .unwrap()
            .unwrap();
        assert!(
            status.success(),
            "{}: {status}; it wrote {:?}",
            self.name,
            self.lines
        );
        self.lines
    }
}

/// The messages a run of the sender queued: one after another, starting where the run before
/// stopped (`next`): every `queued` line was durable, and at most the one send in progress when
/// the run before died was durable without being reported.
fn resumed_queue(run: &str, lines: &[String], next: usize) -> std::ops::RangeInclusive<usize> {
    let queued = numbers(lines, "queued ");
    let (Some(first), Some(last)) = (queued.first(), queued.last()) else {
        panic!("{run} queued nothing: {lines:?}");
    };
    assert!(
        *first == next || *first == next + 1,
        "{run} resumed at m{first}, not m{next}"
    );
    assert_eq!(queued, (*first..=*last).collect::<Vec<_>>(), "{run}");
    *first..=*last
}

/// The numbers after `prefix` in the lines that start with it.
fn numbers(lines: &[String], prefix: &str) -> Vec<usize> {
    lines
        .iter()
        .filter_map(|line| line.strip_prefix(prefix))
        .map(|number| number.parse().unwrap())
        .collect()
}
