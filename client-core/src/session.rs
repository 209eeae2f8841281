//! The connection's life as the core sees it: login, logged in, gone.

use hush_proto::{ErrorResponse, RegistrationToken, Response};

use crate::core::Core;
use crate::error::LoginError;
use crate::login::Login;
use crate::outputs::Output;

impl Core {
    /// The driver connected; `exporter` is the connection's TLS exporter value (label
    /// `hush_net::EXPORTER_LABEL`, no context). The core logs in, with `registration` for a relay
    /// that registers new addresses by token only, and ends with [`Output::LoggedIn`] or
    /// [`Output::LoginFailed`].
    pub fn handle_connected(
        &mut self,
        now: u64,
        exporter: [u8; 32],
        registration: Option<RegistrationToken>,
    ) {
        self.handle_disconnected(now);
        self.login = Some(Login::start(
            exporter,
            registration,
            &mut self.link,
            &mut self.out,
        ));
    }

    /// Logged in; the relay holds `one_time_prekeys` of ours. Starts prekey upkeep and
    /// (re)sends the outbox. [`Core::handle_connected`] calls this itself.
    pub fn handle_authenticated(&mut self, now: u64, one_time_prekeys: u32) {
        self.link.reset(true);
        self.outbox.disconnected();
        self.upkeep.logged_in(now);
        self.access.uploading = false;
        self.run_upkeep(now, Some(one_time_prekeys));
        self.list_sync.reset();
        self.sync_own_list(now);
        self.bundle_checks.reset();
        self.check_linked_bundles();
        self.peer_fetch.reset();
        self.fetch_missing_peer_lists();
        self.fetch_unattributed_lists();
        self.upload_access_key();
        self.send_pending_reports();
        self.pump(now);
    }

    /// The connection is gone. Everything unanswered is resent after the next login.
    pub fn handle_disconnected(&mut self, _now: u64) {
        self.link.reset(false);
        self.login = None;
        self.outbox.disconnected();
        self.upkeep.disconnected();
        self.access.uploading = false;
        self.list_sync.reset();
    }

    pub(crate) fn on_opened(&mut self) {
        let opened = match &self.login {
            Some(login) => login.on_opened(&self.account, &mut self.link, &mut self.out),
            None => return,
        };
        if let Err(error) = opened {
            self.login_failed(error);
        }
    }

    pub(crate) fn on_login_answer(&mut self, now: u64, result: Result<Response, ErrorResponse>) {
        let Some(login) = self.login.take() else {
            return;
        };
        match login.on_answer(now, result) {
            Ok((one_time_prekeys, early)) => {
                self.out.push(Output::LoggedIn);
                self.handle_authenticated(now, one_time_prekeys);
                self.announce_presence(now);
                for push in early {
                    self.handle_push(now, push);
                }
            }
            Err(error) => self.login_failed(error),
        }
    }

    /// An answer to no request of ours: during a login, the relay broke the handshake.
    pub(crate) fn on_unknown_response(&mut self) {
        if self.login.is_some() {
            self.login_failed(LoginError::UnexpectedResponse);
        }
    }

    pub(crate) fn login_failed(&mut self, error: LoginError) {
        self.handle_disconnected(0);
        self.out.push(Output::LoginFailed(error));
    }
}
