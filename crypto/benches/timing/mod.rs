//! What the small custom bench harnesses share (no criterion, to keep the dependency tree lean):
//! medians over rounds, the time per operation, and the round count from `HUSH_BENCH_ROUNDS`.

use std::time::Instant;

/// The median of `values` (sorted in place); 0 for none.
pub fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    match (values.get(mid.wrapping_sub(1)), values.get(mid)) {
        (_, Some(value)) if values.len() % 2 == 1 => *value,
        (Some(low), Some(high)) => (low + high) / 2.0,
        _ => 0.0,
    }
}

/// Microseconds per call of `op`, over `count` calls.
pub fn per_op(count: usize, mut op: impl FnMut()) -> f64 {
    let start = Instant::now();
    for _ in 0..count {
        op();
    }
    start.elapsed().as_secs_f64() * 1e6 / count as f64
}

/// The whole number in the environment variable `name`, or `default`.
pub fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|text| text.parse().ok())
        .unwrap_or(default)
}
