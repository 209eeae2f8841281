use thiserror::Error;

/// Why bytes could not be framed or unframed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum FrameError {
    /// The length prefix announces more than the limit; the body was not read.
    #[error("frame of {length} bytes is over the limit of {max}")]
    TooLarge {
        /// Announced body length.
        length: u64,
        /// Limit in force.
        max: u32,
    },
    /// The body is not a valid encoding of the expected frame type.
    #[error("malformed frame body")]
    Malformed,
    /// The body decoded, but not from its one canonical encoding (an integer or length in an
    /// overlong varint form), so the same frame would have more than one encoding.
    #[error("frame body of {length} bytes is not canonical: its value encodes in {canonical}")]
    NonCanonical {
        /// Body length that came.
        length: usize,
        /// Length of the value's canonical encoding.
        canonical: usize,
    },
    /// The body decoded but bytes were left over.
    #[error("{count} trailing bytes after the frame body")]
    TrailingBytes {
        /// Bytes left.
        count: usize,
    },
    /// A field breaks a protocol limit (for example too many prekeys).
    #[error("{field}: {length} is over the limit of {max}")]
    FieldTooLarge {
        /// The field.
        field: &'static str,
        /// Length that came.
        length: usize,
        /// Limit.
        max: usize,
    },
}
