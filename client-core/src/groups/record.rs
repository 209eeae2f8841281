//! A group as this device keeps it: the log, our sending chain, the chains of the other member
//! devices, and its stored form ([`GroupBlob`]).

use hush_crypto::group::{GroupChains, GroupReceiver, GroupReceiverPickle, GroupSender, GroupSenderPickle};
use serde::{Deserialize, Serialize};
use thiserror::Error;
use zeroize::{Zeroize, ZeroizeOnDrop};

use std::collections::BTreeMap;

use super::{GroupId, GroupLog, GroupState, GroupUpdate, Predecessor};

/// Version of the stored form: 3 adds the chains' predecessors; 1 (without them) still restores.
const RECORD_VERSION: u8 = 3;
/// The stored form before predecessors.
const RECORD_VERSION_1: u8 = 1;

/// One group this device is (or was) a member of.
pub struct GroupRecord {
    /// The signed updates and the state they give.
    pub log: GroupLog,
    /// Our current sending chain; `None` once we are no longer a member.
    pub sender: Option<GroupSender>,
    /// Our sending chain as it stood when this epoch began: the key every member gets, so a
    /// member whose first copy of it was refused (it raced the log) and who asks again can still
    /// read what we sent in this epoch. Every member of an epoch was one from its start (the
    /// chain rotates when an account comes or goes), so nobody reads more than it was sent.
    pub start: Option<GroupSender>,
    /// The chain ours follows on from (our previous one and how many messages we sent on it);
    /// `None` for our first chain in the group.
    pub previous: Option<Predecessor>,
    /// The other member devices' chains.
    pub chains: GroupChains,
    /// The epoch of our sending chain: one more at each rotation (a member or device removed).
    pub epoch: u64,
    /// Per received chain (sender device, distribution id): the chain position delivered next.
    pub next: BTreeMap<ChainId, u32>,
    /// Decrypted messages ahead of a missing one, by chain and position: the encoded payload
    /// and when it arrived (Unix ms).
    pub ahead: BTreeMap<HeldAt, Held>,
    /// Sender-key messages on a chain we do not hold yet (its key was refused before we knew its
    /// sender was a member, or is still on its way), with when they arrived.
    pub waiting: Vec<(Vec<u8>, u64)>,
    /// Per received chain, the chain of the same device it follows on from: while we hold that
    /// one and it has not delivered its count, the new chain's messages wait in `ahead`.
    pub after: BTreeMap<ChainId, Predecessor>,
}

/// A received chain: the sending device's identity key and the chain's distribution id.
pub type ChainId = ([u8; 32], [u8; 16]);

/// Where a held message sits: its chain and chain position.
pub type HeldAt = (ChainId, u32);

/// A held message: its encoded payload and when it arrived (Unix ms).
pub type Held = (Vec<u8>, u64);

/// Most messages a group holds ahead of missing ones, and most waiting for a chain: beyond
/// them, new ones are refused (the relay keeps nothing for us, so they are dropped with an event).
pub const MAX_GROUP_HELD: usize = 512;

impl core::fmt::Debug for GroupRecord {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("GroupRecord")
            .field("id", &self.log.state().id())
            .field("version", &self.log.state().version())
            .field("epoch", &self.epoch)
            .field("chains", &self.chains.chain_count())
            .finish_non_exhaustive()
    }
}

/// The stored form of a [`GroupRecord`]: it holds chain keys, so it is wiped on drop and never
/// printed. Stores keep it as one value per group id, inside the encrypted database.
#[derive(Clone, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
pub struct GroupBlob {
    /// The group.
    #[zeroize(skip)]
    pub id: GroupId,
    /// The encoding (version byte, then postcard).
    pub bytes: Vec<u8>,
}

impl core::fmt::Debug for GroupBlob {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("GroupBlob")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

/// Why a stored group does not restore.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum GroupRecordError {
    /// Not a stored group of this version, or it does not decode.
    #[error("stored group does not decode")]
    Malformed,
    /// The updates it holds no longer form a log (they were checked when first stored).
    #[error("stored group log is invalid: {0}")]
    Log(#[from] super::GroupUpdateError),
    /// A chain it holds does not restore.
    #[error("stored group chain is invalid")]
    Chain,
}

/// The stored form: the fields of version 1, then (version 3) the predecessors. Postcard
/// writes a struct as its fields one after another, so a version-1 entry is a [`WireBase`].
#[derive(Serialize, Deserialize, Zeroize, ZeroizeOnDrop)]
struct Wire {
    base: WireBase,
    #[zeroize(skip)]
    previous: Option<Predecessor>,
    #[zeroize(skip)]
    after: Vec<(ChainId, Predecessor)>,
}

/// The stored form of version 1 (no predecessors).
#[derive(Serialize, Deserialize, Zeroize, ZeroizeOnDrop)]
struct WireBase {
    updates: Vec<Vec<u8>>,
    sender: Option<GroupSenderPickle>,
    start: Option<GroupSenderPickle>,
    chains: Vec<GroupReceiverPickle>,
    epoch: u64,
    next: Vec<(ChainId, u32)>,
    ahead: Vec<(HeldAt, Held)>,
    waiting: Vec<(Vec<u8>, u64)>,
}

impl GroupRecord {
    /// A group we just created or joined, with a fresh sending chain at epoch 0 for `device`.
    pub fn new(log: GroupLog, sender: GroupSender) -> Self {
        let id = log.state().id();
        Self {
            log,
            start: Some(sender.clone()),
            sender: Some(sender),
            previous: None,
            chains: GroupChains::new(id.0),
            epoch: 0,
            next: BTreeMap::new(),
            ahead: BTreeMap::new(),
            waiting: Vec::new(),
            after: BTreeMap::new(),
        }
    }

    /// The group's state.
    pub fn state(&self) -> &GroupState {
        self.log.state()
    }

    /// The stored form.
    pub fn to_blob(&self) -> GroupBlob {
        let wire = Wire {
            base: WireBase {
                updates: self
                    .log
                    .updates()
                    .map(|update| update.to_bytes().to_vec())
                    .collect(),
                sender: self.sender.as_ref().map(GroupSender::pickle),
                start: self.start.as_ref().map(GroupSender::pickle),
                chains: self.chains.receivers().map(GroupReceiver::pickle).collect(),
                epoch: self.epoch,
                next: self.next.iter().map(|(k, v)| (*k, *v)).collect(),
                ahead: self.ahead.iter().map(|(k, v)| (*k, v.clone())).collect(),
                waiting: self.waiting.clone(),
            },
            previous: self.previous,
            after: self.after.iter().map(|(k, v)| (*k, *v)).collect(),
        };
        let mut bytes = vec![RECORD_VERSION];
        // Serialising plain data into a Vec does not fail.
        bytes.extend(postcard::to_allocvec(&wire).unwrap_or_default());
        GroupBlob {
            id: self.state().id(),
            bytes,
        }
    }

    /// Restores a stored group.
    pub fn from_blob(blob: &GroupBlob) -> Result<Self, GroupRecordError> {
        let wire: Wire = match blob.bytes.split_first() {
            Some((&RECORD_VERSION, rest)) => {
                postcard::from_bytes(rest).map_err(|_| GroupRecordError::Malformed)?
            }
            Some((&RECORD_VERSION_1, rest)) => Wire {
                base: postcard::from_bytes(rest).map_err(|_| GroupRecordError::Malformed)?,
                previous: None,
                after: Vec::new(),
            },
            _ => return Err(GroupRecordError::Malformed),
        };
        let mut updates = wire
            .base
            .updates
            .iter()
            .map(|bytes| GroupUpdate::from_bytes(bytes))
            .collect::<Result<Vec<_>, _>>()?
            .into_iter();
        let creation = updates.next().ok_or(GroupRecordError::Malformed)?;
        let log = GroupLog::restore(creation, updates)?;
        if log.state().id() != blob.id {
            return Err(GroupRecordError::Malformed);
        }
        let mut chains = GroupChains::new(blob.id.0);
        for pickle in &wire.base.chains {
            let receiver = GroupReceiver::from_pickle(pickle).map_err(|_| GroupRecordError::Chain)?;
            chains.restore(receiver).map_err(|_| GroupRecordError::Chain)?;
        }
        Ok(Self {
            log,
            sender: wire.base.sender.as_ref().map(GroupSender::from_pickle),
            start: wire.base.start.as_ref().map(GroupSender::from_pickle),
            chains,
            epoch: wire.base.epoch,
            next: wire.base.next.iter().copied().collect(),
            ahead: wire.base.ahead.iter().cloned().collect(),
            waiting: wire.base.waiting.clone(),
            previous: wire.previous,
            after: wire.after.iter().copied().collect(),
        })
    }
}

/// Version byte of a stored entry that holds only messages of a group we do not hold yet.
const EARLY_VERSION: u8 = 2;

/// Group messages that arrived before their group's log did (a member's message can overtake
/// the log its adder sent us): kept per group id, durably, until the log comes.
pub type Early = Vec<Held>;

/// Most early messages kept over all unknown groups, and most bytes: a stranger can make up
/// group ids, so the bound is small and the oldest go first.
pub const MAX_EARLY_MESSAGES: usize = 256;
/// See [`MAX_EARLY_MESSAGES`].
pub const MAX_EARLY_BYTES: usize = 1 << 20;

/// The stored form of the early messages of group `id` (an empty list clears it).
pub fn early_blob(id: GroupId, early: &[Held]) -> GroupBlob {
    let mut bytes = vec![EARLY_VERSION];
    bytes.extend(postcard::to_allocvec(early).unwrap_or_default());
    GroupBlob { id, bytes }
}

/// The early messages a stored entry holds, if it is one of those.
pub fn early_from_blob(blob: &GroupBlob) -> Option<Result<Early, GroupRecordError>> {
    let (&EARLY_VERSION, rest) = blob.bytes.split_first()? else {
        return None;
    };
    Some(postcard::from_bytes(rest).map_err(|_| GroupRecordError::Malformed))
}
