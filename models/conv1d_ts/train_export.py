#!/usr/bin/env python3
"""Train and export a 1-D convolutional QAT encoder for a two-axis vibration sensor.

Steps, all deterministic (fixed seeds, one CPU thread):
  1. generate a synthetic two-axis vibration data set (64 samples per axis: a rotating-machine
     fundamental with harmonics on an elliptical orbit, plus, in some windows, decaying
     bearing-fault transients, plus noise), choose the input's power-of-two scale from the data
     and round the data onto that 8-bit grid;
  2. train encoder (Brevitas QAT) + float decoder as an autoencoder with MSE loss;
     encoder: Quant(in, 8b signed) -> Conv1d 2->8 k5 s2 p2 -> ReLU -> Quant(8b unsigned)
              -> MaxPool1d 2 -> Conv1d 8->16 k5 s2 p2 -> ReLU -> Quant(8b unsigned)
              -> Flatten -> Linear 128->8 -> Quant(8b signed);
     weights 8-bit narrow signed with one power-of-two scale PER OUTPUT CHANNEL (Brevitas
     Int8WeightPerChannelFixedPoint), biases 16-bit on the per-channel accumulator grid
     (Int16Bias), activation radix points learned as powers of two (Uint8/Int8ActPerTensorFixedPoint);
  3. export the encoder only with brevitas.export.export_qonnx (TorchScript exporter, dynamo=False);
  4. check every Quant node (power-of-two scales, bit widths, signedness, bias scale = input scale x
     weight scale per channel), run onnx.checker, compute the sample outputs with the QONNX
     executor and compare with Brevitas, and write model.onnx, model.json, samples/input.npy and
     samples/output.npy.

Usage:  python train_export.py            (writes next to this script)
        python train_export.py --out DIR  (writes somewhere else)
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

import numpy as np
import onnx
import onnx.helper
import onnx.numpy_helper
import torch
import torch.nn as nn

import brevitas
import brevitas.nn as qnn
from brevitas.core.restrict_val import RestrictValueType
from brevitas.core.scaling import ScalingImplType
from brevitas.export import export_qonnx
from brevitas.inject.enum import ScalingPerOutputType
from brevitas.quant import Int8ActPerTensorFixedPoint, Int16Bias, Uint8ActPerTensorFixedPoint
from brevitas.quant.base import IntQuant
from brevitas.quant.fixed_point import Int8WeightPerChannelFixedPoint
from brevitas.quant.solver import ActQuantSolver

import qonnx
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.core.onnx_exec import execute_onnx
from qonnx.transformation.infer_shapes import InferShapes

SEED = 20251201
OPSET = 17
INPUT_NAME = "input"
OUTPUT_NAME = "latent"
N_AXES = 2
N_SAMPLES = 64
LATENT = 8
INPUT_BITS = 8

# ---------------------------------------------------------------------------------------------
# Model
# ---------------------------------------------------------------------------------------------


def fixed_input_quant(bits, frac_bits):
    """Signed activation quantizer with the constant scale 2^-frac_bits (zero point 0, round
    half to even, saturating, not narrow). With restrict_scaling_type=POWER_OF_TWO Brevitas
    divides the threshold by 2^(bits-1), so threshold 2^(bits-1-frac) gives scale 2^-frac."""
    thr = 2.0 ** (bits - 1 - frac_bits)
    return type(f"FixedInputInt{bits}Frac{frac_bits}", (IntQuant, ActQuantSolver), dict(
        bit_width=bits, narrow_range=False, scaling_impl_type=ScalingImplType.CONST,
        max_val=thr, min_val=-thr, restrict_scaling_type=RestrictValueType.POWER_OF_TWO,
        scaling_per_output_type=ScalingPerOutputType.TENSOR))


class Encoder(nn.Module):
    """Quant -> Conv1d(2,8,k5,s2,p2) -> ReLU -> Quant -> MaxPool1d(2) -> Conv1d(8,16,k5,s2,p2)
    -> ReLU -> Quant -> Flatten -> Linear(128,8) -> Quant."""

    def __init__(self, input_frac_bits):
        super().__init__()
        w = dict(weight_quant=Int8WeightPerChannelFixedPoint, bias_quant=Int16Bias, bias=True)
        self.input_quant = qnn.QuantIdentity(
            act_quant=fixed_input_quant(INPUT_BITS, input_frac_bits), return_quant_tensor=True)
        self.conv1 = qnn.QuantConv1d(N_AXES, 8, kernel_size=5, stride=2, padding=2, **w)
        self.act1 = qnn.QuantReLU(act_quant=Uint8ActPerTensorFixedPoint, return_quant_tensor=True)
        # A plain torch max pool: Brevitas passes the QuantTensor through it (max commutes with
        # the quantizer), and it exports as a standard ONNX MaxPool between Quant and Conv.
        self.pool = nn.MaxPool1d(2)
        self.conv2 = qnn.QuantConv1d(8, 16, kernel_size=5, stride=2, padding=2, **w)
        self.act2 = qnn.QuantReLU(act_quant=Uint8ActPerTensorFixedPoint, return_quant_tensor=True)
        self.flatten = nn.Flatten()
        self.fc = qnn.QuantLinear(16 * 8, LATENT, **w)
        self.out_quant = qnn.QuantIdentity(act_quant=Int8ActPerTensorFixedPoint, return_quant_tensor=False)

    def forward(self, x):
        x = self.pool(self.act1(self.conv1(self.input_quant(x))))
        x = self.act2(self.conv2(x))
        return self.out_quant(self.fc(self.flatten(x)))


class Decoder(nn.Module):
    """Float decoder (off-sensor, not exported)."""

    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(LATENT, 64), nn.ReLU(), nn.Linear(64, 128), nn.ReLU(),
                                 nn.Linear(128, N_AXES * N_SAMPLES))

    def forward(self, z):
        return self.net(z).view(-1, N_AXES, N_SAMPLES)


# ---------------------------------------------------------------------------------------------
# Synthetic vibration windows
# ---------------------------------------------------------------------------------------------


def make_dataset(n_events, rng):
    """Two-axis vibration windows of 64 samples: a machine fundamental (1.5-6 cycles per window,
    amplitude 0.15-0.5) with 2nd and 3rd harmonics (relative amplitude 0-0.4 each) on an
    elliptical orbit (y axis phase-shifted by 90 deg +- 30 deg, amplitude ratio 0.5-1); in 35% of
    windows 1-3 bearing-fault transients (decaying resonance at 0.18-0.35 cycles/sample, decay
    time 2-6 samples, amplitude 0.2-0.7, random direction in the x-y plane); white noise
    N(0, 0.03) per sample."""
    t = np.arange(N_SAMPLES, dtype=np.float64)[None, :]
    x = np.zeros((n_events, N_AXES, N_SAMPLES))
    f0 = rng.uniform(1.5, 6.0, (n_events, 1)) / N_SAMPLES
    amp = rng.uniform(0.15, 0.5, (n_events, 1))
    ratio = rng.uniform(0.5, 1.0, (n_events, 1))
    dphi = math.pi / 2 + rng.uniform(-math.pi / 6, math.pi / 6, (n_events, 1))
    for h in (1, 2, 3):
        a = amp * (1.0 if h == 1 else rng.uniform(0.0, 0.4, (n_events, 1)))
        ph = rng.uniform(0.0, 2 * math.pi, (n_events, 1))
        x[:, 0] += a * np.sin(2 * math.pi * h * f0 * t + ph)
        x[:, 1] += a * ratio * np.sin(2 * math.pi * h * f0 * t + ph + h * dphi)
    faulty = rng.random(n_events) < 0.35
    n_tr = rng.integers(1, 4, n_events)
    for k in range(3):
        active = (faulty & (n_tr > k))[:, None]
        t0 = rng.uniform(0.0, N_SAMPLES - 8, (n_events, 1))
        fr = rng.uniform(0.18, 0.35, (n_events, 1))
        tau = rng.uniform(2.0, 6.0, (n_events, 1))
        a = rng.uniform(0.2, 0.7, (n_events, 1))
        th = rng.uniform(0.0, 2 * math.pi, (n_events, 1))
        dt = t - t0
        ring = np.where(dt >= 0, np.sin(2 * math.pi * fr * dt) * np.exp(-np.maximum(dt, 0) / tau), 0.0)
        x[:, 0] += active * a * np.cos(th) * ring
        x[:, 1] += active * a * np.sin(th) * ring
    x += rng.normal(0.0, 0.03, x.shape)
    return x, faulty


def quantize_input(x):
    """Pick the finest power-of-two scale whose signed 8-bit range holds max|x|, round (half to
    even, as the Quant node does) and saturate onto that grid."""
    lim = 2 ** (INPUT_BITS - 1) - 1
    frac = int(math.floor(math.log2(lim / np.abs(x).max())))
    q = np.clip(np.round(x * 2.0 ** frac), -lim - 1, lim) / 2.0 ** frac
    return q.astype(np.float32), frac


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


def exec_model(model_proto):
    """ModelWrapper ready for qonnx.core.onnx_exec.execute_onnx.

    The TorchScript exporter cannot infer shapes through the custom Quant op, so the exported
    value_info may carry symbolic dims. For execution (in memory only) we drop them and let qonnx
    InferShapes recompute them."""
    m = copy.deepcopy(model_proto)
    del m.graph.value_info[:]
    for o in m.graph.output:
        o.type.tensor_type.ClearField("shape")
    return ModelWrapper(m).transform(InferShapes())


def run_executor(mw, x):
    out = np.zeros((x.shape[0],) + tuple(mw.get_tensor_shape(OUTPUT_NAME)[1:]), dtype=np.float32)
    for i in range(x.shape[0]):
        out[i] = execute_onnx(mw, {INPUT_NAME: x[i:i + 1]})[OUTPUT_NAME][0]
    return out


def pow2_exponents(scale, where):
    """Exact base-2 exponents of a (scalar or per-channel) scale; asserts every one is 2^k."""
    s = np.asarray(scale, dtype=np.float64).reshape(-1)
    e = np.round(np.log2(s)).astype(int)
    assert np.array_equal(2.0 ** e, s), f"{where}: scale {s} is not a power of two"
    return e


def quant_nodes(model_proto):
    """Describe every QONNX Quant node (scale, zero point, bit width from initializers).

    A per-channel scale is listed element by element (`scale`, `scale_log2`, `frac_bits` become
    lists) and `scale_shape` gives its broadcast shape."""
    inits = initializer_map(model_proto)
    out = []
    for n in model_proto.graph.node:
        if n.op_type != "Quant":
            continue
        a = attr_dict(n)
        scale_arr = inits[n.input[1]]
        zp, bw = inits[n.input[2]], inits[n.input[3]]
        assert zp.size == 1 and bw.size == 1, n.name
        zp, bits = float(zp.reshape(-1)[0]), int(bw.reshape(-1)[0])
        assert float(bw.reshape(-1)[0]) == bits
        exps = pow2_exponents(scale_arr, n.name)
        per_channel = scale_arr.size > 1
        signed, narrow = bool(a["signed"]), bool(a["narrow"])
        lo = -(2 ** (bits - 1)) + int(narrow) if signed else 0
        hi = 2 ** (bits - 1) - 1 if signed else 2 ** bits - 1 - int(narrow)

        def fixed(e):
            frac = -int(e)
            return {"total_bits": bits, "int_bits_incl_sign": bits - frac, "frac_bits": frac,
                    "min": lo * 2.0 ** e, "max": hi * 2.0 ** e,
                    "hls_type": f"ap_{'' if signed else 'u'}fixed<{bits},{bits - frac},AP_RND_CONV,AP_SAT>"}

        entry = {
            "node": n.name,
            "domain": n.domain,
            "quantized_tensor": n.input[0],
            "output_tensor": n.output[0],
            "granularity": "per_channel" if per_channel else "per_tensor",
            "scale": [float(s) for s in scale_arr.reshape(-1)] if per_channel else float(scale_arr.reshape(-1)[0]),
            "scale_log2": [int(e) for e in exps] if per_channel else int(exps[0]),
            "scale_shape": list(scale_arr.shape),
            "zero_point": zp,
            "bit_width": bits,
            "signed": signed,
            "narrow": narrow,
            "rounding_mode": a["rounding_mode"],
            "int_range": [lo, hi],
        }
        if per_channel:
            entry["fixed_point_per_channel"] = [fixed(e) for e in exps]
        else:
            entry["fixed_point"] = fixed(exps[0])
        if n.input[0] in inits:
            # Quant applied to a float initializer (weights/biases): how the rounding falls.
            v = inits[n.input[0]].astype(np.float64) / scale_arr.astype(np.float64)
            codes = np.clip(np.round(v), lo, hi)
            entry["initializer_stats"] = {
                "elements": int(v.size),
                "min_code": int(codes.min()), "max_code": int(codes.max()),
                "zero_codes": int((codes == 0).sum()),
                "saturated": int(((v < lo - 0.5) | (v > hi + 0.5)).sum()),
                "float_values_already_on_grid": int((v == np.round(v)).sum()),
                "exact_ties": int((v - np.floor(v) == 0.5).sum()),
                "codes_differing_half_even_vs_half_up": int((np.round(v) != np.floor(v + 0.5)).sum()),
            }
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
        "initializers": [{"name": i.name, "shape": list(i.dims),
                          "dtype": onnx.helper.tensor_dtype_to_np_dtype(i.data_type).name} for i in g.initializer],
        "value_info_count": len(g.value_info),
        "value_info": [{"name": v.name, "declared_shape": vi_shape(v)} for v in g.value_info],
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
# Main
# ---------------------------------------------------------------------------------------------


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=here, help="output directory (default: this script's folder)")
    ap.add_argument("--events", type=int, default=40000)
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--samples", type=int, default=1000)
    args = ap.parse_args()
    os.makedirs(os.path.join(args.out, "samples"), exist_ok=True)
    warnings.filterwarnings("ignore")

    torch.manual_seed(SEED)
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    rng = np.random.default_rng(SEED)
    t0 = time.time()

    # ---- data ----
    raw_data, faulty = make_dataset(args.events, rng)
    data, in_frac = quantize_input(raw_data)
    n_val = args.events // 10
    x_train, x_val = torch.from_numpy(data[:-n_val]), torch.from_numpy(data[-n_val:])
    print(f"data: {data.shape}, range [{data.min():.3f}, {data.max():.3f}], input scale 2^-{in_frac}, "
          f"{faulty.mean():.0%} windows with transients")

    # ---- model ----
    enc, dec = Encoder(in_frac), Decoder()

    def mse(x, y):
        return ((x - y) ** 2).mean()

    opt = torch.optim.Adam(list(enc.parameters()) + list(dec.parameters()), lr=1e-2)
    batch = 250
    steps_per_epoch = len(x_train) // batch
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=1e-2, total_steps=args.epochs * steps_per_epoch)
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
    print(f"final: train {train_loss:.4e} val {val_loss:.4e} (mean-window baseline {baseline:.4e}); "
          f"{time.time() - t0:.0f} s")

    # ---- export ----
    enc.eval()
    samples_in = data[-n_val:][:args.samples].copy()
    with tempfile.TemporaryDirectory() as tmp:
        raw_path = os.path.join(tmp, "raw.onnx")
        export_qonnx(enc, torch.zeros(1, N_AXES, N_SAMPLES), raw_path, dynamo=False, opset_version=OPSET,
                     input_names=[INPUT_NAME], output_names=[OUTPUT_NAME])
        model = onnx.load(raw_path)
    onnx.save(model, os.path.join(args.out, "model.onnx"))
    model = onnx.load(os.path.join(args.out, "model.onnx"))
    print("export ops:", dict(sorted(Counter(n.op_type for n in model.graph.node).items())))

    # ---- checks ----
    qinfo = quant_nodes(model)
    by_prefix = {}
    for qi in qinfo:
        prefix = qi["node"].split("/")[1] + "/" + qi["node"].split("/")[2]
        assert prefix not in by_prefix, prefix
        by_prefix[prefix] = qi
    expect_roles = {
        "input_quant/act_quant": "input",
        "conv1/weight_quant": "conv1_weight", "conv1/bias_quant": "conv1_bias", "act1/act_quant": "act1",
        "conv2/weight_quant": "conv2_weight", "conv2/bias_quant": "conv2_bias", "act2/act_quant": "act2",
        "fc/weight_quant": "fc_weight", "fc/bias_quant": "fc_bias", "out_quant/act_quant": "latent"}
    layer_src = {"conv1": "input_quant/act_quant", "conv2": "act1/act_quant", "fc": "act2/act_quant"}
    out_ch = {"conv1": 8, "conv2": 16, "fc": LATENT}
    assert set(by_prefix) == set(expect_roles), sorted(by_prefix)
    for prefix, role in expect_roles.items():
        qi = by_prefix[prefix]
        qi["role"] = role
        assert qi["zero_point"] == 0.0 and qi["rounding_mode"] == "ROUND", qi
        if role == "input":
            assert (qi["bit_width"], qi["signed"], qi["narrow"], qi["scale"]) == (8, True, False, 2.0 ** -in_frac), qi
        elif role.endswith("_weight"):
            layer = role.split("_")[0]
            assert (qi["bit_width"], qi["signed"], qi["narrow"]) == (8, True, True), qi
            assert qi["granularity"] == "per_channel" and len(qi["scale"]) == out_ch[layer], qi
            assert qi["scale_shape"][0] == out_ch[layer] and all(d == 1 for d in qi["scale_shape"][1:]), qi
        elif role.endswith("_bias"):
            layer = role.split("_")[0]
            src_q, w_q = by_prefix[layer_src[layer]], by_prefix[f"{layer}/weight_quant"]
            assert (qi["bit_width"], qi["signed"], qi["narrow"]) == (16, True, False), qi
            assert qi["scale_shape"] == [out_ch[layer]], qi
            assert qi["scale"] == [src_q["scale"] * s for s in w_q["scale"]], (qi, src_q["scale"], w_q["scale"])
        elif role in ("act1", "act2"):
            assert (qi["bit_width"], qi["signed"], qi["narrow"], qi["granularity"]) == (8, False, False, "per_tensor"), qi
        else:
            assert (qi["bit_width"], qi["signed"], qi["narrow"], qi["granularity"]) == (8, True, False, "per_tensor"), qi
    qinfo = [by_prefix[p] for p in expect_roles]
    print("Quant nodes: all scales are powers of two; bit widths/signedness/granularity as specified:")
    for qi in qinfo:
        print(f"  {qi['role']:13s} {qi['bit_width']:2d}b {'s' if qi['signed'] else 'u'}"
              f"{' narrow' if qi['narrow'] else ''} scale 2^{qi['scale_log2']}")
    ops = dict(sorted(Counter(n.op_type for n in model.graph.node).items()))
    assert ops == {"Conv": 2, "Flatten": 1, "Gemm": 1, "MaxPool": 1, "Quant": 10, "Relu": 2}, ops

    mw = exec_model(model)
    t1 = time.time()
    out = run_executor(mw, samples_in)
    print(f"executor: {len(samples_in)} runs in {time.time() - t1:.0f} s")
    with torch.no_grad():
        out_torch = enc(torch.from_numpy(samples_in)).numpy()
    torch_equal = bool(np.array_equal(out_torch, out))
    torch_maxdiff = float(np.abs(out_torch - out).max())
    print(f"brevitas == executor: {torch_equal} (max |diff| {torch_maxdiff})")
    lat = qinfo[-1]
    codes = out / lat["scale"]
    assert np.array_equal(codes, np.round(codes)) and codes.min() >= -128 and codes.max() <= 127
    in_codes = samples_in * 2.0 ** in_frac
    assert np.array_equal(in_codes, np.round(in_codes))
    np.save(os.path.join(args.out, "samples", "input.npy"), samples_in.astype(np.float32))
    np.save(os.path.join(args.out, "samples", "output.npy"), out.astype(np.float32))
    chk = checker(model)
    print("onnx.checker:", chk)

    # ---- description ----
    import onnxruntime
    versions = {"python": platform.python_version(), "torch": torch.__version__, "brevitas": brevitas.__version__,
                "qonnx": getattr(qonnx, "__version__", "unknown"), "onnx": onnx.__version__,
                "onnxruntime": onnxruntime.__version__, "numpy": np.__version__}
    try:
        import onnxoptimizer
        versions["onnxoptimizer"] = onnxoptimizer.__version__
    except Exception:
        pass
    summ = graph_summary(model)
    desc = {
        "name": "conv1d_ts",
        "description": "1-D convolutional encoder for a two-axis vibration sensor window [2 axes x 64 samples]: "
                       "Quant(in) -> Conv1d 2->8 k5 s2 p2 -> ReLU -> Quant -> MaxPool 2 -> Conv1d 8->16 k5 s2 p2 -> "
                       "ReLU -> Quant -> Flatten -> Gemm 128->8 -> Quant(latent). Per-channel power-of-two weight "
                       "scales. Brevitas QAT on SYNTHETIC data.",
        "onnx_file": "model.onnx",
        "input": {"name": INPUT_NAME, "shape": [1, N_AXES, N_SAMPLES], "layout": "NCW (channel = sensor axis)",
                  "dtype": "float32",
                  "grid": f"multiples of 2^-{in_frac} in [-{2 ** (INPUT_BITS - 1 - in_frac)}, "
                          f"{2 ** (INPUT_BITS - 1 - in_frac)}-2^-{in_frac}] (8-bit signed; the scale is the finest "
                          "power of two whose range holds max|x| of the generated data)"},
        "output": {"name": OUTPUT_NAME, "shape": [1, LATENT], "dtype": "float32",
                   "declared_shape_in_onnx": summ["graph_outputs"][0]["declared_shape"],
                   "grid": f"multiples of {lat['scale']} (2^{lat['scale_log2']}), 8-bit signed"},
        "tensor_shapes": {"input": [1, 2, 64], "conv1/act1": [1, 8, 32], "pool": [1, 8, 16],
                          "conv2/act2": [1, 16, 8], "flatten": [1, 128], "latent": [1, 8]},
        "quantizers": qinfo,
        "quantizer_notes": [
            "Input: constant power-of-two scale chosen from the data (custom Brevitas quantizer, CONST scaling).",
            "Weights: Brevitas Int8WeightPerChannelFixedPoint: 8-bit NARROW signed (codes -127..127), one "
            "power-of-two scale per output channel, derived from that channel's max|w|. The scale initializer has "
            "shape [C_out, 1, 1] for the Conv1d weights [C_out, C_in, 5] and [C_out, 1] for the Gemm weight "
            "[8, 128] (transB=1), so it broadcasts along axis 0.",
            "Biases: Brevitas Int16Bias: 16-bit signed, scale = input scale * weight scale of that output channel "
            "(the accumulator grid, exact because both are powers of two); scale initializer shape [C_out].",
            "Activations: Uint8ActPerTensorFixedPoint after each ReLU, Int8ActPerTensorFixedPoint on the latent; "
            "radix points learned (log2 domain, rounded), so every exported scale is an exact power of two.",
            "Every accumulator of a per-channel layer therefore has its own binary point; the following "
            "per-tensor activation Quant aligns them.",
            "Integer bits are counted including the sign bit (ap_fixed<W,I> convention).",
        ],
        "ops": summ["op_type_counts"],
        "graph": summ,
        "onnx_checker": chk,
        "postprocessing": ["None: model.onnx is byte-for-byte what export_qonnx wrote (no qonnx cleanup, "
                           "ir_version as written)."],
        "export": {"function": "brevitas.export.export_qonnx", "dynamo": False, "opset_version": OPSET,
                   "input_names": [INPUT_NAME], "output_names": [OUTPUT_NAME],
                   "keep_initializers_as_inputs": "Brevitas default (True): weights/biases are listed as graph "
                   "inputs AND initializers"},
        "export_quirks": [
            "Weights and biases are float initializers (conv1.weight, ..., fc.bias) that go through Quant nodes "
            "inside the graph; they are also listed as graph inputs (keep_initializers_as_inputs).",
            "Quant zero_point/bit_width initializers are deduplicated by value across nodes; per-channel scale "
            "initializers are not shared.",
            "Conv nodes are 1-D: kernel_shape [5], strides [2], pads [2, 2] (begin, end), dilations [1], group 1.",
            "MaxPool is 1-D: kernel_shape [2], strides [2], pads [0, 0], ceil_mode 0; it sits between a Quant and "
            "the next Conv, with no Quant of its own (max commutes with the quantizer).",
            "Gemm has transB=1 (weight stored [8, 128]); Flatten (axis 1) is in NCW order (channel-major).",
        ],
        "samples": {
            "input": "samples/input.npy", "output": "samples/output.npy",
            "input_shape": list(samples_in.shape), "output_shape": list(out.shape),
            "source": f"the first {len(samples_in)} windows of the validation split of the synthetic data set",
            "output_computed_by": "qonnx.core.onnx_exec.execute_onnx on model.onnx (one window per call, batch 1), "
                                  "after dropping the exported value_info and running qonnx InferShapes in memory",
            "brevitas_vs_executor_identical": torch_equal,
            "brevitas_vs_executor_max_abs_diff": torch_maxdiff,
            "distinct_codes_per_latent": [int(len(np.unique(out[:, k]))) for k in range(out.shape[1])],
        },
        "training": {
            "data": "SYNTHETIC. " + make_dataset.__doc__.replace("\n    ", " ").strip()
                    + f" Rounded onto the input grid 2^-{in_frac} (8-bit signed).",
            "events": args.events, "train_events": len(x_train), "val_events": len(x_val),
            "fraction_with_transients": float(faulty.mean()),
            "objective": "autoencoder, MSE (mean over 2x64 samples) between the float decoder output and the "
                         "quantized input; decoder Linear(8,64)-ReLU-Linear(64,128)-ReLU-Linear(128,128) in float, "
                         "not exported",
            "optimizer": f"Adam, OneCycle lr max 1e-2, batch {batch}, {args.epochs} epochs, seed {SEED}, 1 CPU thread",
            "final_train_loss": train_loss, "final_val_loss": val_loss,
            "baseline_val_loss_mean_window": baseline,
            "history": history,
        },
        "versions": versions,
    }
    with open(os.path.join(args.out, "model.json"), "w") as f:
        json.dump(desc, f, indent=1)
        f.write("\n")
    print(f"wrote {args.out}/model.onnx, model.json, samples/*.npy in {time.time() - t0:.0f} s")


if __name__ == "__main__":
    main()
