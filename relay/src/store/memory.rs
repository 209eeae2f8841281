//! [`MemoryStore`]: everything in one mutex-protected map, for tests and the in-memory relay of
//! the client's test harness. Same semantics as the SQLite store (the shared suite checks both);
//! nothing survives a restart.

use std::collections::{BTreeMap, HashMap};
use std::ops::Bound;
use std::sync::{Mutex, MutexGuard, PoisonError};

use hush_proto::{
    AccountId, DeviceListBytes, Envelope, KemPreKey, MailboxId, Membership, OneTimePreKey, Signature,
    SignedPreKey,
};

use super::device_lists::replaces;
use super::{
    ClaimedBundle, ClaimedKemPreKey, DeviceListUpdate, KemUpload, MailboxStatus, Quota, Store, StoreError,
    StoredDeviceList, StoredMessage, count_u32,
};

/// An in-memory [`Store`]. Every operation takes one lock, so each is atomic.
#[derive(Debug, Default)]
pub struct MemoryStore {
    mailboxes: Mutex<HashMap<MailboxId, Mailbox>>,
    device_lists: Mutex<HashMap<AccountId, AccountDevices>>,
}

/// An account's latest list and its devices' membership signatures, by identity key.
#[derive(Debug)]
struct AccountDevices {
    counter: u64,
    list: DeviceListBytes,
    memberships: BTreeMap<[u8; 32], Signature>,
}

#[derive(Debug)]
struct Mailbox {
    identity_key: [u8; 32],
    /// The seq the next message gets; only ever grows, so seqs are never reused.
    next_seq: u64,
    signed_prekey: Option<SignedPreKey>,
    /// By id, so the lowest id is claimed first.
    one_time_prekeys: BTreeMap<u32, [u8; 32]>,
    messages: BTreeMap<u64, Message>,
    /// Envelope bytes of `messages`, kept as they change (the quota check reads it per send).
    queued_bytes: u64,
    access_verifier: Option<[u8; 32]>,
    /// One-time KEM prekeys by id, so the lowest id is claimed first.
    kem_one_time: BTreeMap<u32, KemPreKey>,
    kem_last_resort: Option<KemPreKey>,
}

#[derive(Debug)]
struct Message {
    received_at: u64,
    envelope: Envelope,
}

impl Mailbox {
    fn push(&mut self, seq: u64, message: Message) {
        self.queued_bytes = self.queued_bytes.saturating_add(message.envelope.len() as u64);
        self.messages.insert(seq, message);
    }

    /// Removes the messages `keep` refuses; returns how many.
    fn remove_unless(&mut self, mut keep: impl FnMut(u64, &Message) -> bool) -> u64 {
        let mut removed = 0u64;
        let mut bytes = 0u64;
        self.messages.retain(|seq, message| {
            let kept = keep(*seq, message);
            if !kept {
                removed += 1;
                bytes += message.envelope.len() as u64;
            }
            kept
        });
        self.queued_bytes = self.queued_bytes.saturating_sub(bytes);
        removed
    }

    fn one_time_count(&self) -> u32 {
        count_u32(self.one_time_prekeys.len() as u64)
    }
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<MailboxId, Mailbox>> {
        // Every operation checks before it mutates, so a panic elsewhere while holding the lock
        // cannot have left a half-applied change behind: the state is safe to keep using.
        self.mailboxes.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Store for MemoryStore {
    async fn register(
        &self,
        mailbox: MailboxId,
        identity_key: [u8; 32],
        _now: u64,
    ) -> Result<(), StoreError> {
        let mut mailboxes = self.lock();
        match mailboxes.get(&mailbox) {
            Some(existing) if existing.identity_key == identity_key => Ok(()),
            Some(_) => Err(StoreError::IdentityMismatch),
            None => {
                mailboxes.insert(
                    mailbox,
                    Mailbox {
                        identity_key,
                        next_seq: 1,
                        signed_prekey: None,
                        one_time_prekeys: BTreeMap::new(),
                        messages: BTreeMap::new(),
                        queued_bytes: 0,
                        access_verifier: None,
                        kem_one_time: BTreeMap::new(),
                        kem_last_resort: None,
                    },
                );
                Ok(())
            }
        }
    }

    async fn mailbox_status(&self, mailbox: MailboxId) -> Result<MailboxStatus, StoreError> {
        Ok(match self.lock().get(&mailbox) {
            Some(existing) => MailboxStatus::Active {
                identity_key: existing.identity_key,
            },
            None => MailboxStatus::Unknown,
        })
    }

    async fn upload_prekeys(
        &self,
        mailbox: MailboxId,
        signed_prekey: SignedPreKey,
        one_time: Vec<OneTimePreKey>,
        max_one_time: u32,
    ) -> Result<u32, StoreError> {
        let mut mailboxes = self.lock();
        let existing = mailboxes.get_mut(&mailbox).ok_or(StoreError::UnknownMailbox)?;
        let held = existing.one_time_count();
        // Same id replaces, so only ids not held yet (counted once) add to the total.
        let mut new_ids: Vec<u32> = one_time
            .iter()
            .map(|prekey| prekey.id)
            .filter(|id| !existing.one_time_prekeys.contains_key(id))
            .collect();
        new_ids.sort_unstable();
        new_ids.dedup();
        let after = held.saturating_add(count_u32(new_ids.len() as u64));
        if after > max_one_time {
            return Err(StoreError::TooManyPreKeys {
                held,
                adding: count_u32(one_time.len() as u64),
                max: max_one_time,
            });
        }
        existing.signed_prekey = Some(signed_prekey);
        for prekey in one_time {
            existing.one_time_prekeys.insert(prekey.id, prekey.key);
        }
        Ok(existing.one_time_count())
    }

    async fn claim_bundle(&self, mailbox: MailboxId) -> Result<ClaimedBundle, StoreError> {
        let mut mailboxes = self.lock();
        let existing = mailboxes.get_mut(&mailbox).ok_or(StoreError::UnknownMailbox)?;
        let signed_prekey = existing.signed_prekey.clone().ok_or(StoreError::NoBundle)?;
        let one_time_prekey = existing
            .one_time_prekeys
            .pop_first()
            .map(|(id, key)| OneTimePreKey { id, key });
        Ok(ClaimedBundle {
            identity_key: existing.identity_key,
            signed_prekey,
            one_time_prekey,
            remaining: existing.one_time_count(),
        })
    }

    async fn upload_kem_prekeys(
        &self,
        mailbox: MailboxId,
        upload: KemUpload,
        max_one_time: u32,
    ) -> Result<u32, StoreError> {
        let mut mailboxes = self.lock();
        let existing = mailboxes.get_mut(&mailbox).ok_or(StoreError::UnknownMailbox)?;
        let held = count_u32(existing.kem_one_time.len() as u64);
        let KemUpload {
            last_resort,
            one_time,
        } = upload;
        let adding = count_u32(one_time.len() as u64);
        let by_id = super::kem_prekeys::last_of_each_id(one_time);
        let new = by_id
            .keys()
            .filter(|id| !existing.kem_one_time.contains_key(id))
            .count();
        if held.saturating_add(count_u32(new as u64)) > max_one_time {
            return Err(StoreError::TooManyPreKeys {
                held,
                adding,
                max: max_one_time,
            });
        }
        existing.kem_one_time.extend(by_id);
        if let Some(last_resort) = last_resort {
            existing.kem_last_resort = Some(last_resort);
        }
        Ok(count_u32(existing.kem_one_time.len() as u64))
    }

    async fn claim_kem_prekey(
        &self,
        mailbox: MailboxId,
        signed_prekey_id: u32,
    ) -> Result<ClaimedKemPreKey, StoreError> {
        let mut mailboxes = self.lock();
        let existing = mailboxes.get_mut(&mailbox).ok_or(StoreError::UnknownMailbox)?;
        let prekey = match existing.kem_one_time.pop_first() {
            Some((_, prekey)) => Some(prekey),
            None => existing
                .kem_last_resort
                .clone()
                .filter(|prekey| prekey.id == signed_prekey_id),
        };
        Ok(ClaimedKemPreKey {
            prekey,
            remaining: count_u32(existing.kem_one_time.len() as u64),
        })
    }

    async fn set_access_verifier(
        &self,
        mailbox: MailboxId,
        verifier: Option<[u8; 32]>,
    ) -> Result<(), StoreError> {
        let mut mailboxes = self.lock();
        let existing = mailboxes.get_mut(&mailbox).ok_or(StoreError::UnknownMailbox)?;
        existing.access_verifier = verifier;
        Ok(())
    }

    async fn access_verifier(&self, mailbox: MailboxId) -> Result<Option<[u8; 32]>, StoreError> {
        self.lock()
            .get(&mailbox)
            .map(|existing| existing.access_verifier)
            .ok_or(StoreError::UnknownMailbox)
    }

    async fn one_time_prekey_count(&self, mailbox: MailboxId) -> Result<u32, StoreError> {
        self.lock()
            .get(&mailbox)
            .map(Mailbox::one_time_count)
            .ok_or(StoreError::UnknownMailbox)
    }

    async fn enqueue(
        &self,
        deliveries: Vec<(MailboxId, Envelope)>,
        now: u64,
        quota: Quota,
    ) -> Result<Vec<u64>, StoreError> {
        let mut mailboxes = self.lock();
        // Check every recipient first (with what this same call adds to it), then store: all or
        // none without an undo path.
        let mut adding: HashMap<MailboxId, (u64, u64)> = HashMap::new();
        for (mailbox, envelope) in &deliveries {
            let existing = mailboxes.get(mailbox).ok_or(StoreError::UnknownMailbox)?;
            let (count, bytes) = adding
                .entry(*mailbox)
                .or_insert_with(|| (existing.messages.len() as u64, existing.queued_bytes));
            *count = count.saturating_add(1);
            *bytes = bytes.saturating_add(envelope.len() as u64);
            if *count > quota.max_messages || *bytes > quota.max_bytes {
                return Err(StoreError::QuotaExceeded { mailbox: *mailbox });
            }
        }
        let mut seqs = Vec::with_capacity(deliveries.len());
        for (mailbox, envelope) in deliveries {
            let existing = mailboxes.get_mut(&mailbox).ok_or(StoreError::UnknownMailbox)?;
            let seq = existing.next_seq;
            existing.next_seq = seq.saturating_add(1);
            existing.push(
                seq,
                Message {
                    received_at: now,
                    envelope,
                },
            );
            seqs.push(seq);
        }
        Ok(seqs)
    }

    async fn fetch(
        &self,
        mailbox: MailboxId,
        after: u64,
        limit: usize,
    ) -> Result<Vec<StoredMessage>, StoreError> {
        let mailboxes = self.lock();
        let existing = mailboxes.get(&mailbox).ok_or(StoreError::UnknownMailbox)?;
        Ok(existing
            .messages
            .range((Bound::Excluded(after), Bound::Unbounded))
            .take(limit)
            .map(|(seq, message)| StoredMessage {
                seq: *seq,
                received_at: message.received_at,
                envelope: message.envelope.clone(),
            })
            .collect())
    }

    async fn ack(&self, mailbox: MailboxId, through: u64) -> Result<u64, StoreError> {
        let mut mailboxes = self.lock();
        let existing = mailboxes.get_mut(&mailbox).ok_or(StoreError::UnknownMailbox)?;
        Ok(existing.remove_unless(|seq, _| seq > through))
    }

    async fn purge_expired(&self, cutoff: u64) -> Result<u64, StoreError> {
        let mut deleted = 0u64;
        for existing in self.lock().values_mut() {
            deleted += existing.remove_unless(|_, message| message.received_at >= cutoff);
        }
        Ok(deleted)
    }

    async fn delete_mailbox(&self, mailbox: MailboxId) -> Result<(), StoreError> {
        self.lock().remove(&mailbox);
        Ok(())
    }

    async fn publish_device_list(&self, update: DeviceListUpdate) -> Result<(), StoreError> {
        // Poisoning: as for the mailboxes, every change below is checked before it is made.
        let mut lists = self.device_lists.lock().unwrap_or_else(PoisonError::into_inner);
        let mut memberships = match lists.remove(&update.account) {
            Some(stored) if !replaces(&update, stored.counter, stored.list.as_bytes()) => {
                lists.insert(update.account, stored);
                return Err(StoreError::StaleDeviceList);
            }
            Some(stored) => stored.memberships,
            None => BTreeMap::new(),
        };
        // A device that published its membership and is no longer named was removed by the
        // account: its mailbox goes (one that never consented keeps it).
        let removed: Vec<[u8; 32]> = memberships
            .keys()
            .filter(|device| !update.devices.contains(device))
            .copied()
            .collect();
        memberships.retain(|device, _| update.devices.contains(device));
        memberships.insert(update.membership.identity_key, update.membership.signature);
        if !removed.is_empty() {
            let mut mailboxes = self.lock();
            for device in &removed {
                mailboxes.remove(&MailboxId::for_identity(device));
            }
        }
        lists.insert(
            update.account,
            AccountDevices {
                counter: update.counter,
                list: update.list,
                memberships,
            },
        );
        Ok(())
    }

    async fn device_list(&self, account: AccountId) -> Result<Option<StoredDeviceList>, StoreError> {
        let lists = self.device_lists.lock().unwrap_or_else(PoisonError::into_inner);
        Ok(lists.get(&account).map(|stored| StoredDeviceList {
            list: stored.list.clone(),
            memberships: stored
                .memberships
                .iter()
                .map(|(identity_key, signature)| Membership {
                    identity_key: *identity_key,
                    signature: *signature,
                })
                .collect(),
        }))
    }

    async fn queue_depth(&self) -> Result<u64, StoreError> {
        Ok(self
            .lock()
            .values()
            .map(|existing| existing.messages.len() as u64)
            .sum())
    }
}

#[cfg(test)]
mod tests {
    crate::store::suite::store_suite!((super::MemoryStore::new(), ()));
}
