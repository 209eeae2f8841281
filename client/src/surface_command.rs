//! The command behind [`crate::Client`]'s reactions, edits, deletes, replies and thread
//! messages (carried out in `surface_commands.rs`).

use hush_client_core::{Address, Content, MessageId};
use tokio::sync::oneshot;

use crate::error::ClientError;

/// Content naming another message, for `peer`; answered with its id once durable.
#[derive(Debug)]
pub(crate) struct SurfaceCommand {
    pub(crate) peer: Address,
    pub(crate) content: Content,
    pub(crate) reply: oneshot::Sender<Result<MessageId, ClientError>>,
}

impl SurfaceCommand {
    /// The client stopped.
    pub(crate) fn refuse(self, error: ClientError) {
        drop(self.reply.send(Err(error)));
    }
}
