#!/usr/bin/env bash
# Area, power, timing and latency of the bundled encoders (issue 5): for each model,
# `aecc compile` + `aecc report --synth --liberty LIB` (yosys 0.23, OpenSTA, aecc's
# gate-level power on the model's sample vectors), then one Markdown table row per model
# from DIR/report.json. The HTML/Markdown reports stay in the work directory.
#
#   benches/reports.sh [MODEL...]                 (default: models/econt models/dense_ae)
#
# Environment: LIBERTY (default ../shared/pdk/sky130_fd_sc_hd__tt_025C_1v80.lib),
# CLOCK_NS (default 25), WORK (default a new temporary directory), COMPILE_FLAGS (extra
# `aecc compile` options, e.g. "--weights registers --reuse 8").
set -euo pipefail
cd "$(dirname "$0")/.."
LIBERTY=${LIBERTY:-../shared/pdk/sky130_fd_sc_hd__tt_025C_1v80.lib}
CLOCK_NS=${CLOCK_NS:-25}
MODELS=("$@")
[ ${#MODELS[@]} -gt 0 ] || MODELS=(models/econt/model.onnx models/dense_ae/model.onnx)
[ -f "$LIBERTY" ] || { echo "error: no Liberty file at $LIBERTY (set LIBERTY)" >&2; exit 1; }
cargo build --release -q
AECC=$PWD/target/release/aecc
WORK=${WORK:-$(mktemp -d)}
mkdir -p "$WORK"
echo "work directory: $WORK" >&2

rows=()
for m in "${MODELS[@]}"; do
  name=$(basename "$(dirname "$m")")
  dir="$WORK/$name"
  # shellcheck disable=SC2086
  "$AECC" compile "$m" -o "$dir" ${COMPILE_FLAGS:-} > /dev/null
  t0=$(date +%s)
  "$AECC" report "$dir" --synth --liberty "$LIBERTY" --clock-ns "$CLOCK_NS" --no-cache >&2
  t1=$(date +%s)
  rows+=("$(python3 - "$name" "$dir/report.json" "$((t1 - t0))" <<'PY'
import json, sys
name, path, secs = sys.argv[1], sys.argv[2], sys.argv[3]
r = json.load(open(path))
hw = r["hardware"]
a = hw["analytic"]["resources"]
s = hw["synth"]
x, g = s["xilinx"], s["generic"]
asic = hw["asic"]
t, p = asic["timing"], asic["power"]
print(f"| {name} | {r['latency_cycles']} | {r['initiation_interval']} | {a['luts']:,} / {x['luts']:,} "
      f"| {a['ffs']:,} / {x['ffs']:,} | {x['carry4']:,} | {x['dsps']:,} | {a['gate_equivalents']:,} / {g['gate_equivalents']:,} "
      f"| {asic['area_um2'] / 1e6:.3f} | {asic['cells']:,} | {t['setup_slack_ns']:.2f} | {t['fmax_mhz']:.1f} "
      f"| {p['breakdown']['total_mw']:.2f} | {p['energy_per_inference_nj']:.3f} | {secs} s |")
PY
)")
done
echo
echo "| model | latency (cycles) | II | LUTs (analytic / yosys) | FFs (analytic / yosys) | CARRY4 | DSP48 | gate equivalents (analytic / yosys) | sky130 area mm^2 | sky130 cells | setup slack at ${CLOCK_NS} ns | Fmax MHz | power mW | energy nJ/inference | report time |"
echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
printf '%s\n' "${rows[@]}"
