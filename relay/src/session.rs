//! One connection's session as the request handlers see it: the login challenge and TLS exporter
//! a login signature binds, the mailbox once logged in, and where its frames go.

use std::sync::Arc;

use hush_proto::{MailboxId, ServerFrame};
use tokio::sync::mpsc;

use crate::delivery::Online;
use crate::limits::TokenBucket;

/// Frames queued to one connection's writer before senders wait.
pub(crate) const OUTBOX_CAPACITY: usize = 256;

/// Per-connection state the request handlers read and change.
#[derive(Debug)]
pub(crate) struct Session {
    pub(crate) id: u64,
    pub(crate) challenge: [u8; 32],
    pub(crate) exporter: [u8; 32],
    pub(crate) mailbox: Option<MailboxId>,
    pub(crate) online: Option<Arc<Online>>,
    pub(crate) outbox: mpsc::Sender<ServerFrame>,
    /// Set by a handler to close the connection after its response (mailbox deleted).
    pub(crate) close_after: bool,
    /// The connection's ephemeral-send budget, made at its first ephemeral send.
    pub(crate) ephemeral: Option<TokenBucket>,
}

impl Session {
    /// A logged-out session of connection `id`, whose login must sign `challenge` and `exporter`.
    pub(crate) fn new(
        id: u64,
        challenge: [u8; 32],
        exporter: [u8; 32],
        outbox: mpsc::Sender<ServerFrame>,
    ) -> Self {
        Self {
            id,
            challenge,
            exporter,
            mailbox: None,
            online: None,
            outbox,
            close_after: false,
            ephemeral: None,
        }
    }

    /// Highest sequence number pushed so far on this connection.
    pub(crate) fn pushed_through(&self) -> u64 {
        self.online.as_ref().map_or(0, |online| online.pushed_through())
    }
}
