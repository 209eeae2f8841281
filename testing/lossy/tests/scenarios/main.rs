//! Real network faults between real clients and the real relay, through the lossy proxy: each
//! scenario checks every message arrives exactly once and in order at the application, and
//! prints one `LOSSY scenario=…` line with its figures.
//!
//! Scenario 5 of issue 23 (a 5 MiB attachment over 256 kbit/s) waits for attachments, which
//! are not built yet.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod address_change;
mod loss;
mod partition;
mod relay_restart;
mod slow_path;
mod soak;
mod traffic;
mod world;
