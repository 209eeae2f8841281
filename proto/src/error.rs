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
