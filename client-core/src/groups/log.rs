//! A group's log of updates and the one order every member puts them in.
//!
//! The state is a function of the set of updates held, not of the order they arrived in: sort
//! them by (version, demoting operations first, hash), then take them one after another from the
//! creation's state: each takes the next version, and applies if its author may make it there
//! (else it is refused and changes nothing else). An update waits while its version is more than one past the
//! state's (it was made on a state this member has not reached). Two admins updating at the same
//! version: the first in that order applies at that version, the other is re-based onto it (it
//! applies one version later if still allowed). So members holding the same updates hold the
//! same state (PROTOCOL.md, "Group updates").

use std::collections::BTreeMap;

use hush_crypto::Account;
use hush_crypto::devices::AccountKey;

use super::operation::GroupOperation;
use super::update::{GroupUpdate, UpdateHash};
use super::{GroupRuleError, GroupState, GroupUpdateError, MAX_WAITING_UPDATES};

/// Where an update stands in the log's order.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Received {
    /// Applied: the state includes it.
    Applied,
    /// Waits for updates of earlier versions.
    Waiting,
    /// Ordered after a state it does not apply to; kept (an update ordered before it may still
    /// arrive and make it apply). It takes its version but changes nothing else.
    Refused(GroupRuleError),
    /// Already held; nothing changed.
    Duplicate,
}

/// One group's updates and the state they order to.
#[derive(Debug, Clone)]
pub struct GroupLog {
    creation: GroupUpdate,
    /// Every update but the creation, in the log's order.
    updates: BTreeMap<(u64, bool, UpdateHash), GroupUpdate>,
    state: GroupState,
    outcomes: BTreeMap<UpdateHash, Received>,
}

impl GroupLog {
    /// A log from the group's creation. `author_account` is the account the caller resolved the
    /// creation's author device to (through that contact's accepted device list, or our own).
    pub fn new(creation: GroupUpdate, author_account: &AccountKey) -> Result<Self, GroupUpdateError> {
        if creation.author_account() != *author_account {
            return Err(GroupUpdateError::AuthorAccountMismatch);
        }
        let state = GroupState::created(&creation)?;
        Ok(Self {
            creation,
            updates: BTreeMap::new(),
            state,
            outcomes: BTreeMap::new(),
        })
    }

    /// Rebuilds a log from updates it held before (already verified and resolved when first
    /// received): the creation first, the rest in any order.
    pub fn restore(
        creation: GroupUpdate,
        updates: impl IntoIterator<Item = GroupUpdate>,
    ) -> Result<Self, GroupUpdateError> {
        let mut log = Self::new(creation.clone(), &creation.author_account())?;
        for update in updates {
            log.insert(update)?;
        }
        Ok(log)
    }

    /// Takes an update that arrived over the pairwise session of its author device.
    /// `author_account` is the account the caller resolved that device to; the update must name
    /// it. Returns where the update then stands; other held updates may have moved too (a late
    /// update ordered before them re-bases them).
    pub fn receive(
        &mut self,
        update: GroupUpdate,
        author_account: &AccountKey,
    ) -> Result<Received, GroupUpdateError> {
        if update.author_account() != *author_account {
            return Err(GroupUpdateError::AuthorAccountMismatch);
        }
        self.insert(update)
    }

    /// Makes, signs and applies our own update at the next version, for sending to every
    /// member. Refused (`NotAllowed`, nothing changes) if it would not apply to the state.
    pub fn make_update(
        &mut self,
        device: &Account,
        author_account: AccountKey,
        operation: GroupOperation,
    ) -> Result<GroupUpdate, GroupUpdateError> {
        let version = self.state.version().saturating_add(1);
        let update = GroupUpdate::sign(self.state.id(), version, author_account, device, operation)?;
        self.state.apply(&update)?;
        self.insert(update.clone())?;
        Ok(update)
    }

    /// The group as the log orders it.
    pub fn state(&self) -> &GroupState {
        &self.state
    }

    /// The creation, then every other update held in the log's order (what a new member is
    /// sent, and what a store keeps).
    pub fn updates(&self) -> impl Iterator<Item = &GroupUpdate> {
        core::iter::once(&self.creation).chain(self.updates.values())
    }

    /// Where a held update stands (the creation is `Applied`).
    pub fn outcome(&self, hash: &UpdateHash) -> Option<&Received> {
        if *hash == self.creation.hash() {
            return Some(&Received::Applied);
        }
        self.outcomes.get(hash)
    }

    fn insert(&mut self, update: GroupUpdate) -> Result<Received, GroupUpdateError> {
        if update.group_id() != self.state.id() {
            return Err(GroupUpdateError::WrongGroup);
        }
        let hash = update.hash();
        if hash == self.creation.hash() || self.outcomes.contains_key(&hash) {
            return Ok(Received::Duplicate);
        }
        let waiting = self
            .outcomes
            .values()
            .filter(|outcome| **outcome == Received::Waiting)
            .count();
        if update.version() > self.state.version().saturating_add(1) && waiting >= MAX_WAITING_UPDATES {
            return Err(GroupUpdateError::TooManyWaiting {
                max: MAX_WAITING_UPDATES,
            });
        }
        self.updates.insert(update.order_key(), update);
        self.reorder()?;
        Ok(self.outcomes.get(&hash).cloned().unwrap_or(Received::Waiting))
    }

    /// Applies every held update in the log's order to the creation's state.
    fn reorder(&mut self) -> Result<(), GroupUpdateError> {
        let mut state = GroupState::created(&self.creation)?;
        let mut outcomes = BTreeMap::new();
        for update in self.updates.values() {
            // Sorted by version first, so once one waits every later one does.
            let outcome = if update.version() > state.version().saturating_add(1) {
                Received::Waiting
            } else {
                match state.apply(update) {
                    Ok(next) => {
                        state = next;
                        Received::Applied
                    }
                    // A refused update still takes its version, so that no update arriving
                    // later can lower the version: every update placed stays placed.
                    Err(error) => {
                        state.version = state.version.saturating_add(1);
                        Received::Refused(error)
                    }
                }
            };
            outcomes.insert(update.hash(), outcome);
        }
        self.state = state;
        self.outcomes = outcomes;
        Ok(())
    }
}
