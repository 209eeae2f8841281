//! The frames each side sends.

use serde::{Deserialize, Serialize};

use crate::devices::{AccountId, DeviceListBytes, Memberships};
use crate::shared::{SharedBody, SharedDeliveries};
use crate::types::{
    AccessKey, Bundle, Deliveries, Envelope, MailboxId, PreKeyUpload, RegistrationToken, RequestId, Seq,
    Signature, SignedPreKey,
};
use crate::{EphemeralEnvelope, KemPreKey, KemPreKeyUpload};

/// Domain-separation label of the login signature.
pub const AUTH_LABEL: &[u8] = b"Hush_v1_Auth";

/// The bytes a client signs to log in: `"Hush_v1_Auth" || challenge (32) || TLS exporter (32) ||
/// identity key (32)`. The exporter value (label `EXPORTER-hush-auth`, no context, 32 bytes)
/// binds the signature to this TLS session, so it cannot be relayed to another connection.
pub fn auth_transcript(challenge: &[u8; 32], tls_exporter: &[u8; 32], identity_key: &[u8; 32]) -> Vec<u8> {
    let mut out = Vec::with_capacity(AUTH_LABEL.len() + 96);
    out.extend_from_slice(AUTH_LABEL);
    out.extend_from_slice(challenge);
    out.extend_from_slice(tls_exporter);
    out.extend_from_slice(identity_key);
    out
}

/// A client-to-relay frame.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientFrame {
    /// Echoed in the response.
    pub id: RequestId,
    /// What is asked.
    pub request: Request,
}

/// What a client can ask. Everything but `Authenticate` and `Ping` needs a logged-in connection;
/// sending needs one too, so the relay can rate-limit, but the stored envelope records no sender.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Request {
    /// Log in as the owner of `identity_key`'s mailbox, answering the relay's challenge.
    Authenticate {
        /// Ed25519 identity key.
        identity_key: [u8; 32],
        /// Signature over [`auth_transcript`].
        signature: Signature,
        /// Needed on first login when the relay requires registration tokens.
        registration: Option<RegistrationToken>,
    },
    /// Replace the signed prekey and add one-time prekeys.
    UploadPreKeys {
        /// New signed prekey (signature checked by the relay).
        signed_prekey: SignedPreKey,
        /// One-time prekeys to add.
        one_time_prekeys: PreKeyUpload,
    },
    /// Fetch a bundle, claiming one one-time prekey if any are left.
    FetchBundle {
        /// Whose.
        mailbox: MailboxId,
        /// The target's access key, if it gave us one; without it the fetch is a stranger's.
        access: Option<AccessKey>,
    },
    /// Store one envelope for one mailbox.
    Send {
        /// Recipient mailbox.
        to: MailboxId,
        /// The recipient's access key, if it gave us one; without it the send is a stranger's.
        access: Option<AccessKey>,
        /// Ciphertext.
        envelope: Envelope,
    },
    /// Store one envelope each for many mailboxes, atomically.
    SendMany {
        /// Recipients and their envelopes.
        deliveries: Deliveries,
    },
    /// Delete every delivered message of our mailbox up to and including `through`.
    Ack {
        /// Highest sequence number acknowledged.
        through: Seq,
    },
    /// Delete our mailbox, its messages and prekeys.
    DeleteMailbox,
    /// Liveness check.
    Ping,
    /// Set (or with `None` clear) our mailbox's access key; the relay keeps only its verifier.
    SetAccessKey {
        /// The new key; the old one stops working at once.
        key: Option<AccessKey>,
    },
    /// Report a mailbox that sent us abuse. The relay learns that we received something from it.
    Report {
        /// The reported sender's mailbox.
        mailbox: MailboxId,
    },
    /// Store our account's signed device list (version 3), with our own membership signature;
    /// see PROTOCOL.md "Device lists" for what the relay checks.
    PublishDeviceList {
        /// The signed list (test-vectors/SPEC.md §16.2).
        list: DeviceListBytes,
        /// Our membership signature for the list's account key (§16.3).
        membership: Signature,
    },
    /// Fetch an account's latest stored device list and its devices' membership signatures.
    FetchDeviceList {
        /// The account key.
        account: AccountId,
    },
    /// Store for each recipient the shared envelope of its part and `body` (see
    /// [`crate::shared_envelope`]), atomically, as `SendMany` would: the body is uploaded once.
    /// Answered `Stored`. The recipients must be distinct.
    SendShared {
        /// The ciphertext every recipient gets.
        body: SharedBody,
        /// Recipients and their parts.
        deliveries: SharedDeliveries,
    },
    /// Push `envelope` to the recipient if it is online now, else drop it; never stored, never
    /// acknowledged. Needs the recipient's access key. Answered `EphemeralPushed` or
    /// `EphemeralDropped`.
    SendEphemeral {
        /// Recipient mailbox.
        to: MailboxId,
        /// The recipient's access key (required: a stranger gets `AccessDenied`).
        access: Option<AccessKey>,
        /// Ciphertext (typing, presence).
        envelope: EphemeralEnvelope,
    },
    /// Add signed one-time KEM prekeys and, if given, replace the last-resort KEM prekey (which
    /// must belong to the stored signed prekey). Every signature is checked by the relay.
    /// Answered `KemPreKeysStored`.
    UploadKemPreKeys {
        /// The new last-resort KEM prekey (kind `LastResort`, id of the current signed prekey).
        last_resort: Option<KemPreKey>,
        /// One-time KEM prekeys to add (kind `OneTime`).
        one_time: KemPreKeyUpload,
    },
}

/// A relay-to-client frame.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ServerFrame {
    /// The answer to request `id`.
    Response {
        /// The request's id.
        id: RequestId,
        /// Outcome.
        result: Result<Response, ErrorResponse>,
    },
    /// Sent without a request.
    Push(Push),
}

/// Successful outcomes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Response {
    /// Logged in; queued messages follow as pushes.
    Authenticated {
        /// Our mailbox.
        mailbox: MailboxId,
        /// One-time prekeys the relay still holds for us.
        one_time_prekeys: u32,
    },
    /// Prekeys stored.
    PreKeysStored {
        /// One-time prekeys now held.
        one_time_prekeys: u32,
    },
    /// A bundle.
    Bundle(Bundle),
    /// The envelope(s) are durable; they will be delivered.
    Stored,
    /// Messages deleted by an ack.
    Acked {
        /// How many.
        deleted: u32,
    },
    /// The mailbox is gone.
    MailboxDeleted,
    /// Answer to `Ping`.
    Pong,
    /// The access key was set or cleared.
    AccessKeySet,
    /// The report was recorded.
    Reported,
    /// The device list was stored (it is now the account's latest).
    DeviceListStored,
    /// An account's latest device list.
    DeviceList {
        /// The signed list, as published.
        list: DeviceListBytes,
        /// The membership signatures of the listed devices that published one.
        memberships: Memberships,
    },
    /// The ephemeral envelope was handed to the recipient's connection.
    EphemeralPushed,
    /// The recipient is not online (or its connection has no room): the ephemeral envelope was
    /// dropped.
    EphemeralDropped,
    /// KEM prekeys stored.
    KemPreKeysStored {
        /// One-time KEM prekeys now held.
        one_time_kem_prekeys: u32,
    },
}

/// A refused request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorResponse {
    /// What kind of failure.
    pub code: ErrorCode,
    /// Human-readable detail, at most [`crate::MAX_ERROR_DETAIL_LEN`] bytes, never payload data.
    pub detail: String,
}

/// Failure kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum ErrorCode {
    /// Login failed or is needed. The same code for a wrong key, an unknown mailbox and a
    /// deleted mailbox, so a prober learns nothing.
    Unauthorized,
    /// Reserved; hush-relay never sends it. A missing, expired or forged registration token is
    /// answered `Unauthorized`, so an unknown mailbox looks the same as a wrong key.
    RegistrationRequired,
    /// The request is well-formed but invalid (bad signature, bad key).
    Invalid,
    /// No such bundle.
    NotFound,
    /// Too many prekeys held or uploaded.
    TooManyPreKeys,
    /// The recipient's mailbox is full; retry later.
    QuotaExceeded,
    /// Too many requests; retry later.
    RateLimited,
    /// `Ack` named a sequence number not delivered to this connection.
    UnknownSequence,
    /// The relay is shutting down; reconnect.
    ShuttingDown,
    /// A relay-side failure; retry later.
    Internal,
    /// The access key presented is not the target's (it rotated it, or never set one). The
    /// request did nothing; without a key it would be a stranger's.
    AccessDenied,
    /// A published device list whose counter does not exceed the stored list's: an old or
    /// replayed list. Nothing was stored.
    StaleDeviceList,
}

/// Frames the relay sends unasked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Push {
    /// Sent first on every connection: the login challenge.
    Challenge {
        /// Random bytes to sign.
        nonce: [u8; 32],
    },
    /// A message for our mailbox.
    Deliver(Delivery),
    /// Our one-time prekeys are running low: upload more.
    PreKeysLow {
        /// How many are left.
        remaining: u32,
    },
    /// An ephemeral envelope for our mailbox: no sequence number, nothing to acknowledge, never
    /// stored by the relay.
    Ephemeral {
        /// The ciphertext.
        envelope: EphemeralEnvelope,
    },
    /// Our one-time KEM prekeys are running low: upload more.
    KemPreKeysLow {
        /// How many are left.
        remaining: u32,
    },
}

/// One stored message as delivered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivery {
    /// Mailbox sequence number (acknowledge it with `Ack`).
    pub seq: Seq,
    /// When the relay stored it, Unix seconds.
    pub received_at: u64,
    /// The ciphertext.
    pub envelope: Envelope,
}
