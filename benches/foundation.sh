#!/usr/bin/env bash
# Foundation benchmarks (issue 2): compile time of the ECON-T model, reference-model
# throughput through `aecc simulate`, Verilator co-simulation build time (cold and
# cached) and co-simulation vectors/s. Prints a Markdown table; paste into BENCHMARKS.md.
#
#   benches/foundation.sh [model.onnx]       (default models/econt/model.onnx)
set -euo pipefail
cd "$(dirname "$0")/.."
MODEL=${1:-models/econt/model.onnx}
cargo build --release -q
AECC=target/release/aecc
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

now() { date +%s.%N; }
elapsed() { python3 -c "print(f'{$2 - $1:.4f}')"; }

# 1. compile time: best of 20 runs
best=999
for _ in $(seq 20); do
  t0=$(now); $AECC compile "$MODEL" -o "$WORK/build" >/dev/null; t1=$(now)
  t=$(elapsed "$t0" "$t1"); best=$(python3 -c "print(min($best, $t))")
done

# 2. reference model throughput: 100,000 random samples through `aecc simulate`
python3 - "$WORK/x.npy" "$MODEL" <<'PY'
import struct, sys, random
# minimal .npy writer (float32), shape read from the model's sample file when present
import os
samples = os.path.join(os.path.dirname(sys.argv[2]), "samples", "input.npy")
with open(samples, "rb") as f:
    f.read(8); hl = struct.unpack("<H", f.read(2))[0]; header = f.read(hl).decode()
shape = eval(header)["shape"][1:]
n = 100_000
per = 1
for d in shape: per *= d
header = "{'descr': '<f4', 'fortran_order': False, 'shape': (%d, %s), }" % (n, ", ".join(map(str, shape)))
header = header + " " * (64 - (10 + len(header) + 1) % 64) + "\n"
random.seed(1)
with open(sys.argv[1], "wb") as f:
    f.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode())
    f.write(struct.pack("<%df" % (n * per), *[random.uniform(-1, 1) for _ in range(n * per)]))
PY
t0=$(now); $AECC simulate "$MODEL" --input "$WORK/x.npy" --output "$WORK/y.npy" >/dev/null; t1=$(now)
sim_t=$(elapsed "$t0" "$t1")

# 3. co-simulation build, cold (empty cache) and cached, and vectors/s
export AECC_CACHE_DIR="$WORK/cache"
t0=$(now); $AECC verify "$MODEL" --vectors 10000 >/dev/null; t1=$(now); cold=$(elapsed "$t0" "$t1")
t0=$(now); $AECC verify "$MODEL" --vectors 10000 >/dev/null; t1=$(now); warm=$(elapsed "$t0" "$t1")
t0=$(now); $AECC verify "$MODEL" --vectors 1000000 >/dev/null; t1=$(now); big=$(elapsed "$t0" "$t1")

python3 - "$best" "$sim_t" "$cold" "$warm" "$big" <<'PY'
import sys
best, sim_t, cold, warm, big = map(float, sys.argv[1:])
print("| measurement | figure |")
print("| --- | --- |")
print(f"| `aecc compile` ECON-T (best of 20, incl. process start) | {best*1000:.1f} ms |")
print(f"| `aecc simulate`, 100,000 samples (incl. .npy I/O, one thread) | {sim_t:.2f} s = {100000/sim_t:,.0f} inferences/s |")
print(f"| `aecc verify --vectors 10000`, empty Verilator cache (build + run) | {cold:.1f} s |")
print(f"| `aecc verify --vectors 10000`, cached build | {warm:.2f} s |")
print(f"| `aecc verify --vectors 1000000`, cached build | {big:.1f} s = {1e6/max(big - warm, 1e-9):,.0f} extra vectors/s end-to-end (reference + co-sim + compare) |")
PY
