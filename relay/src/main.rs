//! `hush-relay`: run the relay. With no arguments it listens on 0.0.0.0:7443, keeps its data in
//! ./hush-relay-data and serves metrics on 127.0.0.1:9464. Two subcommands manage the
//! registration authority of a relay that admits new users by token only.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};
use hush_relay::config::StorageBackend;
use hush_relay::registration::{RegistrationAuthority, parse_identity};
use hush_relay::{Config, Relay};
use secrecy::SecretString;

/// Hush relay: prekey directory and store-and-forward of end-to-end encrypted messages.
#[derive(Debug, Parser)]
#[command(version, about, args_conflicts_with_subcommands = true)]
struct Args {
    #[command(subcommand)]
    command: Option<Command>,
    /// TOML configuration file (flags and environment variables override it).
    #[arg(long, short, env = "HUSH_RELAY_CONFIG")]
    config: Option<PathBuf>,
    /// QUIC listen address.
    #[arg(long, env = "HUSH_RELAY_LISTEN")]
    listen: Option<SocketAddr>,
    /// Data directory (database and self-signed certificate).
    #[arg(long, env = "HUSH_RELAY_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// Metrics listen address, or "off".
    #[arg(long, env = "HUSH_RELAY_METRICS_LISTEN")]
    metrics_listen: Option<String>,
    /// Storage backend (`storage.backend`).
    #[arg(long, env = "HUSH_RELAY_STORAGE_BACKEND", value_enum)]
    storage_backend: Option<StorageBackend>,
    /// PostgreSQL database URL (`storage.postgres_url`). It may hold a password: prefer the
    /// environment variable or the config file over the flag, which other local users can read
    /// in the process list.
    #[arg(long, env = "HUSH_RELAY_POSTGRES_URL", hide_env_values = true, value_parser = secret)]
    postgres_url: Option<SecretString>,
    /// Most PostgreSQL connections used for requests (`storage.postgres_pool_size`).
    #[arg(long, env = "HUSH_RELAY_POSTGRES_POOL_SIZE")]
    postgres_pool_size: Option<usize>,
    /// Log filter (tracing `EnvFilter` syntax), e.g. "info" or "hush_relay=debug".
    #[arg(long, env = "HUSH_RELAY_LOG", default_value = "info")]
    log: String,
}

/// Registration by token: make the authority key once, put its public key in the relay's
/// `registration_key`, then issue a token per user for the address they send you.
#[derive(Debug, Subcommand)]
enum Command {
    /// Create the registration authority's key file (or read an existing one) and print the
    /// `registration_key` line for the relay's configuration. Keep the file off the relay.
    RegistrationAuthority {
        /// The authority's key file (created readable by you only).
        #[arg(long)]
        key_file: PathBuf,
    },
    /// Print a registration token for one user's address, to hand to them
    /// (`hush register --token <token>`).
    RegistrationToken {
        /// The authority's key file.
        #[arg(long)]
        key_file: PathBuf,
        /// The user's address (hush:…) or hex identity key.
        #[arg(long)]
        address: String,
        /// How long the token may be used to register, in hours.
        #[arg(long, default_value_t = 7 * 24)]
        valid_hours: u64,
    },
}

/// Keeps a flag's value (a database URL with its password) out of `Debug` output from the start.
fn secret(text: &str) -> Result<SecretString, std::convert::Infallible> {
    Ok(text.into())
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if let Some(command) = args.command {
        return registration(command);
    }
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_new(&args.log).context("bad --log filter")?)
        .init();
    let mut config = match &args.config {
        Some(path) => {
            let text =
                std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
            Config::from_toml(&text).with_context(|| format!("parsing {}", path.display()))?
        }
        None => Config::default(),
    };
    if let Some(listen) = args.listen {
        config.listen = listen;
    }
    if let Some(data_dir) = args.data_dir {
        config.data_dir = data_dir;
    }
    if let Some(metrics) = args.metrics_listen {
        config.metrics_listen = match metrics.as_str() {
            "off" | "none" => None,
            addr => Some(
                addr.parse()
                    .with_context(|| format!("bad --metrics-listen {addr:?}"))?,
            ),
        };
    }
    if let Some(backend) = args.storage_backend {
        config.storage.backend = backend;
    }
    if let Some(url) = args.postgres_url {
        config.storage.postgres_url = Some(url);
    }
    if let Some(size) = args.postgres_pool_size {
        config.storage.postgres_pool_size = size;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async move {
        let relay = Relay::bind(config.clone()).await.context("starting the relay")?;
        let addr = relay.local_addr()?;
        let fingerprint = hush_relay::tls::to_hex(&relay.fingerprint());
        tracing::info!(
            %addr,
            data_dir = %config.data_dir.display(),
            storage = ?config.storage.backend,
            "hush-relay listening"
        );
        println!("hush-relay listening on {addr}");
        println!("certificate fingerprint (SHA-256): {fingerprint}");
        // The first line is for clients on this machine; a relay bound to every interface
        // also names the one other machines reach it through.
        for (index, client_addr) in hush_relay::advertise::client_addresses(addr).iter().enumerate() {
            let whom = if index == 0 {
                "clients"
            } else {
                "clients on other machines"
            };
            println!("relay address for {whom}: {client_addr}#{fingerprint}");
        }
        if let Some(metrics) = relay.metrics_addr() {
            println!("metrics: http://{metrics}/metrics");
        }
        relay.run(shutdown_signal()).await;
        anyhow::Ok(())
    })
}

fn registration(command: Command) -> anyhow::Result<()> {
    match command {
        Command::RegistrationAuthority { key_file } => {
            let (authority, created) = RegistrationAuthority::load_or_create(&key_file)?;
            let verb = if created { "created" } else { "read" };
            eprintln!("{verb} {}", key_file.display());
            println!(
                "registration_key = \"{}\"",
                hush_relay::tls::to_hex(&authority.public_key())
            );
        }
        Command::RegistrationToken {
            key_file,
            address,
            valid_hours,
        } => {
            if !key_file.exists() {
                anyhow::bail!(
                    "no key file at {} (create it with `hush-relay registration-authority`)",
                    key_file.display()
                );
            }
            let (authority, _) = RegistrationAuthority::load_or_create(&key_file)?;
            let identity = parse_identity(&address)?;
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .context("the system clock is before 1970")?
                .as_secs();
            let expires_at = now.saturating_add(valid_hours.saturating_mul(3600));
            println!("{}", authority.issue(&identity, expires_at));
        }
    }
    Ok(())
}

/// SIGINT or SIGTERM.
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(term) => term,
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
                return;
            }
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
    tracing::info!("shutdown signal received");
}
