//! `identity.json`: Ed25519 identity seed -> Ed25519 public key -> X25519 secret and public key.

use hush_crypto::Account;
use hush_crypto::primitives::x25519_base;
use serde_json::{Value, json};

use crate::rng::{Recorder, throwaway};
use crate::util::{NOW, hex, unhex};

pub const DESCRIPTION: &str = "Identity conversion: x25519_secret = SHA-512(seed)[0..32] (unclamped; X25519 \
    clamps), x25519_public = (1 + y) / (1 - y) mod p of the Ed25519 public key, which equals \
    X25519(x25519_secret, 9).";

/// RFC 8032 §7.1 test 1 and an all-zero seed, then random ones.
const FIXED_SEEDS: [&str; 2] = [
    "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
    "0000000000000000000000000000000000000000000000000000000000000000",
];

pub fn generate(rng: &mut Recorder) -> Value {
    let mut seeds: Vec<[u8; 32]> = FIXED_SEEDS
        .iter()
        .map(|s| unhex(s).try_into().expect("32"))
        .collect();
    for _ in 0..4 {
        seeds.push(rng.input::<32>());
    }
    let cases: Vec<Value> = seeds
        .iter()
        .map(|seed| {
            let account = Account::hazmat_from_seed(*seed, NOW, &mut throwaway());
            let (_, x_secret, _) = account.hazmat_secrets();
            let identity = account.identity_key();
            let x_public = identity.to_curve25519().expect("own identity converts");
            assert_eq!(x25519_base(&x_secret), x_public.to_bytes(), "conversion mismatch");
            json!({
                "seed": hex(seed),
                "ed25519_public": hex(identity.as_bytes()),
                "x25519_secret": hex(&x_secret),
                "x25519_public": hex(x_public.as_bytes()),
            })
        })
        .collect();
    json!({ "cases": cases })
}
