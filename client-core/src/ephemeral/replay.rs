//! Freshness and replay of ephemerals. The relay sees every sealed ephemeral and could push one
//! again (a "typing" shown long after, a stale "online"): one is admitted only if its `sent_at`
//! is within [`EPHEMERAL_MAX_SKEW_MS`] of our clock and its `(device, id)` was not admitted
//! before. An id needs remembering only while its `sent_at` would still pass the first check.

use std::collections::HashMap;

use super::wire::Ephemeral;
use crate::address::Address;

/// How far an ephemeral's `sent_at` may be from our clock, either way (ms). Typing and presence
/// are stale after seconds; 30 s also tolerates phones whose clocks are a little off.
pub const EPHEMERAL_MAX_SKEW_MS: u64 = 30_000;
/// Most ids remembered. At the relay's ephemeral rate limit one contact fills a few hundred in
/// a skew window; past this many, new ephemerals are refused until old ids expire (refusing
/// loses a typing hint, admitting could admit a replay).
pub const MAX_REPLAY_ENTRIES: usize = 8192;

/// Ids admitted recently, each with the time after which its `sent_at` is too old anyway.
#[derive(Debug, Default)]
pub(crate) struct ReplayWindow {
    seen: HashMap<(Address, [u8; 16]), u64>,
}

impl ReplayWindow {
    /// Whether `ephemeral` from `device` is fresh and new at `now`; if so it is remembered.
    pub(crate) fn admit(&mut self, now: u64, device: Address, ephemeral: &Ephemeral) -> bool {
        if ephemeral.sent_at.abs_diff(now) > EPHEMERAL_MAX_SKEW_MS {
            return false;
        }
        let key = (device, ephemeral.id);
        if self.seen.contains_key(&key) {
            return false;
        }
        if self.seen.len() >= MAX_REPLAY_ENTRIES {
            self.seen.retain(|_, expires| *expires >= now);
            if self.seen.len() >= MAX_REPLAY_ENTRIES {
                return false;
            }
        }
        self.seen
            .insert(key, ephemeral.sent_at.saturating_add(EPHEMERAL_MAX_SKEW_MS));
        true
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.seen.len()
    }
}

#[cfg(test)]
mod tests {
    use super::super::wire::EphemeralKind;
    use super::*;

    fn device() -> Address {
        use rand::SeedableRng as _;
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let seed = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let account = hush_crypto::Account::new(1, &mut rand::rngs::StdRng::seed_from_u64(seed));
        Address::from_identity(&account.identity_key())
    }

    fn at(sent_at: u64, id: u8) -> Ephemeral {
        Ephemeral {
            sent_at,
            id: [id; 16],
            kind: EphemeralKind::Typing(true),
        }
    }

    #[test]
    fn a_replay_or_a_stale_one_is_refused() {
        let (mut window, device) = (ReplayWindow::default(), device());
        let now = 1_000_000;
        assert!(window.admit(now, device, &at(now, 1)));
        assert!(!window.admit(now + 5, device, &at(now, 1)), "replayed");
        assert!(window.admit(now, device, &at(now - EPHEMERAL_MAX_SKEW_MS, 2)));
        assert!(
            !window.admit(now, device, &at(now - EPHEMERAL_MAX_SKEW_MS - 1, 3)),
            "stale"
        );
        assert!(
            !window.admit(now, device, &at(now + EPHEMERAL_MAX_SKEW_MS + 1, 4)),
            "future"
        );
        // Another device may use the same id.
        assert!(window.admit(now, self::device(), &at(now, 1)));
    }

    #[test]
    fn a_full_window_forgets_expired_ids_and_refuses_while_none_has() {
        let (mut window, device) = (ReplayWindow::default(), device());
        let now = 1_000_000;
        for n in 0..MAX_REPLAY_ENTRIES {
            let mut ephemeral = at(now, 0);
            ephemeral.id[..8].copy_from_slice(&(n as u64).to_be_bytes());
            assert!(window.admit(now, device, &ephemeral));
        }
        assert!(!window.admit(now, device, &at(now, 0xFF)), "full of live ids");
        let later = now + EPHEMERAL_MAX_SKEW_MS + 1;
        assert!(window.admit(later, device, &at(later, 0xFF)));
        assert_eq!(window.len(), 1);
    }
}
