#!/usr/bin/env bash
# Compile-time scaling (issue 9): `aecc compile` wall time and peak memory on synthetic
# encoders from 1k to 1M MACs (examples/synth_encoder.rs). Prints a Markdown table.
# The design-size limit is raised (--max-adder-bits 1000000000): the default refuses a
# fully unrolled 1M-MAC dense layer. benches/speed.sh runs the same sizes.
#   benches/compile_scaling.sh [SIZES...]    (default: 1000 10000 100000 1000000)
set -euo pipefail
cd "$(dirname "$0")/.."
SIZES=${*:-1000 10000 100000 1000000}
cargo build --release -q --bin aecc --example synth_encoder
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
echo "| model | MACs (requested) | compile wall time | CPU time | peak RSS | Verilog size |"
echo "| --- | --- | --- | --- | --- | --- |"
for kind in dense conv; do
  for n in $SIZES; do
    target/release/examples/synth_encoder "$kind" "$n" "$WORK/m.onnx" 2>/dev/null
    python3 - "$kind" "$n" "$WORK" <<'PY'
import resource, subprocess, sys, time, os
kind, n, work = sys.argv[1], int(sys.argv[2]), sys.argv[3]
t0 = time.perf_counter()
r = subprocess.run(["target/release/aecc", "compile", f"{work}/m.onnx", "-o", f"{work}/out", "--top", "synth",
                    "--max-adder-bits", "1000000000"],
                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
t = time.perf_counter() - t0
u = resource.getrusage(resource.RUSAGE_CHILDREN)
rss, cpu = u.ru_maxrss / 1024, u.ru_utime + u.ru_stime
if r.returncode != 0:
    print(f"| {kind} | {n:,} | failed: {r.stderr.strip()[:80]} | | | |")
else:
    size = sum(os.path.getsize(os.path.join(f"{work}/out/rtl", f)) for f in os.listdir(f"{work}/out/rtl"))
    print(f"| {kind} | {n:,} | {t:.3f} s | {cpu:.3f} s | {rss:.0f} MiB | {size/1e6:.2f} MB |")
PY
    rm -rf "$WORK/out"
  done
done
