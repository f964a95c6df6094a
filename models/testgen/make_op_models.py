#!/usr/bin/env python3
"""Write small single-op / few-op QONNX and QDQ test models with reference input/output vectors.

Every model has one float32 input `x` with batch dimension 1 and one float32 output `y`. The
input goes straight into a quantizer (QONNX Quant / BipolarQuant, or ONNX QuantizeLinear), and the
output comes out of a quantizer (Quant, Trunc, MultiThreshold, BipolarQuant, or a
QuantizeLinear -> DequantizeLinear pair). For each form <form> this script writes

    <form>.onnx      the model (< 5 KB)
    <form>.in.npy    float32 [64, ...]: 64 inputs; row i (kept as x[i:i+1]) is one model input
    <form>.out.npy   float32 [64, ...]: the outputs of the reference executor for those inputs

The reference executor is the QONNX executor (qonnx.core.onnx_exec.execute_onnx) for graphs with
QONNX custom ops, and onnxruntime with graph optimisations DISABLED (ORT_DISABLE_ALL, CPU, one
thread) for pure-ONNX graphs. Inputs are chosen to hit the interesting cases of the input
quantizer: exact grid points, exact ties between two grid points, values beyond the range
(saturation), and a few zeros and negative zeros; the rest is uniform over slightly more than the
range.

It also writes index.json (machine-readable list of the forms) and README.md (the same as a
table, plus notes on the op semantics). Everything is deterministic: run it twice and the files
are byte-identical.

Usage:  python make_op_models.py            (writes next to this script)
        python make_op_models.py --out DIR  (writes somewhere else)
        python make_op_models.py --only trunc_floor,softmax
"""

import argparse
import json
import os
import tempfile
import warnings
import zlib
from collections import Counter

import numpy as np
import onnx
from onnx import TensorProto as T
from onnx import helper as h
from onnx import numpy_helper as nh

import onnxruntime as ort
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.core.onnx_exec import execute_onnx
from qonnx.transformation.infer_shapes import InferShapes

N = 64  # samples per form
QONNX_DOMAIN = "qonnx.custom_op.general"
MAX_BYTES = 5000

# ---------------------------------------------------------------------------------------------
# Graph builder
# ---------------------------------------------------------------------------------------------


class G:
    """Accumulates nodes and initializers; every helper returns the name of its output."""

    def __init__(self, seed):
        self.nodes, self.inits, self.k = [], [], 0
        self.rng = np.random.default_rng(seed)
        self.quantizers = []  # descriptions for index.json

    def name(self, base):
        self.k += 1
        return f"{base}_{self.k}"

    def const(self, base, arr):
        n = self.name(base)
        self.inits.append(nh.from_array(np.asarray(arr), n))
        return n

    def node(self, op, ins, domain="", out=None, **attrs):
        o = out or self.name(op.lower())
        self.nodes.append(h.make_node(op, ins, [o], name=self.name("n_" + op), domain=domain, **attrs))
        return o

    # --- QONNX quantizers ---
    def quant(self, x, scale, zp=0.0, bits=8, signed=True, narrow=False, mode="ROUND", out=None, role=""):
        s = self.const("scale", np.asarray(scale, dtype=np.float32))
        z = self.const("zeropt", np.asarray(zp, dtype=np.float32))
        b = self.const("bitwidth", np.float32(bits))
        self.quantizers.append({"op": "Quant", "role": role, "scale": np.asarray(scale, np.float32).tolist(),
                                "zero_point": np.asarray(zp, np.float32).tolist(), "bit_width": bits,
                                "signed": int(signed), "narrow": int(narrow), "rounding_mode": mode})
        return self.node("Quant", [x, s, z, b], domain=QONNX_DOMAIN, out=out, signed=int(signed),
                         narrow=int(narrow), rounding_mode=mode)

    def bipolar(self, x, scale, out=None, role=""):
        s = self.const("scale", np.float32(scale))
        self.quantizers.append({"op": "BipolarQuant", "role": role, "scale": float(np.float32(scale))})
        return self.node("BipolarQuant", [x, s], domain=QONNX_DOMAIN, out=out)

    def wquant(self, shape, scale, bits=8, narrow=True, zp=0.0, spread=None, role="weight"):
        """Float weights (an initializer, as Brevitas stores them) quantized by a Quant node."""
        hi = 2 ** (bits - 1) - 1
        lim = (spread or 0.8) * hi * np.max(scale)
        w = self.rng.uniform(-lim, lim, shape).astype(np.float32)
        return self.quant(self.const("w", w), scale, zp, bits, True, narrow, role=role)

    def bquant(self, n, scale, bits=16, role="bias"):
        b = self.rng.uniform(-0.3, 0.3, n).astype(np.float32)
        return self.quant(self.const("b", b), scale, 0.0, bits, True, False, role=role)

    # --- ONNX QDQ ---
    def q(self, x, scale, zp, axis=None, out=None, role=""):
        s = self.const("scale", np.asarray(scale, dtype=np.float32))
        z = self.const("zp", zp)
        self.quantizers.append({"op": "QuantizeLinear", "role": role, "scale": np.asarray(scale, np.float32).tolist(),
                                "zero_point": np.asarray(zp).tolist(), "dtype": np.asarray(zp).dtype.name,
                                "axis": axis})
        kw = {} if axis is None else {"axis": axis}
        return self.node("QuantizeLinear", [x, s, z], out=out, **kw), s, z

    def dq(self, q, s, z, axis=None, out=None):
        kw = {} if axis is None else {"axis": axis}
        return self.node("DequantizeLinear", [q, s, z], out=out, **kw)

    def qdq(self, x, scale, zp, axis=None, out=None, role=""):
        qo, s, z = self.q(x, scale, zp, axis, role=role)
        return self.dq(qo, s, z, axis, out=out)

    def dq_const(self, codes, scale, zp, axis=None, role="weight"):
        """An integer initializer behind a DequantizeLinear (how onnxruntime stores weights)."""
        c = self.const("wq", codes)
        s = self.const("scale", np.asarray(scale, dtype=np.float32))
        z = self.const("zp", zp)
        self.quantizers.append({"op": "DequantizeLinear", "role": role,
                                "scale": np.asarray(scale, np.float32).tolist(),
                                "zero_point": np.asarray(zp).tolist(), "dtype": np.asarray(codes).dtype.name,
                                "axis": axis})
        kw = {} if axis is None else {"axis": axis}
        return self.node("DequantizeLinear", [c, s, z], **kw)

    def model(self, in_shape, out, opset=17, qonnx=True, out_shape=None):
        g = h.make_graph(self.nodes, "testgen", [h.make_tensor_value_info("x", T.FLOAT, list(in_shape))],
                         [h.make_tensor_value_info(out, T.FLOAT, out_shape)], self.inits)
        ops = [h.make_opsetid("", opset)] + ([h.make_opsetid(QONNX_DOMAIN, 2)] if qonnx else [])
        m = h.make_model(g, opset_imports=ops, producer_name="aecc-testgen", producer_version="1")
        m.ir_version = 10 if opset >= 21 else 8
        return m


# ---------------------------------------------------------------------------------------------
# Inputs
# ---------------------------------------------------------------------------------------------


def grid_inputs(rng, shape, scale, zp=0.0, lo=-128, hi=127, n=N):
    """float32 [n, *shape[1:]]: 25% exact grid points (q - zp) * scale, 25% exact ties
    (q + 0.5 - zp) * scale, 10% beyond the range (saturation), 2% zeros and negative zeros, the
    rest uniform over the range widened by 2 steps. `scale` may be per-channel (broadcastable
    to shape[1:])."""
    shp = (n,) + tuple(shape[1:])
    s = np.broadcast_to(np.asarray(scale, dtype=np.float64), shp[1:])[None]
    z = np.broadcast_to(np.asarray(zp, dtype=np.float64), shp[1:])[None]
    u = rng.random(shp)
    k = rng.integers(lo, hi + 1, shp).astype(np.float64)
    x = (rng.uniform(lo - 2, hi + 2, shp) - z) * s
    x = np.where(u < 0.25, (k - z) * s, x)
    x = np.where((u >= 0.25) & (u < 0.5), (np.minimum(k, hi - 1) + 0.5 - z) * s, x)
    far = np.where(rng.random(shp) < 0.5, lo - rng.uniform(1, 20, shp), hi + rng.uniform(1, 20, shp))
    x = np.where((u >= 0.5) & (u < 0.6), (far - z) * s, x)
    x = np.where((u >= 0.6) & (u < 0.61), 0.0, x)
    x = np.where((u >= 0.61) & (u < 0.62), -0.0, x)
    return x.astype(np.float32)


def qrange(bits, signed, narrow=False):
    if signed:
        return -(2 ** (bits - 1)) + int(narrow), 2 ** (bits - 1) - 1
    return 0, 2 ** bits - 1 - int(narrow)


# ---------------------------------------------------------------------------------------------
# Forms
# ---------------------------------------------------------------------------------------------

FORMS = {}


def form(stem, group, executor, what, note="", opset=17):
    def deco(fn):
        FORMS[stem] = {"builder": fn, "group": group, "executor": executor, "what": what, "note": note,
                       "opset": opset}
        return fn
    return deco


# ---- QONNX quantizer forms ----

@form("quant_nonpo2_scale", "quantizer", "qonnx", "Quant, 8-bit signed, scale 0.0371 (not a power of two)",
      "q = clip(round_half_even(float32(x / s)), -128, 127); y = float32(q * s). The division is float32.")
def _(g):
    return [1, 16], g.quant("x", 0.0371, role="input"), dict(scale=0.0371)


@form("quant_zero_point_uint8", "quantizer", "qonnx", "Quant, 8-bit unsigned, scale 0.0213, zero point 37",
      "q = clip(round(x / s + zp), 0, 255); y = (q - zp) * s. Zero point is a float32 initializer (37.0).")
def _(g):
    return [1, 16], g.quant("x", 0.0213, 37.0, 8, False, role="input"), dict(scale=0.0213, zp=37.0, lo=0, hi=255)


@form("quant_zero_point_signed_narrow", "quantizer", "qonnx",
      "Quant, 6-bit signed NARROW (codes -31..31), scale 0.05, zero point -5",
      "Clipping is applied to x/s + zp, so the code range is [-31, 31] including the zero point shift.")
def _(g):
    return [1, 16], g.quant("x", 0.05, -5.0, 6, True, True, role="input"), dict(scale=0.05, zp=-5.0, lo=-31, hi=31)


@form("quant_per_channel_scale", "quantizer", "qonnx",
      "Quant on an activation [1,4,8] with a per-channel scale of shape [1,4,1] (0.011, 0.023, 0.05, 0.1)",
      "The scale operand broadcasts with numpy rules; zero point and bit width stay scalars.")
def _(g):
    s = np.array([0.011, 0.023, 0.05, 0.1], np.float32).reshape(1, 4, 1)
    return [1, 4, 8], g.quant("x", s, role="input"), dict(scale=s[0])


for _mode in ("ROUND", "HALF_EVEN", "CEIL", "FLOOR", "UP", "DOWN", "HALF_UP", "HALF_DOWN"):
    def _mk(mode):
        notes = {
            "ROUND": "np.round: half to even.", "HALF_EVEN": "alias of ROUND in qonnx.",
            "CEIL": "np.ceil.", "FLOOR": "np.floor.", "UP": "away from zero: sign(x) * ceil(|x|).",
            "DOWN": "toward zero: np.fix.", "HALF_UP": "half away from zero: sign(x) * floor(|x| + 0.5).",
            "HALF_DOWN": "half toward zero: sign(x) * ceil(|x| - 0.5).",
        }

        @form(f"quant_round_{mode.lower()}", "quantizer", "qonnx",
              f"Quant, 6-bit signed, scale 2^-3, rounding_mode={mode}",
              f"{notes[mode]} qonnx clips BEFORE rounding (equivalent here: the bounds are integers).")
        def _(g):
            return [1, 16], g.quant("x", 0.125, bits=6, mode=mode, role="input"), dict(scale=0.125, lo=-32, hi=31)
    _mk(_mode)


@form("quant_1bit_signed", "quantizer", "qonnx", "Quant with bit_width 1 and signed=1, scale 0.5",
      "Special case in qonnx: a 1-bit signed Quant is bipolar: y = (x/s + zp >= 0 ? +1 : -1) * s, no "
      "rounding, and 0 and -0.0 map to +s.")
def _(g):
    return [1, 16], g.quant("x", 0.5, bits=1, role="input"), dict(scale=0.5, lo=-1, hi=0)


@form("bipolar_quant", "quantizer", "qonnx", "BipolarQuant, scale 0.5",
      "y = (x / s >= 0 ? +1 : -1) * s; x = 0 and x = -0.0 both give +s.")
def _(g):
    return [1, 16], g.bipolar("x", 0.5, role="input"), dict(scale=0.5, lo=-1, hi=0)


@form("bipolar_weights_gemm", "quantizer", "qonnx",
      "Quant(8b, 2^-5) -> Gemm 16->8 with BipolarQuant weights (scale 2^-3), no bias -> Quant(8b, 2^-3)",
      "Binary weights: each weight is +-0.125; the Gemm is a signed sum.")
def _(g):
    x = g.quant("x", 2 ** -5, role="input")
    w = g.bipolar(g.const("w", g.rng.normal(0, 1, (8, 16)).astype(np.float32)), 0.125, role="weight")
    y = g.node("Gemm", [x, w], transB=1)
    return [1, 16], g.quant(y, 0.125, role="output"), dict(scale=2 ** -5)


@form("trunc_floor", "quantizer", "qonnx",
      "Quant(8b signed, 2^-4) -> Trunc(scale 2^-4, zp 0, input_bit_width 8, output_scale 2^-2, "
      "output_bit_width 6, rounding_mode FLOOR, signed 1, narrow 0)",
      "Trunc (qonnx opset 2, 6 inputs): q = round(x/s + zp); q = q / 2^round(log2(out_scale/s)); "
      "clip to the output range; FLOOR; y = (q - zp/trunc) * out_scale. Drops the 2 LSBs toward -inf.")
def _(g):
    x = g.quant("x", 2 ** -4, role="input")
    ins = [x, g.const("scale", np.float32(2 ** -4)), g.const("zeropt", np.float32(0)),
           g.const("in_bw", np.float32(8)), g.const("out_scale", np.float32(2 ** -2)), g.const("out_bw", np.float32(6))]
    g.quantizers.append({"op": "Trunc", "role": "output", "scale": 2 ** -4, "zero_point": 0.0, "input_bit_width": 8,
                         "output_scale": 0.25, "output_bit_width": 6, "rounding_mode": "FLOOR", "signed": 1,
                         "narrow": 0})
    return [1, 16], g.node("Trunc", ins, domain=QONNX_DOMAIN, rounding_mode="FLOOR", signed=1, narrow=0), \
        dict(scale=2 ** -4)


@form("trunc_avgpool_brevitas", "quantizer", "qonnx",
      "Exported by Brevitas: QuantIdentity(8b, 2^-7) -> TruncAvgPool2d(2x2) = AveragePool -> Trunc "
      "(scale 2^-9, input_bit_width 10, output_scale 2^-7, output_bit_width 8, rounding_mode 'round')",
      "This is what brevitas.export.export_qonnx writes for TruncAvgPool2d: the Trunc's scale is the input "
      "scale / 4 (the average's grid), its rounding_mode is the LOWERCASE string 'round' (qonnx upper-cases "
      "it: half to even), and some initializer names contain '::'.")
def _(g):
    return None  # built by brevitas_trunc_avgpool()


@form("requant_nonpo2_gemm", "quantizer", "qonnx",
      "Quant(8b, 0.0371) -> Gemm 16->8 (weights Quant 8b narrow 0.0123, bias Quant 16b scale "
      "float32(0.0371*0.0123)) -> Relu -> Quant(8b unsigned, 0.0913)",
      "Brevitas float-scale style: the bias scale is the float32 product of the two scales, so it is not "
      "exactly the accumulator grid. Requantization by 0.0371*0.0123/0.0913 needs an exact multiplier.")
def _(g):
    x = g.quant("x", 0.0371, role="input")
    w = g.wquant((8, 16), 0.0123, role="weight")
    b = g.bquant(8, np.float32(0.0371) * np.float32(0.0123))
    y = g.node("Relu", [g.node("Gemm", [x, w, b], transB=1)])
    return [1, 16], g.quant(y, 0.0913, bits=8, signed=False, role="output"), dict(scale=0.0371)


@form("requant_zero_point_conv", "quantizer", "qonnx",
      "Quant(8b unsigned, 0.0213, zp 37) -> Conv 3x3 2->3 pads 1 (weights Quant 8b narrow 0.011, no bias) "
      "-> Quant(8b unsigned, 0.047, zp 100)",
      "Asymmetric activations: the Conv's zero padding is the REAL value 0, i.e. the integer code zp = 37 "
      "after quantization; the integer datapath must subtract zp before the products.")
def _(g):
    x = g.quant("x", 0.0213, 37.0, 8, False, role="input")
    w = g.wquant((3, 2, 3, 3), 0.011, role="weight")
    y = g.node("Conv", [x, w], kernel_shape=[3, 3], pads=[1, 1, 1, 1])
    return [1, 2, 5, 5], g.quant(y, 0.047, 100.0, 8, False, role="output"), dict(scale=0.0213, zp=37.0, lo=0, hi=255)


@form("multithreshold", "quantizer", "qonnx",
      "Quant(8b signed, 2^-4) -> MultiThreshold (FINN): 4 channels x 7 thresholds, out_dtype UINT3, "
      "out_scale 0.25, out_bias -0.75, data_layout NCW",
      "y = out_scale * (number of thresholds t with x >= t, per channel) + out_bias. Thresholds are "
      "sorted per channel. data_layout is set explicitly: without it qonnx guesses the channel axis from "
      "the rank, and for rank 3 it guesses NWC (channels LAST).")
def _(g):
    x = g.quant("x", 2 ** -4, role="input")
    thr = np.sort(np.round(g.rng.uniform(-6, 6, (4, 7)) * 16) / 16 + 1 / 32, axis=1).astype(np.float32)
    t = g.const("thresholds", thr)
    g.quantizers.append({"op": "MultiThreshold", "role": "output", "thresholds": thr.tolist(), "out_dtype": "UINT3",
                         "out_scale": 0.25, "out_bias": -0.75, "data_layout": "NCW"})
    return [1, 4, 8], g.node("MultiThreshold", [x, t], domain=QONNX_DOMAIN, out_dtype="UINT3", out_scale=0.25,
                             out_bias=-0.75, data_layout="NCW"), dict(scale=2 ** -4)


# ---- ONNX QDQ forms (onnxruntime) ----

def _qdq_conv(g, act_dtype, per_axis):
    s_x, s_w, s_y = np.float32(0.0173), np.float32(0.0061), np.float32(0.041)
    zx, zy = (np.int8(-3), np.int8(5)) if act_dtype == np.int8 else (np.uint8(128), np.uint8(10))
    x = g.qdq("x", s_x, zx, role="input")
    if per_axis:
        s_w = np.array([0.0061, 0.0032, 0.011, 0.0075], np.float32)
    codes = g.rng.integers(-127, 128, (4, 2, 3, 3)).astype(np.int8)
    w = g.dq_const(codes, s_w, np.zeros(s_w.shape, np.int8), axis=0 if per_axis else None)
    bcodes = g.rng.integers(-3000, 3000, 4).astype(np.int32)
    b = g.dq_const(bcodes, (s_x * np.asarray(s_w, np.float32)).astype(np.float32),
                   np.zeros(np.shape(s_w), np.int32), axis=0 if per_axis else None, role="bias")
    y = g.node("Conv", [x, w, b], kernel_shape=[3, 3], pads=[1, 1, 1, 1])
    return [1, 2, 5, 5], g.qdq(y, s_y, zy, role="output"), dict(scale=s_x, zp=float(zx),
                                                                 lo=np.iinfo(act_dtype).min, hi=np.iinfo(act_dtype).max)


@form("qdq_per_tensor_int8", "qdq", "ort",
      "Q/DQ int8 (s 0.0173, zp -3) -> Conv 3x3 2->4 pads 1 (int8 weights + DQ s 0.0061, int32 bias + DQ s "
      "float32(0.0173*0.0061)) -> Q/DQ int8 (s 0.041, zp 5)",
      "onnxruntime QDQ semantics: QuantizeLinear q = saturate(round_half_even(x / s) + zp); DequantizeLinear "
      "y = (q - zp) * s; the Conv runs in float32 on dequantized tensors.")
def _(g):
    return _qdq_conv(g, np.int8, False)


@form("qdq_per_tensor_uint8", "qdq", "ort",
      "as qdq_per_tensor_int8 with uint8 activations (zp 128 in, 10 out); weights int8", "")
def _(g):
    return _qdq_conv(g, np.uint8, False)


@form("qdq_per_axis_int8", "qdq", "ort",
      "as qdq_per_tensor_int8 with PER-AXIS weight scales (axis 0, 4 scales) and per-axis bias scales", "")
def _(g):
    return _qdq_conv(g, np.int8, True)


@form("qdq_per_axis_uint8_activation", "qdq", "ort",
      "QuantizeLinear/DequantizeLinear per axis (axis 1) on an activation [1,4,8]: uint8, scales "
      "(0.004, 0.01, 0.02, 0.05), zero points (0, 64, 128, 200)",
      "Per-axis scale and zero point are 1-D tensors indexed along `axis`.")
def _(g):
    s = np.array([0.004, 0.01, 0.02, 0.05], np.float32)
    z = np.array([0, 64, 128, 200], np.uint8)
    return [1, 4, 8], g.qdq("x", s, z, axis=1, role="input"), dict(scale=s[:, None], zp=z[:, None].astype(float),
                                                                   lo=0, hi=255)


@form("qdq_int16", "qdq", "ort", "Q/DQ int16, scale 1.3e-4, zero point -100 (opset 21)", "")
def _(g):
    return [1, 16], g.qdq("x", 1.3e-4, np.int16(-100), role="input"), dict(scale=1.3e-4, zp=-100.0, lo=-32768, hi=32767)


@form("qdq_int4", "qdq", "ort", "Q/DQ int4, scale 0.25, zero point 0 (opset 21, IR 10)",
      "int4 zero point initializer (TensorProto.INT4, packed two per byte).")
def _(g):
    z = g.name("zp")
    g.inits.append(h.make_tensor(z, T.INT4, [], [0]))
    s = g.const("scale", np.float32(0.25))
    g.quantizers.append({"op": "QuantizeLinear", "role": "input", "scale": 0.25, "zero_point": 0, "dtype": "int4"})
    q = g.node("QuantizeLinear", ["x", s, z])
    return [1, 16], g.node("DequantizeLinear", [q, s, z]), dict(scale=0.25, lo=-8, hi=7)


@form("qdq_uint4", "qdq", "ort", "Q/DQ uint4, scale 0.1, zero point 8 (opset 21, IR 10)", "")
def _(g):
    z = g.name("zp")
    g.inits.append(h.make_tensor(z, T.UINT4, [], [8]))
    s = g.const("scale", np.float32(0.1))
    g.quantizers.append({"op": "QuantizeLinear", "role": "input", "scale": 0.1, "zero_point": 8, "dtype": "uint4"})
    q = g.node("QuantizeLinear", ["x", s, z])
    return [1, 16], g.node("DequantizeLinear", [q, s, z]), dict(scale=0.1, zp=8.0, lo=0, hi=15)


@form("qcdq_clip_int8", "qdq", "ort",
      "QCDQ: QuantizeLinear int8 (s 0.07, zp 0) -> Clip(int8 -8, 7) -> DequantizeLinear: a 4-bit signed "
      "quantizer expressed with 8-bit Q/DQ, as Brevitas's QCDQ export writes it",
      "The Clip runs on the int8 codes; its bounds are int8 initializers.")
def _(g):
    q, s, z = g.q("x", 0.07, np.int8(0), role="input")
    c = g.node("Clip", [q, g.const("lo", np.int8(-8)), g.const("hi", np.int8(7))])
    return [1, 16], g.dq(c, s, z), dict(scale=0.07, lo=-12, hi=11)


@form("qlinear_conv", "qdq", "ort",
      "QuantizeLinear uint8 (s 0.02, zp 100) -> QLinearConv 3x3 2->3 pads 1 (int8 weights s 0.008, int32 "
      "bias on s_x*s_w, output s 0.05 zp 90) -> DequantizeLinear",
      "QOperator form: the integer conv with onnxruntime's own requantization (float multiplier).")
def _(g):
    s_x, z_x, s_w, s_y, z_y = np.float32(0.02), np.uint8(100), np.float32(0.008), np.float32(0.05), np.uint8(90)
    q, sx, zx = g.q("x", s_x, z_x, role="input")
    w = g.const("w", g.rng.integers(-127, 128, (3, 2, 3, 3)).astype(np.int8))
    b = g.const("b", g.rng.integers(-2000, 2000, 3).astype(np.int32))
    sy, zy = g.const("scale", s_y), g.const("zp", z_y)
    g.quantizers.append({"op": "QLinearConv", "role": "output", "w_scale": float(s_w), "w_zero_point": 0,
                         "y_scale": float(s_y), "y_zero_point": int(z_y)})
    y = g.node("QLinearConv", [q, sx, zx, w, g.const("scale", s_w), g.const("zp", np.int8(0)), sy, zy, b],
               kernel_shape=[3, 3], pads=[1, 1, 1, 1])
    return [1, 2, 5, 5], g.dq(y, sy, zy), dict(scale=s_x, zp=100.0, lo=0, hi=255)


@form("qlinear_matmul", "qdq", "ort",
      "QuantizeLinear uint8 (s 0.02, zp 100) -> QLinearMatMul with int8 B [16,8] (s 0.01) -> uint8 (s 0.06, "
      "zp 120) -> DequantizeLinear", "")
def _(g):
    q, sx, zx = g.q("x", np.float32(0.02), np.uint8(100), role="input")
    bq = g.const("w", g.rng.integers(-127, 128, (16, 8)).astype(np.int8))
    sy, zy = g.const("scale", np.float32(0.06)), g.const("zp", np.uint8(120))
    g.quantizers.append({"op": "QLinearMatMul", "role": "output", "b_scale": 0.01, "b_zero_point": 0,
                         "y_scale": 0.06, "y_zero_point": 120})
    y = g.node("QLinearMatMul", [q, sx, zx, bq, g.const("scale", np.float32(0.01)), g.const("zp", np.int8(0)), sy, zy])
    return [1, 16], g.dq(y, sy, zy), dict(scale=0.02, zp=100.0, lo=0, hi=255)


@form("matmul_integer", "qdq", "ort",
      "QuantizeLinear uint8 (s 0.02, zp 100) -> MatMulInteger with int8 B [16,8] (zp 0) -> Cast float -> Mul "
      "by float32(0.02*0.01) -> QuantizeLinear uint8 (s 0.06, zp 120) -> DequantizeLinear",
      "The form onnxruntime's dynamic quantization writes (with a static input quantizer here).")
def _(g):
    q, sx, zx = g.q("x", np.float32(0.02), np.uint8(100), role="input")
    bq = g.const("w", g.rng.integers(-127, 128, (16, 8)).astype(np.int8))
    acc = g.node("MatMulInteger", [q, bq, zx, g.const("zp", np.int8(0))])
    f = g.node("Mul", [g.node("Cast", [acc], to=T.FLOAT), g.const("scale", np.float32(0.02) * np.float32(0.01))])
    return [1, 16], g.qdq(f, np.float32(0.06), np.uint8(120), role="output"), dict(scale=0.02, zp=100.0, lo=0, hi=255)


@form("conv_integer", "qdq", "ort",
      "QuantizeLinear uint8 (s 0.02, zp 100) -> ConvInteger 3x3 2->3 pads 1 (int8 w, zp 0) -> Cast -> Mul by "
      "float32(0.02*0.008) -> QuantizeLinear uint8 (s 0.05, zp 90) -> DequantizeLinear",
      "ConvInteger pads with the input zero point (x_zero_point), so padding is the real value 0.")
def _(g):
    q, sx, zx = g.q("x", np.float32(0.02), np.uint8(100), role="input")
    w = g.const("w", g.rng.integers(-127, 128, (3, 2, 3, 3)).astype(np.int8))
    acc = g.node("ConvInteger", [q, w, zx, g.const("zp", np.int8(0))], kernel_shape=[3, 3], pads=[1, 1, 1, 1])
    f = g.node("Mul", [g.node("Cast", [acc], to=T.FLOAT), g.const("scale", np.float32(0.02) * np.float32(0.008))])
    return [1, 2, 5, 5], g.qdq(f, np.float32(0.05), np.uint8(90), role="output"), \
        dict(scale=0.02, zp=100.0, lo=0, hi=255)


# ---- Ops between QONNX quantizers (power-of-two scales unless noted) ----

@form("bn_after_conv", "op", "qonnx",
      "Quant(8b, 2^-5) -> Conv 3x3 3->4 pads 1 (weights Quant 6b narrow 2^-4, no bias) -> BatchNormalization "
      "(float gamma, beta, mean, var; epsilon 1e-3) -> Relu -> Quant(8b unsigned, 2^-4)",
      "onnxruntime (inside the QONNX executor) computes BatchNormalization in float32 as x * a + (beta - mean * "
      "a) with a = gamma * (1 / sqrt(var + eps)), not fused; fold it into a per-channel multiplier + offset.")
def _(g):
    x = g.quant("x", 2 ** -5, role="input")
    w = g.wquant((4, 3, 3, 3), 2 ** -4, bits=6)
    c = g.node("Conv", [x, w], kernel_shape=[3, 3], pads=[1, 1, 1, 1])
    p = [g.const(nm, v.astype(np.float32)) for nm, v in (
        ("gamma", g.rng.uniform(0.5, 1.5, 4)), ("beta", g.rng.uniform(-0.5, 0.5, 4)),
        ("mean", g.rng.uniform(-0.5, 0.5, 4)), ("var", g.rng.uniform(0.2, 2.0, 4)))]
    bn = g.node("BatchNormalization", [c] + p, epsilon=1e-3)
    return [1, 3, 5, 5], g.quant(g.node("Relu", [bn]), 2 ** -4, bits=8, signed=False, role="output"), \
        dict(scale=2 ** -5)


@form("conv1d", "op", "qonnx",
      "Quant(8b, 2^-5) -> Conv 1-D k3 s1 pads [1,1] 3->4, weights Quant 8b narrow 2^-7, bias Quant 16b 2^-12 "
      "-> Quant(8b, 2^-4)", "")
def _(g):
    x = g.quant("x", 2 ** -5, role="input")
    y = g.node("Conv", [x, g.wquant((4, 3, 3), 2 ** -7), g.bquant(4, 2 ** -12)], kernel_shape=[3], pads=[1, 1])
    return [1, 3, 16], g.quant(y, 2 ** -4, role="output"), dict(scale=2 ** -5)


@form("conv1d_stride_dilation", "op", "qonnx",
      "Quant(8b, 2^-5) -> Conv 1-D k3 stride 2 dilation 2 pads [2,1] 2->3 (weights Quant 8b narrow 2^-7) -> "
      "Quant(8b, 2^-4)", "Asymmetric 1-D pads [begin, end].")
def _(g):
    x = g.quant("x", 2 ** -5, role="input")
    y = g.node("Conv", [x, g.wquant((3, 2, 3), 2 ** -7)], kernel_shape=[3], strides=[2], dilations=[2], pads=[2, 1])
    return [1, 2, 16], g.quant(y, 2 ** -4, role="output"), dict(scale=2 ** -5)


@form("depthwise_conv", "op", "qonnx",
      "Quant(8b, 2^-5) -> Conv 3x3 group=4 (depthwise, weights [4,1,3,3] Quant 8b narrow 2^-7, bias 16b 2^-12) "
      "pads 1 -> Relu -> Quant(8b unsigned, 2^-5)", "")
def _(g):
    x = g.quant("x", 2 ** -5, role="input")
    y = g.node("Conv", [x, g.wquant((4, 1, 3, 3), 2 ** -7), g.bquant(4, 2 ** -12)], kernel_shape=[3, 3],
               pads=[1, 1, 1, 1], group=4)
    return [1, 4, 5, 5], g.quant(g.node("Relu", [y]), 2 ** -5, signed=False, role="output"), dict(scale=2 ** -5)


@form("grouped_conv", "op", "qonnx",
      "Quant(8b, 2^-5) -> Conv 3x3 group=2 4->4 (weights [4,2,3,3]) stride 2 pads 1 -> Quant(8b, 2^-4)", "")
def _(g):
    x = g.quant("x", 2 ** -5, role="input")
    y = g.node("Conv", [x, g.wquant((4, 2, 3, 3), 2 ** -7)], kernel_shape=[3, 3], pads=[1, 1, 1, 1],
               strides=[2, 2], group=2)
    return [1, 4, 6, 6], g.quant(y, 2 ** -4, role="output"), dict(scale=2 ** -5)


def _branch(g, shape_c, sa=2 ** -5, sb=2 ** -4):
    a = g.quant("x", sa, role="input")
    b = g.quant(g.node("Conv", [a, g.wquant((shape_c[1], shape_c[0], 3, 3), 2 ** -7)], kernel_shape=[3, 3],
                       pads=[1, 1, 1, 1]), sb, role="branch")
    return a, b


@form("add_residual", "op", "qonnx",
      "a = Quant(x; 8b, 2^-5); b = Quant(Conv3x3(a); 8b, 2^-4); y = Quant(a + b; 9b, 2^-4)",
      "The two Add operands sit on different grids (2^-5 and 2^-4): align before adding.")
def _(g):
    a, b = _branch(g, (4, 4))
    return [1, 4, 5, 5], g.quant(g.node("Add", [a, b]), 2 ** -4, bits=9, role="output"), dict(scale=2 ** -5)


@form("sub", "op", "qonnx", "a = Quant(x; 8b, 2^-5); b = Quant(Conv3x3(a); 8b, 2^-4); y = Quant(a - b; 9b, 2^-4)", "")
def _(g):
    a, b = _branch(g, (4, 4))
    return [1, 4, 5, 5], g.quant(g.node("Sub", [a, b]), 2 ** -4, bits=9, role="output"), dict(scale=2 ** -5)


@form("concat", "op", "qonnx",
      "a = Quant(x; 8b, 2^-5) [1,2,5,5]; b = Quant(Conv3x3(a) 2->3; 8b, 2^-3); y = Quant(Concat(a, b; axis 1); "
      "8b, 2^-4) [1,5,5,5]", "Concat of tensors on different grids, requantized to one.")
def _(g):
    a, b = _branch(g, (2, 3), sb=2 ** -3)
    return [1, 2, 5, 5], g.quant(g.node("Concat", [a, b], axis=1), 2 ** -4, role="output"), dict(scale=2 ** -5)


@form("maxpool", "op", "qonnx",
      "Quant(8b, 2^-4) -> MaxPool 3x3 stride 2 pads 1 -> Quant(6b, 2^-3)",
      "MaxPool pads with -inf (padding never wins).")
def _(g):
    x = g.quant("x", 2 ** -4, role="input")
    y = g.node("MaxPool", [x], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])
    return [1, 3, 7, 7], g.quant(y, 2 ** -3, bits=6, role="output"), dict(scale=2 ** -4)


@form("averagepool_2x2", "op", "qonnx", "Quant(8b, 2^-4) -> AveragePool 2x2 stride 2 -> Quant(8b, 2^-5)",
      "The average of 4 values on 2^-4 lies on 2^-6; the output Quant rounds it (half to even) to 2^-5.")
def _(g):
    x = g.quant("x", 2 ** -4, role="input")
    y = g.node("AveragePool", [x], kernel_shape=[2, 2], strides=[2, 2])
    return [1, 3, 6, 6], g.quant(y, 2 ** -5, role="output"), dict(scale=2 ** -4)


@form("averagepool_3x3_pad", "op", "qonnx",
      "Quant(8b, 2^-4) -> AveragePool 3x3 stride 1 pads 1 count_include_pad=0 -> Quant(8b, 2^-5)",
      "Divisor 9 inside, 6 on edges, 4 in corners (count_include_pad=0): division by non-powers of two, "
      "computed in float32 by onnxruntime before the Quant.")
def _(g):
    x = g.quant("x", 2 ** -4, role="input")
    y = g.node("AveragePool", [x], kernel_shape=[3, 3], pads=[1, 1, 1, 1], count_include_pad=0)
    return [1, 2, 5, 5], g.quant(y, 2 ** -5, role="output"), dict(scale=2 ** -4)


@form("globalaveragepool", "op", "qonnx", "Quant(8b, 2^-4) -> GlobalAveragePool over 6x6 -> Quant(8b, 2^-6)",
      "Divisor 36.")
def _(g):
    x = g.quant("x", 2 ** -4, role="input")
    return [1, 4, 6, 6], g.quant(g.node("GlobalAveragePool", [x]), 2 ** -6, role="output"), dict(scale=2 ** -4)


@form("pad_constant_conv", "op", "qonnx",
      "Quant(8b, 2^-5) -> Pad constant 0, pads [0,0,1,0, 0,0,0,2] (top 1, right 2) -> Conv 3x3 2->3 no pads -> "
      "Quant(8b, 2^-4)", "Pad (opset 17) takes pads as an int64 input initializer; asymmetric padding.")
def _(g):
    x = g.quant("x", 2 ** -5, role="input")
    p = g.node("Pad", [x, g.const("pads", np.array([0, 0, 1, 0, 0, 0, 0, 2], np.int64))], mode="constant")
    y = g.node("Conv", [p, g.wquant((3, 2, 3, 3), 2 ** -7)], kernel_shape=[3, 3])
    return [1, 2, 5, 5], g.quant(y, 2 ** -4, role="output"), dict(scale=2 ** -5)


@form("pad_reflect", "op", "qonnx", "Quant(8b, 2^-5) -> Pad mode=reflect, pads [0,0,1,1, 0,0,1,1] -> Quant(7b, 2^-4)",
      "")
def _(g):
    x = g.quant("x", 2 ** -5, role="input")
    p = g.node("Pad", [x, g.const("pads", np.array([0, 0, 1, 1, 0, 0, 1, 1], np.int64))], mode="reflect")
    return [1, 2, 4, 4], g.quant(p, 2 ** -4, bits=7, role="output"), dict(scale=2 ** -5)


@form("clip", "op", "qonnx", "Quant(8b, 2^-5) -> Clip(min -0.5, max 0.7) -> Quant(8b, 2^-4)",
      "HardTanh-style clip with a bound (0.7) that is not on either grid.")
def _(g):
    x = g.quant("x", 2 ** -5, role="input")
    c = g.node("Clip", [x, g.const("min", np.float32(-0.5)), g.const("max", np.float32(0.7))])
    return [1, 16], g.quant(c, 2 ** -4, role="output"), dict(scale=2 ** -5)


@form("leaky_relu", "op", "qonnx", "Quant(8b, 2^-5) -> LeakyRelu(alpha 0.1) -> Quant(8b, 2^-7)",
      "alpha = 0.1 is not a power of two: float32(x * 0.1f) decides the rounding near ties.")
def _(g):
    x = g.quant("x", 2 ** -5, role="input")
    return [1, 16], g.quant(g.node("LeakyRelu", [x], alpha=0.1), 2 ** -7, role="output"), dict(scale=2 ** -5)


@form("sigmoid", "op", "qonnx", "Quant(6b signed, 2^-2: 64 codes in [-8, 7.75]) -> Sigmoid -> Quant(8b unsigned, 2^-8)",
      "A lookup table over the 64 input codes gives the exact output.")
def _(g):
    x = g.quant("x", 0.25, bits=6, role="input")
    return [1, 32], g.quant(g.node("Sigmoid", [x]), 2 ** -8, signed=False, role="output"), \
        dict(scale=0.25, lo=-32, hi=31)


@form("tanh", "op", "qonnx", "Quant(6b signed, 2^-3: 64 codes in [-4, 3.875]) -> Tanh -> Quant(8b signed, 2^-7)",
      "A lookup table over the 64 input codes gives the exact output.")
def _(g):
    x = g.quant("x", 0.125, bits=6, role="input")
    return [1, 32], g.quant(g.node("Tanh", [x]), 2 ** -7, role="output"), dict(scale=0.125, lo=-32, hi=31)


@form("mul_const", "op", "qonnx",
      "Quant(8b, 2^-5) [1,4,8] -> Mul by a per-channel constant [1,4,1] (0.5, 0.75, -1.25, 3) -> Quant(8b, 2^-4)", "")
def _(g):
    x = g.quant("x", 2 ** -5, role="input")
    m = g.node("Mul", [x, g.const("c", np.array([0.5, 0.75, -1.25, 3.0], np.float32).reshape(1, 4, 1))])
    return [1, 4, 8], g.quant(m, 2 ** -4, role="output"), dict(scale=2 ** -5)


@form("div_const", "op", "qonnx", "Quant(8b, 2^-5) -> Div by 3 -> Quant(8b, 2^-6)",
      "float32(x / 3f) decides the rounding; exact rational x/3 is never a tie at 2^-6 here, but float32 "
      "division may land on either side of a boundary differently from exact arithmetic.")
def _(g):
    x = g.quant("x", 2 ** -5, role="input")
    return [1, 16], g.quant(g.node("Div", [x, g.const("c", np.float32(3.0))]), 2 ** -6, role="output"), \
        dict(scale=2 ** -5)


@form("squeeze_unsqueeze_slice", "op", "qonnx",
      "Quant(8b, 2^-5) [1,4,8] -> Unsqueeze(axes [2]) -> Slice(starts 1, ends 7, axes 3, steps 2) -> Squeeze(axes "
      "[2]) -> Quant(8b, 2^-5) [1,4,3]", "axes/starts/ends/steps are int64 input initializers (opset 13+).")
def _(g):
    x = g.quant("x", 2 ** -5, role="input")
    u = g.node("Unsqueeze", [x, g.const("axes", np.array([2], np.int64))])
    s = g.node("Slice", [u] + [g.const(nm, np.array([v], np.int64)) for nm, v in
                               (("starts", 1), ("ends", 7), ("axes", 3), ("steps", 2))])
    q = g.node("Squeeze", [s, g.const("axes", np.array([2], np.int64))])
    return [1, 4, 8], g.quant(q, 2 ** -5, role="output"), dict(scale=2 ** -5)


@form("reshape_shape_gather", "op", "qonnx",
      "Quant(8b, 2^-5) [1,4,3,3] -> Reshape to [N, -1] with N from Shape -> Gather(0) -> Unsqueeze -> Concat "
      "-> Gemm 36->5 (weights Quant 8b narrow 2^-7) -> Quant(8b, 2^-3)",
      "The Shape-Gather-Unsqueeze-Concat chain that the TorchScript exporter writes for x.view(x.size(0), -1); "
      "it folds to the constant [1, 36].")
def _(g):
    x = g.quant("x", 2 ** -5, role="input")
    n = g.node("Unsqueeze", [g.node("Gather", [g.node("Shape", [x]), g.const("idx", np.array(0, np.int64))], axis=0),
                             g.const("axes", np.array([0], np.int64))])
    shp = g.node("Concat", [n, g.const("minus1", np.array([-1], np.int64))], axis=0)
    r = g.node("Reshape", [x, shp])
    y = g.node("Gemm", [r, g.wquant((5, 36), 2 ** -7)], transB=1)
    return [1, 4, 3, 3], g.quant(y, 2 ** -3, role="output"), dict(scale=2 ** -5)


@form("softmax", "op", "qonnx",
      "Quant(8b, 2^-4) -> Gemm 16->6 (weights Quant 8b narrow 2^-7, bias 16b 2^-11) -> Quant(8b, 2^-3) -> "
      "Softmax(axis -1) -> Quant(8b unsigned, 2^-8)",
      "The pre-softmax Quant output (8-bit, 2^-3) is the exact tensor to report; Softmax is float32 in "
      "onnxruntime.")
def _(g):
    x = g.quant("x", 2 ** -4, role="input")
    z = g.quant(g.node("Gemm", [x, g.wquant((6, 16), 2 ** -7, spread=0.15), g.bquant(6, 2 ** -11)], transB=1), 2 ** -3,
                role="logits")
    return [1, 16], g.quant(g.node("Softmax", [z], axis=-1), 2 ** -8, signed=False, role="output"), \
        dict(scale=2 ** -4)


# ---- More encoder ops: pools and reductions, Split, HardSigmoid, Pad modes, LogSoftmax ----

@form("hard_sigmoid", "op", "qonnx",
      "Quant(8b, 2^-4) -> HardSigmoid(alpha float32(1/6), beta 0.5, as PyTorch exports nn.Hardsigmoid) -> "
      "Quant(8b unsigned, 2^-7)",
      "max(0, min(1, alpha * x + beta)) in float32; alpha = float32(1/6) is an exact dyadic (11184811 * 2^-26), "
      "so the integer implementation is an exact affine map and a clip.")
def _(g):
    x = g.quant("x", 2 ** -4, role="input")
    y = g.node("HardSigmoid", [x], alpha=float(np.float32(1 / 6)), beta=0.5)
    return [1, 16], g.quant(y, 2 ** -7, signed=False, role="output"), dict(scale=2 ** -4)


@form("globalmaxpool", "op", "qonnx", "Quant(8b, 2^-4) -> GlobalMaxPool over 4x4 -> Quant(6b, 2^-3)",
      "The maximum is exact on the codes; the output Quant rounds and saturates it.")
def _(g):
    x = g.quant("x", 2 ** -4, role="input")
    return [1, 3, 4, 4], g.quant(g.node("GlobalMaxPool", [x]), 2 ** -3, bits=6, role="output"), dict(scale=2 ** -4)


@form("reduce_mean", "op", "qonnx",
      "Quant(8b, 2^-4) [1,4,3,3] -> ReduceMean(axes [2,3] attribute, keepdims 0) [1,4] -> Quant(8b, 2^-6)",
      "Opset 17: axes is an attribute. A global average with divisor 9; keepdims 0 drops the spatial axes.")
def _(g):
    x = g.quant("x", 2 ** -4, role="input")
    y = g.node("ReduceMean", [x], axes=[2, 3], keepdims=0)
    return [1, 4, 3, 3], g.quant(y, 2 ** -6, role="output"), dict(scale=2 ** -4)


@form("reduce_max", "op", "qonnx",
      "Quant(8b, 2^-4) [1,3,6] (1-D) -> ReduceMax(axes input [-1], keepdims 1) [1,3,1] -> Quant(6b, 2^-3)",
      "Opset 18: axes is an int64 input; a negative axis.", opset=18)
def _(g):
    x = g.quant("x", 2 ** -4, role="input")
    y = g.node("ReduceMax", [x, g.const("axes", np.array([-1], np.int64))], keepdims=1)
    return [1, 3, 6], g.quant(y, 2 ** -3, bits=6, role="output"), dict(scale=2 ** -4)


@form("split", "op", "qonnx",
      "Quant(8b, 2^-5) [1,4,6] -> Split(axis 2, split [2,4]) -> Concat(second, first; axis 2) -> Quant(7b, 2^-4)",
      "Unequal split sizes as an int64 input (opset 13+); the Concat swaps the parts.")
def _(g):
    x = g.quant("x", 2 ** -5, role="input")
    a, b = g.name("split_a"), g.name("split_b")
    g.nodes.append(h.make_node("Split", [x, g.const("split", np.array([2, 4], np.int64))], [a, b],
                               name=g.name("n_Split"), axis=2))
    y = g.node("Concat", [b, a], axis=2)
    return [1, 4, 6], g.quant(y, 2 ** -4, bits=7, role="output"), dict(scale=2 ** -5)


@form("pad_edge", "op", "qonnx",
      "Quant(8b, 2^-5) [1,2,3,4] -> Pad mode=edge, pads [0,0,2,1, 0,0,1,2] -> Quant(7b, 2^-4) [1,2,6,7]", "")
def _(g):
    x = g.quant("x", 2 ** -5, role="input")
    p = g.node("Pad", [x, g.const("pads", np.array([0, 0, 2, 1, 0, 0, 1, 2], np.int64))], mode="edge")
    return [1, 2, 3, 4], g.quant(p, 2 ** -4, bits=7, role="output"), dict(scale=2 ** -5)


@form("pad_wrap", "op", "qonnx",
      "Quant(8b, 2^-5) [1,2,3,4] -> Pad mode=wrap, pads [0,0,1,3, 0,0,2,1] -> Quant(7b, 2^-4) [1,2,6,8]",
      "mode wrap is new in opset 19.", opset=19)
def _(g):
    x = g.quant("x", 2 ** -5, role="input")
    p = g.node("Pad", [x, g.const("pads", np.array([0, 0, 1, 3, 0, 0, 2, 1], np.int64))], mode="wrap")
    return [1, 2, 3, 4], g.quant(p, 2 ** -4, bits=7, role="output"), dict(scale=2 ** -5)


@form("logsoftmax", "op", "qonnx",
      "Quant(8b, 2^-4) -> Gemm 16->6 (weights Quant 8b narrow 2^-7, bias 16b 2^-11) -> Quant(8b, 2^-3) -> "
      "LogSoftmax(axis -1) -> Quant(8b signed, 2^-4)",
      "As softmax: the pre-LogSoftmax Quant output is the exact tensor aecc reports (LogSoftmax is monotone: "
      "the arg-max is unchanged).")
def _(g):
    x = g.quant("x", 2 ** -4, role="input")
    z = g.quant(g.node("Gemm", [x, g.wquant((6, 16), 2 ** -7, spread=0.15), g.bquant(6, 2 ** -11)], transB=1), 2 ** -3,
                role="logits")
    return [1, 16], g.quant(g.node("LogSoftmax", [z], axis=-1), 2 ** -4, role="output"), dict(scale=2 ** -4)


# ---- Smooth activations: a lookup table fused with the output quantizer ----

def _lut_form(stem, op, in_scale, out_bits, out_scale, out_signed, what_fn, note="", opset=17, **attrs):
    rng_txt = f"{in_scale * -32:g}, {in_scale * 31:g}"
    out_txt = f"{out_bits}b {'signed' if out_signed else 'unsigned'}, 2^{int(np.log2(out_scale))}"

    @form(stem, "op", "qonnx",
          f"Quant(6b signed, 2^{int(np.log2(in_scale))}: 64 codes in [{rng_txt}]) -> {what_fn} -> Quant({out_txt})",
          note or "A lookup table over the 64 input codes, fused with the output Quant.", opset=opset)
    def _(g):
        x = g.quant("x", in_scale, bits=6, role="input")
        y = g.node(op, [x], **attrs)
        return [1, 32], g.quant(y, out_scale, bits=out_bits, signed=out_signed, role="output"), \
            dict(scale=in_scale, lo=-32, hi=31)


_lut_form("exp", "Exp", 2 ** -2, 8, 2 ** -2, False, "Exp")
_lut_form("softplus", "Softplus", 2 ** -3, 8, 2 ** -6, False, "Softplus")
_lut_form("softsign", "Softsign", 2 ** -2, 8, 2 ** -7, True, "Softsign")
_lut_form("elu", "Elu", 2 ** -3, 8, 2 ** -5, True, "Elu(alpha 0.5)", alpha=0.5)
_lut_form("selu", "Selu", 2 ** -3, 8, 2 ** -4, True, "Selu (default alpha, gamma)")
_lut_form("celu", "Celu", 2 ** -3, 8, 2 ** -5, True, "Celu(alpha 2)", alpha=2.0)
_lut_form("hard_swish", "HardSwish", 2 ** -2, 8, 2 ** -4, True, "HardSwish", opset=14)
_lut_form("gelu", "Gelu", 2 ** -3, 8, 2 ** -5, True, "Gelu (opset 20, approximate none)", opset=20)
_lut_form("gelu_tanh", "Gelu", 2 ** -3, 8, 2 ** -5, True, "Gelu (opset 20, approximate tanh)", opset=20,
          approximate="tanh")
_lut_form("erf", "Erf", 2 ** -3, 8, 2 ** -7, True, "Erf")
_lut_form("mish", "Mish", 2 ** -3, 8, 2 ** -5, True, "Mish (opset 18)", opset=18)


# ---------------------------------------------------------------------------------------------
# Brevitas-exported form
# ---------------------------------------------------------------------------------------------


def brevitas_trunc_avgpool():
    import torch
    import brevitas.nn as qnn
    from brevitas.core.restrict_val import RestrictValueType
    from brevitas.core.scaling import ScalingImplType
    from brevitas.export import export_qonnx
    from brevitas.quant.base import IntQuant
    from brevitas.quant.solver import ActQuantSolver

    class FixedIn(IntQuant, ActQuantSolver):  # 8-bit signed, scale 2^-7 (threshold 1)
        bit_width = 8
        narrow_range = False
        scaling_impl_type = ScalingImplType.CONST
        restrict_scaling_type = RestrictValueType.POWER_OF_TWO
        max_val = 1.0
        min_val = -1.0

    class M(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.inp = qnn.QuantIdentity(act_quant=FixedIn, return_quant_tensor=True)
            self.pool = qnn.TruncAvgPool2d(kernel_size=2, stride=2, return_quant_tensor=False)

        def forward(self, x):
            return self.pool(self.inp(x))

    torch.manual_seed(0)
    m = M().eval()
    with tempfile.TemporaryDirectory() as tmp:
        p = os.path.join(tmp, "m.onnx")
        export_qonnx(m, torch.zeros(1, 2, 4, 4), p, dynamo=False, opset_version=17, input_names=["x"],
                     output_names=["y"])
        model = onnx.load(p)
    model.producer_name += " (aecc-testgen)"
    return model, [1, 2, 4, 4], dict(scale=2 ** -7)


# ---------------------------------------------------------------------------------------------
# Independent numpy re-implementation of the single-quantizer forms (the semantics the README states)
# ---------------------------------------------------------------------------------------------

ROUNDING = {
    "ROUND": np.round, "HALF_EVEN": np.round, "CEIL": np.ceil, "FLOOR": np.floor,
    "UP": lambda v: np.sign(v) * np.ceil(np.abs(v)), "DOWN": np.fix,
    "HALF_UP": lambda v: np.sign(v) * np.floor(np.abs(v) + 0.5),
    "HALF_DOWN": lambda v: np.sign(v) * np.ceil(np.abs(v) - 0.5),
}


def np_quant(x, s, zp, bits, signed, narrow=False, mode="ROUND"):
    f32 = np.float32
    v = x / np.asarray(s, f32) + np.asarray(zp, f32)  # float32 throughout
    if bits == 1 and signed:
        return np.where(v >= 0, f32(1), f32(-1)) * np.asarray(s, f32)
    lo, hi = qrange(bits, signed, narrow)
    q = ROUNDING[mode](np.clip(v, lo, hi))
    return ((q - np.asarray(zp, f32)) * np.asarray(s, f32)).astype(f32)


def np_qdq(x, s, zp, lo, hi):
    q = np.clip(np.rint(x / np.asarray(s, np.float32)) + zp, lo, hi)
    return ((q - zp).astype(np.float32) * np.asarray(s, np.float32)).astype(np.float32)


def expected(stem, x):
    """Reference outputs computed with plain numpy from the stated semantics, or None."""
    if stem.startswith("quant_round_"):
        mode = stem[len("quant_round_"):].upper()
        return np_quant(x, 0.125, 0.0, 6, True, mode=mode)
    simple = {
        "quant_nonpo2_scale": lambda: np_quant(x, 0.0371, 0.0, 8, True),
        "quant_zero_point_uint8": lambda: np_quant(x, 0.0213, 37.0, 8, False),
        "quant_zero_point_signed_narrow": lambda: np_quant(x, 0.05, -5.0, 6, True, True),
        "quant_per_channel_scale": lambda: np_quant(x, np.array([0.011, 0.023, 0.05, 0.1], np.float32).reshape(1, 4, 1),
                                                    0.0, 8, True),
        "quant_1bit_signed": lambda: np_quant(x, 0.5, 0.0, 1, True),
        "bipolar_quant": lambda: np.where(x / np.float32(0.5) >= 0, np.float32(0.5), np.float32(-0.5)),
        "trunc_floor": lambda: (np.floor(np.clip(np.round(x / np.float32(2 ** -4)) / 4, -32, 31))
                                * np.float32(0.25)).astype(np.float32),
        "qdq_per_axis_uint8_activation": lambda: np_qdq(x, np.array([0.004, 0.01, 0.02, 0.05], np.float32)[:, None],
                                                        np.array([0, 64, 128, 200])[:, None], 0, 255),
        "qdq_int16": lambda: np_qdq(x, 1.3e-4, -100, -32768, 32767),
        "qdq_int4": lambda: np_qdq(x, 0.25, 0, -8, 7),
        "qdq_uint4": lambda: np_qdq(x, 0.1, 8, 0, 15),
        "qcdq_clip_int8": lambda: np_qdq(x, 0.07, 0, -8, 7),
    }
    return simple[stem]() if stem in simple else None


# ---------------------------------------------------------------------------------------------
# Execution and writing
# ---------------------------------------------------------------------------------------------


def run_qonnx(model, x):
    mw = ModelWrapper(model).transform(InferShapes())
    out = mw.graph.output[0].name
    return np.stack([execute_onnx(mw, {"x": x[i:i + 1]})[out][0] for i in range(len(x))])


def run_ort(model, x):
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    sess = ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])
    out = sess.get_outputs()[0].name
    return np.stack([sess.run([out], {"x": x[i:i + 1]})[0][0] for i in range(len(x))])


def build(stem, spec):
    g = G(zlib.crc32(stem.encode()))
    if stem == "trunc_avgpool_brevitas":
        model, in_shape, ip = brevitas_trunc_avgpool()
        g.quantizers = [{"op": "Quant", "role": "input", "scale": 2 ** -7, "zero_point": 0.0, "bit_width": 8,
                         "signed": 1, "narrow": 0, "rounding_mode": "ROUND"},
                        {"op": "Trunc", "role": "output", "see": "onnx file"}]
    else:
        in_shape, out, ip = spec["builder"](g)
        opset = 21 if stem in ("qdq_int16", "qdq_int4", "qdq_uint4") else spec["opset"]
        model = g.model(in_shape, out, opset=opset, qonnx=spec["executor"] == "qonnx")
    rng = np.random.default_rng(zlib.crc32(stem.encode()) + 1)
    lo, hi = ip.get("lo", -128), ip.get("hi", 127)
    x = grid_inputs(rng, in_shape, ip["scale"], ip.get("zp", 0.0), lo, hi)
    run = run_qonnx if spec["executor"] == "qonnx" else run_ort
    y = run(model, x).astype(np.float32)
    # declare the output shape from the result (batch 1), then check the model
    out_vi = model.graph.output[0]
    del out_vi.type.tensor_type.shape.dim[:]
    for d in (1,) + y.shape[1:]:
        out_vi.type.tensor_type.shape.dim.add().dim_value = d
    y2 = run(model, x[:4])
    assert np.array_equal(y2, y[:4]), stem
    # trunc_floor's input Quant is exact here: 8-bit at 2^-4 holds every generated code after clipping
    if stem == "trunc_floor":
        x_in = np_quant(x, 2 ** -4, 0.0, 8, True)
        exp = expected(stem, x_in)
    else:
        exp = expected(stem, x)
    if exp is not None:
        assert np.array_equal(exp.astype(np.float32), y), f"{stem}: numpy re-implementation differs from the executor"
    return model, x, y, g.quantizers, exp is not None


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=here)
    ap.add_argument("--only", default="", help="comma-separated form names")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    warnings.filterwarnings("ignore")
    only = [s for s in args.only.split(",") if s]
    index = []
    for stem, spec in FORMS.items():
        if only and stem not in only:
            continue
        model, x, y, quantizers, rechecked = build(stem, spec)
        chk = "pass"
        try:
            onnx.checker.check_model(model, full_check=spec["executor"] == "ort")
        except Exception as e:  # report, do not hide (QONNX custom ops are unknown to the checker)
            chk = f"FAIL: {str(e).splitlines()[0]}"
        data = model.SerializeToString()
        assert len(data) < MAX_BYTES, f"{stem}: {len(data)} bytes"
        with open(os.path.join(args.out, f"{stem}.onnx"), "wb") as f:
            f.write(data)
        np.save(os.path.join(args.out, f"{stem}.in.npy"), x)
        np.save(os.path.join(args.out, f"{stem}.out.npy"), y)
        ops = dict(sorted(Counter(n.op_type for n in model.graph.node).items()))
        entry = {
            "form": stem, "group": spec["group"], "file": f"{stem}.onnx", "bytes": len(data),
            "inputs": f"{stem}.in.npy", "outputs": f"{stem}.out.npy",
            "input": {"name": model.graph.input[0].name, "model_shape": [d.dim_value for d in
                                                                          model.graph.input[0].type.tensor_type.shape.dim],
                      "npy_shape": list(x.shape)},
            "output": {"name": model.graph.output[0].name, "model_shape": [d.dim_value for d in
                                                                            model.graph.output[0].type.tensor_type.shape.dim],
                       "npy_shape": list(y.shape)},
            "opset": {(o.domain or "ai.onnx"): o.version for o in model.opset_import}, "ir_version": model.ir_version,
            "ops": ops, "executor": "qonnx.core.onnx_exec.execute_onnx" if spec["executor"] == "qonnx"
            else "onnxruntime CPU, ORT_DISABLE_ALL",
            "what": spec["what"], "note": spec["note"], "quantizers": quantizers,
            "outputs_rechecked_with_numpy": rechecked,
            "onnx_checker": chk if spec["executor"] == "ort" else chk + " (check_model without full_check; "
                                                                         "QONNX custom ops are not ONNX schemas)",
        }
        index.append(entry)
        print(f"{stem:32s} {len(data):5d} B  in {str(list(x.shape)):16s} out {str(list(y.shape)):16s} {ops}")
    if only:
        return
    with open(os.path.join(args.out, "index.json"), "w") as f:
        json.dump({"generator": "make_op_models.py", "samples_per_form": N, "forms": index}, f, indent=1)
        f.write("\n")
    write_readme(os.path.join(args.out, "README.md"), index)


README_HEAD = """# testgen — small generated test models

**Generated by `make_op_models.py`; do not edit by hand** (edit the script and rerun it).

One small model per quantization form (issue 6, item 1) and per encoder op (item 2), each with 64
reference input/output vectors, for unit and end-to-end tests of the importer, the passes and the
bit-exact reference. Every model is below 5 KB.

For each form `<form>`:

| file | what |
|---|---|
| `<form>.onnx` | the model: one float32 input `x` with batch dimension 1, one float32 output |
| `<form>.in.npy` | float32 `[64, ...]`: row `i` (as `x[i:i+1]`) is one model input |
| `<form>.out.npy` | float32 `[64, ...]`: the reference executor's output for each row |

The reference executor is the QONNX executor (`qonnx.core.onnx_exec.execute_onnx`, which runs
standard ops through onnxruntime one node at a time) for graphs with QONNX custom ops (domain
`qonnx.custom_op.general`, opset 2, as Brevitas writes it), and onnxruntime with graph
optimisations **disabled** (`ORT_DISABLE_ALL`, CPU, one thread) for pure-ONNX graphs.
`index.json` lists every form with its op counts, shapes, opsets, quantizer parameters and
executor.

The inputs are not on the input grid: each input element is, at random, an exact grid point
(25%), an exact tie halfway between two grid points (25%, computed as `(q + 0.5 - zp) * scale`
in float64 and rounded to float32, so for scales that are not powers of two it is only a near
tie), a value beyond the quantizer's range (10%), `0.0` or `-0.0` (2%), or uniform over the
range widened by two steps. That exercises the input quantizer's rounding and saturation.

## Semantics worth knowing

- **QONNX `Quant`** (qonnx 1.0.0): `q = x / scale + zp` in **float32**; clip to
  `[lo, hi]` (signed: `-2^(b-1) + narrow .. 2^(b-1) - 1`; unsigned: `0 .. 2^b - 1 - narrow`);
  then round with `rounding_mode`; `y = (q - zp) * scale` in float32. Clipping comes before
  rounding; with integer bounds that is the same as rounding first. `ROUND` and `HALF_EVEN` are
  `np.round` (half to even); `CEIL`, `FLOOR`; `UP` = away from zero; `DOWN` = toward zero;
  `HALF_UP` = half away from zero; `HALF_DOWN` = half toward zero. qonnx 1.0.0 rejects
  `ROUND_TO_ZERO` (use `DOWN`), so no model uses it.
- **1-bit signed `Quant`** is special-cased by qonnx: no rounding, `y = (x/scale + zp >= 0 ? +1 :
  -1) * scale`. **`BipolarQuant`**: `y = (x/scale >= 0 ? +1 : -1) * scale`. Both map `0` and `-0.0`
  to `+scale`.
- **`Trunc`** (qonnx opset 2, six inputs: x, scale, zero_point, input_bit_width, output_scale,
  output_bit_width; attributes rounding_mode (default FLOOR), signed, narrow): `q =
  round_half_even(x/scale + zp)`; `q = q / 2^round(log2(output_scale/scale))`; clip to the
  output bit width; apply `rounding_mode`; `y = (q - zp/2^k) * output_scale`. With FLOOR it drops
  LSBs toward minus infinity. Brevitas's `TruncAvgPool2d` exports `AveragePool -> Trunc` with
  `rounding_mode='round'` in **lower case**.
- **`MultiThreshold`** (FINN): `y = out_scale * count(x >= t for t in thresholds[c]) +
  out_bias` (note `>=`); the channel axis comes from `data_layout`, and without it qonnx guesses
  from the rank (rank 3 → `NWC`, channels last; rank 4 → `NCHW`).
- **`QuantizeLinear`** (onnxruntime): `q = saturate(round_half_even(x / scale) + zp)`;
  **`DequantizeLinear`**: `y = (q - zp) * scale` in float32; per-axis parameters are 1-D tensors
  along `axis` (default 1). Between `DequantizeLinear` and `QuantizeLinear`, ops (Conv, Gemm,
  Clip, ...) run in **float32** on dequantized values.
- **Float ops between quantizers** (BatchNormalization, AveragePool and ReduceMean divisors, Div,
  LeakyRelu with alpha 0.1, HardSigmoid, Sigmoid, Tanh, Exp, Softplus, Softsign, Elu, Selu, Celu,
  HardSwish, Gelu, Erf, Mish, Softmax, LogSoftmax) are computed in float32 by onnxruntime (its
  own approximations of exp, tanh and erf, a few ulps from the correctly rounded value); the
  output Quant then
  rounds that float32 value. An exact integer implementation can differ from the reference where
  the exact value and the float32 value fall on different sides of a rounding boundary; the tests
  should report any such element rather than hide it.
- **BatchNormalization** in onnxruntime 1.32 (CPU, inference): `y = x * a + (beta - mean * a)` with
  `a = gamma * (1 / sqrt(var + eps))`, every operation rounded to float32 (checked bit for bit in
  `models/csi_encoder`).

## Forms

| form | executor | ops | input → output | what |
|---|---|---|---|---|
"""


def write_readme(path, index):
    lines = [README_HEAD.rstrip("\n")]
    group_names = {"quantizer": "quantization forms", "qdq": "ONNX QDQ / QOperator forms", "op": "encoder ops"}
    for e in index:
        ops = ", ".join(f"{k} {v}" for k, v in e["ops"].items())
        ex = "qonnx" if e["executor"].startswith("qonnx") else "ort"
        io = f"`{e['input']['model_shape']}` → `{e['output']['model_shape']}`"
        what = e["what"].replace("|", "\\|")
        note = (" — " + e["note"].replace("|", "\\|")) if e["note"] else ""
        lines.append(f"| `{e['form']}` ({group_names[e['group']]}) | {ex} | {ops} | {io} | {what}{note} |")
    lines += ["", "## Regenerate", "", "From the repository root:", "", "```sh",
              "python3.11 -m venv /tmp/venv-models",
              "/tmp/venv-models/bin/pip install -r models/testgen/requirements.txt",
              "cd models/testgen && /tmp/venv-models/bin/python make_op_models.py   # ~20 s",
              "```", "", "The output is deterministic (fixed seeds per form): two runs write byte-identical "
              "files. `--only a,b` rewrites only the files of the selected forms and leaves `index.json` and "
              "this README alone. For the 20 forms that are a single quantizer (or a quantizer pair), the "
              "script also recomputes the outputs with a plain numpy implementation of the semantics above and "
              "asserts that it equals the executor (`index.json` → `outputs_rechecked_with_numpy`).", ""]
    with open(path, "w") as f:
        f.write("\n".join(lines))


if __name__ == "__main__":
    main()
