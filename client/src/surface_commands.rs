//! The driver's side of [`SurfaceCommand`]: the core checks and queues; the id is answered
//! once the commit is durable, a refusal at once.

use hush_client_core::{SendError, SurfaceError};

use crate::driver::{Deferred, Driver, now_ms};
use crate::error::ClientError;
use crate::surface_command::SurfaceCommand;

impl Driver {
    pub(crate) fn surface_command(&mut self, command: SurfaceCommand) -> Option<Deferred> {
        let SurfaceCommand { peer, content, reply } = command;
        let error = match self.core.handle_send_about(now_ms(), peer, content) {
            Ok(id) => {
                return Some(Deferred::Send {
                    reply,
                    result: Ok(id),
                });
            }
            Err(SurfaceError::Send(SendError::ToSelf)) => ClientError::SendToSelf,
            Err(SurfaceError::Send(error)) => ClientError::InvalidContent(error),
            Err(error) => ClientError::Surface(error),
        };
        drop(reply.send(Err(error)));
        None
    }
}
