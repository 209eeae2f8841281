//! One file of a seed corpus. Every crate's `fuzzing` module includes this file with `#[path]`
//! (the crates share no dependency that could own it) and builds its `seed_corpus()` of these;
//! its `*_fuzz_seeds` example writes them to `fuzz/corpus/<target>/<name>`.

/// One file of the seed corpus.
#[derive(Debug, Clone)]
pub struct Seed {
    /// Target name (directory under `fuzz/corpus/`).
    pub target: &'static str,
    /// File name.
    pub name: String,
    /// Contents.
    pub bytes: Vec<u8>,
}
