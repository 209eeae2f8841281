//! The link message (SPEC.md §16.5): what an existing device sends a new one after scanning its
//! code. It is encrypted to the code's one-time X25519 key, keyed with the code's secret, and
//! its associated data is the whole code, so it opens only for the code it answers.

use rand_core::CryptoRng;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use super::code::{LINK_CODE_LIFETIME, LinkCode, LinkRequest, MAX_LINK_CLOCK_SKEW};
use super::error::LinkError;
use super::list::{DeviceList, MAX_DEVICE_LIST_LEN};
use super::{ACCOUNT_VERSION, AccountSigningKey, TYPE_LINK_MESSAGE};
use crate::keys::{Curve25519KeyPair, Curve25519PublicKey, IdentityKey, Secret32};
use crate::primitives::{AEAD_TAG_LEN, aead_open, aead_seal, hkdf_sha256};
use crate::wire::{Reader, Writer};

/// Most bytes of contact list a link message carries (opaque to this layer).
pub const MAX_LINK_CONTACTS_LEN: usize = 1 << 20;
/// Most bytes of history a link message carries; older history goes over the session after.
pub const MAX_LINK_HISTORY_LEN: usize = 1 << 20;
/// Longest payload: sender key, list, seed flag and seed, contacts, history with their lengths.
pub const MAX_LINK_PAYLOAD_LEN: usize =
    32 + 2 + MAX_DEVICE_LIST_LEN + 1 + 32 + 4 + MAX_LINK_CONTACTS_LEN + 4 + MAX_LINK_HISTORY_LEN;
/// Bytes of a link message before its ciphertext length: version, type, three keys.
pub const LINK_MESSAGE_HEADER_LEN: usize = 2 + 32 + 32 + 32;

/// HKDF info label of the synthetic sender ephemeral secret.
pub const LINK_EPHEMERAL_INFO: &[u8] = b"Hush_v2_LinkEphemeralSecret";
/// HKDF info label of the link message key and nonce.
pub const LINK_MESSAGE_INFO: &[u8] = b"Hush_v2_LinkMessage";

/// What a new device learns from a link message it accepted.
#[derive(Debug)]
pub struct Linked {
    /// The account's device list; it names this device and the sender.
    pub device_list: DeviceList,
    /// The identity key of the device that linked this one.
    pub sender_device: IdentityKey,
    /// The account's secret key, when the sender made this device an account holder.
    pub account_signing_key: Option<AccountSigningKey>,
    /// The contact list, as the client encoded it.
    pub contacts: Vec<u8>,
    /// Recent history, as the client encoded it (possibly empty).
    pub history: Vec<u8>,
}

/// `SHA-256` of some bytes.
fn sha256(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

/// `(key, nonce)` of a link message: `HKDF(salt = link secret, ikm = DH, info = label ||
/// SHA-256(code) || E_X, 44)`.
fn message_keys(
    secret: &[u8],
    shared: &Secret32,
    code_hash: &[u8; 32],
    sender_ephemeral: &Curve25519PublicKey,
) -> Result<Zeroizing<[u8; 44]>, LinkError> {
    let info = [LINK_MESSAGE_INFO, code_hash, sender_ephemeral.as_bytes()].concat();
    let mut okm = Zeroizing::new([0u8; 44]);
    hkdf_sha256(Some(secret), shared.bytes(), &info, okm.as_mut_slice())
        .map_err(|_| LinkError::Unauthenticated)?;
    Ok(okm)
}

fn split_keys(okm: &[u8; 44]) -> ([u8; 32], [u8; 12]) {
    let mut key = [0u8; 32];
    let mut nonce = [0u8; 12];
    key.copy_from_slice(okm.get(..32).unwrap_or(&[0; 32]));
    nonce.copy_from_slice(okm.get(32..).unwrap_or(&[0; 12]));
    (key, nonce)
}

fn header(code: &LinkCode, sender_ephemeral: &Curve25519PublicKey) -> Vec<u8> {
    let mut writer =
        Writer::with_versioned_header(ACCOUNT_VERSION, TYPE_LINK_MESSAGE, LINK_MESSAGE_HEADER_LEN);
    writer
        .put(code.identity_key().as_bytes())
        .put(code.ephemeral().as_bytes())
        .put(sender_ephemeral.as_bytes());
    writer.bytes
}

fn check_len(field: &'static str, bytes: &[u8], max: usize) -> Result<(), LinkError> {
    if bytes.len() > max {
        return Err(LinkError::TooLong {
            field,
            length: bytes.len(),
            max,
        });
    }
    Ok(())
}

impl LinkCode {
    /// Seals the link message answering this code, from `sender_device` (this device's identity
    /// key) with the account's new `device_list` (which must name both devices), the account's
    /// secret key when the new device is to become an account holder, and the client's contacts
    /// and history. Checks the code's age against `now`. Draws 32 bytes, after every check.
    #[allow(clippy::too_many_arguments)]
    pub fn seal(
        &self,
        sender_device: &IdentityKey,
        device_list: &DeviceList,
        account_seed: Option<&AccountSigningKey>,
        contacts: &[u8],
        history: &[u8],
        now: u64,
        rng: &mut (impl CryptoRng + ?Sized),
    ) -> Result<Vec<u8>, LinkError> {
        let created_at = self.created_at();
        if now.saturating_sub(created_at) > LINK_CODE_LIFETIME {
            return Err(LinkError::Expired { created_at, now });
        }
        if created_at.saturating_sub(now) > MAX_LINK_CLOCK_SKEW {
            return Err(LinkError::FromTheFuture { created_at, now });
        }
        if device_list.device(&self.identity_key()).is_none() {
            return Err(LinkError::NotInDeviceList);
        }
        if sender_device == &self.identity_key() || device_list.device(sender_device).is_none() {
            return Err(LinkError::SenderNotInDeviceList);
        }
        if account_seed.is_some_and(|key| &key.public() != device_list.account_key()) {
            return Err(LinkError::AccountSeedMismatch);
        }
        check_len("contacts", contacts, MAX_LINK_CONTACTS_LEN)?;
        check_len("history", history, MAX_LINK_HISTORY_LEN)?;

        let mut payload = Writer::default();
        payload
            .put(sender_device.as_bytes())
            .bytes_u16(&device_list.to_bytes());
        match account_seed {
            Some(key) => payload.u8(1).put(key.seed().bytes()),
            None => payload.u8(0),
        };
        payload.bytes_u32(contacts).bytes_u32(history);
        let payload = Zeroizing::new(payload.bytes);

        let code = self.to_bytes();
        let code_hash = sha256(&code);
        let mut r = Zeroizing::new([0u8; 32]);
        rng.fill_bytes(r.as_mut_slice());
        // Synthetic ephemeral (as the sealed sender's, SPEC.md §15): a repeated RNG stream gives
        // a repeated key only for a repeated payload to the same code.
        let info = [LINK_EPHEMERAL_INFO, &code_hash, &sha256(&payload)].concat();
        let mut e = [0u8; 32];
        hkdf_sha256(Some(r.as_slice()), self.secret().bytes(), &info, &mut e)
            .map_err(|_| LinkError::Unauthenticated)?;
        let ephemeral = Curve25519KeyPair::from_secret(Secret32::new(e));
        let shared = ephemeral
            .diffie_hellman(&self.ephemeral())
            .map_err(|_| LinkError::Unauthenticated)?;
        let okm = message_keys(self.secret().bytes(), &shared, &code_hash, &ephemeral.public())?;
        let (key, nonce) = split_keys(&okm);
        let key = Zeroizing::new(key);
        let mut out = header(self, &ephemeral.public());
        let ad = [out.as_slice(), &code].concat();
        let ciphertext = aead_seal(&key, &nonce, &ad, &payload).map_err(|_| LinkError::Unauthenticated)?;
        let mut writer = Writer { bytes: out };
        writer.bytes_u32(&ciphertext);
        out = writer.bytes;
        Ok(out)
    }
}

impl LinkRequest {
    /// Opens a link message for this request at `now` (SPEC.md §16.5 lists the checks in
    /// order). On success the request is spent: its secrets are wiped and every later call is
    /// [`LinkError::AlreadyUsed`]. On failure nothing changes.
    pub fn open(&mut self, message: &[u8], now: u64) -> Result<Linked, LinkError> {
        let mut reader = Reader::new(message);
        reader.versioned_header(ACCOUNT_VERSION, TYPE_LINK_MESSAGE)?;
        let new_device = reader.identity_key("new_device_key")?;
        let link_ephemeral = reader.curve_key("link_ephemeral")?;
        let sender_ephemeral = reader.curve_key("sender_ephemeral")?;
        let ciphertext = reader.bytes_u32("ciphertext", AEAD_TAG_LEN, MAX_LINK_PAYLOAD_LEN + AEAD_TAG_LEN)?;
        reader.finish()?;

        if self.used {
            return Err(LinkError::AlreadyUsed);
        }
        let own = &self.code;
        let created_at = own.created_at();
        if now.saturating_sub(created_at) > LINK_CODE_LIFETIME {
            return Err(LinkError::Expired { created_at, now });
        }
        if new_device != own.identity_key() {
            return Err(LinkError::WrongDevice);
        }
        if link_ephemeral != own.ephemeral() {
            return Err(LinkError::WrongEphemeral);
        }

        let code = own.to_bytes();
        let code_hash = sha256(&code);
        let shared = self
            .ephemeral
            .diffie_hellman(&sender_ephemeral)
            .map_err(|_| LinkError::Unauthenticated)?;
        let okm = message_keys(own.secret().bytes(), &shared, &code_hash, &sender_ephemeral)?;
        let (key, nonce) = split_keys(&okm);
        let key = Zeroizing::new(key);
        let header_len = LINK_MESSAGE_HEADER_LEN.min(message.len());
        let ad = [message.get(..header_len).unwrap_or_default(), &code].concat();
        let payload =
            Zeroizing::new(aead_open(&key, &nonce, &ad, ciphertext).map_err(|_| LinkError::Unauthenticated)?);
        let linked = parse_payload(&payload)?;
        let new_device = own.identity_key();
        if linked.device_list.device(&new_device).is_none() {
            return Err(LinkError::NotInDeviceList);
        }
        if linked.sender_device == new_device || linked.device_list.device(&linked.sender_device).is_none() {
            return Err(LinkError::SenderNotInDeviceList);
        }
        if linked
            .account_signing_key
            .as_ref()
            .is_some_and(|key| &key.public() != linked.device_list.account_key())
        {
            return Err(LinkError::AccountSeedMismatch);
        }
        self.used = true;
        zeroize::Zeroize::zeroize(&mut self.ephemeral);
        self.code.wipe_secret();
        Ok(linked)
    }
}

/// Decodes the authenticated payload (SPEC.md §16.5).
fn parse_payload(payload: &[u8]) -> Result<Linked, LinkError> {
    let mut reader = Reader::new(payload);
    let malformed = LinkError::MalformedPayload;
    let sender_device = reader.identity_key("sender_device_key").map_err(malformed)?;
    let list_bytes = reader
        .bytes_u16("device_list", MAX_DEVICE_LIST_LEN)
        .map_err(malformed)?;
    let account_signing_key = if reader.flag("has_account_seed").map_err(malformed)? {
        let seed = Secret32::new(reader.array::<32>("account_seed").map_err(malformed)?);
        Some(AccountSigningKey::from_seed(&seed))
    } else {
        None
    };
    let contacts = reader
        .bytes_u32("contacts", 0, MAX_LINK_CONTACTS_LEN)
        .map_err(malformed)?
        .to_vec();
    let history = reader
        .bytes_u32("history", 0, MAX_LINK_HISTORY_LEN)
        .map_err(malformed)?
        .to_vec();
    reader.finish().map_err(malformed)?;
    let device_list = DeviceList::from_bytes(list_bytes).map_err(LinkError::DeviceList)?;
    Ok(Linked {
        device_list,
        sender_device,
        account_signing_key,
        contacts,
        history,
    })
}

#[cfg(test)]
#[path = "link_tests.rs"]
mod tests;
