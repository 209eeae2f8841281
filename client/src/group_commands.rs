//! The driver's side of [`GroupCommand`]: the core checks and queues; a change or message is
//! answered once its commit is durable, a refusal at once.

use hush_client_core::GroupSendError;

use crate::driver::{Deferred, Driver, now_ms};
use crate::error::ClientError;
use crate::group_command::{GroupChange, GroupCommand};

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
            GroupCommand::MarkRead { group, read, reply } => {
                self.core.handle_mark_group_read(now, group, &read);
                Some(Deferred::Done { reply })
            }
            GroupCommand::List { reply } => {
                let groups = self.core.groups().into_iter().cloned().collect();
                drop(reply.send(groups));
                None
            }
        }
    }
}
