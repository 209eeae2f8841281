//! `account_safety.json`: account safety numbers (SPEC.md §16.6), digits and QR bytes from both
//! sides.

use hush_crypto::SafetyNumber;
use hush_crypto::devices::AccountSigningKey;
use serde_json::{Value, json};

use crate::rng::Recorder;
use crate::util::hex;

pub const DESCRIPTION: &str = "Account safety numbers (SPEC.md §16.6): fingerprint = SHA-512 over \
    (0x00 0x02 || account_key || stable_id), then 5199 times (hash || account_key); digits and sorting as \
    §9; QR = 0x02 || own fingerprint[0..32] || other fingerprint[0..32]. Account keys come from the seeds \
    (AccountSigningKey::generate's draws).";

/// The stable ids of each pair (the accounts' addresses in an app).
const PAIRS: [(&str, &str); 3] = [
    ("hush:alice", "hush:bob"),
    ("alice@hush.example", "bob@hush.example"),
    ("", "x"),
];

pub fn generate(rng: &mut Recorder) -> Value {
    let mut cases = Vec::new();
    for (alice_id, bob_id) in PAIRS.map(|(a, b)| (a.as_bytes(), b.as_bytes())) {
        let alice = AccountSigningKey::generate(rng);
        let bob = AccountSigningKey::generate(rng);
        let _ = rng.take();
        let (alice_key, bob_key) = (alice.public(), bob.public());
        let from_alice = SafetyNumber::for_accounts(&alice_key, alice_id, &bob_key, bob_id);
        let from_bob = SafetyNumber::for_accounts(&bob_key, bob_id, &alice_key, alice_id);
        assert_eq!(from_alice.digits(), from_bob.digits());
        assert!(from_alice.matches_scanned(&from_bob.to_qr_bytes()));
        cases.push(json!({
            "alice_seed": hex(&alice.hazmat_seed()),
            "alice_account_key": hex(alice_key.as_bytes()),
            "alice_stable_id": hex(alice_id),
            "bob_seed": hex(&bob.hazmat_seed()),
            "bob_account_key": hex(bob_key.as_bytes()),
            "bob_stable_id": hex(bob_id),
            "alice_half": SafetyNumber::half_for_account(&alice_key, alice_id),
            "digits": from_alice.digits(),
            "display": from_alice.to_display_string(),
            "qr_alice": hex(&from_alice.to_qr_bytes()),
            "qr_bob": hex(&from_bob.to_qr_bytes()),
        }));
    }
    json!({ "cases": cases })
}
