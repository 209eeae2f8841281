//! `ephemeral.json`: the plaintext of typing and presence ephemerals (SPEC.md §18), the encodings
//! a decoder must refuse, and one ephemeral sealed (SPEC.md §15) as a client sends it.

use hush_client_core::{Ephemeral, EphemeralKind, Presence};
use serde_json::{Value, json};

use crate::rng::Recorder;
use crate::util::{hex, new_account, unhex, variant};

pub const DESCRIPTION: &str = "Ephemerals (SPEC.md §18): ephemeral = 0xE1 || sent_at u64 BE (Unix ms) || \
    id [16] || kind u8 || body; kind 1 typing: started u8 (0 or 1); kind 2 presence: state u8 (1 online, \
    2 offline) || last_seen u64 BE (0 when online) || reply u8 (0 or 1). Exactly that length. `cases` \
    decode to `fields` and encode back to `bytes`; `refused` decode to the named error. `sealed`: the \
    sender's account (seeded from the recorded stream) seals `plaintext` to the recipient's identity key; \
    the recipient (identity seed `recipient_seed`) opens it to `sender_identity` and `plaintext`.";

const SENT_AT: u64 = 1_750_000_000_123;
const ID: [u8; 16] = *b"hush-ephemeral-1";

/// The fields of `ephemeral` as the file writes them.
pub fn fields(ephemeral: &Ephemeral) -> Value {
    let mut out = json!({ "sent_at": ephemeral.sent_at, "id": hex(&ephemeral.id) });
    let extra = match ephemeral.kind {
        EphemeralKind::Typing(started) => json!({ "type": "typing", "started": started }),
        EphemeralKind::Presence { presence, reply } => match presence {
            Presence::LastSeen(at) => {
                json!({ "type": "presence", "state": "offline", "last_seen": at, "reply": reply })
            }
            _ => json!({ "type": "presence", "state": "online", "last_seen": 0, "reply": reply }),
        },
    };
    if let (Some(out), Some(extra)) = (out.as_object_mut(), extra.as_object()) {
        out.extend(extra.clone());
    }
    out
}

fn ephemeral(kind: EphemeralKind) -> Ephemeral {
    Ephemeral {
        sent_at: SENT_AT,
        id: ID,
        kind,
    }
}

fn valid_cases() -> Vec<(&'static str, Ephemeral)> {
    let presence = |presence, reply| EphemeralKind::Presence { presence, reply };
    vec![
        ("typing_started", ephemeral(EphemeralKind::Typing(true))),
        ("typing_stopped", ephemeral(EphemeralKind::Typing(false))),
        (
            "presence_online_asks_back",
            ephemeral(presence(Presence::Online, true)),
        ),
        (
            "presence_last_seen",
            ephemeral(presence(Presence::LastSeen(SENT_AT - 5_000), false)),
        ),
    ]
}

fn refused_cases() -> Vec<(&'static str, Vec<u8>)> {
    let typing = ephemeral(EphemeralKind::Typing(true)).encode();
    let online = ephemeral(EphemeralKind::Presence {
        presence: Presence::Online,
        reply: false,
    })
    .encode();
    let with = |bytes: &[u8], at: usize, value: u8| {
        let mut bytes = bytes.to_vec();
        if let Some(byte) = bytes.get_mut(at) {
            *byte = value;
        }
        bytes
    };
    vec![
        ("empty", Vec::new()),
        ("header_only", typing[..26].to_vec()),
        ("typing_trailing_byte", [typing.as_slice(), &[0]].concat()),
        ("presence_short", online[..35].to_vec()),
        ("session_message_type", with(&typing, 0, 0x01)),
        ("unknown_kind", with(&typing, 25, 3)),
        ("typing_flag_2", with(&typing, 26, 2)),
        ("presence_state_0", with(&online, 26, 0)),
        ("online_with_last_seen", with(&online, 34, 1)),
        ("presence_reply_2", with(&online, 35, 2)),
    ]
}

pub fn generate(rng: &mut Recorder) -> Value {
    let mut cases = Vec::new();
    for (name, value) in valid_cases() {
        let bytes = value.encode();
        assert_eq!(Ephemeral::decode(&bytes), Ok(value));
        cases.push(json!({ "name": name, "bytes": hex(&bytes), "fields": fields(&value) }));
    }
    let refused: Vec<Value> = refused_cases()
        .iter()
        .map(|(name, bytes)| {
            let error = Ephemeral::decode(bytes).expect_err("refused cases are refused");
            json!({ "name": name, "bytes": hex(bytes), "error": variant(&error) })
        })
        .collect();
    let (sender, _) = new_account(rng);
    let (recipient, recipient_json) = new_account(rng);
    let plaintext = ephemeral(EphemeralKind::Typing(true)).encode();
    let sealed = hush_crypto::sealed::seal(&sender, &recipient.identity_key(), &plaintext, rng)
        .expect("a valid recipient");
    let opened = recipient.open_sealed(&sealed).expect("sealed for it");
    assert_eq!(opened.inner, plaintext);
    json!({
        "cases": cases,
        "refused": refused,
        "sealed": {
            "sender_identity": hex(sender.identity_key().as_bytes()),
            "recipient_seed": recipient_json["identity_seed"],
            "plaintext": hex(&plaintext),
            "sealed": hex(&sealed),
        },
    })
}

/// Checks the stored file's bytes themselves (not regenerated ones): each case decodes to its
/// fields and back, each refused one is refused as named, and the sealed one opens.
pub fn check_stored(stored: &Value) -> Vec<(String, Option<String>)> {
    let mut out = Vec::new();
    for case in stored["cases"].as_array().cloned().unwrap_or_default() {
        let bytes = unhex(case["bytes"].as_str().unwrap_or_default());
        let problem = match Ephemeral::decode(&bytes) {
            Ok(value) if fields(&value) != case["fields"] => Some(format!("decodes to {}", fields(&value))),
            Ok(value) if value.encode() != bytes => Some("re-encodes differently".into()),
            Ok(_) => None,
            Err(error) => Some(format!("does not decode: {error}")),
        };
        out.push((format!("decode ephemeral.cases {}", case["name"]), problem));
    }
    for case in stored["refused"].as_array().cloned().unwrap_or_default() {
        let bytes = unhex(case["bytes"].as_str().unwrap_or_default());
        let problem = match Ephemeral::decode(&bytes) {
            Ok(_) => Some("decodes".into()),
            Err(error) if variant(&error) != case["error"] => Some(format!("{error:?}")),
            Err(_) => None,
        };
        out.push((format!("decode ephemeral.refused {}", case["name"]), problem));
    }
    let sealed = &stored["sealed"];
    let seed: [u8; 32] = unhex(sealed["recipient_seed"].as_str().unwrap_or_default())
        .try_into()
        .unwrap_or([0; 32]);
    let recipient =
        hush_crypto::Account::hazmat_from_seed(seed, crate::util::NOW, &mut crate::rng::throwaway());
    let problem = match recipient.open_sealed(&unhex(sealed["sealed"].as_str().unwrap_or_default())) {
        Ok(opened) if hex(opened.sender.as_bytes()) != sealed["sender_identity"] => {
            Some("another sender".into())
        }
        Ok(opened) if hex(&opened.inner) != sealed["plaintext"] => Some("another plaintext".into()),
        Ok(opened) => Ephemeral::decode(&opened.inner)
            .err()
            .map(|error| error.to_string()),
        Err(error) => Some(format!("does not open: {error}")),
    };
    out.push(("open ephemeral.sealed".into(), problem));
    out
}
