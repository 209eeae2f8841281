//! The `--json` shapes, one per command, stable: fields are only ever added. Message ids and
//! addresses are strings (ids in hex), times are unix milliseconds (`*_ms`), positions are
//! numbers (pass one to `history --before`).

use hush_client::{Address, Contact, ConversationSummary, Direction, HistoryEntry};
use serde::Serialize;

use super::format;

/// A message, as every shape below lists it.
#[derive(Debug, Serialize)]
pub struct Message {
    /// The message id, hex.
    pub id: String,
    /// Its place in the history; `history --before` takes it.
    pub position: u64,
    /// `"incoming"` or `"outgoing"`.
    pub direction: &'static str,
    /// The sender's clock when it was written.
    pub sent_at_ms: u64,
    /// Our clock when it was stored here.
    pub stored_at_ms: u64,
    /// `queued`, `sent`, `delivered`, `read` or `failed` for one's own (the highest reached);
    /// `received` or `seen` for incoming ones.
    pub status: &'static str,
    /// Incoming and not yet marked read.
    pub unread: bool,
    /// The text as sent (JSON-escaped, control characters included); for a content kind this
    /// build cannot show, a placeholder.
    pub text: String,
}

impl Message {
    pub fn new(entry: &HistoryEntry) -> Self {
        let message = &entry.message;
        Self {
            id: message.id.to_string(),
            position: entry.position,
            direction: match message.direction {
                Direction::Incoming => "incoming",
                _ => "outgoing",
            },
            sent_at_ms: message.sent_at,
            stored_at_ms: message.stored_at,
            status: format::status_name(message.status),
            unread: format::is_unread(message),
            text: format::raw_text(&message.content),
        }
    }
}

/// Whom a conversation is with; flattened into the shapes below.
#[derive(Debug, Serialize)]
pub struct Peer {
    /// The other side's address.
    pub peer: String,
    /// Its contact name, `null` if it is not a contact.
    pub name: Option<String>,
}

impl Peer {
    pub fn new(address: &Address, name: Option<String>) -> Self {
        Self {
            peer: address.to_string(),
            name,
        }
    }
}

/// `hush history --json`: one page, oldest first.
#[derive(Debug, Serialize)]
pub struct History {
    #[serde(flatten)]
    pub with: Peer,
    pub messages: Vec<Message>,
    /// What to pass as `--before` for the page before this one; `null` at the start.
    pub next_before: Option<u64>,
}

/// `hush conversations --json`: most recent first.
#[derive(Debug, Serialize)]
pub struct Conversations {
    pub conversations: Vec<Conversation>,
}

#[derive(Debug, Serialize)]
pub struct Conversation {
    #[serde(flatten)]
    pub with: Peer,
    /// Incoming messages not yet read.
    pub unread: usize,
    /// The latest message.
    pub last: Message,
}

impl Conversation {
    pub fn new(summary: &ConversationSummary) -> Self {
        Self {
            with: Peer::new(&summary.peer, summary.name.clone()),
            unread: summary.unread,
            last: Message::new(&summary.last),
        }
    }
}

/// `hush inbox --json`: most recent conversation first, each with its latest messages: the new
/// ones (`unread: true`, up to 50; they are then marked read) and five before them.
#[derive(Debug, Serialize)]
pub struct Inbox {
    /// Whether the relay was reached (otherwise this is what was stored).
    pub online: bool,
    pub conversations: Vec<InboxConversation>,
}

#[derive(Debug, Serialize)]
pub struct InboxConversation {
    #[serde(flatten)]
    pub with: Peer,
    /// How many were new (those shown are marked read now).
    pub unread: usize,
    pub messages: Vec<Message>,
}

/// A contact, as `hush contact list --json` lists them.
#[derive(Debug, Serialize)]
pub struct ContactEntry {
    pub name: String,
    pub address: String,
    /// Safety number compared (`hush safety NAME --verify`).
    pub verified: bool,
    pub added_at_ms: u64,
}

impl ContactEntry {
    pub fn new(contact: &Contact) -> Self {
        Self {
            name: contact.name.clone(),
            address: contact.address.to_string(),
            verified: contact.verified,
            added_at_ms: contact.added_at,
        }
    }
}

/// `hush contact list --json`: by name.
#[derive(Debug, Serialize)]
pub struct Contacts {
    pub contacts: Vec<ContactEntry>,
}

/// Prints `value` as one line of JSON.
pub fn print(value: &impl Serialize) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string(value)?);
    Ok(())
}
