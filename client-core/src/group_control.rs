//! Groups in the core, the control side (proto/PROTOCOL.md, "Group control messages"): making
//! and changing groups, sending each change and our sender key to every member over the
//! pairwise sessions, and taking the ones that arrive.
//!
//! Every control message is an unnumbered pairwise payload ([`Body::Group`]) to a member
//! account (so every device of it gets one, through the fan-out), kept in the outbox until the
//! relay stores it. The group log orders updates whatever order they arrive in, and a sender key
//! delivered twice is taken once, so control messages need no stream numbers.
//!
//! Our sending chain rotates (a new chain at the next epoch, sent to the members there then)
//! whenever an account leaves or joins the group, so a removed member cannot read what is sent
//! after, nor a new one what was sent before. The key we hand out is always the chain as the
//! epoch began, so a member whose first copy was refused (it raced the log) and asks again reads
//! the whole epoch.

use std::collections::{BTreeMap, BTreeSet};

use hush_crypto::devices::AccountKey;
use hush_crypto::group::{GroupSender, SenderKeyDistribution};

use crate::address::Address;
use crate::content::Body;
use crate::core::Core;
use crate::devices::peers::peer_account_key;
use crate::event::{ClaimedSender, DropReason, Event, PayloadFault};
use crate::groups::{
    ChainId, ControlError, GroupControl, GroupId, GroupLog, GroupOperation, GroupRecord, GroupState,
    GroupUpdate, GroupUpdateError, Held, MAX_CONTROL_UPDATES, MAX_GROUP_HELD, Predecessor, Received, Role,
    claims, held_key, held_unattributed, held_updates, unhold,
};
use crate::records::StoreOp;

/// Why a group command was refused. Nothing was queued or stored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum GroupCommandError {
    /// No group with this id.
    #[error("no such group")]
    UnknownGroup,
    /// We are not (or no longer) a member.
    #[error("not a member of this group")]
    NotMember,
    /// The member at `index` of the list given is not an account we know: neither a contact
    /// nor an account whose device list we pinned, one of our own devices, or an address the
    /// relay said has no device list (a legacy device address).
    #[error("member {index} of the list is not a known account")]
    UnknownAccount {
        /// Its position in the list.
        index: usize,
    },
    /// The group rules refuse it (not an admin, already a member, ...).
    #[error("refused by the group rules: {0}")]
    Refused(#[from] GroupUpdateError),
}

/// What [`Core::group_chains`] reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupChainsSummary {
    /// Our sending chain's epoch; `None` once we are no longer a member.
    pub own_epoch: Option<u64>,
    /// The other member devices' chains: device identity key and epoch.
    pub received: Vec<(hush_crypto::IdentityKey, u64)>,
}

impl Core {
    /// The groups we are or were in.
    pub fn groups(&self) -> Vec<&GroupState> {
        self.groups.values().map(GroupRecord::state).collect()
    }

    /// One group.
    pub fn group(&self, id: &GroupId) -> Option<&GroupState> {
        self.groups.get(id).map(GroupRecord::state)
    }

    /// The sending chains of group `id` as this device holds them, for diagnostics and tests:
    /// our own chain's epoch (`None` once we are out), and each other member device's chains
    /// (its identity key and the chain's epoch).
    pub fn group_chains(&self, id: &GroupId) -> Option<GroupChainsSummary> {
        let record = self.groups.get(id)?;
        Some(GroupChainsSummary {
            own_epoch: record.sender.as_ref().map(|sender| sender.label().epoch),
            received: record
                .chains
                .receivers()
                .map(|receiver| (receiver.label().sender, receiver.label().epoch))
                .collect(),
        })
    }

    /// Whether we are a member of `id` now.
    pub fn is_group_member(&self, id: &GroupId) -> bool {
        self.group(id)
            .is_some_and(|state| state.role(&self.account_key()).is_some())
    }

    /// Makes a group named `name` with us as its admin and `members` (contacts' account
    /// addresses) as members, and sends it to them.
    pub fn create_group(
        &mut self,
        now: u64,
        name: &str,
        members: &[Address],
    ) -> Result<GroupId, GroupCommandError> {
        let me = self.account_key();
        let mut listed: BTreeMap<AccountKey, Role> = self
            .member_accounts(members)?
            .into_iter()
            .map(|account| (account, Role::Member))
            .collect();
        listed.insert(me, Role::Admin);
        let id = GroupId::random(&mut self.rng);
        let operation = GroupOperation::Create {
            name: name.to_owned(),
            description: None,
            members: listed,
        };
        let creation = GroupUpdate::sign(id, 1, me, &self.account, operation)?;
        let log = GroupLog::new(creation.clone(), &me)?;
        self.join_group(now, log, false);
        let mut ops = Vec::new();
        self.queue_control(now, &id, &GroupControl::Updates(vec![creation]), None, &mut ops);
        self.commit(ops);
        self.pump(now);
        Ok(id)
    }

    /// Adds `members` (contacts' account addresses) to group `id`; they are sent its whole log.
    pub fn group_add(&mut self, now: u64, id: GroupId, members: &[Address]) -> Result<(), GroupCommandError> {
        let accounts = self.member_accounts(members)?;
        let operation = GroupOperation::Add {
            members: accounts.iter().map(|account| (*account, Role::Member)).collect(),
        };
        self.make_update(now, id, operation)
    }

    /// Removes `members` (account addresses) from group `id`.
    pub fn group_remove(
        &mut self,
        now: u64,
        id: GroupId,
        members: &[Address],
    ) -> Result<(), GroupCommandError> {
        let accounts = members.iter().filter_map(peer_account_key).collect();
        self.make_update(now, id, GroupOperation::Remove { accounts })
    }

    /// Leaves group `id`.
    pub fn group_leave(&mut self, now: u64, id: GroupId) -> Result<(), GroupCommandError> {
        self.make_update(now, id, GroupOperation::Leave)
    }

    /// The account keys of `members`: each must be an account we know, a contact (accepted) or
    /// one whose device list we pinned. The list need not be pinned yet: what goes to an
    /// account whose list was not answered on this connection waits in the outbox for the
    /// answer (the list is asked for when the group is made or grows), as a first 1:1 message
    /// does. Refused: an address we do not know, one of our own devices, or one the relay told
    /// us on this connection has no list (a single-device legacy peer's device, not an account).
    fn member_accounts(&self, members: &[Address]) -> Result<BTreeSet<AccountKey>, GroupCommandError> {
        let mut accounts = BTreeSet::new();
        for (index, member) in members.iter().enumerate() {
            if *member == self.account_address() {
                continue;
            }
            let unknown = GroupCommandError::UnknownAccount { index };
            let known = self.peer_lists.has(member)
                || self.access.standing(member) == Some(crate::access::Standing::Accepted);
            if !known || self.is_legacy_peer(member) || self.is_own_device(member) || *member == self.address
            {
                return Err(unknown);
            }
            accounts.insert(peer_account_key(member).ok_or(unknown)?);
        }
        Ok(accounts)
    }

    /// Signs and applies our update, then sends it to every member before and after it (an
    /// account added gets the whole log).
    fn make_update(
        &mut self,
        now: u64,
        id: GroupId,
        operation: GroupOperation,
    ) -> Result<(), GroupCommandError> {
        let me = self.account_key();
        let record = self.groups.get_mut(&id).ok_or(GroupCommandError::UnknownGroup)?;
        if record.state().role(&me).is_none() {
            return Err(GroupCommandError::NotMember);
        }
        let before: BTreeSet<AccountKey> = record.state().members().keys().copied().collect();
        let update = record.log.make_update(&self.account, me, operation)?;
        let mut ops = Vec::new();
        let after: BTreeSet<AccountKey> = record.state().members().keys().copied().collect();
        // Everyone who was or is a member hears of it: a removed member learns it is out.
        let told: BTreeSet<AccountKey> = before.union(&after).copied().collect();
        self.queue_control(
            now,
            &id,
            &GroupControl::Updates(vec![update]),
            Some(&told),
            &mut ops,
        );
        let added: BTreeSet<AccountKey> = after.difference(&before).copied().collect();
        if !added.is_empty() {
            let log: Vec<GroupUpdate> = self
                .groups
                .get(&id)
                .map(|r| r.log.updates().cloned().collect())
                .unwrap_or_default();
            for part in log.chunks(MAX_CONTROL_UPDATES) {
                self.queue_control(
                    now,
                    &id,
                    &GroupControl::Updates(part.to_vec()),
                    Some(&added),
                    &mut ops,
                );
            }
        }
        self.after_change(now, &id, &before, &mut ops);
        self.commit(ops);
        self.event(Event::GroupChanged { group: id });
        self.pump(now);
        Ok(())
    }

    /// A group log we are a member of, new to this device: kept, with a fresh sending chain
    /// whose key goes to every member.
    fn join_group(&mut self, now: u64, log: GroupLog, ask_for_keys: bool) {
        let id = log.state().id();
        let sender = GroupSender::new(id.0, self.account.identity_key(), 0, &mut self.rng);
        self.groups.insert(id, GroupRecord::new(log, sender));
        self.group_conversations.insert(id.conversation(), id);
        let mut ops = Vec::new();
        self.fetch_member_lists(&id);
        self.queue_sender_key(now, &id, None, &mut ops);
        // Members' keys may have come before the log did, and were refused then.
        if ask_for_keys {
            self.queue_control(now, &id, &GroupControl::KeyRequest(id), None, &mut ops);
        }
        self.save_group(&id, &mut ops);
        self.commit(ops);
    }

    /// After the log of `id` changed (it had the members `before`): members that left are
    /// forgotten and our chain rotates; members that came get our current key; a group we are
    /// no longer in keeps its history but no keys.
    fn after_change(
        &mut self,
        now: u64,
        id: &GroupId,
        before: &BTreeSet<AccountKey>,
        ops: &mut Vec<StoreOp>,
    ) {
        let me = self.account_key();
        let Some(record) = self.groups.get(id) else {
            return;
        };
        let after: BTreeSet<AccountKey> = record.state().members().keys().copied().collect();
        if !after.contains(&me) {
            if let Some(record) = self.groups.get_mut(id) {
                record.sender = None;
                record.start = None;
                let senders: Vec<_> = record.chains.receivers().map(|r| r.label().sender).collect();
                for sender in senders {
                    record.chains.remove_sender(&sender);
                }
            }
            return self.save_group(id, ops);
        }
        let gone: Vec<AccountKey> = before.difference(&after).copied().collect();
        let came: BTreeSet<AccountKey> = after.difference(before).copied().collect();
        if !gone.is_empty() {
            self.drop_chains_of_non_members(id);
        }
        if !gone.is_empty() || !came.is_empty() {
            // A new epoch: those who left cannot read on, those who came cannot read back.
            if let Some(record) = self.groups.get_mut(id) {
                record.epoch = record.epoch.saturating_add(1);
                // The new chain names the old one and its length, so members deliver nothing of
                // the new before the old is complete (order across epochs).
                record.previous = record.sender.as_ref().map(|old| Predecessor {
                    distribution_id: old.label().distribution_id,
                    count: old.iteration(),
                });
                let sender = GroupSender::new(id.0, self.account.identity_key(), record.epoch, &mut self.rng);
                record.start = Some(sender.clone());
                record.sender = Some(sender);
            }
            self.queue_sender_key(now, id, None, ops);
        }
        if !came.is_empty() {
            self.fetch_member_lists(id);
            // Their keys may have come before we knew they were members.
            self.queue_control(now, id, &GroupControl::KeyRequest(*id), Some(&came), ops);
        }
        self.save_group(id, ops);
    }

    /// Asks for the device list of every member account of `id` not asked on this connection,
    /// so their devices' keys and messages are attributed to them.
    fn fetch_member_lists(&mut self, id: &GroupId) {
        let me = self.account_key();
        let members: Vec<Address> = self
            .group(id)
            .map(|state| {
                state
                    .members()
                    .keys()
                    .filter(|account| **account != me)
                    .map(Address::from_account)
                    .collect()
            })
            .unwrap_or_default();
        for member in members {
            self.fetch_peer_list(member);
        }
    }

    /// Forgets the chains of devices whose account is no longer a member of `id`.
    fn drop_chains_of_non_members(&mut self, id: &GroupId) {
        let Some(record) = self.groups.get(id) else {
            return;
        };
        let senders: BTreeSet<_> = record.chains.receivers().map(|r| r.label().sender).collect();
        let stale: Vec<_> = senders
            .into_iter()
            .filter(|sender| {
                self.device_account(&Address::from_identity(sender))
                    .is_none_or(|account| record.state().role(&account).is_none())
            })
            .collect();
        if let Some(record) = self.groups.get_mut(id) {
            for sender in stale {
                record.chains.remove_sender(&sender);
            }
        }
    }

    /// The account a device belongs to: ours, or a contact's whose pinned list counts it.
    pub(crate) fn device_account(&self, device: &Address) -> Option<AccountKey> {
        if *device == self.address || self.is_own_device(device) {
            return Some(self.account_key());
        }
        self.peer_lists
            .owner_of(&device.identity())
            .and_then(|account| peer_account_key(&account))
    }

    /// Queues our current sender key of `id` to `to` (every member when `None`).
    fn queue_sender_key(
        &mut self,
        now: u64,
        id: &GroupId,
        to: Option<&BTreeSet<AccountKey>>,
        ops: &mut Vec<StoreOp>,
    ) {
        let Some(control) = self.groups.get(id).and_then(|record| {
            let start = record.start.as_ref()?;
            Some(GroupControl::SenderKey {
                distribution: Box::new(start.distribution()),
                after: record.previous,
            })
        }) else {
            return;
        };
        self.queue_control(now, id, &control, to, ops);
    }

    /// Queues `control` to the accounts `to` (every member of `id` when `None`), and to our own
    /// other devices, as unnumbered pairwise payloads.
    fn queue_control(
        &mut self,
        now: u64,
        id: &GroupId,
        control: &GroupControl,
        to: Option<&BTreeSet<AccountKey>>,
        ops: &mut Vec<StoreOp>,
    ) {
        let me = self.account_key();
        let accounts: BTreeSet<AccountKey> = match to {
            Some(to) => to.clone(),
            None => self
                .group(id)
                .map(|state| state.members().keys().copied().collect())
                .unwrap_or_default(),
        };
        let bytes = control.encode();
        for account in accounts {
            if account == me {
                continue;
            }
            let peer = Address::from_account(&account);
            self.queue_unnumbered(now, peer, Body::Group(bytes.clone()), ops);
        }
        if !self.own_devices().is_empty() {
            let own = self.account_address();
            self.queue_unnumbered(now, own, Body::Group(bytes), ops);
        }
    }

    fn save_group(&self, id: &GroupId, ops: &mut Vec<StoreOp>) {
        if let Some(record) = self.groups.get(id) {
            ops.push(StoreOp::PutGroup(record.to_blob()));
        }
    }

    /// A [`Body::Group`] payload from the device `from`, which claims the account `claimed`.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn accept_group_control(
        &mut self,
        now: u64,
        from: Address,
        claimed: Option<Address>,
        data: &[u8],
        ops: &mut Vec<StoreOp>,
        events: &mut Vec<Event>,
    ) {
        let drop = |fault: ControlError| Event::Dropped {
            claimed_from: Some(ClaimedSender::new(from)),
            reason: DropReason::BadPayload(PayloadFault::Group(fault)),
        };
        let control = match GroupControl::decode(data) {
            Ok(control) => control,
            Err(error) => return events.push(drop(error)),
        };
        let Some(account) = self.device_account(&from) else {
            // A device no pinned list counts (a member we are not a contact of, say): held until
            // the list of the account it claims is answered.
            if !self.hold_unattributed(now, from, claimed, &control, data, ops) {
                events.push(drop(ControlError::UnknownSender));
            }
            return;
        };
        match control {
            GroupControl::Updates(updates) => self.accept_updates(now, from, account, updates, ops, events),
            GroupControl::SenderKey { distribution, after } => {
                let id = GroupId(distribution.label().group_id);
                if self.take_sender_key(now, from, account, &distribution, after, ops, events) {
                    // Messages that waited for this chain can be read now.
                    self.retry_waiting(now, id, ops, events);
                }
            }
            GroupControl::KeyRequest(id) => {
                let is_member = self
                    .group(&id)
                    .is_some_and(|state| state.role(&account).is_some());
                if !is_member {
                    return events.push(drop(ControlError::NotMember));
                }
                self.queue_sender_key(now, &id, Some(&BTreeSet::from([account])), ops);
            }
        }
    }

    /// Holds `control` (whose bytes are `data`) from the device `from`, which no pinned list
    /// counts, until the list of the account it claims is answered (asked for now): with the
    /// group's waiting messages if we hold the group, with its early ones if not. False if it
    /// cannot wait: no account claimed, the claimed list was answered already on this
    /// connection (and does not count the device), or no room.
    fn hold_unattributed(
        &mut self,
        now: u64,
        from: Address,
        claimed: Option<Address>,
        control: &GroupControl,
        data: &[u8],
        ops: &mut Vec<StoreOp>,
    ) -> bool {
        let Some(account) = claimed else {
            return false;
        };
        if account == from
            || account == self.account_address()
            || peer_account_key(&account).is_none()
            || self.peer_fetch.answered.contains(&account)
        {
            return false;
        }
        let id = match control {
            GroupControl::Updates(updates) => match updates.first() {
                Some(update) => update.group_id(),
                None => return false,
            },
            GroupControl::SenderKey { distribution, .. } => GroupId(distribution.label().group_id),
            GroupControl::KeyRequest(id) => *id,
        };
        let held = held_unattributed(&from, &account, data);
        match self.groups.get_mut(&id) {
            Some(record) => {
                if record.sender.is_none() || record.waiting.len() >= MAX_GROUP_HELD {
                    return false;
                }
                record.waiting.push((held, now));
                ops.push(StoreOp::PutGroup(record.to_blob()));
            }
            None => self.keep_early(now, id, held, ops),
        }
        self.fetch_peer_list(account);
        true
    }

    /// `account`'s list was answered (pinned, or none: `NotFound`): the group control its
    /// devices sent while unattributed is taken again, now attributed or refused.
    pub(crate) fn release_group_attributed(&mut self, account: Address) {
        let (mut ops, mut events) = (Vec::new(), Vec::new());
        let mut released = Vec::new();
        let ids: Vec<GroupId> = self.groups.keys().copied().collect();
        for id in ids {
            let Some(record) = self.groups.get_mut(&id) else {
                continue;
            };
            if !record.waiting.iter().any(|(bytes, _)| claims(bytes, &account)) {
                continue;
            }
            let (mine, rest) = std::mem::take(&mut record.waiting)
                .into_iter()
                .partition(|(bytes, _)| claims(bytes, &account));
            record.waiting = rest;
            ops.push(StoreOp::PutGroup(record.to_blob()));
            released.extend::<Vec<_>>(mine);
        }
        let ids: Vec<GroupId> = self.early_group_messages.keys().copied().collect();
        let mut early_touched = Vec::new();
        for id in ids {
            let Some(early) = self.early_group_messages.get_mut(&id) else {
                continue;
            };
            if !early.iter().any(|(bytes, _)| claims(bytes, &account)) {
                continue;
            }
            let (mine, rest): (Vec<_>, Vec<_>) = std::mem::take(early)
                .into_iter()
                .partition(|(bytes, _)| claims(bytes, &account));
            if rest.is_empty() {
                self.early_group_messages.remove(&id);
            } else {
                self.early_group_messages.insert(id, rest);
            }
            early_touched.push(id);
            released.extend(mine);
        }
        if released.is_empty() {
            return;
        }
        for (bytes, received_at) in released {
            if let Held::Unattributed(device, claimed, control) = unhold(&bytes) {
                self.accept_group_control(
                    received_at,
                    device,
                    Some(claimed),
                    &control,
                    &mut ops,
                    &mut events,
                );
            }
        }
        // What is left early of each group (written last: a group joined meanwhile has its
        // record stored under the same id, which must not be overwritten).
        for id in early_touched {
            if !self.groups.contains_key(&id) {
                let left = self.early_group_messages.get(&id).cloned().unwrap_or_default();
                ops.push(StoreOp::PutGroup(crate::groups::early_blob(id, &left)));
            }
        }
        self.commit(ops);
        for event in events {
            self.event(event);
        }
    }

    /// At login: asks for the lists of the accounts that held group control claims (their
    /// answers on an earlier connection never came).
    pub(crate) fn fetch_unattributed_lists(&mut self) {
        let mut accounts = BTreeSet::new();
        let held = self
            .groups
            .values()
            .flat_map(|record| record.waiting.iter())
            .chain(self.early_group_messages.values().flatten());
        for (bytes, _) in held {
            if let Held::Unattributed(_, claimed, _) = unhold(bytes) {
                accounts.insert(claimed);
            }
        }
        for account in accounts {
            self.fetch_peer_list(account);
        }
    }

    /// Whether `account` is a member of a group we are in (so its devices' messages are worth
    /// attributing to it, as a contact's are).
    pub(crate) fn shares_group_with(&self, account: &Address) -> bool {
        let Some(key) = peer_account_key(account) else {
            return false;
        };
        let me = self.account_key();
        self.groups.values().any(|record| {
            record.sender.is_some()
                && record.state().role(&me).is_some()
                && record.state().role(&key).is_some()
        })
    }

    pub(crate) fn accept_updates(
        &mut self,
        now: u64,
        from: Address,
        account: AccountKey,
        updates: Vec<GroupUpdate>,
        ops: &mut Vec<StoreOp>,
        events: &mut Vec<Event>,
    ) {
        let drop = |fault: ControlError| Event::Dropped {
            claimed_from: Some(ClaimedSender::new(from)),
            reason: DropReason::BadPayload(PayloadFault::Group(fault)),
        };
        let Some(id) = updates.first().map(GroupUpdate::group_id) else {
            return;
        };
        let me = self.account_key();
        let before: BTreeSet<AccountKey> = match self.groups.get(&id) {
            Some(record) => record.state().members().keys().copied().collect(),
            None => {
                // A group new to us: the log of a member that added us (or made the group with
                // us in it). The sender vouches for the updates of other authors it forwards; it
                // must have made one of them itself.
                if !updates
                    .iter()
                    .any(|u| u.author_device() == from.identity() && u.author_account() == account)
                {
                    return events.push(drop(ControlError::NotMember));
                }
                let mut updates = updates.into_iter();
                let Some(creation) = updates.next() else {
                    return;
                };
                let author = creation.author_account();
                let log = match GroupLog::new(creation.clone(), &author) {
                    Ok(log) => log,
                    Err(GroupUpdateError::NotACreation) => {
                        // A later update that overtook the log its adder sent us: held with
                        // the group's early messages until the log comes.
                        let mut held = vec![creation];
                        held.extend(updates);
                        let control = GroupControl::Updates(held).encode();
                        self.keep_early(now, id, held_updates(&from, &control), ops);
                        return;
                    }
                    Err(error) => return events.push(drop(ControlError::Update(error))),
                };
                let mut log = log;
                for update in updates {
                    let author = update.author_account();
                    // Refused ones are kept by the log; an invalid one is skipped.
                    let _ = log.receive(update, &author);
                }
                if log.state().role(&me).is_none() {
                    return events.push(drop(ControlError::NotMember));
                }
                self.join_group(now, log, true);
                events.push(Event::GroupChanged { group: id });
                // The group's record replaces what was kept of it; its early messages wait for
                // their senders' keys like any other.
                self.open_early(now, id, ops, events);
                return;
            }
        };
        let mut changed = false;
        for update in updates {
            // Updates of a group we hold come straight from their author device.
            if update.author_device() != from.identity() {
                events.push(drop(ControlError::NotAuthor));
                continue;
            }
            let Some(record) = self.groups.get_mut(&id) else {
                return;
            };
            match record.log.receive(update, &account) {
                Ok(Received::Duplicate) => {}
                Ok(_) => changed = true,
                Err(error) => events.push(drop(ControlError::Update(error))),
            }
        }
        if changed {
            self.after_change(now, &id, &before, ops);
            events.push(Event::GroupChanged { group: id });
            // Keys of members we did not know of yet were held: they may count now.
            self.retry_waiting(now, id, ops, events);
        }
    }

    /// Takes a member device's sender key that came over our pairwise session with `from`
    /// (a device of `account`); true if it was taken. A key that raced its group's log is held
    /// (SPEC-free, local: see [`held_key`]) rather than refused: one for a group we do not hold
    /// yet with the group's early messages, one from an account not yet a member (we have not
    /// seen the update that adds it) with the group's waiting messages, and tried again when
    /// the log comes or changes. Asking again would not do: by then its sender may have moved
    /// to a later epoch, and the messages of this one would wait for good.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn take_sender_key(
        &mut self,
        now: u64,
        from: Address,
        account: AccountKey,
        distribution: &SenderKeyDistribution,
        after: Option<Predecessor>,
        ops: &mut Vec<StoreOp>,
        events: &mut Vec<Event>,
    ) -> bool {
        let drop = |fault: ControlError| Event::Dropped {
            claimed_from: Some(ClaimedSender::new(from)),
            reason: DropReason::BadPayload(PayloadFault::Group(fault)),
        };
        let id = GroupId(distribution.label().group_id);
        let Some(record) = self.groups.get_mut(&id) else {
            self.keep_early(now, id, held_key(&from, distribution, after), ops);
            return false;
        };
        if record.state().role(&account).is_none() {
            if record.sender.is_none()
                || was_member(record, &account)
                || record.waiting.len() >= MAX_GROUP_HELD
            {
                events.push(drop(ControlError::NotMember));
            } else {
                record.waiting.push((held_key(&from, distribution, after), now));
                ops.push(StoreOp::PutGroup(record.to_blob()));
            }
            return false;
        }
        if let Err(error) = record.chains.add_distribution(distribution, &from.identity()) {
            events.push(drop(ControlError::Chain(error)));
            return false;
        }
        let chain: ChainId = (*from.as_bytes(), distribution.label().distribution_id);
        // The chain is read from where its key starts (the epoch's start), in order.
        record.next.entry(chain).or_insert(distribution.iteration());
        if let Some(after) = after {
            record.after.insert(chain, after);
        }
        // Predecessors of chains no longer held (evicted, or their device's account gone).
        let chains = &record.chains;
        record.after.retain(|(device, id), _| {
            Address::from_bytes(*device).is_ok_and(|device| chains.holds(&device.identity(), id))
        });
        self.save_group(&id, ops);
        true
    }
}

/// Whether `account` was ever a member of the group in `record`'s log: one that is not now was
/// removed (or left), and what it sends is refused; one that never was may have been added by
/// an update still on its way to us, and what it sends is held until the log changes.
pub(crate) fn was_member(record: &GroupRecord, account: &AccountKey) -> bool {
    record.log.updates().any(|update| match update.operation() {
        GroupOperation::Create { members, .. } | GroupOperation::Add { members } => {
            members.contains_key(account)
        }
        _ => false,
    })
}
