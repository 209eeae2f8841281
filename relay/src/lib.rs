//! # hush-relay
//!
//! The relay operators run: a prekey directory and durable store-and-forward of opaque
//! ciphertext over QUIC, with the embedded SQLite store by default. It never sees plaintext and
//! stores no sender. Build and run are separate, so tests bind port 0:
//!
//! ```no_run
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! use hush_relay::{Config, Relay};
//!
//! let config = Config { listen: "127.0.0.1:0".parse()?, metrics_listen: None, ..Config::default() };
//! let relay = Relay::bind(config).await?;
//! println!("listening on {} fingerprint {}", relay.local_addr()?, hush_relay::tls::to_hex(&relay.fingerprint()));
//! relay.run(async { let _ = tokio::signal::ctrl_c().await; }).await;
//! # Ok(())
//! # }
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod admission;
pub mod advertise;
mod background;
mod budget;
// The relay client of the relay's own tests and hush-bench.
#[cfg(feature = "testing")]
pub mod client;
pub mod clock;
mod cmd;
pub mod config;
pub mod connection;
mod delivery;
#[cfg(feature = "fuzzing")]
pub mod fuzzing;
mod hub;
mod limits;
pub mod metrics;
pub mod registration;
mod reports;
pub mod server;
mod session;
mod shared;
pub mod store;
pub mod tls;

pub use config::{Config, Limits};
pub use server::{ConfigError, Relay, RelayHandle, StartError};
