//! The rustls provider both sides use and the QUIC client configuration that pins the relay.

use std::sync::Arc;

use quinn::crypto::rustls::{NoInitialCipherSuite, QuicClientConfig};
use rustls::crypto::CryptoProvider;

use crate::PinnedCertVerifier;

/// The crypto provider the relay and its clients use (ring: builds without cmake).
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Why [`client_config`] could not build a configuration. Neither happens with [`provider`];
/// they are reported rather than assumed away.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientConfigError {
    /// rustls refused the configuration (the provider offers no TLS 1.3 cipher suite).
    #[error("TLS 1.3 client configuration: {0}")]
    Tls(#[from] rustls::Error),
    /// The TLS configuration has no cipher suite QUIC can protect its initial packets with.
    #[error("QUIC client configuration: {0}")]
    Quic(#[from] NoInitialCipherSuite),
}

/// A QUIC client configuration that speaks Hush (ALPN [`hush_proto::ALPN`], TLS 1.3 only) and
/// trusts exactly the relay certificate whose SHA-256 is `fingerprint`. Connect with
/// [`SERVER_NAME`](crate::SERVER_NAME). Transport settings are quinn's defaults; callers that
/// want keep-alives or another idle timeout set them with `transport_config`.
pub fn client_config(fingerprint: [u8; 32]) -> Result<quinn::ClientConfig, ClientConfigError> {
    client_config_with(Arc::new(PinnedCertVerifier::new(fingerprint)))
}

/// [`client_config`] with the caller's verifier, which it can ask afterwards what certificate
/// a refused relay presented ([`PinnedCertVerifier::refused`]).
pub fn client_config_with(
    verifier: Arc<PinnedCertVerifier>,
) -> Result<quinn::ClientConfig, ClientConfigError> {
    let mut crypto = rustls::ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    crypto.alpn_protocols = vec![hush_proto::ALPN.to_vec()];
    let crypto = QuicClientConfig::try_from(crypto)?;
    Ok(quinn::ClientConfig::new(Arc::new(crypto)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_client_config_builds_with_the_provider() {
        assert!(client_config([7; 32]).is_ok());
    }
}
