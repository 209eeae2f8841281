//! `DeleteMailbox`: the owner deletes its mailbox, messages and prekeys; nothing is left behind.
//! The connection closes after the answer.

use hush_proto::Response;

use super::{Outcome, logged_in, store_error};
use crate::hub::Hub;
use crate::session::Session;
use crate::store::Store;

pub(super) async fn apply<S: Store>(store: &S, hub: &Hub, session: &mut Session) -> Outcome {
    let mailbox = logged_in(session)?;
    store.delete_mailbox(mailbox).await.map_err(store_error)?;
    if let Some(online) = &session.online {
        hub.unregister(mailbox, online.connection_id);
    }
    session.close_after = true;
    Ok(Response::MailboxDeleted)
}
