//! A minimal relay client over real QUIC: connect with a pinned certificate, log in, make
//! requests, receive pushes. The relay's tests and `hush-bench` use it; the app-facing client
//! crate builds on the same protocol.

use std::collections::VecDeque;
use std::net::SocketAddr;

use hush_crypto::{Account, SignaturePurpose};
use hush_net::{EXPORTER_LABEL, SERVER_NAME};
use hush_proto::{
    ClientFrame, Delivery, ErrorResponse, Push, RegistrationToken, Request, RequestId, Response, ServerFrame,
    Signature, auth_transcript,
};

impl From<hush_net::StreamError> for ClientError {
    fn from(error: hush_net::StreamError) -> Self {
        match error {
            hush_net::StreamError::Frame(error) => Self::Frame(error),
            other => Self::Stream(other),
        }
    }
}

/// Why a client operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The QUIC client configuration could not be built.
    #[error("client setup: {0}")]
    Setup(#[from] hush_net::ClientConfigError),
    /// The client's UDP socket could not be bound.
    #[error("binding the client socket: {0}")]
    Bind(#[source] std::io::Error),
    /// The connection offered no TLS exporter value to bind the login to.
    #[error("TLS exporter unavailable")]
    Exporter,
    /// The connection could not be made or was lost.
    #[error("connection: {0}")]
    Connection(#[from] quinn::ConnectionError),
    /// Connecting failed before the handshake.
    #[error("connect: {0}")]
    Connect(#[from] quinn::ConnectError),
    /// The stream failed or ended.
    #[error("stream: {0}")]
    Stream(#[source] hush_net::StreamError),
    /// The relay sent something that is not a valid frame.
    #[error("bad frame from relay: {0}")]
    Frame(#[from] hush_proto::FrameError),
    /// The relay refused the request.
    #[error("refused: {0:?}")]
    Refused(ErrorResponse),
    /// The relay answered something unexpected.
    #[error("unexpected answer from relay")]
    Unexpected,
}

/// A QUIC client endpoint that trusts exactly the relay certificate with `fingerprint`. Many
/// connections can share one endpoint.
pub fn client_endpoint(fingerprint: [u8; 32]) -> Result<quinn::Endpoint, ClientError> {
    let config = hush_net::client_config(fingerprint)?;
    let mut endpoint =
        quinn::Endpoint::client(SocketAddr::from(([127, 0, 0, 1], 0))).map_err(ClientError::Bind)?;
    endpoint.set_default_client_config(config);
    Ok(endpoint)
}

/// One connection to a relay.
#[derive(Debug)]
pub struct RelayClient {
    connection: quinn::Connection,
    send: quinn::SendStream,
    recv: quinn::RecvStream,
    next_id: u32,
    pushes: VecDeque<Push>,
    challenge: [u8; 32],
    exporter: [u8; 32],
}

impl RelayClient {
    /// Connects on a new endpoint pinned to `fingerprint`.
    pub async fn connect(addr: SocketAddr, fingerprint: [u8; 32]) -> Result<Self, ClientError> {
        Self::connect_on(&client_endpoint(fingerprint)?, addr).await
    }

    /// Connects on an existing endpoint and reads the login challenge.
    pub async fn connect_on(endpoint: &quinn::Endpoint, addr: SocketAddr) -> Result<Self, ClientError> {
        let connection = endpoint.connect(addr, SERVER_NAME)?.await?;
        let (send, recv) = connection.open_bi().await?;
        let mut exporter = [0u8; 32];
        connection
            .export_keying_material(&mut exporter, EXPORTER_LABEL, b"")
            .map_err(|_| ClientError::Exporter)?;
        let mut client = Self {
            connection,
            send,
            recv,
            next_id: 1,
            pushes: VecDeque::new(),
            challenge: [0; 32],
            exporter,
        };
        // The stream exists for the relay once we write on it; a ping opens it and is answered
        // after the challenge.
        let id = client.write_request(Request::Ping).await?;
        loop {
            match client.read_frame().await? {
                ServerFrame::Push(Push::Challenge { nonce }) => client.challenge = nonce,
                ServerFrame::Push(push) => client.pushes.push_back(push),
                ServerFrame::Response { id: answered, .. } if answered == id => break,
                ServerFrame::Response { .. } => return Err(ClientError::Unexpected),
            }
        }
        Ok(client)
    }

    /// Logs in as `account`'s identity.
    pub async fn login(
        &mut self,
        account: &Account,
        registration: Option<RegistrationToken>,
    ) -> Result<Response, ClientError> {
        let identity_key = account.identity_key().to_bytes();
        let signature = account.sign(
            SignaturePurpose::RelayLogin,
            &auth_transcript(&self.challenge, &self.exporter, &identity_key),
        );
        self.request(Request::Authenticate {
            identity_key,
            signature: Signature(signature),
            registration,
        })
        .await
    }

    /// Sends a request and waits for its answer; pushes that arrive meanwhile are kept.
    pub async fn request(&mut self, request: Request) -> Result<Response, ClientError> {
        let id = self.write_request(request).await?;
        loop {
            match self.read_frame().await? {
                ServerFrame::Response { id: answered, result } if answered == id => {
                    return result.map_err(ClientError::Refused);
                }
                ServerFrame::Response { .. } => return Err(ClientError::Unexpected),
                ServerFrame::Push(push) => self.pushes.push_back(push),
            }
        }
    }

    /// Writes a request without waiting; returns its id.
    pub async fn write_request(&mut self, request: Request) -> Result<RequestId, ClientError> {
        let id = RequestId(self.next_id);
        self.next_id = self.next_id.wrapping_add(1);
        hush_net::write_client_frame(&mut self.send, &ClientFrame { id, request }).await?;
        Ok(id)
    }

    /// The next response (to a request written with [`RelayClient::write_request`]); pushes that
    /// arrive meanwhile are kept.
    pub async fn next_response(&mut self) -> Result<(RequestId, Response), ClientError> {
        loop {
            match self.read_frame().await? {
                ServerFrame::Response { id, result } => {
                    return Ok((id, result.map_err(ClientError::Refused)?));
                }
                ServerFrame::Push(push) => self.pushes.push_back(push),
            }
        }
    }

    /// Writes raw bytes on the stream (tests send garbage with it).
    pub async fn write_raw(&mut self, bytes: &[u8]) -> Result<(), ClientError> {
        self.send
            .write_all(bytes)
            .await
            .map_err(|error| ClientError::Stream(error.into()))
    }

    /// The next push, waiting for one if none is queued.
    pub async fn next_push(&mut self) -> Result<Push, ClientError> {
        if let Some(push) = self.pushes.pop_front() {
            return Ok(push);
        }
        match self.read_frame().await? {
            ServerFrame::Push(push) => Ok(push),
            ServerFrame::Response { .. } => Err(ClientError::Unexpected),
        }
    }

    /// The next delivered message, setting other pushes aside.
    pub async fn next_delivery(&mut self) -> Result<Delivery, ClientError> {
        let queued = self
            .pushes
            .iter()
            .position(|push| matches!(push, Push::Deliver(_)));
        if let Some(index) = queued
            && let Some(Push::Deliver(delivery)) = self.pushes.remove(index)
        {
            return Ok(delivery);
        }
        loop {
            match self.read_frame().await? {
                ServerFrame::Push(Push::Deliver(delivery)) => return Ok(delivery),
                ServerFrame::Push(push) => self.pushes.push_back(push),
                ServerFrame::Response { .. } => return Err(ClientError::Unexpected),
            }
        }
    }

    /// Pushes received but not yet taken.
    pub fn queued_pushes(&self) -> &VecDeque<Push> {
        &self.pushes
    }

    /// The underlying connection (tests read its close reason).
    pub fn connection(&self) -> &quinn::Connection {
        &self.connection
    }

    async fn read_frame(&mut self) -> Result<ServerFrame, ClientError> {
        Ok(hush_net::read_server_frame(&mut self.recv).await?)
    }

    /// Closes the connection.
    pub fn close(&self) {
        self.connection.close(quinn::VarInt::from_u32(0), b"bye");
    }
}
