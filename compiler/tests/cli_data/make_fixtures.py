"""Generates the small ONNX fixtures used by compiler/tests/cli.rs.

Run with the models' Python environment (onnx==1.20.1):
    python compiler/tests/cli_data/make_fixtures.py
Each file is a QONNX-style graph built by hand with onnx.helper, a few hundred bytes.
"""
import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
QDOM = "qonnx.custom_op.general"


def quant(name, x, out, scale, bits, signed=1, narrow=0, mode="ROUND"):
    inits = [
        numpy_helper.from_array(np.array(scale, dtype=np.float32), f"{name}_scale"),
        numpy_helper.from_array(np.array(0.0, dtype=np.float32), f"{name}_zp"),
        numpy_helper.from_array(np.array(float(bits), dtype=np.float32), f"{name}_bits"),
    ]
    node = helper.make_node(
        "Quant", [x, f"{name}_scale", f"{name}_zp", f"{name}_bits"], [out], name=name, domain=QDOM,
        signed=signed, narrow=narrow, rounding_mode=mode,
    )
    return node, inits


def dense_model(w_shape=(4, 3), drop_weight=False, extra_nodes=()):
    rng = np.random.default_rng(0)
    nodes, inits = [], []
    n, i = quant("q_in", "x", "xq", 2.0**-4, 8)
    nodes.append(n); inits += i
    w = rng.integers(-8, 8, size=w_shape).astype(np.float32) / 8.0
    if not drop_weight:
        inits.append(numpy_helper.from_array(w, "W"))
    n, i = quant("q_w", "W", "Wq", 2.0**-3, 5)
    nodes.append(n); inits += i
    nodes.append(helper.make_node("MatMul", ["xq", "Wq"], ["acc"], name="matmul"))
    nodes.append(helper.make_node("Relu", ["acc"], ["act"], name="relu"))
    last = "act"
    for k, op in enumerate(extra_nodes):
        nodes.append(helper.make_node(op, [last], [f"extra{k}"], name=f"{op.lower()}_{k}"))
        last = f"extra{k}"
    n, i = quant("q_out", last, "y", 2.0**-4, 8, signed=0)
    nodes.append(n); inits += i
    g = helper.make_graph(
        nodes, "tiny_dense",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, w_shape[1]])],
        inits,
    )
    m = helper.make_model(g, producer_name="aecc-fixtures", opset_imports=[helper.make_opsetid("", 13), helper.make_opsetid(QDOM, 1)])
    m.ir_version = 8
    return m


def save(m, name):
    path = os.path.join(HERE, name)
    onnx.save(m, path)
    print("wrote", path, os.path.getsize(path), "bytes")


save(dense_model(), "tiny_dense.onnx")
save(dense_model(extra_nodes=("Hardmax", "LRN")), "unsupported_ops.onnx")
save(dense_model(drop_weight=True), "missing_initializer.onnx")
save(dense_model(w_shape=(5, 3)), "shape_mismatch.onnx")
