#!/usr/bin/env python3
"""Writes the opset / IR-version fixtures of compiler/tests/opsets.rs.

One small encoder in the form each ONNX opset writes it, for opsets 7, 9, 10, 11, 13, 17,
19 and 21, each with the IR version that opset was released with (3 for opsets 7-8, where
every initializer must also be listed as a graph input):

    input -> Quant (QONNX) or QuantizeLinear -> Pad -> Conv -> BatchNormalization ->
    Clip -> MaxPool -> Unsqueeze -> Slice -> Squeeze -> Flatten -> Gemm -> Dropout ->
    Quant / QuantizeLinear + DequantizeLinear

The ops whose inputs/attributes changed across these opsets are written the way their
opset defines them: Pad (pads/value attributes before 11, inputs after), Clip (min/max
attributes before 11), Squeeze/Unsqueeze (axes attribute before 13), Slice (attributes
before 10), BatchNormalization (`spatial` before 9), MaxPool (no dilations before 10),
Dropout (ratio attribute before 12, inputs after), QuantizeLinear (from opset 10; QONNX
Quant before).

Scales are powers of two (the executor's float32 arithmetic is exact there), so the
outputs are the exact values and aecc must reproduce them bit for bit.

Outputs: `opset<V>.onnx`, `opset<V>.input.npy`, `opset<V>.output.npy` (QONNX executor,
which runs standard ops through onnxruntime with the model's opset).

Run from this directory with the project's training venv:
    /work/venv-train/bin/python make_opset_models.py
"""

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.core.onnx_exec import execute_onnx
from qonnx.transformation.infer_shapes import InferShapes

QONNX = "qonnx.custom_op.general"
IR_OF_OPSET = {7: 3, 9: 4, 10: 5, 11: 6, 13: 7, 17: 8, 19: 9, 21: 10}


def build(opset):
    rng = np.random.default_rng(1000 + opset)
    nodes, inits = [], []

    def const(name, value, dtype=np.float32):
        inits.append(numpy_helper.from_array(np.asarray(value, dtype=dtype), name))
        return name

    def node(op, inputs, outputs, domain="", **attrs):
        nodes.append(helper.make_node(op, inputs, outputs, name=f"{op.lower()}_{len(nodes)}",
                                      domain=domain, **attrs))
        return outputs[0]

    def quant(x, out, scale, bits, signed=1):
        s = const(out + "_s", scale)
        z = const(out + "_z", 0.0)
        b = const(out + "_b", float(bits))
        return node("Quant", [x, s, z, b], [out], domain=QONNX, signed=signed, narrow=0,
                    rounding_mode="ROUND")

    def quantize(x, out, scale, zp, dtype):
        # QuantizeLinear/DequantizeLinear from opset 10, QONNX Quant before
        if opset >= 10:
            s = const(out + "_s", scale)
            z = const(out + "_z", zp, dtype)
            q = node("QuantizeLinear", [x, s, z], [out + "_q"])
            return node("DequantizeLinear", [q, s, z], [out])
        bits = 8
        signed = 1 if dtype == np.int8 else 0
        return quant(x, out, scale, bits, signed)

    x = quantize("x", "xq", 2.0 ** -5, 0, np.int8)
    # Pad: zero padding of H/W (folded into the Conv)
    pads = [0, 0, 1, 0, 0, 0, 0, 1]
    if opset >= 11:
        p = node("Pad", [x, const("pads", pads, np.int64)], ["xp"])
    else:
        p = node("Pad", [x], ["xp"], pads=pads, value=0.0)
    w = quant(const("w", rng.integers(-24, 24, size=(3, 2, 3, 3)) / 32.0), "wq", 2.0 ** -5, 6)
    c = node("Conv", [p, w], ["c"], kernel_shape=[3, 3], pads=[1, 0, 0, 1])
    bn_inputs = [c, const("gamma", [1.5, 0.75, 1.0]), const("beta", [0.125, -0.25, 0.5]),
                 const("mean", [0.0, 0.25, -0.5]), const("var", [0.75, 1.0, 3.0])]
    if opset < 9:
        b = node("BatchNormalization", bn_inputs, ["bn"], epsilon=0.25, spatial=1)
    else:
        b = node("BatchNormalization", bn_inputs, ["bn"], epsilon=0.25)
    b = quant(b, "bnq", 2.0 ** -4, 8)
    if opset >= 11:
        cl = node("Clip", [b, const("lo", -1.5), const("hi", 2.0)], ["cl"])
    else:
        cl = node("Clip", [b], ["cl"], min=-1.5, max=2.0)
    if opset >= 10:
        mp = node("MaxPool", [cl], ["mp"], kernel_shape=[2, 2], strides=[2, 2], dilations=[1, 1])
    else:
        mp = node("MaxPool", [cl], ["mp"], kernel_shape=[2, 2], strides=[2, 2])
    # Unsqueeze -> Slice -> Squeeze: drop the last column
    if opset >= 13:
        u = node("Unsqueeze", [mp, const("ax", [4], np.int64)], ["u"])
    else:
        u = node("Unsqueeze", [mp], ["u"], axes=[4])
    if opset >= 10:
        sl = node("Slice", [u, const("st", [0], np.int64), const("en", [2], np.int64),
                            const("sa", [3], np.int64)], ["sl"])
    else:
        sl = node("Slice", [u], ["sl"], starts=[0], ends=[2], axes=[3])
    if opset >= 13:
        sq = node("Squeeze", [sl, const("ax2", [4], np.int64)], ["sq"])
    else:
        sq = node("Squeeze", [sl], ["sq"], axes=[4])
    f = node("Flatten", [sq], ["f"], axis=1)
    wg = quant(const("wg", rng.integers(-16, 16, size=(4, 18)) / 16.0), "wgq", 2.0 ** -4, 6)
    bg = quant(const("bg", rng.integers(-64, 64, size=(4,)) / 64.0), "bgq", 2.0 ** -9, 16)
    g = node("Gemm", [f, wg, bg], ["g"], transB=1)
    if opset >= 12:
        d = node("Dropout", [g, const("ratio", 0.5)], ["d"])
    else:
        d = node("Dropout", [g], ["d"], ratio=0.5)
    quantize(d, "y", 2.0 ** -4, 0, np.int8)

    inputs = [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2, 6, 6])]
    if IR_OF_OPSET[opset] < 4:
        # IR 3: every initializer is also a graph input
        inputs += [helper.make_tensor_value_info(t.name, t.data_type, list(t.dims)) for t in inits]
    graph = helper.make_graph(nodes, f"opset{opset}", inputs,
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])],
                              initializer=inits)
    m = helper.make_model(graph, producer_name="aecc-opset-fixtures",
                          opset_imports=[helper.make_opsetid("", opset),
                                         helper.make_opsetid(QONNX, 1)])
    m.ir_version = IR_OF_OPSET[opset]
    x = (rng.integers(-160, 160, size=(32, 1, 2, 6, 6)) / 64.0).astype(np.float32)
    return m, x


def main():
    for opset in sorted(IR_OF_OPSET):
        m, xs = build(opset)
        name = m.graph.name
        onnx.save(m, f"{name}.onnx")
        mw = ModelWrapper(onnx.load(f"{name}.onnx")).transform(InferShapes())
        ys = np.concatenate([execute_onnx(mw, {"x": x})["y"] for x in xs]).astype(np.float32)
        np.save(f"{name}.input.npy", xs[:, 0])
        np.save(f"{name}.output.npy", ys)
        print(name, "ir", m.ir_version, xs.shape, ys.shape)


if __name__ == "__main__":
    main()
