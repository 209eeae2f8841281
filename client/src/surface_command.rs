//! Reactions, edits, deletes for everyone, replies and thread messages: the command the app's
//! [`crate::Client`] sends its driver, and the driver's side (the core checks and queues; the
//! id is answered once the commit is durable).

use hush_client_core::{Address, MessageId, SendError, SurfaceError};
use tokio::sync::oneshot;

use crate::driver::{Deferred, Driver, now_ms};
use crate::error::ClientError;

/// What to send about message `target`.
#[derive(Debug)]
pub(crate) enum SurfaceAction {
    React { emoji: String },
    Unreact { emoji: String },
    Edit { text: String },
    Delete,
    Reply { text: String },
    InThread { text: String },
}

#[derive(Debug)]
pub(crate) struct SurfaceCommand {
    pub(crate) peer: Address,
    pub(crate) target: MessageId,
    pub(crate) action: SurfaceAction,
    pub(crate) reply: oneshot::Sender<Result<MessageId, ClientError>>,
}

impl SurfaceCommand {
    /// The client stopped.
    pub(crate) fn refuse(self, error: ClientError) {
        drop(self.reply.send(Err(error)));
    }
}

impl Driver {
    pub(crate) fn surface_command(&mut self, command: SurfaceCommand) -> Option<Deferred> {
        let (now, core) = (now_ms(), &mut self.core);
        let SurfaceCommand {
            peer,
            target,
            action,
            reply,
        } = command;
        let result = match &action {
            SurfaceAction::React { emoji } => core.handle_react(now, peer, target, emoji),
            SurfaceAction::Unreact { emoji } => core.handle_unreact(now, peer, target, emoji),
            SurfaceAction::Edit { text } => core.handle_edit(now, peer, target, text),
            SurfaceAction::Delete => core.handle_delete(now, peer, target),
            SurfaceAction::Reply { text } => core.handle_reply(now, peer, target, text),
            SurfaceAction::InThread { text } => core.handle_thread_send(now, peer, target, text),
        };
        match result {
            Ok(id) => Some(Deferred::Send {
                reply,
                result: Ok(id),
            }),
            Err(SurfaceError::Send(SendError::ToSelf)) => {
                drop(reply.send(Err(ClientError::SendToSelf)));
                None
            }
            Err(SurfaceError::Send(error)) => {
                drop(reply.send(Err(ClientError::InvalidContent(error))));
                None
            }
            Err(error) => {
                drop(reply.send(Err(ClientError::Surface(error))));
                None
            }
        }
    }
}
