//! One QUIC connection to the relay: connect with the pinned certificate and open the stream,
//! then a reader task forwards frames to the driver while the driver writes (the core logs in).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hush_client_core::LoginError;
use hush_proto::{ClientFrame, ErrorResponse, FrameError, ServerFrame};
use tokio::sync::mpsc;

use crate::relay_address::RelayAddress;

/// How long connecting may take before the attempt counts as failed; logging in then has as
/// long again.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Keep-alive interval: the relay answers each, so a live relay is never silent for longer.
pub const KEEP_ALIVE: Duration = Duration::from_secs(2);
/// Idle timeout on our side: a relay silent this long (three keep-alives unanswered) is gone.
/// The timer restarts at our first keep-alive after the relay's last packet, so a dead relay
/// shows offline within `KEEP_ALIVE + IDLE_TIMEOUT` (8 s).
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(6);
/// Longest wait at shutdown for the close to reach the relay.
pub const CLOSE_WAIT: Duration = Duration::from_secs(1);

/// Why talking to the relay failed.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum NetError {
    /// The host name did not resolve.
    #[error("cannot resolve relay host {host}: {reason}")]
    Resolve {
        /// The host.
        host: String,
        /// Why.
        #[source]
        reason: ResolveError,
    },
    /// No answer within the connect timeout (5 s), or the connection could not be made.
    #[error("relay unreachable at {address}: {reason}")]
    Unreachable {
        /// Where we tried.
        address: String,
        /// Why.
        #[source]
        reason: UnreachableReason,
    },
    /// The relay answered with a certificate other than the one the relay address pins. This
    /// may be an attack (someone between us and the relay), or the relay was reinstalled with a
    /// new certificate; nothing was sent to it.
    #[error(
        "the relay at {address} presented a certificate with fingerprint {} but the profile pins {}: \
         this may be an attack, or the relay was reinstalled with a new certificate. Ask the \
         relay's operator for its current address and check the fingerprint before using it",
        hush_net::to_hex(.presented),
        hush_net::to_hex(.pinned)
    )]
    CertificateMismatch {
        /// Where we connected.
        address: String,
        /// The fingerprint in the relay address.
        pinned: [u8; 32],
        /// The fingerprint of the certificate the relay presented.
        presented: [u8; 32],
    },
    /// The QUIC endpoint could not be set up.
    #[error("client setup: {0}")]
    Setup(#[source] Arc<SetupError>),
    /// The relay refused the login.
    #[error("relay refused login: {:?}: {}", .0.code, .0.detail)]
    LoginRefused(ErrorResponse),
    /// The relay admits new addresses only with a registration token from its operator, and
    /// none was given (see [`crate::Client::set_registration_token`]). A relay answers a
    /// correctly signed login `Unauthorized` only when the mailbox is not registered (never, or
    /// deleted) and it requires a token.
    #[error(
        "the relay requires a registration token to register this address: send the address to the relay's operator for one"
    )]
    RegistrationTokenRequired,
    /// The relay refused the registration token given: it expired, was issued for another
    /// address, or is not signed by the relay's registration authority (the relay does not say
    /// which).
    #[error("the relay refused the registration token{}", if *.expired { " (it has expired)" } else { " (issued for another address or by another authority)" })]
    RegistrationTokenRefused {
        /// Whether the token's expiry had passed by our clock.
        expired: bool,
    },
    /// The TLS session offers no keying-material exporter to bind the login to.
    #[error("relay protocol error: TLS exporter unavailable")]
    Exporter,
    /// The relay sent bytes that are not a frame.
    #[error("relay protocol error: {0}")]
    Frame(#[from] FrameError),
    /// The relay broke the login handshake.
    #[error("relay protocol error: {0}")]
    Handshake(#[source] LoginError),
    /// The connection was lost.
    #[error("connection to relay lost")]
    Lost,
}

/// Why a relay host name did not resolve.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum ResolveError {
    /// The lookup failed.
    #[error(transparent)]
    Lookup(Arc<std::io::Error>),
    /// The lookup found nothing.
    #[error("no addresses")]
    NoAddresses,
}

/// Why the relay could not be reached.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum UnreachableReason {
    /// The connection could not be started.
    #[error(transparent)]
    Connect(#[from] quinn::ConnectError),
    /// The connection failed or was closed.
    #[error(transparent)]
    Connection(#[from] quinn::ConnectionError),
    /// No answer within the connect timeout (5 s).
    #[error("no answer within {} s", CONNECT_TIMEOUT.as_secs())]
    Timeout,
    /// The connection attempt's task ended without an answer.
    #[error("the connection attempt was cancelled")]
    Cancelled,
}

/// Why the QUIC endpoint could not be set up.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SetupError {
    /// The TLS or QUIC configuration.
    #[error(transparent)]
    Config(#[from] hush_net::ClientConfigError),
    /// The idle timeout does not fit QUIC's encoding.
    #[error("idle timeout: {0}")]
    IdleTimeout(#[from] quinn::VarIntBoundsExceeded),
    /// No local socket.
    #[error("cannot bind a local socket: {0}")]
    Bind(#[from] std::io::Error),
}

impl From<SetupError> for NetError {
    fn from(error: SetupError) -> Self {
        Self::Setup(Arc::new(error))
    }
}

impl From<LoginError> for NetError {
    fn from(error: LoginError) -> Self {
        match error {
            LoginError::Refused(refusal) => Self::LoginRefused(refusal),
            LoginError::RegistrationTokenRequired => Self::RegistrationTokenRequired,
            LoginError::RegistrationTokenRefused { expired } => Self::RegistrationTokenRefused { expired },
            other => Self::Handshake(other),
        }
    }
}

/// What the reader task forwards.
#[derive(Debug)]
pub(crate) enum Incoming {
    Frame(ServerFrame),
    /// The stream ended; why.
    Closed(NetError),
}

/// A connection whose stream is open; the core logs in over it.
#[derive(Debug)]
pub(crate) struct RelayConnection {
    endpoint: quinn::Endpoint,
    connection: quinn::Connection,
    send: quinn::SendStream,
    /// Forwarded frames; `Incoming::Closed` once the stream ends.
    pub(crate) incoming: mpsc::Receiver<Incoming>,
    /// The TLS exporter value the login signature binds.
    pub(crate) exporter: [u8; 32],
}

fn endpoint(
    verifier: Arc<hush_net::PinnedCertVerifier>,
    bind: SocketAddr,
) -> Result<quinn::Endpoint, SetupError> {
    let mut transport = quinn::TransportConfig::default();
    transport.keep_alive_interval(Some(KEEP_ALIVE));
    transport.max_idle_timeout(Some(quinn::IdleTimeout::try_from(IDLE_TIMEOUT)?));
    let mut config = hush_net::client_config_with(verifier)?;
    config.transport_config(Arc::new(transport));
    let mut endpoint = quinn::Endpoint::client(bind)?;
    endpoint.set_default_client_config(config);
    Ok(endpoint)
}

async fn resolve(relay: &RelayAddress) -> Result<SocketAddr, NetError> {
    let failed = |reason| NetError::Resolve {
        host: relay.host.clone(),
        reason,
    };
    let mut addresses = tokio::net::lookup_host((relay.host.as_str(), relay.port))
        .await
        .map_err(|error| failed(ResolveError::Lookup(Arc::new(error))))?;
    addresses.next().ok_or_else(|| failed(ResolveError::NoAddresses))
}

impl RelayConnection {
    /// Connects and opens the stream, within [`CONNECT_TIMEOUT`].
    pub(crate) async fn open(relay: &RelayAddress) -> Result<Self, NetError> {
        let address = resolve(relay).await?;
        match tokio::time::timeout(CONNECT_TIMEOUT, Self::open_at(address, relay.fingerprint)).await {
            Ok(result) => result,
            Err(_) => Err(NetError::Unreachable {
                address: relay.to_string(),
                reason: UnreachableReason::Timeout,
            }),
        }
    }

    async fn open_at(address: SocketAddr, fingerprint: [u8; 32]) -> Result<Self, NetError> {
        let unreachable = |reason: UnreachableReason| NetError::Unreachable {
            address: address.to_string(),
            reason,
        };
        let bind: SocketAddr = if address.is_ipv4() {
            SocketAddr::from(([0, 0, 0, 0], 0))
        } else {
            SocketAddr::from(([0u16; 8], 0))
        };
        let verifier = Arc::new(hush_net::PinnedCertVerifier::new(fingerprint));
        let endpoint = endpoint(Arc::clone(&verifier), bind)?;
        let connection = endpoint
            .connect(address, hush_net::SERVER_NAME)
            .map_err(|error| unreachable(error.into()))?
            .await
            .map_err(|error| match verifier.refused() {
                Some(presented) => NetError::CertificateMismatch {
                    address: address.to_string(),
                    pinned: fingerprint,
                    presented,
                },
                None => unreachable(error.into()),
            })?;
        let (send, recv) = connection
            .open_bi()
            .await
            .map_err(|error| unreachable(error.into()))?;
        let mut exporter = [0u8; 32];
        connection
            .export_keying_material(&mut exporter, hush_net::EXPORTER_LABEL, b"")
            .map_err(|_| NetError::Exporter)?;
        let (sender, incoming) = mpsc::channel(1024);
        tokio::spawn(read_loop(recv, sender));
        Ok(Self {
            endpoint,
            connection,
            send,
            incoming,
            exporter,
        })
    }

    /// Writes one request.
    pub(crate) async fn write(&mut self, frame: &ClientFrame) -> Result<(), NetError> {
        hush_net::write_client_frame(&mut self.send, frame)
            .await
            .map_err(NetError::from)
    }

    /// Moves the endpoint to a fresh socket on the same local address, another port: the
    /// relay sees the connection arrive from a new address and migrates it.
    pub(crate) fn rebind(&self) -> Result<(), SetupError> {
        let local = self.endpoint.local_addr()?;
        let socket = std::net::UdpSocket::bind(SocketAddr::new(local.ip(), 0))?;
        self.endpoint.rebind(socket)?;
        Ok(())
    }

    /// Closes the connection politely.
    pub(crate) fn close(&self) {
        self.connection.close(quinn::VarInt::from_u32(0), b"bye");
    }

    /// Closes and waits (briefly) until the relay has been told, so it does not keep a dead
    /// connection until its idle timeout.
    pub(crate) async fn close_and_wait(self) {
        self.close();
        let _ = tokio::time::timeout(CLOSE_WAIT, self.endpoint.wait_idle()).await;
    }
}

impl From<hush_net::StreamError> for NetError {
    fn from(error: hush_net::StreamError) -> Self {
        match error {
            hush_net::StreamError::Frame(error) => Self::Frame(error),
            _ => Self::Lost,
        }
    }
}

async fn read_loop(mut recv: quinn::RecvStream, sender: mpsc::Sender<Incoming>) {
    loop {
        match hush_net::read_server_frame(&mut recv).await {
            Ok(frame) => {
                if sender.send(Incoming::Frame(frame)).await.is_err() {
                    return;
                }
            }
            Err(error) => {
                let _ = sender.send(Incoming::Closed(error.into())).await;
                return;
            }
        }
    }
}
