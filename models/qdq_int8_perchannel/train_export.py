#!/usr/bin/env python3
"""Per-channel variant of models/qdq_int8: the same float encoder (same data, seed and training),
quantized by onnxruntime's quantize_static with per_channel=True and QInt8 activations.

This is a thin wrapper: all the work is in ../qdq_int8/train_export.py, run with
--variant per_channel. It writes model.onnx, model_float.onnx, model.json and samples/ into this
folder.

Usage:  python train_export.py            (writes next to this script)
        python train_export.py --out DIR  (writes somewhere else)
"""

import os
import runpy
import sys

here = os.path.dirname(os.path.abspath(__file__))
script = os.path.join(os.path.dirname(here), "qdq_int8", "train_export.py")
args = sys.argv[1:]
if "--variant" in args:
    sys.exit("this wrapper always runs --variant per_channel")
if "--out" not in args and not any(a.startswith("--out=") for a in args):
    args += ["--out", here]
sys.argv = [script, "--variant", "per_channel"] + args
runpy.run_path(script, run_name="__main__")
