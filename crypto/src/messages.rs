//! Wire encodings of pairwise messages and prekey bundles (byte layouts in `test-vectors/SPEC.md`).

use crate::error::DecodeError;
use crate::keys::{Curve25519PublicKey, IdentityKey};
use crate::pq::prekey::KemHeader;
use crate::primitives::AEAD_TAG_LEN;
use crate::wire::{
    PQXDH_VERSION, Reader, TYPE_MESSAGE, TYPE_PREKEY_BUNDLE, TYPE_PREKEY_MESSAGE, VERSION, Writer,
};

/// Largest plaintext Hush encrypts in one message (1 MiB). Larger payloads (attachments) are
/// encrypted separately and referenced; a fixed bound lets receivers refuse oversize input before
/// allocating.
pub const MAX_PLAINTEXT_LEN: usize = 1 << 20;
/// Largest ciphertext field: the plaintext bound plus the GCM tag.
pub const MAX_CIPHERTEXT_LEN: usize = MAX_PLAINTEXT_LEN + AEAD_TAG_LEN;
/// Largest address (an application-chosen byte string naming a device, such as a relay mailbox
/// id) bound into a session's associated data.
pub const MAX_ADDRESS_LEN: usize = 255;
/// Length of the per-message salt mixed into the message key expansion (synthetic: SPEC.md §7.2).
pub const SALT_LEN: usize = 16;
/// Length of an encoded [`Message`] header: version, type, ratchet key, PN, N, salt.
pub const MESSAGE_HEADER_LEN: usize = 2 + 32 + 4 + 4 + SALT_LEN;

/// A Double Ratchet message: header in the clear (authenticated), body encrypted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub(crate) ratchet_key: Curve25519PublicKey,
    pub(crate) previous_counter: u32,
    pub(crate) counter: u32,
    pub(crate) salt: [u8; SALT_LEN],
    pub(crate) ciphertext: Vec<u8>,
}

impl Message {
    /// The sender's current ratchet public key.
    pub fn ratchet_key(&self) -> Curve25519PublicKey {
        self.ratchet_key
    }

    /// Message number in the sending chain (`N`).
    pub fn counter(&self) -> u32 {
        self.counter
    }

    /// Length of the sender's previous sending chain (`PN`).
    pub fn previous_counter(&self) -> u32 {
        self.previous_counter
    }

    /// The per-message salt of the message-key expansion, for test vectors.
    #[cfg(feature = "hazmat")]
    pub fn hazmat_salt(&self) -> [u8; SALT_LEN] {
        self.salt
    }

    /// The header bytes, which are the AEAD's associated data after the session's own.
    pub(crate) fn header_bytes(&self) -> [u8; MESSAGE_HEADER_LEN] {
        encode_header(&self.ratchet_key, self.previous_counter, self.counter, &self.salt)
    }

    /// Encodes the message.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut writer = Writer::default();
        writer
            .bytes
            .reserve(MESSAGE_HEADER_LEN + 4 + self.ciphertext.len());
        writer.put(&self.header_bytes()).bytes_u32(&self.ciphertext);
        writer.bytes
    }

    /// Decodes a message; trailing bytes, unknown versions and bad keys are errors.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, DecodeError> {
        let mut reader = Reader::new(bytes);
        let message = Self::read(&mut reader)?;
        reader.finish()?;
        Ok(message)
    }

    fn read(reader: &mut Reader<'_>) -> Result<Self, DecodeError> {
        reader.header(TYPE_MESSAGE)?;
        Ok(Self {
            ratchet_key: reader.curve_key("ratchet_key")?,
            previous_counter: reader.u32("previous_counter")?,
            counter: reader.u32("counter")?,
            salt: reader.array("salt")?,
            ciphertext: reader
                .bytes_u32("ciphertext", AEAD_TAG_LEN, MAX_CIPHERTEXT_LEN)?
                .to_vec(),
        })
    }
}

pub(crate) fn encode_header(
    ratchet_key: &Curve25519PublicKey,
    previous_counter: u32,
    counter: u32,
    salt: &[u8; SALT_LEN],
) -> [u8; MESSAGE_HEADER_LEN] {
    let mut out = [0u8; MESSAGE_HEADER_LEN];
    let mut writer = Writer::with_header(TYPE_MESSAGE, MESSAGE_HEADER_LEN);
    writer
        .put(ratchet_key.as_bytes())
        .u32(previous_counter)
        .u32(counter)
        .put(salt);
    out.copy_from_slice(&writer.bytes);
    out
}

/// The first messages of a session: the X3DH header (who, with which keys) around a ratchet
/// [`Message`]. The initiator sends these until the first reply arrives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreKeyMessage {
    pub(crate) identity_key: IdentityKey,
    pub(crate) base_key: Curve25519PublicKey,
    pub(crate) signed_prekey_id: u32,
    pub(crate) one_time_prekey_id: Option<u32>,
    /// PQXDH: the KEM prekey used and the ciphertext (encoded as version 2, SPEC.md §17.4).
    pub(crate) kem: Option<KemHeader>,
    pub(crate) sender_address: Vec<u8>,
    pub(crate) message: Message,
}

impl PreKeyMessage {
    /// The initiator's identity key (to be checked against the contact's, or pinned).
    pub fn identity_key(&self) -> IdentityKey {
        self.identity_key
    }

    /// The initiator's ephemeral X3DH key, which names the session.
    pub fn base_key(&self) -> Curve25519PublicKey {
        self.base_key
    }

    /// Id of the responder's signed prekey used.
    pub fn signed_prekey_id(&self) -> u32 {
        self.signed_prekey_id
    }

    /// Id of the responder's one-time prekey used, if any.
    pub fn one_time_prekey_id(&self) -> Option<u32> {
        self.one_time_prekey_id
    }

    /// The PQXDH part (KEM prekey id and ciphertext), `None` for a classical X3DH message.
    pub fn kem(&self) -> Option<&KemHeader> {
        self.kem.as_ref()
    }

    /// The initiator's address, bound into the session's associated data.
    pub fn sender_address(&self) -> &[u8] {
        &self.sender_address
    }

    /// The ratchet message inside.
    pub fn message(&self) -> &Message {
        &self.message
    }

    /// Encodes the message.
    pub fn to_bytes(&self) -> Vec<u8> {
        let inner = self.message.to_bytes();
        let version = if self.kem.is_some() {
            PQXDH_VERSION
        } else {
            VERSION
        };
        let kem_len = if self.kem.is_some() { 1574 } else { 0 };
        let capacity = 120 + kem_len + self.sender_address.len() + inner.len();
        let mut writer = Writer::with_versioned_header(version, TYPE_PREKEY_MESSAGE, capacity);
        writer
            .put(self.identity_key.as_bytes())
            .put(self.base_key.as_bytes())
            .u32(self.signed_prekey_id);
        match self.one_time_prekey_id {
            Some(id) => writer.u8(1).u32(id),
            None => writer.u8(0),
        };
        if let Some(kem) = &self.kem {
            kem.write(&mut writer);
        }
        writer.bytes_u16(&self.sender_address).bytes_u32(&inner);
        writer.bytes
    }

    /// Decodes a pre-key message: version 1 is classical X3DH, version 2 PQXDH.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, DecodeError> {
        let mut reader = Reader::new(bytes);
        let version = reader.header_classical_or_pq(TYPE_PREKEY_MESSAGE)?;
        let identity_key = reader.identity_key("identity_key")?;
        let base_key = reader.curve_key("base_key")?;
        let signed_prekey_id = reader.u32("signed_prekey_id")?;
        let one_time_prekey_id = if reader.flag("has_one_time_prekey")? {
            Some(reader.u32("one_time_prekey_id")?)
        } else {
            None
        };
        let kem = if version == PQXDH_VERSION {
            Some(KemHeader::read(&mut reader)?)
        } else {
            None
        };
        let sender_address = reader.bytes_u16("sender_address", MAX_ADDRESS_LEN)?.to_vec();
        let inner = reader.bytes_u32(
            "message",
            MESSAGE_HEADER_LEN + 4 + AEAD_TAG_LEN,
            MESSAGE_HEADER_LEN + 4 + MAX_CIPHERTEXT_LEN,
        )?;
        reader.finish()?;
        Ok(Self {
            identity_key,
            base_key,
            signed_prekey_id,
            one_time_prekey_id,
            kem,
            sender_address,
            message: Message::from_bytes(inner)?,
        })
    }
}

/// A message of a pairwise session, as it travels.
// The pre-key variant is larger (about 100 bytes of X3DH header) but short-lived and rare; boxing
// it would cost every caller an allocation and a less direct pattern match.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionMessage {
    /// Sent until the session's first reply arrives.
    PreKey(PreKeyMessage),
    /// Every later message.
    Normal(Message),
}

impl SessionMessage {
    /// Encodes the message (its type byte tells the two kinds apart).
    pub fn to_bytes(&self) -> Vec<u8> {
        match self {
            Self::PreKey(message) => message.to_bytes(),
            Self::Normal(message) => message.to_bytes(),
        }
    }

    /// Decodes either kind by its type byte.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, DecodeError> {
        match bytes.get(1) {
            Some(&TYPE_PREKEY_MESSAGE) => PreKeyMessage::from_bytes(bytes).map(Self::PreKey),
            _ => Message::from_bytes(bytes).map(Self::Normal),
        }
    }

    /// The ratchet message carried.
    pub fn message(&self) -> &Message {
        match self {
            Self::PreKey(message) => &message.message,
            Self::Normal(message) => message,
        }
    }
}

/// The public half of a signed prekey as published.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedPreKeyPublic {
    /// Id chosen by the owner.
    pub id: u32,
    /// Creation time, Unix seconds (signed, so a relay cannot replay an old key as new).
    pub created_at: u64,
    /// The X25519 key.
    pub key: Curve25519PublicKey,
    /// Ed25519 signature by the identity key over [`signed_prekey_message`].
    pub signature: [u8; 64],
}

/// Domain-separation label of the signed-prekey signature.
pub const SIGNED_PREKEY_LABEL: &[u8] = b"Hush_v1_SignedPreKey";

/// The exact bytes a signed prekey's signature covers:
/// `"Hush_v1_SignedPreKey" || u32 id || u64 created_at || key`.
pub fn signed_prekey_message(id: u32, created_at: u64, key: &Curve25519PublicKey) -> Vec<u8> {
    let mut writer = Writer::default();
    writer
        .put(SIGNED_PREKEY_LABEL)
        .u32(id)
        .u64(created_at)
        .put(key.as_bytes());
    writer.bytes
}

/// A one-time prekey as published.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OneTimePreKeyPublic {
    /// Id chosen by the owner.
    pub id: u32,
    /// The X25519 key.
    pub key: Curve25519PublicKey,
}

/// What an initiator fetches to start a session: identity, signed prekey and, unless the owner
/// ran out, one one-time prekey.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreKeyBundle {
    /// The owner's identity key.
    pub identity_key: IdentityKey,
    /// The owner's current signed prekey.
    pub signed_prekey: SignedPreKeyPublic,
    /// One one-time prekey, or `None` in the last-resort case.
    pub one_time_prekey: Option<OneTimePreKeyPublic>,
}

impl PreKeyBundle {
    /// Checks the signed-prekey signature and, if given, that the identity is the pinned one.
    pub fn verify(&self, pinned: Option<&IdentityKey>) -> Result<VerifiedBundle, crate::BundleError> {
        if let Some(pinned) = pinned
            && !crate::primitives::ct_eq(pinned.as_bytes(), self.identity_key.as_bytes())
        {
            return Err(crate::BundleError::IdentityMismatch);
        }
        let spk = &self.signed_prekey;
        self.identity_key
            .verify(
                &signed_prekey_message(spk.id, spk.created_at, &spk.key),
                &spk.signature,
            )
            .map_err(|_| crate::BundleError::BadSignature)?;
        Ok(VerifiedBundle {
            bundle: self.clone(),
            kem_prekey: None,
        })
    }

    /// Encodes the bundle (version 1).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut writer = Writer::with_header(TYPE_PREKEY_BUNDLE, 180);
        self.write_fields(&mut writer);
        writer.bytes
    }

    /// Everything after the header: shared by the classical and the PQXDH encodings.
    pub(crate) fn write_fields(&self, writer: &mut Writer) {
        let spk = &self.signed_prekey;
        writer
            .put(self.identity_key.as_bytes())
            .u32(spk.id)
            .u64(spk.created_at)
            .put(spk.key.as_bytes())
            .put(&spk.signature);
        match &self.one_time_prekey {
            Some(otk) => writer.u8(1).u32(otk.id).put(otk.key.as_bytes()),
            None => writer.u8(0),
        };
    }

    /// Decodes a bundle (the signature is checked by [`PreKeyBundle::verify`], not here).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, DecodeError> {
        let mut reader = Reader::new(bytes);
        reader.header(TYPE_PREKEY_BUNDLE)?;
        let bundle = Self::read_fields(&mut reader)?;
        reader.finish()?;
        Ok(bundle)
    }

    pub(crate) fn read_fields(reader: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let identity_key = reader.identity_key("identity_key")?;
        let signed_prekey = SignedPreKeyPublic {
            id: reader.u32("signed_prekey_id")?,
            created_at: reader.u64("signed_prekey_created_at")?,
            key: reader.curve_key("signed_prekey")?,
            signature: reader.array("signed_prekey_signature")?,
        };
        let one_time_prekey = if reader.flag("has_one_time_prekey")? {
            Some(OneTimePreKeyPublic {
                id: reader.u32("one_time_prekey_id")?,
                key: reader.curve_key("one_time_prekey")?,
            })
        } else {
            None
        };
        Ok(Self {
            identity_key,
            signed_prekey,
            one_time_prekey,
        })
    }
}

/// A bundle whose signatures (and pinned identity, if any) checked out. Only these start
/// sessions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedBundle {
    pub(crate) bundle: PreKeyBundle,
    /// Verified too, when the bundle is a PQXDH one ([`crate::pq::PqPreKeyBundle`]).
    pub(crate) kem_prekey: Option<crate::pq::KemPreKeyPublic>,
}

impl VerifiedBundle {
    /// The bundle's classical part.
    pub fn bundle(&self) -> &PreKeyBundle {
        &self.bundle
    }

    /// The verified KEM prekey, if the bundle had one.
    pub fn kem_prekey(&self) -> Option<&crate::pq::KemPreKeyPublic> {
        self.kem_prekey.as_ref()
    }
}
