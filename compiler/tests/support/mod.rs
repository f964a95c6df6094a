//! Test support: a small builder for ONNX models made of aecc's prost messages, and a
//! minimal integer evaluator of the IR used to check imports against reference outputs.
#![allow(dead_code)]

use aecc::ir::{Graph, NodeId, Op};
use aecc::onnx::proto::*;
use prost::Message;
use std::collections::HashMap;

pub const QONNX: &str = "qonnx.custom_op.general";

pub fn a_int(name: &str, v: i64) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        r#type: AttributeType::Int as i32,
        i: v,
        ..Default::default()
    }
}

pub fn a_ints(name: &str, v: &[i64]) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        r#type: AttributeType::Ints as i32,
        ints: v.to_vec(),
        ..Default::default()
    }
}

pub fn a_float(name: &str, v: f32) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        r#type: AttributeType::Float as i32,
        f: v,
        ..Default::default()
    }
}

pub fn a_str(name: &str, v: &str) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        r#type: AttributeType::String as i32,
        s: v.as_bytes().to_vec(),
        ..Default::default()
    }
}

pub fn tensor_f32(name: &str, dims: &[i64], data: &[f32]) -> TensorProto {
    TensorProto {
        name: name.into(),
        dims: dims.to_vec(),
        data_type: DataType::Float as i32,
        raw_data: data.iter().flat_map(|x| x.to_le_bytes()).collect(),
        ..Default::default()
    }
}

pub fn tensor_i64(name: &str, dims: &[i64], data: &[i64]) -> TensorProto {
    TensorProto {
        name: name.into(),
        dims: dims.to_vec(),
        data_type: DataType::Int64 as i32,
        int64_data: data.to_vec(),
        ..Default::default()
    }
}

/// A float tensor value info; a negative dimension is the symbol `batch`.
pub fn value_info(name: &str, dims: &[i64]) -> ValueInfoProto {
    use tensor_shape_proto::{dimension::Value, Dimension};
    ValueInfoProto {
        name: name.into(),
        r#type: Some(TypeProto {
            tensor_type: Some(type_proto::Tensor {
                elem_type: DataType::Float as i32,
                shape: Some(TensorShapeProto {
                    dim: dims
                        .iter()
                        .map(|&d| Dimension {
                            value: Some(if d < 0 {
                                Value::DimParam("batch".into())
                            } else {
                                Value::DimValue(d)
                            }),
                            denotation: String::new(),
                        })
                        .collect(),
                }),
            }),
            denotation: String::new(),
        }),
        ..Default::default()
    }
}

/// Builds an ONNX model node by node.
#[derive(Default)]
pub struct ModelBuilder {
    pub graph: GraphProto,
    pub opset: i64,
    counter: usize,
}

impl ModelBuilder {
    pub fn new() -> ModelBuilder {
        ModelBuilder {
            graph: GraphProto {
                name: "test".into(),
                ..Default::default()
            },
            opset: 17,
            counter: 0,
        }
    }

    pub fn input(&mut self, name: &str, dims: &[i64]) -> &mut Self {
        self.graph.input.push(value_info(name, dims));
        self
    }

    pub fn output(&mut self, name: &str) -> &mut Self {
        self.graph.output.push(value_info(name, &[]));
        self
    }

    pub fn init(&mut self, t: TensorProto) -> &mut Self {
        self.graph.initializer.push(t);
        self
    }

    pub fn f32(&mut self, name: &str, dims: &[i64], data: &[f32]) -> &mut Self {
        self.init(tensor_f32(name, dims, data))
    }

    pub fn i64(&mut self, name: &str, dims: &[i64], data: &[i64]) -> &mut Self {
        self.init(tensor_i64(name, dims, data))
    }

    /// Adds a node in the default domain; returns it for further changes.
    pub fn node(
        &mut self,
        op: &str,
        name: &str,
        inputs: &[&str],
        outputs: &[&str],
        attrs: Vec<AttributeProto>,
    ) -> &mut NodeProto {
        self.graph.node.push(NodeProto {
            name: name.into(),
            op_type: op.into(),
            input: inputs.iter().map(|s| s.to_string()).collect(),
            output: outputs.iter().map(|s| s.to_string()).collect(),
            attribute: attrs,
            ..Default::default()
        });
        self.graph.node.last_mut().unwrap()
    }

    /// A QONNX Quant node with constant parameters: `scale` has shape `scale_dims`.
    #[allow(clippy::too_many_arguments)]
    pub fn quant_full(
        &mut self,
        name: &str,
        x: &str,
        out: &str,
        scale: &[f32],
        scale_dims: &[i64],
        zero_point: f32,
        bits: f32,
        signed: bool,
        narrow: bool,
        mode: &str,
    ) -> &mut Self {
        self.counter += 1;
        let (s, z, b) = (
            format!("{name}_scale"),
            format!("{name}_zp"),
            format!("{name}_bits"),
        );
        self.f32(&s, scale_dims, scale);
        self.f32(&z, &[], &[zero_point]);
        self.f32(&b, &[], &[bits]);
        let n = self.node(
            "Quant",
            name,
            &[x, &s, &z, &b],
            &[out],
            vec![
                a_int("signed", signed as i64),
                a_int("narrow", narrow as i64),
                a_str("rounding_mode", mode),
            ],
        );
        n.domain = QONNX.into();
        self
    }

    /// A per-tensor, power-of-two, round-half-even Quant: `bits` wide, `frac` fractional.
    pub fn quant(
        &mut self,
        name: &str,
        x: &str,
        out: &str,
        bits: u32,
        frac: i32,
        signed: bool,
    ) -> &mut Self {
        let scale = (2.0f32).powi(-frac);
        self.quant_full(
            name,
            x,
            out,
            &[scale],
            &[],
            0.0,
            bits as f32,
            signed,
            false,
            "ROUND",
        )
    }

    pub fn model(&self) -> ModelProto {
        ModelProto {
            ir_version: Some(8),
            opset_import: vec![
                OperatorSetIdProto {
                    domain: String::new(),
                    version: self.opset,
                },
                OperatorSetIdProto {
                    domain: QONNX.into(),
                    version: 1,
                },
            ],
            producer_name: "aecc-tests".into(),
            producer_version: "0".into(),
            graph: Some(self.graph.clone()),
            ..Default::default()
        }
    }

    pub fn bytes(&self) -> Vec<u8> {
        self.model().encode_to_vec()
    }
}

// -----------------------------------------------------------------------------------------
// A minimal evaluator of the IR (the reference lives in runtime-sim; this one only checks
// that imports compute what the ONNX model computes).
// -----------------------------------------------------------------------------------------

/// Runs the graph on one sample of real-valued inputs (one slice per graph input, in
/// graph-input order). Returns each output as real values (`int * 2^-frac`, exact).
pub fn eval_real(graph: &Graph, inputs: &[&[f64]]) -> Vec<Vec<f64>> {
    let mut vals: HashMap<NodeId, Vec<i128>> = HashMap::new();
    for (k, &id) in graph.inputs().iter().enumerate() {
        let n = graph.node(id);
        let Op::Input {
            from_float: Some(q),
        } = &n.op
        else {
            panic!("input without quantizer")
        };
        let v = inputs[k]
            .iter()
            .enumerate()
            .map(|(i, &x)| q.quantize_f64(x, q.channel_of(i, &n.out.shape)).unwrap())
            .collect();
        vals.insert(id, v);
    }
    for id in graph.compute_nodes().unwrap() {
        let n = graph.node(id);
        let ops = graph.operands(id);
        let x = &vals[&ops[0]];
        let xin = &graph.node(ops[0]).out;
        let y: Vec<i128> = match &n.op {
            Op::Quantize(q) => x
                .iter()
                .enumerate()
                .map(|(i, &v)| q.quantize_int(v, xin.ty.frac, q.channel_of(i, &xin.shape)))
                .collect(),
            Op::Relu => x.iter().map(|&v| v.max(0)).collect(),
            Op::Dense(_) | Op::Conv(_) => {
                let xs: Vec<i64> = x.iter().map(|&v| v as i64).collect();
                n.op.linear_map(xin).unwrap().eval(&xs)
            }
            Op::Add => {
                let b = &vals[&ops[1]];
                let bin = &graph.node(ops[1]).out;
                let f = n.out.ty.frac;
                x.iter()
                    .zip(b)
                    .map(|(&p, &q)| (p << (f - xin.ty.frac)) + (q << (f - bin.ty.frac)))
                    .collect()
            }
            Op::Reshape { .. } => x.clone(),
            Op::Transpose { perm } => {
                let shape = &xin.shape;
                let mut strides = vec![1usize; shape.len()];
                for i in (0..shape.len().saturating_sub(1)).rev() {
                    strides[i] = strides[i + 1] * shape[i + 1];
                }
                let out_shape = &n.out.shape;
                let mut out = Vec::with_capacity(x.len());
                let mut pos = vec![0usize; out_shape.len()];
                for _ in 0..x.len() {
                    let src: usize = pos.iter().zip(perm).map(|(&p, &a)| p * strides[a]).sum();
                    out.push(x[src]);
                    for a in (0..pos.len()).rev() {
                        pos[a] += 1;
                        if pos[a] < out_shape[a] {
                            break;
                        }
                        pos[a] = 0;
                    }
                }
                out
            }
            Op::Input { .. } => unreachable!(),
        };
        for &v in &y {
            assert!(n.out.interval.contains(v), "{} out of its interval", n.name);
        }
        vals.insert(id, y);
    }
    graph
        .outputs()
        .iter()
        .map(|(_, id)| {
            let t = &graph.node(*id).out;
            vals[id].iter().map(|&v| t.ty.to_f64(v)).collect()
        })
        .collect()
}
