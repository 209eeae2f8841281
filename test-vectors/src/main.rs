//! Generates and checks the Hush test vectors.
//!
//! `generate` writes `test-vectors/vectors/*.json` from seeded RNGs; `check` replays each file's
//! recorded random bytes through hush-crypto, regenerates the file and compares it field by
//! field, then decodes every encoding in the files again.
// A test tool: a broken invariant should stop it loudly.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod account_safety;
mod check;
mod content;
mod conversation;
mod devices;
mod encodings;
mod ephemeral;
mod frames;
mod group;
mod group_update;
mod identity;
mod link;
mod negative;
mod payload;
mod pqxdh;
mod ratchet;
mod rng;
mod safety;
mod sealed;
mod sealed_shared;
mod util;
mod x3dh;

use std::path::PathBuf;
use std::process::ExitCode;

use serde_json::{Value, json};

use crate::rng::Recorder;

/// One vector file: its name, RNG seed, description and generator.
#[derive(Debug)]
pub struct VectorFile {
    pub name: &'static str,
    pub seed: u64,
    pub description: &'static str,
    pub generate: fn(&mut Recorder) -> Value,
}

pub const FILES: &[VectorFile] = &[
    VectorFile {
        name: "identity",
        seed: 1,
        description: identity::DESCRIPTION,
        generate: identity::generate,
    },
    VectorFile {
        name: "x3dh",
        seed: 2,
        description: x3dh::DESCRIPTION,
        generate: x3dh::generate,
    },
    VectorFile {
        name: "ratchet",
        seed: 3,
        description: ratchet::DESCRIPTION,
        generate: ratchet::generate,
    },
    VectorFile {
        name: "group",
        seed: 4,
        description: group::DESCRIPTION,
        generate: group::generate,
    },
    VectorFile {
        name: "safety",
        seed: 5,
        description: safety::DESCRIPTION,
        generate: safety::generate,
    },
    VectorFile {
        name: "encodings",
        seed: 6,
        description: encodings::DESCRIPTION,
        generate: encodings::generate,
    },
    VectorFile {
        name: "negative",
        seed: 7,
        description: negative::DESCRIPTION,
        generate: negative::generate,
    },
    VectorFile {
        name: "sealed",
        seed: 8,
        description: sealed::DESCRIPTION,
        generate: sealed::generate,
    },
    VectorFile {
        name: "sealed_shared",
        seed: 23,
        description: sealed_shared::DESCRIPTION,
        generate: sealed_shared::generate,
    },
    VectorFile {
        name: "payload",
        seed: 20,
        description: payload::DESCRIPTION,
        generate: payload::generate,
    },
    VectorFile {
        name: "frames",
        seed: 21,
        description: frames::DESCRIPTION,
        generate: frames::generate,
    },
    VectorFile {
        name: "devices",
        seed: 9,
        description: devices::DESCRIPTION,
        generate: devices::generate,
    },
    VectorFile {
        name: "link",
        seed: 10,
        description: link::DESCRIPTION,
        generate: link::generate,
    },
    VectorFile {
        name: "account_safety",
        seed: 11,
        description: account_safety::DESCRIPTION,
        generate: account_safety::generate,
    },
    VectorFile {
        name: "pqxdh",
        seed: 12,
        description: pqxdh::DESCRIPTION,
        generate: pqxdh::generate,
    },
    VectorFile {
        name: "group_update",
        seed: 21,
        description: group_update::DESCRIPTION,
        generate: group_update::generate,
    },
    VectorFile {
        name: "content",
        seed: 22,
        description: content::DESCRIPTION,
        generate: content::generate,
    },
    VectorFile {
        name: "ephemeral",
        seed: 23,
        description: ephemeral::DESCRIPTION,
        generate: ephemeral::generate,
    },
];

/// Builds a whole file: the generator's content plus the description and the random stream.
pub fn build(file: &VectorFile, rng: &mut Recorder) -> Value {
    let mut content = (file.generate)(rng);
    let object = content.as_object_mut().expect("generators return objects");
    object.insert("description".into(), json!(file.description));
    object.insert(
        "rng".into(),
        json!({
            "seed": file.seed,
            "note": "generate: rand 0.10 StdRng::seed_from_u64(seed); check: replays rng_stream",
        }),
    );
    object.insert("rng_stream".into(), json!(util::hex(rng.stream())));
    content
}

pub fn vectors_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("vectors")
}

fn generate() -> std::io::Result<()> {
    let dir = vectors_dir();
    std::fs::create_dir_all(&dir)?;
    for file in FILES {
        let mut rng = Recorder::seeded(file.seed);
        let value = build(file, &mut rng);
        let mut text = serde_json::to_string_pretty(&value).map_err(std::io::Error::other)?;
        text.push('\n');
        let path = dir.join(format!("{}.json", file.name));
        std::fs::write(&path, text)?;
        println!("wrote {}", path.display());
    }
    Ok(())
}

fn main() -> ExitCode {
    match std::env::args().nth(1).as_deref() {
        Some("generate") => match generate() {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => {
                eprintln!("generate failed: {error}");
                ExitCode::FAILURE
            }
        },
        Some("check") => {
            if check::run() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        _ => {
            eprintln!("usage: hush-test-vectors <generate|check>");
            ExitCode::from(2)
        }
    }
}

#[cfg(test)]
mod tests {
    /// The committed vectors still match hush-crypto.
    #[test]
    fn vectors_match_hush_crypto() {
        assert!(crate::check::run(), "see the FAIL lines above");
    }
}
