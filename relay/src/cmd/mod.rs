//! Request handlers, one file per request kind. Frames arrive already parsed and within their
//! size limits (hush-proto checks those while decoding); handlers check meaning and apply.

mod access;
mod ack;
mod authenticate;
mod delete_mailbox;
mod fetch_bundle;
mod report;
mod send;
mod set_access_key;
mod upload_prekeys;

pub(crate) use send::submit as submit_sends;

use std::sync::Arc;

use hush_proto::{Addressed, ErrorCode, ErrorResponse, MailboxId, Request, Response};

use crate::connection::ConnState;
use crate::server::Shared;
use crate::store::{Store, StoreError};

pub(crate) type Outcome = Result<Response, ErrorResponse>;

pub(crate) fn error(code: ErrorCode, detail: &str) -> ErrorResponse {
    ErrorResponse {
        code,
        detail: detail.chars().take(hush_proto::MAX_ERROR_DETAIL_LEN).collect(),
    }
}

/// The one answer for a wrong key, an unknown mailbox and a deleted mailbox.
pub(crate) fn unauthorized() -> ErrorResponse {
    error(ErrorCode::Unauthorized, "unauthorized")
}

/// Maps storage failures to protocol errors without leaking detail to the peer.
pub(crate) fn store_error(failure: StoreError) -> ErrorResponse {
    match failure {
        StoreError::UnknownMailbox | StoreError::NoBundle => error_not_found(),
        StoreError::QuotaExceeded { .. } => error(ErrorCode::QuotaExceeded, "recipient mailbox is full"),
        StoreError::TooManyPreKeys { .. } => error(ErrorCode::TooManyPreKeys, "too many one-time prekeys"),
        StoreError::IdentityMismatch => unauthorized(),
        other => {
            tracing::error!(error = %other, "storage failure");
            error(ErrorCode::Internal, "storage failure")
        }
    }
}

fn error_not_found() -> ErrorResponse {
    error(ErrorCode::NotFound, "not found")
}

fn logged_in(state: &ConnState) -> Result<MailboxId, ErrorResponse> {
    state.mailbox.ok_or_else(unauthorized)
}

/// How the request loop runs a request.
pub(crate) enum Route {
    /// A logged-in connection's `Send` or `SendMany`: queued with [`submit_sends`] and answered
    /// when the commit lands, while the next request is read.
    Sends(Vec<Addressed>),
    /// Anything else: run to the end with [`apply`] before the next request is read.
    Apply(Request),
}

/// Picks the way `request` runs.
pub(crate) fn route(state: &ConnState, request: Request) -> Route {
    match request {
        Request::Send { to, access, envelope } if state.mailbox.is_some() => {
            Route::Sends(vec![Addressed { to, access, envelope }])
        }
        Request::SendMany { deliveries } if state.mailbox.is_some() => Route::Sends(deliveries.into_vec()),
        other => Route::Apply(other),
    }
}

/// Runs one request.
pub(crate) async fn apply<S: Store>(
    shared: &Arc<Shared<S>>,
    state: &mut ConnState,
    request: Request,
) -> Outcome {
    match request {
        Request::Authenticate {
            identity_key,
            signature,
            registration,
        } => authenticate::apply(shared, state, identity_key, signature, registration).await,
        Request::UploadPreKeys {
            signed_prekey,
            one_time_prekeys,
        } => {
            upload_prekeys::apply(
                shared,
                logged_in(state)?,
                signed_prekey,
                one_time_prekeys.into_vec(),
            )
            .await
        }
        Request::FetchBundle { mailbox, access } => {
            fetch_bundle::apply(shared, logged_in(state)?, mailbox, access).await
        }
        Request::Send { to, access, envelope } => {
            logged_in(state)?;
            send::apply(shared, vec![Addressed { to, access, envelope }]).await
        }
        Request::SendMany { deliveries } => {
            logged_in(state)?;
            send::apply(shared, deliveries.into_vec()).await
        }
        Request::Ack { through } => ack::apply(shared, state, through).await,
        Request::DeleteMailbox => delete_mailbox::apply(shared, state).await,
        Request::Ping => Ok(Response::Pong),
        Request::SetAccessKey { key } => set_access_key::apply(shared, logged_in(state)?, key).await,
        Request::Report { mailbox } => report::apply(shared, logged_in(state)?, mailbox),
        _ => Err(error(ErrorCode::Invalid, "unsupported request")),
    }
}
