#!/usr/bin/env bash
# Runs aecc's cargo-fuzz targets, each for a fixed time (not part of CI).
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]
#
# SECONDS_PER_TARGET defaults to 1800 (30 minutes); TARGET defaults to every target
# (onnx_bytes, compile_mutations). FUZZ_JOBS=N runs N libFuzzer processes per target
# (default 1); FUZZ_PARALLEL=1 runs the targets at the same time instead of one after
# the other. FUZZ_TIMEOUT=S is libFuzzer's per-input time limit in wall seconds
# (default 30; raise it on a loaded machine, where a starved process can pass it without
# any slow code); FUZZ_NICE=N is the fuzzers' niceness (default 19).
# Logs go to fuzz/logs/TARGET.log; crashes to fuzz/artifacts/TARGET/.
#
# Needs a nightly toolchain (`rustup toolchain install nightly`) and cargo-fuzz
# (`cargo install cargo-fuzz`). The build has debug assertions on (-a: integer
# overflow panics) and no sanitizer: aecc has no unsafe code, so AddressSanitizer would
# only slow the search down.
#
# Turning a crash into a regression test:
#   AECC_FUZZ_DUMP=compiler/tests/fuzz_regressions \
#     cargo +nightly fuzz run --sanitizer none -a TARGET fuzz/artifacts/TARGET/crash-...
# writes the model the crash input describes to compiler/tests/fuzz_regressions/TARGET.onnx;
# rename it (e.g. to what it tests), and `cargo test --test fuzz_regressions` replays it.
set -euo pipefail
cd "$(dirname "$0")/.."

secs=${1:-1800}
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    targets=(onnx_bytes compile_mutations)
fi
jobs=${FUZZ_JOBS:-1}

if ! rustup toolchain list | grep -q '^nightly'; then
    echo "error: cargo-fuzz needs a nightly toolchain: rustup toolchain install nightly" >&2
    exit 1
fi
if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
    echo "error: cargo-fuzz is missing: cargo install cargo-fuzz" >&2
    exit 1
fi

# Seed corpora: every model in the repository, and the committed regression inputs.
mkdir -p fuzz/corpus/onnx_bytes fuzz/corpus/compile_mutations fuzz/logs
for f in models/*/model.onnx compiler/tests/cli_data/*.onnx compiler/tests/data/*.onnx \
    compiler/tests/fuzz_regressions/*.onnx; do
    [ -f "$f" ] && cp "$f" "fuzz/corpus/onnx_bytes/seed-$(sha1sum "$f" | cut -c1-16)"
done

nice -n 19 cargo +nightly fuzz build --sanitizer none -a

run() {
    local t=$1
    local extra=()
    if [ "$t" = onnx_bytes ]; then
        extra=(-dict=fuzz/onnx.dict)
    else
        extra=(-max_len=512) # the mutator reads a few bytes per edit
    fi
    echo "== $t: ${secs}s, $jobs job(s), $(date -u +%FT%TZ)"
    if [ "$jobs" -gt 1 ]; then
        extra+=(-jobs="$jobs" -workers="$jobs")
    fi
    nice -n "${FUZZ_NICE:-19}" cargo +nightly fuzz run --sanitizer none -a "$t" -- \
        -max_total_time="$secs" -rss_limit_mb=2048 -timeout="${FUZZ_TIMEOUT:-30}" -print_final_stats=1 \
        "${extra[@]}" >"fuzz/logs/$t.log" 2>&1 && status=ok || status="FAILED (see fuzz/logs/$t.log)"
    # with -jobs, libFuzzer writes each job's output to fuzz-N.log in the current dir
    for l in fuzz-*.log; do [ -f "$l" ] && cat "$l" >>"fuzz/logs/$t.log" && rm "$l"; done
    local execs
    execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "fuzz/logs/$t.log" |
        awk '{s += $2} END {print s + 0}')
    echo "== $t: $status, $execs executions"
}

if [ "${FUZZ_PARALLEL:-0}" = 1 ] && [ "$jobs" -gt 1 ]; then
    echo "error: FUZZ_PARALLEL=1 needs FUZZ_JOBS=1 (libFuzzer jobs share fuzz-N.log names)" >&2
    exit 1
fi
if [ "${FUZZ_PARALLEL:-0}" = 1 ]; then
    for t in "${targets[@]}"; do run "$t" & done
    wait
else
    for t in "${targets[@]}"; do run "$t"; done
fi
