//! The listener: binds QUIC (and the metrics endpoint), admits connections (see [`crate::admission`]),
//! runs one task per connection, purges expired messages, wakes connections for messages other
//! relay nodes stored (with a shared store), and on shutdown stops accepting, lets every
//! connection finish the request it is handling, then closes.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use hush_crypto::IdentityKey;
use hush_proto::{Envelope, MailboxId, OneTimePreKey, SignedPreKey};
use quinn::crypto::rustls::QuicServerConfig;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;
use tracing::{info, warn};

use crate::admission::{Admission, Admit, Refusal, Slot};
use crate::budget::StrangerBudget;
use crate::clock::Clock;
use crate::config::{Config, StorageBackend};
use crate::connection;
use crate::hub::Hub;
use crate::limits::KeyedLimiter;
use crate::metrics::{Gauges, Metrics};
use crate::reports::Reports;
use crate::store::memory::MemoryStore;
#[cfg(feature = "postgres")]
use crate::store::postgres::{PostgresOptions, PostgresStore};
use crate::store::sqlite::{SqliteOptions, SqliteStore, Synchronous};
use crate::store::{ClaimedBundle, MailboxStatus, NodeNotice, Quota, Store, StoreError, StoredMessage};
use crate::tls::{self, TlsError};

/// Name of the database file inside the data directory.
pub const DATABASE_FILE: &str = "relay.sqlite3";

/// Why the relay could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// The configuration is inconsistent.
    #[error("configuration: {0}")]
    Config(String),
    /// TLS material could not be loaded or made.
    #[error(transparent)]
    Tls(#[from] TlsError),
    /// Binding a socket or creating the data directory failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The store could not be opened.
    #[error("storage: {0}")]
    Store(#[from] crate::store::StoreError),
}

/// State shared by every connection.
#[derive(Debug)]
pub(crate) struct Shared<S> {
    pub(crate) store: S,
    pub(crate) config: Config,
    pub(crate) clock: Clock,
    pub(crate) hub: Hub,
    pub(crate) metrics: Arc<Metrics>,
    pub(crate) registration_key: Option<IdentityKey>,
    pub(crate) fetch_by_requester: KeyedLimiter<MailboxId>,
    pub(crate) fetch_by_target: KeyedLimiter<MailboxId>,
    pub(crate) strangers: StrangerBudget,
    pub(crate) reports: Reports,
    pub(crate) next_connection_id: AtomicU64,
    pub(crate) admission: Admission,
}

/// A bound relay, ready to [`run`](Relay::run).
#[derive(Debug)]
pub struct Relay<S> {
    endpoint: quinn::Endpoint,
    metrics_listener: Option<TcpListener>,
    shared: Arc<Shared<S>>,
    fingerprint: [u8; 32],
}

impl Relay<ConfiguredStore> {
    /// Binds with the store `config.storage` names (by default the embedded SQLite store in
    /// `config.data_dir`) and the system clock.
    pub async fn bind(config: Config) -> Result<Self, StartError> {
        let store = match config.storage.backend {
            StorageBackend::Sqlite => ConfiguredStore::Sqlite(open_sqlite(&config)?),
            StorageBackend::Postgres => open_postgres(&config).await?,
            StorageBackend::Memory => {
                warn!("storage.backend = \"memory\": nothing is durable; for tests and benchmarks only");
                ConfiguredStore::Memory(MemoryStore::new())
            }
        };
        Self::bind_with(config, store, Clock::System).await
    }
}

fn open_sqlite(config: &Config) -> Result<SqliteStore, StartError> {
    std::fs::create_dir_all(&config.data_dir).map_err(|source| StartError::Io {
        what: format!("creating {}", config.data_dir.display()),
        source,
    })?;
    let synchronous = match config.storage.synchronous.as_str() {
        "full" => Synchronous::Full,
        "normal" => Synchronous::Normal,
        other => {
            return Err(StartError::Config(format!(
                "storage.synchronous must be full or normal, not {other:?}"
            )));
        }
    };
    let options = SqliteOptions {
        synchronous,
        batch_max: config.storage.batch_max.max(1),
        commit_delay: std::time::Duration::from_micros(config.storage.commit_delay_micros),
    };
    Ok(SqliteStore::open(&config.data_dir.join(DATABASE_FILE), options)?)
}

#[cfg(feature = "postgres")]
async fn open_postgres(config: &Config) -> Result<ConfiguredStore, StartError> {
    use secrecy::ExposeSecret;
    let url = config.storage.postgres_url.as_ref().ok_or_else(|| {
        StartError::Config(r#"storage.backend = "postgres" needs storage.postgres_url"#.into())
    })?;
    let options = PostgresOptions {
        pool_size: config.storage.postgres_pool_size.max(1),
    };
    Ok(ConfiguredStore::Postgres(Box::new(
        PostgresStore::connect(url.expose_secret(), options).await?,
    )))
}

#[cfg(not(feature = "postgres"))]
async fn open_postgres(_config: &Config) -> Result<ConfiguredStore, StartError> {
    Err(StartError::Config(
        r#"storage.backend = "postgres" needs a relay built with the `postgres` feature (cargo build --features postgres)"#
            .into(),
    ))
}

/// The store [`Relay::bind`] opened, as `config.storage.backend` chose.
#[derive(Debug)]
#[non_exhaustive]
pub enum ConfiguredStore {
    /// The embedded SQLite store.
    Sqlite(SqliteStore),
    /// The PostgreSQL store several relay nodes may share (boxed: it is several times the size
    /// of the SQLite one, and there is one per relay).
    #[cfg(feature = "postgres")]
    Postgres(Box<PostgresStore>),
    /// The in-memory store: nothing durable (tests and benchmarks).
    Memory(MemoryStore),
}

/// Runs `$call` on whichever store `$store` holds.
macro_rules! dispatch {
    ($store:expr, $inner:ident => $call:expr) => {
        match $store {
            ConfiguredStore::Sqlite($inner) => $call,
            #[cfg(feature = "postgres")]
            ConfiguredStore::Postgres($inner) => $call,
            ConfiguredStore::Memory($inner) => $call,
        }
    };
}

impl Store for ConfiguredStore {
    async fn register(&self, mailbox: MailboxId, identity_key: [u8; 32], now: u64) -> Result<(), StoreError> {
        dispatch!(self, store => store.register(mailbox, identity_key, now).await)
    }

    async fn mailbox_status(&self, mailbox: MailboxId) -> Result<MailboxStatus, StoreError> {
        dispatch!(self, store => store.mailbox_status(mailbox).await)
    }

    async fn upload_prekeys(
        &self,
        mailbox: MailboxId,
        signed_prekey: SignedPreKey,
        one_time: Vec<OneTimePreKey>,
        max_one_time: u32,
    ) -> Result<u32, StoreError> {
        dispatch!(self, store => store.upload_prekeys(mailbox, signed_prekey, one_time, max_one_time).await)
    }

    async fn claim_bundle(&self, mailbox: MailboxId) -> Result<ClaimedBundle, StoreError> {
        dispatch!(self, store => store.claim_bundle(mailbox).await)
    }

    async fn set_access_verifier(
        &self,
        mailbox: MailboxId,
        verifier: Option<[u8; 32]>,
    ) -> Result<(), StoreError> {
        dispatch!(self, store => store.set_access_verifier(mailbox, verifier).await)
    }

    async fn access_verifier(&self, mailbox: MailboxId) -> Result<Option<[u8; 32]>, StoreError> {
        dispatch!(self, store => store.access_verifier(mailbox).await)
    }

    async fn one_time_prekey_count(&self, mailbox: MailboxId) -> Result<u32, StoreError> {
        dispatch!(self, store => store.one_time_prekey_count(mailbox).await)
    }

    async fn enqueue(
        &self,
        deliveries: Vec<(MailboxId, Envelope)>,
        now: u64,
        quota: Quota,
    ) -> Result<Vec<u64>, StoreError> {
        dispatch!(self, store => store.enqueue(deliveries, now, quota).await)
    }

    async fn enqueue_then<F>(&self, deliveries: Vec<(MailboxId, Envelope)>, now: u64, quota: Quota, done: F)
    where
        F: FnOnce(Result<Vec<u64>, StoreError>) + Send + 'static,
    {
        dispatch!(self, store => store.enqueue_then(deliveries, now, quota, done).await)
    }

    async fn fetch(
        &self,
        mailbox: MailboxId,
        after: u64,
        limit: usize,
    ) -> Result<Vec<StoredMessage>, StoreError> {
        dispatch!(self, store => store.fetch(mailbox, after, limit).await)
    }

    async fn ack(&self, mailbox: MailboxId, through: u64) -> Result<u64, StoreError> {
        dispatch!(self, store => store.ack(mailbox, through).await)
    }

    async fn purge_expired(&self, cutoff: u64) -> Result<u64, StoreError> {
        dispatch!(self, store => store.purge_expired(cutoff).await)
    }

    async fn delete_mailbox(&self, mailbox: MailboxId) -> Result<(), StoreError> {
        dispatch!(self, store => store.delete_mailbox(mailbox).await)
    }

    async fn queue_depth(&self) -> Result<u64, StoreError> {
        dispatch!(self, store => store.queue_depth().await)
    }

    fn notices(&self) -> Option<mpsc::Receiver<NodeNotice>> {
        dispatch!(self, store => store.notices())
    }

    async fn announce_login(&self, mailbox: MailboxId) {
        dispatch!(self, store => store.announce_login(mailbox).await)
    }

    fn stats(&self) -> Option<&crate::metrics::StoreStats> {
        dispatch!(self, store => store.stats())
    }

    async fn shutdown(&self) {
        dispatch!(self, store => store.shutdown().await)
    }
}

impl<S: Store> Relay<S> {
    /// Binds with a given store and clock (tests use the in-memory store and a manual clock).
    pub async fn bind_with(config: Config, store: S, clock: Clock) -> Result<Self, StartError> {
        let identity = match (&config.tls_cert, &config.tls_key) {
            (Some(cert), Some(key)) => tls::load_pem(cert, key)?,
            (None, None) => {
                std::fs::create_dir_all(&config.data_dir).map_err(|source| StartError::Io {
                    what: format!("creating {}", config.data_dir.display()),
                    source,
                })?;
                tls::load_or_create_self_signed(&config.data_dir)?
            }
            _ => return Err(StartError::Config("tls_cert and tls_key go together".into())),
        };
        let fingerprint = identity.fingerprint();
        let registration_key = match &config.registration_key {
            None => None,
            Some(hex) => Some(
                tls::from_hex::<32>(hex)
                    .and_then(|bytes| IdentityKey::from_bytes(&bytes).ok())
                    .ok_or_else(|| StartError::Config("registration_key must be a hex Ed25519 key".into()))?,
            ),
        };
        let endpoint =
            quinn::Endpoint::server(server_config(&config, identity)?, config.listen).map_err(|source| {
                StartError::Io {
                    what: format!("binding {}", config.listen),
                    source,
                }
            })?;
        let metrics_listener = match config.metrics_listen {
            Some(addr) => Some(TcpListener::bind(addr).await.map_err(|source| StartError::Io {
                what: format!("binding metrics on {addr}"),
                source,
            })?),
            None => None,
        };
        let limits = &config.limits;
        let shared = Arc::new(Shared {
            fetch_by_requester: KeyedLimiter::per_minute(limits.bundle_fetches_per_minute),
            fetch_by_target: KeyedLimiter::per_minute(limits.bundle_fetches_per_target_per_minute),
            strangers: StrangerBudget::from_limits(limits),
            reports: Reports::default(),
            store,
            clock,
            hub: Hub::default(),
            metrics: Arc::new(Metrics::default()),
            registration_key,
            next_connection_id: AtomicU64::new(1),
            admission: Admission::new(limits),
            config,
        });
        Ok(Self {
            endpoint,
            metrics_listener,
            shared,
            fingerprint,
        })
    }

    /// The QUIC address actually bound (useful with port 0).
    pub fn local_addr(&self) -> Result<SocketAddr, std::io::Error> {
        self.endpoint.local_addr()
    }

    /// The metrics endpoint's address, if enabled.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_listener
            .as_ref()
            .and_then(|listener| listener.local_addr().ok())
    }

    /// SHA-256 of the relay certificate, which clients pin.
    pub fn fingerprint(&self) -> [u8; 32] {
        self.fingerprint
    }

    /// The metrics, as text (what the endpoint serves).
    pub async fn render_metrics(&self) -> String {
        render(&self.shared).await
    }

    /// Deletes messages past their TTL now (also done every `purge_interval_secs`).
    pub async fn purge_expired(&self) -> Result<u64, crate::store::StoreError> {
        purge(&self.shared).await
    }

    /// A handle for tests and operators that outlives `run`'s borrow.
    pub fn handle(&self) -> RelayHandle<S> {
        RelayHandle {
            shared: self.shared.clone(),
        }
    }

    /// Serves until `shutdown` completes, then drains: no new connections, every connection
    /// finishes its current request (so every acknowledged message is durable), then closes.
    pub async fn run(self, shutdown: impl std::future::Future<Output = ()>) {
        let Self {
            endpoint,
            metrics_listener,
            shared,
            ..
        } = self;
        let (stop_tx, stop_rx) = watch::channel(false);
        let mut connections = JoinSet::new();
        let mut background = JoinSet::new();
        if let Some(listener) = metrics_listener {
            background.spawn(serve_metrics(listener, shared.clone(), stop_rx.clone()));
        }
        background.spawn(purge_loop(shared.clone(), stop_rx.clone()));
        if let Some(notices) = shared.store.notices() {
            background.spawn(follow_other_nodes(shared.clone(), notices));
        }
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                () = &mut shutdown => break,
                incoming = endpoint.accept() => {
                    let Some(incoming) = incoming else { break };
                    let Some((slot, incoming)) = admit(&shared, incoming) else { continue };
                    let shared = shared.clone();
                    let stop = stop_rx.clone();
                    connections.spawn(handshake_and_serve(shared, incoming, slot, stop));
                }
                Some(_) = connections.join_next(), if !connections.is_empty() => {}
            }
        }
        info!(
            connections = connections.len(),
            "shutting down: draining connections"
        );
        let _ = stop_tx.send(true);
        let grace = Duration::from_secs(shared.config.limits.shutdown_grace_secs);
        if tokio::time::timeout(grace, async { while connections.join_next().await.is_some() {} })
            .await
            .is_err()
        {
            warn!(
                left = connections.len(),
                "grace period over; closing the remaining connections"
            );
            connections.abort_all();
        }
        background.abort_all();
        endpoint.close(
            quinn::VarInt::from_u32(connection::close_code::SHUTTING_DOWN),
            b"shutting down",
        );
        let _ = tokio::time::timeout(Duration::from_secs(2), endpoint.wait_idle()).await;
        // Every answered write is durable already; this also makes the last journaled ones
        // rows of the database and closes its files.
        shared.store.shutdown().await;
        info!("relay stopped");
    }
}

/// A cheap handle on a running relay.
#[derive(Debug)]
pub struct RelayHandle<S> {
    shared: Arc<Shared<S>>,
}

impl<S: Store> RelayHandle<S> {
    /// Deletes messages past their TTL now.
    pub async fn purge_expired(&self) -> Result<u64, crate::store::StoreError> {
        purge(&self.shared).await
    }

    /// The metrics text.
    pub async fn render_metrics(&self) -> String {
        render(&self.shared).await
    }

    /// The store (tests inspect it).
    pub fn store(&self) -> &S {
        &self.shared.store
    }
}

/// Admits, retries or refuses a connection attempt; the slot and the attempt when admitted.
fn admit<S: Store>(shared: &Shared<S>, incoming: quinn::Incoming) -> Option<(Slot, quinn::Incoming)> {
    let metrics = &shared.metrics;
    match shared.admission.admit(
        incoming.remote_address(),
        incoming.remote_address_validated(),
        incoming.may_retry(),
    ) {
        Admit::Accept(slot) => return Some((slot, incoming)),
        Admit::Retry => {
            Metrics::add(&metrics.connections_retried, 1);
            if let Err(error) = incoming.retry() {
                // Not reached: admission asks for a Retry only where one may be sent.
                error.into_incoming().refuse();
            }
        }
        Admit::Refuse(refusal) => {
            let counter = match refusal {
                Refusal::Full => &metrics.connections_refused,
                Refusal::Unauthenticated => &metrics.connections_refused_unauthenticated,
                Refusal::PerAddress => &metrics.connections_refused_per_address,
            };
            Metrics::add(counter, 1);
            incoming.refuse();
        }
    }
    None
}

/// Completes an admitted connection's handshake within the login deadline, charges it to its
/// (now proven) address, and serves it.
async fn handshake_and_serve<S: Store>(
    shared: Arc<Shared<S>>,
    incoming: quinn::Incoming,
    mut slot: Slot,
    stop: watch::Receiver<bool>,
) {
    let login_deadline =
        tokio::time::Instant::now() + Duration::from_secs(shared.config.limits.login_timeout_secs);
    let connection = match tokio::time::timeout_at(login_deadline, incoming).await {
        Ok(Ok(connection)) => connection,
        Ok(Err(error)) => {
            tracing::debug!(%error, "handshake failed");
            return;
        }
        Err(_) => {
            // Dropping the handshake abandons it.
            Metrics::add(&shared.metrics.login_timeouts, 1);
            return;
        }
    };
    if !shared
        .admission
        .claim_address(&mut slot, connection.remote_address())
    {
        Metrics::add(&shared.metrics.connections_refused_per_address, 1);
        connection.close(
            quinn::VarInt::from_u32(connection::close_code::TOO_MANY_CONNECTIONS),
            b"too many connections from this address",
        );
        return;
    }
    Metrics::add(&shared.metrics.connections_total, 1);
    Metrics::add(&shared.metrics.connections_active, 1);
    connection::serve(connection, shared.clone(), stop, slot, login_deadline).await;
    shared
        .metrics
        .connections_active
        .fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
}

fn server_config(config: &Config, identity: tls::Identity) -> Result<quinn::ServerConfig, StartError> {
    let mut crypto = rustls::ServerConfig::builder_with_provider(tls::provider())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(TlsError::from)?
        .with_no_client_auth()
        .with_single_cert(identity.chain, identity.key)
        .map_err(TlsError::from)?;
    crypto.alpn_protocols = vec![hush_proto::ALPN.to_vec()];
    let crypto = QuicServerConfig::try_from(crypto)
        .map_err(|error| StartError::Config(format!("QUIC TLS configuration: {error}")))?;
    let mut server = quinn::ServerConfig::with_crypto(Arc::new(crypto));
    let mut transport = quinn::TransportConfig::default();
    let idle = quinn::IdleTimeout::try_from(config.limits.idle_timeout())
        .map_err(|_| StartError::Config("idle_timeout_secs is too large".into()))?;
    transport
        .max_idle_timeout(Some(idle))
        // One request stream per connection; no unidirectional streams.
        .max_concurrent_bidi_streams(1u32.into())
        .max_concurrent_uni_streams(0u32.into())
        // Bounded per-connection receive buffers: two frames in flight at most, and until login
        // (the connection raises it then) only what a login needs.
        .stream_receive_window(quinn::VarInt::from_u32(
            config.limits.max_frame_len.saturating_mul(2),
        ))
        .receive_window(quinn::VarInt::from_u32(
            crate::admission::PRE_LOGIN_RECEIVE_WINDOW,
        ));
    server.transport_config(Arc::new(transport));
    Ok(server)
}

async fn purge<S: Store>(shared: &Shared<S>) -> Result<u64, crate::store::StoreError> {
    let cutoff = shared
        .clock
        .now()
        .saturating_sub(shared.config.limits.message_ttl_secs);
    let purged = shared.store.purge_expired(cutoff).await?;
    Metrics::add(&shared.metrics.messages_expired, purged);
    Ok(purged)
}

async fn purge_loop<S: Store>(shared: Arc<Shared<S>>, mut stop: watch::Receiver<bool>) {
    let mut interval = tokio::time::interval(Duration::from_secs(
        shared.config.limits.purge_interval_secs.max(1),
    ));
    loop {
        tokio::select! {
            _ = interval.tick() => {
                if let Err(error) = purge(&shared).await {
                    warn!(%error, "purging expired messages failed");
                }
            }
            _ = stop.changed() => return,
        }
    }
}

/// Acts on what other relay nodes sharing the store did (see [`Store::notices`]): wakes the
/// connection of each mailbox another node stored messages for, if it is logged in here, so its
/// delivery task reads and pushes them at once; closes the connection here of a mailbox that
/// logged in on another node.
async fn follow_other_nodes<S: Store>(shared: Arc<Shared<S>>, mut notices: mpsc::Receiver<NodeNotice>) {
    while let Some(notice) = notices.recv().await {
        match notice {
            NodeNotice::Stored(mailbox) => shared.hub.wake(&mailbox),
            NodeNotice::LoggedIn(mailbox) => shared.hub.replaced_elsewhere(&mailbox),
        }
    }
}

async fn render<S: Store>(shared: &Shared<S>) -> String {
    let depth = shared.store.queue_depth().await.ok();
    shared.metrics.render(
        depth,
        Gauges {
            online: shared.hub.len(),
            unauthenticated: shared.admission.unauthenticated(),
        },
        shared.store.stats(),
    )
}

/// A minimal HTTP/1.1 responder: any GET gets the metrics text.
async fn serve_metrics<S: Store>(
    listener: TcpListener,
    shared: Arc<Shared<S>>,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = stop.changed() => return,
        };
        let Ok((mut socket, _)) = accepted else { continue };
        let shared = shared.clone();
        tokio::spawn(async move {
            let mut request = [0u8; 1024];
            let read = tokio::time::timeout(Duration::from_secs(5), socket.read(&mut request)).await;
            if !matches!(read, Ok(Ok(n)) if n > 0) {
                return;
            }
            let body = render(&shared).await;
            let response = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: text/plain; version=0.0.4\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = socket.write_all(response.as_bytes()).await;
            let _ = socket.shutdown().await;
        });
    }
}
