//! Writes the seed corpus of hush-client-core's fuzz targets to `fuzz/corpus/<target>/`
//! (deterministic: rerunning it rewrites the same files). Files it does not generate, such as
//! crash inputs kept as regressions, are left alone; delete a stale seed by hand. Run:
//! `cargo run -p hush-client-core --features fuzzing --example client_fuzz_seeds`.

use std::path::PathBuf;

fn main() -> std::io::Result<()> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus");
    for (target, _) in hush_client_core::fuzzing::TARGETS {
        std::fs::create_dir_all(root.join(target))?;
    }
    let seeds = hush_client_core::fuzzing::seed_corpus();
    for seed in &seeds {
        std::fs::write(root.join(seed.target).join(&seed.name), &seed.bytes)?;
    }
    println!("wrote {} seed files under {}", seeds.len(), root.display());
    Ok(())
}
