//! The in-memory relay's KEM prekey directory, with hush-relay's semantics (signatures checked
//! on upload, each one-time key served once, then the last-resort key of the served signed
//! prekey, `KemPreKeysLow` to the owner), and two ways to misbehave for tests: serve no KEM
//! prekey at all (an old relay, or one that strips them), or serve the same one-time key to
//! every fetch.

use std::collections::BTreeMap;

use hush_crypto::IdentityKey;
use hush_crypto::pq::{KemPreKeyKind, KemPreKeyPublic, KemPublicKey};
use hush_proto::{ErrorCode, ErrorResponse, KemPreKey, MailboxId, Push, Response, ServerFrame};

use super::relay::{PREKEY_LOW_THRESHOLD, Relay};

/// Most one-time KEM prekeys one mailbox may hold (the relay's default config).
pub const MAX_KEM_ONE_TIME_PREKEYS: usize = 200;

/// How the relay serves KEM prekeys.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub enum KemMode {
    /// As hush-relay.
    #[default]
    Serve,
    /// Bundles come without a KEM prekey (uploads are still accepted).
    Strip,
    /// Every fetch gets the lowest one-time KEM prekey, which is never deleted.
    ReuseOneTime,
}

/// One mailbox's KEM prekeys.
#[derive(Debug, Default)]
pub struct KemDirectory {
    /// Unclaimed one-time KEM prekeys by id.
    pub one_time: BTreeMap<u32, KemPreKey>,
    /// The last-resort KEM prekey.
    pub last_resort: Option<KemPreKey>,
}

fn invalid() -> ErrorResponse {
    ErrorResponse {
        code: ErrorCode::Invalid,
        detail: "KEM prekey refused".into(),
    }
}

/// Checks a key's signature under `identity` and that it has the kind of its slot.
fn verified(identity: &IdentityKey, prekey: &KemPreKey, kind: KemPreKeyKind) -> Result<(), ErrorResponse> {
    let public = KemPreKeyPublic {
        kind,
        id: prekey.id,
        key: KemPublicKey::from_bytes(&prekey.key.0).map_err(|_| invalid())?,
        signature: prekey.signature.0,
    };
    let slot_matches = match kind {
        KemPreKeyKind::OneTime => prekey.kind == hush_proto::KemPreKeyKind::OneTime,
        _ => prekey.kind == hush_proto::KemPreKeyKind::LastResort,
    };
    if !slot_matches {
        return Err(invalid());
    }
    public.verify(identity).map_err(|_| invalid())
}

impl Relay {
    /// `UploadKemPreKeys` from `from`.
    pub(super) fn upload_kem(
        &mut self,
        from: &MailboxId,
        last_resort: Option<KemPreKey>,
        one_time: Vec<KemPreKey>,
    ) -> Result<Response, ErrorResponse> {
        let identity = self
            .mailboxes
            .get(from)
            .and_then(|mailbox| IdentityKey::from_bytes(&mailbox.identity_key).ok())
            .ok_or_else(invalid)?;
        if let Some(prekey) = &last_resort {
            verified(&identity, prekey, KemPreKeyKind::LastResort)?;
        }
        for prekey in &one_time {
            verified(&identity, prekey, KemPreKeyKind::OneTime)?;
        }
        let directory = self.kem.entry(*from).or_default();
        let adding = one_time
            .iter()
            .filter(|prekey| !directory.one_time.contains_key(&prekey.id))
            .count();
        if directory.one_time.len() + adding > MAX_KEM_ONE_TIME_PREKEYS {
            return Err(ErrorResponse {
                code: ErrorCode::TooManyPreKeys,
                detail: "too many one-time KEM prekeys".into(),
            });
        }
        directory
            .one_time
            .extend(one_time.into_iter().map(|prekey| (prekey.id, prekey)));
        if last_resort.is_some() {
            directory.last_resort = last_resort;
        }
        Ok(Response::KemPreKeysStored {
            one_time_kem_prekeys: directory.one_time.len() as u32,
        })
    }

    /// The KEM prekey a fetch of `target` gets with signed prekey `signed_prekey_id`, claimed.
    pub(super) fn claim_kem(&mut self, target: &MailboxId, signed_prekey_id: u32) -> Option<KemPreKey> {
        let directory = self.kem.get_mut(target)?;
        let claimed = match self.kem_mode {
            KemMode::Strip => return None,
            KemMode::ReuseOneTime => directory.one_time.values().next().cloned(),
            KemMode::Serve => directory.one_time.pop_first().map(|(_, prekey)| prekey),
        };
        let remaining = directory.one_time.len() as u32;
        let served = claimed.or_else(|| {
            directory
                .last_resort
                .clone()
                .filter(|prekey| prekey.id == signed_prekey_id)
        });
        if remaining < PREKEY_LOW_THRESHOLD
            && let Some(link) = self.links.get_mut(target)
        {
            link.down
                .push_back(ServerFrame::Push(Push::KemPreKeysLow { remaining }));
        }
        served
    }

    /// One-time KEM prekeys `mailbox` holds.
    pub fn kem_one_time_count(&self, mailbox: &MailboxId) -> usize {
        self.kem
            .get(mailbox)
            .map_or(0, |directory| directory.one_time.len())
    }
}
