//! The client process the crash tests kill and restart.
//!
//! `crash.rs` starts its own test executable again, running only its `crash_peer_process`
//! entry point, with the arguments in [`ARGS_VAR`] (joined by [`SEPARATOR`]):
//!
//! `PROFILE KEY RELAY PEER MODE N` — the profile's path, its database key (64 hex digits), the
//! relay (`host:port#fingerprint`), the other party's address (`hush:...`), and a mode:
//!
//! - `send N`: counts the messages to `PEER` already in the history (a killed run queued them
//!   durably), sends the rest of `m0`..`m{N-1}`, then waits until the relay stored every one.
//! - `receive N`: reports each message from `PEER` until the history holds `N` of them.
//!
//! Output, one line each, flushed at once so a line the test read is a step that happened:
//! `address hush:...` first, then `queued {i}` once `send` returned (the message is durable),
//! `all-sent` once no message is below `Sent`, `got {text}` per message received, `done`.

use std::collections::HashSet;
use std::io::Write as _;

use anyhow::{Context as _, Result, bail, ensure};
use hush_client::{
    Address, Client, ClientEvent, Content, DatabaseKey, Direction, Event, Events, MessageId, MessageStatus,
    RelayAddress, StoredMessage,
};

/// The environment variable that holds the arguments.
pub const ARGS_VAR: &str = "HUSH_CRASH_PEER_ARGS";
/// Joins the arguments in [`ARGS_VAR`]: no path or address holds it.
pub const SEPARATOR: char = '\u{1f}';

/// A history page that holds a whole test conversation.
const WHOLE_CONVERSATION: usize = 1_000_000;

/// Runs one life of the child: until its mode is done, or until it is killed.
pub async fn run(args: &[String]) -> Result<()> {
    let [profile, key, relay, peer, mode, count] = args else {
        bail!("expected PROFILE KEY RELAY PEER MODE N, got {args:?}");
    };
    let key = parse_key(key)?;
    let relay: RelayAddress = relay.parse().context("the relay address")?;
    let peer: Address = peer.parse().context("the peer address")?;
    let count: usize = count.parse().context("the message count")?;
    let (client, events) = Client::open(profile, &key, relay).await?;
    say(format_args!("address {}", client.address()))?;
    match mode.as_str() {
        "send" => send(&client, events, peer, count).await?,
        "receive" => receive(&client, events, peer, count).await?,
        other => bail!("unknown mode {other:?}: expected send or receive"),
    }
    client.shutdown().await?;
    Ok(())
}

async fn send(client: &Client, mut events: Events, peer: Address, count: usize) -> Result<()> {
    // What a killed run queued is durable: continue after it.
    let earlier = messages(client, peer, Direction::Outgoing).await?;
    for (i, message) in earlier.iter().enumerate() {
        ensure!(
            text(message) == format!("m{i}"),
            "outgoing message {i} reads {:?}",
            text(message)
        );
    }
    for i in earlier.len()..count {
        client.send(peer, Content::text(format!("m{i}"))).await?;
        say(format_args!("queued {i}"))?;
    }
    let outgoing = messages(client, peer, Direction::Outgoing).await?;
    if let Some(failed) = outgoing
        .iter()
        .find(|message| message.status == MessageStatus::Failed)
    {
        bail!("{:?} failed", text(failed));
    }
    // A status read here is committed; a later change comes as an event.
    let mut waiting: HashSet<MessageId> = outgoing
        .iter()
        .filter(|message| message.status == MessageStatus::Queued)
        .map(|message| message.id)
        .collect();
    while !waiting.is_empty() {
        match events.next().await.context("the client ended")? {
            ClientEvent::Core(Event::StatusChanged { id, status, .. }) => match status {
                MessageStatus::Sent | MessageStatus::Delivered | MessageStatus::Read => {
                    waiting.remove(&id);
                }
                MessageStatus::Failed => bail!("message {id:?} failed"),
                _ => {}
            },
            ClientEvent::Stopped(reason) => bail!("the client stopped: {reason}"),
            _ => {}
        }
    }
    say("all-sent")
}

async fn receive(client: &Client, mut events: Events, peer: Address, count: usize) -> Result<()> {
    // A set, not a count: a message stored before this read may also still wait as an event.
    let mut have: HashSet<MessageId> = messages(client, peer, Direction::Incoming)
        .await?
        .iter()
        .map(|message| message.id)
        .collect();
    while have.len() < count {
        match events.next().await.context("the client ended")? {
            ClientEvent::Core(Event::MessageReceived(message)) if message.peer == peer => {
                say(format_args!("got {}", text(&message)))?;
                have.insert(message.id);
            }
            ClientEvent::Stopped(reason) => bail!("the client stopped: {reason}"),
            _ => {}
        }
    }
    say("done")
}

/// The messages with `peer` in one direction, oldest first.
async fn messages(client: &Client, peer: Address, direction: Direction) -> Result<Vec<StoredMessage>> {
    let history = client.history(peer, None, WHOLE_CONVERSATION).await?;
    Ok(history
        .into_iter()
        .map(|entry| entry.message)
        .filter(|message| message.direction == direction)
        .collect())
}

fn text(message: &StoredMessage) -> String {
    match &message.content {
        Content::Text(text) => text.clone(),
        other => format!("{other:?}"),
    }
}

fn parse_key(hex: &str) -> Result<DatabaseKey> {
    ensure!(
        hex.len() == 64,
        "the key must be 64 hex digits, got {} characters",
        hex.len()
    );
    let mut bytes = [0u8; 32];
    for (byte, pair) in bytes.iter_mut().zip(hex.as_bytes().chunks(2)) {
        let pair = std::str::from_utf8(pair).context("the key is not hex")?;
        *byte = u8::from_str_radix(pair, 16).with_context(|| format!("{pair:?} in the key is not hex"))?;
    }
    Ok(DatabaseKey::from_bytes(bytes))
}

/// Writes one line to stdout and flushes it: once the test reads it, it happened.
fn say(line: impl std::fmt::Display) -> Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{line}")?;
    out.flush()?;
    Ok(())
}
