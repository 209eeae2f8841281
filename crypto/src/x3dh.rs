//! X3DH key agreement (Signal's X3DH specification) and the session associated data.

use zeroize::Zeroize;

use crate::error::KeyError;
use crate::keys::{Curve25519KeyPair, Curve25519PublicKey, IdentityKey, Secret32};
use crate::primitives;
use crate::wire::Writer;

/// HKDF info of the X3DH KDF.
pub const X3DH_INFO: &[u8] = b"Hush_v1_X3DH";
/// HKDF info of the PQXDH KDF: PQXDH's `info_curve_hash_pqkem` naming (SPEC.md §17.5).
pub const PQXDH_INFO: &[u8] = b"Hush_v2_PQXDH_CURVE25519_SHA-256_ML-KEM-1024";

/// The initiator's view: `DH1 = DH(IK_A, SPK_B)`, `DH2 = DH(EK_A, IK_B)`, `DH3 = DH(EK_A, SPK_B)`,
/// `DH4 = DH(EK_A, OPK_B)` when a one-time prekey is used.
pub(crate) fn initiator_secret(
    identity: &Curve25519KeyPair,
    base: &Curve25519KeyPair,
    remote_identity: &Curve25519PublicKey,
    signed_prekey: &Curve25519PublicKey,
    one_time_prekey: Option<&Curve25519PublicKey>,
    kem_shared: Option<&Secret32>,
) -> Result<Secret32, KeyError> {
    let dh1 = identity.diffie_hellman(signed_prekey)?;
    let dh2 = base.diffie_hellman(remote_identity)?;
    let dh3 = base.diffie_hellman(signed_prekey)?;
    let dh4 = one_time_prekey.map(|key| base.diffie_hellman(key)).transpose()?;
    Ok(kdf(&dh1, &dh2, &dh3, dh4.as_ref(), kem_shared))
}

/// The responder's view of the same four DHs.
pub(crate) fn responder_secret(
    identity: &Curve25519KeyPair,
    signed_prekey: &Curve25519KeyPair,
    one_time_prekey: Option<&Curve25519KeyPair>,
    remote_identity: &Curve25519PublicKey,
    base_key: &Curve25519PublicKey,
    kem_shared: Option<&Secret32>,
) -> Result<Secret32, KeyError> {
    let dh1 = signed_prekey.diffie_hellman(remote_identity)?;
    let dh2 = identity.diffie_hellman(base_key)?;
    let dh3 = signed_prekey.diffie_hellman(base_key)?;
    let dh4 = one_time_prekey
        .map(|key| key.diffie_hellman(base_key))
        .transpose()?;
    Ok(kdf(&dh1, &dh2, &dh3, dh4.as_ref(), kem_shared))
}

/// `SK = HKDF-SHA256(salt = 32 zero bytes, ikm = 0xFF * 32 || DH1 || DH2 || DH3 [|| DH4],
/// info = "Hush_v1_X3DH")`, 32 bytes; with a KEM shared secret `SS` (PQXDH) the ikm ends
/// `|| SS` and the info is [`PQXDH_INFO`], so a PQXDH and an X3DH key never coincide. The 0xFF
/// prefix is the specs' domain separation from XEdDSA signatures.
fn kdf(
    dh1: &Secret32,
    dh2: &Secret32,
    dh3: &Secret32,
    dh4: Option<&Secret32>,
    kem_shared: Option<&Secret32>,
) -> Secret32 {
    let mut ikm = Vec::with_capacity(32 * 6);
    ikm.extend_from_slice(&[0xFF; 32]);
    for secret in [Some(dh1), Some(dh2), Some(dh3), dh4, kem_shared]
        .into_iter()
        .flatten()
    {
        ikm.extend_from_slice(secret.bytes());
    }
    let info = if kem_shared.is_some() {
        PQXDH_INFO
    } else {
        X3DH_INFO
    };
    let mut out = [0u8; 32];
    // 32 bytes is far below HKDF's limit, so this cannot fail.
    let _ = primitives::hkdf_sha256(Some(&[0u8; 32]), &ikm, info, &mut out);
    ikm.zeroize();
    Secret32::new(out)
}

/// The session's associated data, fixed for its lifetime with the initiator first:
/// `IK_A || IK_B || u16 len || addr_A || u16 len || addr_B` (Ed25519 identity encodings).
pub(crate) fn session_associated_data(
    initiator_identity: &IdentityKey,
    initiator_address: &[u8],
    responder_identity: &IdentityKey,
    responder_address: &[u8],
) -> Vec<u8> {
    let mut writer = Writer::default();
    writer
        .put(initiator_identity.as_bytes())
        .put(responder_identity.as_bytes())
        .bytes_u16(initiator_address)
        .bytes_u16(responder_address);
    writer.bytes
}

/// The X3DH KDF on raw DH outputs, for test vectors: `SK` from `DH1..DH3` and the optional `DH4`.
#[cfg(feature = "hazmat")]
pub fn hazmat_kdf(dh1: &[u8; 32], dh2: &[u8; 32], dh3: &[u8; 32], dh4: Option<&[u8; 32]>) -> [u8; 32] {
    hazmat_pq_kdf(dh1, dh2, dh3, dh4, None)
}

/// The X3DH or (with the KEM shared secret `ss`) PQXDH KDF on raw inputs, for test vectors.
#[cfg(feature = "hazmat")]
pub fn hazmat_pq_kdf(
    dh1: &[u8; 32],
    dh2: &[u8; 32],
    dh3: &[u8; 32],
    dh4: Option<&[u8; 32]>,
    ss: Option<&[u8; 32]>,
) -> [u8; 32] {
    let dh4 = dh4.map(|dh| Secret32::new(*dh));
    let ss = ss.map(|ss| Secret32::new(*ss));
    *kdf(
        &Secret32::new(*dh1),
        &Secret32::new(*dh2),
        &Secret32::new(*dh3),
        dh4.as_ref(),
        ss.as_ref(),
    )
    .bytes()
}
