//! The login handshake: a ping opens the stream, the relay's challenge comes before its answer,
//! and we answer the challenge with a signature bound to the TLS session.

use hush_crypto::{Account, SignaturePurpose};
use hush_proto::{
    ErrorCode, ErrorResponse, Push, RegistrationToken, Request, Response, Signature, auth_transcript,
};

use crate::error::LoginError;
use crate::link::{Link, Pending};
use crate::outputs::Outputs;

/// A login under way on a new connection.
#[derive(Debug)]
pub(crate) struct Login {
    /// The connection's TLS exporter value, which the signature binds.
    exporter: [u8; 32],
    registration: Option<RegistrationToken>,
    challenge: Option<[u8; 32]>,
    /// Pushes that came before the login was answered, for after it.
    early: Vec<Push>,
}

impl Login {
    /// Opens the stream (the relay sees it once we write on it).
    pub(crate) fn start(
        exporter: [u8; 32],
        registration: Option<RegistrationToken>,
        link: &mut Link,
        out: &mut Outputs,
    ) -> Self {
        link.request(out, Request::Ping, Pending::Open);
        Self {
            exporter,
            registration,
            challenge: None,
            early: Vec::new(),
        }
    }

    pub(crate) fn on_push(&mut self, push: Push) {
        match push {
            Push::Challenge { nonce } => self.challenge = Some(nonce),
            push => self.early.push(push),
        }
    }

    /// The opening ping was answered, so the challenge is in: sign it and log in.
    pub(crate) fn on_opened(
        &self,
        account: &Account,
        link: &mut Link,
        out: &mut Outputs,
    ) -> Result<(), LoginError> {
        let challenge = self.challenge.ok_or(LoginError::NoChallenge)?;
        let identity_key = account.identity_key().to_bytes();
        let signature = account.sign(
            SignaturePurpose::RelayLogin,
            &auth_transcript(&challenge, &self.exporter, &identity_key),
        );
        let login = Request::Authenticate {
            identity_key,
            signature: Signature(signature),
            registration: self.registration.clone(),
        };
        link.request(out, login, Pending::Login);
        Ok(())
    }

    /// The login was answered: the relay's count of our one-time prekeys and the pushes that
    /// came meanwhile.
    pub(crate) fn on_answer(
        self,
        now: u64,
        result: Result<Response, ErrorResponse>,
    ) -> Result<(u32, Vec<Push>), LoginError> {
        match result {
            Ok(Response::Authenticated { one_time_prekeys, .. }) => Ok((one_time_prekeys, self.early)),
            Ok(_) => Err(LoginError::UnexpectedAnswer),
            // Our signature is good, so the mailbox is unknown to a relay that wants a token.
            Err(error) if error.code == ErrorCode::Unauthorized => Err(match self.registration {
                None => LoginError::RegistrationTokenRequired,
                Some(token) => LoginError::RegistrationTokenRefused {
                    expired: token.expires_at < now / 1000,
                },
            }),
            Err(error) => Err(LoginError::Refused(error)),
        }
    }
}
