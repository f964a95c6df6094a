#!/usr/bin/env bash
# QoR benchmark (issue 4): hardware size of the ECON-T and dense_ae encoders from
#   - aecc (default: CSD shift-add with shared sub-expressions, exact widths, 25 ns),
#   - aecc --no-opt (every optimisation off: the reference architecture, `*` operators,
#     one stage per IR node, weight layers as wide as hls4ml's automatic precision
#     makes them: input bits + weight bits + ceil(log2 fan-in), not the exact widths),
#   - aecc --multipliers (the optimised architecture and exact widths, but `*` operators
#     instead of shift-add: what the multiplier-free arithmetic alone saves; Xilinx only),
#   - da4ml 0.6.0 (installed into a venv by this script; same integer weights,
#     biases, grids and quantizers, exported from aecc's IR),
# synthesised with yosys 0.23:
#   - `synth -flatten -top T; stat; stat -tech cmos`   (generic cells, CMOS transistors)
#   - `synth_xilinx -flatten -top T; stat`              (LUT, CARRY4, FF, DSP48E1)
#   - `synth_xilinx -flatten -nodsp -top T; stat`       (the baseline only: multipliers in LUTs)
# and, with QOR_SKY130=1 (and the sky130 Liberty file and OpenSTA there), the aecc designs
# mapped to sky130_fd_sc_hd and timed with OpenSTA (checks the delay model's critical
# path). That leg is off by default: `abc -liberty` on the flat ECON-T design ran for more
# than an hour (2026-11-25) without finishing.
#
# Usage: benches/qor.sh            (environment: QOR_DIR, QOR_JOBS, QOR_MODELS, QOR_SKY130, LIBERTY)
# Prints a markdown table and writes it to $QOR_DIR/table.md. LUT counts include the INV
# cells synth_xilinx puts in front of carry chains (each is a LUT1 on the device).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=${QOR_DIR:-$ROOT/target/qor}
JOBS=${QOR_JOBS:-2}
MODELS=${QOR_MODELS:-"econt dense_ae"}
LIBERTY=${LIBERTY:-$ROOT/../shared/pdk/sky130_fd_sc_hd__tt_025C_1v80.lib}
mkdir -p "$WORK"

for tool in yosys python3 cargo; do
    command -v $tool >/dev/null || { echo "error: $tool is not on PATH (scripts/setup.sh installs it)"; exit 1; }
done
echo "== building aecc (release)"
(cd "$ROOT" && cargo build --release -q -p aecc --bin aecc --example export_layers)
AECC=$ROOT/target/release/aecc
EXPORT=$ROOT/target/release/examples/export_layers

echo "== da4ml 0.6.0 venv: $WORK/venv"
if ! "$WORK/venv/bin/python" -c "import da4ml, sys; sys.exit(da4ml.__version__ != '0.6.0')" 2>/dev/null; then
    python3 -m venv "$WORK/venv"
    "$WORK/venv/bin/pip" install -q da4ml==0.6.0
fi

jobs_file=$WORK/jobs.txt
: > "$jobs_file"
for m in $MODELS; do
    model=$ROOT/models/$m/model.onnx
    d=$WORK/$m
    rm -rf "$d" && mkdir -p "$d"
    echo "== $m: aecc, aecc --no-opt, aecc --multipliers, da4ml"
    "$AECC" compile "$model" -o "$d/aecc" --top "$m" > "$d/aecc.txt"
    "$AECC" compile "$model" -o "$d/baseline" --top "$m" --no-opt > "$d/baseline.txt"
    "$AECC" compile "$model" -o "$d/multipliers" --top "$m" --multipliers > "$d/multipliers.txt"
    "$EXPORT" "$model" > "$d/layers.json"
    "$WORK/venv/bin/python" "$ROOT/benches/qor_da4ml.py" "$d/layers.json" "$d/da4ml_prj" "$m" > "$d/da4ml.txt"
    mkdir -p "$d/da4ml/rtl"
    cp "$d/da4ml_prj/src/$m.v" "$d/da4ml/rtl/"
    # the library modules the design instantiates (`wire [..] v; shift_adder #(..) op_..`)
    for mod in shift_adder negative mux binop multiplier lookup_table; do
        if grep -qE "(^|[^a-z_])$mod #" "$d/da4ml_prj/src/$m.v"; then
            cp "$d/da4ml_prj/src/static/$mod.v" "$d/da4ml/rtl/"
        fi
    done
    if [ -f "$d/da4ml/rtl/lookup_table.v" ]; then
        echo "error: $m: da4ml made lookup tables (memory files); not supported by this script"
        exit 1
    fi
    ls "$d/da4ml/rtl" | grep -q shift_adder || { echo "error: $m: no da4ml adders found"; exit 1; }
    for flavor in aecc baseline da4ml; do
        echo "generic $m $flavor" >> "$jobs_file"
        echo "xilinx $m $flavor" >> "$jobs_file"
    done
    echo "xilinx_nodsp $m baseline" >> "$jobs_file"
    echo "xilinx $m multipliers" >> "$jobs_file"
    if [ "${QOR_SKY130:-0}" = 1 ]; then
        if [ -f "$LIBERTY" ] && command -v sta >/dev/null; then
            echo "sky130 $m aecc" >> "$jobs_file"
        else
            echo "warning: QOR_SKY130=1 needs $LIBERTY and OpenSTA (sta): sky130 leg skipped"
        fi
    fi
done

synth() {
    kind=$1; m=$2; flavor=$3
    d=$WORK/$m/$flavor
    files=$(ls "$d"/rtl/*.v | tr '\n' ' ')
    log=$d/$kind.log
    case $kind in
        generic) script="read_verilog $files; synth -flatten -top $m; stat; stat -tech cmos" ;;
        xilinx) script="read_verilog $files; synth_xilinx -flatten -top $m; stat" ;;
        xilinx_nodsp) script="read_verilog $files; synth_xilinx -flatten -nodsp -top $m; stat" ;;
        sky130)
            sed -E 's/^(\s*cell \("sky130_fd_sc_hd__(lpflow_|probe)[^"]*"\) \{)$/\1\n        dont_use : true;/' \
                "$LIBERTY" > "$d/sky130.lib"
            script="read_verilog $files; synth -flatten -top $m; dfflibmap -liberty $d/sky130.lib; abc -liberty $d/sky130.lib; opt_clean -purge; hilomap -hicell sky130_fd_sc_hd__conb_1 HI -locell sky130_fd_sc_hd__conb_1 LO; stat -liberty $d/sky130.lib; write_verilog -noattr $d/mapped.v" ;;
    esac
    start=$(date +%s)
    yosys -q -l "$log" -p "$script" > /dev/null 2>&1 || { echo "yosys failed: $log"; return 1; }
    if [ "$kind" = sky130 ]; then
        clock=$(python3 -c "import json; print(json.load(open('$d/report.json'))['hardware']['clock_ns'])")
        cat > "$d/sta.tcl" <<TCL
read_liberty $d/sky130.lib
read_verilog $d/mapped.v
link_design $m
create_clock -name clk -period $clock [get_ports clk]
set_input_delay 0 -clock clk [delete_from_list [all_inputs] [get_ports clk]]
set_output_delay 0 -clock clk [all_outputs]
report_checks -path_delay max
exit
TCL
        sta "$d/sta.tcl" > "$d/sta.log" 2>&1 || true
    fi
    echo "$(( $(date +%s) - start )) s" > "$log.time"
    echo "   done: $kind $m $flavor ($(cat "$log.time"))"
}
export -f synth
export WORK LIBERTY
echo "== synthesis: $(wc -l < "$jobs_file") yosys runs, $JOBS at a time"
xargs -P "$JOBS" -L 1 bash -c 'synth "$@"' _ < "$jobs_file"

python3 "$ROOT/benches/qor_table.py" "$WORK" $MODELS | tee "$WORK/table.md"
