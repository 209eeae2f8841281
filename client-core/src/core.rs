//! The state machine: inputs through `handle_*`, outputs through [`Core::poll_output`] and
//! [`Core::poll_timeout`].
//!
//! The driver's loop, after any input:
//! 1. take every [`Output`] in order: apply a [`Output::Commit`] to the store (one transaction,
//!    durably) *before* acting on any output after it; write [`Output::Request`]s to the relay;
//!    hand [`Output::Event`]s to the app; after [`Core::handle_connected`], wait for
//!    [`Output::LoggedIn`] or [`Output::LoginFailed`];
//! 2. arm a timer for [`Core::poll_timeout`] and call [`Core::handle_timeout`] when it fires.
//!
//! A driver may apply several commits in one transaction as long as it does so before acting on
//! the requests and events that followed them.

use std::collections::{BTreeMap, HashMap};

use hush_crypto::Account;
use hush_crypto::devices::{AccountKey, LinkRequest};
use hush_crypto::peer::PeerSessions;
use hush_crypto::pq::SetupPolicy;
use hush_crypto::sealed::SealKeys;
use hush_proto::{ErrorResponse, Push, Request, RequestId, Response};
use rand_core::CryptoRng;

use crate::access::{Access, OwnAccessKey};
use crate::address::Address;
use crate::backoff::Backoff;
use crate::devices::own::{BundleChecks, ListSync, OwnAccount};
use crate::devices::peers::{PeerFetch, PeerLists};
use crate::ephemeral::Ephemerals;
use crate::error::CoreError;
use crate::event::Event;
use crate::groups::{GroupId, GroupRecord};
use crate::inbox::Inbox;
use crate::link::{Link, Pending};
use crate::login::Login;
use crate::outbox::Outbox;
pub(crate) use crate::outputs::Output;
use crate::outputs::Outputs;
use crate::records::{Conversation, Snapshot, StoreOp};
use crate::reset::state::Resets;
use crate::surface::Surface;
use crate::upkeep::{Upkeep, UpkeepCx};
// Where the fuzzing module finds them.
#[cfg(feature = "fuzzing")]
pub(crate) use crate::{outbox::RECEIPT_DELAY_MS, upkeep::PREKEY_LOW_WATER};

/// The client protocol state machine: a facade over the parts that own the state.
pub struct Core {
    pub(crate) account: Account,
    /// Per-recipient sealing keys (memory only): one X25519 less per envelope.
    pub(crate) seal_keys: SealKeys,
    pub(crate) address: Address,
    pub(crate) rng: Box<dyn CryptoRng + Send>,
    pub(crate) peers: HashMap<Address, PeerSessions>,
    pub(crate) conversations: HashMap<Address, Conversation>,
    pub(crate) outbox: Outbox,
    pub(crate) inbox: Inbox,
    pub(crate) link: Link,
    pub(crate) login: Option<Login>,
    pub(crate) backoff: Backoff,
    pub(crate) upkeep: Upkeep,
    pub(crate) out: Outputs,
    pub(crate) resets: Resets,
    pub(crate) access: Access,
    /// This device's account: its key (on a holder), the pinned list, our membership.
    pub(crate) own: OwnAccount,
    pub(crate) list_sync: ListSync,
    /// The link request of a new device waiting to join an account.
    pub(crate) joining: Option<LinkRequest>,
    pub(crate) bundle_checks: BundleChecks,
    /// Each contact's pinned device list, and what was asked on this connection.
    pub(crate) peer_lists: PeerLists,
    pub(crate) peer_fetch: PeerFetch,
    /// Whether our access key went to our other devices in this process.
    pub(crate) own_key_shared: bool,
    /// Recent messages and early effects, for reactions, edits and deletes.
    pub(crate) surface: Surface,
    /// The groups we are or were in.
    pub(crate) groups: BTreeMap<GroupId, GroupRecord>,
    /// Each group's conversation address ([`GroupId::conversation`]), to tell group items apart.
    pub(crate) group_conversations: HashMap<Address, GroupId>,
    /// Our latest group messages' receipts.
    pub(crate) group_receipts: crate::group_receipts::GroupReceiptTracker,
    /// Group messages that came before their group's log, by group id.
    pub(crate) early_group_messages: BTreeMap<GroupId, crate::groups::Early>,
    /// Typing and presence: the setting and the replay window (memory only).
    pub(crate) ephemerals: Ephemerals,
    /// Whether sessions may still start with classical X3DH (PQXDH only by default).
    pub(crate) setup_policy: SetupPolicy,
}

impl core::fmt::Debug for Core {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Core")
            .field("address", &self.address)
            .field("peers", &self.peers.len())
            .field("outbox", &self.outbox.len())
            .field("held", &self.inbox.len())
            .field("online", &self.link.is_online())
            .finish_non_exhaustive()
    }
}

impl Core {
    /// A new identity. The first output is the commit that saves it.
    pub fn create(now: u64, mut rng: Box<dyn CryptoRng + Send>) -> Self {
        let account = Account::new(now / 1000, &mut rng);
        let own_account = OwnAccount::create(&account, now / 1000, &mut rng);
        let mut core = Self::with_account(account, own_account, rng);
        let own = OwnAccessKey::random(&mut core.rng);
        core.access.own = Some(own.clone());
        let ops = vec![
            StoreOp::PutAccount(core.account.pickle()),
            StoreOp::PutOwnAccessKey(own),
            StoreOp::PutOwnAccount(core.own.record()),
        ];
        core.commit(ops);
        core
    }

    /// Restores from what the store saved, at `now` (Unix ms). A profile from before accounts
    /// (no saved own account) migrates (SPEC.md §16.1): its device becomes the first device of
    /// a new account, in the first commit.
    pub fn restore(
        now: u64,
        snapshot: Snapshot,
        mut rng: Box<dyn CryptoRng + Send>,
    ) -> Result<Self, CoreError> {
        let account = Account::from_pickle(&snapshot.account)?;
        let (own_account, migrated) = match &snapshot.own_account {
            Some(record) => (OwnAccount::restore(&account, record)?, false),
            None => (OwnAccount::create(&account, now / 1000, &mut rng), true),
        };
        let mut core = Self::with_account(account, own_account, rng);
        if migrated {
            core.save_own();
        }
        if let Some(pickle) = &snapshot.link_request {
            core.joining = Some(LinkRequest::from_pickle(pickle)?);
        }
        for pickle in &snapshot.peers {
            let sessions = PeerSessions::from_pickle(pickle)?;
            core.peers
                .insert(Address::from_identity(&sessions.remote_identity()), sessions);
        }
        for conversation in snapshot.conversations {
            core.conversations.insert(conversation.peer, conversation);
        }
        core.peer_lists = PeerLists::restore(&snapshot.peer_devices);
        core.outbox.restore(snapshot.outbox);
        core.inbox.restore(snapshot.held);
        core.surface.restore(&snapshot.recent);
        core.group_receipts.restore(&snapshot.group_receipts);
        for blob in &snapshot.groups {
            if let Some(early) = crate::groups::early_from_blob(blob) {
                core.early_group_messages.insert(blob.id, early?);
                continue;
            }
            let record = GroupRecord::from_blob(blob)?;
            core.groups.insert(blob.id, record);
            core.group_conversations.insert(blob.id.conversation(), blob.id);
        }
        core.resets
            .restore(snapshot.unconfirmed, snapshot.recent_incoming);
        let (peers, own) = (snapshot.peer_access, snapshot.own_access_key);
        if let Some(new) = core.access.restore(peers, own, &mut core.rng) {
            core.commit(vec![StoreOp::PutOwnAccessKey(new)]);
        }
        Ok(core)
    }

    fn with_account(account: Account, own: OwnAccount, rng: Box<dyn CryptoRng + Send>) -> Self {
        let address = Address::from_identity(&account.identity_key());
        Self {
            account,
            seal_keys: SealKeys::new(),
            address,
            rng,
            peers: HashMap::new(),
            conversations: HashMap::new(),
            outbox: Outbox::default(),
            inbox: Inbox::default(),
            link: Link::default(),
            login: None,
            backoff: Backoff::default(),
            upkeep: Upkeep::default(),
            out: Outputs::default(),
            resets: Resets::default(),
            access: Access::default(),
            own,
            list_sync: ListSync::default(),
            joining: None,
            bundle_checks: BundleChecks::default(),
            peer_lists: PeerLists::default(),
            peer_fetch: PeerFetch::default(),
            own_key_shared: false,
            surface: Surface::default(),
            groups: BTreeMap::new(),
            group_conversations: HashMap::new(),
            early_group_messages: BTreeMap::new(),
            group_receipts: Default::default(),
            ephemerals: Ephemerals::default(),
            setup_policy: SetupPolicy::default(),
        }
    }

    /// Our address.
    pub fn address(&self) -> Address {
        self.address
    }

    /// Our account (for safety numbers).
    pub fn account(&self) -> &Account {
        &self.account
    }

    /// Our account key: the address and safety number are computed over it.
    pub fn account_key(&self) -> AccountKey {
        self.own.account_key()
    }

    /// This device's account: the pinned device list, the account key if we hold it.
    pub fn own_account(&self) -> &OwnAccount {
        &self.own
    }

    /// Messages and receipts not yet stored by the relay.
    pub fn outbox_len(&self) -> usize {
        self.outbox.len()
    }

    /// Whether the core considers itself logged in.
    pub fn is_online(&self) -> bool {
        self.link.is_online()
    }

    /// Whether a prekey upload is awaiting the relay's answer (registration completes when the
    /// first one is answered).
    pub fn is_uploading_prekeys(&self) -> bool {
        self.upkeep.is_uploading()
    }

    /// A response from the relay to a request the core made.
    pub fn handle_response(&mut self, now: u64, id: RequestId, result: Result<Response, ErrorResponse>) {
        let Some(pending) = self.link.answered(id) else {
            return self.on_unknown_response();
        };
        match pending {
            Pending::Open => self.on_opened(),
            Pending::Login => self.on_login_answer(now, result),
            Pending::Send(message) => self.on_send_result(now, message, result),
            Pending::Fetch(peer) => self.on_bundle(now, peer, result),
            Pending::Upload => self.with_upkeep(|upkeep, cx| upkeep.on_upload_result(now, result, cx)),
            Pending::KemUpload => self.with_upkeep(|upkeep, cx| upkeep.on_kem_upload_result(now, result, cx)),
            Pending::AccessKey => self.on_access_key_result(result),
            Pending::Report(peer) => self.on_report_result(peer, &result),
            Pending::OwnList(asked) => self.on_list_answer(now, asked, result),
            Pending::LinkedBundle(device) => self.on_linked_bundle(device, result),
            Pending::PeerList(peer) => self.on_peer_list(peer, result),
            Pending::Ack | Pending::Ephemeral => {}
        }
        self.pump(now);
    }

    /// A push from the relay.
    pub fn handle_push(&mut self, now: u64, push: Push) {
        if let Some(login) = &mut self.login {
            return login.on_push(push);
        }
        match push {
            Push::Deliver(delivery) => self.receive(now, delivery),
            Push::PreKeysLow { remaining } => self.run_upkeep(now, Some(remaining)),
            Push::Ephemeral { envelope } => self.receive_ephemeral(now, envelope.as_bytes()),
            Push::KemPreKeysLow { remaining } => {
                self.with_upkeep(|upkeep, cx| upkeep.on_kem_low(now, remaining, cx));
            }
            // A challenge outside a login, or pushes for newer clients.
            _ => {}
        }
        self.pump(now);
    }

    /// A timer armed from [`Core::poll_timeout`] fired.
    pub fn handle_timeout(&mut self, now: u64) {
        if !self.link.is_online() {
            return;
        }
        if self.upkeep.due(now) {
            self.run_upkeep(now, None);
        }
        self.run_due_resets(now);
        self.release_group_gaps(now);
        self.sync_own_list(now);
        self.pump(now);
    }

    /// The next output, in the order it must be acted on.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.out.pop()
    }

    /// When [`Core::handle_timeout`] should next be called, Unix milliseconds.
    pub fn poll_timeout(&self) -> Option<u64> {
        if !self.link.is_online() {
            return None;
        }
        let pumped_at = self.outbox.pumped_at();
        [
            Some(self.upkeep.next_timeout()),
            self.resets.next_due(),
            self.next_gap_timeout(),
            self.backoff.next_after(pumped_at),
            self.outbox.next_due(),
            self.list_sync.next_timeout(),
            self.next_group_gap_timeout(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    pub(crate) fn run_upkeep(&mut self, now: u64, relay_count: Option<u32>) {
        self.with_upkeep(|upkeep, cx| upkeep.run(now, relay_count, cx));
    }

    /// Upkeep with what it works on.
    fn with_upkeep(&mut self, f: impl FnOnce(&mut Upkeep, UpkeepCx<'_>)) {
        let cx = UpkeepCx {
            account: &mut self.account,
            rng: &mut *self.rng,
            link: &mut self.link,
            out: &mut self.out,
        };
        f(&mut self.upkeep, cx);
    }

    pub(crate) fn commit(&mut self, mut ops: Vec<StoreOp>) {
        // A group's record written several times in one commit: only the last write counts
        // (the store only writes), so the others are left out.
        let mut last: BTreeMap<GroupId, usize> = BTreeMap::new();
        for (index, op) in ops.iter().enumerate() {
            if let StoreOp::PutGroup(blob) = op {
                last.insert(blob.id, index);
            }
        }
        if last.len() < ops.iter().filter(|op| matches!(op, StoreOp::PutGroup(_))).count() {
            let mut index = 0;
            ops.retain(|op| {
                let keep = match op {
                    StoreOp::PutGroup(blob) => last.get(&blob.id) == Some(&index),
                    _ => true,
                };
                index += 1;
                keep
            });
        }
        self.out.commit(ops);
    }

    pub(crate) fn event(&mut self, event: Event) {
        self.out.event(event);
    }

    pub(crate) fn request(&mut self, request: Request, pending: Pending) {
        self.link.request(&mut self.out, request, pending);
    }
}
