#!/usr/bin/env python3
"""Train and export a CsiNet-style CSI-feedback encoder (wireless channel-state compression).

Steps, all deterministic (fixed seeds, one CPU thread):
  1. generate synthetic downlink channels (16-antenna uniform linear array at the base station,
     64 OFDM subcarriers, users in a 20 m x 20 m area of a fixed environment with a line-of-sight
     path and 4 fixed scatterer clusters, COST 2100-like), transform each channel matrix
     to the angular-delay domain, keep the first 16 delay taps, normalise each matrix so that its
     largest real/imaginary part is 0.99 (an AGC), and round it onto the 8-bit input grid 2^-7;
  2. train encoder (Brevitas QAT) + float decoder as an autoencoder with MSE loss;
     encoder: Quant(in, 8b signed) -> Conv 3x3 2->8 'same' (no bias) -> BatchNorm -> ReLU
              -> Quant(8b unsigned) -> Conv 3x3 8->2 'same' (no bias) -> BatchNorm
              -> LeakyReLU(1/8) -> Quant(8b signed) -> Flatten -> Linear 512->32
              -> Quant(8b signed) = the 32-value codeword (compression ratio 1/16);
     weights 8-bit narrow signed per-tensor power-of-two scale (Int8WeightPerTensorFixedPoint),
     Linear bias 16-bit on the accumulator grid (Int16Bias), activation radix points learned as
     powers of two (Uint8/Int8ActPerTensorFixedPoint);
  3. export the encoder only with brevitas.export.export_qonnx (TorchScript exporter, dynamo=False).
     The BatchNorm layers are NOT folded: they are exported as ONNX BatchNormalization nodes with
     their float parameters, between each Conv and its activation;
  4. check every Quant node, run onnx.checker, compute the sample outputs with the QONNX executor and
     compare with Brevitas; measure how the float32 BatchNormalization that the executor runs
     compares with the exact (float64) evaluation of the same graph; write model.onnx,
     model.json, samples/input.npy and samples/output.npy.

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
from brevitas.quant import Int8ActPerTensorFixedPoint, Int8WeightPerTensorFixedPoint, Int16Bias
from brevitas.quant import Uint8ActPerTensorFixedPoint
from brevitas.quant.base import IntQuant
from brevitas.quant.solver import ActQuantSolver

import qonnx
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.core.onnx_exec import execute_onnx
from qonnx.transformation.infer_shapes import InferShapes

SEED = 20251202
OPSET = 17
INPUT_NAME = "input"
OUTPUT_NAME = "codeword"
N_ANT = 16  # base-station antennas (uniform linear array, half-wavelength spacing)
N_SUB = 64  # OFDM subcarriers
N_TAPS = 16  # delay taps kept in the angular-delay domain
CODEWORD = 32  # 2*16*16 = 512 -> 32: compression ratio 1/16
INPUT_BITS, INPUT_FRAC = 8, 7  # ap_fixed<8,1>: [-1, 1-2^-7]
LEAKY_SLOPE = 0.125  # a power of two, so LeakyReLU is exact in fixed point
PEAK = 0.99

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
    """CsiNet-style encoder with two 3x3 'same' conv stages (Conv-BN-act) and a dense codeword."""

    def __init__(self):
        super().__init__()
        wq = dict(weight_quant=Int8WeightPerTensorFixedPoint)
        self.input_quant = qnn.QuantIdentity(act_quant=fixed_input_quant(INPUT_BITS, INPUT_FRAC))
        self.conv1 = qnn.QuantConv2d(2, 8, kernel_size=3, padding=1, bias=False, **wq)
        self.bn1 = nn.BatchNorm2d(8)
        self.act1 = qnn.QuantReLU(act_quant=Uint8ActPerTensorFixedPoint)
        self.conv2 = qnn.QuantConv2d(8, 2, kernel_size=3, padding=1, bias=False, **wq)
        self.bn2 = nn.BatchNorm2d(2)
        self.leaky = nn.LeakyReLU(LEAKY_SLOPE)
        self.act2 = qnn.QuantIdentity(act_quant=Int8ActPerTensorFixedPoint, return_quant_tensor=True)
        self.flatten = nn.Flatten()
        self.fc = qnn.QuantLinear(2 * N_ANT * N_TAPS, CODEWORD, bias=True, bias_quant=Int16Bias, **wq)
        self.out_quant = qnn.QuantIdentity(act_quant=Int8ActPerTensorFixedPoint, return_quant_tensor=False)

    def forward(self, x):
        x = self.act1(self.bn1(self.conv1(self.input_quant(x))))
        x = self.act2(self.leaky(self.bn2(self.conv2(x))))
        return self.out_quant(self.fc(self.flatten(x)))


class Decoder(nn.Module):
    """Float decoder (at the base station, not exported): dense back to 2x16x16."""

    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(CODEWORD, 256), nn.LeakyReLU(0.3), nn.Linear(256, 2 * N_ANT * N_TAPS))

    def forward(self, z):
        return self.net(z).view(-1, 2, N_ANT, N_TAPS)


# ---------------------------------------------------------------------------------------------
# Synthetic channels
# ---------------------------------------------------------------------------------------------


# The environment: a fixed set of scatterer clusters around the base station, as in COST 2100,
# where clusters belong to the environment and a user sees the ones whose visibility region it is
# in. The layout is part of the data set definition, so it has its own fixed seed.
ENV_SEED = 2100
N_CLUSTERS = 4
RAYS = 6
METRES_PER_TAP = 15.0  # 50 ns sampling (20 MHz), speed of light


def environment():
    """Scatterer cluster layout: N_CLUSTERS centres uniform in x 5..80 m, y -50..50 m (base station at
    the origin, array along y, broadside along x), RAYS scatterer points per cluster at N(0, 3 m)
    around the centre."""
    env = np.random.default_rng(ENV_SEED)
    centres = np.stack([env.uniform(5, 80, N_CLUSTERS), env.uniform(-50, 50, N_CLUSTERS)], 1)
    return centres[:, None, :] + env.normal(0.0, 3.0, (N_CLUSTERS, RAYS, 2))


def make_dataset(n_events, rng, chunk=5000):
    """Downlink channels of a 16-antenna half-wavelength ULA at 64 OFDM subcarriers in a fixed
    environment (COST 2100-like): users uniform in a 20 m x 20 m area (x 20..40 m, y -10..10 m);
    a line-of-sight path (present for 70% of users, amplitude 1/distance); 4 fixed scatterer
    clusters of 6 scatterers each (layout in environment()), each cluster visible to a user with
    probability 0.6 (at least one path always exists), ray amplitude 1/(path length) with 3 dB
    log-normal cluster shadowing and a complex Gaussian (Rayleigh) ray gain. Path angles at the base
    station follow from the geometry; delays are excess path lengths over the first arrival at
    15 m per tap (20 MHz). H[n, k] = sum_paths g exp(-j pi n sin(theta)) exp(-j 2 pi k tau / 64).
    The angular-delay matrix is the 2-D DFT (antenna axis -> angle bins, fftshifted; subcarrier
    axis -> delay taps), truncated to the first 16 delay taps (fractional delays leak a little
    energy into the dropped taps; model.json records the fraction). Channel 0 is the real part,
    channel 1 the imaginary part. Each matrix is scaled so its largest |real| or |imag| part is
    0.99 (an AGC) and rounded to the 8-bit grid 2^-7."""
    scat = environment()
    xs, e_kept, e_all, n_los = [], 0.0, 0.0, 0
    for c0 in range(0, n_events, chunk):
        n = min(chunk, n_events - c0)
        user = np.stack([rng.uniform(20.0, 40.0, n), rng.uniform(-10.0, 10.0, n)], 1)
        los = rng.random(n) < 0.7
        vis = rng.random((n, N_CLUSTERS)) < 0.6
        vis[~los & ~vis.any(1), 0] = True
        n_los += int(los.sum())
        d = np.linalg.norm(user, axis=1)
        ang = [np.arctan2(user[:, 1], user[:, 0])[:, None]]
        length = [d[:, None]]
        gain = [(los / d)[:, None] * np.exp(2j * math.pi * rng.random((n, 1)))]
        for c in range(N_CLUSTERS):
            p = scat[c]
            ang.append(np.repeat(np.arctan2(p[:, 1], p[:, 0])[None, :], n, 0))
            L = np.linalg.norm(p, axis=1)[None, :] + np.linalg.norm(user[:, None, :] - p[None], axis=2)
            shadow = 10.0 ** (rng.normal(0.0, 3.0, (n, 1)) / 20.0)
            ray = (rng.normal(size=(n, RAYS)) + 1j * rng.normal(size=(n, RAYS))) / math.sqrt(2 * RAYS)
            length.append(L)
            gain.append(vis[:, c:c + 1] * shadow * ray / L)
        ang, length, gain = (np.concatenate(v, 1) for v in (ang, length, gain))
        first = np.where(gain != 0, length, np.inf).min(1, keepdims=True)
        tau = np.where(gain != 0, (length - first) / METRES_PER_TAP, 0.0)
        A = np.exp(-1j * math.pi * np.arange(N_ANT)[None, :, None] * np.sin(ang)[:, None, :])  # [n, ant, path]
        F = np.exp(-2j * math.pi * np.arange(N_SUB)[None, None, :] * tau[:, :, None] / N_SUB)  # [n, path, sub]
        H = np.einsum("nap,np,nps->nas", A, gain, F)
        Had = np.fft.fftshift(np.fft.fft(H, axis=1, norm="ortho"), axes=1)
        Had = np.fft.ifft(Had, axis=2, norm="ortho")
        e_kept += float((np.abs(Had[:, :, :N_TAPS]) ** 2).sum())
        e_all += float((np.abs(Had) ** 2).sum())
        xs.append(np.stack([Had.real[:, :, :N_TAPS], Had.imag[:, :, :N_TAPS]], axis=1))
    x = np.concatenate(xs)  # [ev, 2, 16, 16]
    x *= PEAK / np.abs(x).reshape(n_events, -1).max(1)[:, None, None, None]
    lim = 2 ** (INPUT_BITS - 1)
    xq = np.clip(np.round(x * 2.0 ** INPUT_FRAC), -lim, lim - 1) / 2.0 ** INPUT_FRAC  # half to even
    return xq.astype(np.float32), n_los / n_events, e_kept / e_all


def nmse_db(x, y):
    """CsiNet's figure of merit: 10 log10 E[ ||x - y||^2 / ||x||^2 ] over matrices."""
    x, y = x.reshape(len(x), -1).astype(np.float64), y.reshape(len(y), -1).astype(np.float64)
    return float(10.0 * np.log10(np.mean(((x - y) ** 2).sum(1) / (x ** 2).sum(1))))


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


def run_executor(mw, x, keep=()):
    """Run the QONNX executor sample by sample; also return the tensors named in `keep`."""
    out = np.zeros((x.shape[0],) + tuple(mw.get_tensor_shape(OUTPUT_NAME)[1:]), dtype=np.float32)
    kept = {t: [] for t in keep}
    for i in range(x.shape[0]):
        ctx = execute_onnx(mw, {INPUT_NAME: x[i:i + 1]}, return_full_exec_context=bool(keep))
        out[i] = ctx[OUTPUT_NAME][0]
        for t in keep:
            kept[t].append(ctx[t][0])
    return out, {t: np.stack(v) for t, v in kept.items()}


def pow2_exponents(scale, where):
    """Exact base-2 exponents of a (scalar or per-channel) scale; asserts every one is 2^k."""
    s = np.asarray(scale, dtype=np.float64).reshape(-1)
    e = np.round(np.log2(s)).astype(int)
    assert np.array_equal(2.0 ** e, s), f"{where}: scale {s} is not a power of two"
    return e


def quant_nodes(model_proto):
    """Describe every QONNX Quant node (scale, zero point, bit width from initializers)."""
    inits = initializer_map(model_proto)
    out = []
    for n in model_proto.graph.node:
        if n.op_type != "Quant":
            continue
        a = attr_dict(n)
        scale_arr = inits[n.input[1]]
        zp, bw = inits[n.input[2]], inits[n.input[3]]
        assert scale_arr.size == 1 and zp.size == 1 and bw.size == 1, n.name
        scale, zp, bits = float(scale_arr.reshape(-1)[0]), float(zp.reshape(-1)[0]), int(bw.reshape(-1)[0])
        assert float(bw.reshape(-1)[0]) == bits
        e = int(pow2_exponents(scale, n.name)[0])
        frac = -e
        signed, narrow = bool(a["signed"]), bool(a["narrow"])
        lo = -(2 ** (bits - 1)) + int(narrow) if signed else 0
        hi = 2 ** (bits - 1) - 1 if signed else 2 ** bits - 1 - int(narrow)
        entry = {
            "node": n.name,
            "domain": n.domain,
            "quantized_tensor": n.input[0],
            "output_tensor": n.output[0],
            "scale": scale,
            "scale_log2": e,
            "scale_shape": list(scale_arr.shape),
            "zero_point": zp,
            "bit_width": bits,
            "signed": signed,
            "narrow": narrow,
            "rounding_mode": a["rounding_mode"],
            "int_range": [lo, hi],
            "fixed_point": {
                "total_bits": bits,
                "int_bits_incl_sign": bits - frac,
                "frac_bits": frac,
                "min": lo * scale,
                "max": hi * scale,
                "hls_type": f"ap_{'' if signed else 'u'}fixed<{bits},{bits - frac},AP_RND_CONV,AP_SAT>",
            },
        }
        if n.input[0] in inits:
            # Quant applied to a float initializer (weights/biases): how the rounding falls.
            v = inits[n.input[0]].astype(np.float64) / scale
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


def batchnorm_nodes(model_proto):
    """Parameters of every BatchNormalization node, plus the per-channel affine map it computes
    (a = gamma / sqrt(var + eps), b = beta - mean * a, evaluated in float64)."""
    inits = initializer_map(model_proto)
    out = []
    for n in model_proto.graph.node:
        if n.op_type != "BatchNormalization":
            continue
        at = attr_dict(n)
        gamma, beta, mean, var = (inits[t].astype(np.float64) for t in n.input[1:5])
        eps = float(np.float32(at["epsilon"]))
        a = gamma / np.sqrt(var + eps)
        out.append({
            "node": n.name, "input": n.input[0], "output": n.output[0],
            "parameter_initializers": {"scale (gamma)": n.input[1], "B (beta)": n.input[2],
                                       "input_mean": n.input[3], "input_var": n.input[4]},
            "attributes": at, "epsilon_float32": eps, "channels": int(gamma.size),
            "gamma": gamma.tolist(), "beta": beta.tolist(), "mean": mean.tolist(), "var": var.tolist(),
            "equivalent_per_channel_affine_float64": {"a": a.tolist(), "b": (beta - mean * a).tolist()},
        })
    return out


def eval_float64(model_proto, x):
    """Evaluate the exported graph in float64 with exact real-number semantics for every op
    (the reference a compiler would compute with exact rational arithmetic, up to the
    irrational 1/sqrt in BatchNormalization). Supports exactly the op types of this model.
    x: [N, 2, 16, 16]. Returns {tensor name: array} for every node output."""
    inits = {k: v.astype(np.float64) for k, v in initializer_map(model_proto).items()}
    env = dict(inits)
    env[INPUT_NAME] = x.astype(np.float64)
    for n in model_proto.graph.node:
        at = attr_dict(n)
        ins = [env[i] for i in n.input]
        if n.op_type == "Quant":
            v, s, zp, bw = ins
            bits = int(bw)
            lo = -(2 ** (bits - 1)) + at["narrow"] if at["signed"] else 0
            hi = 2 ** (bits - 1) - 1 if at["signed"] else 2 ** bits - 1 - at["narrow"]
            assert at["rounding_mode"] == "ROUND"
            y = (np.clip(np.round(v / s + zp), lo, hi) - zp) * s
        elif n.op_type == "Conv":
            v, w = ins[0], ins[1]
            assert at["group"] == 1 and at["strides"] == [1, 1] and at["dilations"] == [1, 1]
            p = at["pads"]
            vp = np.pad(v, ((0, 0), (0, 0), (p[0], p[2]), (p[1], p[3])))
            kh, kw = w.shape[2:]
            H, W = vp.shape[2] - kh + 1, vp.shape[3] - kw + 1
            y = np.zeros((v.shape[0], w.shape[0], H, W))
            for i in range(kh):
                for j in range(kw):
                    y += np.einsum("nchw,oc->nohw", vp[:, :, i:i + H, j:j + W], w[:, :, i, j])
            if len(ins) > 2:
                y += ins[2][None, :, None, None]
        elif n.op_type == "BatchNormalization":
            v, g, b, m, var = ins
            eps = float(np.float32(at["epsilon"]))
            sh = (1, -1, 1, 1)
            y = (v - m.reshape(sh)) / np.sqrt(var.reshape(sh) + eps) * g.reshape(sh) + b.reshape(sh)
        elif n.op_type == "Relu":
            y = np.maximum(ins[0], 0.0)
        elif n.op_type == "LeakyRelu":
            y = np.where(ins[0] >= 0, ins[0], ins[0] * at["alpha"])
        elif n.op_type == "Flatten":
            assert at["axis"] == 1
            y = ins[0].reshape(ins[0].shape[0], -1)
        elif n.op_type == "Gemm":
            assert at.get("transB") == 1 and at.get("alpha", 1.0) == 1.0 and at.get("beta", 1.0) == 1.0
            y = ins[0] @ ins[1].T + ins[2]
        else:
            raise NotImplementedError(n.op_type)
        env[n.output[0]] = y
    return env


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
    ap.add_argument("--events", type=int, default=20000)
    ap.add_argument("--epochs", type=int, default=12)
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
    data, los_fraction, kept_energy = make_dataset(args.events, rng)
    n_val = args.events // 10
    x_train, x_val = torch.from_numpy(data[:-n_val]), torch.from_numpy(data[-n_val:])
    sparsity = float((data == 0).mean())
    print(f"data: {data.shape}, range [{data.min():.3f}, {data.max():.3f}], energy in first {N_TAPS} taps "
          f"{kept_energy:.4f}, zero entries {sparsity:.2f}")

    # ---- model ----
    enc, dec = Encoder(), Decoder()

    def mse(x, y):
        return ((x - y) ** 2).mean()

    opt = torch.optim.Adam(list(enc.parameters()) + list(dec.parameters()), lr=3e-3)
    batch = 200
    steps_per_epoch = len(x_train) // batch
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=3e-3, total_steps=args.epochs * steps_per_epoch)
    gen = torch.Generator().manual_seed(SEED)

    def evaluate(x):
        enc.eval(), dec.eval()
        with torch.no_grad():
            rec = torch.cat([dec(enc(xb)) for xb in x.split(1000)])
        enc.train(), dec.train()
        return float(mse(rec, x)), nmse_db(x.numpy(), rec.numpy())

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
        val, val_nmse = evaluate(x_val)
        history.append({"epoch": epoch + 1, "train_loss_running": running / steps_per_epoch, "val_loss": val,
                        "val_nmse_db": val_nmse})
        print(f"epoch {epoch + 1:3d}  train {running / steps_per_epoch:.4e}  val {val:.4e}  "
              f"NMSE {val_nmse:.2f} dB", flush=True)
    (train_loss, train_nmse), (val_loss, val_nmse) = evaluate(x_train), evaluate(x_val)
    baseline = float(mse(x_train.mean(0, keepdim=True).expand_as(x_val), x_val))
    print(f"final: train {train_loss:.4e} ({train_nmse:.2f} dB) val {val_loss:.4e} ({val_nmse:.2f} dB) "
          f"(mean-matrix baseline {baseline:.4e}); {time.time() - t0:.0f} s")

    # ---- export ----
    enc.eval()
    samples_in = data[-n_val:][:args.samples].copy()
    with tempfile.TemporaryDirectory() as tmp:
        raw_path = os.path.join(tmp, "raw.onnx")
        export_qonnx(enc, torch.zeros(1, 2, N_ANT, N_TAPS), raw_path, dynamo=False, opset_version=OPSET,
                     input_names=[INPUT_NAME], output_names=[OUTPUT_NAME])
        model = onnx.load(raw_path)
    onnx.save(model, os.path.join(args.out, "model.onnx"))
    model = onnx.load(os.path.join(args.out, "model.onnx"))
    ops = dict(sorted(Counter(n.op_type for n in model.graph.node).items()))
    print("export ops:", ops)
    assert ops == {"BatchNormalization": 2, "Conv": 2, "Flatten": 1, "Gemm": 1, "LeakyRelu": 1, "Quant": 8,
                   "Relu": 1}, ops

    # ---- checks ----
    qinfo = quant_nodes(model)
    by_prefix = {}
    for qi in qinfo:
        prefix = qi["node"].split("/")[1] + "/" + qi["node"].split("/")[2]
        assert prefix not in by_prefix, prefix
        by_prefix[prefix] = qi
    expect_roles = {
        "input_quant/act_quant": "input", "conv1/weight_quant": "conv1_weight", "act1/act_quant": "act1",
        "conv2/weight_quant": "conv2_weight", "act2/act_quant": "act2", "fc/weight_quant": "fc_weight",
        "fc/bias_quant": "fc_bias", "out_quant/act_quant": "codeword"}
    assert set(by_prefix) == set(expect_roles), sorted(by_prefix)
    for prefix, role in expect_roles.items():
        qi = by_prefix[prefix]
        qi["role"] = role
        assert qi["zero_point"] == 0.0 and qi["rounding_mode"] == "ROUND", qi
        if role == "input":
            assert (qi["bit_width"], qi["signed"], qi["narrow"], qi["scale"]) == (8, True, False, 2.0 ** -INPUT_FRAC), qi
        elif role.endswith("_weight"):
            assert (qi["bit_width"], qi["signed"], qi["narrow"]) == (8, True, True), qi
        elif role == "fc_bias":
            assert (qi["bit_width"], qi["signed"], qi["narrow"]) == (16, True, False), qi
            assert qi["scale"] == by_prefix["act2/act_quant"]["scale"] * by_prefix["fc/weight_quant"]["scale"], qi
        elif role == "act1":
            assert (qi["bit_width"], qi["signed"], qi["narrow"]) == (8, False, False), qi
        else:
            assert (qi["bit_width"], qi["signed"], qi["narrow"]) == (8, True, False), qi
    qinfo = [by_prefix[p] for p in expect_roles]
    print("Quant nodes: all scales are powers of two; bit widths/signedness as specified:")
    for qi in qinfo:
        print(f"  {qi['role']:13s} {qi['bit_width']:2d}b {'s' if qi['signed'] else 'u'}"
              f"{' narrow' if qi['narrow'] else ''} scale 2^{qi['scale_log2']}")
    bns = batchnorm_nodes(model)
    assert len(bns) == 2

    mw = exec_model(model)
    t1 = time.time()
    q_outs = [q["output_tensor"] for q in qinfo if q["role"] in ("act1", "act2")]
    bn_io = [t for b in bns for t in (b["input"], b["output"])]
    out, kept = run_executor(mw, samples_in, keep=q_outs + bn_io)
    print(f"executor: {len(samples_in)} runs in {time.time() - t1:.0f} s")
    with torch.no_grad():
        out_torch = enc(torch.from_numpy(samples_in)).numpy()
    torch_equal = bool(np.array_equal(out_torch, out))
    torch_maxdiff = float(np.abs(out_torch - out).max())
    torch_diff_codes = int((out_torch != out).sum())
    print(f"brevitas == executor: {torch_equal} (max |diff| {torch_maxdiff}, {torch_diff_codes} codes differ)")
    cw = qinfo[-1]
    codes = out / cw["scale"]
    assert np.array_equal(codes, np.round(codes)) and codes.min() >= -128 and codes.max() <= 127
    in_codes = samples_in * 2.0 ** INPUT_FRAC
    assert np.array_equal(in_codes, np.round(in_codes))

    # ---- BatchNormalization: float32 (executor) vs exact (float64) ----
    env64 = eval_float64(model, samples_in)
    bn_report = {"what": "The QONNX executor runs each BatchNormalization node in onnxruntime in float32. "
                         "eval_float64() evaluates the same graph with float64 BatchNormalization (exact "
                         "real-number semantics up to float64 rounding; every other op here is exact in both). "
                         "Counts are over the committed samples."}
    for b in bns:
        x32, y32 = kept[b["input"]], kept[b["output"]]
        g, be, m, v = (np.asarray(b[k], dtype=np.float32).reshape(1, -1, 1, 1) for k in ("gamma", "beta", "mean", "var"))
        eps = np.float32(b["epsilon_float32"])
        s_div = g / np.sqrt(v + eps)
        s_inv = g * (np.float32(1.0) / np.sqrt(v + eps))
        cand = {  # every operation in float32, one rounding per operation unless marked fma
            "(x - mean) / sqrt(var + eps) * gamma + beta": (x32 - m) / np.sqrt(v + eps) * g + be,
            "x * a + (beta - mean * a), a = gamma / sqrt(var + eps)": x32 * s_div + (be - m * s_div),
            "x * a + (beta - mean * a), a = gamma * (1 / sqrt(var + eps))": x32 * s_inv + (be - m * s_inv),
            "fma(x, a, beta - mean * a), a = gamma * (1 / sqrt(var + eps))": (
                x32.astype(np.float64) * s_inv.astype(np.float64)
                + (be - m * s_inv).astype(np.float64)).astype(np.float32),
        }
        b["float32_formula_matching_executor"] = [k for k, c in cand.items() if np.array_equal(c, y32)]
        d = np.abs(y32.astype(np.float64) - env64[b["output"]])
        b["executor_vs_float64_max_abs_diff"] = float(d.max())
    for qname, role in zip(q_outs, ("act1", "act2")):
        q = next(qq for qq in qinfo if qq["role"] == role)
        c32 = np.round(kept[qname] / q["scale"]).astype(np.int64)
        c64 = np.round(env64[qname] / q["scale"]).astype(np.int64)
        bn_report[f"{role}_codes_differing_float32_vs_float64"] = int((c32 != c64).sum())
        bn_report[f"{role}_codes_total"] = int(c32.size)
        # how close the exact pre-quantizer value comes to a rounding boundary (in LSBs)
        pre = env64[q["quantized_tensor"]] / q["scale"]
        inside = (pre > q["int_range"][0]) & (pre < q["int_range"][1])
        bn_report[f"{role}_min_distance_to_rounding_boundary_lsb"] = float(
            np.abs(pre[inside] - np.floor(pre[inside]) - 0.5).min())
    c32 = np.round(out / cw["scale"]).astype(np.int64)
    c64 = np.round(env64[OUTPUT_NAME] / cw["scale"]).astype(np.int64)
    bn_report["codeword_codes_differing_float32_vs_float64"] = int((c32 != c64).sum())
    bn_report["codeword_codes_total"] = int(c32.size)
    print("BatchNormalization float32 vs float64:", {k: v for k, v in bn_report.items() if k != "what"})
    for b in bns:
        print(f"  {b['node']}: executor formula {b['float32_formula_matching_executor']}, "
              f"max |diff| vs float64 {b['executor_vs_float64_max_abs_diff']:.3g}")

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
        "name": "csi_encoder",
        "description": "CsiNet-style CSI-feedback encoder: angular-delay channel matrix [2 (re, im) x 16 angles x "
                       "16 delay taps] -> Quant(in) -> Conv 3x3 2->8 same -> BatchNormalization -> ReLU -> Quant -> "
                       "Conv 3x3 8->2 same -> BatchNormalization -> LeakyReLU(1/8) -> Quant -> Flatten -> Gemm "
                       "512->32 -> Quant(codeword). Brevitas QAT on SYNTHETIC multipath channels; BatchNorm "
                       "exported as BatchNormalization nodes (not folded).",
        "onnx_file": "model.onnx",
        "input": {"name": INPUT_NAME, "shape": [1, 2, N_ANT, N_TAPS],
                  "layout": "NCHW: C = (real, imag), H = angle bin (fftshifted DFT over 16 antennas), "
                            "W = delay tap 0..15", "dtype": "float32",
                  "grid": f"multiples of 2^-{INPUT_FRAC} in [-1, 1-2^-{INPUT_FRAC}] (8-bit signed, ap_fixed<8,1>); "
                          f"each matrix is scaled so that its largest |component| is {PEAK}"},
        "output": {"name": OUTPUT_NAME, "shape": [1, CODEWORD], "dtype": "float32",
                   "declared_shape_in_onnx": summ["graph_outputs"][0]["declared_shape"],
                   "grid": f"multiples of {cw['scale']} (2^{cw['scale_log2']}), 8-bit signed"},
        "tensor_shapes": {"input": [1, 2, 16, 16], "conv1/bn1/act1": [1, 8, 16, 16], "conv2/bn2/act2": [1, 2, 16, 16],
                          "flatten": [1, 512], "codeword": [1, CODEWORD]},
        "quantizers": qinfo,
        "quantizer_notes": [
            "Input: constant scale 2^-7, 8-bit signed (custom Brevitas quantizer, CONST scaling).",
            "Weights: Brevitas Int8WeightPerTensorFixedPoint: 8-bit NARROW signed (codes -127..127), per-tensor "
            "power-of-two scale derived from max|w|. The convs have no bias (BatchNorm follows).",
            "Linear bias: Brevitas Int16Bias, scale = act2 scale * fc weight scale (the accumulator grid); its "
            "scale initializer has shape [1].",
            "Activations: Uint8ActPerTensorFixedPoint after ReLU (act1), Int8ActPerTensorFixedPoint after the "
            "LeakyReLU (act2) and on the codeword; radix points learned (log2 domain, rounded), so every "
            "exported scale is an exact power of two.",
            "Between a Conv and the next Quant sits a FLOAT BatchNormalization (and ReLU/LeakyReLU): the only "
            "arithmetic in this graph that is not exact on a fixed-point grid. See batchnorm.",
            "Integer bits are counted including the sign bit (ap_fixed<W,I> convention).",
        ],
        "batchnorm": {
            "choice": "NOT folded. export_qonnx writes each torch BatchNorm2d (eval mode, running statistics) as an "
                      "ONNX BatchNormalization node between the Conv and the activation. torch.onnx's Conv+BN "
                      "fusion does not fire because the Conv weight is the output of a Quant node, not an "
                      "initializer. A compiler must fold it (per-channel multiplier + offset before the next "
                      "quantizer).",
            "nodes": bns,
            "float32_vs_float64": bn_report,
        },
        "ops": summ["op_type_counts"],
        "graph": summ,
        "onnx_checker": chk,
        "postprocessing": ["None: model.onnx is byte-for-byte what export_qonnx wrote (no qonnx cleanup, "
                           "ir_version as written)."],
        "export": {"function": "brevitas.export.export_qonnx", "dynamo": False, "opset_version": OPSET,
                   "input_names": [INPUT_NAME], "output_names": [OUTPUT_NAME],
                   "keep_initializers_as_inputs": "Brevitas default (True): weights, biases and BatchNorm "
                   "parameters are listed as graph inputs AND initializers"},
        "export_quirks": [
            "Weights and the Linear bias are float initializers that go through Quant nodes inside the graph; "
            "they, and the BatchNorm parameters, are also listed as graph inputs (keep_initializers_as_inputs).",
            "BatchNormalization has 5 inputs (X, scale=gamma, B=beta, input_mean, input_var), attributes "
            "epsilon=1e-5 (stored as the float32 9.99999975e-06), momentum=0.9 (torch momentum 0.1 in ONNX's "
            "convention, irrelevant for inference) and training_mode=0.",
            "LeakyRelu alpha=0.125 (exactly representable; multiplying by it is a 3-bit shift).",
            "Conv pads [1,1,1,1] (symmetric 'same' for 3x3 stride 1): no Pad node, unlike econt.",
            "Quant scale/zero_point/bit_width initializers are deduplicated by value across nodes.",
            "Gemm has transB=1 (weight stored [32, 512]); Flatten (axis 1) is in NCHW order (channel-major).",
        ],
        "samples": {
            "input": "samples/input.npy", "output": "samples/output.npy",
            "input_shape": list(samples_in.shape), "output_shape": list(out.shape),
            "source": f"the first {len(samples_in)} channels of the validation split of the synthetic data set",
            "output_computed_by": "qonnx.core.onnx_exec.execute_onnx on model.onnx (one matrix per call, batch 1), "
                                  "after dropping the exported value_info and running qonnx InferShapes in memory",
            "brevitas_vs_executor_identical": torch_equal,
            "brevitas_vs_executor_max_abs_diff": torch_maxdiff,
            "brevitas_vs_executor_codes_differing": torch_diff_codes,
            "distinct_codes_per_output": [int(len(np.unique(out[:, k]))) for k in range(out.shape[1])],
        },
        "training": {
            "data": "SYNTHETIC. " + make_dataset.__doc__.replace("\n    ", " ").strip(),
            "events": args.events, "train_events": len(x_train), "val_events": len(x_val),
            "energy_fraction_in_kept_taps": kept_energy, "line_of_sight_fraction": los_fraction,
            "scatterer_layout_m": environment().round(3).tolist(), "zero_fraction_of_input_entries": sparsity,
            "objective": "autoencoder, MSE (mean over 2x16x16) between the float decoder output and the quantized "
                         "input; decoder Linear(32,256)-LeakyReLU(0.3)-Linear(256,512) in "
                         "float, not exported",
            "optimizer": f"Adam, OneCycle lr max 3e-3, batch {batch}, {args.epochs} epochs, seed {SEED}, 1 CPU thread",
            "final_train_loss": train_loss, "final_val_loss": val_loss,
            "final_train_nmse_db": train_nmse, "final_val_nmse_db": val_nmse,
            "baseline_val_loss_mean_matrix": baseline,
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
