//! `UploadPreKeys`: replace the signed prekey (its signature must verify under the mailbox's
//! identity key) and add one-time prekeys, within the per-mailbox cap.

use hush_crypto::{Curve25519PublicKey, IdentityKey, signed_prekey_message};
use hush_proto::{ErrorCode, ErrorResponse, MailboxId, OneTimePreKey, Response, SignedPreKey};

use super::{Outcome, error, store_error};
use crate::store::{MailboxStatus, Store};

/// The identity key of the logged-in `mailbox`, which its uploads must be signed by.
pub(super) async fn owner_identity<S: Store>(
    store: &S,
    mailbox: MailboxId,
) -> Result<IdentityKey, ErrorResponse> {
    let MailboxStatus::Active { identity_key } = store.mailbox_status(mailbox).await.map_err(store_error)?
    else {
        return Err(super::unauthorized());
    };
    IdentityKey::from_bytes(&identity_key).map_err(|_| super::unauthorized())
}

/// Uploads for the logged-in `mailbox`, holding at most `max_one_time` one-time prekeys.
pub(super) async fn apply<S: Store>(
    store: &S,
    mailbox: MailboxId,
    signed_prekey: SignedPreKey,
    one_time: Vec<OneTimePreKey>,
    max_one_time: u32,
) -> Outcome {
    let identity = owner_identity(store, mailbox).await?;
    let key = Curve25519PublicKey::from_bytes(&signed_prekey.key)
        .map_err(|_| error(ErrorCode::Invalid, "signed prekey is not a valid X25519 key"))?;
    identity
        .verify(
            &signed_prekey_message(signed_prekey.id, signed_prekey.created_at, &key),
            &signed_prekey.signature.0,
        )
        .map_err(|_| error(ErrorCode::Invalid, "signed prekey signature does not verify"))?;
    if one_time
        .iter()
        .any(|otk| Curve25519PublicKey::from_bytes(&otk.key).is_err())
    {
        return Err(error(
            ErrorCode::Invalid,
            "one-time prekey is not a valid X25519 key",
        ));
    }
    let held = store
        .upload_prekeys(mailbox, signed_prekey, one_time, max_one_time)
        .await
        .map_err(store_error)?;
    Ok(Response::PreKeysStored {
        one_time_prekeys: held,
    })
}
