#!/usr/bin/env python3
"""Writes the ONNX import fixtures of compiler/tests/onnx_fixtures.rs.

Each fixture is a small QONNX model written with onnx.helper (independently of aecc's own
prost types) plus sample inputs and the outputs of the QONNX executor
(qonnx.core.onnx_exec.execute_onnx) on them:

    <name>.onnx  <name>.input.npy  <name>.output<k>.npy   (k = graph output index)

The models use scales whose float32 arithmetic is exact on these inputs (powers of two and
small odd multiples of them), so the executor's float results are the exact QONNX values
and aecc must reproduce them bit for bit.

Run from this directory with the project's training venv:
    /work/venv-train/bin/python make_fixtures.py
"""

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.core.onnx_exec import execute_onnx
from qonnx.transformation.infer_shapes import InferShapes

QONNX = "qonnx.custom_op.general"
rng = np.random.default_rng(20251125)


class Graph:
    def __init__(self):
        self.nodes, self.inits = [], []

    def const(self, name, value, dtype=np.float32):
        self.inits.append(numpy_helper.from_array(np.asarray(value, dtype=dtype), name))
        return name

    def quant(self, name, x, out, scale, zp, bits, signed=1, narrow=0, mode="ROUND"):
        s = self.const(name + "_scale", scale)
        z = self.const(name + "_zp", zp)
        b = self.const(name + "_bits", bits)
        self.nodes.append(helper.make_node("Quant", [x, s, z, b], [out], name=name, domain=QONNX,
                                           signed=signed, narrow=narrow, rounding_mode=mode))
        return out

    def node(self, op, name, inputs, outputs, **attrs):
        self.nodes.append(helper.make_node(op, inputs, outputs, name=name, **attrs))
        return outputs[0]

    def model(self, name, inp, in_shape, outputs):
        g = helper.make_graph(
            self.nodes, name,
            [helper.make_tensor_value_info(inp, TensorProto.FLOAT, in_shape)],
            [helper.make_tensor_value_info(o, TensorProto.FLOAT, shape) for o, shape in outputs],
            initializer=self.inits)
        m = helper.make_model(g, producer_name="aecc-fixtures",
                              opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid(QONNX, 1)])
        m.ir_version = 8
        return m


def grid_weights(shape, step, lo, hi):
    """Random weights on a grid (the Quant nodes still round/saturate some of them)."""
    return (rng.integers(lo, hi + 1, size=shape) * step).astype(np.float32)


def qonnx_ops():
    """Per-channel non-power-of-two scales with zero points, every QONNX rounding mode,
    asymmetric pads, strides/dilations, Transpose, Flatten, MatMul + Add, Add of two
    activations, two outputs."""
    g = Graph()
    g.quant("q_in", "x", "xq", np.array([0.125, 0.375]).reshape(1, 2, 1, 1), np.array([0, -2]).reshape(1, 2, 1, 1), 7)
    g.const("w1", grid_weights((3, 2, 3, 2), 1 / 16, -12, 12))
    g.quant("q_w1", "w1", "w1q", np.array([0.25, 0.1875, 0.5]).reshape(3, 1, 1, 1), 0, 5, narrow=1, mode="CEIL")
    g.const("b1", grid_weights((3,), 1 / 128, -200, 200))
    g.quant("q_b1", "b1", "b1q", 1 / 64, 0, 12, mode="HALF_UP")
    g.node("Conv", "conv", ["xq", "w1q", "b1q"], ["c"], strides=[2, 1], pads=[1, 0, 0, 2], dilations=[1, 2],
           kernel_shape=[3, 2])
    g.node("Relu", "relu", ["c"], ["r"])
    g.quant("q_a", "r", "a", 0.625, 2, 6, signed=0, mode="HALF_DOWN")
    g.node("Transpose", "transpose", ["a"], ["t"], perm=[0, 2, 3, 1])
    g.node("Flatten", "flatten", ["t"], ["f"], axis=1)
    g.const("w2", grid_weights((45, 4), 1 / 32, -40, 40))
    g.quant("q_w2", "w2", "w2q", 1 / 16, 0, 4, narrow=1, mode="FLOOR")
    g.node("MatMul", "matmul", ["f", "w2q"], ["h"])
    g.const("b2", grid_weights((4,), 1 / 16, -60, 60))
    g.quant("q_b2", "b2", "b2q", 1 / 8, 0, 8, mode="UP")
    g.node("Add", "add_bias", ["h", "b2q"], ["h2"])
    g.quant("q_y", "h2", "y", 0.25, 0, 8, mode="DOWN")
    # a second branch: two requantizations of the ReLU output added together
    g.quant("q_up", "r", "r_up", 0.25, 0, 6, signed=0, mode="UP")
    g.quant("q_even", "r", "r_even", 0.5, 0, 5, mode="HALF_EVEN")
    g.node("Add", "add_act", ["r_up", "r_even"], ["s"])
    g.quant("q_z", "s", "z", 0.25, 0, 7, mode="ROUND")
    m = g.model("qonnx_ops", "x", ["batch", 2, 6, 5], [("y", ["batch", 4]), ("z", ["batch", 3, 3, 5])])
    x = (rng.integers(-160, 160, size=(64, 2, 6, 5)) / 64.0).astype(np.float32)
    return m, x


def same_lower_gemm():
    """auto_pad SAME_LOWER, a Reshape whose shape comes from Shape/Gather/Unsqueeze/Concat,
    Gemm with transB, alpha and beta."""
    g = Graph()
    g.quant("q_in", "x", "xq", 2.0 ** -5, 0, 8)
    g.const("w1", grid_weights((2, 1, 3, 3), 1 / 16, -20, 20))
    g.quant("q_w1", "w1", "w1q", 2.0 ** -4, 0, 5)
    g.node("Conv", "conv", ["xq", "w1q"], ["c"], strides=[2, 2], auto_pad="SAME_LOWER", kernel_shape=[3, 3])
    g.node("Relu", "relu", ["c"], ["r"])
    g.quant("q_a", "r", "a", 2.0 ** -4, 0, 8, signed=0)
    g.node("Shape", "shape", ["a"], ["shp"])
    g.const("idx0", 0, np.int64)
    g.node("Gather", "gather", ["shp", "idx0"], ["n"], axis=0)
    g.const("axes0", [0], np.int64)
    g.node("Unsqueeze", "unsqueeze", ["n", "axes0"], ["n1"])
    g.const("minus1", [-1], np.int64)
    g.node("Concat", "concat", ["n1", "minus1"], ["newshape"], axis=0)
    g.node("Reshape", "reshape", ["a", "newshape"], ["f"])
    g.const("w2", grid_weights((5, 32), 1 / 8, -20, 20))
    g.quant("q_w2", "w2", "w2q", 2.0 ** -3, 0, 6)
    g.const("b2", grid_weights((5,), 1 / 32, -50, 50))
    g.quant("q_b2", "b2", "b2q", 2.0 ** -5, 0, 8)
    g.node("Gemm", "gemm", ["f", "w2q", "b2q"], ["d"], transB=1, alpha=0.5, beta=2.0)
    g.quant("q_y", "d", "y", 2.0 ** -4, 0, 10)
    m = g.model("same_lower_gemm", "x", ["batch", 1, 8, 8], [("y", ["batch", 5])])
    x = rng.normal(0, 1.5, size=(64, 1, 8, 8)).astype(np.float32)
    return m, x


def main():
    for make in (qonnx_ops, same_lower_gemm):
        m, x = make()
        name = m.graph.name
        onnx.checker.check_model(m)
        onnx.save(m, f"{name}.onnx")
        np.save(f"{name}.input.npy", x)
        # The executor needs a concrete batch: run a copy with batch 1.
        run = onnx.load(f"{name}.onnx")
        for vi in list(run.graph.input) + list(run.graph.output):
            vi.type.tensor_type.shape.dim[0].dim_value = 1
        mw = ModelWrapper(run).transform(InferShapes())
        outs = [[] for _ in m.graph.output]
        for s in range(x.shape[0]):
            ctx = execute_onnx(mw, {"x": x[s:s + 1]})
            for k, o in enumerate(m.graph.output):
                outs[k].append(ctx[o.name])
        for k, o in enumerate(outs):
            np.save(f"{name}.output{k}.npy", np.concatenate(o).astype(np.float32))
        print(name, x.shape, [np.concatenate(o).shape for o in outs])


if __name__ == "__main__":
    main()
