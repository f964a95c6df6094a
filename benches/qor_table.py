#!/usr/bin/env python3
"""Prints the QoR table of benches/qor.sh from its yosys/OpenSTA logs.

    python3 benches/qor_table.py QOR_DIR MODEL...
"""
import json
import re
import sys
from pathlib import Path


def last_stat(text):
    """The cell counts of the last `stat` printout in a yosys log."""
    blocks = text.split("Number of cells:")
    if len(blocks) < 2:
        return {}
    block = blocks[-1]
    counts = {"cells": int(block.split()[0])}
    for name, n in re.findall(r"^\s+(\S+)\s+(\d+)\s*$", block, re.M):
        counts[name] = int(n)
    return counts


def xilinx(path):
    if not path.exists():
        return None
    c = last_stat(path.read_text())
    if not c:
        return None
    return {
        # an INV cell is a LUT1 on the device (yosys keeps inverters at carry-chain
        # inputs as INV cells)
        "lut": sum(v for k, v in c.items() if re.fullmatch(r"LUT\d", k)) + c.get("INV", 0),
        "inv": c.get("INV", 0),
        "carry": c.get("CARRY4", 0),
        "ff": sum(v for k, v in c.items() if re.fullmatch(r"FD[RSCP]E", k)),
        "dsp": c.get("DSP48E1", 0),
    }


def generic(path):
    if not path.exists():
        return None
    text = path.read_text()
    transistors = re.findall(r"Estimated number of transistors:\s+(\d+)", text)
    # the first stat block is the plain one (stat -tech cmos repeats the counts)
    cells = re.findall(r"Number of cells:\s+(\d+)", text)
    return {
        "cells": int(cells[0]) if cells else None,
        "transistors": int(transistors[-1]) if transistors else None,
    }


def luts_dsp(d, flavor="baseline"):
    x = xilinx(d / flavor / "xilinx.log") or {}
    return f"{x.get('dsp', 0):,}"


def fmt(v):
    return "-" if v is None else f"{v:,}"


def main():
    work = Path(sys.argv[1])
    models = sys.argv[2:]
    rows = []
    notes = []
    luts = {}
    for m in models:
        d = work / m
        for flavor, label in [
            ("aecc", "aecc (default)"),
            ("baseline", "aecc --no-opt (`*` baseline)"),
            ("multipliers", "aecc --multipliers (exact widths, `*`)"),
            ("da4ml", "da4ml 0.6.0"),
        ]:
            x = xilinx(d / flavor / "xilinx.log") or {}
            luts[(m, flavor)] = x.get("lut")
            if flavor == "baseline":
                nd = xilinx(d / flavor / "xilinx_nodsp.log")
                luts[(m, "baseline_nodsp")] = nd["lut"] if nd else None
            g = generic(d / flavor / "generic.log") or {}
            nodsp = xilinx(d / flavor / "xilinx_nodsp.log")
            rep = d / flavor / "report.json"
            if rep.exists():
                r = json.loads(rep.read_text())
                latency = f"{r['latency_cycles']} cycles"
            else:
                latency = "combinational"
            rows.append(
                f"| {m} | {label} | {fmt(x.get('lut'))} | {fmt(x.get('carry'))} | "
                f"{fmt(x.get('ff'))} | {fmt(x.get('dsp'))} | "
                f"{fmt(nodsp['lut']) if nodsp else '-'} | {fmt(g.get('cells'))} | "
                f"{fmt(g.get('transistors'))} | {latency} |"
            )
        sta = d / "aecc" / "sta.log"
        rep = d / "aecc" / "report.json"
        if sta.exists() and rep.exists():
            h = json.loads(rep.read_text())["architecture"]
            arrival = re.findall(r"([\d.]+)\s+data arrival time", sta.read_text())
            area = re.findall(r"Chip area for module .*?:\s+([\d.]+)", (d / "aecc" / "sky130.log").read_text())
            notes.append(
                f"- {m}, aecc: delay model {h['critical_path_ns']} ns for a {h['clock_ns']} ns clock "
                f"(latency {h['latency_cycles']} cycles); OpenSTA on sky130_fd_sc_hd (tt, yosys+abc): "
                f"worst register-to-register arrival {arrival[0] if arrival else '?'} ns, "
                f"area {float(area[-1]) / 1e6 if area else 0:.3f} mm^2"
            )
        a, da, base, nodsp, mult = (
            luts.get((m, k))
            for k in ("aecc", "da4ml", "baseline", "baseline_nodsp", "multipliers")
        )
        if a and da:
            notes.append(
                f"- {m}: aecc {a:,} LUT = {a / da:.1%} of da4ml's {da:,} "
                f"({'at most' if a <= da else 'MORE than'} da4ml)"
            )
        if a and base:
            notes.append(
                f"- {m}: aecc {a:,} LUT = {a / base:.1%} of the `*` baseline's {base:,} "
                f"(which also uses {luts_dsp(d)} DSP48E1)"
                + (f", {a / nodsp:.1%} of its {nodsp:,} with `-nodsp` (multipliers in LUTs)" if nodsp else "")
                + f": {'at most' if 2 * a <= base else 'MORE than'} half"
            )
        if a and mult:
            notes.append(
                f"- {m}: aecc {a:,} LUT = {a / mult:.1%} of `--multipliers`' {mult:,} "
                f"(exact widths, `*` operators; it also uses {luts_dsp(d, 'multipliers')} DSP48E1)"
            )
        dev = d / "da4ml.txt"
        if dev.exists():
            for line in dev.read_text().splitlines():
                if line.startswith("da4ml deviation"):
                    notes.append(f"- {m}: {line}")
    print(
        "| model | design | LUT (incl. INV) | CARRY4 | FF | DSP48E1 | LUT (`-nodsp`) | generic cells "
        "(`synth`) | CMOS transistors (`stat -tech cmos`) | latency |"
    )
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
    for r in rows:
        print(r)
    if notes:
        print()
        for n in notes:
            print(n)


if __name__ == "__main__":
    main()
