//! The relay, in memory, with the semantics of `relay/src/cmd/*.rs` and `proto/PROTOCOL.md`:
//! mailboxes keyed by `MailboxId`, a strictly increasing `seq` per mailbox, `Send` answered
//! `Stored` (durable) and then pushed to the recipient if online, `Ack { through }` deleting what
//! this connection was sent, redelivery of everything unacknowledged on every login, and the
//! prekey directory (`UploadPreKeys`, `FetchBundle` claiming one one-time prekey, `PreKeysLow`;
//! the KEM prekeys in `kem.rs`).
//!
//! Everything here is durable: a relay restart only drops the connections ([`Relay::restart`]).

use std::collections::{BTreeMap, HashMap, VecDeque};

use hush_crypto::devices::DeviceList;
use hush_crypto::{Curve25519PublicKey, IdentityKey, signed_prekey_message};
use hush_proto::{
    AccessKey, Bundle, ClientFrame, Delivery, DeviceListBytes, Envelope, ErrorCode, ErrorResponse, MailboxId,
    Membership, OneTimePreKey, Push, Request, Response, Seq, ServerFrame, Signature, SignedPreKey,
};

/// Below this many one-time prekeys the relay pushes `PreKeysLow` (the relay's default config).
pub const PREKEY_LOW_THRESHOLD: u32 = hush_proto::PREKEY_LOW_THRESHOLD;
/// Most one-time prekeys one mailbox may hold (the relay's default config).
pub const MAX_ONE_TIME_PREKEYS: u32 = 500;

/// One mailbox and its prekeys.
#[derive(Debug, Default)]
pub struct Mailbox {
    /// The owner's identity key.
    pub identity_key: [u8; 32],
    /// The current signed prekey, once uploaded.
    pub signed_prekey: Option<SignedPreKey>,
    /// Unclaimed one-time prekeys by id.
    pub one_time: BTreeMap<u32, [u8; 32]>,
    /// Undeleted messages: seq → (received at, Unix seconds; envelope).
    pub queue: BTreeMap<u64, (u64, Vec<u8>)>,
    /// The seq the next message gets (from 1).
    pub next_seq: u64,
}

/// One client connection: frames in flight each way, in order (a QUIC stream is reliable and
/// ordered within a connection; when the connection dies, whatever is still queued is lost).
#[derive(Debug, Default)]
pub struct Link {
    /// Client → relay, not yet read by the relay.
    pub up: VecDeque<ClientFrame>,
    /// Relay → client, not yet read by the client.
    pub down: VecDeque<ServerFrame>,
    /// Highest seq pushed on this connection (what `Ack` may name).
    pub pushed_through: u64,
}

/// What the relay did, for assertions.
#[derive(Debug, Default, Clone, Copy)]
pub struct RelayStats {
    /// `Send`s stored.
    pub stored: u64,
    /// Deliveries pushed (including redeliveries and injected duplicates).
    pub pushed: u64,
    /// Messages deleted by acks.
    pub acked: u64,
    /// Bundles served.
    pub bundles: u64,
    /// `UploadPreKeys` accepted.
    pub uploads: u64,
    /// `PreKeysLow` pushes sent.
    pub low_pushes: u64,
    /// `Send`s and fetches that carried the target's access key.
    pub keyed: u64,
    /// Requests refused for a wrong access key (`AccessDenied`).
    pub access_denied: u64,
    /// `SendMany`s stored (each also counts its envelopes in `stored`).
    pub send_many: u64,
    /// `SendShared`s stored (each also counts its envelopes in `stored`).
    pub shared: u64,
}

/// The relay.
#[derive(Debug, Default)]
pub struct Relay {
    /// Every registered mailbox.
    pub mailboxes: HashMap<MailboxId, Mailbox>,
    /// The open connection of each logged-in mailbox (a new login replaces the old one).
    pub links: HashMap<MailboxId, Link>,
    /// Counters.
    pub stats: RelayStats,
    /// Every envelope ever stored, in order: (recipient, seq, envelope). Tests replay them.
    pub log: Vec<(MailboxId, u64, Vec<u8>)>,
    /// The next `Send` to this mailbox (or its copy of the next `SendShared` naming it) is
    /// answered `Stored` but kept aside, undelivered, until [`Relay::release_held_back`] (a relay
    /// that delays one message).
    pub hold_back: Option<MailboxId>,
    /// Envelopes kept aside by `hold_back`.
    pub held_back: Vec<(MailboxId, Vec<u8>)>,
    /// The verifier of each mailbox's access key, as `SetAccessKey` left it.
    pub access: HashMap<MailboxId, [u8; 32]>,
    /// Every `Report`: (reporter, reported).
    pub reports: Vec<(MailboxId, MailboxId)>,
    /// Each account's latest device list and the memberships published with it (hush-relay's
    /// "Device lists" semantics: verified, replaced by a greater counter or the same bytes).
    pub device_lists: HashMap<[u8; 32], StoredList>,
    /// Each mailbox's KEM prekeys (see [`super::kem`]).
    pub kem: HashMap<MailboxId, super::kem::KemDirectory>,
    /// How KEM prekeys are served.
    pub kem_mode: super::kem::KemMode,
}

/// An account's stored list: counter, bytes, and each listed device's membership signature.
pub type StoredList = (u64, Vec<u8>, BTreeMap<[u8; 32], [u8; 64]>);

fn refuse(code: ErrorCode, detail: &str) -> ErrorResponse {
    ErrorResponse {
        code,
        detail: detail.into(),
    }
}

impl Relay {
    /// A login by the owner of `identity_key` (the signature check is the driver's and the
    /// relay's business, not the core's): registers the mailbox on first login, opens a fresh
    /// connection and queues every unacknowledged message on it in seq order. Returns the
    /// one-time prekey count for `Authenticated` and, if it is below the threshold, the
    /// `PreKeysLow` push the relay sends on the same connection.
    pub fn login(&mut self, identity_key: [u8; 32], now_ms: u64) -> (u32, Option<u32>) {
        let _ = now_ms;
        let mailbox = MailboxId::for_identity(&identity_key);
        let entry = self.mailboxes.entry(mailbox).or_insert_with(|| Mailbox {
            identity_key,
            next_seq: 1,
            ..Mailbox::default()
        });
        let count = entry.one_time.len() as u32;
        let mut link = Link::default();
        for (seq, (received_at, envelope)) in &entry.queue {
            link.down.push_back(deliver(*seq, *received_at, envelope));
            link.pushed_through = *seq;
            self.stats.pushed += 1;
        }
        self.links.insert(mailbox, link);
        let low = (count < PREKEY_LOW_THRESHOLD).then_some(count);
        if low.is_some() {
            self.stats.low_pushes += 1;
        }
        (count, low)
    }

    /// The connection of `mailbox` died. The first `arrived` frames the client had written
    /// were already on their way and the relay still acts on them (its answers are lost);
    /// everything else in flight either way is gone.
    pub fn disconnect(&mut self, mailbox: &MailboxId, arrived: usize, now_ms: u64) {
        for _ in 0..arrived {
            self.read_one(mailbox, now_ms, None);
        }
        self.links.remove(mailbox);
    }

    /// Frames the client of `mailbox` wrote that the relay has not read yet.
    pub fn unread(&self, mailbox: &MailboxId) -> usize {
        self.links.get(mailbox).map_or(0, |link| link.up.len())
    }

    /// The relay process restarted: every connection drops; the store is durable.
    pub fn restart(&mut self) -> Vec<MailboxId> {
        self.links.drain().map(|(mailbox, _)| mailbox).collect()
    }

    /// Stores `envelope` for `to` as a `Send` from anyone would, pushing it if `to` is online.
    /// `None` if there is no such mailbox.
    pub fn enqueue(&mut self, to: MailboxId, envelope: Vec<u8>, now_ms: u64) -> Option<u64> {
        let mailbox = self.mailboxes.get_mut(&to)?;
        let seq = mailbox.next_seq;
        mailbox.next_seq += 1;
        let received_at = now_ms / 1000;
        mailbox.queue.insert(seq, (received_at, envelope.clone()));
        self.log.push((to, seq, envelope.clone()));
        self.stats.stored += 1;
        if let Some(link) = self.links.get_mut(&to) {
            link.down.push_back(deliver(seq, received_at, &envelope));
            link.pushed_through = link.pushed_through.max(seq);
            self.stats.pushed += 1;
        }
        Some(seq)
    }

    /// Pushes `seq` of `mailbox` again on its connection (a duplicate delivery). Returns whether
    /// there was such an unacknowledged message and a connection.
    pub fn push_again(&mut self, mailbox: &MailboxId, seq: u64) -> bool {
        let (Some(stored), Some(link)) = (
            self.mailboxes.get(mailbox).and_then(|m| m.queue.get(&seq)),
            self.links.get_mut(mailbox),
        ) else {
            return false;
        };
        link.down.push_back(deliver(seq, stored.0, &stored.1));
        link.pushed_through = link.pushed_through.max(seq);
        self.stats.pushed += 1;
        true
    }

    /// Claims a bundle of `target` as `FetchBundle` does (one one-time prekey, atomically), and
    /// pushes `PreKeysLow` to the owner if it is now below the threshold.
    pub fn claim_bundle(&mut self, target: &MailboxId) -> Result<Bundle, ErrorResponse> {
        let not_found = || refuse(ErrorCode::NotFound, "not found");
        let mailbox = self.mailboxes.get_mut(target).ok_or_else(not_found)?;
        let signed_prekey = mailbox.signed_prekey.clone().ok_or_else(not_found)?;
        let one_time_prekey = mailbox
            .one_time
            .pop_first()
            .map(|(id, key)| OneTimePreKey { id, key });
        let remaining = mailbox.one_time.len() as u32;
        let identity_key = mailbox.identity_key;
        let kem_prekey = self.claim_kem(target, signed_prekey.id).map(Box::new);
        let bundle = Bundle {
            identity_key,
            signed_prekey,
            one_time_prekey,
            kem_prekey,
        };
        self.stats.bundles += 1;
        if remaining < PREKEY_LOW_THRESHOLD
            && let Some(link) = self.links.get_mut(target)
        {
            link.down
                .push_back(ServerFrame::Push(Push::PreKeysLow { remaining }));
            self.stats.low_pushes += 1;
        }
        Ok(bundle)
    }

    /// Reads the next frame the client of `from` wrote and answers it on the same connection.
    /// `refusal`, if given, is a transient failure to answer instead for requests that can get
    /// one (`Send`, `FetchBundle`, `UploadPreKeys`): nothing is applied. Returns `false` if there
    /// was no frame.
    pub fn read_one(&mut self, from: &MailboxId, now_ms: u64, refusal: Option<ErrorCode>) -> bool {
        let Some(frame) = self.links.get_mut(from).and_then(|link| link.up.pop_front()) else {
            return false;
        };
        let refusable = matches!(
            frame.request,
            Request::Send { .. }
                | Request::SendMany { .. }
                | Request::SendShared { .. }
                | Request::FetchBundle { .. }
                | Request::UploadPreKeys { .. }
        );
        let result = match refusal {
            Some(code) if refusable => Err(refuse(code, "injected transient failure")),
            _ => self.apply(from, frame.request, now_ms),
        };
        if let Some(link) = self.links.get_mut(from) {
            link.down
                .push_back(ServerFrame::Response { id: frame.id, result });
        }
        true
    }

    fn apply(&mut self, from: &MailboxId, request: Request, now_ms: u64) -> Result<Response, ErrorResponse> {
        match request {
            Request::UploadPreKeys {
                signed_prekey,
                one_time_prekeys,
            } => self.upload(from, signed_prekey, one_time_prekeys.into_vec()),
            Request::FetchBundle { mailbox, access } => {
                self.check_access(&mailbox, access)?;
                self.claim_bundle(&mailbox).map(Response::Bundle)
            }
            Request::Send { to, access, envelope } if self.hold_back == Some(to) => {
                self.check_access(&to, access)?;
                self.hold_back = None;
                self.held_back.push((to, envelope.into_bytes()));
                Ok(Response::Stored)
            }
            Request::Send { to, access, envelope } => {
                self.check_access(&to, access)?;
                self.enqueue(to, envelope.into_bytes(), now_ms)
                    .map(|_| Response::Stored)
                    .ok_or_else(|| refuse(ErrorCode::NotFound, "not found"))
            }
            Request::SendMany { deliveries } => {
                let deliveries: Vec<_> = deliveries.into();
                // Atomic, as the relay: every key checked and every mailbox found first.
                for delivery in &deliveries {
                    self.check_access(&delivery.to, delivery.access)?;
                    if !self.mailboxes.contains_key(&delivery.to) {
                        return Err(refuse(ErrorCode::NotFound, "not found"));
                    }
                }
                for delivery in deliveries {
                    self.enqueue(delivery.to, delivery.envelope.into_bytes(), now_ms);
                }
                self.stats.send_many += 1;
                Ok(Response::Stored)
            }
            Request::SendShared { body, deliveries } => {
                let deliveries: Vec<_> = deliveries.into();
                // As `SendMany`, with each recipient's envelope built from its part and the body.
                for delivery in &deliveries {
                    self.check_access(&delivery.to, delivery.access)?;
                    if !self.mailboxes.contains_key(&delivery.to) {
                        return Err(refuse(ErrorCode::NotFound, "not found"));
                    }
                }
                for delivery in deliveries {
                    let envelope = hush_proto::shared_envelope(&delivery.part, &body);
                    if self.hold_back == Some(delivery.to) {
                        self.hold_back = None;
                        self.held_back.push((delivery.to, envelope.into_bytes()));
                        continue;
                    }
                    self.enqueue(delivery.to, envelope.into_bytes(), now_ms);
                }
                self.stats.shared += 1;
                Ok(Response::Stored)
            }
            Request::SetAccessKey { key } => {
                match key {
                    Some(key) => self.access.insert(*from, key.verifier()),
                    None => self.access.remove(from),
                };
                Ok(Response::AccessKeySet)
            }
            Request::Report { mailbox } => {
                self.reports.push((*from, mailbox));
                Ok(Response::Reported)
            }
            Request::Ack { through } => self.ack(from, through),
            Request::Ping => Ok(Response::Pong),
            Request::PublishDeviceList { list, membership } => {
                self.publish_list(from, list.as_bytes(), &membership.0)
            }
            Request::FetchDeviceList { account } => self.fetch_list(&account.0),
            Request::UploadKemPreKeys {
                last_resort,
                one_time,
            } => self.upload_kem(from, last_resort, one_time.into_vec()),
            _ => Err(refuse(ErrorCode::Invalid, "unsupported request")),
        }
    }

    fn publish_list(
        &mut self,
        from: &MailboxId,
        bytes: &[u8],
        membership: &[u8; 64],
    ) -> Result<Response, ErrorResponse> {
        let invalid = || refuse(ErrorCode::Invalid, "device list refused");
        let identity = self
            .mailboxes
            .get(from)
            .and_then(|mailbox| IdentityKey::from_bytes(&mailbox.identity_key).ok())
            .ok_or_else(|| refuse(ErrorCode::Unauthorized, "unauthorized"))?;
        let list = DeviceList::from_bytes(bytes).map_err(|_| invalid())?;
        if list.device(&identity).is_none() {
            return Err(invalid());
        }
        let account = list.account_key();
        account
            .verify_membership(&identity, membership)
            .map_err(|_| invalid())?;
        let entry = self
            .device_lists
            .entry(*account.as_bytes())
            .or_insert_with(|| (0, Vec::new(), BTreeMap::new()));
        if !(list.counter() > entry.0 || entry.1 == bytes) {
            return Err(refuse(ErrorCode::StaleDeviceList, "stale"));
        }
        entry.0 = list.counter();
        entry.1 = bytes.to_vec();
        entry
            .2
            .retain(|key, _| IdentityKey::from_bytes(key).is_ok_and(|key| list.device(&key).is_some()));
        entry.2.insert(*identity.as_bytes(), *membership);
        Ok(Response::DeviceListStored)
    }

    fn fetch_list(&self, account: &[u8; 32]) -> Result<Response, ErrorResponse> {
        let (_, list, memberships) = self
            .device_lists
            .get(account)
            .ok_or_else(|| refuse(ErrorCode::NotFound, "not found"))?;
        let memberships: Vec<Membership> = memberships
            .iter()
            .map(|(key, signature)| Membership {
                identity_key: *key,
                signature: Signature(*signature),
            })
            .collect();
        Ok(Response::DeviceList {
            list: DeviceListBytes::new(list.clone())
                .ok_or_else(|| refuse(ErrorCode::Internal, "too long"))?,
            memberships: memberships
                .try_into()
                .map_err(|_| refuse(ErrorCode::Internal, "too many"))?,
        })
    }

    /// As hush-relay: a key that is not the target's is refused; no key is a stranger's (this
    /// relay has no stranger budget).
    fn check_access(&mut self, target: &MailboxId, key: Option<AccessKey>) -> Result<(), ErrorResponse> {
        let Some(key) = key else {
            return Ok(());
        };
        if self.access.get(target) == Some(&key.verifier()) {
            self.stats.keyed += 1;
            Ok(())
        } else {
            self.stats.access_denied += 1;
            Err(refuse(ErrorCode::AccessDenied, "access key does not match"))
        }
    }

    fn upload(
        &mut self,
        from: &MailboxId,
        signed_prekey: SignedPreKey,
        one_time: Vec<OneTimePreKey>,
    ) -> Result<Response, ErrorResponse> {
        let mailbox = self
            .mailboxes
            .get_mut(from)
            .ok_or_else(|| refuse(ErrorCode::Unauthorized, "unauthorized"))?;
        let identity = IdentityKey::from_bytes(&mailbox.identity_key)
            .map_err(|_| refuse(ErrorCode::Unauthorized, "unauthorized"))?;
        let key = Curve25519PublicKey::from_bytes(&signed_prekey.key)
            .map_err(|_| refuse(ErrorCode::Invalid, "signed prekey is not a valid X25519 key"))?;
        identity
            .verify(
                &signed_prekey_message(signed_prekey.id, signed_prekey.created_at, &key),
                &signed_prekey.signature.0,
            )
            .map_err(|_| refuse(ErrorCode::Invalid, "signed prekey signature does not verify"))?;
        let adding = one_time
            .iter()
            .filter(|otk| !mailbox.one_time.contains_key(&otk.id))
            .count() as u32;
        if mailbox.one_time.len() as u32 + adding > MAX_ONE_TIME_PREKEYS {
            return Err(refuse(ErrorCode::TooManyPreKeys, "too many one-time prekeys"));
        }
        mailbox.signed_prekey = Some(signed_prekey);
        for otk in one_time {
            mailbox.one_time.insert(otk.id, otk.key);
        }
        self.stats.uploads += 1;
        Ok(Response::PreKeysStored {
            one_time_prekeys: mailbox.one_time.len() as u32,
        })
    }

    fn ack(&mut self, from: &MailboxId, through: Seq) -> Result<Response, ErrorResponse> {
        let pushed_through = self.links.get(from).map_or(0, |link| link.pushed_through);
        if through.0 == 0 || through.0 > pushed_through {
            return Err(refuse(
                ErrorCode::UnknownSequence,
                "sequence number not delivered on this connection",
            ));
        }
        let mailbox = self
            .mailboxes
            .get_mut(from)
            .ok_or_else(|| refuse(ErrorCode::Unauthorized, "unauthorized"))?;
        let kept = mailbox.queue.split_off(&(through.0 + 1));
        let deleted = mailbox.queue.len() as u32;
        mailbox.queue = kept;
        self.stats.acked += u64::from(deleted);
        Ok(Response::Acked { deleted })
    }

    /// Stores the envelopes kept aside by `hold_back`, behind everything stored meanwhile.
    pub fn release_held_back(&mut self, now_ms: u64) -> usize {
        let held = std::mem::take(&mut self.held_back);
        let count = held.len();
        for (to, envelope) in held {
            self.enqueue(to, envelope, now_ms);
        }
        count
    }

    /// Messages of `mailbox` not yet acknowledged.
    pub fn queued(&self, mailbox: &MailboxId) -> usize {
        self.mailboxes.get(mailbox).map_or(0, |m| m.queue.len())
    }

    /// One-time prekeys `mailbox` holds.
    pub fn one_time_count(&self, mailbox: &MailboxId) -> usize {
        self.mailboxes.get(mailbox).map_or(0, |m| m.one_time.len())
    }
}

fn deliver(seq: u64, received_at: u64, envelope: &[u8]) -> ServerFrame {
    let envelope = Envelope::new(envelope.to_vec()).expect("stored envelopes were within the limit");
    ServerFrame::Push(Push::Deliver(Delivery {
        seq: Seq(seq),
        received_at,
        envelope,
    }))
}
