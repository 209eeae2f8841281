//! Request handlers, one file per request kind. Frames arrive already parsed and within their
//! size limits (hush-proto checks those while decoding); handlers check meaning and apply. Each
//! handler is given the parts of the relay it uses.

mod access;
mod ack;
mod authenticate;
mod delete_mailbox;
pub(crate) mod device_lists;
mod ephemeral;
mod fetch_bundle;
mod report;
mod send;
mod send_shared;
mod set_access_key;
mod upload_kem_prekeys;
mod upload_prekeys;

use hush_proto::{Addressed, ErrorCode, ErrorResponse, MailboxId, Request, Response};

use crate::limits::TokenBucket;
use crate::session::Session;
use crate::shared::Shared;
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

fn logged_in(session: &Session) -> Result<MailboxId, ErrorResponse> {
    session.mailbox.ok_or_else(unauthorized)
}

/// Runs one request; `respond` gets its answer. A logged-in connection's `Send`, `SendMany` or
/// `SendShared` returns once queued to the store and is answered when the commit lands, so the
/// next request is read meanwhile (`respond` may then run on a store task and must not block);
/// every other request is run to its end and answered before this returns.
pub(crate) async fn run<S, R>(shared: &Shared<S>, session: &mut Session, request: Request, respond: R)
where
    S: Store,
    R: FnOnce(Outcome) + Send + 'static,
{
    let deliveries = match request {
        Request::Send { to, access, envelope } => vec![Addressed { to, access, envelope }],
        Request::SendMany { deliveries } => deliveries.into_vec(),
        Request::SendShared { .. } if session.mailbox.is_none() => return respond(Err(unauthorized())),
        Request::SendShared { body, deliveries } => {
            match send_shared::expand(&shared.limits, body, deliveries) {
                Ok(deliveries) => deliveries,
                Err(refused) => return respond(Err(refused)),
            }
        }
        other => return respond(apply(shared, session, other).await),
    };
    if session.mailbox.is_none() {
        return respond(Err(unauthorized()));
    }
    let post = send::Post {
        store: &*shared.store,
        hub: &shared.hub,
        metrics: &shared.metrics,
        strangers: &shared.strangers,
        clock: &shared.clock,
        limits: &shared.limits,
    };
    send::submit(post, deliveries, respond).await;
}

/// What the device-list requests use of the relay.
fn directory<S>(shared: &Shared<S>) -> device_lists::Directory<'_, S> {
    device_lists::Directory {
        store: &*shared.store,
        metrics: &shared.metrics,
        requests: &shared.device_list_requests,
    }
}

/// Runs a request other than a send.
async fn apply<S: Store>(shared: &Shared<S>, session: &mut Session, request: Request) -> Outcome {
    let store = &*shared.store;
    let limits = &shared.limits;
    match request {
        Request::Authenticate {
            identity_key,
            signature,
            registration,
        } => {
            let relay = authenticate::Relay {
                store,
                hub: &shared.hub,
                clock: &shared.clock,
                authority: shared.registration_key.as_ref(),
                prekey_low_threshold: limits.prekey_low_threshold,
            };
            let login = authenticate::Login {
                identity_key,
                signature,
                registration,
            };
            authenticate::apply(relay, session, login).await
        }
        Request::UploadPreKeys {
            signed_prekey,
            one_time_prekeys,
        } => {
            let mailbox = logged_in(session)?;
            let one_time = one_time_prekeys.into_vec();
            upload_prekeys::apply(
                store,
                mailbox,
                signed_prekey,
                one_time,
                limits.max_one_time_prekeys,
            )
            .await
        }
        Request::FetchBundle { mailbox, access } => {
            let directory = fetch_bundle::Directory {
                store,
                hub: &shared.hub,
                metrics: &shared.metrics,
                fetches: &shared.bundle_fetches,
                strangers: &shared.strangers,
                clock: &shared.clock,
                prekey_low_threshold: limits.prekey_low_threshold,
            };
            fetch_bundle::apply(directory, logged_in(session)?, mailbox, access).await
        }
        Request::Ack { through } => {
            let mailbox = logged_in(session)?;
            ack::apply(store, &shared.metrics, mailbox, session.pushed_through(), through).await
        }
        Request::DeleteMailbox => delete_mailbox::apply(store, &shared.hub, session).await,
        Request::Ping => Ok(Response::Pong),
        Request::SetAccessKey { key } => set_access_key::apply(store, logged_in(session)?, key).await,
        Request::Report { mailbox } => {
            report::apply(&shared.metrics, &shared.reports, logged_in(session)?, mailbox)
        }
        Request::PublishDeviceList { list, membership } => {
            let mailbox = logged_in(session)?;
            device_lists::publish::apply(directory(shared), mailbox, list, membership).await
        }
        Request::FetchDeviceList { account } => {
            device_lists::fetch::apply(directory(shared), logged_in(session)?, account).await
        }
        Request::SendEphemeral { to, access, envelope } => {
            logged_in(session)?;
            let relay = ephemeral::Relay {
                store,
                hub: &shared.hub,
                metrics: &shared.metrics,
            };
            let budget = session.ephemeral.get_or_insert_with(|| {
                TokenBucket::new(
                    f64::from(limits.ephemeral_per_second),
                    f64::from(limits.ephemeral_burst),
                )
            });
            ephemeral::apply(relay, budget, to, access, envelope).await
        }
        Request::UploadKemPreKeys {
            last_resort,
            one_time,
        } => {
            let mailbox = logged_in(session)?;
            let one_time = one_time.into_vec();
            let cap = limits.max_kem_one_time_prekeys;
            upload_kem_prekeys::apply(store, mailbox, last_resort, one_time, cap).await
        }
        // Sends are run by `run`; requests of a later protocol version hush-proto may add need a
        // login first, like every request but a login and a ping.
        _ => {
            logged_in(session)?;
            Err(error(ErrorCode::Invalid, "unsupported request"))
        }
    }
}
