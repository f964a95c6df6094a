#!/usr/bin/env python3
"""Train a small float encoder and quantize it to a QDQ int8 ONNX model with onnxruntime's
quantization tool (post-training static quantization).

Steps, all deterministic (fixed seeds, one CPU thread):
  1. generate a synthetic data set of scintillator / SiPM pulse traces (64 ADC samples: one pulse
     or two piled-up pulses with a fast rise and an exponential tail, on a baseline, plus noise);
  2. train a FLOAT encoder + float decoder in torch as an autoencoder with MSE loss;
     encoder: Conv1d 1->8 k5 s2 p2 -> ReLU -> Flatten -> Linear 256->32 -> ReLU -> Linear 32->16;
  3. export the float encoder with torch.onnx.export (TorchScript exporter, dynamo=False, opset 17)
     -> model_float.onnx;
  4. run onnxruntime.quantization.quant_pre_process (the documented pre-processing step), then
     onnxruntime.quantization.quantize_static with a calibration data reader over 2000 training
     traces, QuantFormat.QDQ, MinMax calibration, weights QInt8 (symmetric), and
       variant per_tensor:  activations QUInt8, per_channel=False  -> models/qdq_int8/
       variant per_channel: activations QInt8,  per_channel=True   -> models/qdq_int8_perchannel/
  5. compute the sample outputs with onnxruntime with ALL graph optimisations disabled
     (ORT_DISABLE_ALL: the QDQ graph is run node by node in float, as written); also run it with the
     default optimisations (which fuse DQ->Conv/Gemm->Q into integer kernels) and with an exact
     integer reference of the same graph, and record how many output codes differ;
  6. record every QuantizeLinear/DequantizeLinear scale and zero point, the op list and checks in
     model.json, and write model.onnx, samples/input.npy and samples/output.npy.

Usage:  python train_export.py                        (per_tensor, writes next to this script)
        python train_export.py --variant per_channel  (writes to ../qdq_int8_perchannel)
        python train_export.py --out DIR              (writes somewhere else)
"""

import argparse
import copy
import json
import math
import os
import platform
import tempfile
import time
import warnings
from collections import Counter
from fractions import Fraction

import numpy as np
import onnx
import onnx.helper
import onnx.numpy_helper
import torch
import torch.nn as nn

import onnxruntime as ort
from onnxruntime.quantization import (CalibrationDataReader, CalibrationMethod, QuantFormat, QuantType,
                                      quantize_static)
from onnxruntime.quantization.shape_inference import quant_pre_process

SEED = 20251203
OPSET = 17
INPUT_NAME = "input"
OUTPUT_NAME = "latent"
N_SAMPLES = 64
LATENT = 16
N_CALIB = 2000

VARIANTS = {
    "per_tensor": {"folder": "qdq_int8", "per_channel": False, "activation_type": QuantType.QUInt8,
                   "weight_type": QuantType.QInt8},
    "per_channel": {"folder": "qdq_int8_perchannel", "per_channel": True, "activation_type": QuantType.QInt8,
                    "weight_type": QuantType.QInt8},
}

# ---------------------------------------------------------------------------------------------
# Model (float)
# ---------------------------------------------------------------------------------------------


class Encoder(nn.Module):
    """Conv1d(1,8,k5,s2,p2) -> ReLU -> Flatten -> Linear(256,32) -> ReLU -> Linear(32,16)."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv1d(1, 8, kernel_size=5, stride=2, padding=2)
        self.act1 = nn.ReLU()
        self.flatten = nn.Flatten()
        self.fc1 = nn.Linear(8 * 32, 32)
        self.act2 = nn.ReLU()
        self.fc2 = nn.Linear(32, LATENT)

    def forward(self, x):
        return self.fc2(self.act2(self.fc1(self.flatten(self.act1(self.conv(x))))))


class Decoder(nn.Module):
    """Float decoder (off-detector, not exported)."""

    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(LATENT, 64), nn.ReLU(), nn.Linear(64, N_SAMPLES))

    def forward(self, z):
        return self.net(z).view(-1, 1, N_SAMPLES)


# ---------------------------------------------------------------------------------------------
# Synthetic pulse traces
# ---------------------------------------------------------------------------------------------


def make_dataset(n_events, rng):
    """Scintillator / SiPM pulse traces of 64 ADC samples: one pulse (75%) or two piled-up pulses
    (25%, the second 3-30 samples after the first); each pulse is A * (exp(-t/tau_fall) -
    exp(-t/tau_rise)) normalised to peak A, with A uniform 0.15-1.0, tau_rise uniform 0.5-2
    samples, tau_fall uniform 4-12 samples, start time uniform 4-40 samples; baseline N(0.05,
    0.01) per trace; white noise N(0, 0.01) per sample. Float32, not rounded to any grid before
    quantization (the quantizer's input grid is chosen by calibration)."""
    t = np.arange(N_SAMPLES, dtype=np.float64)[None, :]
    x = rng.normal(0.05, 0.01, (n_events, 1)) + rng.normal(0.0, 0.01, (n_events, N_SAMPLES))
    two = rng.random(n_events) < 0.25
    t_first = rng.uniform(4.0, 40.0, (n_events, 1))
    for p in range(2):
        active = (two | (p == 0))[:, None]
        t0 = t_first if p == 0 else t_first + rng.uniform(3.0, 30.0, (n_events, 1))
        a = rng.uniform(0.15, 1.0, (n_events, 1))
        tr = rng.uniform(0.5, 2.0, (n_events, 1))
        tf = rng.uniform(4.0, 12.0, (n_events, 1))
        tpk = tr * tf / (tf - tr) * np.log(tf / tr)
        norm = np.exp(-tpk / tf) - np.exp(-tpk / tr)
        dt = np.maximum(t - t0, 0.0)
        x += active * a * (np.exp(-dt / tf) - np.exp(-dt / tr)) / norm
    return x.astype(np.float32)[:, None, :], two


# ---------------------------------------------------------------------------------------------
# ONNX helpers
# ---------------------------------------------------------------------------------------------


def attr_dict(node):
    out = {}
    for a in node.attribute:
        v = onnx.helper.get_attribute_value(a)
        if isinstance(v, bytes):
            v = v.decode()
        elif isinstance(v, onnx.TensorProto):
            v = {"tensor": onnx.numpy_helper.to_array(v).tolist()}
        elif isinstance(v, list):
            v = [x.decode() if isinstance(x, bytes) else x for x in v]
        out[a.name] = v
    return out


def initializer_map(model):
    return {i.name: onnx.numpy_helper.to_array(i) for i in model.graph.initializer}


def session(model_path, level):
    so = ort.SessionOptions()
    so.graph_optimization_level = level
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    return ort.InferenceSession(model_path, so, providers=["CPUExecutionProvider"])


def run_ort(sess, x, outputs=None):
    """Run sample by sample (batch 1, as the model is declared)."""
    names = outputs or [OUTPUT_NAME]
    res = {n: [] for n in names}
    for i in range(len(x)):
        for n, v in zip(names, sess.run(names, {INPUT_NAME: x[i:i + 1]})):
            res[n].append(v[0])
    return {n: np.stack(v) for n, v in res.items()}


def dtype_name(t):
    return onnx.helper.tensor_dtype_to_np_dtype(t).name


def qdq_nodes(model_proto):
    """Every QuantizeLinear / DequantizeLinear node with its scale and zero point."""
    inits = {i.name: i for i in model_proto.graph.initializer}
    out = []
    for n in model_proto.graph.node:
        if n.op_type not in ("QuantizeLinear", "DequantizeLinear"):
            continue
        s = onnx.numpy_helper.to_array(inits[n.input[1]])
        zp_t = inits[n.input[2]] if len(n.input) > 2 and n.input[2] else None
        zp = onnx.numpy_helper.to_array(zp_t) if zp_t is not None else None
        at = attr_dict(n)
        entry = {
            "node": n.name, "op_type": n.op_type, "input": n.input[0], "output": n.output[0],
            "scale_initializer": n.input[1], "zero_point_initializer": n.input[2] if zp_t is not None else None,
            "granularity": "per_axis" if s.size > 1 else "per_tensor",
            "axis": at.get("axis", 1) if s.size > 1 else None,
            "scale": s.reshape(-1).tolist() if s.size > 1 else float(s.reshape(-1)[0]),
            "scale_shape": list(s.shape),
            "scale_float32_hex": [float(v).hex() for v in s.reshape(-1)],
            "scale_is_power_of_two": bool(np.all(np.log2(s.astype(np.float64)) == np.round(np.log2(s.astype(np.float64))))),
            "zero_point": (zp.reshape(-1).tolist() if zp.size > 1 else int(zp.reshape(-1)[0])) if zp is not None else None,
            "zero_point_dtype": dtype_name(zp_t.data_type) if zp_t is not None else None,
            "attributes": at,
        }
        if n.op_type == "DequantizeLinear" and n.input[0] in inits:
            q = onnx.numpy_helper.to_array(inits[n.input[0]])
            entry["dequantizes_initializer"] = {"name": n.input[0], "dtype": q.dtype.name, "shape": list(q.shape),
                                                "min_code": int(q.min()), "max_code": int(q.max()),
                                                "zero_codes": int((q == 0).sum())}
        out.append(entry)
    return out


def graph_summary(model_proto):
    g = model_proto.graph
    inits = {i.name for i in g.initializer}

    def vi_shape(v):
        return [d.dim_value if d.HasField("dim_value") else d.dim_param for d in v.type.tensor_type.shape.dim]

    return {
        "ir_version": model_proto.ir_version,
        "opset_import": {(o.domain or "ai.onnx"): o.version for o in model_proto.opset_import},
        "producer": f"{model_proto.producer_name} {model_proto.producer_version}",
        "op_type_counts": dict(sorted(Counter(n.op_type for n in g.node).items())),
        "node_domains": sorted({n.domain or "ai.onnx" for n in g.node}),
        "nodes": [{
            "name": n.name, "op_type": n.op_type, "domain": n.domain or "ai.onnx",
            "inputs": list(n.input), "outputs": list(n.output), "attributes": attr_dict(n),
        } for n in g.node],
        "graph_inputs": [{"name": i.name, "shape": vi_shape(i), "has_initializer": i.name in inits} for i in g.input],
        "graph_outputs": [{"name": o.name, "declared_shape": vi_shape(o)} for o in g.output],
        "initializers": [{"name": i.name, "shape": list(i.dims), "dtype": dtype_name(i.data_type)}
                         for i in g.initializer],
        "value_info_count": len(g.value_info),
    }


def checker(model_proto):
    res = {}
    try:
        onnx.checker.check_model(model_proto)
        res["check_model"] = "pass"
    except Exception as e:  # report, do not hide
        res["check_model"] = f"FAIL: {e}"
    try:
        onnx.checker.check_model(model_proto, full_check=True)
        res["check_model_full_check"] = "pass"
    except Exception as e:
        res["check_model_full_check"] = f"FAIL: {type(e).__name__}: {str(e).splitlines()[0]}"
    return res


# ---------------------------------------------------------------------------------------------
# Exact integer reference of the QDQ graph
# ---------------------------------------------------------------------------------------------


def round_half_even_exact(num, scale_ratio):
    """round(num * scale_ratio) half to even, exactly: num int64 array, scale_ratio a Fraction
    (or per-channel list of Fractions broadcast over the last axis). Also returns the exact
    quotient num * scale_ratio rounded to float64, for reporting."""
    num = np.asarray(num, dtype=np.int64)
    ratios = scale_ratio if isinstance(scale_ratio, list) else None
    flat = num.reshape(-1, num.shape[-1]) if ratios is not None else num.reshape(-1, 1)
    out = np.empty(flat.shape, dtype=np.int64)
    quot = np.empty(flat.shape, dtype=np.float64)
    for r in range(flat.shape[0]):
        for c in range(flat.shape[1]):
            v = int(flat[r, c]) * (ratios[c] if ratios is not None else scale_ratio)
            out[r, c] = round(v)  # Python round() on a Fraction: exact, half to even
            quot[r, c] = float(v)
    return out.reshape(num.shape), quot.reshape(num.shape)


def integer_reference(model_proto, x):
    """Evaluate the QDQ graph of this script with integer arithmetic and exact rational
    requantization: input codes = QuantizeLinear(x) (float32 division, as onnxruntime does),
    accumulate (q_in - zp_in) * q_w + q_b in int64, then code = clip(round_half_even(acc * s_in *
    s_w / s_out) + zp_out). The bias is taken as an integer on the accumulator grid s_in * s_w,
    as an integer datapath would, although its DequantizeLinear scale is the float32-rounded
    product. ReLU nodes are absent (the quantizer removed them); the clip at the output zero point
    does their work. Returns ({QuantizeLinear output name: codes}, {same name: exact quotient
    acc * s_in * s_w / s_out before the zero point is added, float64; Conv/Gemm outputs only})."""
    g = model_proto.graph
    inits = initializer_map(model_proto)
    prod = {o: n for n in g.node for o in n.output}
    codes, quotients = {}, {}

    def q_params(qnode):
        return inits[qnode.input[1]], inits[qnode.input[2]]

    def source_codes(t):
        """codes + (scale, zp) of the QuantizeLinear feeding DequantizeLinear output t."""
        dq = prod[t]
        assert dq.op_type == "DequantizeLinear"
        return dq.input[0]

    q_nodes = [n for n in g.node if n.op_type == "QuantizeLinear"]
    for qn in q_nodes:
        s_out, zp_out = q_params(qn)
        info = np.iinfo(zp_out.dtype)
        src = qn.input[0]
        if src == INPUT_NAME:
            xf = x.astype(np.float32) / s_out.astype(np.float32)  # float32 division, like onnxruntime
            c = np.clip(np.rint(xf) + int(zp_out), info.min, info.max).astype(np.int64)
        else:
            op = prod[src]
            if op.op_type == "Flatten":
                dq_in = source_codes(op.input[0])
                inner = codes[dq_in]
                s_in, zp_in = q_params(prod[dq_in])
                assert s_in == s_out and zp_in == zp_out, "Flatten requantizes with the same parameters"
                c = inner.reshape(inner.shape[0], -1)
            else:
                assert op.op_type in ("Conv", "Gemm"), op.op_type
                a_q = source_codes(op.input[0])
                s_in, zp_in = q_params(prod[a_q])
                a = codes[a_q] - int(zp_in)
                w_dq = prod[op.input[1]]
                w = inits[w_dq.input[0]].astype(np.int64)
                s_w = inits[w_dq.input[1]].astype(np.float32).reshape(-1)
                assert np.all(inits[w_dq.input[2]] == 0)
                b_dq = prod[op.input[2]]
                b = inits[b_dq.input[0]].astype(np.int64)
                if op.op_type == "Conv":
                    at = attr_dict(op)
                    k, st, p = at["kernel_shape"][0], at["strides"][0], at["pads"]
                    ap_ = np.pad(a, ((0, 0), (0, 0), (p[0], p[1])))
                    L = (ap_.shape[2] - k) // st + 1
                    acc = np.zeros((a.shape[0], w.shape[0], L), dtype=np.int64)
                    for j in range(k):
                        acc += np.einsum("ncl,oc->nol", ap_[:, :, j:j + st * (L - 1) + 1:st], w[:, :, j])
                    acc += b[None, :, None]
                    acc = np.moveaxis(acc, 1, -1)  # channel last for per-channel ratios
                else:
                    acc = a @ w.T + b[None, :]
                ratio = [Fraction(float(s_in)) * Fraction(float(sw)) / Fraction(float(s_out)) for sw in s_w]
                r, quot = round_half_even_exact(acc, ratio if len(ratio) > 1 else ratio[0])
                c = np.clip(r + int(zp_out), info.min, info.max)
                if op.op_type == "Conv":
                    c, quot = np.moveaxis(c, -1, 1), np.moveaxis(quot, -1, 1)
                quotients[qn.output[0]] = quot
        codes[qn.output[0]] = c
    return codes, quotients


# ---------------------------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------------------------


class Reader(CalibrationDataReader):
    def __init__(self, x):
        self.x = x
        self.i = 0

    def get_next(self):
        if self.i >= len(self.x):
            return None
        self.i += 1
        return {INPUT_NAME: self.x[self.i - 1:self.i]}


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--variant", choices=sorted(VARIANTS), default="per_tensor")
    ap.add_argument("--out", default=None, help="output directory (default: models/qdq_int8 or "
                                                "models/qdq_int8_perchannel next to this script)")
    ap.add_argument("--events", type=int, default=40000)
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--samples", type=int, default=1000)
    args = ap.parse_args()
    var = VARIANTS[args.variant]
    out_dir = args.out or os.path.join(os.path.dirname(here), var["folder"])
    os.makedirs(os.path.join(out_dir, "samples"), exist_ok=True)
    warnings.filterwarnings("ignore")

    torch.manual_seed(SEED)
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    rng = np.random.default_rng(SEED)
    t0 = time.time()

    # ---- data ----
    data, two = make_dataset(args.events, rng)
    n_val = args.events // 10
    x_train, x_val = torch.from_numpy(data[:-n_val]), torch.from_numpy(data[-n_val:])
    print(f"data: {data.shape}, range [{data.min():.3f}, {data.max():.3f}], {two.mean():.0%} piled-up")

    # ---- float training ----
    enc, dec = Encoder(), Decoder()

    def mse(x, y):
        return ((x - y) ** 2).mean()

    opt = torch.optim.Adam(list(enc.parameters()) + list(dec.parameters()), lr=3e-3)
    batch = 250
    steps_per_epoch = len(x_train) // batch
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=3e-3, total_steps=args.epochs * steps_per_epoch)
    gen = torch.Generator().manual_seed(SEED)

    def evaluate(x):
        enc.eval(), dec.eval()
        with torch.no_grad():
            loss = float(sum(mse(dec(enc(xb)), xb) * len(xb) for xb in x.split(1000)) / len(x))
        enc.train(), dec.train()
        return loss

    history = []
    for epoch in range(args.epochs):
        perm = torch.randperm(len(x_train), generator=gen)
        running = 0.0
        for s in range(steps_per_epoch):
            xb = x_train[perm[s * batch:(s + 1) * batch]]
            loss = mse(dec(enc(xb)), xb)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            running += float(loss)
        val = evaluate(x_val)
        history.append({"epoch": epoch + 1, "train_loss_running": running / steps_per_epoch, "val_loss": val})
        print(f"epoch {epoch + 1:3d}  train {running / steps_per_epoch:.4e}  val {val:.4e}", flush=True)
    train_loss, val_loss = evaluate(x_train), evaluate(x_val)
    baseline = float(mse(x_train.mean(0, keepdim=True).expand_as(x_val), x_val))
    print(f"final (float): train {train_loss:.4e} val {val_loss:.4e} (mean-trace baseline {baseline:.4e}); "
          f"{time.time() - t0:.0f} s")
    enc.eval(), dec.eval()

    # ---- float export, pre-processing, static quantization ----
    calib = data[:N_CALIB].copy()  # the first training traces
    with tempfile.TemporaryDirectory() as tmp:
        f_path = os.path.join(tmp, "float.onnx")
        torch.onnx.export(enc, torch.zeros(1, 1, N_SAMPLES), f_path, dynamo=False, opset_version=OPSET,
                          input_names=[INPUT_NAME], output_names=[OUTPUT_NAME])
        float_model = onnx.load(f_path)
        pre_path = os.path.join(tmp, "pre.onnx")
        quant_pre_process(f_path, pre_path)
        pre_model = onnx.load(pre_path)
        q_path = os.path.join(tmp, "q.onnx")
        quantize_static(pre_path, q_path, Reader(calib), quant_format=QuantFormat.QDQ,
                        per_channel=var["per_channel"], activation_type=var["activation_type"],
                        weight_type=var["weight_type"], calibrate_method=CalibrationMethod.MinMax)
        model = onnx.load(q_path)
    onnx.save(float_model, os.path.join(out_dir, "model_float.onnx"))
    onnx.save(model, os.path.join(out_dir, "model.onnx"))
    model_path = os.path.join(out_dir, "model.onnx")
    model = onnx.load(model_path)
    float_ops = dict(sorted(Counter(n.op_type for n in float_model.graph.node).items()))
    pre_ops = dict(sorted(Counter(n.op_type for n in pre_model.graph.node).items()))
    ops = dict(sorted(Counter(n.op_type for n in model.graph.node).items()))
    print("float ops:", float_ops, "| after quant_pre_process:", pre_ops, "| QDQ ops:", ops)
    assert float_ops == {"Conv": 1, "Flatten": 1, "Gemm": 2, "Relu": 2}, float_ops
    assert ops == {"Conv": 1, "DequantizeLinear": 11, "Flatten": 1, "Gemm": 2, "QuantizeLinear": 5}, ops

    # ---- quantizer checks ----
    qd = qdq_nodes(model)
    act_t = np.uint8 if var["activation_type"] == QuantType.QUInt8 else np.int8
    for e in qd:
        if "dequantizes_initializer" in e:
            init = e["dequantizes_initializer"]
            if init["dtype"] == "int8":  # weight
                assert e["zero_point"] == 0 or set(e["zero_point"]) == {0}, e  # symmetric
                assert e["granularity"] == ("per_axis" if var["per_channel"] else "per_tensor"), e
                if var["per_channel"]:
                    assert e["axis"] == 0 and e["scale_shape"] == [init["shape"][0]], e
            else:  # bias
                assert init["dtype"] == "int32", e
        else:
            assert e["zero_point_dtype"] == np.dtype(act_t).name, e
            assert e["granularity"] == "per_tensor", e
    not_pow2 = [e["node"] for e in qd if not e["scale_is_power_of_two"]]
    print(f"{len(qd)} Q/DQ nodes; scales that are NOT powers of two: {len(not_pow2)}")
    for e in qd:
        if e["op_type"] == "QuantizeLinear":
            print(f"  Q  {e['input']:40s} scale {e['scale']:.8g} zp {e['zero_point']} ({e['zero_point_dtype']})")
    # bias scale = float32(input scale * weight scale)
    inits = initializer_map(model)
    prod = {o: n for n in model.graph.node for o in n.output}
    bias_checks = []
    for n in model.graph.node:
        if n.op_type in ("Conv", "Gemm"):
            s_in = inits[prod[n.input[0]].input[1]]
            s_w = inits[prod[n.input[1]].input[1]]
            s_b = inits[prod[n.input[2]].input[1]]
            assert np.array_equal(s_b.reshape(-1), (np.float32(s_in) * s_w.astype(np.float32)).reshape(-1)), n.name
            exact = [Fraction(float(s_in)) * Fraction(float(w)) for w in s_w.reshape(-1)]
            rel = max(abs(Fraction(float(b)) - e) / e for b, e in zip(s_b.reshape(-1), exact))
            bias_checks.append({"node": n.name, "bias_scale_equals_float32_product": True,
                                "max_relative_error_vs_exact_product": float(rel)})

    # ---- samples: on the input grid ----
    q_in = next(e for e in qd if e["op_type"] == "QuantizeLinear" and e["input"] == INPUT_NAME)
    s_in, zp_in = np.float32(q_in["scale"]), q_in["zero_point"]
    info = np.iinfo(act_t)
    raw_val = data[-n_val:]
    in_codes = np.clip(np.rint(raw_val / s_in) + zp_in, info.min, info.max)
    val_in = ((in_codes - zp_in).astype(np.float32) * s_in).astype(np.float32)  # = DequantizeLinear
    assert np.array_equal(np.clip(np.rint(val_in / s_in) + zp_in, info.min, info.max), in_codes)
    clipped_inputs = int(((raw_val / s_in + zp_in) > info.max).sum() + ((raw_val / s_in + zp_in) < info.min).sum())
    # Comparisons below run on the whole validation split; the first args.samples are committed.
    samples_in = val_in[:args.samples]

    # ---- reference outputs: onnxruntime with graph optimisations disabled ----
    q_outputs = [e["output"] for e in qd if e["op_type"] == "QuantizeLinear"]
    t1 = time.time()
    sess_off = session(model_path, ort.GraphOptimizationLevel.ORT_DISABLE_ALL)
    # expose the QuantizeLinear outputs (integer codes) too, in a copy of the model
    m_dbg = copy.deepcopy(model)
    for t in q_outputs:
        m_dbg.graph.output.append(onnx.helper.make_empty_tensor_value_info(t))
    with tempfile.TemporaryDirectory() as tmp:
        p = os.path.join(tmp, "dbg.onnx")
        onnx.save(m_dbg, p)
        dbg = run_ort(session(p, ort.GraphOptimizationLevel.ORT_DISABLE_ALL), val_in, [OUTPUT_NAME] + q_outputs)
        # what the default optimisation level turns the graph into
        so = ort.SessionOptions()
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        so.optimized_model_filepath = os.path.join(tmp, "opt.onnx")
        ort.InferenceSession(model_path, so, providers=["CPUExecutionProvider"])
        opt_ops = dict(sorted(Counter((n.domain or "ai.onnx") + ":" + n.op_type
                                      for n in onnx.load(so.optimized_model_filepath).graph.node).items()))
    out_val = run_ort(sess_off, val_in)[OUTPUT_NAME]
    assert np.array_equal(out_val, dbg[OUTPUT_NAME])
    out = out_val[:args.samples]
    out_opt = run_ort(session(model_path, ort.GraphOptimizationLevel.ORT_ENABLE_ALL), val_in)[OUTPUT_NAME]
    print(f"onnxruntime: {3 * len(val_in)} runs in {time.time() - t1:.0f} s; ORT_ENABLE_ALL graph: {opt_ops}")
    q_out = next(e for e in qd if e["op_type"] == "QuantizeLinear" and e["output"].startswith(OUTPUT_NAME))
    s_out, zp_out = np.float32(q_out["scale"]), q_out["zero_point"]
    out_codes = dbg[q_out["output"]].astype(np.int64)
    assert np.array_equal(((out_codes - zp_out).astype(np.float32) * s_out).astype(np.float32), out_val)
    opt_codes = np.rint(out_opt / s_out).astype(np.int64) + zp_out
    opt_diff = int((opt_codes != out_codes).sum())
    opt_maxdiff = int(np.abs(opt_codes - out_codes).max())

    # ---- exact integer reference vs onnxruntime (optimisations disabled), per quantizer ----
    t1 = time.time()
    ref, quot = integer_reference(model, val_in)
    int_vs_ort, deviations = {}, []
    q_in_of = {e["output"]: e["input"] for e in qd if e["op_type"] == "QuantizeLinear"}
    q_scale_of = {e["output"]: e["scale"] for e in qd if e["op_type"] == "QuantizeLinear"}
    with tempfile.TemporaryDirectory() as tmp:  # the float tensors in front of the QuantizeLinears
        m_pre = copy.deepcopy(model)
        for t in q_outputs:
            m_pre.graph.output.append(onnx.helper.make_empty_tensor_value_info(q_in_of[t]))
        p = os.path.join(tmp, "pre.onnx")
        onnx.save(m_pre, p)
        sess_pre = session(p, ort.GraphOptimizationLevel.ORT_DISABLE_ALL)
    for t in q_outputs:
        d = ref[t] != dbg[t].astype(np.int64)
        int_vs_ort[t] = {"codes": int(d.size), "differing": int(d.sum()),
                         "max_abs_code_diff": int(np.abs(ref[t] - dbg[t].astype(np.int64)).max())}
        for idx in np.argwhere(d):
            i = int(idx[0])
            pre = sess_pre.run([q_in_of[t]], {INPUT_NAME: val_in[i:i + 1]})[0][0][tuple(idx[1:])]
            deviations.append({
                "validation_index": i, "in_committed_samples": i < args.samples, "quantizer_output": t,
                "element": [int(v) for v in idx[1:]], "integer_reference_code": int(ref[t][tuple(idx)]),
                "ort_code": int(dbg[t][tuple(idx)]),
                "ort_float32_value_before_quantizer": float(pre),
                "ort_float32_quotient_value_over_scale": float(np.float32(pre) / np.float32(q_scale_of[t])),
                "exact_quotient_float64": float(quot[t][tuple(idx)]) if t in quot else None,
                "input": val_in[i].reshape(-1).tolist()})
    print(f"integer reference ({time.time() - t1:.0f} s) vs onnxruntime ORT_DISABLE_ALL, codes differing per "
          f"quantizer: {[v['differing'] for v in int_vs_ort.values()]}")
    print(f"onnxruntime ORT_ENABLE_ALL vs ORT_DISABLE_ALL: {opt_diff} of {out_codes.size} latent codes differ "
          f"(max {opt_maxdiff} LSB)")

    # ---- quality of the quantized model ----
    with torch.no_grad():
        z_float = enc(torch.from_numpy(samples_in)).numpy()
        rec_q = dec(torch.from_numpy(out)).numpy()
        rec_f = dec(torch.from_numpy(z_float)).numpy()
    mse_q = float(((rec_q - samples_in) ** 2).mean())
    mse_f = float(((rec_f - samples_in) ** 2).mean())
    lat_err = float(np.abs(out - z_float).max())
    print(f"samples: reconstruction MSE float {mse_f:.4e}, with the QDQ latent {mse_q:.4e}; "
          f"max |latent QDQ - float| {lat_err:.4f} ({lat_err / s_out:.2f} LSB)")

    np.save(os.path.join(out_dir, "samples", "input.npy"), samples_in.astype(np.float32))
    np.save(os.path.join(out_dir, "samples", "output.npy"), out.astype(np.float32))
    chk = checker(model)
    print("onnx.checker:", chk)

    # ---- description ----
    import onnxruntime.quantization as oq  # noqa: F401
    versions = {"python": platform.python_version(), "torch": torch.__version__, "onnx": onnx.__version__,
                "onnxruntime": ort.__version__, "numpy": np.__version__}
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            lines = f.read().splitlines()
        cpu = next(l.split(":", 1)[1].strip() for l in lines if l.startswith("model name"))
        flags = next(l.split(":", 1)[1].split() for l in lines if l.startswith("flags"))
        cpu += " (" + " ".join(f for f in ("avx2", "fma", "avx512f", "avx512_vnni", "avx_vnni") if f in flags) + ")"
    except Exception:
        pass
    summ = graph_summary(model)
    quant_cfg = {"function": "onnxruntime.quantization.quantize_static", "quant_format": "QuantFormat.QDQ",
                 "per_channel": var["per_channel"], "activation_type": str(var["activation_type"]),
                 "weight_type": str(var["weight_type"]), "calibrate_method": "CalibrationMethod.MinMax",
                 "calibration_data": f"the first {N_CALIB} training traces, one per call (batch 1)",
                 "extra_options": "none (defaults: ActivationSymmetric=False, WeightSymmetric=True)",
                 "pre_processing": "onnxruntime.quantization.shape_inference.quant_pre_process with default "
                                   "options (symbolic shape inference + ORT basic optimisation + shape "
                                   f"inference); ops before {float_ops}, after {pre_ops}"}
    desc = {
        "name": var["folder"],
        "description": "QDQ int8 encoder for 64-sample pulse traces, produced by onnxruntime's quantization tool "
                       f"(quantize_static, QDQ, {'per-channel' if var['per_channel'] else 'per-tensor'} QInt8 "
                       f"weights, {'QInt8' if act_t is np.int8 else 'QUInt8'} activations) from a float "
                       "torch encoder Conv1d 1->8 k5 s2 p2 -> ReLU -> Flatten -> Linear 256->32 -> ReLU -> "
                       "Linear 32->16, trained on SYNTHETIC data. Scales are NOT powers of two.",
        "onnx_file": "model.onnx",
        "float_onnx_file": "model_float.onnx (the torch export that was quantized, before quant_pre_process)",
        "input": {"name": INPUT_NAME, "shape": [1, 1, N_SAMPLES], "layout": "NCW", "dtype": "float32",
                  "quantizer": {"scale": q_in["scale"], "zero_point": zp_in, "dtype": np.dtype(act_t).name},
                  "grid": f"(q - {zp_in}) * {q_in['scale']!r} in float32, q in [{info.min}, {info.max}]; "
                          "samples/input.npy holds values on this grid (DequantizeLinear(QuantizeLinear(x)))"},
        "output": {"name": OUTPUT_NAME, "shape": [1, LATENT], "dtype": "float32",
                   "declared_shape_in_onnx": summ["graph_outputs"][0]["declared_shape"],
                   "quantizer": {"scale": q_out["scale"], "zero_point": zp_out, "dtype": np.dtype(act_t).name},
                   "grid": f"(q - {zp_out}) * {q_out['scale']!r} in float32, q in [{info.min}, {info.max}]"},
        "scales_note": "NONE of the activation or weight scales is a power of two (calibrated min/max ranges "
                       "divided by 255 or 127). A compiler has to requantize between them with an exact "
                       "integer multiplier and shift, and report where that cannot match onnxruntime.",
        "qdq_nodes": qd,
        "bias_scales": bias_checks,
        "ops": summ["op_type_counts"],
        "graph": summ,
        "onnx_checker": chk,
        "quantization": quant_cfg,
        "export": {"function": "torch.onnx.export", "dynamo": False, "opset_version": OPSET,
                   "input_names": [INPUT_NAME], "output_names": [OUTPUT_NAME], "float_op_type_counts": float_ops},
        "export_quirks": [
            "The ReLU nodes are GONE from the QDQ graph: quantize_static removes a Relu whose output QuantizeLinear "
            "has its zero point at the bottom of the integer range (activation range [0, max] from calibration), "
            "so the QuantizeLinear's saturation does the ReLU. The tensors keep their names (/act1/Relu_output_0).",
            "Flatten gets its own QuantizeLinear/DequantizeLinear pair with the SAME scale and zero point as its "
            "input: an identity requantization.",
            "Weights are int8 initializers behind DequantizeLinear (zero point 0); biases are int32 initializers "
            "behind DequantizeLinear with scale = float32(input scale * weight scale), i.e. the product ROUNDED to "
            "float32, not the exact accumulator grid (bias_scales gives the relative error).",
            "Every Conv/Gemm computes in float on dequantized tensors; only QuantizeLinear rounds "
            "(half to even) and saturates.",
            "Per-channel variant: weight and bias DequantizeLinear have 1-D scales with axis=0 (Conv weight "
            "[8,1,5], Gemm weights [out,in] with transB=1).",
            "The input QuantizeLinear sits directly on the graph input; the graph output is a "
            "DequantizeLinear output (float).",
        ],
        "samples": {
            "input": "samples/input.npy", "output": "samples/output.npy",
            "input_shape": list(samples_in.shape), "output_shape": list(out.shape),
            "source": f"the first {len(samples_in)} traces of the validation split, snapped to the input grid "
                      "(DequantizeLinear(QuantizeLinear(x)) in float32), so that QuantizeLinear maps them back to "
                      "exactly the same codes",
            "input_values_saturated_when_snapping": clipped_inputs,
            "comparisons_below_run_on": f"the whole validation split ({len(val_in)} traces, on the input grid); "
                                        f"the committed samples are its first {len(samples_in)}",
            "output_computed_by": "onnxruntime InferenceSession, CPUExecutionProvider, graph_optimization_level="
                                  "ORT_DISABLE_ALL, one thread, one trace per call (batch 1)",
            "machine": cpu,
            "ort_enable_all_vs_disable_all": {
                "latent_codes_total": int(out_codes.size), "latent_codes_differing": opt_diff,
                "max_abs_code_diff": opt_maxdiff, "optimized_graph_op_types": opt_ops,
                "note": "with the default optimisation level, onnxruntime fuses DQ->Conv/Gemm->Q into integer "
                        "kernels with their own fixed-point requantization; that is why the samples use "
                        "ORT_DISABLE_ALL"},
            "integer_reference_vs_ort_disable_all": {
                "what": "an exact integer evaluation (int64 accumulation of (q - zp) * w + b, exact rational "
                        "requantization acc * s_in * s_w / s_out, round half to even, saturate) compared with "
                        "onnxruntime ORT_DISABLE_ALL, per QuantizeLinear output",
                "per_quantizer": int_vs_ort,
                "deviations": deviations},
            "reconstruction_mse_float_latent": mse_f,
            "reconstruction_mse_qdq_latent": mse_q,
            "max_abs_latent_error_qdq_vs_float": lat_err,
        },
        "training": {
            "data": "SYNTHETIC. " + make_dataset.__doc__.replace("\n    ", " ").strip(),
            "events": args.events, "train_events": len(x_train), "val_events": len(x_val),
            "objective": "autoencoder in FLOAT, MSE (mean over 64 samples); decoder Linear(16,64)-ReLU-"
                         "Linear(64,64) in float, not exported; no quantization-aware training: the int8 model "
                         "is post-training quantized",
            "optimizer": f"Adam, OneCycle lr max 3e-3, batch {batch}, {args.epochs} epochs, seed {SEED}, 1 CPU thread",
            "final_train_loss": train_loss, "final_val_loss": val_loss,
            "baseline_val_loss_mean_trace": baseline,
            "history": history,
        },
        "versions": versions,
    }
    with open(os.path.join(out_dir, "model.json"), "w") as f:
        json.dump(desc, f, indent=1)
        f.write("\n")
    print(f"wrote {out_dir}/model.onnx, model_float.onnx, model.json, samples/*.npy in {time.time() - t0:.0f} s")


if __name__ == "__main__":
    main()
