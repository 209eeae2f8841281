//! The relay's tasks beside its connections: the purge of expired messages, the metrics
//! endpoint, and following what other relay nodes sharing the store did.

pub(crate) mod metrics_server;
pub(crate) mod purge;

use std::sync::Arc;

use tokio::sync::mpsc;

use crate::hub::Hub;
use crate::store::NodeNotice;

/// Acts on what other relay nodes sharing the store did (see
/// [`Store::notices`](crate::store::Store::notices)): wakes the connection of each mailbox
/// another node stored messages for, if it is logged in here, so its delivery task reads and
/// pushes them at once; closes the connection here of a mailbox that logged in on another node.
pub(crate) async fn follow_other_nodes(hub: Arc<Hub>, mut notices: mpsc::Receiver<NodeNotice>) {
    while let Some(notice) = notices.recv().await {
        match notice {
            NodeNotice::Stored(mailbox) => hub.wake(&mailbox),
            NodeNotice::LoggedIn(mailbox) => hub.replaced_elsewhere(&mailbox),
        }
    }
}
