//! The commands behind [`crate::Client`]'s group calls (carried out in `group_commands.rs`).

use hush_client_core::groups::{GroupId, GroupState};
use hush_client_core::{Address, Content, MessageId};
use tokio::sync::oneshot;

use crate::error::ClientError;

/// What a group call asks the core.
#[derive(Debug)]
pub(crate) enum GroupCommand {
    Create {
        name: String,
        members: Vec<Address>,
        reply: oneshot::Sender<Result<GroupId, ClientError>>,
    },
    Change {
        group: GroupId,
        change: GroupChange,
        reply: oneshot::Sender<Result<(), ClientError>>,
    },
    Send {
        group: GroupId,
        content: Content,
        reply: oneshot::Sender<Result<MessageId, ClientError>>,
    },
    List {
        reply: oneshot::Sender<Vec<GroupState>>,
    },
    /// Mark these incoming messages of `group` (each with its author's account) read.
    MarkRead {
        group: GroupId,
        read: Vec<(MessageId, Address)>,
        reply: oneshot::Sender<Result<(), ClientError>>,
    },
}

/// A change to a group's members.
#[derive(Debug, Clone)]
pub(crate) enum GroupChange {
    Add(Vec<Address>),
    Remove(Vec<Address>),
    Leave,
}

impl GroupCommand {
    /// The client stopped.
    pub(crate) fn refuse(self, error: ClientError) {
        match self {
            Self::Create { reply, .. } => drop(reply.send(Err(error))),
            Self::Change { reply, .. } => drop(reply.send(Err(error))),
            Self::Send { reply, .. } => drop(reply.send(Err(error))),
            Self::List { reply } => drop(reply.send(Vec::new())),
            Self::MarkRead { reply, .. } => drop(reply.send(Err(error))),
        }
    }
}
