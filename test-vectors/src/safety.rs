//! `safety.json`: safety numbers (digits and QR bytes from both sides).

use hush_crypto::{Account, SafetyNumber};
use serde_json::{Value, json};

use crate::rng::{Recorder, throwaway};
use crate::util::{NOW, hex};

pub const DESCRIPTION: &str = "Safety numbers: fingerprint = SHA-512 iterated 5200 times over \
    (0x0000 || identity || stable_id) then (hash || identity); 30 digits per side from six 5-byte \
    big-endian chunks mod 100000; the 60 digits are the two halves sorted; QR = 0x01 || own \
    fingerprint[0..32] || other fingerprint[0..32].";

pub fn generate(rng: &mut Recorder) -> Value {
    let stable_ids: [(&[u8], &[u8]); 3] = [
        (b"alice@hush.example", b"bob@hush.example"),
        (b"+14155550100", b"+14155550199"),
        (b"", b"x"),
    ];
    let cases: Vec<Value> = stable_ids
        .iter()
        .map(|(alice_id, bob_id)| {
            let alice_seed = rng.input::<32>();
            let bob_seed = rng.input::<32>();
            let alice = Account::hazmat_from_seed(alice_seed, NOW, &mut throwaway()).identity_key();
            let bob = Account::hazmat_from_seed(bob_seed, NOW, &mut throwaway()).identity_key();
            let from_alice = SafetyNumber::new(&alice, alice_id, &bob, bob_id);
            let from_bob = SafetyNumber::new(&bob, bob_id, &alice, alice_id);
            assert_eq!(from_alice.digits(), from_bob.digits());
            assert!(from_alice.matches_scanned(&from_bob.to_qr_bytes()));
            assert!(from_bob.matches_scanned(&from_alice.to_qr_bytes()));
            json!({
                "alice_seed": hex(&alice_seed),
                "alice_identity": hex(alice.as_bytes()),
                "alice_stable_id": hex(alice_id),
                "bob_seed": hex(&bob_seed),
                "bob_identity": hex(bob.as_bytes()),
                "bob_stable_id": hex(bob_id),
                "digits": from_alice.digits(),
                "display": from_alice.to_display_string(),
                "qr_alice": hex(&from_alice.to_qr_bytes()),
                "qr_bob": hex(&from_bob.to_qr_bytes()),
            })
        })
        .collect();
    json!({ "cases": cases })
}
