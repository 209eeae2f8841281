//! Prekey upkeep: keep the relay stocked with one-time prekeys and rotate the signed prekey.

use hush_proto::{ErrorResponse, OneTimePreKey, PreKeyUpload, Request, Response, Signature, SignedPreKey};

use crate::core::{Core, PREKEY_LOW_WATER, PREKEY_TARGET, Pending, RETRY_BASE_MS, UPKEEP_INTERVAL_MS};
use crate::event::Event;
use crate::records::StoreOp;

impl Core {
    /// Rotates the signed prekey when due and uploads new one-time prekeys when the relay's
    /// count (if known) is below the low-water mark. The account is committed before the upload
    /// goes out, so the relay never hands out a prekey we could lose in a crash.
    pub(crate) fn upkeep(&mut self, now: u64, relay_count: Option<u32>) {
        self.next_upkeep = now + UPKEEP_INTERVAL_MS;
        if self.uploading {
            return;
        }
        let seconds = now / 1000;
        let mut changed = false;
        if self.account.signed_prekey().is_none() || self.account.needs_signed_prekey_rotation(seconds) {
            self.account.rotate_signed_prekey(seconds, &mut self.rng);
            changed = true;
        }
        let before = self.account.signed_prekey_ids().len();
        self.account.remove_expired_signed_prekeys(seconds);
        changed |= self.account.signed_prekey_ids().len() != before;
        let wanted = match relay_count {
            Some(count) if count < PREKEY_LOW_WATER => (PREKEY_TARGET - count) as usize,
            _ => 0,
        };
        let retrying = self.upload_due.is_some_and(|due| now >= due);
        if wanted == 0 && !changed && !retrying {
            return;
        }
        let new_keys = self
            .account
            .generate_one_time_prekeys(wanted.min(hush_proto::MAX_PREKEYS_PER_UPLOAD), &mut self.rng);
        if new_keys.is_empty() && !changed && !retrying {
            // The account holds all the one-time prekeys it may: an upload would add nothing,
            // and its answer (still low) would ask for another, forever.
            return;
        }
        let Some(signed) = self.account.signed_prekey() else {
            return;
        };
        let one_time: Vec<OneTimePreKey> = new_keys
            .iter()
            .map(|key| OneTimePreKey {
                id: key.id,
                key: key.key.to_bytes(),
            })
            .collect();
        let Some(one_time_prekeys) = PreKeyUpload::new(one_time) else {
            return;
        };
        self.commit(vec![StoreOp::PutAccount(self.account.pickle())]);
        self.uploading = true;
        self.upload_due = None;
        self.request(
            Request::UploadPreKeys {
                signed_prekey: SignedPreKey {
                    id: signed.id,
                    created_at: signed.created_at,
                    key: signed.key.to_bytes(),
                    signature: Signature(signed.signature),
                },
                one_time_prekeys,
            },
            Pending::Upload,
        );
    }

    pub(crate) fn on_upload_result(&mut self, now: u64, result: Result<Response, ErrorResponse>) {
        self.uploading = false;
        match result {
            Ok(Response::PreKeysStored { one_time_prekeys }) => {
                self.event(Event::PreKeysReplenished { one_time_prekeys });
                if one_time_prekeys < PREKEY_LOW_WATER {
                    self.upkeep(now, Some(one_time_prekeys));
                }
            }
            _ => self.upload_due = Some(now + RETRY_BASE_MS * 4),
        }
    }
}
