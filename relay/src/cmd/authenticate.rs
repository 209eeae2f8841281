//! `Authenticate`: prove possession of the identity key by signing the challenge bound to this
//! TLS session; open registration, or a token from the operator's registration authority.

use std::sync::Arc;

use hush_crypto::{IdentityKey, SignaturePurpose};
use hush_proto::{
    ErrorCode, MailboxId, Push, RegistrationToken, Response, ServerFrame, Signature, auth_transcript,
    registration_message,
};

use super::{Outcome, error, store_error, unauthorized};
use crate::clock::Clock;
use crate::delivery::Online;
use crate::hub::Hub;
use crate::session::Session;
use crate::store::{MailboxStatus, Store};

/// What a login uses of the relay.
pub(super) struct Relay<'a, S> {
    pub(super) store: &'a S,
    pub(super) hub: &'a Hub,
    pub(super) clock: &'a Clock,
    /// The registration authority's key; `None` for open registration.
    pub(super) authority: Option<&'a IdentityKey>,
    pub(super) prekey_low_threshold: u32,
}

/// The `Authenticate` request.
pub(super) struct Login {
    pub(super) identity_key: [u8; 32],
    pub(super) signature: Signature,
    pub(super) registration: Option<RegistrationToken>,
}

pub(super) async fn apply<S: Store>(relay: Relay<'_, S>, session: &mut Session, login: Login) -> Outcome {
    let Relay {
        store,
        hub,
        clock,
        authority,
        prekey_low_threshold,
    } = relay;
    let Login {
        identity_key,
        signature,
        registration,
    } = login;
    if session.mailbox.is_some() {
        return Err(error(ErrorCode::Invalid, "already logged in"));
    }
    // A malformed key and a bad signature take the same path and give the same answer.
    let transcript = auth_transcript(&session.challenge, &session.exporter, &identity_key);
    let verified = IdentityKey::from_bytes(&identity_key).is_ok_and(|key| {
        key.verify_for(SignaturePurpose::RelayLogin, &transcript, &signature.0)
            .is_ok()
    });
    if !verified {
        return Err(unauthorized());
    }
    let mailbox = MailboxId::for_identity(&identity_key);
    let now = clock.now();
    match store.mailbox_status(mailbox).await.map_err(store_error)? {
        MailboxStatus::Active { identity_key: stored } if stored == identity_key => {}
        MailboxStatus::Active { .. } => return Err(unauthorized()),
        MailboxStatus::Unknown => {
            if let Some(authority) = authority {
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
            store
                .register(mailbox, identity_key, now)
                .await
                .map_err(store_error)?;
        }
    }
    let online = Arc::new(Online::new(session.id, session.outbox.clone()));
    hub.register(mailbox, online.clone());
    // Other relay nodes sharing the store close their (older) connection of the mailbox.
    store.announce_login(mailbox).await;
    session.mailbox = Some(mailbox);
    session.online = Some(online);
    let remaining = store.one_time_prekey_count(mailbox).await.map_err(store_error)?;
    if remaining < prekey_low_threshold {
        let _ = session
            .outbox
            .try_send(ServerFrame::Push(Push::PreKeysLow { remaining }));
    }
    tracing::debug!(connection = session.id, "logged in");
    Ok(Response::Authenticated {
        mailbox,
        one_time_prekeys: remaining,
    })
}
