//! Activations.
//!
//! - `Relu` (`max(x, 0)`), `Clip` (also on the integer codes of a QCDQ chain),
//!   `LeakyRelu`, `HardSigmoid`: exact integer ops (`Relu`, `Clip`, `LeakyRelu`,
//!   `Affine`);
//! - `Sigmoid`, `Tanh` and the other smooth float functions ([`Elementwise`]): exact
//!   lookup tables on the quantized domain, built together with the quantizer that must
//!   follow them. Each entry is what the float executor computes: the input's float32
//!   value, the function in float32 (evaluated in f64 and rounded once to f32), then the
//!   quantizer, exactly. onnxruntime evaluates some of these functions with polynomial
//!   approximations a few float32 ulps away from the correctly rounded value: where such
//!   a value lies that close to a rounding boundary of the quantizer, the executor's code
//!   can differ by one step (measured on the fixtures, see the README);
//! - `Softmax` as the last op: not compiled; the output is the exact pre-softmax tensor
//!   (softmax is monotone per row: the arg-max is unchanged), with a warning.

use super::{NodeCtx, Value};
use crate::onnx::constant::{ConstData, Constant};
use crate::onnx::error::ImportError;
use aecc_ir::pointwise::{Lut, MAX_LUT_ENTRIES};
use aecc_ir::{NodeId, Op, Quantizer};
use std::rc::Rc;

pub(super) fn relu(ctx: &mut NodeCtx<'_>) -> Result<Vec<Value>, ImportError> {
    if let Value::Const(c) = ctx.value(0)? {
        let data = match &c.data {
            ConstData::Float(v) => ConstData::Float(v.iter().map(|&x| x.max(0.0)).collect()),
            ConstData::Int(v) => ConstData::Int(v.iter().map(|&x| x.max(0)).collect()),
            ConstData::Fixed { data, frac, unit } => ConstData::Fixed {
                data: data.iter().map(|&x| x.max(0)).collect(),
                frac: *frac,
                unit: *unit,
            },
        };
        return Ok(vec![Value::Const(Rc::new(Constant::new(
            c.shape.clone(),
            data,
        )))]);
    }
    let x = ctx.activation(0)?;
    let id = ctx.add_node(Op::Relu, &[x], "")?;
    Ok(vec![Value::Node(id)])
}

/// A smooth element-wise float function, computed in a lookup table.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Elementwise {
    Sigmoid,
    Tanh,
    Exp,
    Softplus,
    Softsign,
    Elu {
        alpha: f32,
    },
    Selu {
        alpha: f32,
        gamma: f32,
    },
    Celu {
        alpha: f32,
    },
    HardSwish,
    Gelu {
        tanh: bool,
    },
    Erf,
    Mish,
    /// Not element-wise: a `Softmax`/`LogSoftmax` at the end of the graph, waiting to be
    /// dropped (the output is the pre-softmax tensor).
    Softmax,
}

impl Elementwise {
    /// `f(x)` for a float32 input, as float32 (evaluated in f64, rounded once).
    pub fn eval(&self, x: f32) -> f32 {
        let v = x as f64;
        let y = match self {
            Elementwise::Sigmoid => 1.0 / (1.0 + (-v).exp()),
            Elementwise::Tanh => v.tanh(),
            Elementwise::Exp => v.exp(),
            Elementwise::Softplus => v.max(0.0) + (-v.abs()).exp().ln_1p(),
            Elementwise::Softsign => v / (1.0 + v.abs()),
            Elementwise::Elu { alpha } => {
                if v >= 0.0 {
                    v
                } else {
                    *alpha as f64 * v.exp_m1()
                }
            }
            Elementwise::Selu { alpha, gamma } => {
                let g = *gamma as f64;
                if v > 0.0 {
                    g * v
                } else {
                    g * (*alpha as f64 * v.exp() - *alpha as f64)
                }
            }
            Elementwise::Celu { alpha } => {
                let a = *alpha as f64;
                v.max(0.0) + (a * (v / a).exp_m1()).min(0.0)
            }
            Elementwise::HardSwish => v * (v / 6.0 + 0.5).clamp(0.0, 1.0),
            Elementwise::Gelu { tanh: false } => {
                0.5 * v * (1.0 + erf(v / std::f64::consts::SQRT_2))
            }
            Elementwise::Gelu { tanh: true } => {
                let c = (2.0 / std::f64::consts::PI).sqrt();
                0.5 * v * (1.0 + (c * (v + 0.044715 * v * v * v)).tanh())
            }
            Elementwise::Erf => erf(v),
            Elementwise::Mish => v * (v.max(0.0) + (-v.abs()).exp().ln_1p()).tanh(),
            Elementwise::Softmax => f64::NAN,
        };
        y as f32
    }
}

/// The error function (Abramowitz-Stegun 7.1.26 is too coarse for f32; this is the
/// Taylor series near zero and the continued fraction of erfc further out, both to
/// full f64 precision).
fn erf(x: f64) -> f64 {
    let a = x.abs();
    let r = if a < 2.5 {
        // sum_n (-1)^n x^(2n+1) / (n! (2n+1))
        let mut term = a;
        let mut sum = a;
        let x2 = a * a;
        let mut n = 0.0;
        while term.abs() > 1e-17 * sum.abs() {
            n += 1.0;
            term *= -x2 / n;
            sum += term / (2.0 * n + 1.0);
        }
        sum * 2.0 / std::f64::consts::PI.sqrt()
    } else {
        // erfc(a) = exp(-a^2) / sqrt(pi) * 1 / (a + 1/2 / (a + 1 / (a + 3/2 / (a + ...))))
        let mut f = 0.0;
        for k in (1..60).rev() {
            f = (k as f64 / 2.0) / (a + f);
        }
        1.0 - (-a * a).exp() / std::f64::consts::PI.sqrt() / (a + f)
    };
    r.copysign(x)
}

fn lazy(ctx: &mut NodeCtx<'_>, func: Elementwise) -> Result<Vec<Value>, ImportError> {
    if let Value::Const(c) = ctx.value(0)? {
        let v: Vec<f64> = c
            .to_f64()
            .iter()
            .map(|&x| func.eval(x as f32) as f64)
            .collect();
        return Ok(vec![Value::Const(Rc::new(Constant::new(
            c.shape.clone(),
            ConstData::Float(v),
        )))]);
    }
    let node = ctx.activation(0)?;
    Ok(vec![Value::Lazy {
        node,
        func: Rc::new(func),
        origin: ctx.label.clone(),
    }])
}

pub(super) fn sigmoid(ctx: &mut NodeCtx<'_>) -> Result<Vec<Value>, ImportError> {
    lazy(ctx, Elementwise::Sigmoid)
}
pub(super) fn tanh(ctx: &mut NodeCtx<'_>) -> Result<Vec<Value>, ImportError> {
    lazy(ctx, Elementwise::Tanh)
}
pub(super) fn exp(ctx: &mut NodeCtx<'_>) -> Result<Vec<Value>, ImportError> {
    lazy(ctx, Elementwise::Exp)
}
pub(super) fn softplus(ctx: &mut NodeCtx<'_>) -> Result<Vec<Value>, ImportError> {
    lazy(ctx, Elementwise::Softplus)
}
pub(super) fn softsign(ctx: &mut NodeCtx<'_>) -> Result<Vec<Value>, ImportError> {
    lazy(ctx, Elementwise::Softsign)
}
pub(super) fn erf_op(ctx: &mut NodeCtx<'_>) -> Result<Vec<Value>, ImportError> {
    lazy(ctx, Elementwise::Erf)
}
pub(super) fn mish(ctx: &mut NodeCtx<'_>) -> Result<Vec<Value>, ImportError> {
    lazy(ctx, Elementwise::Mish)
}
pub(super) fn hard_swish(ctx: &mut NodeCtx<'_>) -> Result<Vec<Value>, ImportError> {
    lazy(ctx, Elementwise::HardSwish)
}
pub(super) fn elu(ctx: &mut NodeCtx<'_>) -> Result<Vec<Value>, ImportError> {
    let alpha = ctx.attrs().float_or("alpha", 1.0)?;
    lazy(ctx, Elementwise::Elu { alpha })
}
pub(super) fn celu(ctx: &mut NodeCtx<'_>) -> Result<Vec<Value>, ImportError> {
    let alpha = ctx.attrs().float_or("alpha", 1.0)?;
    lazy(ctx, Elementwise::Celu { alpha })
}
pub(super) fn selu(ctx: &mut NodeCtx<'_>) -> Result<Vec<Value>, ImportError> {
    let attrs = ctx.attrs();
    let alpha = attrs.float_or("alpha", 1.673_263_2)?;
    let gamma = attrs.float_or("gamma", 1.050_701)?;
    lazy(ctx, Elementwise::Selu { alpha, gamma })
}
pub(super) fn gelu(ctx: &mut NodeCtx<'_>) -> Result<Vec<Value>, ImportError> {
    let attrs = ctx.attrs();
    let approx = attrs.string_or("approximate", "none")?;
    let tanh = match approx.as_str() {
        "none" => false,
        "tanh" => true,
        other => {
            return Err(attrs.error(
                "approximate",
                format!("'{other}': expected 'none' or 'tanh'"),
            ))
        }
    };
    lazy(ctx, Elementwise::Gelu { tanh })
}

/// The lookup table of `quantizer(func(x))` for the activation `node`, one entry per
/// integer the input can hold (per channel of the quantizer).
pub(crate) fn lookup_table(
    ctx: &mut NodeCtx<'_>,
    node: NodeId,
    func: &Elementwise,
    q: &Quantizer,
    origin: &str,
) -> Result<NodeId, ImportError> {
    let x = ctx.imp.graph.node(node).out.clone();
    let entries = x.interval.hi - x.interval.lo + 1;
    if entries > MAX_LUT_ENTRIES as i128 {
        return Err(ctx.error(format!(
            "the input of node {origin} can take {entries} values ({} on grid 2^{}), more \
             than the {MAX_LUT_ENTRIES} entries of a lookup table; quantize it to at most \
             16 bits before the activation",
            x.interval, -x.ty.frac
        )));
    }
    if let Some(a) = q.axis {
        if a >= x.shape.len() || x.shape[a] != q.channels.len() {
            return Err(ctx.error("the per-channel quantizer does not fit the activation"));
        }
    }
    let tables: Vec<Vec<i64>> = (0..q.channels.len())
        .map(|c| {
            (x.interval.lo..=x.interval.hi)
                .map(|v| {
                    let input = x.real(v) as f32;
                    let y = func.eval(input) as f64;
                    q.quantize_f64(y, c).map(|v| v as i64)
                })
                .collect::<Option<Vec<i64>>>()
        })
        .collect::<Option<_>>()
        .ok_or_else(|| ctx.error(format!("node {origin} gives NaN on the input range")))?;
    let lut = Lut {
        axis: q.axis,
        in_lo: x.interval.lo as i64,
        tables,
        out_frac: q.out_frac(),
        out_unit: q.out_unit(),
    };
    let label = ctx.label.clone();
    let id = ctx.add_node(Op::Lut(lut), &[node], "")?;
    ctx.imp.graph.node_mut(id).origin = format!("{origin} + {label}");
    Ok(id)
}

/// A float bound of `Clip` (input `i` from opset 11, else attribute `name`).
fn clip_bound(
    ctx: &NodeCtx<'_>,
    i: usize,
    name: &str,
) -> Result<Option<super::affine::Exact>, ImportError> {
    // opset >= 11: optional inputs; before: float attributes
    let v = if let Some(c) = ctx.opt_constant(i, name)? {
        c.to_f64().first().copied()
    } else if ctx.attrs().has(name) {
        Some(ctx.attrs().float_or(name, 0.0)? as f64)
    } else {
        None
    };
    match v {
        // float32 infinities and the extreme values some exporters use mean "no bound"
        Some(v) if v.is_infinite() || v.abs() >= f32::MAX as f64 => Ok(None),
        Some(v) => super::affine::Exact::of_f64(v)
            .map(Some)
            .map_err(|m| ctx.error(format!("{name}: {m}"))),
        None => Ok(None),
    }
}

/// `Clip(x, min, max)` (and `Relu6`/HardTanh-style clips): exact integer bounds on the
/// input grid. On the codes of a QuantizeLinear (QCDQ), the bounds are codes.
pub(super) fn clip(ctx: &mut NodeCtx<'_>) -> Result<Vec<Value>, ImportError> {
    let lo = clip_bound(ctx, 1, "min")?;
    let hi = clip_bound(ctx, 2, "max")?;
    if let Value::Const(c) = ctx.value(0)? {
        let (l, h) = (
            lo.map_or(f64::NEG_INFINITY, |e| e.to_f64()),
            hi.map_or(f64::INFINITY, |e| e.to_f64()),
        );
        let v = c.to_f64().iter().map(|&x| x.max(l).min(h)).collect();
        return Ok(vec![Value::Const(Rc::new(Constant::new(
            c.shape.clone(),
            ConstData::Float(v),
        )))]);
    }
    if let Value::Codes {
        node,
        quantizer,
        elem,
    } = ctx.value(0)?.clone()
    {
        return super::qdq::clip_codes(ctx, node, &quantizer, elem, lo, hi);
    }
    let x = ctx.activation(0)?;
    let xi = ctx.imp.graph.node(x).out.clone();
    let (l, h) = super::affine::integer_bounds(&xi, lo, hi).map_err(|m| ctx.error(m))?;
    if l > h {
        return Err(ctx.error("min is larger than max"));
    }
    if (l as i128) <= xi.interval.lo && (h as i128) >= xi.interval.hi {
        return Ok(vec![Value::Node(x)]);
    }
    let id = ctx.add_node(Op::Clip { lo: l, hi: h }, &[x], "")?;
    Ok(vec![Value::Node(id)])
}

/// `LeakyRelu(x; alpha)`: `x >= 0 ? x : alpha * x`, exact for the float32 `alpha`
/// (`alpha = n * 2^-f`: positive values times `2^f`, negative ones times `n`, on a grid
/// `f` bits finer).
pub(super) fn leaky_relu(ctx: &mut NodeCtx<'_>) -> Result<Vec<Value>, ImportError> {
    let alpha = ctx.attrs().float_or("alpha", 0.01)?;
    if let Value::Const(c) = ctx.value(0)? {
        let a = alpha as f64;
        let v = c
            .to_f64()
            .iter()
            .map(|&x| if x >= 0.0 { x } else { a * x })
            .collect();
        return Ok(vec![Value::Const(Rc::new(Constant::new(
            c.shape.clone(),
            ConstData::Float(v),
        )))]);
    }
    let x = ctx.activation(0)?;
    let e =
        super::affine::Exact::of_f64(alpha as f64).map_err(|m| ctx.attrs().error("alpha", m))?;
    let shift = e.frac.max(0);
    let op = Op::LeakyRelu {
        pos: 1i64 << shift,
        neg: i64::try_from(e.n << (shift - e.frac))
            .map_err(|_| ctx.attrs().error("alpha", "is outside the supported range"))?,
        frac_shift: shift as u32,
    };
    let id = ctx.add_node(op, &[x], "")?;
    Ok(vec![Value::Node(id)])
}

/// `HardSigmoid(x; alpha, beta) = max(0, min(1, alpha * x + beta))`: an exact affine
/// map and a clip.
pub(super) fn hard_sigmoid(ctx: &mut NodeCtx<'_>) -> Result<Vec<Value>, ImportError> {
    use super::affine::{affine_node, integer_bounds, Exact};
    let attrs = ctx.attrs();
    let alpha = attrs.float_or("alpha", 0.2)?;
    let beta = attrs.float_or("beta", 0.5)?;
    let x = ctx.activation(0)?;
    let a = Exact::of_f64(alpha as f64).map_err(|m| ctx.error(m))?;
    let b = Exact::of_f64(beta as f64).map_err(|m| ctx.error(m))?;
    let y = affine_node(ctx, x, None, &[a], &[b], "/affine")?;
    let yi = ctx.imp.graph.node(y).out.clone();
    let one = Exact::of_f64(1.0).expect("finite");
    let (l, h) = integer_bounds(&yi, Some(Exact::zero()), Some(one)).map_err(|m| ctx.error(m))?;
    let id = ctx.add_node(Op::Clip { lo: l, hi: h }, &[y], "")?;
    Ok(vec![Value::Node(id)])
}

/// `Softmax` (and `LogSoftmax`) as the last op of the graph: the output is the exact
/// pre-softmax tensor, with a warning (softmax is not an integer function; it is
/// monotone along its axis, so the arg-max is unchanged).
pub(super) fn softmax(ctx: &mut NodeCtx<'_>) -> Result<Vec<Value>, ImportError> {
    let out = ctx.out_name(0);
    let rank = ctx.shape_of(0)?.len();
    let opset = ctx.imp.opset("").unwrap_or(13);
    let axis = ctx
        .attrs()
        .int_or("axis", if opset >= 13 { -1 } else { 1 })?;
    let axis = if axis < 0 { axis + rank as i64 } else { axis };
    if ctx.imp.options.lut_softmax && axis != rank as i64 - 1 {
        return Err(ctx.attrs().error(
            "axis",
            format!(
                "{axis}: aecc handles a softmax over the last axis ({})",
                rank - 1
            ),
        ));
    }
    if ctx.imp.options.lut_softmax && ctx.node.op_type == "LogSoftmax" {
        return Err(ctx.error("the LUT softmax computes Softmax, not LogSoftmax"));
    }
    if !ctx.imp.is_graph_output_only(&out) {
        // a quantizer (Quant, or QuantizeLinear + DequantizeLinear) may follow before the
        // graph output; anything else is an error there
        let node = ctx.activation(0)?;
        return Ok(vec![Value::Lazy {
            node,
            func: Rc::new(Elementwise::Softmax),
            origin: ctx.label.clone(),
        }]);
    }
    let x = ctx.activation(0)?;
    let msg = format!(
        "node {}: {} is not compiled; the graph output '{out}' is the exact pre-{} tensor \
         (the arg-max is unchanged; apply {} to it in software)",
        ctx.label, ctx.node.op_type, ctx.node.op_type, ctx.node.op_type
    );
    ctx.warn(msg);
    Ok(vec![Value::Node(x)])
}

/// aecc's LUT softmax of the activation `node` onto the unsigned quantizer `q` (per
/// tensor, power-of-two scale, zero point 0, half-to-even rounding): an `exp` table on
/// the input's grid with 12 guard bits beyond the output's and an exact division.
pub(crate) fn lut_softmax(
    ctx: &mut NodeCtx<'_>,
    node: NodeId,
    q: &Quantizer,
    origin: &str,
) -> Result<NodeId, ImportError> {
    let ch = q.channels[0];
    if q.channels.len() != 1
        || !ch.scale.is_pow2()
        || ch.zero_point != 0
        || q.signed
        || q.narrow
        || q.rounding != aecc_ir::Rounding::HalfEven
        || q.overflow != aecc_ir::Overflow::Saturate
    {
        return Err(ctx.error(format!(
            "the LUT softmax of node {origin} needs an unsigned per-tensor quantizer with a \
             power-of-two scale, zero point 0 and ROUND (half to even) after it, got {}",
            aecc_ir::printer::quantizer(q)
        )));
    }
    let x = ctx.imp.graph.node(node).out.clone();
    let out_frac = q.out_frac();
    let table_frac = (q.bit_width as i32 + 12).clamp(1, 48) as u32;
    let step = x.real(1);
    let range = (x.interval.hi - x.interval.lo) as usize;
    let one = (1i64 << table_frac) as f64;
    let mut table = vec![1i64 << table_frac];
    for d in 1..=range.min(MAX_LUT_ENTRIES - 1) {
        let v = ((-(d as f64) * step).exp() * one).round_ties_even() as i64;
        table.push(v);
        if v == 0 {
            break;
        }
    }
    let entries = table.len();
    let op = Op::Softmax(aecc_ir::SoftmaxLut {
        table,
        table_frac,
        out_frac,
        out_max: q.q_bounds().1 as i64,
    });
    let label = ctx.label.clone();
    let id = ctx.add_node(op, &[node], "")?;
    ctx.imp.graph.node_mut(id).origin = format!("{origin} + {label}");
    let msg = format!(
        "node {origin}: compiled as aecc's LUT softmax (exp table of {entries} entries on \
         2^-{table_frac}, exact division); it approximates the executor's float softmax"
    );
    ctx.warn(msg);
    Ok(id)
}
