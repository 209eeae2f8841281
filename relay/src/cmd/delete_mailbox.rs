//! `DeleteMailbox`: the owner deletes its mailbox, messages and prekeys; nothing is left behind.
//! The connection closes after the answer.

use std::sync::Arc;

use hush_proto::Response;

use super::{Outcome, logged_in, store_error};
use crate::connection::ConnState;
use crate::server::Shared;
use crate::store::Store;

pub(super) async fn apply<S: Store>(shared: &Arc<Shared<S>>, state: &mut ConnState) -> Outcome {
    let mailbox = logged_in(state)?;
    shared.store.delete_mailbox(mailbox).await.map_err(store_error)?;
    if let Some(online) = &state.online {
        shared.hub.unregister(mailbox, online.connection_id);
    }
    state.close_after = true;
    Ok(Response::MailboxDeleted)
}
