//! The listener: binds QUIC (and the metrics endpoint) with the store the configuration picks,
//! admits connections (see [`crate::admission`]) and runs one task per connection
//! ([`crate::connection`]) beside the background tasks; on shutdown it stops accepting, lets
//! every connection finish the request it is handling, then closes.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hush_crypto::IdentityKey;
use quinn::crypto::rustls::QuicServerConfig;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tracing::{info, warn};

use crate::admission::{Admit, Refusal, Slot};
use crate::background::{follow_other_nodes, metrics_server, purge};
use crate::clock::Clock;
use crate::config::{Config, StorageBackend};
use crate::connection;
use crate::metrics::Metrics;
use crate::shared::Shared;
pub use crate::store::configured::ConfiguredStore;
use crate::store::memory::MemoryStore;
#[cfg(feature = "postgres")]
use crate::store::postgres::{PostgresOptions, PostgresStore};
use crate::store::sqlite::{SqliteOptions, SqliteStore, Synchronous};
use crate::store::{Store, StoreError};
use crate::tls::{self, TlsError};

/// Name of the database file inside the data directory.
pub const DATABASE_FILE: &str = "relay.sqlite3";

/// Why the relay could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// The configuration is inconsistent.
    #[error("configuration: {0}")]
    Config(#[from] ConfigError),
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
    Store(#[from] StoreError),
}

/// What is wrong with the configuration.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// `storage.synchronous` names no SQLite mode the relay offers.
    #[error("storage.synchronous must be full or normal, not {0:?}")]
    Synchronous(String),
    /// The PostgreSQL backend was chosen without a database URL.
    #[error(r#"storage.backend = "postgres" needs storage.postgres_url"#)]
    PostgresUrlMissing,
    /// The PostgreSQL backend was chosen in a relay built without it.
    #[error(
        r#"storage.backend = "postgres" needs a relay built with the `postgres` feature (cargo build --features postgres)"#
    )]
    PostgresNotBuilt,
    /// Only one of `tls_cert` and `tls_key` is set.
    #[error("tls_cert and tls_key go together")]
    TlsPair,
    /// `registration_key` is not 64 hex digits of an Ed25519 public key.
    #[error("registration_key must be a hex Ed25519 key")]
    RegistrationKey,
    /// The TLS configuration offers no cipher suite QUIC can protect its initial packets with.
    #[error("QUIC TLS configuration: {0}")]
    QuicTls(#[from] quinn::crypto::rustls::NoInitialCipherSuite),
    /// `idle_timeout_secs` is more than QUIC can carry.
    #[error("idle_timeout_secs is too large: {0}")]
    IdleTimeout(#[from] quinn::VarIntBoundsExceeded),
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
            return Err(ConfigError::Synchronous(other.to_owned()).into());
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
    let url = config
        .storage
        .postgres_url
        .as_ref()
        .ok_or(ConfigError::PostgresUrlMissing)?;
    let options = PostgresOptions {
        pool_size: config.storage.postgres_pool_size.max(1),
    };
    Ok(ConfiguredStore::Postgres(Box::new(
        PostgresStore::connect(url.expose_secret(), options).await?,
    )))
}

#[cfg(not(feature = "postgres"))]
async fn open_postgres(_config: &Config) -> Result<ConfiguredStore, StartError> {
    Err(ConfigError::PostgresNotBuilt.into())
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
            _ => return Err(ConfigError::TlsPair.into()),
        };
        let fingerprint = identity.fingerprint();
        let registration_key = match &config.registration_key {
            None => None,
            Some(hex) => Some(
                tls::from_hex::<32>(hex)
                    .and_then(|bytes| IdentityKey::from_bytes(&bytes).ok())
                    .ok_or(ConfigError::RegistrationKey)?,
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
        let shared = Arc::new(Shared::new(store, config.limits, clock, registration_key));
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
        metrics_server::render(&self.shared).await
    }

    /// Deletes messages past their TTL now (also done every `purge_interval_secs`).
    pub async fn purge_expired(&self) -> Result<u64, StoreError> {
        purge_now(&self.shared).await
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
            background.spawn(metrics_server::serve_metrics(
                listener,
                shared.clone(),
                stop_rx.clone(),
            ));
        }
        background.spawn(purge::purge_loop(shared.clone(), stop_rx.clone()));
        if let Some(notices) = shared.store.notices() {
            background.spawn(follow_other_nodes(shared.hub.clone(), notices));
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
                    connections.spawn(connection::handshake_and_serve(shared, incoming, slot, stop));
                }
                Some(_) = connections.join_next(), if !connections.is_empty() => {}
            }
        }
        info!(
            connections = connections.len(),
            "shutting down: draining connections"
        );
        let _ = stop_tx.send(true);
        let grace = Duration::from_secs(shared.limits.shutdown_grace_secs);
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
    pub async fn purge_expired(&self) -> Result<u64, StoreError> {
        purge_now(&self.shared).await
    }

    /// The metrics text.
    pub async fn render_metrics(&self) -> String {
        metrics_server::render(&self.shared).await
    }

    /// The store (tests inspect it).
    pub fn store(&self) -> &S {
        &self.shared.store
    }
}

async fn purge_now<S: Store>(shared: &Shared<S>) -> Result<u64, StoreError> {
    purge::purge(
        &*shared.store,
        &shared.clock,
        shared.limits.message_ttl_secs,
        &shared.metrics,
    )
    .await
}

/// Admits, retries or refuses a connection attempt; the slot and the attempt when admitted.
fn admit<S>(shared: &Shared<S>, incoming: quinn::Incoming) -> Option<(Slot, quinn::Incoming)> {
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

fn server_config(config: &Config, identity: tls::Identity) -> Result<quinn::ServerConfig, StartError> {
    let mut crypto = rustls::ServerConfig::builder_with_provider(tls::provider())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(TlsError::from)?
        .with_no_client_auth()
        .with_single_cert(identity.chain, identity.key)
        .map_err(TlsError::from)?;
    crypto.alpn_protocols = vec![hush_proto::ALPN.to_vec()];
    let crypto = QuicServerConfig::try_from(crypto).map_err(ConfigError::from)?;
    let mut server = quinn::ServerConfig::with_crypto(Arc::new(crypto));
    let mut transport = quinn::TransportConfig::default();
    let idle = quinn::IdleTimeout::try_from(config.limits.idle_timeout()).map_err(ConfigError::from)?;
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
