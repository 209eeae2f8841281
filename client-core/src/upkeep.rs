//! Prekey upkeep: keep the relay stocked with one-time prekeys and rotate the signed prekey;
//! the KEM prekeys follow in the same run ([`crate::kem_upkeep`]).

use hush_proto::{ErrorResponse, OneTimePreKey, PreKeyUpload, Request, Response};

use crate::backoff::RETRY_BASE_MS;
use crate::event::Event;
use crate::kem_upkeep::KemUpkeep;
use crate::link::Pending;
use crate::records::StoreOp;
pub(crate) use crate::upkeep_cx::UpkeepCx;

/// Upload more one-time prekeys when the relay holds fewer than this: the relay's default
/// `PreKeysLow` threshold, one number shared through hush-proto.
pub const PREKEY_LOW_WATER: u32 = hush_proto::PREKEY_LOW_THRESHOLD;
/// Top the relay's one-time prekeys up to this many.
pub const PREKEY_TARGET: u32 = 100;
/// How often prekey upkeep (signed-prekey rotation) is checked while online, milliseconds.
pub const UPKEEP_INTERVAL_MS: u64 = 60 * 60 * 1000;

/// When upkeep runs next, and whether an upload awaits its answer.
#[derive(Debug, Default)]
pub(crate) struct Upkeep {
    upload_due: Option<u64>,
    uploading: bool,
    next_check: u64,
    kem: KemUpkeep,
}

impl Upkeep {
    /// Whether an EC or KEM prekey upload awaits its answer.
    pub(crate) fn is_uploading(&self) -> bool {
        self.uploading || self.kem.is_uploading()
    }

    /// Logged in at `now`. The signed prekey goes up at every login: a profile restored from an
    /// older copy may find the relay holding one rotated after that copy, whose secret it does
    /// not have.
    pub(crate) fn logged_in(&mut self, now: u64) {
        self.uploading = false;
        self.upload_due = Some(now);
        self.kem.reset();
    }

    pub(crate) fn disconnected(&mut self) {
        self.uploading = false;
        self.kem.reset();
    }

    /// Upload at the next run, whatever the counts (our prekeys may be known to others).
    pub(crate) fn upload_now(&mut self, now: u64) {
        self.upload_due = Some(now);
    }

    /// Whether a timer at `now` is for upkeep.
    pub(crate) fn due(&self, now: u64) -> bool {
        now >= self.next_check || self.upload_due.is_some_and(|due| now >= due) || self.kem.due(now)
    }

    /// When upkeep wants the timer.
    pub(crate) fn next_timeout(&self) -> u64 {
        [self.upload_due, self.kem.next_timeout()]
            .into_iter()
            .flatten()
            .fold(self.next_check, u64::min)
    }

    /// [`Upkeep::run_ec`], then the KEM prekeys' upkeep on the same connection, after it.
    pub(crate) fn run(&mut self, now: u64, relay_count: Option<u32>, mut cx: UpkeepCx<'_>) {
        self.run_ec(now, relay_count, cx.reborrow());
        self.kem.run(now, None, cx);
    }

    /// The relay says `remaining` one-time KEM prekeys are left.
    pub(crate) fn on_kem_low(&mut self, now: u64, remaining: u32, cx: UpkeepCx<'_>) {
        self.kem.run(now, Some(remaining), cx);
    }

    /// The relay answered a KEM prekey upload.
    pub(crate) fn on_kem_upload_result(
        &mut self,
        now: u64,
        result: Result<Response, ErrorResponse>,
        cx: UpkeepCx<'_>,
    ) {
        self.kem.on_upload_result(now, result, cx);
    }

    /// Rotates the signed prekey when due and uploads new one-time prekeys when the relay's
    /// count (if known) is below the low-water mark. The account is committed before the upload
    /// goes out, so the relay never hands out a prekey we could lose in a crash.
    fn run_ec(&mut self, now: u64, relay_count: Option<u32>, cx: UpkeepCx<'_>) {
        self.next_check = now + UPKEEP_INTERVAL_MS;
        if self.uploading {
            return;
        }
        let UpkeepCx {
            account,
            rng,
            link,
            out,
        } = cx;
        let seconds = now / 1000;
        let mut changed = false;
        if account.signed_prekey().is_none() || account.needs_signed_prekey_rotation(seconds) {
            account.rotate_signed_prekey(seconds, rng);
            changed = true;
        }
        let before = account.signed_prekey_ids().len();
        account.remove_expired_signed_prekeys(seconds);
        changed |= account.signed_prekey_ids().len() != before;
        let wanted = match relay_count {
            Some(count) if count < PREKEY_LOW_WATER => (PREKEY_TARGET - count) as usize,
            _ => 0,
        };
        let retrying = self.upload_due.is_some_and(|due| now >= due);
        if wanted == 0 && !changed && !retrying {
            return;
        }
        let new_keys = account.generate_one_time_prekeys(wanted.min(hush_proto::MAX_PREKEYS_PER_UPLOAD), rng);
        if new_keys.is_empty() && !changed && !retrying {
            // The account holds all the one-time prekeys it may: an upload would add nothing,
            // and its answer (still low) would ask for another, forever.
            return;
        }
        let Some(signed) = account.signed_prekey() else {
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
        out.commit(vec![StoreOp::PutAccount(account.pickle())]);
        self.uploading = true;
        self.upload_due = None;
        let request = Request::UploadPreKeys {
            signed_prekey: crate::prekey_wire::signed_prekey_to_wire(&signed),
            one_time_prekeys,
        };
        link.request(out, request, Pending::Upload);
    }

    /// The relay answered an upload.
    pub(crate) fn on_upload_result(
        &mut self,
        now: u64,
        result: Result<Response, ErrorResponse>,
        cx: UpkeepCx<'_>,
    ) {
        self.uploading = false;
        match result {
            Ok(Response::PreKeysStored { one_time_prekeys }) => {
                cx.out.event(Event::PreKeysReplenished { one_time_prekeys });
                if one_time_prekeys < PREKEY_LOW_WATER {
                    self.run_ec(now, Some(one_time_prekeys), cx);
                }
            }
            _ => self.upload_due = Some(now + RETRY_BASE_MS * 4),
        }
    }
}
