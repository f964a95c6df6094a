//! Support of aecc's fuzz targets: the seed models, the structure-aware mutator and the
//! oracle ([`check`]).
//!
//! The mutator reads its decisions from the fuzzer's bytes through
//! [`arbitrary::Unstructured`]: which valid model to start from, then a short list of
//! edits that keep the protobuf well formed but break the model in the ways real
//! exports and hand edits do: shapes and dimensions, attributes (value and type), bit
//! widths, scales and zero points, weight values and tensor data, edges (rewiring,
//! cycles, duplicate and dangling names), op types and domains, graph outputs.

pub mod check;

use aecc::onnx::proto::{
    tensor_shape_proto::{dimension, Dimension},
    AttributeProto, AttributeType, DataType, ModelProto, NodeProto, TensorProto,
};
use arbitrary::{Result, Unstructured};
use prost::Message;

/// The valid models mutations start from (file name, bytes).
pub const SEEDS: &[(&str, &[u8])] = &[
    ("econt", include_bytes!("../../models/econt/model.onnx")),
    (
        "dense_ae",
        include_bytes!("../../models/dense_ae/model.onnx"),
    ),
    (
        "tiny_dense",
        include_bytes!("../../compiler/tests/cli_data/tiny_dense.onnx"),
    ),
    (
        "qonnx_ops",
        include_bytes!("../../compiler/tests/data/qonnx_ops.onnx"),
    ),
    (
        "same_lower_gemm",
        include_bytes!("../../compiler/tests/data/same_lower_gemm.onnx"),
    ),
];

/// Values that sit on the edges of aecc's checks.
const INTS: &[i64] = &[
    -1,
    0,
    1,
    2,
    3,
    4,
    7,
    8,
    16,
    63,
    64,
    65,
    127,
    128,
    255,
    1 << 20,
    1 << 24,
    1 << 28,
    1 << 31,
    1 << 40,
    1 << 62,
    i64::MAX,
    i64::MIN,
    -7,
    -(1 << 31),
];

const FLOATS: &[f32] = &[
    0.0,
    -0.0,
    1.0,
    -1.0,
    0.5,
    0.25,
    0.125,
    0.0078125,
    0.1,
    3.0,
    0.375,
    2.0,
    8.0,
    63.0,
    64.0,
    65.0,
    1e-30,
    1e30,
    1e-45,
    f32::MIN_POSITIVE,
    f32::MAX,
    f32::EPSILON,
    f32::NAN,
    f32::INFINITY,
    f32::NEG_INFINITY,
    4.5,
    0.75,
    1.5e-5,
];

const ATTRIBUTES: &[&str] = &[
    "strides",
    "pads",
    "dilations",
    "group",
    "kernel_shape",
    "auto_pad",
    "axis",
    "axes",
    "perm",
    "transA",
    "transB",
    "alpha",
    "beta",
    "signed",
    "narrow",
    "rounding_mode",
    "allowzero",
    "to",
    "value",
    "value_int",
    "value_ints",
    "value_float",
    "mode",
    "start",
    "end",
];

const OPS: &[&str] = &[
    "Quant",
    "Gemm",
    "MatMul",
    "Add",
    "Conv",
    "Pad",
    "Relu",
    "Flatten",
    "Reshape",
    "Transpose",
    "Identity",
    "Squeeze",
    "Unsqueeze",
    "Shape",
    "Gather",
    "Concat",
    "Cast",
    "Constant",
    "QuantizeLinear",
    "BatchNormalization",
];

const DOMAINS: &[&str] = &[
    "",
    "ai.onnx",
    "qonnx.custom_op.general",
    "finn.custom_op.general",
    "onnx.brevitas",
    "com.example",
];

fn int(u: &mut Unstructured<'_>) -> Result<i64> {
    if u.ratio(3, 4)? {
        Ok(*u.choose(INTS)?)
    } else {
        u.arbitrary()
    }
}

fn float(u: &mut Unstructured<'_>) -> Result<f32> {
    if u.ratio(3, 4)? {
        Ok(*u.choose(FLOATS)?)
    } else {
        u.arbitrary()
    }
}

/// Every tensor name of the graph (inputs, initializers, node outputs).
fn tensor_names(m: &ModelProto) -> Vec<String> {
    let g = m.graph.as_ref().expect("seed models have a graph");
    g.input
        .iter()
        .map(|v| v.name.clone())
        .chain(g.initializer.iter().map(|t| t.name.clone()))
        .chain(g.node.iter().flat_map(|n| n.output.iter().cloned()))
        .collect()
}

fn f32_tensor(name: String, dims: Vec<i64>, data: &[f32]) -> TensorProto {
    TensorProto {
        name,
        dims,
        data_type: DataType::Float as i32,
        raw_data: data.iter().flat_map(|x| x.to_le_bytes()).collect(),
        ..Default::default()
    }
}

fn random_attribute(u: &mut Unstructured<'_>, name: String) -> Result<AttributeProto> {
    let mut a = AttributeProto {
        name,
        ..Default::default()
    };
    match u.int_in_range(0..=4)? {
        0 => {
            a.r#type = AttributeType::Int as i32;
            a.i = int(u)?;
        }
        1 => {
            a.r#type = AttributeType::Ints as i32;
            let n = u.int_in_range(0..=8)?;
            a.ints = (0..n).map(|_| int(u)).collect::<Result<_>>()?;
        }
        2 => {
            a.r#type = AttributeType::Float as i32;
            a.f = float(u)?;
        }
        3 => {
            a.r#type = AttributeType::String as i32;
            a.s = u
                .choose(&[
                    "SAME_UPPER",
                    "SAME_LOWER",
                    "VALID",
                    "NOTSET",
                    "ROUND",
                    "FLOOR",
                    "CEIL",
                    "HALF_UP",
                    "ROUND_TO_ZERO",
                    "bogus",
                    "",
                ])?
                .as_bytes()
                .to_vec();
        }
        _ => {
            // a type that does not match the payload (or none at all)
            a.r#type = u.int_in_range(0..=14)?;
            a.i = int(u)?;
            a.f = float(u)?;
        }
    }
    Ok(a)
}

fn pick<'a, T>(u: &mut Unstructured<'_>, v: &'a mut [T]) -> Result<Option<&'a mut T>> {
    if v.is_empty() {
        return Ok(None);
    }
    let i = u.choose_index(v.len())?;
    Ok(v.get_mut(i))
}

/// One edit of the model, chosen by the fuzzer's bytes.
fn mutate_once(m: &mut ModelProto, u: &mut Unstructured<'_>) -> Result<()> {
    let names = tensor_names(m);
    let g = m.graph.as_mut().expect("seed models have a graph");
    match u.int_in_range(0..=17)? {
        // a graph input dimension (zero, negative, huge, symbolic)
        0 => {
            if let Some(vi) = pick(u, &mut g.input)? {
                if let Some(shape) = vi
                    .r#type
                    .as_mut()
                    .and_then(|t| t.tensor_type.as_mut())
                    .and_then(|t| t.shape.as_mut())
                {
                    let value = if u.ratio(1, 8)? {
                        dimension::Value::DimParam("N".into())
                    } else {
                        dimension::Value::DimValue(int(u)?)
                    };
                    match u.int_in_range(0..=3)? {
                        0 if !shape.dim.is_empty() => {
                            shape.dim.pop();
                        }
                        1 => shape.dim.push(Dimension {
                            value: Some(value),
                            denotation: String::new(),
                        }),
                        _ => {
                            if let Some(d) = pick(u, &mut shape.dim)? {
                                d.value = Some(value);
                            }
                        }
                    }
                }
            }
        }
        // an attribute: new value, new type, removed
        1 | 2 => {
            if let Some(n) = pick(u, &mut g.node)? {
                let name = if !n.attribute.is_empty() && u.ratio(2, 3)? {
                    n.attribute[u.choose_index(n.attribute.len())?].name.clone()
                } else {
                    u.choose(ATTRIBUTES)?.to_string()
                };
                n.attribute.retain(|a| a.name != name);
                if u.ratio(5, 6)? {
                    let a = random_attribute(u, name)?;
                    n.attribute.push(a);
                }
            }
        }
        // a scalar initializer (Quant scale, zero point, bit width; Gemm factors)
        3 | 4 => {
            let scalars: Vec<usize> = (0..g.initializer.len())
                .filter(|&i| {
                    let dims = &g.initializer[i].dims;
                    dims.iter().all(|&d| d == 1) || dims.is_empty()
                })
                .collect();
            if !scalars.is_empty() {
                let i = scalars[u.choose_index(scalars.len())?];
                let name = g.initializer[i].name.clone();
                let dims = g.initializer[i].dims.clone();
                g.initializer[i] = f32_tensor(name, dims, &[float(u)?]);
            }
        }
        // one element of a weight tensor
        5 => {
            if let Some(t) = pick(u, &mut g.initializer)? {
                if t.data_type == DataType::Float as i32 && t.raw_data.len() >= 4 {
                    let k = u.choose_index(t.raw_data.len() / 4)?;
                    t.raw_data[4 * k..4 * k + 4].copy_from_slice(&float(u)?.to_le_bytes());
                } else if !t.float_data.is_empty() {
                    let k = u.choose_index(t.float_data.len())?;
                    t.float_data[k] = float(u)?;
                }
            }
        }
        // an initializer's shape (data left as is, or resized to match)
        6 => {
            if let Some(t) = pick(u, &mut g.initializer)? {
                match u.int_in_range(0..=2)? {
                    0 => {
                        if let Some(d) = pick(u, &mut t.dims)? {
                            *d = int(u)?;
                        }
                    }
                    1 => t.dims.push(*u.choose(&[1i64, 2, 0, -1])?),
                    _ => {
                        t.dims.pop();
                    }
                }
            }
        }
        // an initializer's element type or raw bytes
        7 => {
            if let Some(t) = pick(u, &mut g.initializer)? {
                if u.ratio(1, 2)? {
                    t.data_type = u.int_in_range(0..=21)?;
                } else {
                    let len = t.raw_data.len();
                    let cut = u.int_in_range(0..=len)?;
                    t.raw_data.truncate(cut);
                }
            }
        }
        // rewire an edge: to another tensor (maybe a later one: cycles), or to nothing
        8 | 9 => {
            if let Some(n) = pick(u, &mut g.node)? {
                if let Some(inp) = pick(u, &mut n.input)? {
                    *inp = match u.int_in_range(0..=5)? {
                        0 => String::new(),
                        1 => "dangling".into(),
                        _ => u.choose(&names)?.clone(),
                    };
                }
            }
        }
        // rename a node output (duplicates, dangling readers)
        10 => {
            if let Some(n) = pick(u, &mut g.node)? {
                if let Some(o) = pick(u, &mut n.output)? {
                    *o = u.choose(&names)?.clone();
                }
            }
        }
        // op type or domain
        11 => {
            if let Some(n) = pick(u, &mut g.node)? {
                if u.ratio(2, 3)? {
                    n.op_type = u.choose(OPS)?.to_string();
                }
                if u.ratio(1, 2)? {
                    n.domain = u.choose(DOMAINS)?.to_string();
                }
            }
        }
        // remove or duplicate a node
        12 => {
            if !g.node.is_empty() {
                let i = u.choose_index(g.node.len())?;
                if u.ratio(1, 2)? {
                    g.node.remove(i);
                } else {
                    let copy: NodeProto = g.node[i].clone();
                    let at = u.int_in_range(0..=g.node.len())?;
                    g.node.insert(at, copy);
                }
            }
        }
        // graph outputs
        13 => {
            if u.ratio(1, 2)? && !g.output.is_empty() {
                let i = u.choose_index(g.output.len())?;
                g.output[i].name = u.choose(&names)?.clone();
            } else if let Some(first) = g.output.first().cloned() {
                let mut o = first;
                o.name = u.choose(&names)?.clone();
                g.output.push(o);
            }
        }
        // node order
        14 => {
            if g.node.len() >= 2 {
                let i = u.choose_index(g.node.len())?;
                let j = u.choose_index(g.node.len())?;
                g.node.swap(i, j);
            }
        }
        // insert a node reading existing tensors, and make something read its output
        15 | 16 => {
            let fresh = format!("fz{}", g.node.len() + g.initializer.len());
            let x = u.choose(&names)?.clone();
            let mut node = NodeProto {
                name: fresh.clone(),
                output: vec![fresh.clone()],
                ..Default::default()
            };
            match u.int_in_range(0..=4)? {
                0 => {
                    // a quantizer with fresh parameters
                    let params = ["scale", "zp", "bits"].map(|p| format!("{fresh}_{p}"));
                    let values = [float(u)?, float(u)?.trunc(), float(u)?.trunc()];
                    for (p, v) in params.iter().zip(values) {
                        g.initializer.push(f32_tensor(p.clone(), vec![], &[v]));
                    }
                    node.op_type = "Quant".into();
                    node.domain = "qonnx.custom_op.general".into();
                    node.input = std::iter::once(x).chain(params).collect();
                    for name in ["signed", "narrow"] {
                        node.attribute.push(AttributeProto {
                            name: name.into(),
                            r#type: AttributeType::Int as i32,
                            i: u.int_in_range(0..=1)?,
                            ..Default::default()
                        });
                    }
                    node.attribute
                        .push(random_attribute(u, "rounding_mode".into())?);
                }
                1 => {
                    node.op_type = "Add".into();
                    node.input = vec![x, u.choose(&names)?.clone()];
                }
                2 => {
                    node.op_type = "Relu".into();
                    node.input = vec![x];
                }
                3 => {
                    node.op_type = "Transpose".into();
                    node.input = vec![x];
                    node.attribute.push(random_attribute(u, "perm".into())?);
                }
                _ => {
                    let shape = format!("{fresh}_shape");
                    let n = u.int_in_range(1..=4)?;
                    let dims: Vec<i64> = (0..n)
                        .map(|_| Ok(*u.choose(&[-1i64, 0, 1, 2, 4, 8, 16, 128])?))
                        .collect::<Result<_>>()?;
                    g.initializer.push(TensorProto {
                        name: shape.clone(),
                        dims: vec![n as i64],
                        data_type: DataType::Int64 as i32,
                        int64_data: dims,
                        ..Default::default()
                    });
                    node.op_type = "Reshape".into();
                    node.input = vec![x, shape];
                }
            }
            let at = u.int_in_range(0..=g.node.len())?;
            g.node.insert(at, node);
            // a reader: a later node's input, or the graph output
            if u.ratio(1, 2)? && !g.output.is_empty() {
                g.output[0].name = fresh;
            } else if let Some(n) = pick(u, &mut g.node)? {
                if let Some(inp) = pick(u, &mut n.input)? {
                    *inp = fresh;
                }
            }
        }
        // model header: ir_version, opsets
        _ => match u.int_in_range(0..=2)? {
            0 => m.ir_version = Some(int(u)?),
            1 => {
                if let Some(o) = pick(u, &mut m.opset_import)? {
                    o.version = int(u)?;
                }
            }
            _ => {
                if let Some(o) = pick(u, &mut m.opset_import)? {
                    o.domain = u.choose(DOMAINS)?.to_string();
                }
            }
        },
    }
    Ok(())
}

/// The model the fuzzer's bytes describe: a seed and up to 8 edits, serialised.
pub fn mutated_model(data: &[u8]) -> Vec<u8> {
    let mut u = Unstructured::new(data);
    let seed = u.choose_index(SEEDS.len()).unwrap_or(0);
    let mut model = ModelProto::decode(SEEDS[seed].1).expect("seed models decode");
    let edits = u.int_in_range(0..=8u8).unwrap_or(0);
    for _ in 0..edits {
        if mutate_once(&mut model, &mut u).is_err() {
            break; // out of bytes: keep the edits made so far
        }
    }
    model.encode_to_vec()
}

/// A seed for the simulator's input vectors from the fuzzer's bytes.
pub fn data_seed(data: &[u8]) -> u64 {
    data.iter().fold(0xcbf29ce484222325u64, |h, &b| {
        (h ^ b as u64).wrapping_mul(0x100000001b3)
    })
}

/// Writes `bytes` to `$AECC_FUZZ_DUMP/NAME` when that variable is set (to turn a crash
/// artifact into a regression model: `AECC_FUZZ_DUMP=dir cargo fuzz run T artifact`).
pub fn dump(name: &str, bytes: &[u8]) {
    if let Some(dir) = std::env::var_os("AECC_FUZZ_DUMP") {
        let path = std::path::Path::new(&dir).join(name);
        let _ = std::fs::create_dir_all(&dir);
        std::fs::write(&path, bytes).expect("write the dumped model");
        eprintln!("wrote {}", path.display());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_seed_compiles_and_passes_the_oracle() {
        for (name, bytes) in SEEDS {
            let outcome = check::check_model_bytes(bytes, 1);
            // the QONNX-executor fixtures have two outputs, which the Verilog backend
            // refuses; they still run through import, passes and simulation
            if !name.starts_with("qonnx") && !name.starts_with("same_lower") {
                assert_eq!(outcome, check::Outcome::Compiled, "{name}");
            }
        }
    }

    #[test]
    fn mutations_are_deterministic_and_decode() {
        for len in [0usize, 1, 7, 64, 500] {
            let data: Vec<u8> = (0..len).map(|i| (i * 37 % 251) as u8).collect();
            let a = mutated_model(&data);
            assert_eq!(a, mutated_model(&data));
            assert!(ModelProto::decode(&a[..]).is_ok());
        }
    }
}
