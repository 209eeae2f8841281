//! The driver's side of the account and device commands ([`DeviceCommand`]): the core does
//! the work; answers that depend on a commit wait until it is durable.

use hush_client_core::LinkDeviceError;
use hush_crypto::devices::LINK_CODE_LIFETIME;
use tokio::sync::oneshot;

use crate::device_command::DeviceCommand;
use crate::driver::{Deferred, Driver, now_ms};
use crate::error::ClientError;

impl Driver {
    pub(crate) fn device_command(&mut self, command: DeviceCommand) -> Option<Deferred> {
        let now = now_ms();
        let refused = |reply: oneshot::Sender<Result<(), ClientError>>, error: LinkDeviceError| {
            drop(reply.send(Err(ClientError::Device(error))));
            None
        };
        match command {
            DeviceCommand::List { reply } => {
                let _ = reply.send(self.core.own_account().list().clone());
                None
            }
            DeviceCommand::ContactDevices { peer, reply } => {
                let pinned = self.core.peer_lists().get(&peer).map(|pinned| pinned.devices());
                let _ = reply.send(pinned);
                None
            }
            DeviceCommand::LinkCode { reply } => {
                let fresh = self
                    .core
                    .link_code()
                    .filter(|code| now / 1000 <= code.created_at().saturating_add(LINK_CODE_LIFETIME));
                match fresh.map_or_else(|| self.core.handle_new_link_code(now), Ok) {
                    Ok(code) => Some(Deferred::Code {
                        reply,
                        code: Box::new(code),
                    }),
                    Err(error) => {
                        let _ = reply.send(Err(ClientError::Device(error)));
                        None
                    }
                }
            }
            DeviceCommand::WaitJoined { reply } => {
                self.join_waiters.push(reply);
                self.answer_join_waiters();
                None
            }
            DeviceCommand::Link {
                code,
                hand_over_account_key,
                contacts,
                reply,
            } => match self
                .core
                .handle_link_device(now, &code, hand_over_account_key, &contacts)
            {
                Ok(()) => Some(Deferred::Done { reply }),
                Err(error) => refused(reply, error),
            },
            DeviceCommand::Remove { device, reply } => match self.core.handle_remove_device(now, &device) {
                Ok(()) => Some(Deferred::Done { reply }),
                Err(error) => refused(reply, error),
            },
        }
    }

    /// Once this profile is no longer waiting to join, whoever waits for that hears its account.
    pub(crate) fn answer_join_waiters(&mut self) {
        if self.core.is_joining() {
            return;
        }
        let account = self.core.account_key();
        for waiter in self.join_waiters.drain(..) {
            let _ = waiter.send(account);
        }
    }
}
