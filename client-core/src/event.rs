//! What the core tells the app.

use crate::address::Address;
use crate::content::MessageId;
use crate::records::{MessageStatus, StoredMessage};

/// Why an envelope from the relay was dropped (after acknowledging it: keeping it could never
/// make it readable).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DropReason {
    /// The sealed-sender layer did not open: not for us, or altered.
    Unsealable(String),
    /// The inner message is not a valid session message.
    Malformed(String),
    /// No session decrypted it (altered, or from a session we no longer hold).
    Undecryptable(String),
    /// It decrypted but the payload is invalid.
    BadPayload(String),
}

/// Something the app should know. Each event follows the commit that made it true.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// A new message, stored in the history; delivered to the app once, in the sender's order.
    MessageReceived(StoredMessage),
    /// One of our messages has a new status (sent, delivered, read, failed). Receipts race, so
    /// this can name a status lower than one reported before (a late `Sent` after `Delivered`);
    /// stores keep the highest, and `hush-client` passes only forward moves to the app.
    StatusChanged {
        /// Which.
        id: MessageId,
        /// The other party.
        peer: Address,
        /// Its new status.
        status: MessageStatus,
    },
    /// An envelope was dropped; it never reaches the history.
    Dropped {
        /// Claimed sender, when the seal opened.
        from: Option<Address>,
        /// Why.
        reason: DropReason,
    },
    /// Someone we have never answered wrote to us: its messages are held (no receipts go back)
    /// until the app accepts (`Core::handle_accept`), blocks or reports it. Once per request.
    MessageRequest {
        /// The sender (authenticated: its message decrypted in a session with this identity).
        from: Address,
    },
    /// New one-time prekeys were generated and uploaded (how many the relay now holds).
    PreKeysReplenished {
        /// Count the relay reported after the upload.
        one_time_prekeys: u32,
    },
}
