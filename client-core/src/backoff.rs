//! Per-peer retry backoff after refused or failed requests.

use std::collections::HashMap;

use hush_proto::ErrorCode;
use rand_core::CryptoRng;

use crate::address::Address;

/// First retry delay after a refused or failed request, milliseconds; doubles per failure.
pub const RETRY_BASE_MS: u64 = 500;
/// Longest retry delay, milliseconds.
pub const RETRY_MAX_MS: u64 = 60_000;

/// No encryption, fetch or send to a peer before its time.
#[derive(Debug, Default)]
pub(crate) struct Backoff {
    /// Per peer: the time, and failures in a row.
    retry_at: HashMap<Address, (u64, u32)>,
}

impl Backoff {
    /// Backs `peer` off after a failure: exponential, capped, with jitter so many clients do not
    /// retry in step.
    pub(crate) fn back_off(&mut self, now: u64, peer: Address, rng: &mut (impl CryptoRng + ?Sized)) {
        let failures = self.failures(&peer) + 1;
        let delay = RETRY_BASE_MS
            .saturating_mul(1u64 << failures.min(20))
            .min(RETRY_MAX_MS);
        let jitter = rng.next_u64() % (delay / 2 + 1);
        self.retry_at.insert(peer, (now + delay / 2 + jitter, failures));
    }

    pub(crate) fn backed_off(&self, now: u64, peer: &Address) -> bool {
        self.retry_at.get(peer).is_some_and(|(time, _)| *time > now)
    }

    /// Failures in a row with `peer`.
    pub(crate) fn failures(&self, peer: &Address) -> u32 {
        self.retry_at.get(peer).map_or(0, |(_, failures)| *failures)
    }

    /// `peer` answered: retry at once from now on.
    pub(crate) fn clear(&mut self, peer: &Address) {
        self.retry_at.remove(peer);
    }

    /// The earliest retry time after `pumped_at`. Times at or before it were acted on then:
    /// what still waits is waiting for an answer or a login, and offering it would make the
    /// driver spin.
    pub(crate) fn next_after(&self, pumped_at: u64) -> Option<u64> {
        self.retry_at
            .values()
            .map(|(time, _)| *time)
            .filter(|time| *time > pumped_at)
            .min()
    }
}

/// Whether a refused request may succeed if tried again.
pub(crate) fn is_retryable(code: ErrorCode) -> bool {
    !matches!(code, ErrorCode::Invalid)
}
