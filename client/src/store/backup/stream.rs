//! The backup file's header and its encrypted chunk stream (SPEC.md §19).
//!
//! ```text
//! file   = header[44] || chunk*
//! header = "HUSHBKUP" || version u8 (1) || memory_kib u32 || iterations u32 || parallelism u32
//!          || salt[16] || nonce_prefix[7]
//! key    = HKDF-SHA256(zero salt, Argon2id(passphrase, salt, params, 32), "Hush_v1_Backup", 32)
//! chunk i = AES-256-GCM(key, nonce_prefix || u32(i) || last u8, ad = header, plaintext)
//! ```
//!
//! Every chunk but the last holds exactly [`CHUNK_LEN`] plaintext bytes; the last holds 0 to
//! [`CHUNK_LEN`] and has `last = 1`. A changed, dropped, reordered or appended chunk, and a file
//! cut at any point, fails authentication.

use std::io::{Read, Write};

use hush_crypto::primitives::{aead_open, aead_seal, hkdf_sha256};
use zeroize::Zeroizing;

use super::BackupError;
use crate::store::kdf::{KdfParams, SALT_LEN};

/// The file's first eight bytes.
pub const BACKUP_MAGIC: [u8; 8] = *b"HUSHBKUP";
/// The format this build writes and reads.
pub const BACKUP_VERSION: u8 = 1;
/// Bytes of the header.
pub const BACKUP_HEADER_LEN: usize = 8 + 1 + 12 + SALT_LEN + 7;
/// Plaintext bytes per chunk: large enough that tags cost 0.02 %, small enough to hold one.
pub const CHUNK_LEN: usize = 1 << 16;
const TAG_LEN: usize = 16;
/// Most Argon2 passes a header may ask for (the default is 3).
pub const MAX_ITERATIONS: u32 = 16;
/// Most Argon2 lanes a header may ask for (the default is 1).
pub const MAX_PARALLELISM: u32 = 16;
const KEY_INFO: &[u8] = b"Hush_v1_Backup";

/// The header's fields.
pub(super) struct Header {
    pub(super) params: KdfParams,
    pub(super) salt: [u8; SALT_LEN],
    pub(super) nonce_prefix: [u8; 7],
}

impl Header {
    pub(super) fn encode(&self) -> [u8; BACKUP_HEADER_LEN] {
        let mut out = [0u8; BACKUP_HEADER_LEN];
        let fields = [
            &BACKUP_MAGIC[..],
            &[BACKUP_VERSION],
            &self.params.memory_kib().to_be_bytes(),
            &self.params.iterations().to_be_bytes(),
            &self.params.parallelism().to_be_bytes(),
            &self.salt,
            &self.nonce_prefix,
        ]
        .concat();
        out.copy_from_slice(&fields);
        out
    }

    pub(super) fn decode(bytes: &[u8; BACKUP_HEADER_LEN]) -> Result<Self, BackupError> {
        let (magic, rest) = bytes.split_first_chunk::<8>().ok_or(BackupError::NotABackup)?;
        if *magic != BACKUP_MAGIC {
            return Err(BackupError::NotABackup);
        }
        let (version, rest) = rest.split_first_chunk::<1>().ok_or(BackupError::NotABackup)?;
        if version[0] != BACKUP_VERSION {
            return Err(BackupError::UnsupportedVersion { found: version[0] });
        }
        let (memory, rest) = rest.split_first_chunk::<4>().ok_or(BackupError::NotABackup)?;
        let (iterations, rest) = rest.split_first_chunk::<4>().ok_or(BackupError::NotABackup)?;
        let (parallelism, rest) = rest.split_first_chunk::<4>().ok_or(BackupError::NotABackup)?;
        let (salt, nonce_prefix) = rest
            .split_first_chunk::<SALT_LEN>()
            .ok_or(BackupError::NotABackup)?;
        let (iterations, parallelism) = (u32::from_be_bytes(*iterations), u32::from_be_bytes(*parallelism));
        // Memory is bounded by `KdfParams::new`; passes and lanes here, so a damaged or
        // hostile header cannot make a restore run for hours.
        if iterations > MAX_ITERATIONS || parallelism > MAX_PARALLELISM {
            return Err(BackupError::Kdf(crate::store::StoreError::KdfParams(format!(
                "{iterations} passes and {parallelism} lanes exceed {MAX_ITERATIONS} and {MAX_PARALLELISM}"
            ))));
        }
        let params =
            KdfParams::new(u32::from_be_bytes(*memory), iterations, parallelism).map_err(BackupError::Kdf)?;
        Ok(Self {
            params,
            salt: *salt,
            nonce_prefix: nonce_prefix.try_into().map_err(|_| BackupError::NotABackup)?,
        })
    }

    /// The stream key for `passphrase`.
    pub(super) fn key(&self, passphrase: &str) -> Result<Zeroizing<[u8; 32]>, BackupError> {
        let mut stretched = Zeroizing::new([0u8; 32]);
        self.params
            .argon2()
            .map_err(BackupError::Kdf)?
            .hash_password_into(passphrase.as_bytes(), &self.salt, stretched.as_mut_slice())
            .map_err(|error| BackupError::Kdf(crate::store::StoreError::KdfParams(error.to_string())))?;
        let mut key = Zeroizing::new([0u8; 32]);
        hkdf_sha256(None, stretched.as_slice(), KEY_INFO, key.as_mut_slice())
            .map_err(|_| BackupError::Unauthenticated { chunk: 0 })?;
        Ok(key)
    }
}

/// The stream key, the header every chunk is bound to, and the next chunk's index.
pub(super) struct ChunkKeys {
    key: Zeroizing<[u8; 32]>,
    header: [u8; BACKUP_HEADER_LEN],
    prefix: [u8; 7],
    counter: u32,
}

impl ChunkKeys {
    pub(super) fn new(header: &Header, key: Zeroizing<[u8; 32]>) -> Self {
        Self {
            key,
            header: header.encode(),
            prefix: header.nonce_prefix,
            counter: 0,
        }
    }

    /// `nonce_prefix || u32(index) || last`.
    fn nonce(&self, last: bool) -> [u8; 12] {
        let mut nonce = [0u8; 12];
        let bytes = [
            self.prefix.as_slice(),
            &self.counter.to_be_bytes(),
            &[u8::from(last)],
        ]
        .concat();
        for (slot, byte) in nonce.iter_mut().zip(bytes) {
            *slot = byte;
        }
        nonce
    }

    fn advance(&mut self) -> Result<(), BackupError> {
        self.counter = self.counter.checked_add(1).ok_or(BackupError::TooLarge)?;
        Ok(())
    }

    fn seal(&mut self, plain: &[u8], last: bool) -> Result<Vec<u8>, BackupError> {
        let sealed = aead_seal(&self.key, &self.nonce(last), &self.header, plain)
            .map_err(|_| BackupError::TooLarge)?;
        self.advance()?;
        Ok(sealed)
    }

    fn open(&mut self, block: &[u8], last: bool) -> Result<Vec<u8>, BackupError> {
        let chunk = self.counter;
        let plain = aead_open(&self.key, &self.nonce(last), &self.header, block)
            .map_err(|_| BackupError::Unauthenticated { chunk })?;
        self.advance()?;
        Ok(plain)
    }
}

/// Encrypts what is written to it into chunks; [`ChunkWriter::finish`] seals the last.
pub(super) struct ChunkWriter<W: Write> {
    out: W,
    keys: ChunkKeys,
    buffer: Zeroizing<Vec<u8>>,
}

impl<W: Write> ChunkWriter<W> {
    /// Writes the header to `out`.
    pub(super) fn new(mut out: W, keys: ChunkKeys) -> Result<Self, BackupError> {
        out.write_all(&keys.header)?;
        let buffer = Zeroizing::new(Vec::with_capacity(CHUNK_LEN));
        Ok(Self { out, keys, buffer })
    }

    pub(super) fn write(&mut self, mut data: &[u8]) -> Result<(), BackupError> {
        while !data.is_empty() {
            // A full chunk goes out only once more follows, so the last one is sealed as last.
            if self.buffer.len() == CHUNK_LEN {
                self.seal(false)?;
            }
            let room = CHUNK_LEN - self.buffer.len();
            let (now, later) = data.split_at(room.min(data.len()));
            self.buffer.extend_from_slice(now);
            data = later;
        }
        Ok(())
    }

    fn seal(&mut self, last: bool) -> Result<(), BackupError> {
        let sealed = self.keys.seal(&self.buffer, last)?;
        self.out.write_all(&sealed)?;
        self.buffer.clear();
        Ok(())
    }

    /// Seals the last chunk; the writer, to sync.
    pub(super) fn finish(mut self) -> Result<W, BackupError> {
        self.seal(true)?;
        self.out.flush()?;
        Ok(self.out)
    }
}

/// Decrypts and authenticates chunks as they are read.
pub(super) struct ChunkReader<R: Read> {
    input: R,
    keys: ChunkKeys,
    plain: Zeroizing<Vec<u8>>,
    at: usize,
    /// The first byte of the next chunk, read to learn that this one was not the last.
    peeked: Option<u8>,
    done: bool,
}

/// Reads until `buf` is full or the input ends; the bytes read.
fn fill(input: &mut impl Read, buf: &mut [u8]) -> Result<usize, BackupError> {
    let mut filled = 0;
    while let Some(rest) = buf.get_mut(filled..).filter(|rest| !rest.is_empty()) {
        match input.read(rest) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(error) if error.kind() == std::io::ErrorKind::Interrupted => {}
            Err(error) => return Err(error.into()),
        }
    }
    Ok(filled)
}

impl<R: Read> ChunkReader<R> {
    /// Reads the header from `input`; `key` comes from it and the passphrase.
    pub(super) fn header(input: &mut R) -> Result<Header, BackupError> {
        let mut bytes = [0u8; BACKUP_HEADER_LEN];
        if fill(input, &mut bytes)? < BACKUP_HEADER_LEN {
            return Err(BackupError::NotABackup);
        }
        Header::decode(&bytes)
    }

    /// `keys` from the header and the passphrase (the header is read already).
    pub(super) fn new(input: R, keys: ChunkKeys) -> Self {
        Self {
            input,
            keys,
            plain: Zeroizing::new(Vec::new()),
            at: 0,
            peeked: None,
            done: false,
        }
    }

    /// Reads and opens the next chunk into `plain`.
    fn next_chunk(&mut self) -> Result<(), BackupError> {
        if self.done {
            return Err(BackupError::Truncated);
        }
        let mut block = vec![0u8; CHUNK_LEN + TAG_LEN];
        let mut filled = 0;
        if let (Some(byte), Some(first)) = (self.peeked.take(), block.first_mut()) {
            *first = byte;
            filled = 1;
        }
        filled += fill(&mut self.input, block.get_mut(filled..).unwrap_or_default())?;
        block.truncate(filled);
        let last = if filled < CHUNK_LEN + TAG_LEN {
            true
        } else {
            let mut byte = [0u8; 1];
            match fill(&mut self.input, &mut byte)? {
                0 => true,
                _ => {
                    self.peeked = Some(byte[0]);
                    false
                }
            }
        };
        if block.len() < TAG_LEN {
            return Err(match self.keys.counter {
                0 => BackupError::Unauthenticated { chunk: 0 },
                _ => BackupError::Truncated,
            });
        }
        self.plain = Zeroizing::new(self.keys.open(&block, last)?);
        self.at = 0;
        self.done = last;
        Ok(())
    }

    /// Fills `buf` from the plaintext; [`BackupError::Truncated`] if it ends first.
    pub(super) fn read_exact(&mut self, buf: &mut [u8]) -> Result<(), BackupError> {
        let mut rest = buf;
        while !rest.is_empty() {
            let available = self.plain.get(self.at..).unwrap_or_default();
            if available.is_empty() {
                self.next_chunk()?;
                continue;
            }
            let n = rest.len().min(available.len());
            let (now, later) = rest.split_at_mut(n);
            now.copy_from_slice(available.get(..n).unwrap_or_default());
            self.at += n;
            rest = later;
        }
        Ok(())
    }

    /// Whether the plaintext has ended (every chunk read and authenticated).
    pub(super) fn at_end(&mut self) -> Result<bool, BackupError> {
        while self.at == self.plain.len() {
            if self.done {
                return Ok(true);
            }
            self.next_chunk()?;
        }
        Ok(false)
    }
}
