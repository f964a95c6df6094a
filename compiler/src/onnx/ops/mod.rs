//! The op table: ONNX op type (verbatim, with its domain) to the builder that turns one
//! node into IR nodes or a folded constant. One file per op family.
//!
//! A builder reads its node's inputs (already resolved to [`Value`]s) through
//! [`NodeCtx`] and returns one [`Value`] per output it supports.

mod act;
mod conv;
mod fold;
mod math;
mod quant;
mod shape;
pub(crate) mod weights;

use super::error::ImportError;
pub(crate) use super::import::{NodeCtx, Value};
use super::proto::NodeProto;

pub(crate) type Builder = fn(&mut NodeCtx<'_>) -> Result<Vec<Value>, ImportError>;

/// One supported op.
pub(crate) struct OpEntry {
    /// `""` is the default domain `ai.onnx`.
    pub domain: &'static str,
    pub op_type: &'static str,
    pub build: Builder,
}

const fn op(domain: &'static str, op_type: &'static str, build: Builder) -> OpEntry {
    OpEntry {
        domain,
        op_type,
        build,
    }
}

/// Domains whose `Quant` is the QONNX quantizer: QONNX, its FINN predecessor, and the
/// domain Brevitas writes (`brevitas.export.export_qonnx`).
pub(crate) const QUANT_DOMAINS: [&str; 3] = [
    "qonnx.custom_op.general",
    "finn.custom_op.general",
    "onnx.brevitas",
];

/// Every supported op, grouped by family.
pub(crate) static OPS: &[OpEntry] = &[
    // quantizers (ops/quant.rs)
    op(QUANT_DOMAINS[0], "Quant", quant::quant),
    op(QUANT_DOMAINS[1], "Quant", quant::quant),
    op(QUANT_DOMAINS[2], "Quant", quant::quant),
    // linear algebra (ops/math.rs)
    op("", "Gemm", math::gemm),
    op("", "MatMul", math::matmul),
    op("", "Add", math::add),
    // convolution (ops/conv.rs)
    op("", "Conv", conv::conv),
    op("", "Pad", conv::pad),
    // activations (ops/act.rs)
    op("", "Relu", act::relu),
    // data movement (ops/shape.rs)
    op("", "Flatten", shape::flatten),
    op("", "Reshape", shape::reshape),
    op("", "Transpose", shape::transpose),
    op("", "Identity", shape::identity),
    op("", "Squeeze", shape::squeeze),
    op("", "Unsqueeze", shape::unsqueeze),
    // evaluated at compile time (ops/fold.rs)
    op("", "Constant", fold::constant),
    op("", "Shape", fold::shape),
    op("", "Gather", fold::gather),
    op("", "Concat", fold::concat),
    op("", "Cast", fold::cast),
];

fn normalize_domain(domain: &str) -> &str {
    if domain == "ai.onnx" {
        ""
    } else {
        domain
    }
}

/// The domain as shown in messages.
pub(crate) fn domain_display(domain: &str) -> &str {
    if domain.is_empty() {
        "ai.onnx"
    } else {
        domain
    }
}

/// The builder of `(domain, op_type)`, if supported.
pub(crate) fn lookup(domain: &str, op_type: &str) -> Option<Builder> {
    let domain = normalize_domain(domain);
    OPS.iter()
        .find(|e| e.domain == domain && e.op_type == op_type)
        .map(|e| e.build)
}

/// Whether `node` is a supported QONNX `Quant`.
pub(crate) fn is_quant(node: &NodeProto) -> bool {
    node.op_type == "Quant" && QUANT_DOMAINS.contains(&node.domain.as_str())
}

/// `(domain, op_type)` of every supported op, the default domain shown as `ai.onnx`.
pub fn supported_ops() -> Vec<(&'static str, &'static str)> {
    OPS.iter()
        .map(|e| {
            (
                if e.domain.is_empty() {
                    "ai.onnx"
                } else {
                    e.domain
                },
                e.op_type,
            )
        })
        .collect()
}

/// One line: `Quant (qonnx.custom_op.general | ...), Gemm, MatMul, ...`.
pub(crate) fn supported_ops_summary() -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut seen: Vec<&str> = Vec::new();
    for e in OPS {
        if seen.contains(&e.op_type) {
            continue;
        }
        seen.push(e.op_type);
        let domains: Vec<&str> = OPS
            .iter()
            .filter(|o| o.op_type == e.op_type && !o.domain.is_empty())
            .map(|o| o.domain)
            .collect();
        if domains.is_empty() {
            parts.push(e.op_type.to_string());
        } else {
            parts.push(format!("{} ({})", e.op_type, domains.join(" | ")));
        }
    }
    parts.join(", ")
}

/// The closest supported alternative to an unsupported op, when there is an obvious one.
pub(crate) fn hint(domain: &str, op_type: &str) -> Option<String> {
    let other_domains: Vec<&str> = OPS
        .iter()
        .filter(|e| e.op_type == op_type)
        .map(|e| domain_display(e.domain))
        .collect();
    if !other_domains.is_empty() {
        return Some(format!(
            "{} is supported in domain {}, not {}",
            op_type,
            other_domains.join(", "),
            domain_display(domain)
        ));
    }
    let h = match op_type {
        "QuantizeLinear"
        | "DequantizeLinear"
        | "QLinearConv"
        | "QLinearMatMul"
        | "ConvInteger"
        | "MatMulInteger"
        | "DynamicQuantizeLinear" => {
            "QDQ and integer ONNX ops are not supported yet; export QONNX Quant nodes \
             (brevitas.export.export_qonnx, or qonnx's QCDQ-to-Quant conversion)"
        }
        "BipolarQuant" | "Trunc" | "MultiThreshold" | "IntQuant" | "FloatQuant" => {
            "of the QONNX quantizers only Quant is supported so far"
        }
        "BatchNormalization" => {
            "fold batch normalization into the preceding Conv/Gemm weights before export"
        }
        "Clip" | "LeakyRelu" | "PRelu" | "Sigmoid" | "HardSigmoid" | "Tanh" | "Elu" | "Selu"
        | "Softmax" | "HardSwish" | "Gelu" | "Softplus" => "the supported activation is Relu",
        "MaxPool" | "AveragePool" | "GlobalAveragePool" | "GlobalMaxPool" => {
            "pooling is not supported yet; use a strided Conv"
        }
        "ConvTranspose" => "only Conv is supported",
        "Dropout" => "export the model in eval mode (model.eval()) so Dropout is removed",
        "Sub" | "Sum" => {
            "Add is supported (two activations, or a constant folded into the \
                          bias of the Gemm/MatMul/Conv before it)"
        }
        "Mul" | "Div" => {
            "fold multiplications by constants into the weights before export; \
                          products of activations are not supported"
        }
        "View" | "Expand" | "Slice" | "Split" => {
            "supported data movement: Flatten, Reshape, Transpose, Squeeze, Unsqueeze"
        }
        _ => return None,
    };
    Some(h.to_string())
}
