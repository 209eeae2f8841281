//! `check`: replay each file's recorded random bytes through hush-crypto, regenerate it and
//! compare; then decode every encoding stored in the files again.

use std::panic::{AssertUnwindSafe, catch_unwind};

use serde_json::Value;

use crate::rng::{Recorder, throwaway};
use crate::util::{NOW, decode_field, unhex, variant};
use crate::{FILES, build, content, encodings, frames, group_update, payload, vectors_dir};

#[derive(Default)]
struct Report {
    passed: usize,
    failed: usize,
}

impl Report {
    fn check(&mut self, name: &str, problem: Option<String>) {
        match problem {
            None => {
                self.passed += 1;
                println!("ok   {name}");
            }
            Some(problem) => {
                self.failed += 1;
                println!("FAIL {name}: {problem}");
            }
        }
    }
}

/// The path of the first difference between two JSON values, if any.
fn diff(expected: &Value, found: &Value, path: &str) -> Option<String> {
    match (expected, found) {
        (Value::Object(a), Value::Object(b)) => {
            for key in a.keys().chain(b.keys()) {
                let (x, y) = (a.get(key), b.get(key));
                match (x, y) {
                    (Some(x), Some(y)) => {
                        if let Some(d) = diff(x, y, &format!("{path}.{key}")) {
                            return Some(d);
                        }
                    }
                    _ => return Some(format!("{path}.{key}: present on one side only")),
                }
            }
            None
        }
        (Value::Array(a), Value::Array(b)) => {
            if a.len() != b.len() {
                return Some(format!(
                    "{path}: {} elements expected, {} found",
                    a.len(),
                    b.len()
                ));
            }
            a.iter()
                .zip(b)
                .enumerate()
                .find_map(|(i, (x, y))| diff(x, y, &format!("{path}[{i}]")))
        }
        _ if expected == found => None,
        _ => Some(format!("{path}: expected {expected}, found {found}")),
    }
}

fn load(name: &str) -> Result<Value, String> {
    let path = vectors_dir().join(format!("{name}.json"));
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
}

pub fn run() -> bool {
    let mut report = Report::default();
    let mut loaded = Vec::new();
    for file in FILES {
        let stored = match load(file.name) {
            Ok(stored) => stored,
            Err(problem) => {
                report.check(&format!("{} readable", file.name), Some(problem));
                continue;
            }
        };
        let stream = unhex(stored["rng_stream"].as_str().unwrap_or_default());
        let mut rng = Recorder::replay(stream);
        let regenerated = catch_unwind(AssertUnwindSafe(|| build(file, &mut rng)));
        let expected = match regenerated {
            Ok(expected) => expected,
            Err(_) => {
                report.check(
                    &format!("{} regenerates", file.name),
                    Some("hush-crypto behaved differently (see the panic above)".into()),
                );
                continue;
            }
        };
        let used = if rng.exhausted || rng.leftover() != 0 {
            Some(format!(
                "operations drew a different number of random bytes (exhausted: {}, left over: {})",
                rng.exhausted,
                rng.leftover()
            ))
        } else {
            None
        };
        report.check(&format!("{}: random bytes consumed exactly", file.name), used);
        let (Some(expected), Some(found)) = (expected.as_object(), stored.as_object()) else {
            report.check(file.name, Some("not a JSON object".into()));
            continue;
        };
        for key in expected.keys().filter(|key| !found.contains_key(*key)) {
            report.check(
                &format!("{}.{key}", file.name),
                Some("missing from the file".into()),
            );
        }
        for (key, found_value) in found {
            let name = format!("{}.{key}", file.name);
            let Some(expected_value) = expected.get(key) else {
                report.check(&name, Some("not produced by hush-crypto".into()));
                continue;
            };
            match (expected_value, found_value) {
                (Value::Array(a), Value::Array(b)) if a.len() == b.len() => {
                    for (i, (x, y)) in a.iter().zip(b).enumerate() {
                        report.check(&format!("{name}[{i}]"), diff(x, y, ""));
                    }
                }
                _ => report.check(&name, diff(expected_value, found_value, "")),
            }
        }
        loaded.push((file.name, stored));
    }
    for (name, stored) in &loaded {
        match *name {
            "encodings" => check_encodings(&mut report, stored),
            "ratchet" => check_transcript_shape(&mut report, stored),
            "sealed" => check_sealed(&mut report, stored),
            "sealed_shared" => check_sealed_shared(&mut report, stored),
            "payload" => check_payload(&mut report, stored),
            "group_update" => check_group_updates(&mut report, stored),
            "frames" => check_frames(&mut report, stored),
            "content" => check_content(&mut report, stored),
            "ephemeral" => {
                for (check, problem) in crate::ephemeral::check_stored(stored) {
                    report.check(&check, problem);
                }
            }
            _ => {}
        }
    }
    println!("{} passed, {} failed", report.passed, report.failed);
    report.failed == 0
}

/// Decodes the stored bytes themselves (not the regenerated ones).
fn check_encodings(report: &mut Report, stored: &Value) {
    let valid = stored["valid"].as_object().cloned().unwrap_or_default();
    for (name, case) in &valid {
        let kind = name
            .trim_end_matches("_with_one_time_prekey")
            .trim_end_matches("_without_one_time_prekey");
        let bytes = unhex(case["bytes"].as_str().unwrap_or_default());
        let problem = match encodings::decode(kind, &bytes) {
            Ok(again) if again == bytes => None,
            Ok(_) => Some("re-encodes differently".into()),
            Err(error) => Some(format!("does not decode: {error}")),
        };
        report.check(&format!("decode encodings.valid.{name}"), problem);
    }
    for case in stored["decode_errors"].as_array().cloned().unwrap_or_default() {
        let kind = case["kind"].as_str().unwrap_or_default();
        let bytes = unhex(case["bytes"].as_str().unwrap_or_default());
        let problem = match encodings::decode(kind, &bytes) {
            Ok(_) => Some("decodes".into()),
            Err(error) if variant(&error) != case["error"] => Some(format!("{error:?}")),
            Err(error) if decode_field(&error) != case["field"] => Some(format!("{error:?}")),
            Err(_) => None,
        };
        report.check(
            &format!(
                "decode error {kind}/{}",
                case["name"].as_str().unwrap_or_default()
            ),
            problem,
        );
    }
}

fn check_transcript_shape(report: &mut Report, stored: &Value) {
    let messages = stored["messages"].as_array().map_or(0, Vec::len);
    let steps = stored["dh_steps"].as_u64().unwrap_or(0);
    let late = stored["delivery_order"]
        .as_array()
        .map(|order| order.windows(2).filter(|w| w[0].as_u64() > w[1].as_u64()).count())
        .unwrap_or(0);
    report.check(
        "ratchet transcript has >= 50 messages, >= 5 DH steps, out-of-order deliveries",
        (messages < 50 || steps < 5 || late == 0)
            .then(|| format!("{messages} messages, {steps} DH steps, {late} inversions")),
    );
}

/// Runs every refused case through `open`: each must fail with the `error` it names (and the
/// `key_error`, for `Key`).
fn check_refusals<T>(
    report: &mut Report,
    label: &str,
    cases: &Value,
    open: impl Fn(&Value) -> Result<T, hush_crypto::sealed::SealError>,
) {
    for case in cases.as_array().cloned().unwrap_or_default() {
        let problem = match open(&case) {
            Ok(_) => Some("opens".into()),
            Err(error) => {
                let key_error = match &error {
                    hush_crypto::sealed::SealError::Key(key) => Value::from(variant(key)),
                    _ => Value::Null,
                };
                let stored_key_error = case.get("key_error").cloned().unwrap_or(Value::Null);
                (variant(&error) != case["error"] || key_error != stored_key_error)
                    .then(|| format!("{error:?}"))
            }
        };
        let (name, error) = (case["name"].as_str(), case["error"].as_str());
        report.check(
            &format!(
                "{label} {} -> {}",
                name.unwrap_or_default(),
                error.unwrap_or_default()
            ),
            problem,
        );
    }
}

/// Opens the stored envelopes themselves (not the regenerated ones) as the recorded recipient.
fn check_sealed(report: &mut Report, stored: &Value) {
    let text = |value: &Value| unhex(value.as_str().unwrap_or_default());
    let opener = |seed: &Value| {
        let seed: [u8; 32] = text(seed).try_into().unwrap_or([0; 32]);
        hush_crypto::Account::hazmat_from_seed(seed, NOW, &mut throwaway())
    };
    for case in stored["cases"].as_array().cloned().unwrap_or_default() {
        let recipient = opener(&case["recipient_seed"]);
        let problem = match recipient.open_sealed(&text(&case["sealed"])) {
            Ok(opened) if opened.sender.as_bytes().as_slice() != text(&case["sender_identity"]) => {
                Some("names another sender".into())
            }
            Ok(opened) if opened.inner != text(&case["inner"]) => Some("another inner message".into()),
            Ok(_) => None,
            Err(error) => Some(format!("refused: {error:?}")),
        };
        report.check(
            &format!(
                "open_sealed sealed.cases {}",
                case["name"].as_str().unwrap_or_default()
            ),
            problem,
        );
    }
    check_refusals(report, "open_sealed sealed.refused", &stored["refused"], |case| {
        opener(&case["opened_by_seed"]).open_sealed(&text(&case["bytes"]))
    });
}

/// Opens the stored parts and bodies themselves (not the regenerated ones).
fn check_sealed_shared(report: &mut Report, stored: &Value) {
    let text = |value: &Value| unhex(value.as_str().unwrap_or_default());
    let opener = |seed: &Value| {
        let seed: [u8; 32] = text(seed).try_into().unwrap_or([0; 32]);
        hush_crypto::Account::hazmat_from_seed(seed, NOW, &mut throwaway())
    };
    let pool = stored["pool_seeds"].as_array().cloned().unwrap_or_default();
    for case in stored["cases"].as_array().cloned().unwrap_or_default() {
        for (i, part) in case["parts"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .enumerate()
        {
            let index =
                usize::try_from(part["pool_index"].as_u64().unwrap_or(u64::MAX)).unwrap_or(usize::MAX);
            let recipient = opener(pool.get(index).unwrap_or(&Value::Null));
            // The envelope the relay stores, taken apart as a receiver does, gives the pair.
            let envelope = text(&part["envelope"]);
            let split = hush_proto::split_shared_envelope(&envelope).ok();
            let (part_bytes, body) = (text(&part["part"]), text(&case["body"]));
            let problem = match recipient.open_shared(&part_bytes, &body) {
                _ if split.map(|s| (s.part, s.body)) != Some((part_bytes.as_slice(), body.as_slice())) => {
                    Some("the envelope does not split into the part and the body".into())
                }
                Ok(opened) if opened != text(&case["plaintext"]) => Some("another plaintext".into()),
                Ok(_) => None,
                Err(error) => Some(format!("refused: {error:?}")),
            };
            let name = case["name"].as_str().unwrap_or_default();
            report.check(
                &format!("open_shared sealed_shared.cases {name} part {i}"),
                problem,
            );
        }
    }
    check_refusals(
        report,
        "open_shared sealed_shared.refused_opens",
        &stored["refused_opens"],
        |case| opener(&case["opened_by_seed"]).open_shared(&text(&case["part"]), &text(&case["body"])),
    );
}

/// Decodes the stored content kinds themselves (not the regenerated ones).
fn check_content(report: &mut Report, stored: &Value) {
    let kind_of = |case: &Value| u16::try_from(case["kind"].as_u64().unwrap_or(u64::MAX)).unwrap_or(0);
    for case in stored["cases"].as_array().cloned().unwrap_or_default() {
        let data = unhex(case["data"].as_str().unwrap_or_default());
        let problem = match hush_client_core::Content::from_parts(kind_of(&case), data.clone()) {
            Ok(decoded) if content::fields(&decoded) != case["content"] => {
                Some(format!("decodes to {}", content::fields(&decoded)))
            }
            Ok(decoded) if decoded.to_parts() != (kind_of(&case), data) => {
                Some("re-encodes differently".into())
            }
            Ok(_) => None,
            Err(error) => Some(format!("does not decode: {error}")),
        };
        let name = case["name"].as_str().unwrap_or_default();
        report.check(&format!("decode content.cases {name}"), problem);
    }
    for case in stored["refused"].as_array().cloned().unwrap_or_default() {
        let problem =
            match hush_client_core::Content::from_parts(kind_of(&case), content::refused_data(&case)) {
                Ok(_) => Some("decodes".into()),
                Err(error) if content::error_name(&error) != case["error"] => Some(format!("{error:?}")),
                Err(_) => None,
            };
        let name = case["name"].as_str().unwrap_or_default();
        report.check(&format!("decode content.refused {name}"), problem);
    }
}

/// Decodes the stored payload bytes themselves (not the regenerated ones).
fn check_payload(report: &mut Report, stored: &Value) {
    for case in stored["cases"].as_array().cloned().unwrap_or_default() {
        let bytes = unhex(case["bytes"].as_str().unwrap_or_default());
        let problem = match hush_client_core::Payload::decode(&bytes) {
            Ok(payload) if payload::fields(&payload) != case["payload"] => {
                Some(format!("decodes to {}", payload::fields(&payload)))
            }
            Ok(payload) if payload.encode().ok().as_deref() != Some(bytes.as_slice()) => {
                Some("re-encodes differently".into())
            }
            Ok(_) => None,
            Err(error) => Some(format!("does not decode: {error}")),
        };
        let name = case["name"].as_str().unwrap_or_default();
        report.check(&format!("decode payload.cases {name}"), problem);
    }
    for case in stored["refused"].as_array().cloned().unwrap_or_default() {
        let problem = match hush_client_core::Payload::decode(&crate::util::Refused::stored_bytes(&case)) {
            Ok(_) => Some("decodes".into()),
            Err(error) if payload::error_name(&error) != case["error"] => Some(format!("{error:?}")),
            Err(_) => None,
        };
        let name = case["name"].as_str().unwrap_or_default();
        report.check(&format!("decode payload.refused {name}"), problem);
    }
    for case in stored["framed"]["cases"].as_array().into_iter().flatten() {
        let framed = crate::util::unhex(case["framed"].as_str().unwrap_or_default());
        let problem = match hush_client_core::unframe_payload(&framed) {
            Ok((account, _)) if crate::util::hex(account.as_bytes()) != case["account"] => {
                Some(format!("names {account}"))
            }
            Ok((_, payload)) if crate::util::hex(payload) != case["payload"] => {
                Some("another payload".into())
            }
            Ok(_) => None,
            Err(error) => Some(format!("{error:?}")),
        };
        report.check(&format!("unframe payload.framed {}", case["name"]), problem);
    }
    for case in stored["framed"]["refused"].as_array().into_iter().flatten() {
        let framed = crate::util::unhex(case["bytes"].as_str().unwrap_or_default());
        let problem = match hush_client_core::unframe_payload(&framed) {
            Ok(_) => Some("accepted".into()),
            Err(error) if payload::error_name(&error) != case["error"] => Some(format!("{error:?}")),
            Err(_) => None,
        };
        report.check(
            &format!("unframe payload.framed.refused {}", case["name"]),
            problem,
        );
    }
}

/// Decodes the stored group updates themselves (not the regenerated ones).
fn check_group_updates(report: &mut Report, stored: &Value) {
    use hush_client_core::groups::GroupUpdate;
    for case in stored["updates"].as_array().cloned().unwrap_or_default() {
        let bytes = unhex(case["bytes"].as_str().unwrap_or_default());
        let problem = match GroupUpdate::from_bytes(&bytes) {
            Ok(update) if group_update::fields(&update) != case["fields"] => {
                Some(format!("decodes to {}", group_update::fields(&update)))
            }
            Ok(update) if update.to_bytes() != bytes.as_slice() => Some("re-encodes differently".into()),
            Ok(update) if crate::util::hex(&update.hash()) != case["hash"] => {
                Some("hashes differently".into())
            }
            Ok(_) => None,
            Err(error) => Some(format!("does not decode: {error}")),
        };
        let name = case["name"].as_str().unwrap_or_default();
        report.check(&format!("decode group_update.updates {name}"), problem);
    }
    for case in stored["refused"].as_array().cloned().unwrap_or_default() {
        let bytes = unhex(case["bytes"].as_str().unwrap_or_default());
        let problem = match GroupUpdate::from_bytes(&bytes) {
            Ok(_) => Some("decodes".into()),
            Err(error) if group_update::error_name(&error) != case["error"] => Some(format!("{error:?}")),
            Err(_) => None,
        };
        let name = case["name"].as_str().unwrap_or_default();
        report.check(&format!("decode group_update.refused {name}"), problem);
    }
}

/// Decodes the stored frame and envelope bytes themselves (not the regenerated ones).
fn check_frames(report: &mut Report, stored: &Value) {
    use hush_proto::{ClientFrame, ServerFrame, decode_body, split_shared_envelope};
    for case in stored["frames"].as_array().cloned().unwrap_or_default() {
        let bytes = unhex(case["bytes"].as_str().unwrap_or_default());
        let fields = match case["kind"].as_str() {
            Some("client") => decode_body::<ClientFrame>(&bytes).map(|frame| frames::client_fields(&frame)),
            _ => decode_body::<ServerFrame>(&bytes).map(|frame| frames::server_fields(&frame)),
        };
        let problem = match fields {
            Ok(fields) if fields != case["frame"] => Some(format!("decodes to {fields}")),
            Ok(_) => None,
            Err(error) => Some(format!("does not decode: {error}")),
        };
        let name = case["name"].as_str().unwrap_or_default();
        report.check(&format!("decode frames.frames {name}"), problem);
    }
    for case in stored["shared_envelopes"].as_array().cloned().unwrap_or_default() {
        let envelope = unhex(case["envelope"].as_str().unwrap_or_default());
        let expected = |key: &str| unhex(case[key].as_str().unwrap_or_default());
        let problem = match split_shared_envelope(&envelope) {
            Ok(split) if (split.part, split.body) == (&expected("part")[..], &expected("body")[..]) => None,
            Ok(_) => Some("splits into other parts".into()),
            Err(error) => Some(format!("does not split: {error}")),
        };
        let name = case["name"].as_str().unwrap_or_default();
        report.check(&format!("split frames.shared_envelopes {name}"), problem);
    }
    for case in stored["refused_frames"].as_array().cloned().unwrap_or_default() {
        let problem = match decode_body::<ClientFrame>(&crate::util::Refused::stored_bytes(&case)) {
            Ok(_) => Some("decodes".into()),
            Err(error) if frames::frame_error_name(&error) != case["error"] => Some(format!("{error:?}")),
            Err(_) => None,
        };
        let name = case["name"].as_str().unwrap_or_default();
        report.check(&format!("decode frames.refused_frames {name}"), problem);
    }
    for case in stored["refused_envelopes"]
        .as_array()
        .cloned()
        .unwrap_or_default()
    {
        let problem = match split_shared_envelope(&crate::util::Refused::stored_bytes(&case)) {
            Ok(_) => Some("splits".into()),
            Err(error) if frames::envelope_error_name(&error) != case["error"] => Some(format!("{error:?}")),
            Err(_) => None,
        };
        let name = case["name"].as_str().unwrap_or_default();
        report.check(&format!("split frames.refused_envelopes {name}"), problem);
    }
}
