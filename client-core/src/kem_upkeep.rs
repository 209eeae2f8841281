//! KEM prekey upkeep: keep the relay stocked with signed one-time KEM prekeys and holding the
//! last-resort KEM prekey of the current signed prekey, so contacts can always set up with
//! PQXDH. It runs right after the EC upkeep on the same connection (the relay answers requests
//! in order, so a new signed prekey is stored before its last-resort KEM prekey), on the
//! relay's `KemPreKeysLow` push, and again after each answer that reports a low count.

use hush_crypto::Account;
use hush_crypto::pq::{KemPreKeyKind, KemPreKeyPublic};
use hush_proto::{ErrorResponse, KemPreKeyUpload, Request, Response};
use rand_core::CryptoRng;

use crate::backoff::RETRY_BASE_MS;
use crate::event::Event;
use crate::link::Pending;
use crate::prekey_wire::kem_prekey_to_wire;
use crate::records::StoreOp;
use crate::upkeep_cx::UpkeepCx;

/// Upload more one-time KEM prekeys when the relay holds fewer than this: the relay's
/// `KemPreKeysLow` threshold, the EC keys' number.
pub const KEM_PREKEY_LOW_WATER: u32 = hush_proto::PREKEY_LOW_THRESHOLD;
/// Top the relay's one-time KEM prekeys up to this many (one upload's worth, as for EC keys).
pub const KEM_PREKEY_TARGET: u32 = 100;

/// What the relay holds of our KEM prekeys, as far as this connection knows, and whether an
/// upload awaits its answer.
#[derive(Debug, Default)]
pub(crate) struct KemUpkeep {
    uploading: Option<u32>,
    /// The signed prekey whose last-resort KEM prekey the relay has from this connection.
    last_resort_uploaded: Option<u32>,
    retry_due: Option<u64>,
}

/// The account's last-resort KEM prekey of its current signed prekey, made if it has none. An
/// existing one is reused: contacts may hold bundles with it, and replacing it would erase the
/// secret their first messages need.
fn last_resort(account: &mut Account, rng: &mut (dyn CryptoRng + Send)) -> Option<KemPreKeyPublic> {
    let held = account
        .pq_prekey_bundle(None, None)
        .and_then(|bundle| bundle.kem_prekey)
        .filter(|kem| kem.kind == KemPreKeyKind::LastResort);
    held.or_else(|| account.generate_last_resort_kem_prekey(rng))
}

impl KemUpkeep {
    /// A new connection: the relay may hold anything, so the last-resort key goes up again.
    pub(crate) fn reset(&mut self) {
        *self = Self::default();
    }

    pub(crate) fn is_uploading(&self) -> bool {
        self.uploading.is_some()
    }

    /// Whether a timer at `now` is for a retry of a failed upload.
    pub(crate) fn due(&self, now: u64) -> bool {
        self.retry_due.is_some_and(|due| now >= due)
    }

    /// When a failed upload is retried.
    pub(crate) fn next_timeout(&self) -> Option<u64> {
        self.retry_due
    }

    /// Uploads the current signed prekey's last-resort KEM prekey if this connection has not,
    /// and new one-time KEM prekeys when the relay's count (if known) is below the low-water
    /// mark. The account is committed before the upload goes out, so the relay never serves a
    /// KEM prekey whose secret we could lose in a crash.
    pub(crate) fn run(&mut self, now: u64, relay_count: Option<u32>, cx: UpkeepCx<'_>) {
        if self.uploading.is_some() || self.retry_due.is_some_and(|due| now < due) {
            return;
        }
        let UpkeepCx {
            account,
            rng,
            link,
            out,
        } = cx;
        let Some(signed_id) = account.signed_prekey().map(|signed| signed.id) else {
            return;
        };
        let wanted = match relay_count {
            Some(count) if count < KEM_PREKEY_LOW_WATER => (KEM_PREKEY_TARGET - count) as usize,
            _ => 0,
        };
        let last_resort = match self.last_resort_uploaded {
            Some(id) if id == signed_id => None,
            _ => last_resort(account, rng),
        };
        let count = wanted.min(hush_proto::MAX_KEM_PREKEYS_PER_UPLOAD);
        let one_time = account.generate_kem_one_time_prekeys(count, rng);
        if one_time.is_empty() && last_resort.is_none() {
            return;
        }
        let Some(one_time) = KemPreKeyUpload::new(one_time.iter().map(kem_prekey_to_wire).collect()) else {
            return;
        };
        out.commit(vec![StoreOp::PutAccount(account.pickle())]);
        self.uploading = Some(signed_id);
        self.retry_due = None;
        let request = Request::UploadKemPreKeys {
            last_resort: last_resort.as_ref().map(kem_prekey_to_wire),
            one_time,
        };
        link.request(out, request, Pending::KemUpload);
    }

    /// The relay answered a KEM prekey upload.
    pub(crate) fn on_upload_result(
        &mut self,
        now: u64,
        result: Result<Response, ErrorResponse>,
        cx: UpkeepCx<'_>,
    ) {
        let signed_id = self.uploading.take();
        match result {
            Ok(Response::KemPreKeysStored { one_time_kem_prekeys }) => {
                self.last_resort_uploaded = signed_id;
                cx.out
                    .event(Event::KemPreKeysReplenished { one_time_kem_prekeys });
                if one_time_kem_prekeys < KEM_PREKEY_LOW_WATER {
                    self.run(now, Some(one_time_kem_prekeys), cx);
                }
            }
            _ => self.retry_due = Some(now + RETRY_BASE_MS * 4),
        }
    }
}
