//! What the core tells the app.

use hush_crypto::devices::{AccountKey, LinkError};
use hush_crypto::peer::PeerDecryptError;
use hush_crypto::sealed::SealError;
use hush_crypto::{DecodeError, IdentityKey};

use crate::address::Address;
use crate::content::{MessageId, PayloadError};
use crate::devices::OwnListError;
use crate::ephemeral::Presence;
use crate::records::{MessageStatus, StoredMessage};
use crate::surface::IgnoredReason;

/// The sender an envelope *names*, which is not proof of who sent it.
///
/// What stands behind the name depends on how far the envelope got, given by the
/// [`DropReason`] next to it:
/// - [`DropReason::Malformed`] and [`DropReason::Undecryptable`]: only the sealed-sender layer
///   opened. That layer is not proof: anyone who knows our address can seal an envelope naming
///   any sender (and even a seal that authenticates the identity that made it would not make a
///   replayed or stale envelope fresh). A message that fails inside the session says nothing
///   about whether the named peer sent it, or whether our session with them is broken.
/// - [`DropReason::BadPayload`]: the session decrypted it, and a session authenticates both
///   identities (they are bound into its associated data), so the named peer's session produced
///   it; only the payload inside was invalid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ClaimedSender(Address);

impl ClaimedSender {
    /// The sender as the envelope names it.
    pub fn new(address: Address) -> Self {
        Self(address)
    }

    /// The address the envelope claims (see the type's doc for what that proves).
    pub fn claimed_address(&self) -> Address {
        self.0
    }
}

/// Why an envelope from the relay was dropped (after acknowledging it: keeping it could never
/// make it readable).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DropReason {
    /// The sealed-sender layer did not open: not for us, altered, or not made by the claimed
    /// sender. No sender is known.
    #[error("the seal did not open: {0}")]
    Unsealable(#[source] SealError),
    /// The inner message is not a valid session message. The sender is only claimed.
    #[error("not a session message: {0}")]
    Malformed(#[source] DecodeError),
    /// No session decrypted it (altered, forged, or from a session we no longer hold). The
    /// sender is only claimed.
    #[error("undecryptable: {0}")]
    Undecryptable(#[source] PeerDecryptError),
    /// It decrypted but the payload is invalid. The session authenticated the sender.
    #[error("invalid payload: {0}")]
    BadPayload(#[source] PayloadFault),
    /// A link message (SPEC.md §16.5) that did not open: not for a request we wait on (none,
    /// another code, spent), expired, or altered. No sender is known.
    #[error("link message refused: {0}")]
    Link(#[source] LinkError),
    /// A group message (a shared envelope) that was not delivered.
    #[error("group message dropped: {0}")]
    Group(#[source] crate::groups::GroupDropReason),
}

/// What was wrong with a payload that decrypted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PayloadFault {
    /// It does not decode.
    #[error(transparent)]
    Decode(#[from] PayloadError),
    /// Content without a sequence number.
    #[error("content without a sequence number")]
    Unnumbered,
    /// Too many messages from the sender are held ahead of a missing one.
    #[error("too many messages ahead of a missing one")]
    TooManyHeld,
    /// A sync body (a copy of a sent message, read state) from a device that is not one of our
    /// account's.
    #[error("sync from a device that is not our account's")]
    NotOwnDevice,
    /// A group control message refused (it changes nothing).
    #[error("group control refused: {0}")]
    Group(crate::groups::ControlError),
}

/// Something the app should know. Each event follows the commit that made it true.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// A new message, stored in the history; delivered to the app once, in the sender's order.
    MessageReceived(StoredMessage),
    /// One of our messages has a new status (sent, delivered, read, failed). Receipts race
    /// (a late `Sent` after `Delivered`), so the core reports only moves forward from the last
    /// status it reported for the message (in this process); stores keep the highest. A
    /// contact with several devices sends receipts to every device of our account, so a receipt
    /// can name a message another of our devices sent: stores ignore an id they do not hold,
    /// and so should the app.
    StatusChanged {
        /// Which.
        id: MessageId,
        /// The other party.
        peer: Address,
        /// Its new status.
        status: MessageStatus,
    },
    /// A group we are in was made, joined, or changed (members, roles, name): its state is
    /// [`crate::Core::group`]'s.
    GroupChanged {
        /// Which.
        group: crate::groups::GroupId,
    },
    /// The group message `id` that follows (as [`Event::MessageReceived`], under the group's
    /// conversation address) was written by `author` (an account address). Stores keep the
    /// author ([`crate::Store::author`]).
    GroupMessageFrom {
        /// The group.
        group: crate::groups::GroupId,
        /// The message.
        id: MessageId,
        /// Its author's account address.
        author: Address,
    },
    /// The receipts of our group message `id` moved: a recipient account stored or read it.
    /// Stores keep them ([`crate::Store::group_receipts`]).
    GroupReceiptsChanged {
        /// The message.
        id: MessageId,
        /// What they add up to now.
        receipts: crate::group_receipts::GroupReceipts,
    },
    /// A receipt naming the group message `id` was ignored (it changes nothing).
    GroupReceiptIgnored {
        /// The account the receipt came from (its device's session authenticated it).
        from: Address,
        /// The message it named.
        id: MessageId,
        /// Why.
        reason: crate::group_receipts::GroupReceiptIgnored,
    },
    /// An envelope was dropped; it never reaches the history.
    Dropped {
        /// The sender the envelope names, when the seal opened: unauthenticated unless the
        /// reason is [`DropReason::BadPayload`] (see [`ClaimedSender`]).
        claimed_from: Option<ClaimedSender>,
        /// Why.
        reason: DropReason,
    },
    /// The session with `peer` was started over: one side found it broken (typically because a
    /// profile was restored from an older copy). Both sides resend what the other had not
    /// confirmed, so no message is lost; messages the restored side had received after its
    /// copy was made are not in its history.
    SessionReset {
        /// The other party.
        peer: Address,
        /// Whether we started it (we found the session broken) or the peer did.
        started_here: bool,
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
    /// KEM prekeys were uploaded (how many one-time ones the relay now holds).
    KemPreKeysReplenished {
        /// Count the relay reported after the upload.
        one_time_kem_prekeys: u32,
    },
    /// A new session with `peer` was set up (the bundle it started from, or the first message
    /// of a session the peer started, was accepted).
    SessionSetUp {
        /// The other device.
        peer: Address,
        /// Hybrid X3DH + ML-KEM-1024 (PQXDH, SPEC.md §17), or classical X3DH, which only a
        /// [`crate::SetupPolicy::AllowClassical`] policy accepts.
        post_quantum: bool,
        /// Whether we started it (from the peer's bundle).
        initiator: bool,
    },
    /// `peer`'s bundle carries no KEM prekey (its software predates PQXDH, or the relay stripped
    /// it) and the policy requires post-quantum setup: no session is made, and after a few
    /// fetches that all came without one the messages queued for it fail.
    ClassicalSetupRefused {
        /// The device whose bundle was refused.
        peer: Address,
    },
    /// A device joined our account: the pinned list now names it.
    DeviceAdded {
        /// Its identity key.
        device: IdentityKey,
    },
    /// A device left our account: the pinned list no longer names it.
    DeviceRemoved {
        /// Its identity key.
        device: IdentityKey,
    },
    /// This device joined an account (a link message from one of its devices opened).
    JoinedAccount {
        /// The account key.
        account: AccountKey,
        /// Whether the linking device handed over the account key (we are now a holder).
        holder: bool,
    },
    /// Our device list could not be published or brought up to date; retried at the next login.
    OwnListFailed(OwnListError),
    /// The relay stored our device list with this device's membership (contacts can now find
    /// this device through the account).
    OwnListPublished {
        /// The list's counter.
        counter: u64,
    },
    /// The relay stored the link message for a device we linked: it joins once it reads it.
    LinkSent {
        /// The new device's identity key.
        device: IdentityKey,
    },
    /// The relay served, for a device we linked, a bundle under another identity key than the
    /// one its link code gave: it tried to substitute the device's key. Nothing is encrypted to
    /// the served key; compare the account's devices on both screens.
    LinkedDeviceKeyMismatch {
        /// The device's identity key (from its code, in our list).
        device: IdentityKey,
        /// The identity key the relay's bundle named.
        served: [u8; 32],
    },
    /// The devices that count for a contact changed: a newer device list of its account was
    /// pinned (SPEC.md §16.8 "Pinning"). Nothing is sent to them yet: the 1:1 path is unchanged.
    ContactDevicesChanged {
        /// The contact.
        peer: Address,
        /// The devices named by the pinned list whose membership verified.
        devices: Vec<IdentityKey>,
    },
    /// The relay served, for a contact, a device list signed by another account key than the
    /// one its address names: an identity change. The list is not pinned; the app decides
    /// (the client's identity-change policy), as for a changed address.
    ContactAccountKeyChanged {
        /// The contact.
        peer: Address,
    },
    /// Another device of our account sent this message (sent-message sync): stored as our
    /// outgoing message, with the id the contact's devices got it under.
    MessageSynced(StoredMessage),
    /// The user read these messages from `peer` on another device of our account: they are
    /// marked seen here too.
    ReadElsewhere {
        /// Who sent them.
        peer: Address,
        /// The messages.
        ids: Vec<crate::content::MessageId>,
    },
    /// A message of ours or the peer's has new text (the old one is in its edit history).
    MessageEdited {
        /// The other party.
        peer: Address,
        /// The message edited.
        id: MessageId,
        /// Its new text.
        text: String,
    },
    /// The peer deleted one of its messages for everyone: only a tombstone is left.
    MessageDeleted {
        /// The other party.
        peer: Address,
        /// The message deleted.
        id: MessageId,
    },
    /// `peer` put a reaction on a message, or took it off.
    ReactionChanged {
        /// The other party, who reacted.
        peer: Address,
        /// The message reacted to.
        id: MessageId,
        /// The emoji.
        emoji: String,
        /// Put on or taken off.
        added: bool,
    },
    /// A reaction, edit or delete from `peer` was ignored.
    EffectIgnored {
        /// The sender.
        peer: Address,
        /// The ignored message.
        effect: MessageId,
        /// The message it named.
        target: MessageId,
        /// Why.
        reason: IgnoredReason,
    },
    /// `peer` started (`typing`) or stopped typing to us. Ephemeral: never stored; a "started"
    /// whose "stopped" was lost should be shown for a few seconds only.
    Typing {
        /// The contact.
        peer: Address,
        /// Started or stopped.
        typing: bool,
    },
    /// `peer` says it is online, or when it was last seen (it turned presence on). Ephemeral.
    PresenceChanged {
        /// The contact.
        peer: Address,
        /// What it says.
        presence: Presence,
    },
}
