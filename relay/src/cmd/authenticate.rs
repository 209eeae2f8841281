//! `Authenticate`: prove possession of the identity key by signing the challenge bound to this
//! TLS session; open registration, or a token from the operator's registration authority.

use std::sync::Arc;

use hush_crypto::{IdentityKey, SignaturePurpose};
use hush_proto::{
    ErrorCode, MailboxId, Push, RegistrationToken, Response, ServerFrame, Signature, auth_transcript,
    registration_message,
};

use super::{Outcome, error, store_error, unauthorized};
use crate::connection::ConnState;
use crate::hub::Online;
use crate::server::Shared;
use crate::store::{MailboxStatus, Store};

pub(super) async fn apply<S: Store>(
    shared: &Arc<Shared<S>>,
    state: &mut ConnState,
    identity_key: [u8; 32],
    signature: Signature,
    registration: Option<RegistrationToken>,
) -> Outcome {
    if state.mailbox.is_some() {
        return Err(error(ErrorCode::Invalid, "already logged in"));
    }
    // A malformed key and a bad signature take the same path and give the same answer.
    let transcript = auth_transcript(&state.challenge, &state.exporter, &identity_key);
    let verified = IdentityKey::from_bytes(&identity_key).is_ok_and(|key| {
        key.verify_for(SignaturePurpose::RelayLogin, &transcript, &signature.0)
            .is_ok()
    });
    if !verified {
        return Err(unauthorized());
    }
    let mailbox = MailboxId::for_identity(&identity_key);
    let now = shared.clock.now();
    match shared.store.mailbox_status(mailbox).await.map_err(store_error)? {
        MailboxStatus::Active { identity_key: stored } if stored == identity_key => {}
        MailboxStatus::Active { .. } => return Err(unauthorized()),
        MailboxStatus::Unknown => {
            if let Some(authority) = &shared.registration_key {
                // Missing, expired and forged tokens all get the uniform answer: an unknown (or
                // deleted) mailbox must look the same as a wrong key.
                let valid = registration.is_some_and(|token| {
                    token.expires_at >= now
                        && authority
                            .verify_for(
                                SignaturePurpose::RegistrationToken,
                                &registration_message(&identity_key, token.expires_at),
                                &token.signature.0,
                            )
                            .is_ok()
                });
                if !valid {
                    return Err(unauthorized());
                }
            }
            shared
                .store
                .register(mailbox, identity_key, now)
                .await
                .map_err(store_error)?;
        }
    }
    let online = Arc::new(Online::new(state.id, state.outbox.clone()));
    shared.hub.register(mailbox, online.clone());
    // Other relay nodes sharing the store close their (older) connection of the mailbox.
    shared.store.announce_login(mailbox).await;
    state.mailbox = Some(mailbox);
    state.online = Some(online);
    let remaining = shared
        .store
        .one_time_prekey_count(mailbox)
        .await
        .map_err(store_error)?;
    if remaining < shared.config.limits.prekey_low_threshold {
        let _ = state
            .outbox
            .try_send(ServerFrame::Push(Push::PreKeysLow { remaining }));
    }
    tracing::debug!(connection = state.id, "logged in");
    Ok(Response::Authenticated {
        mailbox,
        one_time_prekeys: remaining,
    })
}
