#!/usr/bin/env python3
"""Train and export the ECON-T style encoder (fastml-science model 8x8_c8_S2_qK).

Steps, all deterministic (fixed seeds, one CPU thread):
  1. generate a synthetic HGCAL-like shower data set (48 trigger-cell charges per event,
     normalised to their sum, placed in an 8x8 image, quantized to the input grid);
  2. train encoder (Brevitas QAT, fixed power-of-two scales) + float decoder as an
     autoencoder with MSE loss;
  3. export the encoder only with brevitas.export.export_qonnx (TorchScript exporter);
  4. fuse the exported Pad node into the Conv node's `pads` attribute (TensorFlow 'same'
     padding is asymmetric, which torch.nn.Conv2d cannot express) and check with the QONNX
     executor that the fused and unfused graphs agree bit for bit on every sample;
  5. check every Quant node's scale / bit width / signedness, run onnx.checker, and write
     model.onnx, model.json, samples/input.npy and samples/output.npy.

Usage:  python train_export.py            (writes next to this script)
        python train_export.py --out DIR  (writes somewhere else)
"""

import argparse
import copy
import json
import math
import os
import platform
import sys
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
from brevitas.quant.base import IntQuant, UintQuant
from brevitas.quant.solver import ActQuantSolver, BiasQuantSolver, WeightQuantSolver

import qonnx
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.core.onnx_exec import execute_onnx
from qonnx.transformation.infer_shapes import InferShapes

SEED = 20251125
OPSET = 17
INPUT_NAME = "input"
OUTPUT_NAME = "latent"

# ---------------------------------------------------------------------------------------------
# Fixed power-of-two quantizers
# ---------------------------------------------------------------------------------------------


def fixed_point_quant(kind, signed, bits, frac_bits, **extra):
    """Brevitas quantizer with a constant scale 2^-frac_bits (a plain fixed-point type).

    With restrict_scaling_type=POWER_OF_TWO, Brevitas divides the constant threshold by
    2^(bits-1) (signed) or 2^bits (unsigned), so threshold = 2^(bits-1-frac) gives exactly
    scale = 2^-frac. Zero point 0, round half to even, saturating, not narrow.
    """
    thr = 2.0 ** ((bits - 1 if signed else bits) - frac_bits)
    base = IntQuant if signed else UintQuant
    solver = {"act": ActQuantSolver, "weight": WeightQuantSolver, "bias": BiasQuantSolver}[kind]
    attrs = dict(
        bit_width=bits,
        narrow_range=False,
        scaling_impl_type=ScalingImplType.CONST,
        scaling_const=thr,  # used by weight/bias solvers
        max_val=thr,  # used by the activation solver
        min_val=-thr if signed else 0.0,
        restrict_scaling_type=RestrictValueType.POWER_OF_TWO,
        scaling_per_output_type=ScalingPerOutputType.TENSOR,
        **extra)
    name = f"Fixed{kind.capitalize()}{'Int' if signed else 'Uint'}{bits}Frac{frac_bits}"
    return type(name, (base, solver), attrs)


# name: (bits, frac_bits, signed); integer bits (incl. sign) = bits - frac_bits
QSPEC = {
    "input": (10, 7, True),  # ap_fixed<10,3>
    "conv_weight": (6, 5, True),  # ap_fixed<6,1>
    "conv_bias": (16, 12, True),  # accumulator grid 2^-7 * 2^-5 = 2^-12, ap_fixed<16,4>
    "conv_act": (11, 8, True),  # ap_fixed<11,3>, after ReLU
    "dense_weight": (6, 5, True),  # ap_fixed<6,1>
    "dense_bias": (16, 13, True),  # accumulator grid 2^-8 * 2^-5 = 2^-13, ap_fixed<16,3>
    "latent": (9, 8, False),  # ap_ufixed<9,1>, after ReLU
}


def q(kind, role, **extra):
    bits, frac, signed = QSPEC[role]
    return fixed_point_quant(kind, signed, bits, frac, **extra)


class Encoder(nn.Module):
    """8x8_c8_S2_qK encoder: Quant -> ZeroPad(0,1,0,1) -> Conv 3x3/2 x8 -> ReLU -> Quant ->
    Flatten -> Dense 16 -> ReLU -> Quant."""

    def __init__(self):
        super().__init__()
        self.input_quant = qnn.QuantIdentity(act_quant=q("act", "input"))
        # TF/Keras 'same' padding for k=3, s=2 on 8x8: 0 top/left, 1 bottom/right.
        self.pad = nn.ZeroPad2d((0, 1, 0, 1))
        self.conv = qnn.QuantConv2d(
            1, 8, kernel_size=3, stride=2, padding=0, bias=True,
            weight_quant=q("weight", "conv_weight"),
            bias_quant=q("bias", "conv_bias", requires_input_scale=False))
        self.conv_act = qnn.QuantReLU(act_quant=q("act", "conv_act"))
        self.flatten = nn.Flatten()
        self.dense = qnn.QuantLinear(
            128, 16, bias=True,
            weight_quant=q("weight", "dense_weight"),
            bias_quant=q("bias", "dense_bias", requires_input_scale=False))
        self.latent_act = qnn.QuantReLU(act_quant=q("act", "latent"))
        # Start with every ReLU unit active so that fewer latent units die during training.
        with torch.no_grad():
            self.conv.bias.fill_(0.02)
            self.dense.bias.fill_(0.1)

    def forward(self, x):
        x = self.input_quant(x)
        x = self.conv_act(self.conv(self.pad(x)))
        return self.latent_act(self.dense(self.flatten(x)))


class Decoder(nn.Module):
    """Float decoder (runs off-detector, not exported)."""

    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(16, 128), nn.ReLU(), nn.Linear(128, 64))

    def forward(self, z):
        return self.net(z).view(-1, 1, 8, 8)


# ---------------------------------------------------------------------------------------------
# Synthetic HGCAL-like data
# ---------------------------------------------------------------------------------------------


def hgcal_layout():
    """48 trigger cells of a hexagonal module: three rhombic 4x4 blocks rotated by 120 degrees.

    Returns (xy [48,2] cell centres in units of the cell pitch, rowcol [48,2] position in the
    8x8 image). Block k=0,1,2 goes to the image quadrant top-left, top-right, bottom-left;
    the bottom-right quadrant is unused (always zero). Cell index = 16*k + 4*i + j.
    """
    xy, rowcol = [], []
    for k in range(3):
        th = 2.0 * math.pi * k / 3.0
        rot = np.array([[math.cos(th), -math.sin(th)], [math.sin(th), math.cos(th)]])
        u = rot @ np.array([1.0, 0.0])
        v = rot @ np.array([math.cos(2 * math.pi / 3), math.sin(2 * math.pi / 3)])
        for i in range(4):
            for j in range(4):
                xy.append((i + 0.5) * u + (j + 0.5) * v)
                rowcol.append((4 * (k // 2) + i, 4 * (k % 2) + j))
    return np.array(xy), np.array(rowcol)


def make_dataset(n_events, rng):
    """Shower-like events: 1 shower (80%) or 2 (20%), centre uniform in a disk of radius 4.5
    cells (module circumradius is 4, so some showers are only partly contained), energy
    log-normal (median 30 MIP), core+halo 2-D Gaussian lateral profile, Gaussian electronic
    noise (sigma 0.25 MIP), sparse pile-up deposits, zero suppression at 1 MIP, then each
    event is divided by its sum (as the ECON-T does) and rounded to the input grid 2^-7."""
    xy, rowcol = hgcal_layout()
    cell_area = math.sin(math.pi / 3)
    n_gen = int(n_events * 1.2) + 100
    charge = np.zeros((n_gen, 48))
    n_showers = np.where(rng.random(n_gen) < 0.8, 1, 2)
    for s in range(2):
        active = (n_showers > s)[:, None]
        r = 4.5 * np.sqrt(rng.random(n_gen))
        phi = 2 * math.pi * rng.random(n_gen)
        centre = np.stack([r * np.cos(phi), r * np.sin(phi)], axis=1)
        energy = np.exp(rng.normal(math.log(30.0), 0.8, n_gen))
        core = rng.uniform(0.4, 1.0, n_gen)
        halo = 2.5 * core
        halo_frac = rng.uniform(0.1, 0.3, n_gen)
        d2 = ((xy[None, :, :] - centre[:, None, :]) ** 2).sum(-1)
        prof = ((1 - halo_frac)[:, None] * np.exp(-d2 / (2 * core[:, None] ** 2)) / (2 * math.pi * core[:, None] ** 2)
                + halo_frac[:, None] * np.exp(-d2 / (2 * halo[:, None] ** 2)) / (2 * math.pi * halo[:, None] ** 2))
        charge += active * energy[:, None] * cell_area * prof
    charge += rng.normal(0.0, 0.25, charge.shape)
    charge += (rng.random(charge.shape) < 0.05) * rng.exponential(1.0, charge.shape)
    charge = np.where(charge < 1.0, 0.0, charge)
    charge = charge[charge.sum(1) > 0][:n_events]
    assert charge.shape[0] == n_events
    norm = charge / charge.sum(1, keepdims=True)
    img = np.zeros((n_events, 1, 8, 8), dtype=np.float64)
    img[:, 0, rowcol[:, 0], rowcol[:, 1]] = norm
    bits, frac, _ = QSPEC["input"]
    lo, hi = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
    img_q = np.clip(np.round(img * 2.0 ** frac), lo, hi) / 2.0 ** frac  # np.round: half to even
    return img_q.astype(np.float32), xy, rowcol


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

    The TorchScript exporter cannot infer shapes through the custom Quant op, so the
    exported value_info/output shapes carry symbolic dims, some of them wrong. For
    execution (in memory only) we drop them and let qonnx InferShapes recompute them."""
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


def fuse_pad_into_conv(model_proto, probe_input):
    """Remove the Pad node feeding the Conv (and the constant subgraph computing its pads),
    adding its spatial pads to the Conv's `pads` attribute. Returns (new model, pads)."""
    m = copy.deepcopy(model_proto)
    g = m.graph
    pads_nodes = [n for n in g.node if n.op_type == "Pad"]
    assert len(pads_nodes) == 1, "expected exactly one Pad node"
    pad = pads_nodes[0]
    consumers = [n for n in g.node if pad.output[0] in n.input]
    assert len(consumers) == 1 and consumers[0].op_type == "Conv", "Pad must feed one Conv"
    conv = consumers[0]
    assert attr_dict(pad).get("mode", "constant") == "constant"
    # Evaluate the pads / constant_value inputs with the QONNX executor.
    ctx = execute_onnx(exec_model(model_proto), {INPUT_NAME: probe_input}, return_full_exec_context=True)
    pads = np.asarray(ctx[pad.input[1]]).astype(np.int64).tolist()
    cval = float(ctx[pad.input[2]]) if len(pad.input) > 2 and pad.input[2] else 0.0
    assert len(pads) == 8 and pads[0] == pads[1] == pads[4] == pads[5] == 0, pads
    assert cval == 0.0 and min(pads) >= 0
    # ONNX Pad order (NCHW): [N_b, C_b, H_b, W_b, N_e, C_e, H_e, W_e];
    # Conv pads order: [H_b, W_b, H_e, W_e] = top, left, bottom, right.
    add = [pads[2], pads[3], pads[6], pads[7]]
    old = attr_dict(conv).get("pads", [0, 0, 0, 0])
    new = [a + b for a, b in zip(old, add)]
    for a in conv.attribute:
        if a.name == "pads":
            conv.attribute.remove(a)
            break
    conv.attribute.append(onnx.helper.make_attribute("pads", new))
    conv.input[0] = pad.input[0]
    # Collect the constant subgraph that only feeds the Pad's pads/constant_value inputs.
    producer = {o: n for n in g.node for o in n.output}
    inits = {i.name for i in g.initializer}
    remove = [pad]
    stack = [t for t in pad.input[1:] if t]
    while stack:
        t = stack.pop()
        if t in producer:
            n = producer[t]
            if all(n is not r for r in remove):
                remove.append(n)
                stack.extend(i for i in n.input if i)
        else:
            assert t in inits, f"Pad parameter {t} is neither computed nor an initializer"
    removed_outputs = {o for n in remove for o in n.output}
    keep = [n for n in g.node if all(n is not r for r in remove)]
    for n in keep:
        assert not (set(n.input) & removed_outputs), f"{n.name} uses a removed tensor"
    del g.node[:]
    g.node.extend(keep)
    used = {i for n in g.node for i in n.input} | {o.name for o in g.output}
    dead = [i for i in g.initializer if i.name not in used]
    for i in dead:
        g.initializer.remove(i)
    for i in [i for i in g.input if i.name in {d.name for d in dead}]:
        g.input.remove(i)
    for v in [v for v in g.value_info if v.name in removed_outputs or v.name in {d.name for d in dead}]:
        g.value_info.remove(v)
    return m, pads, new, [n.op_type for n in remove]


def quant_nodes(model_proto):
    """Describe every QONNX Quant node (scale, zero point, bit width from initializers)."""
    inits = initializer_map(model_proto)
    out = []
    for n in model_proto.graph.node:
        if n.op_type != "Quant":
            continue
        a = attr_dict(n)
        scale = inits[n.input[1]]
        zp = inits[n.input[2]]
        bw = inits[n.input[3]]
        assert scale.size == 1 and zp.size == 1 and bw.size == 1, n.name
        scale, zp, bw = float(scale.reshape(-1)[0]), float(zp.reshape(-1)[0]), float(bw.reshape(-1)[0])
        log2 = math.log2(scale)
        frac = -int(round(log2))
        assert 2.0 ** (-frac) == scale, f"{n.name}: scale {scale} is not a power of two"
        bits = int(bw)
        signed = bool(a["signed"])
        narrow = bool(a["narrow"])
        entry = {
            "node": n.name,
            "domain": n.domain,
            "quantized_tensor": n.input[0],
            "output_tensor": n.output[0],
            "scale": scale,
            "scale_log2": -frac,
            "scale_shape": list(inits[n.input[1]].shape),
            "zero_point": zp,
            "bit_width": bits,
            "signed": signed,
            "narrow": narrow,
            "rounding_mode": a["rounding_mode"],
            "fixed_point": {
                "total_bits": bits,
                "int_bits_incl_sign": bits - frac,
                "frac_bits": frac,
                "min": (-(2 ** (bits - 1)) + int(narrow) if signed else 0) * scale,
                "max": ((2 ** (bits - 1) - 1) if signed else (2 ** bits - 1 - int(narrow))) * scale,
                "hls_type": f"ap_{'' if signed else 'u'}fixed<{bits},{bits - frac},AP_RND_CONV,AP_SAT>",
            },
        }
        if n.input[0] in inits:
            # Quant applied to a float initializer (weights/biases): how the rounding falls.
            lo = -(2 ** (bits - 1)) + int(narrow) if signed else 0
            hi = 2 ** (bits - 1) - 1 if signed else 2 ** bits - 1 - int(narrow)
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
    ap.add_argument("--events", type=int, default=50000)
    ap.add_argument("--epochs", type=int, default=60)
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
    data, xy, rowcol = make_dataset(args.events, rng)
    n_val = args.events // 10
    x_train, x_val = torch.from_numpy(data[:-n_val]), torch.from_numpy(data[-n_val:])
    mask = torch.zeros(1, 1, 8, 8)
    mask[0, 0, rowcol[:, 0], rowcol[:, 1]] = 1.0
    nz = (data[:, 0][:, rowcol[:, 0], rowcol[:, 1]] > 0).sum(1)
    print(f"data: {data.shape}, non-zero cells/event mean {nz.mean():.1f}, "
          f"max cell mean {data.reshape(len(data), -1).max(1).mean():.3f}")

    # ---- model ----
    enc, dec = Encoder(), Decoder()

    def mse(x, y):
        return (((x - y) * mask) ** 2).sum() / (x.shape[0] * 48)

    params = list(enc.parameters()) + list(dec.parameters())
    opt = torch.optim.Adam(params, lr=3e-3)
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
    mean_img = x_train.mean(0, keepdim=True)
    baseline = float(mse(mean_img.expand_as(x_val), x_val))
    print(f"final: train {train_loss:.4e} val {val_loss:.4e} (mean-event baseline {baseline:.4e}); "
          f"{time.time() - t0:.0f} s")

    # ---- export ----
    enc.eval()
    samples_in = data[-n_val:][:args.samples].copy()
    with tempfile.TemporaryDirectory() as tmp:
        raw_path = os.path.join(tmp, "raw.onnx")
        export_qonnx(enc, torch.zeros(1, 1, 8, 8), raw_path, dynamo=False, opset_version=OPSET,
                     input_names=[INPUT_NAME], output_names=[OUTPUT_NAME])
        raw = onnx.load(raw_path)
    raw_ops = dict(sorted(Counter(n.op_type for n in raw.graph.node).items()))
    print("raw export ops:", raw_ops)
    fused, pad_pads, conv_pads, removed_ops = fuse_pad_into_conv(raw, samples_in[:1])
    print(f"Pad pads {pad_pads} -> Conv pads {conv_pads}; removed {removed_ops}")
    assert conv_pads == [0, 0, 1, 1]
    onnx.save(fused, os.path.join(args.out, "model.onnx"))
    fused = onnx.load(os.path.join(args.out, "model.onnx"))

    # ---- checks ----
    qinfo = quant_nodes(fused)
    role_of = {"/input_quant/": "input", "/conv/weight_quant/": "conv_weight",
               "/conv/bias_quant/": "conv_bias", "/conv_act/": "conv_act",
               "/dense/weight_quant/": "dense_weight", "/dense/bias_quant/": "dense_bias",
               "/latent_act/": "latent"}
    seen = set()
    for qi in qinfo:
        roles = [r for p, r in role_of.items() if qi["node"].startswith(p) or qi["output_tensor"] == OUTPUT_NAME and r == "latent"]
        assert len(roles) == 1, qi["node"]
        role = roles[0]
        bits, frac, signed = QSPEC[role]
        assert qi["bit_width"] == bits and qi["scale"] == 2.0 ** -frac and qi["signed"] == signed, (role, qi)
        assert qi["zero_point"] == 0.0 and not qi["narrow"] and qi["rounding_mode"] == "ROUND", (role, qi)
        qi["role"] = role
        seen.add(role)
    assert seen == set(QSPEC), seen
    print("Quant nodes: all scales/bit widths/signedness as specified")

    mw_raw, mw_fused = exec_model(raw), exec_model(fused)
    t1 = time.time()
    out_raw = run_executor(mw_raw, samples_in)
    out_fused = run_executor(mw_fused, samples_in)
    print(f"executor: {2 * len(samples_in)} runs in {time.time() - t1:.0f} s")
    fused_equal = bool(np.array_equal(out_raw, out_fused))
    assert fused_equal, "fused and unfused graphs differ"
    with torch.no_grad():
        out_torch = enc(torch.from_numpy(samples_in)).numpy()
    torch_equal = bool(np.array_equal(out_torch, out_fused))
    torch_maxdiff = float(np.abs(out_torch - out_fused).max())
    print(f"fused == unfused on all {len(samples_in)} samples: {fused_equal}; "
          f"brevitas == executor: {torch_equal} (max |diff| {torch_maxdiff})")
    lat = qinfo[[q["role"] for q in qinfo].index("latent")]
    codes = out_fused / lat["scale"]
    assert np.array_equal(codes, np.round(codes)) and codes.min() >= 0 and codes.max() <= 2 ** 9 - 1
    in_codes = samples_in * 2.0 ** QSPEC["input"][1]
    assert np.array_equal(in_codes, np.round(in_codes))
    np.save(os.path.join(args.out, "samples", "input.npy"), samples_in.astype(np.float32))
    np.save(os.path.join(args.out, "samples", "output.npy"), out_fused.astype(np.float32))
    chk = checker(fused)
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
    summ = graph_summary(fused)
    desc = {
        "name": "econt",
        "description": "CMS HGCAL ECON-T style encoder, fastml-science sensor-data-compression model "
                       "8x8_c8_S2_qK: Quant(in) -> Conv 8x3x3 stride 2 'same' -> ReLU -> Quant -> Flatten -> "
                       "Gemm 128->16 -> ReLU -> Quant(latent). Trained with Brevitas QAT on SYNTHETIC data.",
        "onnx_file": "model.onnx",
        "input": {"name": INPUT_NAME, "shape": [1, 1, 8, 8], "layout": "NCHW", "dtype": "float32",
                  "quantizer": "input (see quantizers)", "grid": "values are multiples of 2^-7 in [-4, 4-2^-7]; "
                  "in the data only [0, 1] occurs (charges normalised to their sum)"},
        "output": {"name": OUTPUT_NAME, "shape": [1, 16], "dtype": "float32",
                   "declared_shape_in_onnx": summ["graph_outputs"][0]["declared_shape"],
                   "grid": "multiples of 2^-8 in [0, 2-2^-8] (9-bit unsigned, 1 integer bit)"},
        "quantizers": qinfo,
        "quantizer_spec_note": "Integer bits are counted INCLUDING the sign bit (ap_fixed<W,I> convention), as "
                               "in the project brief. QKeras's quantized_bits(total, integer, keep_negative) counts "
                               "integer bits excluding the sign, so the original QKeras model's input/accumulator "
                               "grids may differ by one bit from the ones here.",
        "ops": summ["op_type_counts"],
        "graph": summ,
        "onnx_checker": chk,
        "postprocessing": [
            f"Pad node fused into the Conv: Pad pads {pad_pads} (ONNX order N,C,H,W begin then end) -> Conv pads "
            f"{conv_pads} (top,left,bottom,right); removed nodes {removed_ops} and their now unused "
            "initializers. The QONNX executor gives identical outputs for the fused and unfused graphs on all "
            f"{len(samples_in)} samples: {fused_equal}.",
            "No other change: no qonnx cleanup, ir_version left as written by the exporter.",
        ],
        "export": {"function": "brevitas.export.export_qonnx", "dynamo": False, "opset_version": OPSET,
                   "input_names": [INPUT_NAME], "output_names": [OUTPUT_NAME],
                   "keep_initializers_as_inputs": "Brevitas default (True): weights/biases are listed as graph "
                   "inputs AND initializers",
                   "raw_export_op_type_counts": raw_ops},
        "export_quirks": [
            "Weights and biases are float initializers (conv.weight, conv.bias, dense.weight, dense.bias) that go "
            "through Quant nodes inside the graph; they are also listed as graph inputs (keep_initializers_as_inputs).",
            "Quant scale/zero_point/bit_width are scalar float initializers, deduplicated by value across nodes "
            "(one initializer can serve several Quant nodes, e.g. the zero point).",
            "value_info from the TorchScript exporter exists only for Quant outputs; the conv activation Quant output "
            "is declared [Quantlatent_dim_0, 8, Quantlatent_dim_0, <symbol>] although it is [1, 8, 4, 4] (one symbol "
            "used for two different dims), and the graph output is declared [Quantlatent_dim_0, 16]. Infer shapes "
            "yourself from the input shape; do not trust value_info (qonnx InferShapes gets [1,16]).",
            "Flatten (axis=1) in NCHW order: latent = W * flatten(C,H,W) - this is PyTorch order, not Keras HWC.",
            "Gemm has transB=1 (weight stored [16,128]).",
        ],
        "samples": {
            "input": "samples/input.npy", "output": "samples/output.npy",
            "input_shape": list(samples_in.shape), "output_shape": list(out_fused.shape),
            "source": f"the first {len(samples_in)} events of the validation split of the synthetic data set",
            "output_computed_by": "qonnx.core.onnx_exec.execute_onnx on model.onnx (one event per call, batch 1), "
                                  "after dropping the exported value_info and running qonnx InferShapes in memory",
            "fused_vs_unfused_identical": fused_equal,
            "brevitas_vs_executor_identical": torch_equal,
            "brevitas_vs_executor_max_abs_diff": torch_maxdiff,
            "latent_nonzero_fraction": float((out_fused > 0).mean()),
        },
        "training": {
            "data": "SYNTHETIC (the real HGCAL data is not distributed as a package). "
                    + make_dataset.__doc__.replace("\n    ", " ").strip(),
            "events": args.events, "train_events": len(x_train), "val_events": len(x_val),
            "mean_nonzero_cells_per_event": float(nz.mean()),
            "objective": "autoencoder, MSE over the 48 valid cells (mean per cell) between the float decoder "
                         "output and the quantized input; decoder Linear(16,128)-ReLU-Linear(128,64) in float, "
                         "not exported",
            "optimizer": f"Adam, OneCycle lr max 3e-3, batch {batch}, {args.epochs} epochs, seed {SEED}, 1 CPU thread",
            "final_train_loss": train_loss, "final_val_loss": val_loss,
            "baseline_val_loss_mean_event": baseline,
            "history": history,
        },
        "hgcal_layout": {
            "note": "cell k*16+4*i+j of rhombic block k sits at image row 4*(k//2)+i, col 4*(k%2)+j; "
                    "quadrant rows 4-7 x cols 4-7 is unused; xy is the cell centre in units of the cell pitch",
            "cells": [{"cell": c, "row": int(rowcol[c, 0]), "col": int(rowcol[c, 1]),
                       "x": round(float(xy[c, 0]), 4), "y": round(float(xy[c, 1]), 4)} for c in range(48)],
        },
        "versions": versions,
    }
    with open(os.path.join(args.out, "model.json"), "w") as f:
        json.dump(desc, f, indent=1)
        f.write("\n")
    print(f"wrote {args.out}/model.onnx, model.json, samples/*.npy in {time.time() - t0:.0f} s")


if __name__ == "__main__":
    main()
