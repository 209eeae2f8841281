#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The login handshake as core state: the core opens the stream with a ping, answers the
//! relay's challenge with a signature bound to the TLS exporter, and reports the outcome as an
//! output; the driver only moves the bytes.

use hush_client_core::{Core, LoginError, Output};
use hush_crypto::{IdentityKey, SignaturePurpose};
use hush_proto::{
    ClientFrame, ErrorCode, ErrorResponse, MailboxId, Push, RegistrationToken, Request, RequestId, Response,
    Signature, auth_transcript,
};
use rand::SeedableRng;
use rand::rngs::StdRng;

const NOW: u64 = 1_700_000_000_000;
const EXPORTER: [u8; 32] = [7; 32];
const NONCE: [u8; 32] = [9; 32];

fn core() -> Core {
    let mut core = Core::create(NOW, Box::new(StdRng::seed_from_u64(1)));
    while core.poll_output().is_some() {}
    core
}

fn outputs(core: &mut Core) -> Vec<Output> {
    std::iter::from_fn(|| core.poll_output()).collect()
}

fn only_request(core: &mut Core) -> ClientFrame {
    match outputs(core).as_slice() {
        [Output::Request(frame)] => frame.clone(),
        other => panic!("expected one request, got {other:?}"),
    }
}

/// Connects and answers the ping after the challenge: returns the login frame.
fn up_to_login(core: &mut Core, registration: Option<RegistrationToken>) -> ClientFrame {
    core.handle_connected(NOW, EXPORTER, registration);
    let ping = only_request(core);
    assert!(matches!(ping.request, Request::Ping));
    core.handle_push(NOW, Push::Challenge { nonce: NONCE });
    assert!(core.poll_output().is_none(), "the challenge alone sends nothing");
    core.handle_response(NOW, ping.id, Ok(Response::Pong));
    only_request(core)
}

fn authenticated(one_time_prekeys: u32) -> Result<Response, ErrorResponse> {
    Ok(Response::Authenticated {
        mailbox: MailboxId([0; 32]),
        one_time_prekeys,
    })
}

fn refusal(code: ErrorCode) -> Result<Response, ErrorResponse> {
    Err(ErrorResponse {
        code,
        detail: "no".into(),
    })
}

fn failure(core: &mut Core) -> LoginError {
    match outputs(core).as_slice() {
        [Output::LoginFailed(error)] => error.clone(),
        other => panic!("expected a login failure, got {other:?}"),
    }
}

#[test]
fn the_core_signs_the_challenge_bound_to_the_exporter_and_comes_online() {
    let mut core = core();
    let login = up_to_login(&mut core, None);
    let Request::Authenticate {
        identity_key,
        signature,
        registration,
    } = login.request
    else {
        panic!("expected a login, got {:?}", login.request);
    };
    assert_eq!(identity_key, core.account().identity_key().to_bytes());
    assert_eq!(registration, None);
    let key = IdentityKey::from_bytes(&identity_key).unwrap();
    let transcript = auth_transcript(&NONCE, &EXPORTER, &identity_key);
    key.verify_for(SignaturePurpose::RelayLogin, &transcript, &signature.0)
        .expect("the signature covers the challenge and the exporter");
    let other_exporter = auth_transcript(&NONCE, &[8; 32], &identity_key);
    assert!(
        key.verify_for(SignaturePurpose::RelayLogin, &other_exporter, &signature.0)
            .is_err()
    );
    assert!(!core.is_online());

    // A push during the login waits for it; the answer brings the core online first.
    core.handle_push(NOW, Push::PreKeysLow { remaining: 3 });
    core.handle_response(NOW, login.id, authenticated(100));
    assert!(core.is_online());
    let outputs = outputs(&mut core);
    assert!(matches!(outputs.first(), Some(Output::LoggedIn)), "{outputs:?}");
    let uploads = outputs
        .iter()
        .filter(|output| {
            matches!(
                output,
                Output::Request(ClientFrame {
                    request: Request::UploadPreKeys { .. },
                    ..
                })
            )
        })
        .count();
    // The signed prekey goes up at login; the early `PreKeysLow` is handled after it, while
    // that upload is in flight.
    assert_eq!(uploads, 1, "{outputs:?}");
    assert!(core.is_uploading_prekeys());
}

#[test]
fn a_ping_answered_without_a_challenge_fails_the_login() {
    let mut core = core();
    core.handle_connected(NOW, EXPORTER, None);
    let ping = only_request(&mut core);
    core.handle_response(NOW, ping.id, Ok(Response::Pong));
    assert_eq!(failure(&mut core), LoginError::NoChallenge);
    assert!(!core.is_online());
}

#[test]
fn an_answer_to_a_request_never_made_fails_the_login() {
    let mut core = core();
    core.handle_connected(NOW, EXPORTER, None);
    let ping = only_request(&mut core);
    core.handle_response(NOW, RequestId(ping.id.0 + 1000), Ok(Response::Pong));
    assert_eq!(failure(&mut core), LoginError::UnexpectedResponse);
}

#[test]
fn refusals_say_whether_a_registration_token_is_wanted_or_was_refused() {
    let mut core = core();
    let login = up_to_login(&mut core, None);
    core.handle_response(NOW, login.id, refusal(ErrorCode::Unauthorized));
    assert_eq!(failure(&mut core), LoginError::RegistrationTokenRequired);

    let expired = RegistrationToken {
        expires_at: NOW / 1000 - 1,
        signature: Signature([0; 64]),
    };
    let login = up_to_login(&mut core, Some(expired.clone()));
    assert!(
        matches!(&login.request, Request::Authenticate { registration: Some(token), .. } if *token == expired)
    );
    core.handle_response(NOW, login.id, refusal(ErrorCode::Unauthorized));
    assert_eq!(
        failure(&mut core),
        LoginError::RegistrationTokenRefused { expired: true }
    );

    let valid = RegistrationToken {
        expires_at: NOW / 1000 + 60,
        signature: Signature([0; 64]),
    };
    let login = up_to_login(&mut core, Some(valid));
    core.handle_response(NOW, login.id, refusal(ErrorCode::Unauthorized));
    assert_eq!(
        failure(&mut core),
        LoginError::RegistrationTokenRefused { expired: false }
    );

    let login = up_to_login(&mut core, None);
    core.handle_response(NOW, login.id, refusal(ErrorCode::RateLimited));
    assert!(matches!(
        failure(&mut core),
        LoginError::Refused(ErrorResponse {
            code: ErrorCode::RateLimited,
            ..
        })
    ));

    let login = up_to_login(&mut core, None);
    core.handle_response(NOW, login.id, Ok(Response::Pong));
    assert_eq!(failure(&mut core), LoginError::UnexpectedAnswer);
    assert!(!core.is_online());
}
