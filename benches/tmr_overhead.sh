#!/usr/bin/env bash
# Area (and, with a Liberty file, power) of reconfigurable weights and TMR against
# constant weights (issue 7). For each variant: `aecc compile`, then yosys 0.23
#
#   read_verilog rtl/*.v; synth -flatten -top TOP; stat; stat -tech cmos
#
# and, when LIBERTY is set (e.g. ../shared/pdk/sky130_fd_sc_hd__tt_025C_1v80.lib),
# `dfflibmap -liberty; abc -liberty; stat -liberty` for the area in um^2 and OpenSTA
# `report_power` at a 25 ns clock with every net toggling ACTIVITY times per cycle
# (default 0.1). Prints one Markdown table row per variant.
#
#   benches/tmr_overhead.sh [MODEL] [VARIANT...]
#
# VARIANT is a name from the list below (default: all of them, one after the other;
# each registers-mode ECON-T synthesis at --reuse 1 needs about 12 GB and 25 min).
# SYNTH=0 skips yosys/OpenSTA and prints only the analytic estimate of `aecc compile`
# (report.json: register bits, weight/bias bits held in registers, LUT/FF, gate equivalents),
# which is printed for every variant in a first table.
set -euo pipefail
cd "$(dirname "$0")/.."
MODEL=${1:-models/econt/model.onnx}
shift || true
declare -A OPTS=(
  [constant]=""
  [registers]="--weights registers"
  [tmr-config]="--weights registers --tmr config"
  [tmr-all]="--weights registers --tmr all"
  [registers-r8]="--weights registers --reuse 8"
  [tmr-config-r8]="--weights registers --tmr config --reuse 8"
  [tmr-all-r8]="--weights registers --tmr all --reuse 8"
)
ORDER=(constant registers-r8 tmr-config-r8 tmr-all-r8 registers tmr-config tmr-all)
VARIANTS=("$@")
[ ${#VARIANTS[@]} -gt 0 ] || VARIANTS=("${ORDER[@]}")
ACTIVITY=${ACTIVITY:-0.1}
cargo build --release -q
AECC=$PWD/target/release/aecc
WORK=${WORK:-$(mktemp -d)}
mkdir -p "$WORK"
echo "work directory: $WORK" >&2

if [ -n "${LIBERTY:-}" ]; then
  # dont_use the multi-power-domain and probe cells (see ../shared/pdk/README.md)
  sed -E 's/^(\s*cell \("sky130_fd_sc_hd__(lpflow_|probe)[^"]*"\) \{)$/\1\n        dont_use : true;/' \
    "$LIBERTY" > "$WORK/lib.lib"
fi

echo "| variant | register bits | weight/bias bits (one copy) | est. LUTs | est. FFs | est. gate equivalents | latency | II |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- |"
for v in "${VARIANTS[@]}"; do
  dir="$WORK/$v"
  # shellcheck disable=SC2086
  $AECC compile "$MODEL" -o "$dir" ${OPTS[$v]} > "$dir.compile.txt"
  python3 - "$v" "$dir/report.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[2]))
hw = r["hardware"]["analytic"]
i, res = hw["inventory"], hw["resources"]
print(f"| {sys.argv[1]} | {i['register_bits']:,} | {r['total_weight_bits'] if 'registers' in sys.argv[1] or 'tmr' in sys.argv[1] else 0:,} | {res['luts']:,} | {res['ffs']:,} "
      f"| {res['gate_equivalents']:,} | {r['latency_cycles']} | {r['initiation_interval']} |")
PY
done
[ "${SYNTH:-1}" = 0 ] && exit 0
echo
echo "| variant | cells | flip-flops | transistors (no flip-flops) | sky130 area um^2 | sky130 flip-flops | power mW | synth time |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- |"
for v in "${VARIANTS[@]}"; do
  dir="$WORK/$v"
  # shellcheck disable=SC2086
  $AECC compile "$MODEL" -o "$dir" ${OPTS[$v]} > "$dir.compile.txt"
  top=$(sed -n 's/.*-> module \([A-Za-z0-9_]*\):.*/\1/p' "$dir.compile.txt")
  script="read_verilog rtl/*.v; synth -flatten -top $top; tee -o stat.txt stat; tee -o cmos.txt stat -tech cmos"
  if [ -n "${LIBERTY:-}" ]; then
    script="$script; dfflibmap -liberty $WORK/lib.lib; abc -liberty $WORK/lib.lib; opt_clean; tee -o lib.txt stat -liberty $WORK/lib.lib; splitnets; opt_clean -purge; write_verilog -noattr -noexpr -nohex -nodec mapped.v"
  fi
  t0=$(date +%s)
  (cd "$dir" && yosys -q -l yosys.log -p "$script" > /dev/null)
  t1=$(date +%s)
  cells=$(awk '/Number of cells:/ {n=$4} END {print n}' "$dir/stat.txt")
  ffs=$(awk '/Number of cells:/ {on=1; next} on && NF==2 && $1 ~ /DFF/ {s+=$2} END {print s+0}' "$dir/stat.txt")
  tr=$(sed -n 's/.*Estimated number of transistors: *\([0-9]*\).*/\1/p' "$dir/cmos.txt")
  area="-"; libff="-"; power="-"
  if [ -n "${LIBERTY:-}" ]; then
    area=$(sed -n 's/.*Chip area for module.*: *\([0-9.]*\).*/\1/p' "$dir/lib.txt")
    libff=$(awk '/Number of cells:/ {on=1; next} on && NF==2 && $1 ~ /__(e?df|sdf)/ {s+=$2} END {print s+0}' "$dir/lib.txt")
    cat > "$dir/power.tcl" <<TCL
read_liberty $WORK/lib.lib
read_verilog $dir/mapped.v
link_design $top
create_clock -name clk -period 25 [get_ports clk]
set_power_activity -global -activity $ACTIVITY -duty 0.5
report_power
TCL
    power=$(sta -no_splash -exit "$dir/power.tcl" 2>/dev/null | awk '/^Total/ {print $5 * 1000}')
  fi
  echo "| $v | $cells | $ffs | $tr | $area | $libff | $power | $((t1 - t0)) s |"
done
