//! Reading a relay's frames and writing a client's on a QUIC stream: the length-prefixed framing
//! of hush-proto, shared by every client of the relay.

use hush_proto::{
    ClientFrame, FrameError, MAX_FRAME_LEN, ServerFrame, decode_body, encode_frame, parse_length,
};

/// Why a frame could not be read or written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StreamError {
    /// The stream ended or the connection was lost.
    #[error("stream closed")]
    Closed,
    /// The bytes are not a valid frame (or a frame to write is too large).
    #[error("bad frame: {0}")]
    Frame(#[from] FrameError),
}

/// Reads one server frame: the length prefix is checked against [`MAX_FRAME_LEN`] before the
/// body is buffered.
pub async fn read_server_frame(recv: &mut quinn::RecvStream) -> Result<ServerFrame, StreamError> {
    let mut prefix = [0u8; 4];
    recv.read_exact(&mut prefix)
        .await
        .map_err(|_| StreamError::Closed)?;
    let length = parse_length(prefix, MAX_FRAME_LEN)?;
    let mut body = vec![0u8; length];
    recv.read_exact(&mut body)
        .await
        .map_err(|_| StreamError::Closed)?;
    Ok(decode_body(&body)?)
}

/// Writes one client frame.
pub async fn write_client_frame(
    send: &mut quinn::SendStream,
    frame: &ClientFrame,
) -> Result<(), StreamError> {
    let bytes = encode_frame(frame, MAX_FRAME_LEN)?;
    send.write_all(&bytes).await.map_err(|_| StreamError::Closed)
}
