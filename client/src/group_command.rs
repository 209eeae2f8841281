//! The commands behind [`crate::Client`]'s group calls, and the driver's side of them: the core
//! checks and queues; a change or message is answered once its commit is durable, a refusal at
//! once.

use hush_client_core::groups::{GroupId, GroupState};
use hush_client_core::{Address, Content, GroupSendError, MessageId};
use tokio::sync::oneshot;

use crate::driver::{Deferred, Driver, now_ms};
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
        }
    }
}

impl Driver {
    pub(crate) fn group_command(&mut self, command: GroupCommand) -> Option<Deferred> {
        let now = now_ms();
        match command {
            GroupCommand::Create { name, members, reply } => {
                match self.core.create_group(now, &name, &members) {
                    Ok(group) => Some(Deferred::Group { reply, group }),
                    Err(error) => {
                        drop(reply.send(Err(ClientError::Group(error))));
                        None
                    }
                }
            }
            GroupCommand::Change { group, change, reply } => {
                let result = match change {
                    GroupChange::Add(members) => self.core.group_add(now, group, &members),
                    GroupChange::Remove(members) => self.core.group_remove(now, group, &members),
                    GroupChange::Leave => self.core.group_leave(now, group),
                };
                match result {
                    Ok(()) => Some(Deferred::Done { reply }),
                    Err(error) => {
                        drop(reply.send(Err(ClientError::Group(error))));
                        None
                    }
                }
            }
            GroupCommand::Send {
                group,
                content,
                reply,
            } => match self.core.send_group(now, group, content) {
                Ok(id) => Some(Deferred::Send {
                    reply,
                    result: Ok(id),
                }),
                Err(error) => {
                    let error = match error {
                        GroupSendError::Send(error) => ClientError::InvalidContent(error),
                        other => ClientError::GroupSend(other),
                    };
                    drop(reply.send(Err(error)));
                    None
                }
            },
            GroupCommand::List { reply } => {
                let groups = self.core.groups().into_iter().cloned().collect();
                drop(reply.send(groups));
                None
            }
        }
    }
}
