//! Certificate pinning: the relay is authenticated by the SHA-256 of its certificate, which the
//! client got out of band (the relay address), not by a certificate authority.

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use sha2::{Digest, Sha256};
use std::sync::OnceLock;

use subtle::ConstantTimeEq;

use crate::provider;

/// SHA-256 of a DER certificate, the value clients pin.
pub fn fingerprint(cert: &CertificateDer<'_>) -> [u8; 32] {
    Sha256::digest(cert.as_ref()).into()
}

/// A verifier that accepts exactly the certificate whose SHA-256 is pinned, and checks the
/// handshake signature with that certificate's key. The name, chain, validity period and OCSP
/// are not looked at: the operator's certificate may be self-signed and long-lived, and the pin
/// says all there is to trust. [`client_config`](crate::client_config) uses it with TLS 1.3 only.
#[derive(Debug)]
pub struct PinnedCertVerifier {
    pin: [u8; 32],
    algorithms: WebPkiSupportedAlgorithms,
    /// The fingerprint of the first certificate refused, so a caller can say what the relay
    /// presented instead of a TLS alert.
    refused: OnceLock<[u8; 32]>,
}

impl PinnedCertVerifier {
    /// Pins `fingerprint`.
    pub fn new(fingerprint: [u8; 32]) -> Self {
        Self {
            pin: fingerprint,
            algorithms: provider().signature_verification_algorithms,
            refused: OnceLock::new(),
        }
    }

    /// The fingerprint of the first certificate this verifier refused, if it refused one.
    pub fn refused(&self) -> Option<[u8; 32]> {
        self.refused.get().copied()
    }
}

impl ServerCertVerifier for PinnedCertVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let presented = fingerprint(end_entity);
        if bool::from(presented.ct_eq(&self.pin)) {
            Ok(ServerCertVerified::assertion())
        } else {
            let _ = self.refused.set(presented);
            Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::ApplicationVerificationFailure,
            ))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The verifier only hashes the end-entity certificate, so any bytes stand in for one here;
    // the relay's tests do real handshakes against a pinned and a wrongly pinned relay.
    fn cert(bytes: &'static [u8]) -> CertificateDer<'static> {
        CertificateDer::from(bytes)
    }

    fn verify(verifier: &PinnedCertVerifier, cert: &CertificateDer<'_>) -> Result<(), rustls::Error> {
        let name = ServerName::try_from(crate::SERVER_NAME).unwrap();
        verifier
            .verify_server_cert(cert, &[], &name, &[], UnixTime::now())
            .map(|_| ())
    }

    #[test]
    fn fingerprint_is_the_sha256_of_the_der() {
        let digest: [u8; 32] = Sha256::digest(b"certificate").into();
        assert_eq!(fingerprint(&cert(b"certificate")), digest);
    }

    #[test]
    fn the_pinned_certificate_is_accepted() {
        let pinned = cert(b"the relay's certificate");
        let verifier = PinnedCertVerifier::new(fingerprint(&pinned));
        assert!(verify(&verifier, &pinned).is_ok());
    }

    #[test]
    fn any_other_certificate_is_refused() {
        let verifier = PinnedCertVerifier::new(fingerprint(&cert(b"the relay's certificate")));
        let refused = Err(rustls::Error::InvalidCertificate(
            rustls::CertificateError::ApplicationVerificationFailure,
        ));
        assert_eq!(verify(&verifier, &cert(b"another certificate")), refused);
        assert_eq!(verify(&verifier, &cert(b"")), refused);
        // The pin is compared with the certificate's digest, never with the certificate itself.
        let verifier = PinnedCertVerifier::new([0; 32]);
        assert_eq!(verify(&verifier, &cert(&[0; 32])), refused);
    }

    #[test]
    fn signature_schemes_come_from_the_provider() {
        let verifier = PinnedCertVerifier::new([0; 32]);
        assert_eq!(
            verifier.supported_verify_schemes(),
            provider().signature_verification_algorithms.supported_schemes()
        );
    }
}
