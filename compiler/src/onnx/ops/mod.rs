//! The op table: ONNX op type (verbatim, with its domain) to the builder that turns one
//! node into IR nodes or a folded constant. One file per op family.
//!
//! A builder reads its node's inputs (already resolved to [`Value`]s) through
//! [`NodeCtx`] and returns one [`Value`] per output it supports.

pub(crate) mod act;
mod affine;
mod conv;
mod fold;
mod math;
mod norm;
mod pool;
pub(crate) mod qdq;
mod qlinear;
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

/// Domains of the QONNX quantizers (`Quant`, `BipolarQuant`, `Trunc`): QONNX, its
/// FINN predecessor, and the domain Brevitas writes (`brevitas.export.export_qonnx`).
pub(crate) const QUANT_DOMAINS: [&str; 3] = [
    "qonnx.custom_op.general",
    "finn.custom_op.general",
    "onnx.brevitas",
];

/// The domain of QONNX's channels-last ops (NHWC `Conv`, `MaxPool`,
/// `BatchNormalization`).
pub(crate) const CHANNELS_LAST: &str = "qonnx.custom_op.channels_last";

fn channels_last_conv(ctx: &mut NodeCtx<'_>) -> Result<Vec<Value>, ImportError> {
    conv::channels_last(ctx, conv::conv, true)
}
fn channels_last_max_pool(ctx: &mut NodeCtx<'_>) -> Result<Vec<Value>, ImportError> {
    conv::channels_last(ctx, pool::max_pool, false)
}
fn channels_last_batch_norm(ctx: &mut NodeCtx<'_>) -> Result<Vec<Value>, ImportError> {
    conv::channels_last(ctx, norm::batch_norm, false)
}

/// Every supported op, grouped by family.
pub(crate) static OPS: &[OpEntry] = &[
    // quantizers (ops/quant.rs, ops/qdq.rs)
    op(QUANT_DOMAINS[0], "Quant", quant::quant),
    op(QUANT_DOMAINS[1], "Quant", quant::quant),
    op(QUANT_DOMAINS[2], "Quant", quant::quant),
    op(QUANT_DOMAINS[0], "BipolarQuant", quant::bipolar_quant),
    op(QUANT_DOMAINS[1], "BipolarQuant", quant::bipolar_quant),
    op(QUANT_DOMAINS[2], "BipolarQuant", quant::bipolar_quant),
    op(QUANT_DOMAINS[0], "Trunc", quant::trunc),
    op(QUANT_DOMAINS[1], "Trunc", quant::trunc),
    op(QUANT_DOMAINS[2], "Trunc", quant::trunc),
    op("", "QuantizeLinear", qdq::quantize_linear),
    op("", "DequantizeLinear", qdq::dequantize_linear),
    op("", "QLinearConv", qlinear::qlinear_conv),
    op("", "QLinearMatMul", qlinear::qlinear_matmul),
    op("", "ConvInteger", qlinear::conv_integer),
    op("", "MatMulInteger", qlinear::matmul_integer),
    op(QUANT_DOMAINS[0], "MultiThreshold", qlinear::multi_threshold),
    op(QUANT_DOMAINS[1], "MultiThreshold", qlinear::multi_threshold),
    // linear algebra and arithmetic (ops/math.rs)
    op("", "Gemm", math::gemm),
    op("", "MatMul", math::matmul),
    op("", "Add", math::add),
    op("", "Sub", math::sub),
    op("", "Mul", math::mul),
    op("", "Div", math::div),
    op("", "Neg", fold::neg),
    // convolution and normalization (ops/conv.rs, ops/norm.rs)
    op("", "Conv", conv::conv),
    op("", "Pad", conv::pad),
    op(CHANNELS_LAST, "Conv", channels_last_conv),
    op("", "BatchNormalization", norm::batch_norm),
    op(
        CHANNELS_LAST,
        "BatchNormalization",
        channels_last_batch_norm,
    ),
    // pooling (ops/pool.rs)
    op("", "MaxPool", pool::max_pool),
    op(CHANNELS_LAST, "MaxPool", channels_last_max_pool),
    op("", "AveragePool", pool::average_pool),
    op("", "GlobalAveragePool", pool::global_average_pool),
    op("", "GlobalMaxPool", pool::global_max_pool),
    op("", "ReduceMean", pool::reduce_mean),
    op("", "ReduceMax", pool::reduce_max),
    // activations (ops/act.rs)
    op("", "Relu", act::relu),
    op("", "Clip", act::clip),
    op("", "LeakyRelu", act::leaky_relu),
    op("", "HardSigmoid", act::hard_sigmoid),
    op("", "Sigmoid", act::sigmoid),
    op("", "Tanh", act::tanh),
    op("", "Exp", act::exp),
    op("", "Softplus", act::softplus),
    op("", "Softsign", act::softsign),
    op("", "Elu", act::elu),
    op("", "Selu", act::selu),
    op("", "Celu", act::celu),
    op("", "HardSwish", act::hard_swish),
    op("", "Gelu", act::gelu),
    op("", "Erf", act::erf_op),
    op("", "Mish", act::mish),
    op("", "Softmax", act::softmax),
    op("", "LogSoftmax", act::softmax),
    // data movement (ops/shape.rs)
    op("", "Flatten", shape::flatten),
    op("", "Reshape", shape::reshape),
    op("", "Transpose", shape::transpose),
    op("", "Identity", shape::identity),
    op("", "Dropout", shape::identity),
    op("", "Squeeze", shape::squeeze),
    op("", "Unsqueeze", shape::unsqueeze),
    op("", "Slice", shape::slice),
    op("", "Split", shape::split),
    op("", "Gather", shape::gather),
    op("", "Concat", fold::concat),
    // evaluated at compile time (ops/fold.rs)
    op("", "Constant", fold::constant),
    op("", "Shape", fold::shape),
    op("", "Cast", fold::cast),
    op("", "ConstantOfShape", fold::constant_of_shape),
    op("", "Range", fold::range),
    op("", "Sqrt", fold::sqrt),
    op("", "Reciprocal", fold::reciprocal),
    op("", "Abs", fold::abs),
    op("", "Floor", fold::floor),
    op("", "Ceil", fold::ceil),
    op("", "Pow", fold::pow),
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

/// Whether `node` may read a graph input: a QONNX `Quant`/`BipolarQuant` or an ONNX
/// `QuantizeLinear` (the quantizer that maps real data onto the input's grid).
pub(crate) fn is_input_quantizer(node: &NodeProto) -> bool {
    match node.op_type.as_str() {
        "Quant" | "BipolarQuant" => QUANT_DOMAINS.contains(&node.domain.as_str()),
        "QuantizeLinear" => normalize_domain(&node.domain).is_empty(),
        _ => false,
    }
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
        "DynamicQuantizeLinear" => {
            "dynamic quantization computes its scale at run time; quantize statically \
             (QuantizeLinear with a constant scale)"
        }
        "IntQuant" | "FloatQuant" | "QuantAvgPool2d" => {
            "supported QONNX quantizers: Quant, BipolarQuant, Trunc, MultiThreshold"
        }
        "QLinearAdd"
        | "QLinearMul"
        | "QLinearConcat"
        | "QLinearSigmoid"
        | "QLinearLeakyRelu"
        | "QLinearGlobalAveragePool"
        | "QLinearAveragePool" => {
            "of the QOperator ops QLinearConv, QLinearMatMul, ConvInteger and MatMulInteger \
             are supported; quantize with QuantFormat.QDQ for the others"
        }
        "PRelu" => "LeakyRelu (one constant slope) is supported; PRelu is not yet",
        "ThresholdedRelu" | "Shrink" | "Sign" | "Round" => {
            "supported activations: Relu, Clip, LeakyRelu, HardSigmoid, and Sigmoid/Tanh/... \
             as lookup tables before a quantizer"
        }
        "ConvTranspose" => "only Conv (1-D and 2-D, grouped) is supported",
        "LpPool" | "MaxRoiPool" | "MaxUnpool" => {
            "supported pools: MaxPool, AveragePool, GlobalAveragePool, GlobalMaxPool"
        }
        "ReduceSum" | "ReduceMin" | "ReduceProd" | "ReduceL1" | "ReduceL2" => {
            "ReduceMean and ReduceMax over the spatial axes are supported"
        }
        "LayerNormalization"
        | "InstanceNormalization"
        | "GroupNormalization"
        | "LpNormalization" => {
            "BatchNormalization (inference) is supported; other normalizations depend on \
             the data at run time"
        }
        "Sum" | "Max" | "Min" | "Mean" => {
            "Add/Sub of two activations and arithmetic with constants are supported"
        }
        "Expand" | "Tile" | "Resize" | "Upsample" | "DepthToSpace" | "SpaceToDepth" => {
            "supported data movement: Flatten, Reshape, Transpose, Squeeze, Unsqueeze, \
             Slice, Gather, Split, Concat, Pad"
        }
        "LSTM" | "GRU" | "RNN" | "Loop" | "If" | "Scan" => {
            "control flow and recurrent layers are not supported; aecc compiles feed-forward \
             encoders"
        }
        _ => return None,
    };
    Some(h.to_string())
}
