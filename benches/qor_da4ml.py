#!/usr/bin/env python3
"""Builds the da4ml (0.6.0) design of a model exported by aecc's `export_layers` example.

    python benches/qor_da4ml.py MODEL.json OUT_DIR NAME [LATENCY_CUTOFF]

The integer weights, biases, grids and quantizers are aecc's IR, so both tools get the
same problem. da4ml traces the network (`FixedVariableArray`), optimises each constant
matrix-vector product with its CMVM solver, and writes Verilog through `RTLModel`.

One deviation, because da4ml 0.6.0 only has the rounding modes TRN (floor) and RND
(round half up): a quantizer that rounds half to even (QONNX `ROUND`, all of ours) is
given RND. The two differ only at exact ties, and half-up is the cheaper of the two, so
the deviation favours da4ml. The script prints it.
"""
import json
import sys
from pathlib import Path

import numpy as np
from da4ml.codegen import RTLModel
from da4ml.trace import FixedVariableArray, comb_trace
from da4ml.trace.ops import quantize, relu


def kif(width, frac, signed):
    k = int(signed)
    return k, width - frac - k, frac


def build(spec):
    vals = {}
    inp = None
    deviations = set()
    for n in spec["nodes"]:
        op = n["op"]
        size = int(np.prod(n["shape"]))
        if op == "input":
            k, i, f = kif(n["type"]["width"], n["type"]["frac"], n["type"]["signed"])
            inp = FixedVariableArray.from_kif(
                np.full(size, k), np.full(size, i), np.full(size, f)
            )
            vals[n["name"]] = inp
            continue
        x = vals[n["operands"][0]]
        if op == "linear":
            rows = n["rows"]
            w = np.zeros((n["in_len"], len(rows)), dtype=np.float64)
            for j, r in enumerate(rows):
                for i, v in r["terms"]:
                    w[i, j] = v * 2.0 ** -n["weight_frac"]
            b = np.array([r["bias"] * 2.0 ** -n["bias_frac"] for r in rows])
            y = x.ravel() @ w.astype(np.float32)
            if np.any(b != 0):
                y = y + b
            vals[n["name"]] = y
        elif op == "relu":
            vals[n["name"]] = relu(x)
        elif op == "reshape":
            vals[n["name"]] = x.ravel()
        elif op == "quantize":
            q = n["quantizer"]
            assert not q["narrow"] and q["zero_point"] == 0, "not needed for the bundled models"
            k, i, f = kif(q["bit_width"], q["frac"], q["signed"])
            if q["rounding"] == "floor":
                mode = "TRN"
            else:
                mode = "RND"
                if q["rounding"] != "half_away":
                    deviations.add(f"{q['rounding']} -> RND (half up)")
            vals[n["name"]] = quantize(x, k, i, f, "SAT" if q["saturate"] else "WRAP", mode)
        else:
            raise SystemExit(f"unsupported op {op}")
    return inp, vals[spec["output"]], sorted(deviations)


def main():
    spec = json.load(open(sys.argv[1]))
    out = Path(sys.argv[2])
    name = sys.argv[3]
    cutoff = float(sys.argv[4]) if len(sys.argv) > 4 else -1
    inp, outp, deviations = build(spec)
    comb = comb_trace(inp, outp)
    model = RTLModel(comb, name, out, flavor="verilog", latency_cutoff=cutoff, print_latency=False)
    model.write()
    for d in deviations:
        print(f"da4ml deviation: {d}")
    print(f"da4ml ops: {len(comb.ops)}")


if __name__ == "__main__":
    main()
