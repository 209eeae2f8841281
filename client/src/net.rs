//! One QUIC connection to the relay: connect with the pinned certificate, log in, then a reader
//! task that forwards frames to the driver while the driver writes.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hush_crypto::{Account, SignaturePurpose};
use hush_proto::{
    ClientFrame, ErrorCode, Push, RegistrationToken, Request, RequestId, Response, ServerFrame, Signature,
    auth_transcript,
};
use tokio::sync::mpsc;

use crate::relay_address::RelayAddress;

/// How long connecting and logging in may take before the attempt counts as failed.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Keep-alive interval, well under the relay's idle timeout (120 s by default).
pub const KEEP_ALIVE: Duration = Duration::from_secs(15);
/// Idle timeout on our side: a relay silent this long is considered gone.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(45);
/// Longest wait at shutdown for the close to reach the relay.
pub const CLOSE_WAIT: Duration = Duration::from_secs(1);
/// The request id the driver uses for its own requests (login); the core never uses it.
pub const DRIVER_REQUEST_ID: RequestId = RequestId(u32::MAX);

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
        reason: String,
    },
    /// No answer within [`CONNECT_TIMEOUT`], or the connection could not be made.
    #[error("relay unreachable at {address}: {reason}")]
    Unreachable {
        /// Where we tried.
        address: String,
        /// Why.
        reason: String,
    },
    /// The relay refused the login.
    #[error("relay refused login: {0}")]
    LoginRefused(String),
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
    /// The relay broke the protocol.
    #[error("relay protocol error: {0}")]
    Protocol(String),
    /// The connection was lost.
    #[error("connection to relay lost")]
    Lost,
}

/// What the reader task forwards.
#[derive(Debug)]
pub(crate) enum Incoming {
    Frame(ServerFrame),
    Closed,
}

/// A logged-in connection.
#[derive(Debug)]
pub(crate) struct RelayConnection {
    endpoint: quinn::Endpoint,
    connection: quinn::Connection,
    send: quinn::SendStream,
    /// Forwarded frames; `Incoming::Closed` once the stream ends.
    pub(crate) incoming: mpsc::Receiver<Incoming>,
    /// One-time prekeys the relay holds for us, as reported at login.
    pub(crate) one_time_prekeys: u32,
    /// Pushes that arrived during login.
    pub(crate) early_pushes: Vec<Push>,
}

fn endpoint(fingerprint: [u8; 32], bind: SocketAddr) -> Result<quinn::Endpoint, NetError> {
    let setup = |reason: String| NetError::Protocol(format!("client setup: {reason}"));
    let mut transport = quinn::TransportConfig::default();
    transport.keep_alive_interval(Some(KEEP_ALIVE));
    transport.max_idle_timeout(Some(
        quinn::IdleTimeout::try_from(IDLE_TIMEOUT).map_err(|error| setup(error.to_string()))?,
    ));
    let mut config = hush_net::client_config(fingerprint).map_err(|error| setup(error.to_string()))?;
    config.transport_config(Arc::new(transport));
    let mut endpoint = quinn::Endpoint::client(bind).map_err(|error| setup(error.to_string()))?;
    endpoint.set_default_client_config(config);
    Ok(endpoint)
}

async fn resolve(relay: &RelayAddress) -> Result<SocketAddr, NetError> {
    let mut addresses = tokio::net::lookup_host((relay.host.as_str(), relay.port))
        .await
        .map_err(|error| NetError::Resolve {
            host: relay.host.clone(),
            reason: error.to_string(),
        })?;
    addresses.next().ok_or_else(|| NetError::Resolve {
        host: relay.host.clone(),
        reason: "no addresses".into(),
    })
}

impl RelayConnection {
    /// Connects and logs in as `account`, within [`CONNECT_TIMEOUT`]; `registration` goes with
    /// the login, for a relay that registers new addresses by token only.
    pub(crate) async fn open(
        relay: &RelayAddress,
        account: &Account,
        registration: Option<&RegistrationToken>,
    ) -> Result<Self, NetError> {
        let address = resolve(relay).await?;
        let unreachable = |reason: String| NetError::Unreachable {
            address: relay.to_string(),
            reason,
        };
        match tokio::time::timeout(
            CONNECT_TIMEOUT,
            Self::open_at(address, relay.fingerprint, account, registration),
        )
        .await
        {
            Ok(result) => result,
            Err(_) => Err(unreachable(format!(
                "no answer within {} s",
                CONNECT_TIMEOUT.as_secs()
            ))),
        }
    }

    async fn open_at(
        address: SocketAddr,
        fingerprint: [u8; 32],
        account: &Account,
        registration: Option<&RegistrationToken>,
    ) -> Result<Self, NetError> {
        let unreachable = |reason: String| NetError::Unreachable {
            address: address.to_string(),
            reason,
        };
        let bind: SocketAddr = if address.is_ipv4() {
            SocketAddr::from(([0, 0, 0, 0], 0))
        } else {
            SocketAddr::from(([0u16; 8], 0))
        };
        let endpoint = endpoint(fingerprint, bind)?;
        let connection = endpoint
            .connect(address, hush_net::SERVER_NAME)
            .map_err(|error| unreachable(error.to_string()))?
            .await
            .map_err(|error| unreachable(error.to_string()))?;
        let (mut send, mut recv) = connection
            .open_bi()
            .await
            .map_err(|error| unreachable(error.to_string()))?;
        let mut exporter = [0u8; 32];
        connection
            .export_keying_material(&mut exporter, hush_net::EXPORTER_LABEL, b"")
            .map_err(|_| NetError::Protocol("TLS exporter unavailable".into()))?;
        // The stream exists for the relay once we write on it: a ping opens it; the challenge
        // comes first, then the pong.
        write_frame(&mut send, DRIVER_REQUEST_ID, Request::Ping).await?;
        let mut early_pushes = Vec::new();
        let mut challenge = None;
        loop {
            match read_frame(&mut recv).await? {
                ServerFrame::Push(Push::Challenge { nonce }) => challenge = Some(nonce),
                ServerFrame::Push(push) => early_pushes.push(push),
                ServerFrame::Response { id, .. } if id == DRIVER_REQUEST_ID => break,
                ServerFrame::Response { .. } => return Err(NetError::Protocol("unexpected response".into())),
            }
        }
        let challenge = challenge.ok_or_else(|| NetError::Protocol("no login challenge".into()))?;
        let identity_key = account.identity_key().to_bytes();
        let signature = account.sign(
            SignaturePurpose::RelayLogin,
            &auth_transcript(&challenge, &exporter, &identity_key),
        );
        let login = Request::Authenticate {
            identity_key,
            signature: Signature(signature),
            registration: registration.cloned(),
        };
        write_frame(&mut send, DRIVER_REQUEST_ID, login).await?;
        let one_time_prekeys = loop {
            match read_frame(&mut recv).await? {
                ServerFrame::Response { id, result } if id == DRIVER_REQUEST_ID => match result {
                    Ok(Response::Authenticated { one_time_prekeys, .. }) => break one_time_prekeys,
                    Ok(_) => return Err(NetError::Protocol("unexpected login answer".into())),
                    Err(error) if error.code == ErrorCode::Unauthorized => {
                        // Our signature is good, so the mailbox is unknown to a relay that
                        // wants a token for it.
                        return Err(match registration {
                            None => NetError::RegistrationTokenRequired,
                            Some(token) => NetError::RegistrationTokenRefused {
                                expired: token.expires_at < crate::driver::now_ms() / 1000,
                            },
                        });
                    }
                    Err(error) => {
                        return Err(NetError::LoginRefused(format!(
                            "{:?}: {}",
                            error.code, error.detail
                        )));
                    }
                },
                ServerFrame::Push(push) => early_pushes.push(push),
                ServerFrame::Response { .. } => return Err(NetError::Protocol("unexpected response".into())),
            }
        };
        let (sender, incoming) = mpsc::channel(1024);
        tokio::spawn(read_loop(recv, sender));
        Ok(Self {
            endpoint,
            connection,
            send,
            incoming,
            one_time_prekeys,
            early_pushes,
        })
    }

    /// Writes one request.
    pub(crate) async fn write(&mut self, frame: &ClientFrame) -> Result<(), NetError> {
        hush_net::write_client_frame(&mut self.send, frame)
            .await
            .map_err(NetError::from)
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

async fn write_frame(send: &mut quinn::SendStream, id: RequestId, request: Request) -> Result<(), NetError> {
    hush_net::write_client_frame(send, &ClientFrame { id, request })
        .await
        .map_err(NetError::from)
}

async fn read_frame(recv: &mut quinn::RecvStream) -> Result<ServerFrame, NetError> {
    hush_net::read_server_frame(recv).await.map_err(NetError::from)
}

impl From<hush_net::StreamError> for NetError {
    fn from(error: hush_net::StreamError) -> Self {
        match error {
            hush_net::StreamError::Frame(error) => Self::Protocol(error.to_string()),
            _ => Self::Lost,
        }
    }
}

async fn read_loop(mut recv: quinn::RecvStream, sender: mpsc::Sender<Incoming>) {
    loop {
        match read_frame(&mut recv).await {
            Ok(frame) => {
                if sender.send(Incoming::Frame(frame)).await.is_err() {
                    return;
                }
            }
            Err(_) => {
                let _ = sender.send(Incoming::Closed).await;
                return;
            }
        }
    }
}
