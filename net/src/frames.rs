//! Reading and writing hush-proto's length-prefixed frames on a QUIC stream: the one frame reader
//! of the relay, its clients and the bench's baseline server.

use hush_proto::{
    ClientFrame, FrameError, MAX_FRAME_LEN, ServerFrame, decode_body, encode_frame, parse_length,
};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// Why a frame could not be read or written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StreamError {
    /// The stream ended cleanly where a frame was expected.
    #[error("stream closed")]
    Finished,
    /// The stream failed, was reset, or ended inside a frame.
    #[error("reading the stream: {0}")]
    Read(#[from] quinn::ReadExactError),
    /// The stream could not be written.
    #[error("writing the stream: {0}")]
    Write(#[from] quinn::WriteError),
    /// The bytes are not a valid frame (or a frame to write is too large).
    #[error("bad frame: {0}")]
    Frame(#[from] FrameError),
}

/// Reads one frame: the length prefix is checked against `max` before the body is buffered, then
/// exactly that many bytes are read and decoded. `Ok(None)` at a clean end of the stream between
/// frames.
pub async fn read_frame<T>(recv: &mut quinn::RecvStream, max: u32) -> Result<Option<T>, StreamError>
where
    T: Serialize + DeserializeOwned,
{
    let mut prefix = [0u8; 4];
    match recv.read_exact(&mut prefix).await {
        Ok(()) => {}
        Err(quinn::ReadExactError::FinishedEarly(0)) => return Ok(None),
        Err(error) => return Err(error.into()),
    }
    let length = parse_length(prefix, max)?;
    let mut body = vec![0u8; length];
    recv.read_exact(&mut body).await?;
    Ok(Some(decode_body(&body)?))
}

/// Reads one server frame of at most [`MAX_FRAME_LEN`] bytes (a client's read); the end of the
/// stream is [`StreamError::Finished`].
pub async fn read_server_frame(recv: &mut quinn::RecvStream) -> Result<ServerFrame, StreamError> {
    read_frame(recv, MAX_FRAME_LEN)
        .await?
        .ok_or(StreamError::Finished)
}

/// Writes one client frame.
pub async fn write_client_frame(
    send: &mut quinn::SendStream,
    frame: &ClientFrame,
) -> Result<(), StreamError> {
    let bytes = encode_frame(frame, MAX_FRAME_LEN)?;
    Ok(send.write_all(&bytes).await?)
}
