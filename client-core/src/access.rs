//! Message-request state: where each peer stands, its access key, and ours.

use std::collections::HashMap;

use hush_proto::AccessKey;
use rand_core::CryptoRng;
use zeroize::Zeroize;

use crate::address::Address;

/// Where a peer stands with us.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Standing {
    /// We wrote to them or accepted their request: their messages are delivered.
    Accepted,
    /// They wrote first and we have not answered: their messages are held.
    Requested,
    /// Blocked: whatever they send is dropped.
    Blocked,
    /// Blocked, and reported to the relay, which has not confirmed the report yet: it is sent
    /// at each login until the relay answers it. Otherwise the same as [`Standing::Blocked`].
    ReportPending,
}

impl Standing {
    /// The number stored in databases.
    pub fn to_code(self) -> u8 {
        match self {
            Self::Accepted => 1,
            Self::Requested => 2,
            Self::Blocked => 3,
            Self::ReportPending => 4,
        }
    }

    /// Whether what the peer sends is dropped.
    pub fn is_blocked(self) -> bool {
        matches!(self, Self::Blocked | Self::ReportPending)
    }

    /// From the stored number.
    pub fn from_code(code: u8) -> Option<Self> {
        Some(match code {
            1 => Self::Accepted,
            2 => Self::Requested,
            3 => Self::Blocked,
            4 => Self::ReportPending,
            _ => return None,
        })
    }
}

/// What we know of one peer for requests and access: its standing and its access key, if it gave
/// us one (presented when we send to it or fetch its bundle).
#[derive(Clone, PartialEq, Eq)]
pub struct PeerAccess {
    /// The peer.
    pub peer: Address,
    /// Where it stands.
    pub standing: Standing,
    /// Its access key.
    pub access_key: Option<[u8; 32]>,
}

impl core::fmt::Debug for PeerAccess {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("PeerAccess")
            .field("peer", &self.peer)
            .field("standing", &self.standing)
            .field("access_key", &self.access_key.map(|_| ".."))
            .finish()
    }
}

/// Our own access key, and whether the relay has it.
#[derive(Clone, PartialEq, Eq, Zeroize)]
pub struct OwnAccessKey {
    /// The key.
    pub key: [u8; 32],
    /// Whether the relay confirmed it (`SetAccessKey` answered); until then it is sent at login.
    pub uploaded: bool,
}

impl core::fmt::Debug for OwnAccessKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("OwnAccessKey")
            .field("uploaded", &self.uploaded)
            .finish_non_exhaustive()
    }
}

impl OwnAccessKey {
    /// A fresh random key, not uploaded yet.
    pub fn random(rng: &mut (impl CryptoRng + ?Sized)) -> Self {
        let mut key = [0u8; 32];
        rng.fill_bytes(&mut key);
        Self { key, uploaded: false }
    }
}

/// Our key, and each peer's standing and key.
#[derive(Debug, Default)]
pub(crate) struct Access {
    pub(crate) own: Option<OwnAccessKey>,
    peers: HashMap<Address, PeerAccess>,
    /// A `SetAccessKey` awaits its answer.
    pub(crate) uploading: bool,
}

impl Access {
    /// From the store at start-up. A profile from before access keys gets a key now: it is
    /// returned, to be stored.
    pub(crate) fn restore(
        &mut self,
        peers: Vec<PeerAccess>,
        own: Option<OwnAccessKey>,
        rng: &mut (impl CryptoRng + ?Sized),
    ) -> Option<OwnAccessKey> {
        for access in peers {
            self.peers.insert(access.peer, access);
        }
        let (own, new) = match own {
            Some(own) => (own, None),
            None => {
                let own = OwnAccessKey::random(rng);
                (own.clone(), Some(own))
            }
        };
        self.own = Some(own);
        new
    }

    pub(crate) fn standing(&self, peer: &Address) -> Option<Standing> {
        self.peers.get(peer).map(|access| access.standing)
    }

    /// The key to present to `peer` (at the relay), if it gave us one.
    pub(crate) fn key_for(&self, peer: &Address) -> Option<AccessKey> {
        self.peers
            .get(peer)
            .and_then(|access| access.access_key)
            .map(AccessKey)
    }

    /// `peer`'s record, created with `standing` if there is none.
    pub(crate) fn entry(&mut self, peer: Address, standing: Standing) -> &mut PeerAccess {
        self.peers.entry(peer).or_insert(PeerAccess {
            peer,
            standing,
            access_key: None,
        })
    }

    /// Forgets the key `peer` gave us (it rotated it); the changed record, if any.
    pub(crate) fn drop_key(&mut self, peer: &Address) -> Option<PeerAccess> {
        let access = self.peers.get_mut(peer)?;
        access.access_key = None;
        Some(access.clone())
    }

    /// The peers standing at `standing`, in address order.
    pub(crate) fn peers_with(&self, standing: Standing) -> Vec<Address> {
        let mut peers: Vec<Address> = self
            .peers
            .values()
            .filter(|access| access.standing == standing)
            .map(|access| access.peer)
            .collect();
        peers.sort_by_key(|peer| *peer.as_bytes());
        peers
    }

    /// Replaces our key with a fresh one (the old one is wiped); the new one, to store.
    pub(crate) fn rotate_own(&mut self, rng: &mut (impl CryptoRng + ?Sized)) -> OwnAccessKey {
        let own = OwnAccessKey::random(rng);
        if let Some(mut old) = self.own.replace(own.clone()) {
            old.zeroize();
        }
        // A `SetAccessKey` of the old key may be in flight; its answer must not mark the new one.
        self.uploading = false;
        own
    }
}
