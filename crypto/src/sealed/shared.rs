//! Shared seals: one message sealed once for many devices (a group message), so the sender
//! uploads the ciphertext once plus a small part per recipient (`test-vectors/SPEC.md` §15.1 has
//! every byte; the relay's side is `SendShared`, proto/PROTOCOL.md "Shared sends").
//!
//! ```text
//! M = HKDF(salt = r, SHA-256(plaintext), "Hush_v1_SharedSecret", 32)       (r: 32 random bytes)
//! e || body_key || body_nonce = HKDF(zero salt, M, "Hush_v1_SharedMessage", 76),  E = e·G
//! body   = 0x03 || E[32] || AES-256-GCM(body_key, body_nonce, ad = 0x03 || E, plaintext)
//! pad_i || mac_i = HKDF(zero salt, X25519(e, R_i), "Hush_v1_SharedWrap" || E || R_i, 64)
//! part_i = 0x03 || wrap_i = M ⊕ pad_i || HMAC(mac_i, 0x03 || wrap_i || SHA-256(body))[..16]
//! ```
//!
//! (`R_i` a recipient's identity key, its X25519 form in the DH.) A recipient checks its part's
//! tag (so a part for another body or another recipient, or an altered byte of either, is
//! refused before anything else is derived), unwraps `M`, re-derives `e` and checks that it gives
//! the body's `E`, then opens the body. Since `M` fixes `E` and every body key, all recipients
//! that open a body read the same plaintext: a sealer cannot show different recipients different
//! messages under one upload (AES-GCM alone does not commit to its key).
//!
//! What this layer guarantees: the relay, which sees the body and every part, learns nothing of
//! the plaintext, of the sender (nothing here names or depends on the sender's keys) or of the
//! group; a recipient learns neither the other recipients nor how many there are (its part and
//! the body do not depend on them). What it does **not** do is authenticate the sender: anyone
//! can make a shared seal for anyone, and every recipient learns `M`, so it could re-seal the
//! same body to devices of its choosing. Both are harmless because the plaintext is a
//! sender-key message ([`crate::group`]), signed by its sender's chain key whose distribution
//! came over that sender's pairwise session: a re-sealed or forged body still has to verify
//! under a chain the recipient holds for the claimed sender, and a copy of a genuine one is a
//! duplicate there. (Pairwise envelopes use [`super::seal`], which does name the sender.)
//!
//! `M` is synthetic for the same reason as sealed sender's ephemeral secret: if the RNG stream
//! repeats, `M` (and so `e`, every key and nonce) repeats only for the same plaintext, so a
//! replayed RNG at worst shows that two seals carry the same message. The cost of a seal is one
//! fixed-base and one variable-base X25519 per recipient plus one AEAD pass; an open is one DH,
//! one fixed-base X25519, a hash and an AEAD pass over the body. The per-recipient DHs are
//! nearly all of a large seal's time, so its parts are made on several threads.

use std::collections::HashSet;

use rand_core::CryptoRng;
use sha2::{Digest, Sha256};
use zeroize::{Zeroize, ZeroizeOnDrop};

use super::SealError;
use crate::account::Account;
use crate::error::KeyError;
use crate::keys::{Curve25519KeyPair, Curve25519PublicKey, IdentityKey, Secret32};
use crate::primitives::{self, AEAD_KEY_LEN, AEAD_NONCE_LEN, AEAD_TAG_LEN};

#[cfg(test)]
mod tests;

/// Version byte of shared bodies and parts: the value after sealed sender's
/// [`super::SEALED_VERSION`], so no byte string is both a sealed envelope and a shared body or
/// part.
pub const SHARED_SEAL_VERSION: u8 = 3;
/// HKDF info label of the synthetic message secret `M`.
pub const SHARED_SECRET_INFO: &[u8] = b"Hush_v1_SharedSecret";
/// HKDF info label of what `M` gives: the ephemeral secret, the body key and nonce.
pub const SHARED_MESSAGE_INFO: &[u8] = b"Hush_v1_SharedMessage";
/// HKDF info label of one recipient's pad and MAC key.
pub const SHARED_WRAP_INFO: &[u8] = b"Hush_v1_SharedWrap";
/// Bytes of a part's tag (HMAC-SHA256 truncated to 128 bits, as strong as the GCM tags).
pub const SHARED_PART_TAG_LEN: usize = 16;
/// Bytes of every part: version, wrapped message secret, tag. Far under the relay's 200-byte
/// bound on a delivery's part.
pub const MAX_SHARED_PART_LEN: usize = 1 + 32 + SHARED_PART_TAG_LEN;
/// Bytes before the body's ciphertext: version and ephemeral key (the body's AEAD data).
pub const SHARED_BODY_HEADER_LEN: usize = 1 + 32;
/// Bytes a body adds to the plaintext: the header and the GCM tag.
pub const SHARED_BODY_OVERHEAD: usize = SHARED_BODY_HEADER_LEN + AEAD_TAG_LEN;
/// Most recipients of one shared seal: issue 19's 1,000-device groups. A larger list is caller
/// misuse, and bounds what one call spends (one X25519 per recipient).
pub const MAX_SHARED_RECIPIENTS: usize = 1000;

/// What one shared seal makes: the body every recipient gets and one part per recipient, in the
/// order of `recipients`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SharedSeal {
    /// The ciphertext every recipient gets (`SHARED_BODY_OVERHEAD` + plaintext bytes).
    pub body: Vec<u8>,
    /// Each recipient's part ([`MAX_SHARED_PART_LEN`] bytes), in the order of the recipients.
    pub parts: Vec<Vec<u8>>,
}

/// What `M` gives: the ephemeral key pair and the body's AEAD key and nonce.
#[derive(Zeroize, ZeroizeOnDrop)]
struct MessageKeys {
    ephemeral: Curve25519KeyPair,
    key: [u8; AEAD_KEY_LEN],
    nonce: [u8; AEAD_NONCE_LEN],
}

fn message_keys(secret: &Secret32) -> MessageKeys {
    let mut okm = [0u8; 32 + AEAD_KEY_LEN + AEAD_NONCE_LEN];
    // 76 bytes is far below HKDF's limit, so this cannot fail.
    let _ = primitives::hkdf_sha256(None, secret.bytes(), SHARED_MESSAGE_INFO, &mut okm);
    let (ephemeral, rest) = okm.split_at(32);
    let (key, nonce) = rest.split_at(AEAD_KEY_LEN);
    let mut ephemeral_secret = [0u8; 32];
    ephemeral_secret.copy_from_slice(ephemeral);
    let mut keys = MessageKeys {
        ephemeral: Curve25519KeyPair::from_secret(Secret32::new(ephemeral_secret)),
        key: [0; AEAD_KEY_LEN],
        nonce: [0; AEAD_NONCE_LEN],
    };
    keys.key.copy_from_slice(key);
    keys.nonce.copy_from_slice(nonce);
    okm.zeroize();
    keys
}

/// `M = HKDF(salt = r, SHA-256(plaintext), SHARED_SECRET_INFO, 32)`.
fn message_secret(random: &[u8; 32], plaintext: &[u8]) -> Secret32 {
    let digest = Sha256::digest(plaintext);
    let mut secret = [0u8; 32];
    // 32 bytes is far below HKDF's limit, so this cannot fail.
    let _ = primitives::hkdf_sha256(Some(random), &digest, SHARED_SECRET_INFO, &mut secret);
    Secret32::new(secret)
}

/// One recipient's pad (XORed onto `M`) and the key of its part's tag.
#[derive(Zeroize, ZeroizeOnDrop)]
struct WrapKeys {
    pad: [u8; 32],
    mac: [u8; 32],
}

/// The info is a fixed label and two fixed-width fields, so it has one parse.
fn wrap_keys(shared: &Secret32, ephemeral: &Curve25519PublicKey, recipient: &IdentityKey) -> WrapKeys {
    let info = [SHARED_WRAP_INFO, ephemeral.as_bytes(), recipient.as_bytes()].concat();
    let mut okm = [0u8; 64];
    // 64 bytes is far below HKDF's limit, so this cannot fail.
    let _ = primitives::hkdf_sha256(None, shared.bytes(), &info, &mut okm);
    let mut keys = WrapKeys {
        pad: [0; 32],
        mac: [0; 32],
    };
    let (pad, mac) = okm.split_at(32);
    keys.pad.copy_from_slice(pad);
    keys.mac.copy_from_slice(mac);
    okm.zeroize();
    keys
}

/// `HMAC(mac, version || wrap || SHA-256(body))[..16]`; `head` is the part's first 33 bytes.
fn part_tag(keys: &WrapKeys, head: &[u8], body_digest: &[u8]) -> [u8; SHARED_PART_TAG_LEN] {
    let full = primitives::hmac_sha256_concat(&keys.mac, &[head, body_digest]);
    let mut tag = [0u8; SHARED_PART_TAG_LEN];
    for (out, byte) in tag.iter_mut().zip(full) {
        *out = byte;
    }
    tag
}

/// `a ⊕ b`.
fn xor(a: &[u8; 32], b: &[u8; 32]) -> [u8; 32] {
    let mut out = [0u8; 32];
    for ((out, a), b) in out.iter_mut().zip(a).zip(b) {
        *out = a ^ b;
    }
    out
}

/// Refuses an empty, oversized or repeating recipient list (caller misuse, before any draw).
fn check_recipients(recipients: &[IdentityKey]) -> Result<(), SealError> {
    match recipients.len() {
        0 => return Err(SealError::NoRecipients),
        count if count > MAX_SHARED_RECIPIENTS => return Err(SealError::TooManyRecipients { count }),
        _ => {}
    }
    let mut seen = HashSet::with_capacity(recipients.len());
    match recipients.iter().position(|key| !seen.insert(key.as_bytes())) {
        Some(index) => Err(SealError::DuplicateRecipient { index }),
        None => Ok(()),
    }
}

/// Seals `plaintext` once for all `recipients` (identity keys of devices). Checks the list
/// (1 to [`MAX_SHARED_RECIPIENTS`] distinct keys), then draws 32 random bytes. The parts are
/// made on up to [`MAX_SEAL_THREADS`] threads; the bytes are the same on any number of them.
pub fn seal_shared(
    recipients: &[IdentityKey],
    plaintext: &[u8],
    rng: &mut (impl CryptoRng + ?Sized),
) -> Result<SharedSeal, SealError> {
    let available = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    seal_shared_on(recipients, plaintext, rng, available.min(MAX_SEAL_THREADS))
}

/// Most threads one [`seal_shared`] makes its parts on. A part costs one variable-base X25519
/// (about 30 µs, nearly all of a seal's time), so 1,000 parts split well; past a phone's big
/// cores more threads only contend.
pub const MAX_SEAL_THREADS: usize = 4;

/// Fewest parts a thread is started for: starting one costs about as much as a single DH.
const MIN_PARTS_PER_THREAD: usize = 16;

/// [`seal_shared`] with the parts on at most `threads` threads (0 or 1: on the calling one), for
/// a caller that wants to bound the threads a seal uses. The same bytes for any `threads`.
pub fn seal_shared_on(
    recipients: &[IdentityKey],
    plaintext: &[u8],
    rng: &mut (impl CryptoRng + ?Sized),
    threads: usize,
) -> Result<SharedSeal, SealError> {
    check_recipients(recipients)?;
    let mut random = [0u8; 32];
    rng.fill_bytes(&mut random);
    let secret = message_secret(&random, plaintext);
    random.zeroize();
    let keys = message_keys(&secret);
    let ephemeral = keys.ephemeral.public();
    let mut body = Vec::with_capacity(SHARED_BODY_OVERHEAD + plaintext.len());
    body.push(SHARED_SEAL_VERSION);
    body.extend_from_slice(ephemeral.as_bytes());
    // aead_seal fails only past 64 GiB; report it as the key error family's length variant.
    let sealed = primitives::aead_seal(&keys.key, &keys.nonce, &body, plaintext).map_err(|_| {
        SealError::Key(KeyError::KdfLength {
            requested: plaintext.len(),
        })
    })?;
    body.extend_from_slice(&sealed);
    let wrapping = Wrapping {
        ephemeral_secret: keys.ephemeral.secret().bytes(),
        ephemeral: &ephemeral,
        secret: &secret,
        body_digest: &Sha256::digest(&body).into(),
    };
    let parts = in_chunks(recipients, threads, |chunk| wrapping.parts(chunk))?;
    Ok(SharedSeal { body, parts })
}

/// What every part of one seal is made from.
struct Wrapping<'a> {
    ephemeral_secret: &'a [u8; 32],
    ephemeral: &'a Curve25519PublicKey,
    secret: &'a Secret32,
    body_digest: &'a [u8; 32],
}

impl Wrapping<'_> {
    /// The parts of `recipients`, in their order.
    fn parts(&self, recipients: &[IdentityKey]) -> Result<Vec<Vec<u8>>, KeyError> {
        let points: Vec<_> = recipients.iter().map(IdentityKey::edwards).collect();
        let shared = primitives::x25519_edwards_batch(self.ephemeral_secret, &points);
        recipients
            .iter()
            .zip(shared)
            .map(|(recipient, shared)| {
                let shared = Secret32::new(shared?);
                let wrap_keys = wrap_keys(&shared, self.ephemeral, recipient);
                let mut part = Vec::with_capacity(MAX_SHARED_PART_LEN);
                part.push(SHARED_SEAL_VERSION);
                let mut wrap = xor(self.secret.bytes(), &wrap_keys.pad);
                part.extend_from_slice(&wrap);
                wrap.zeroize();
                let tag = part_tag(&wrap_keys, &part, self.body_digest);
                part.extend_from_slice(&tag);
                Ok(part)
            })
            .collect()
    }
}

/// `make` over `items` split into at most `threads` consecutive chunks, each on its own thread
/// (the first on the calling one), the results joined in the order of `items`: the same as
/// `make(items)` whenever `make` works item by item. A thread that cannot be started leaves its
/// chunk to the calling thread.
fn in_chunks<T: Sync, U: Send, E: Send>(
    items: &[T],
    threads: usize,
    make: impl Fn(&[T]) -> Result<Vec<U>, E> + Sync,
) -> Result<Vec<U>, E> {
    let threads = threads.min(items.len() / MIN_PARTS_PER_THREAD).max(1);
    if threads == 1 {
        return make(items);
    }
    let make = &make;
    std::thread::scope(|scope| {
        let mut chunks = items.chunks(items.len().div_ceil(threads));
        let first = chunks.next().unwrap_or_default();
        let started: Vec<_> = chunks
            .map(|chunk| {
                let thread = std::thread::Builder::new().spawn_scoped(scope, move || make(chunk));
                (chunk, thread)
            })
            .collect();
        let mut out = make(first)?;
        for (chunk, thread) in started {
            let made = match thread {
                Ok(thread) => thread
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
                Err(_) => make(chunk),
            };
            out.extend(made?);
        }
        Ok(out)
    })
}

/// A part and a body with their lengths and versions checked (keys not yet).
struct Shared<'a> {
    part_head: &'a [u8],
    wrap: &'a [u8; 32],
    tag: &'a [u8],
    header: &'a [u8],
    ephemeral: Curve25519PublicKey,
    sealed: &'a [u8],
}

/// Checks in SPEC order: the part's length and version, then the body's length and version.
fn parse<'a>(part: &'a [u8], body: &'a [u8]) -> Result<Shared<'a>, SealError> {
    let part_length = SealError::PartLength { length: part.len() };
    let (part_head, tag) = part
        .split_at_checked(1 + 32)
        .filter(|_| part.len() == MAX_SHARED_PART_LEN)
        .ok_or(part_length)?;
    let (&part_version, wrap) = part_head.split_first().ok_or(part_length)?;
    if part_version != SHARED_SEAL_VERSION {
        return Err(SealError::UnknownPartVersion { found: part_version });
    }
    let wrap = <&[u8; 32]>::try_from(wrap).map_err(|_| part_length)?;
    let body_short = SealError::BodyTooShort { length: body.len() };
    let (header, sealed) = body
        .split_at_checked(SHARED_BODY_HEADER_LEN)
        .filter(|(_, sealed)| sealed.len() >= AEAD_TAG_LEN)
        .ok_or(body_short)?;
    match header.split_first() {
        Some((&SHARED_SEAL_VERSION, _)) => {}
        Some((&found, _)) => return Err(SealError::UnknownBodyVersion { found }),
        None => return Err(body_short),
    }
    let ephemeral = header.last_chunk::<32>().ok_or(body_short)?;
    Ok(Shared {
        part_head,
        wrap,
        tag,
        header,
        ephemeral: Curve25519PublicKey::from_bytes(ephemeral)?,
        sealed,
    })
}

impl Account {
    /// Opens a shared seal addressed to this account's identity key: `part` is this device's
    /// part, `body` the body every recipient got. Draws no randomness and changes nothing. The
    /// result does not say who sealed it (see the [module docs](self)).
    pub fn open_shared(&self, part: &[u8], body: &[u8]) -> Result<Vec<u8>, SealError> {
        let shared = parse(part, body)?;
        let recipient = self.identity_key();
        let dh = Secret32::new(self.identity_key_agreement(&shared.ephemeral)?);
        let wrap_keys = wrap_keys(&dh, &shared.ephemeral, &recipient);
        let expected = part_tag(&wrap_keys, shared.part_head, &Sha256::digest(body));
        if !primitives::ct_eq(&expected, shared.tag) {
            return Err(SealError::PartMismatch);
        }
        let secret = Secret32::new(xor(shared.wrap, &wrap_keys.pad));
        let keys = message_keys(&secret);
        if !primitives::ct_eq(keys.ephemeral.public().as_bytes(), shared.ephemeral.as_bytes()) {
            return Err(SealError::EphemeralMismatch);
        }
        primitives::aead_open(&keys.key, &keys.nonce, shared.header, shared.sealed)
            .map_err(|_| SealError::BodyUnauthenticated)
    }
}
