//! Trying a relay address before anything depends on it (`hush init`).

use crate::net::{NetError, RelayConnection};
use crate::relay_address::RelayAddress;

/// Connects to `relay`, checks its certificate against the fingerprint the address pins, and
/// closes again. Nothing is sent (no login), so no identity is needed yet: a profile can be
/// created only once its relay is known to answer. Fails with [`NetError::Unreachable`] (or
/// [`NetError::Resolve`]) when nothing answers within the connect timeout (5 s), and with
/// [`NetError::CertificateMismatch`] when something answers with another certificate.
pub async fn check_relay(relay: &RelayAddress) -> Result<(), NetError> {
    let connection = RelayConnection::open(relay).await?;
    connection.close_and_wait().await;
    Ok(())
}
