//! Relay configuration: a TOML file, overridden by command-line flags and `HUSH_RELAY_*`
//! environment variables (see the binary). Every limit has a safe default.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use secrecy::SecretString;
use serde::Deserialize;

/// Default QUIC port.
pub const DEFAULT_PORT: u16 = 7443;

/// Database connections a relay with the PostgreSQL store keeps for requests. Each request holds
/// one for a few short statements; eight keep requests flowing on a small machine, and a dozen
/// nodes (with one more listening connection each) stay under PostgreSQL's default limit of 100.
pub const DEFAULT_POSTGRES_POOL_SIZE: usize = 8;

/// Everything the relay needs to start.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// QUIC listen address.
    pub listen: SocketAddr,
    /// Directory holding the database and the self-signed certificate.
    pub data_dir: PathBuf,
    /// Prometheus metrics listen address (plain HTTP); `None` disables the endpoint.
    pub metrics_listen: Option<SocketAddr>,
    /// PEM certificate chain; with `tls_key`, replaces the self-signed certificate.
    pub tls_cert: Option<PathBuf>,
    /// PEM private key for `tls_cert`.
    pub tls_key: Option<PathBuf>,
    /// Hex Ed25519 public key of the operator's registration authority. When set, a mailbox's
    /// first login needs a token signed by it.
    pub registration_key: Option<String>,
    /// Storage settings.
    pub storage: StorageConfig,
    /// Limits.
    pub limits: Limits,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([0, 0, 0, 0], DEFAULT_PORT)),
            data_dir: PathBuf::from("hush-relay-data"),
            metrics_listen: Some(SocketAddr::from(([127, 0, 0, 1], 9464))),
            tls_cert: None,
            tls_key: None,
            registration_key: None,
            storage: StorageConfig::default(),
            limits: Limits::default(),
        }
    }
}

/// Which store holds the relay's data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum StorageBackend {
    /// The embedded SQLite database in the data directory: one relay, no database server.
    #[default]
    Sqlite,
    /// A PostgreSQL database, which several relay nodes may share. Needs a relay built with the
    /// `postgres` feature.
    Postgres,
    /// Memory only: nothing reaches the disk and nothing survives a restart, so an acknowledged
    /// message is not durable. For tests, and for measuring what durable storage costs
    /// (`hush-bench --store memory`); never for users.
    Memory,
}

/// Storage settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StorageConfig {
    /// Where the data lives: `"sqlite"` (default) or `"postgres"`.
    pub backend: StorageBackend,
    /// SQLite: `"full"` (default: every acknowledged message survives power loss) or `"normal"`
    /// (survives a process crash; a power cut may lose the last commits).
    pub synchronous: String,
    /// SQLite: most write operations committed together in one transaction (group commit).
    pub batch_max: usize,
    /// SQLite: shortest time between the starts of two write batches, microseconds (default
    /// 500). Under load the writes arriving meanwhile share the next batch and its one fsync,
    /// which spends less CPU per message for up to this much latency each; a write that finds
    /// the store idle is not delayed. 0 starts each batch as soon as the previous one is done.
    pub commit_delay_micros: u64,
    /// PostgreSQL (required with that backend): the database, as a `postgresql://` URL or libpq
    /// `key=value` pairs. Secret, since it may hold a password: never logged or printed.
    pub postgres_url: Option<SecretString>,
    /// PostgreSQL: most connections used for requests at once (one more listens for other
    /// nodes' notices).
    pub postgres_pool_size: usize,
}

impl Default for StorageConfig {
    fn default() -> Self {
        Self {
            backend: StorageBackend::default(),
            synchronous: "full".into(),
            batch_max: 256,
            commit_delay_micros: u64::try_from(crate::store::sqlite::DEFAULT_COMMIT_DELAY.as_micros())
                .unwrap_or(0),
            postgres_url: None,
            postgres_pool_size: DEFAULT_POSTGRES_POOL_SIZE,
        }
    }
}

/// Limits, each with a safe default.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Most logged-in connections. While every one is taken, new connections are refused at
    /// the QUIC handshake.
    pub max_connections: usize,
    /// Most connections not yet logged in (QUIC handshakes in progress and connections that
    /// have not authenticated), a pool apart from `max_connections`: a flood of connections
    /// that never log in fills this one, not the logged-in users' slots. More are refused at the
    /// handshake.
    pub max_unauthenticated_connections: usize,
    /// From this many connections not yet logged in, a new one from an address not yet proven
    /// is answered with a QUIC Retry: the client must show it receives at its address (one more
    /// round trip) before the relay keeps any state for it. 0 asks every connection.
    pub retry_unauthenticated_above: usize,
    /// Most connections (logged in or not) from one source address (an IPv4 address or an
    /// IPv6 /64). Many users behind one carrier NAT share an address: raise it for those.
    pub max_connections_per_address: usize,
    /// Most connections not yet logged in from one source address.
    pub max_unauthenticated_per_address: usize,
    /// Largest frame body accepted after login, bytes (at most hush-proto's ceiling). Before
    /// login the cap is `admission::PRE_LOGIN_MAX_FRAME_LEN`, what an `Authenticate` needs.
    pub max_frame_len: u32,
    /// Largest envelope accepted, bytes.
    pub max_envelope_len: usize,
    /// A connection silent this long is closed, seconds.
    pub idle_timeout_secs: u64,
    /// Time allowed from a connection's first packet (the QUIC handshake included) to a
    /// successful login, seconds; the connection is closed after it.
    pub login_timeout_secs: u64,
    /// Sustained requests per second per connection.
    pub requests_per_second: u32,
    /// Burst of requests per connection above the sustained rate.
    pub request_burst: u32,
    /// Bundle fetches per minute per requesting mailbox; also the rate of its device-list
    /// publishes and fetches together (a separate budget, so the account directory cannot be
    /// read faster than bundles).
    pub bundle_fetches_per_minute: u32,
    /// Bundle fetches per minute of one target mailbox, across all requesters.
    pub bundle_fetches_per_target_per_minute: u32,
    /// Length of the window of the stranger budgets, seconds (default a day).
    pub stranger_window_secs: u64,
    /// Bundle fetches of one target per window from all requesters without its access key
    /// together (each may claim a one-time prekey).
    pub stranger_fetches_per_target: u32,
    /// Messages stored for one mailbox per window from all senders without its access key
    /// together; past it they are refused and the mailbox's quota is untouched.
    pub stranger_messages_per_mailbox: u32,
    /// Envelope bytes stored for one mailbox per window from senders without its access key.
    pub stranger_bytes_per_mailbox: u64,
    /// Most messages queued per mailbox.
    pub mailbox_max_messages: u64,
    /// Most envelope bytes queued per mailbox.
    pub mailbox_max_bytes: u64,
    /// Messages older than this are deleted, seconds (default 30 days).
    pub message_ttl_secs: u64,
    /// How often expired messages are purged, seconds.
    pub purge_interval_secs: u64,
    /// Most one-time prekeys held per mailbox.
    pub max_one_time_prekeys: u32,
    /// Most one-time KEM prekeys held per mailbox. Each is about 1.6 KB, so the default 200
    /// (what a client keeps, two uploads of 100) is 330 KB of a mailbox's storage.
    pub max_kem_one_time_prekeys: u32,
    /// Below this many one-time prekeys the owner is told to upload more (default
    /// [`hush_proto::PREKEY_LOW_THRESHOLD`], the number clients top up below).
    pub prekey_low_threshold: u32,
    /// How long graceful shutdown waits for connections to finish, seconds.
    pub shutdown_grace_secs: u64,
    /// Most envelope bytes one `SendShared` may have the relay store, over all its recipients
    /// (each stores the body with its part): bounds what one small upload makes the relay write.
    pub max_shared_fanout_bytes: u64,
    /// Sustained ephemeral sends (typing, presence) per second per connection, apart from the
    /// request rate: each is a push to someone else that nothing stores.
    pub ephemeral_per_second: u32,
    /// Burst of ephemeral sends per connection above the sustained rate.
    pub ephemeral_burst: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_connections: 20_000,
            max_unauthenticated_connections: 2_000,
            retry_unauthenticated_above: 500,
            max_connections_per_address: 1_000,
            max_unauthenticated_per_address: 64,
            max_frame_len: hush_proto::MAX_FRAME_LEN,
            max_envelope_len: 256 * 1024,
            idle_timeout_secs: 120,
            login_timeout_secs: 5,
            requests_per_second: 500,
            request_burst: 1000,
            bundle_fetches_per_minute: 60,
            bundle_fetches_per_target_per_minute: 120,
            // A day's stranger budget is a small slice of the quota: 200 messages and 2 MiB,
            // so over the 30-day TTL strangers alone fill at most 12% of the default quota's
            // messages; 20 fetches is a day's worth of new conversations and a fifth of the
            // one-time prekeys the client keeps uploaded.
            stranger_window_secs: 24 * 60 * 60,
            stranger_fetches_per_target: 20,
            stranger_messages_per_mailbox: 200,
            stranger_bytes_per_mailbox: 2 * 1024 * 1024,
            mailbox_max_messages: 50_000,
            mailbox_max_bytes: 512 * 1024 * 1024,
            message_ttl_secs: 30 * 24 * 60 * 60,
            purge_interval_secs: 300,
            max_one_time_prekeys: 500,
            max_kem_one_time_prekeys: 200,
            prekey_low_threshold: hush_proto::PREKEY_LOW_THRESHOLD,
            shutdown_grace_secs: 10,
            // 1,000 recipients of a 8 KiB message, or 32 of the largest envelope.
            max_shared_fanout_bytes: 8 * 1024 * 1024,
            // Typing starts and stops a few times a second at most; 20 a second with a burst of
            // 100 covers a typing notice to each of 100 conversations at once.
            ephemeral_per_second: 20,
            ephemeral_burst: 100,
        }
    }
}

impl Limits {
    /// Idle timeout as a duration.
    pub fn idle_timeout(&self) -> Duration {
        Duration::from_secs(self.idle_timeout_secs)
    }
}

impl Config {
    /// Parses a TOML configuration file's text.
    pub fn from_toml(text: &str) -> Result<Self, toml::de::Error> {
        toml::from_str(text)
    }
}

#[cfg(test)]
mod tests {
    use secrecy::ExposeSecret;

    use super::*;

    #[test]
    fn storage_settings_parse_and_the_database_url_stays_out_of_debug_output() {
        let config = Config::from_toml(
            r#"
            [storage]
            backend = "postgres"
            postgres_url = "postgresql://hush:hunter2@db.internal/hush"
            postgres_pool_size = 3
            "#,
        )
        .unwrap();
        assert_eq!(config.storage.backend, StorageBackend::Postgres);
        assert_eq!(config.storage.postgres_pool_size, 3);
        assert_eq!(
            config
                .storage
                .postgres_url
                .as_ref()
                .map(|url| url.expose_secret()),
            Some("postgresql://hush:hunter2@db.internal/hush")
        );
        assert!(!format!("{config:?}").contains("hunter2"));

        let default = Config::default();
        assert_eq!(default.storage.backend, StorageBackend::Sqlite);
        assert_eq!(default.storage.postgres_pool_size, DEFAULT_POSTGRES_POOL_SIZE);
        assert!(Config::from_toml("[storage]\nbackend = \"mysql\"").is_err());
    }
}
