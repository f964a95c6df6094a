#!/usr/bin/env python3
"""Writes the channels-last fixture of compiler/tests/channels_last.rs.

A small QONNX encoder (Quant -> Conv -> BatchNormalization -> Relu -> Quant -> MaxPool ->
Flatten -> Gemm -> Quant) converted by qonnx's own ConvertToChannelsLastAndClean: the
result has Conv/BatchNormalization/MaxPool in the domain qonnx.custom_op.channels_last
between Transpose nodes, as qonnx writes it for FINN. The outputs are the QONNX
executor's on the converted model, which must equal the channels-first model's.

Run from this directory with the project's training venv:
    /work/venv-train/bin/python make_channels_last.py
"""

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.core.onnx_exec import execute_onnx
from qonnx.transformation.channels_last import ConvertToChannelsLastAndClean
from qonnx.transformation.infer_shapes import InferShapes

QONNX = "qonnx.custom_op.general"
rng = np.random.default_rng(7)
nodes, inits = [], []


def const(name, value):
    inits.append(numpy_helper.from_array(np.asarray(value, dtype=np.float32), name))
    return name


def quant(x, out, scale, bits, signed=1):
    nodes.append(helper.make_node("Quant", [x, const(out + "_s", scale), const(out + "_z", 0.0),
                                            const(out + "_b", float(bits))], [out], domain=QONNX,
                                  signed=signed, narrow=0, rounding_mode="ROUND"))
    return out


quant("x", "xq", 2.0 ** -5, 8)
quant(const("w", rng.integers(-20, 20, size=(4, 2, 3, 3)) / 16.0), "wq", 2.0 ** -4, 6)
nodes.append(helper.make_node("Conv", ["xq", "wq"], ["c"], kernel_shape=[3, 3], pads=[1, 1, 1, 1],
                              strides=[1, 1], dilations=[1, 1], group=1))
nodes.append(helper.make_node("BatchNormalization",
                              ["c", const("g", [1.5, 0.5, 1.0, 2.0]), const("bt", [0.25, 0, -0.5, 1]),
                               const("mu", [0, 0.5, 0.25, -1]), const("var", [1, 4, 0.25, 1])],
                              ["bn"], epsilon=0.0))
nodes.append(helper.make_node("Relu", ["bn"], ["r"]))
quant("r", "rq", 2.0 ** -3, 8, signed=0)
nodes.append(helper.make_node("MaxPool", ["rq"], ["mp"], kernel_shape=[2, 2], strides=[2, 2],
                              pads=[0, 0, 0, 0]))
nodes.append(helper.make_node("Flatten", ["mp"], ["f"], axis=1))
quant(const("wg", rng.integers(-16, 16, size=(36, 5)) / 16.0), "wgq", 2.0 ** -4, 6)
nodes.append(helper.make_node("MatMul", ["f", "wgq"], ["m"]))
quant("m", "y", 2.0 ** -3, 10)
g = helper.make_graph(nodes, "channels_last", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2, 6, 6])],
                      [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 5])], initializer=inits)
m = helper.make_model(g, producer_name="aecc-fixtures",
                      opset_imports=[helper.make_opsetid("", 13), helper.make_opsetid(QONNX, 1)])
first = ModelWrapper(m).transform(InferShapes())
last = first.transform(ConvertToChannelsLastAndClean())
domains = sorted({n.domain for n in last.graph.node})
assert "qonnx.custom_op.channels_last" in domains, domains
last.save("channels_last.onnx")
xs = (rng.integers(-160, 160, size=(32, 1, 2, 6, 6)) / 64.0).astype(np.float32)
ys = []
for x in xs:
    a = execute_onnx(first, {"x": x})["y"]
    b = execute_onnx(last, {last.graph.input[0].name: x})[last.graph.output[0].name]
    assert np.array_equal(a, b)
    ys.append(b)
np.save("channels_last.input.npy", xs[:, 0])
np.save("channels_last.output.npy", np.concatenate(ys).astype(np.float32))
print([(n.op_type, n.domain) for n in last.graph.node])
