#!/usr/bin/env bash
# Speed and scale (issue 9), in one run from a fresh clone: aecc simulate (1 and 2
# threads), hls4ml 1.3.0 C-simulation predict and the QONNX executor on the ECON-T
# encoder, aecc compile, aecc verify --vectors 1000000, and compile time/memory of
# synthetic encoders up to 1M MACs. Prints a Markdown table (paste into BENCHMARKS.md)
# and writes every number to target/bench/speed.json.
#
#   benches/speed.sh [--samples N] [--verify-vectors N] [--skip hls4ml,qonnx,verify,scaling] ...
#
# Needs: cargo, python3 with venv, g++, verilator (scripts/setup.sh installs the system
# tools when they are missing). hls4ml 1.3.0, qonnx 1.0.0 and numpy are installed, pinned
# (scripts/hls4ml-requirements.txt), into ~/.cache/aecc/hls4ml-venv on first use
# ($AECC_HLS4ML_VENV overrides). Takes a few minutes; the first run adds the venv
# (about 1 GB of wheels) and a Verilator build.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
for tool in g++ verilator make; do command -v "$tool" >/dev/null 2>&1 || need+=("$tool"); done
python3 -c "import venv, ensurepip" >/dev/null 2>&1 || need+=(python3-venv)
if [ ${#need[@]} -gt 0 ]; then
  echo "speed.sh: missing ${need[*]}: running scripts/setup.sh" >&2
  scripts/setup.sh
fi
command -v cargo >/dev/null 2>&1 || { echo "speed.sh: cargo not found (https://rustup.rs)" >&2; exit 1; }

echo "building aecc (release) ..." >&2
cargo build --release -q --bin aecc --example synth_encoder
exec python3 benches/speed.py "$@"
