//! The queue of outputs the driver takes, in the order it must act on them.

use std::collections::{HashMap, VecDeque};

use hush_proto::ClientFrame;

use crate::content::MessageId;
use crate::error::LoginError;
use crate::event::Event;
use crate::records::{Commit, MessageStatus, StoreOp};

/// Messages whose last reported status is remembered for the forward-only filter.
pub const STATUS_MEMORY: usize = 4096;

/// An output, to be acted on in order.
#[derive(Debug)]
#[non_exhaustive]
pub enum Output {
    /// Apply to the store (one transaction) before acting on anything after it.
    Commit(Commit),
    /// Write to the relay.
    Request(ClientFrame),
    /// Tell the app.
    Event(Event),
    /// The relay accepted the login started by [`crate::Core::handle_connected`]; the outputs
    /// after this one are the first of the session.
    LoggedIn,
    /// The relay refused the login, or broke the handshake: close the connection.
    LoginFailed(LoginError),
}

/// The outputs not yet taken.
#[derive(Debug, Default)]
pub(crate) struct Outputs {
    queue: VecDeque<Output>,
    /// Last status reported per message (bounded), so the app hears only forward moves.
    statuses: HashMap<MessageId, MessageStatus>,
}

impl Outputs {
    pub(crate) fn commit(&mut self, ops: Vec<StoreOp>) {
        if !ops.is_empty() {
            self.queue.push_back(Output::Commit(Commit { ops }));
        }
    }

    /// Queues `event`, unless it moves a message's status back from what was reported.
    /// Receipts race (a delivered receipt waits briefly, a read receipt does not; a lost
    /// `Stored` answer is learnt late), and the store already ignores backward moves.
    pub(crate) fn event(&mut self, event: Event) {
        if let Event::StatusChanged { id, status, .. } = &event {
            if self
                .statuses
                .get(id)
                .is_some_and(|known| !known.advances_to(*status))
            {
                return;
            }
            if self.statuses.len() >= STATUS_MEMORY {
                self.statuses.clear();
            }
            self.statuses.insert(*id, *status);
        }
        self.queue.push_back(Output::Event(event));
    }

    /// Adds `ops` to the first commit queued after the first `mark` outputs, so they land in
    /// the same transaction (a commit of their own if there is none).
    pub(crate) fn join_commit(&mut self, mark: usize, ops: Vec<StoreOp>) {
        let first = self.queue.iter_mut().skip(mark).find_map(|output| match output {
            Output::Commit(commit) => Some(commit),
            _ => None,
        });
        match first {
            Some(commit) => commit.ops.extend(ops),
            None => self.commit(ops),
        }
    }

    /// Outputs not yet taken.
    pub(crate) fn len(&self) -> usize {
        self.queue.len()
    }

    pub(crate) fn push(&mut self, output: Output) {
        self.queue.push_back(output);
    }

    pub(crate) fn pop(&mut self) -> Option<Output> {
        self.queue.pop_front()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::address::Address;

    #[test]
    fn status_events_only_move_forward() {
        let peer = Address::from_identity(&hush_crypto::Account::new(0, &mut rand::rng()).identity_key());
        let (one, two) = (MessageId([1; 16]), MessageId([2; 16]));
        let mut out = Outputs::default();
        for (id, status) in [
            (one, MessageStatus::Delivered),
            (one, MessageStatus::Sent),
            (two, MessageStatus::Sent),
            (one, MessageStatus::Delivered),
            (one, MessageStatus::Read),
        ] {
            out.event(Event::StatusChanged { id, peer, status });
        }
        let reported: Vec<(MessageId, MessageStatus)> = std::iter::from_fn(|| out.pop())
            .map(|output| match output {
                Output::Event(Event::StatusChanged { id, status, .. }) => (id, status),
                other => panic!("unexpected output {other:?}"),
            })
            .collect();
        assert_eq!(
            reported,
            vec![
                (one, MessageStatus::Delivered),
                (two, MessageStatus::Sent),
                (one, MessageStatus::Read)
            ]
        );
    }
}
