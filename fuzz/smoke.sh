#!/usr/bin/env bash
# Fuzz smoke test: runs every cargo-fuzz target for $FUZZ_SECONDS seconds (default 30), each
# starting from its checked-in seed corpus (fuzz/corpus/<target>/) copied to a temporary
# directory, so the run adds nothing to the work tree except crash inputs under fuzz/artifacts/
# (ignored by git). Targets run $FUZZ_JOBS at a time (default: the number of cores). Fails if
# any target crashes, leaks, times out or runs out of memory.
#
# Usage: fuzz/smoke.sh [target...]    (default: every target of fuzz/Cargo.toml)
# cargo-fuzz needs nightly-only flags; RUSTC_BOOTSTRAP=1 lets the stable toolchain take them.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")"
seconds="${FUZZ_SECONDS:-30}"
export RUSTC_BOOTSTRAP=1

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "smoke: installing cargo-fuzz"
    cargo install cargo-fuzz --locked
fi

if [ "$#" -gt 0 ]; then
    targets=("$@")
else
    mapfile -t targets < <(cargo fuzz list)
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

cargo fuzz build

# One target's run: its seeds copied to a scratch corpus, $seconds of libFuzzer, its figures or
# its failure written to $work/<target>.result (a failure's log tail to $work/<target>.log).
run_one() {
    local target="$1"
    if [ ! -d "corpus/$target" ] || [ -z "$(ls -A "corpus/$target")" ]; then
        echo "smoke: $target has no seed corpus in fuzz/corpus/$target" >"$work/$target.failed"
        return
    fi
    mkdir -p "$work/$target"
    cp corpus/"$target"/* "$work/$target/"
    if cargo fuzz run "$target" "$work/$target" -- \
        -max_total_time="$seconds" -timeout=20 -rss_limit_mb=2048 -print_final_stats=1 \
        >"$work/$target.log" 2>&1; then
        { echo -n "smoke: $target ${seconds}s "
          grep -E '^(stat::number_of_executed_units|stat::peak_rss_mb)' "$work/$target.log" | tr '\n' ' ' || true
          echo; } >"$work/$target.passed"
    else
        { tail -n 60 "$work/$target.log"
          echo "smoke: $target FAILED (crash input under fuzz/artifacts/$target/)"; } >"$work/$target.failed"
    fi
}

# Targets run $jobs at a time (default: one per core); each libFuzzer process is single-threaded.
jobs="${FUZZ_JOBS:-$(nproc)}"
echo "smoke: ${#targets[@]} targets, ${seconds}s each, $jobs at a time"
running=0
for target in "${targets[@]}"; do
    run_one "$target" &
    running=$((running + 1))
    if [ "$running" -ge "$jobs" ]; then
        wait -n || true
        running=$((running - 1))
    fi
done
wait

failed=()
for target in "${targets[@]}"; do
    if [ -f "$work/$target.passed" ]; then
        cat "$work/$target.passed"
    else
        cat "$work/$target.failed" >&2 2>/dev/null || echo "smoke: $target left no result" >&2
        failed+=("$target")
    fi
done

if [ "${#failed[@]}" -gt 0 ]; then
    echo "smoke: ${#failed[@]} of ${#targets[@]} targets failed: ${failed[*]}" >&2
    exit 1
fi
echo "smoke: ${#targets[@]} passed, 0 failed"
