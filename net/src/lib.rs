//! # hush-net
//!
//! The transport pieces the relay and the client share: the rustls crypto [`provider`], the
//! [`PinnedCertVerifier`] that trusts exactly the relay certificate whose SHA-256
//! [`fingerprint`] is pinned, the QUIC [`client_config`] built on it (TLS 1.3 only, ALPN
//! [`hush_proto::ALPN`]), the [`SERVER_NAME`] and [`EXPORTER_LABEL`] both sides agree on, and
//! the hex form of fingerprints ([`to_hex`], [`from_hex`]). No relay server, certificate
//! generation or async runtime comes with it.
//!
//! ```
//! // The fingerprint after '#' in the address the relay prints at start-up.
//! let printed = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
//! let pin: [u8; 32] = hush_net::from_hex(printed).expect("64 hex digits");
//! assert_eq!(hush_net::to_hex(&pin), printed);
//!
//! // Ready for `quinn::Endpoint::set_default_client_config`; connect with `hush_net::SERVER_NAME`.
//! let config = hush_net::client_config(pin)?;
//! # drop(config);
//! # Ok::<(), hush_net::ClientConfigError>(())
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod config;
mod frames;
mod hex;
mod pin;

pub use config::{ClientConfigError, client_config, client_config_with, provider};
pub use frames::{StreamError, read_frame, read_server_frame, write_client_frame};
pub use hex::{from_hex, to_hex};
pub use pin::{PinnedCertVerifier, fingerprint};

/// Server name in the relay's self-signed certificate and the one clients connect with (the pin,
/// not the name, is what authenticates the relay).
pub const SERVER_NAME: &str = "hush-relay";

/// Label of the TLS exporter value the login signature binds, so a signature made for one
/// connection cannot be replayed on another.
pub const EXPORTER_LABEL: &[u8] = b"EXPORTER-hush-auth";
