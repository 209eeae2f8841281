//! `UploadKemPreKeys`: add signed one-time KEM prekeys and replace the last-resort one. Every
//! key must be a valid ML-KEM-1024 key of the kind its slot names, signed by the mailbox's
//! identity key (hush-crypto's `KemPreKeyPublic::verify`, as the signed prekey's signature is
//! checked on `UploadPreKeys`); one bad key refuses the whole upload. The one-time count is
//! capped per mailbox.

use hush_crypto::IdentityKey;
use hush_crypto::pq::{KemPreKeyKind as CryptoKind, KemPreKeyPublic, KemPublicKey};
use hush_proto::{ErrorCode, ErrorResponse, KemPreKey, KemPreKeyKind, MailboxId, Response};

use super::{Outcome, error, store_error};
use crate::store::{KemUpload, Store};

/// Checks one uploaded key: its kind is `kind`, its key parses, its signature verifies.
fn check(identity: &IdentityKey, prekey: &KemPreKey, kind: KemPreKeyKind) -> Result<(), ErrorResponse> {
    if prekey.kind != kind {
        return Err(error(
            ErrorCode::Invalid,
            "KEM prekey of the wrong kind for its slot",
        ));
    }
    let key = KemPublicKey::from_bytes(&prekey.key.0)
        .map_err(|_| error(ErrorCode::Invalid, "KEM prekey is not a valid ML-KEM-1024 key"))?;
    let public = KemPreKeyPublic {
        kind: match kind {
            KemPreKeyKind::OneTime => CryptoKind::OneTime,
            KemPreKeyKind::LastResort => CryptoKind::LastResort,
        },
        id: prekey.id,
        key,
        signature: prekey.signature.0,
    };
    public
        .verify(identity)
        .map_err(|_| error(ErrorCode::Invalid, "KEM prekey signature does not verify"))
}

/// Uploads for the logged-in `mailbox`, holding at most `max_one_time` one-time KEM prekeys.
pub(super) async fn apply<S: Store>(
    store: &S,
    mailbox: MailboxId,
    last_resort: Option<KemPreKey>,
    one_time: Vec<KemPreKey>,
    max_one_time: u32,
) -> Outcome {
    let identity = super::upload_prekeys::owner_identity(store, mailbox).await?;
    if let Some(prekey) = &last_resort {
        check(&identity, prekey, KemPreKeyKind::LastResort)?;
    }
    for prekey in &one_time {
        check(&identity, prekey, KemPreKeyKind::OneTime)?;
    }
    let held = store
        .upload_kem_prekeys(
            mailbox,
            KemUpload {
                last_resort,
                one_time,
            },
            max_one_time,
        )
        .await
        .map_err(store_error)?;
    Ok(Response::KemPreKeysStored {
        one_time_kem_prekeys: held,
    })
}
