//! `SetAccessKey`: store the verifier of our mailbox's new access key (or clear it). The key
//! itself is not kept, so the database does not hand it out; the old key stops working at once.

use hush_proto::{AccessKey, MailboxId, Response};

use super::{Outcome, store_error};
use crate::store::Store;

pub(super) async fn apply<S: Store>(store: &S, mailbox: MailboxId, key: Option<AccessKey>) -> Outcome {
    store
        .set_access_verifier(mailbox, key.as_ref().map(AccessKey::verifier))
        .await
        .map_err(store_error)?;
    Ok(Response::AccessKeySet)
}
