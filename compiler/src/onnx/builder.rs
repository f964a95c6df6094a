//! Building ONNX models programmatically from aecc's prost messages: for model
//! generators (`examples/synth_encoder.rs`), fuzzers and tests.
//!
//! ```
//! use aecc::onnx::builder::ModelBuilder;
//! let mut b = ModelBuilder::new();
//! b.input("x", &[1, 4]);
//! b.quant("qx", "x", "xq", 8, 4, true);
//! b.node("Relu", "relu", &["xq"], &["y"], vec![]);
//! b.output("y");
//! let model = aecc::onnx::import_bytes(&b.bytes()).unwrap();
//! assert_eq!(model.graph.outputs().len(), 1);
//! ```

use super::proto::*;
use prost::Message;

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
#[derive(Default, Clone)]
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
