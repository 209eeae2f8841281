//! The operations a `client_receive` input stands for, and their byte encoding.

use super::MAX_OPS;

/// One step of a `client_receive` input. Inputs decode into operations with [`decode_ops`]
/// (every byte string is some sequence; missing fields read as zero); [`encode_ops`] writes them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// Deliver these bytes as an envelope.
    Deliver(Vec<u8>),
    /// Deliver genuine envelope `which` (modulo their number) with its byte `position` (modulo
    /// its length) XORed with `mask` (0: unchanged).
    Genuine {
        /// Which envelope of Alice's.
        which: u8,
        /// Byte to alter.
        position: u16,
        /// XOR mask.
        mask: u8,
    },
    /// Deliver genuine envelope `which` twice in a row (a relay redelivering it).
    Twice {
        /// Which envelope of Alice's.
        which: u8,
    },
    /// Answer pending request number `which` (in the order they were made), or the raw request
    /// id `which` when fewer are pending.
    Answer {
        /// Which request.
        which: u8,
        /// With what.
        answer: Answer,
    },
    /// Advance the clock by `((step & 7) + 1) << (step >> 3)` milliseconds (up to about 200
    /// days) and fire the timer.
    Timeout {
        /// Encoded delay.
        step: u8,
    },
    /// Drop the connection and log in again; the relay says it holds `prekeys` one-time prekeys.
    Reconnect {
        /// One-time prekeys the relay holds.
        prekeys: u8,
    },
    /// The relay pushes that our one-time prekeys run low.
    PreKeysLow {
        /// How many are left.
        remaining: u8,
    },
    /// Bob sends a text to Alice (`to` even) or Carol (odd).
    Send {
        /// Recipient selector.
        to: u8,
    },
    /// Bob marks everything he has received read.
    MarkRead,
}

/// What the relay answers a pending request with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// `Ok(Stored)`.
    Stored,
    /// A refusal with code `ERROR_CODES[code % len]`.
    Error(u8),
    /// `Ok(Bundle)`: the genuine bundle of Carol, Alice or Bob (`which % 3`) with byte
    /// `position` of its encoding XORed with `mask` (0, or an alteration that does not decode:
    /// unchanged).
    Bundle {
        /// Whose bundle.
        which: u8,
        /// Byte to alter.
        position: u16,
        /// XOR mask.
        mask: u8,
    },
    /// `Ok(PreKeysStored)` with this count.
    PreKeysStored(u8),
    /// `Ok(Acked)` with this count.
    Acked(u8),
    /// Any `Result<Response, ErrorResponse>` in its wire encoding (`Ok(Pong)` if it does not
    /// decode).
    Wire(Vec<u8>),
}

const OP_DELIVER: u8 = 0;
const OP_GENUINE: u8 = 1;
const OP_TWICE: u8 = 2;
const OP_ANSWER: u8 = 3;
const OP_TIMEOUT: u8 = 4;
const OP_RECONNECT: u8 = 5;
const OP_PREKEYS_LOW: u8 = 6;
const OP_SEND: u8 = 7;
const OP_MARK_READ: u8 = 8;
const OP_KINDS: u8 = 9;

const ANSWER_STORED: u8 = 0;
const ANSWER_ERROR: u8 = 1;
const ANSWER_BUNDLE: u8 = 2;
const ANSWER_PREKEYS_STORED: u8 = 3;
const ANSWER_ACKED: u8 = 4;
const ANSWER_WIRE: u8 = 5;
const ANSWER_KINDS: u8 = 6;

/// Reads fields off an input; past the end every field is zero and byte strings are empty.
struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn byte(&mut self) -> u8 {
        match self.0.split_first() {
            Some((first, rest)) => {
                self.0 = rest;
                *first
            }
            None => 0,
        }
    }

    fn u16(&mut self) -> u16 {
        u16::from_le_bytes([self.byte(), self.byte()])
    }

    /// A `u16` length, then that many bytes (fewer if the input ends first).
    fn bytes(&mut self) -> Vec<u8> {
        let length = usize::from(self.u16()).min(self.0.len());
        let (bytes, rest) = self.0.split_at(length);
        self.0 = rest;
        bytes.to_vec()
    }
}

/// The operations an input stands for (at most [`MAX_OPS`]).
pub fn decode_ops(data: &[u8]) -> Vec<Op> {
    let mut reader = Reader(data);
    let mut ops = Vec::new();
    while !reader.0.is_empty() && ops.len() < MAX_OPS {
        let op = match reader.byte() % OP_KINDS {
            OP_DELIVER => Op::Deliver(reader.bytes()),
            OP_GENUINE => Op::Genuine {
                which: reader.byte(),
                position: reader.u16(),
                mask: reader.byte(),
            },
            OP_TWICE => Op::Twice { which: reader.byte() },
            OP_ANSWER => {
                let which = reader.byte();
                let answer = match reader.byte() % ANSWER_KINDS {
                    ANSWER_STORED => Answer::Stored,
                    ANSWER_ERROR => Answer::Error(reader.byte()),
                    ANSWER_BUNDLE => Answer::Bundle {
                        which: reader.byte(),
                        position: reader.u16(),
                        mask: reader.byte(),
                    },
                    ANSWER_PREKEYS_STORED => Answer::PreKeysStored(reader.byte()),
                    ANSWER_ACKED => Answer::Acked(reader.byte()),
                    _ => Answer::Wire(reader.bytes()),
                };
                Op::Answer { which, answer }
            }
            OP_TIMEOUT => Op::Timeout { step: reader.byte() },
            OP_RECONNECT => Op::Reconnect {
                prekeys: reader.byte(),
            },
            OP_PREKEYS_LOW => Op::PreKeysLow {
                remaining: reader.byte(),
            },
            OP_SEND => Op::Send { to: reader.byte() },
            _ => Op::MarkRead,
        };
        ops.push(op);
    }
    ops
}

/// The input [`decode_ops`] reads as `ops` (byte strings longer than `u16::MAX` are cut).
pub fn encode_ops(ops: &[Op]) -> Vec<u8> {
    fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
        let length = u16::try_from(bytes.len()).unwrap_or(u16::MAX);
        out.extend_from_slice(&length.to_le_bytes());
        out.extend(bytes.iter().take(usize::from(length)));
    }
    let mut out = Vec::new();
    for op in ops {
        match op {
            Op::Deliver(bytes) => {
                out.push(OP_DELIVER);
                put_bytes(&mut out, bytes);
            }
            Op::Genuine {
                which,
                position,
                mask,
            } => {
                out.push(OP_GENUINE);
                out.push(*which);
                out.extend_from_slice(&position.to_le_bytes());
                out.push(*mask);
            }
            Op::Twice { which } => out.extend_from_slice(&[OP_TWICE, *which]),
            Op::Answer { which, answer } => {
                out.extend_from_slice(&[OP_ANSWER, *which]);
                match answer {
                    Answer::Stored => out.push(ANSWER_STORED),
                    Answer::Error(code) => out.extend_from_slice(&[ANSWER_ERROR, *code]),
                    Answer::Bundle {
                        which,
                        position,
                        mask,
                    } => {
                        out.extend_from_slice(&[ANSWER_BUNDLE, *which]);
                        out.extend_from_slice(&position.to_le_bytes());
                        out.push(*mask);
                    }
                    Answer::PreKeysStored(count) => out.extend_from_slice(&[ANSWER_PREKEYS_STORED, *count]),
                    Answer::Acked(count) => out.extend_from_slice(&[ANSWER_ACKED, *count]),
                    Answer::Wire(bytes) => {
                        out.push(ANSWER_WIRE);
                        put_bytes(&mut out, bytes);
                    }
                }
            }
            Op::Timeout { step } => out.extend_from_slice(&[OP_TIMEOUT, *step]),
            Op::Reconnect { prekeys } => out.extend_from_slice(&[OP_RECONNECT, *prekeys]),
            Op::PreKeysLow { remaining } => out.extend_from_slice(&[OP_PREKEYS_LOW, *remaining]),
            Op::Send { to } => out.extend_from_slice(&[OP_SEND, *to]),
            Op::MarkRead => out.push(OP_MARK_READ),
        }
    }
    out
}
