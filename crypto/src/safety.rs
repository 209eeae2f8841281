//! Safety numbers: what two people compare (digits, or a QR code) to know their sessions are
//! with each other's real identity keys. The construction follows Signal's numeric fingerprint
//! (5200 iterations of SHA-512, 5-digit chunks, sorted halves), with one difference: the first
//! hash input is `version || key || stable id` (libsignal appends the key once more). Hush's
//! numbers never match Signal's anyway, since the keys differ. `test-vectors/SPEC.md` has the details.

use sha2::{Digest, Sha512};

use crate::devices::AccountKey;
use crate::keys::IdentityKey;
use crate::primitives::ct_eq;

/// Hash iterations per fingerprint (Signal's figure): makes finding a second identity key with the
/// same digits cost 5200 times more per guess.
pub const SAFETY_NUMBER_ITERATIONS: usize = 5200;

/// Version byte of the QR form of a device safety number (over identity keys).
pub const SAFETY_NUMBER_QR_VERSION: u8 = 1;

/// Version of an account safety number (over account keys, SPEC.md §16.6): the second byte of
/// the first hash input and the first byte of the QR form.
pub const ACCOUNT_SAFETY_NUMBER_VERSION: u8 = 2;

/// Length of the QR form: version, our fingerprint, theirs.
pub const SAFETY_NUMBER_QR_LEN: usize = 1 + 32 + 32;

/// The safety number of two identities.
#[derive(Clone, PartialEq, Eq)]
pub struct SafetyNumber {
    version: u8,
    local: [u8; 32],
    remote: [u8; 32],
    digits: String,
}

impl core::fmt::Debug for SafetyNumber {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_tuple("SafetyNumber").field(&self.digits).finish()
    }
}

/// `SHA-512` iterated: `h = SHA-512(0x00 || version' || key || stable_id)`, then 5199 times
/// `h = SHA-512(h || key)`, where `version'` is 0 for a device safety number (version 1) and 2
/// for an account safety number.
fn fingerprint(version: u8, identity: &IdentityKey, stable_id: &[u8]) -> [u8; 64] {
    let prefix = if version == SAFETY_NUMBER_QR_VERSION {
        0
    } else {
        version
    };
    let mut hash: [u8; 64] = Sha512::new()
        .chain_update([0u8, prefix])
        .chain_update(identity.as_bytes())
        .chain_update(stable_id)
        .finalize()
        .into();
    for _ in 1..SAFETY_NUMBER_ITERATIONS {
        hash = Sha512::new()
            .chain_update(hash)
            .chain_update(identity.as_bytes())
            .finalize()
            .into();
    }
    hash
}

/// 30 digits from the first 30 bytes: six 5-byte big-endian chunks, each `mod 100000`.
fn digits(fingerprint: &[u8; 64]) -> String {
    let mut out = String::with_capacity(30);
    for chunk in fingerprint.chunks_exact(5).take(6) {
        let value = chunk.iter().fold(0u64, |acc, byte| (acc << 8) | u64::from(*byte));
        out.push_str(&format!("{:05}", value % 100_000));
    }
    out
}

impl SafetyNumber {
    /// The safety number between us and a contact. `*_stable_id` are stable account names
    /// (for example the addresses the app shows); both sides must use the same ones.
    ///
    /// This is the version-1 number over device identity keys, kept for single-device profiles
    /// that have not migrated to an account; accounts use [`SafetyNumber::for_accounts`].
    pub fn new(
        local_identity: &IdentityKey,
        local_stable_id: &[u8],
        remote_identity: &IdentityKey,
        remote_stable_id: &[u8],
    ) -> Self {
        Self::with_version(
            SAFETY_NUMBER_QR_VERSION,
            local_identity,
            local_stable_id,
            remote_identity,
            remote_stable_id,
        )
    }

    /// The account safety number between our account and a contact's (version 2): computed
    /// over the account keys, so linking or removing a device changes neither it nor the
    /// address. `*_stable_id` as in [`SafetyNumber::new`] (the accounts' addresses).
    pub fn for_accounts(
        local_account: &AccountKey,
        local_stable_id: &[u8],
        remote_account: &AccountKey,
        remote_stable_id: &[u8],
    ) -> Self {
        Self::with_version(
            ACCOUNT_SAFETY_NUMBER_VERSION,
            local_account.as_identity(),
            local_stable_id,
            remote_account.as_identity(),
            remote_stable_id,
        )
    }

    /// The 30 digits an account contributes to each of its account safety numbers.
    pub fn half_for_account(account: &AccountKey, stable_id: &[u8]) -> String {
        digits(&fingerprint(
            ACCOUNT_SAFETY_NUMBER_VERSION,
            account.as_identity(),
            stable_id,
        ))
    }

    fn with_version(
        version: u8,
        local_identity: &IdentityKey,
        local_stable_id: &[u8],
        remote_identity: &IdentityKey,
        remote_stable_id: &[u8],
    ) -> Self {
        let local_hash = fingerprint(version, local_identity, local_stable_id);
        let remote_hash = fingerprint(version, remote_identity, remote_stable_id);
        let (local_digits, remote_digits) = (digits(&local_hash), digits(&remote_hash));
        // Sorted, so both sides show the same 60 digits.
        let digits = if local_digits <= remote_digits {
            local_digits + &remote_digits
        } else {
            remote_digits + &local_digits
        };
        let mut local = [0u8; 32];
        let mut remote = [0u8; 32];
        local.copy_from_slice(local_hash.get(..32).unwrap_or(&[0; 32]));
        remote.copy_from_slice(remote_hash.get(..32).unwrap_or(&[0; 32]));
        Self {
            version,
            local,
            remote,
            digits,
        }
    }

    /// The 30 digits one party contributes to every safety number it has (its identity's
    /// fingerprint). A profile can show it before it has any contact; each contact's safety number
    /// then contains it.
    pub fn half_for(identity: &IdentityKey, stable_id: &[u8]) -> String {
        digits(&fingerprint(SAFETY_NUMBER_QR_VERSION, identity, stable_id))
    }

    /// The 60 digits.
    pub fn digits(&self) -> &str {
        &self.digits
    }

    /// The digits in twelve groups of five, as shown to people.
    pub fn to_display_string(&self) -> String {
        let groups: Vec<&str> = (0..12)
            .filter_map(|i| self.digits.get(i * 5..i * 5 + 5))
            .collect();
        groups.join(" ")
    }

    /// Compares digits typed or read out by a person, in constant time (spaces ignored).
    pub fn matches_digits(&self, digits: &str) -> bool {
        let cleaned: String = digits.chars().filter(|c| !c.is_whitespace()).collect();
        ct_eq(cleaned.as_bytes(), self.digits.as_bytes())
    }

    /// The compact form for a QR code: `version || our fingerprint (32) || theirs (32)`, with
    /// version 1 for a device number and 2 for an account number.
    pub fn to_qr_bytes(&self) -> [u8; SAFETY_NUMBER_QR_LEN] {
        let mut out = [0u8; SAFETY_NUMBER_QR_LEN];
        let version = [self.version];
        let bytes = version.iter().chain(&self.local).chain(&self.remote);
        for (slot, byte) in out.iter_mut().zip(bytes) {
            *slot = *byte;
        }
        out
    }

    /// Checks a QR code scanned from the contact's screen: their "ours" must be our "theirs" and
    /// the other way round. Constant time; wrong length or version is a mismatch.
    pub fn matches_scanned(&self, scanned: &[u8]) -> bool {
        let Some((version, rest)) = scanned.split_first() else {
            return false;
        };
        if *version != self.version || rest.len() != 64 {
            return false;
        }
        let (their_local, their_remote) = rest.split_at(32);
        let first = ct_eq(their_local, &self.remote);
        let second = ct_eq(their_remote, &self.local);
        first & second
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::devices::AccountKey;

    #[test]
    fn account_numbers_are_their_own_version() {
        let mut rng = rand::rng();
        let alice = crate::Account::new(1, &mut rng).identity_key();
        let bob = crate::Account::new(1, &mut rng).identity_key();
        let alice_account = AccountKey::from_bytes(alice.as_bytes()).unwrap();
        let bob_account = AccountKey::from_bytes(bob.as_bytes()).unwrap();
        // The same 32 bytes as device keys and as account keys give other numbers.
        let devices = SafetyNumber::new(&alice, b"a", &bob, b"b");
        let accounts = SafetyNumber::for_accounts(&alice_account, b"a", &bob_account, b"b");
        let from_bob = SafetyNumber::for_accounts(&bob_account, b"b", &alice_account, b"a");
        assert_ne!(devices.digits(), accounts.digits());
        assert_eq!(accounts.digits(), from_bob.digits());
        assert_eq!(accounts.to_qr_bytes()[0], ACCOUNT_SAFETY_NUMBER_VERSION);
        assert!(accounts.matches_scanned(&from_bob.to_qr_bytes()));
        // A version-1 code with the same fingerprints is not an account code.
        let mut relabelled = from_bob.to_qr_bytes();
        relabelled[0] = SAFETY_NUMBER_QR_VERSION;
        assert!(!accounts.matches_scanned(&relabelled));
        assert!(!devices.matches_scanned(&SafetyNumber::new(&bob, b"b", &alice, b"a").to_qr_bytes()[..64]));
        assert!(
            accounts
                .digits()
                .contains(&SafetyNumber::half_for_account(&alice_account, b"a"))
        );
    }
}
