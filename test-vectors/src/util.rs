//! Hex, error names and the pieces several vector files share (accounts, sessions).

use std::fmt::Debug;

use hush_crypto::{Account, Session};
use serde_json::{Value, json};

use crate::rng::Recorder;

/// The `now` every vector uses (Unix seconds).
pub const NOW: u64 = 1_700_000_000;

pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut out, byte| {
            let _ = write!(out, "{byte:02x}");
            out
        })
}

pub fn unhex(text: &str) -> Vec<u8> {
    (0..text.len() / 2)
        .map(|i| u8::from_str_radix(&text[2 * i..2 * i + 2], 16).expect("hex in a vector file"))
        .collect()
}

/// The variant name of an error, from its `Debug` form (`Truncated { .. }` -> `Truncated`).
pub fn variant<E: Debug>(error: &E) -> String {
    let text = format!("{error:?}");
    text.split([' ', '{', '(']).next().unwrap_or_default().to_string()
}

/// `case` with the variant of a sealing error as `error` (and the key error as `key_error`, for
/// `Key`): how sealed.json and sealed_shared.json name their refusals.
pub fn with_seal_error(mut case: Value, error: &hush_crypto::sealed::SealError) -> Value {
    case["error"] = json!(variant(error));
    if let hush_crypto::sealed::SealError::Key(key_error) = error {
        case["key_error"] = json!(variant(key_error));
    }
    case
}

/// The `field` of a `DecodeError`, if it has one.
pub fn decode_field(error: &hush_crypto::DecodeError) -> Value {
    let text = format!("{error:?}");
    match text.split_once("field: \"") {
        Some((_, rest)) => json!(rest.split('"').next().unwrap_or_default()),
        None => Value::Null,
    }
}

/// `Account::new`, recorded: the 64 random bytes and every key they give.
pub fn new_account(rng: &mut Recorder) -> (Account, Value) {
    let account = Account::new(NOW, rng);
    let random = rng.take_hex();
    let (seed, identity_secret, spk_secret) = account.hazmat_secrets();
    let identity = account.identity_key();
    let spk = account
        .signed_prekey()
        .expect("a new account has a signed prekey");
    let json = json!({
        "account_new_random": random,
        "identity_seed": hex(&seed),
        "identity_key": hex(identity.as_bytes()),
        "identity_x25519_secret": hex(&identity_secret),
        "identity_x25519_public": hex(identity.to_curve25519().expect("own identity").as_bytes()),
        "signed_prekey": {
            "id": spk.id,
            "created_at": spk.created_at,
            "secret": hex(&spk_secret),
            "public": hex(spk.key.as_bytes()),
            "signature": hex(&spk.signature),
        },
    });
    (account, json)
}

/// `generate_one_time_prekeys(count)`, recorded.
pub fn one_time_prekeys(account: &mut Account, count: usize, rng: &mut Recorder) -> Value {
    let keys = account.generate_one_time_prekeys(count, rng);
    let random = rng.take_hex();
    let keys: Vec<Value> = keys
        .iter()
        .map(|otk| {
            json!({
                "id": otk.id,
                "secret": hex(&account.hazmat_one_time_prekey_secret(otk.id).expect("just made")),
                "public": hex(otk.key.as_bytes()),
            })
        })
        .collect();
    json!({ "random": random, "keys": keys })
}

/// A session's ratchet state as the vectors show it.
pub fn session_state(session: &Session) -> Value {
    let (root_key, own_secret, sending) = session.hazmat_keys();
    json!({
        "root_key": hex(&root_key),
        "own_ratchet_secret": hex(&own_secret),
        "own_ratchet_key": hex(session.own_ratchet_key().as_bytes()),
        "sending_chain_key": sending.map(|key| hex(&key)),
        "skipped_key_count": session.skipped_key_count(),
        "receiving_chain_count": session.receiving_chain_count(),
    })
}

/// A refused input of a vector file: `prefix`, then `count` copies of `fill` (so a long input is
/// short in the file).
pub struct Refused {
    pub name: &'static str,
    pub prefix: Vec<u8>,
    pub fill: u8,
    pub count: usize,
    pub note: &'static str,
}

impl Refused {
    /// An input that is its prefix alone.
    pub fn plain(name: &'static str, prefix: Vec<u8>, note: &'static str) -> Self {
        Self {
            name,
            prefix,
            fill: 0,
            count: 0,
            note,
        }
    }

    /// The whole input.
    pub fn bytes(&self) -> Vec<u8> {
        let mut bytes = self.prefix.clone();
        bytes.extend(std::iter::repeat_n(self.fill, self.count));
        bytes
    }

    /// The input as the files write it, with the error it gives.
    pub fn to_json(&self, error: &str) -> Value {
        json!({
            "name": self.name,
            "note": self.note,
            "bytes": hex(&self.prefix),
            "fill_byte": hex(&[self.fill]),
            "fill_count": self.count,
            "error": error,
        })
    }

    /// A stored refused input, whole.
    pub fn stored_bytes(case: &Value) -> Vec<u8> {
        let mut bytes = unhex(case["bytes"].as_str().unwrap_or_default());
        let fill = unhex(case["fill_byte"].as_str().unwrap_or_default());
        let count = case["fill_count"].as_u64().unwrap_or(0);
        for _ in 0..count {
            bytes.extend_from_slice(&fill);
        }
        bytes
    }
}
