//! The app-facing API.

use std::path::Path;
use std::sync::{Arc, Mutex};

use hush_client_core::{Address, Contact, Content, Core, HistoryEntry, MessageId, Store};
use hush_crypto::SafetyNumber;
use tokio::sync::{mpsc, oneshot};

use crate::driver::{Command, Driver, PeerAction, now_ms};
use crate::error::{ClientError, StopReason};
use crate::events::ClientEvent;
use crate::relay_address::RelayAddress;
use crate::store::{ConversationSummary, DatabaseKey, SqlStore, StoreError};

mod backup;
mod contacts;
mod devices;
mod groups;
mod options;
mod search;
mod surface;
mod typing;

pub use self::contacts::ContactUpdate;
pub use self::options::OpenOptions;
pub(crate) use self::search::expire;

/// The core's randomness: the operating system's generator, asked at every draw. Nothing is
/// seeded or buffered in the process, so a restored VM or process snapshot, or a fork, does not
/// replay salts, ephemeral keys or ratchet keys (a seeded stream copied with the process would).
pub(crate) type OsRng = rand_core::UnwrapErr<rand::rngs::SysRng>;

/// A handle on the OS generator (it holds no state; copies draw independently).
pub(crate) fn os_rng() -> OsRng {
    rand_core::UnwrapErr(rand::rngs::SysRng)
}

/// What to do when a contact's address (identity key) changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdentityDecision {
    /// Use the new address; the contact becomes unverified.
    Accept,
    /// Keep the old address.
    Reject,
}

/// Decides about contacts whose identity changes. The default accepts (trust on first use, then
/// tell the user through [`ClientEvent::ContactIdentityChanged`]); an app that wants the user to
/// confirm first, or that refuses changes for verified contacts, supplies its own.
pub trait IdentityPolicy: Send + Sync {
    /// `contact` (with its current address and verified flag) now offers `new`.
    fn on_identity_change(&self, contact: &Contact, new: &Address) -> IdentityDecision;
}

/// Accepts every change (and the change is reported as an event).
#[derive(Debug, Clone, Copy, Default)]
pub struct TrustOnFirstUse;

impl IdentityPolicy for TrustOnFirstUse {
    fn on_identity_change(&self, _contact: &Contact, _new: &Address) -> IdentityDecision {
        IdentityDecision::Accept
    }
}

/// Refuses changes for contacts the user verified; accepts the rest.
#[derive(Debug, Clone, Copy, Default)]
pub struct KeepVerified;

impl IdentityPolicy for KeepVerified {
    fn on_identity_change(&self, contact: &Contact, _new: &Address) -> IdentityDecision {
        if contact.verified {
            IdentityDecision::Reject
        } else {
            IdentityDecision::Accept
        }
    }
}

/// Which profiles [`Client::start`] opens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Opening {
    /// An existing one, or a new one with a new account.
    Any,
    /// An existing one only.
    Existing,
    /// A new one (the caller checked) that is to join an account.
    Joining,
}

/// The app's stream of [`ClientEvent`]s.
#[derive(Debug)]
pub struct Events {
    receiver: mpsc::UnboundedReceiver<ClientEvent>,
}

impl Events {
    /// The next event; `None` once the client is gone.
    pub async fn next(&mut self) -> Option<ClientEvent> {
        self.receiver.recv().await
    }

    /// An event if one is waiting.
    pub fn try_next(&mut self) -> Option<ClientEvent> {
        self.receiver.try_recv().ok()
    }
}

/// A running client: one profile (identity, sessions, history) connected to one relay.
///
/// ```no_run
/// # async fn demo() -> Result<(), hush_client::ClientError> {
/// use hush_client::{Client, Content, DatabaseKey};
///
/// let relay = "127.0.0.1:7443#00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
///     .parse()
///     .expect("a relay address");
/// let key = DatabaseKey::from_bytes([7; 32]);
/// let (client, mut events) = Client::open("alice.db", &key, relay).await?;
/// client.register().await?;
/// println!("share this address: {}", client.address());
///
/// let bob = "hush:...".parse()?;
/// let id = client.send(bob, Content::text("hello Bob")).await?; // durable once this returns
/// while let Some(event) = events.next().await {
///     println!("{event:?}");
/// }
/// # let _ = id; Ok(()) }
/// ```
pub struct Client {
    commands: mpsc::Sender<Command>,
    store: Arc<Mutex<SqlStore>>,
    address: Address,
    identity: hush_crypto::IdentityKey,
    policy: Arc<dyn IdentityPolicy>,
    events: mpsc::UnboundedSender<ClientEvent>,
}

impl core::fmt::Debug for Client {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Client")
            .field("address", &self.address)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// Opens the profile at `path` (creating it, with a new identity, if the file does not
    /// exist) and starts connecting to `relay` in the background.
    pub async fn open(
        path: impl AsRef<Path>,
        key: &DatabaseKey,
        relay: RelayAddress,
    ) -> Result<(Self, Events), ClientError> {
        Self::open_with_policy(path, key, relay, Arc::new(TrustOnFirstUse)).await
    }

    /// Opens an existing profile, never creating an identity: fails with
    /// [`ClientError::NoProfile`] if there is no file, and with [`StoreError::NotAProfile`] if
    /// the file is empty, holds no Hush schema or no account (the file is left untouched).
    pub async fn open_existing(
        path: impl AsRef<Path>,
        key: &DatabaseKey,
        relay: RelayAddress,
    ) -> Result<(Self, Events), ClientError> {
        if !path.as_ref().exists() {
            return Err(ClientError::NoProfile(path.as_ref().to_path_buf()));
        }
        Self::start(
            path.as_ref(),
            key,
            relay,
            OpenOptions::default(),
            Opening::Existing,
        )
        .await
    }

    /// [`Client::open`] with an identity policy.
    pub async fn open_with_policy(
        path: impl AsRef<Path>,
        key: &DatabaseKey,
        relay: RelayAddress,
        policy: Arc<dyn IdentityPolicy>,
    ) -> Result<(Self, Events), ClientError> {
        let options = OpenOptions::default().identity_policy(policy);
        Self::start(path.as_ref(), key, relay, options, Opening::Any).await
    }

    /// Opens the store (an existing profile's only, for [`Opening::Existing`]), restores or
    /// creates the core and starts the driver.
    async fn start(
        path: &Path,
        key: &DatabaseKey,
        relay: RelayAddress,
        options: OpenOptions,
        opening: Opening,
    ) -> Result<(Self, Events), ClientError> {
        let OpenOptions {
            identity_policy: policy,
            setup_policy,
        } = options;
        let existing = opening == Opening::Existing;
        let path = path.to_path_buf();
        let key = key.clone();
        let (store, snapshot) = tokio::task::spawn_blocking(move || {
            let store = if existing {
                SqlStore::open_existing(&path, &key)?
            } else {
                SqlStore::open(&path, &key)?
            };
            let snapshot = store.load()?;
            if existing && snapshot.is_none() {
                let reason = crate::store::NotAProfile::NoAccount;
                return Err(StoreError::NotAProfile { path, reason });
            }
            Ok::<_, StoreError>((store, snapshot))
        })
        .await
        .map_err(|error| ClientError::Stopped(StopReason::Task(Arc::new(error))))??;
        let rng: Box<dyn rand_core::CryptoRng + Send> = Box::new(os_rng());
        let core = match snapshot {
            Some(snapshot) => {
                let restored = Core::restore(now_ms(), snapshot, rng);
                restored.map_err(|error| ClientError::Stopped(StopReason::Restore(Arc::new(error))))?
            }
            None if opening == Opening::Joining => Core::create_joining(now_ms(), rng),
            None => Core::create(now_ms(), rng),
        };
        let mut core = core;
        core.set_setup_policy(setup_policy);
        let address = core.address();
        let identity = core.account().identity_key();
        let store = Arc::new(Mutex::new(store));
        let (command_sender, command_receiver) = mpsc::channel(256);
        let (event_sender, event_receiver) = mpsc::unbounded_channel();
        let driver = Driver::new(
            core,
            Arc::clone(&store),
            relay,
            command_receiver,
            event_sender.clone(),
        );
        tokio::spawn(driver.run());
        Ok((
            Self {
                commands: command_sender,
                store,
                address,
                identity,
                policy,
                events: event_sender,
            },
            Events {
                receiver: event_receiver,
            },
        ))
    }

    /// Our address, to share.
    pub fn address(&self) -> Address {
        self.address
    }

    /// Connects now if needed and waits until we are logged in and our prekeys are on the
    /// relay (the first time, that is registration). Fails with the connection error if the
    /// relay cannot be reached or refuses us (a relay that wants a registration token says
    /// [`NetError::RegistrationTokenRequired`](crate::NetError::RegistrationTokenRequired)); the
    /// client keeps retrying in the background either way.
    pub async fn register(&self) -> Result<(), ClientError> {
        let (reply, answer) = oneshot::channel();
        self.command(Command::WaitOnline { reply }).await?;
        answer.await.map_err(|_| stopped())?
    }

    /// Gives the client a registration token from the relay's operator, for a relay that
    /// admits new addresses only with one (its refusal is
    /// [`NetError::RegistrationTokenRequired`](crate::NetError::RegistrationTokenRequired)).
    /// The token is signed for this client's [`Client::address`], so it can only be asked for
    /// once the profile exists. The client connects again at once, sending it with each login
    /// until one succeeds; wait for that with [`Client::register`]. Once registered (or while
    /// connected, which means registered) the token is not needed and is ignored.
    ///
    /// ```no_run
    /// # async fn demo(client: hush_client::Client, text: &str) -> Result<(), hush_client::ClientError> {
    /// let token: hush_client::RegistrationToken = text.parse().expect("a registration token");
    /// client.set_registration_token(token).await?;
    /// client.register().await?;
    /// # Ok(()) }
    /// ```
    pub async fn set_registration_token(
        &self,
        token: hush_proto::RegistrationToken,
    ) -> Result<(), ClientError> {
        self.command(Command::SetRegistrationToken(token)).await
    }

    /// Queues `content` for `to`. Returns once the message is durably in the outbox; it is sent
    /// when connected, and resent after crashes and reconnects until the relay stores it.
    pub async fn send(&self, to: Address, content: Content) -> Result<MessageId, ClientError> {
        let (reply, answer) = oneshot::channel();
        self.command(Command::Send { to, content, reply }).await?;
        answer.await.map_err(|_| stopped())?
    }

    /// Marks every unread message from `peer` read and sends a read receipt. Returns how many.
    pub async fn mark_read(&self, peer: Address) -> Result<usize, ClientError> {
        let ids = self.with_store(move |store| store.unread(&peer)).await?;
        self.send_read(peer, ids).await
    }

    /// Marks those of `ids` that are unread messages from `peer` read and sends a read receipt
    /// for them: what a screen showed, not what arrived meanwhile. Other ids (one's own
    /// messages, another peer's, ones already read) are skipped. Returns how many.
    ///
    /// ```no_run
    /// # async fn demo(client: hush_client::Client, peer: hush_client::Address) -> Result<(), hush_client::ClientError> {
    /// let page = client.history(peer, None, 20).await?;
    /// let shown: Vec<_> = page.iter().map(|entry| entry.message.id).collect();
    /// client.mark_read_messages(peer, &shown).await?;
    /// # Ok(()) }
    /// ```
    pub async fn mark_read_messages(&self, peer: Address, ids: &[MessageId]) -> Result<usize, ClientError> {
        let shown: std::collections::HashSet<MessageId> = ids.iter().copied().collect();
        let unread = self.with_store(move |store| store.unread(&peer)).await?;
        let ids = unread.into_iter().filter(|id| shown.contains(id)).collect();
        self.send_read(peer, ids).await
    }

    /// Marks `ids` (unread messages from `peer`) read and sends a read receipt.
    async fn send_read(&self, peer: Address, ids: Vec<MessageId>) -> Result<usize, ClientError> {
        if ids.is_empty() {
            return Ok(0);
        }
        let count = ids.len();
        let (reply, answer) = oneshot::channel();
        self.command(Command::MarkRead { peer, ids, reply }).await?;
        answer.await.map_err(|_| stopped())??;
        Ok(count)
    }

    /// Accepts `peer`'s message request: what it sent is delivered (a `MessageReceived` each, once,
    /// in order) with receipts, and it gets our access key. Also unblocks.
    pub async fn accept(&self, peer: Address) -> Result<(), ClientError> {
        self.peer_action(peer, PeerAction::Accept).await
    }

    /// Blocks `peer`: what it sent is dropped, what it sends is dropped unread, and our access
    /// key is rotated (the relay and our other contacts get the new one).
    pub async fn block(&self, peer: Address) -> Result<(), ClientError> {
        self.peer_action(peer, PeerAction::Block).await
    }

    /// Reports `peer` to the relay (which learns that `peer` wrote to us) and blocks it.
    pub async fn report(&self, peer: Address) -> Result<(), ClientError> {
        self.peer_action(peer, PeerAction::Report).await
    }

    /// Peers whose message requests wait for [`Client::accept`], [`Client::block`] or
    /// [`Client::report`].
    pub async fn requests(&self) -> Result<Vec<Address>, ClientError> {
        let (reply, answer) = oneshot::channel();
        self.command(Command::Requests { reply }).await?;
        answer.await.map_err(|_| stopped())
    }

    async fn peer_action(&self, peer: Address, action: PeerAction) -> Result<(), ClientError> {
        let (reply, answer) = oneshot::channel();
        self.command(Command::Peer { peer, action, reply }).await?;
        answer.await.map_err(|_| stopped())?
    }

    /// Up to `limit` messages with `peer` before position `before` (latest if `None`), oldest
    /// first. Page back with the first entry's position.
    pub async fn history(
        &self,
        peer: Address,
        before: Option<u64>,
        limit: usize,
    ) -> Result<Vec<HistoryEntry>, ClientError> {
        self.with_store(move |store| store.history(&peer, before, limit))
            .await
    }

    /// How many messages from `peer` are not marked read yet.
    pub async fn unread_count(&self, peer: Address) -> Result<usize, ClientError> {
        self.with_store(move |store| store.unread(&peer).map(|ids| ids.len()))
            .await
    }

    /// Peers with messages, most recent first.
    pub async fn conversations(&self) -> Result<Vec<Address>, ClientError> {
        self.with_store(|store| store.peers()).await
    }

    /// Every conversation, most recent first, as a conversation list shows it: the peer, its
    /// contact name (`None` if it is not a contact), the latest message and the number of
    /// unread incoming messages. One read for all of them, not a history read per peer; a
    /// store it cannot decode (a damaged contact row too) is an error, not a blank or a raw
    /// address.
    ///
    /// ```no_run
    /// # async fn demo(client: hush_client::Client) -> Result<(), hush_client::ClientError> {
    /// for conversation in client.conversations_summary().await? {
    ///     let who = conversation.name.unwrap_or_else(|| conversation.peer.to_string());
    ///     println!("{who}: {} unread, last at {} ms", conversation.unread, conversation.last.message.sent_at);
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn conversations_summary(&self) -> Result<Vec<ConversationSummary>, ClientError> {
        self.with_store(|store| store.conversations_summary()).await
    }

    /// The safety number with `peer`: compare it out of band, then [`Client::verify_contact`].
    pub fn safety_number(&self, peer: &Address) -> SafetyNumber {
        SafetyNumber::new(
            &self.identity,
            self.address.to_string().as_bytes(),
            &peer.identity(),
            peer.to_string().as_bytes(),
        )
    }

    /// Connects again now: after the network came back or changed (Wi-Fi to mobile data, say).
    /// An open connection is closed and replaced, since its path may be gone without either
    /// side knowing until the idle timeout; whatever it left unanswered is resent on the new
    /// one, and copies are dropped by message id, so every message still arrives once.
    pub async fn reconnect(&self) -> Result<(), ClientError> {
        self.command(Command::Reconnect).await
    }

    /// Moves the live connection to a new local UDP socket (a new source port), as when the
    /// device's address changes under it: QUIC migrates the connection to the new path, with
    /// nothing to resend. Returns whether there was a connection to move.
    pub async fn rebind(&self) -> Result<bool, ClientError> {
        let (reply, answer) = oneshot::channel();
        self.command(Command::Rebind { reply }).await?;
        answer.await.map_err(|_| stopped())?
    }

    /// Finishes pending writes and closes the connection.
    pub async fn shutdown(self) -> Result<(), ClientError> {
        let (reply, answer) = oneshot::channel();
        self.command(Command::Shutdown { reply }).await?;
        // Our handle on the database goes first; the driver drops the last one before answering.
        let Self { store, .. } = self;
        drop(store);
        answer.await.map_err(|_| stopped())
    }

    async fn with_store<T: Send + 'static>(
        &self,
        query: impl FnOnce(&SqlStore) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, ClientError> {
        let store = Arc::clone(&self.store);
        tokio::task::spawn_blocking(move || {
            let store = store
                .lock()
                .map_err(|_| ClientError::Stopped(StopReason::LockPoisoned))?;
            query(&store).map_err(ClientError::from)
        })
        .await
        .map_err(|error| ClientError::Stopped(StopReason::Task(Arc::new(error))))?
    }

    async fn command(&self, command: Command) -> Result<(), ClientError> {
        self.commands.send(command).await.map_err(|_| stopped())
    }
}

fn stopped() -> ClientError {
    ClientError::Stopped(StopReason::Ended)
}

#[cfg(test)]
mod tests {
    use rand_core::Rng;

    use super::*;

    /// A process snapshot or fork copies the RNG's state: a copy must not replay the original's
    /// output (a once-seeded `StdRng`, cloned, gives the same bytes and the same identity).
    #[test]
    fn a_copied_rng_does_not_replay_its_original() {
        let mut original = os_rng();
        // `clone`, not a copy: the check must also compile for a generator that is only Clone.
        #[allow(clippy::clone_on_copy)]
        let mut copy = original.clone();
        let (mut a, mut b) = ([0u8; 32], [0u8; 32]);
        original.fill_bytes(&mut a);
        copy.fill_bytes(&mut b);
        assert_ne!(a, b);
        let first = Core::create(now_ms(), Box::new(original)).address();
        let second = Core::create(now_ms(), Box::new(copy)).address();
        assert_ne!(first, second);
    }
}
