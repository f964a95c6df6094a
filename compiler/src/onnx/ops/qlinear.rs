//! onnxruntime's QOperator form and FINN's thresholds:
//!
//! - `QLinearConv` / `QLinearMatMul`: integer convolution / matrix product of codes with
//!   a requantization to output codes. aecc computes the real-valued layer exactly on
//!   the dequantized codes (the bias of `QLinearConv` is on the exact product scale
//!   `x_scale * w_scale`) and quantizes it exactly; onnxruntime requantizes with a
//!   float32 multiplier `x_scale * w_scale / y_scale`, which can round the other way
//!   next to a tie (measured on the fixtures);
//! - `ConvInteger` / `MatMulInteger`: the exact int32 result of the integer layer on
//!   `x - x_zero_point` and `w - w_zero_point` (padding is the input zero point, i.e.
//!   the value 0 of `x - x_zero_point`);
//! - `MultiThreshold` (FINN): `y = out_scale * #{t in thresholds[c] : x >= t} +
//!   out_bias`, a lookup table on the quantized input (thresholds compared exactly).

use super::affine::{affine_op, Exact};
use super::qdq::{dequantize_constant, quantizer_from};
use super::{NodeCtx, Value};
use crate::onnx::constant::{ConstData, Constant};
use crate::onnx::error::ImportError;
use aecc_ir::pointwise::{channel_index, Lut, MAX_LUT_ENTRIES};
use aecc_ir::{Affine, Dense, NodeId, Op, Quantizer, TensorInfo, Unit};
use std::rc::Rc;

/// Input `i` as codes: the quantized activation and its quantizer.
fn codes_input(ctx: &mut NodeCtx<'_>, i: usize) -> Result<(NodeId, Rc<Quantizer>), ImportError> {
    match ctx.value(i)?.clone() {
        Value::Codes {
            node, quantizer, ..
        } => Ok((node, quantizer)),
        _ => Err(ctx.error(format!(
            "input #{i} '{}' must be the codes of a QuantizeLinear (integer graph inputs are \
             not supported)",
            ctx.input_name(i)
        ))),
    }
}

/// The quantizer given by this node's inputs `scale_i`, `zp_i` for codes of shape
/// `shape` (per-axis scales along `axis`).
fn quantizer_at(
    ctx: &NodeCtx<'_>,
    scale_i: usize,
    zp_i: usize,
    shape: &[usize],
    axis: i64,
) -> Result<Quantizer, ImportError> {
    let scale = ctx.constant(scale_i, "scale")?;
    let zp = ctx.opt_constant(zp_i, "zero point")?;
    Ok(quantizer_from(ctx, &scale, zp.as_deref(), shape, axis, 0)?.0)
}

/// The activation node of codes `x` whose quantizer must match the node's own
/// `(scale, zero point)` inputs.
fn matching_codes(
    ctx: &mut NodeCtx<'_>,
    i: usize,
    scale_i: usize,
    zp_i: usize,
) -> Result<NodeId, ImportError> {
    let (x, q) = codes_input(ctx, i)?;
    let shape = ctx.imp.graph.node(x).out.shape.clone();
    let mine = quantizer_at(ctx, scale_i, zp_i, &shape, 1)?;
    if mine.channels != q.channels {
        return Err(ctx.error(format!(
            "its input scale/zero point ({}) differ from those of the QuantizeLinear that \
             made input #{i} ({})",
            aecc_ir::printer::quantizer(&mine),
            aecc_ir::printer::quantizer(&q)
        )));
    }
    Ok(x)
}

/// The output codes: the quantizer of inputs `scale_i`, `zp_i` applied to `y`.
fn requantize(
    ctx: &mut NodeCtx<'_>,
    y: NodeId,
    scale_i: usize,
    zp_i: usize,
) -> Result<Vec<Value>, ImportError> {
    let shape = ctx.imp.graph.node(y).out.shape.clone();
    let scale = ctx.constant(scale_i, "output scale")?;
    let zp = ctx.opt_constant(zp_i, "output zero point")?;
    let (q, elem) = quantizer_from(ctx, &scale, zp.as_deref(), &shape, 1, 0)?;
    let id = ctx.add_node(Op::Quantize(q.clone()), &[y], "")?;
    Ok(vec![Value::Codes {
        node: id,
        quantizer: Rc::new(q),
        elem,
    }])
}

/// `QLinearConv(x, x_scale, x_zp, w, w_scale, w_zp, y_scale, y_zp, B)`.
pub(super) fn qlinear_conv(ctx: &mut NodeCtx<'_>) -> Result<Vec<Value>, ImportError> {
    let x = matching_codes(ctx, 0, 1, 2)?;
    let w_codes = ctx.constant(3, "weight")?;
    let wq = quantizer_at(ctx, 4, 5, &w_codes.shape, 0)?;
    let w = dequantize_constant(ctx, &w_codes, &wq)?;
    let bias = match ctx.opt_constant(8, "bias")? {
        None => None,
        Some(b) => Some(Rc::new(bias_on_products(ctx, x, &b, &wq)?)),
    };
    let y = super::conv::conv_with(ctx, x, [0; 4], Rc::new(w), bias, "B", "/conv")?;
    requantize(ctx, y, 6, 7)
}

/// The int32 bias `b` of a QLinearConv, whose scale is `x_scale * w_scale[c]`: on the
/// grid of the products `x * w` (exactly: per channel `b * mult_c << shift_c`).
fn bias_on_products(
    ctx: &NodeCtx<'_>,
    x: NodeId,
    b: &Constant,
    wq: &Quantizer,
) -> Result<Constant, ImportError> {
    let xi = ctx.imp.graph.node(x).out.clone();
    let ints = b
        .to_ints()
        .ok_or_else(|| ctx.error("the bias must be int32 codes"))?;
    let data = ints
        .iter()
        .enumerate()
        .map(|(c, &v)| {
            let ch = if wq.channels.len() == 1 { 0 } else { c };
            let y = (v as i128 * wq.channel_multiplier(ch) as i128) << wq.channel_shift(ch);
            i64::try_from(y).map_err(|_| ctx.error("a bias value does not fit 64 bits"))
        })
        .collect::<Result<Vec<i64>, _>>()?;
    let unit = xi.unit.checked_mul(wq.out_unit()).ok_or_else(|| {
        ctx.error("the product of the input and weight scale units leaves the supported range")
    })?;
    Ok(Constant::new(
        b.shape.clone(),
        ConstData::Fixed {
            data,
            frac: xi.ty.frac + wq.out_frac(),
            unit,
        },
    ))
}

/// `QLinearMatMul(a, a_scale, a_zp, b, b_scale, b_zp, y_scale, y_zp)` with a constant
/// `b` `[K, N]` (per-column scales along axis 1).
pub(super) fn qlinear_matmul(ctx: &mut NodeCtx<'_>) -> Result<Vec<Value>, ImportError> {
    let a = matching_codes(ctx, 0, 1, 2)?;
    let b_codes = ctx.constant(3, "B")?;
    if b_codes.shape.len() != 2 {
        return Err(ctx.error("B must be a 2-D constant [K, N]"));
    }
    let bq = quantizer_at(ctx, 4, 5, &b_codes.shape, 1)?;
    let b = dequantize_constant(ctx, &b_codes, &bq)?;
    let y = dense(ctx, a, &b, "/matmul")?;
    requantize(ctx, y, 6, 7)
}

fn dense(
    ctx: &mut NodeCtx<'_>,
    x: NodeId,
    w: &Constant,
    suffix: &str,
) -> Result<NodeId, ImportError> {
    let weight = super::weights::weight_tensor(ctx, w, 1)?;
    let xi = ctx.imp.graph.node(x).out.clone();
    super::weights::check_accumulator(ctx, &xi, &weight, None, weight.shape[0])?;
    ctx.add_node(Op::Dense(Dense { weight, bias: None }), &[x], suffix)
}

/// `x - x_zp` of codes `x` as plain integers (unit 1, grid 1): the quantized value's
/// integers `q - zp_q` shifted by `zp_q - x_zp`.
fn integer_operand(ctx: &mut NodeCtx<'_>, i: usize, zp_i: usize) -> Result<NodeId, ImportError> {
    let (x, q) = codes_input(ctx, i)?;
    if q.channels.len() != 1 || q.channel_multiplier(0) != 1 || q.channel_shift(0) != 0 {
        return Err(ctx.error(format!(
            "input #{i} must be the codes of a per-tensor QuantizeLinear"
        )));
    }
    let zp = match ctx.opt_constant(zp_i, "zero point")? {
        None => 0,
        Some(z) => match z.to_ints().as_deref() {
            Some([v]) => *v,
            _ => return Err(ctx.error("the zero point must be a single integer")),
        },
    };
    let op = Op::Affine(Affine {
        axis: None,
        mul: vec![1],
        add: vec![q.channels[0].zero_point - zp],
        out_frac: 0,
        out_unit: Unit::ONE,
    });
    ctx.add_node(op, &[x], &format!("/int{i}"))
}

/// Integer weights `w - w_zp` (per tensor or per output channel along `axis`).
fn integer_weights(
    ctx: &NodeCtx<'_>,
    i: usize,
    zp_i: usize,
    axis: usize,
) -> Result<Constant, ImportError> {
    let w = ctx.constant(i, "weight")?;
    let ints = w
        .to_ints()
        .ok_or_else(|| ctx.error("the weights must be integers"))?;
    let zps = match ctx.opt_constant(zp_i, "weight zero point")? {
        None => vec![0],
        Some(z) => z
            .to_ints()
            .ok_or_else(|| ctx.error("the weight zero point must be integers"))?,
    };
    let data = ints
        .iter()
        .enumerate()
        .map(|(k, &v)| {
            let c = if zps.len() == 1 {
                0
            } else {
                channel_index(Some(axis), k, &w.shape)
            };
            v - zps[c]
        })
        .collect();
    Ok(Constant::ints(w.shape.clone(), data))
}

/// `ConvInteger(x, w, x_zp, w_zp)`.
pub(super) fn conv_integer(ctx: &mut NodeCtx<'_>) -> Result<Vec<Value>, ImportError> {
    let x = integer_operand(ctx, 0, 2)?;
    let w = integer_weights(ctx, 1, 3, 0)?;
    let id = super::conv::conv_with(ctx, x, [0; 4], Rc::new(w), None, "", "")?;
    Ok(vec![Value::Node(id)])
}

/// `MatMulInteger(a, b, a_zp, b_zp)` with a constant `b` `[K, N]`.
pub(super) fn matmul_integer(ctx: &mut NodeCtx<'_>) -> Result<Vec<Value>, ImportError> {
    let a = integer_operand(ctx, 0, 2)?;
    let b = integer_weights(ctx, 1, 3, 1)?;
    if b.shape.len() != 2 {
        return Err(ctx.error("B must be a 2-D constant [K, N]"));
    }
    let id = dense(ctx, a, &b, "")?;
    Ok(vec![Value::Node(id)])
}

/// The channel axis of a MultiThreshold: from `data_layout`, else qonnx's guess from
/// the rank (2: NC, 3: NWC, 4: NCHW).
fn threshold_axis(ctx: &NodeCtx<'_>, rank: usize) -> Result<usize, ImportError> {
    let layout = ctx.attrs().string_or("data_layout", "")?;
    let layout = if layout.is_empty() {
        match rank {
            2 => "NC".to_string(),
            3 => "NWC".to_string(),
            _ => "NCHW".to_string(),
        }
    } else {
        layout
    };
    Ok(layout.find('C').unwrap_or(1).min(rank.saturating_sub(1)))
}

/// FINN `MultiThreshold(x, thresholds; out_scale, out_bias, data_layout)`.
pub(super) fn multi_threshold(ctx: &mut NodeCtx<'_>) -> Result<Vec<Value>, ImportError> {
    let x = ctx.activation(0)?;
    let xi: TensorInfo = ctx.imp.graph.node(x).out.clone();
    let th = ctx.constant(1, "thresholds")?;
    if th.shape.len() != 2 {
        return Err(ctx.error("thresholds must be 2-D [channels, steps]"));
    }
    let axis = threshold_axis(ctx, xi.shape.len())?;
    let (tc, steps) = (th.shape[0], th.shape[1]);
    let channels = xi.shape[axis];
    if tc != 1 && tc != channels {
        return Err(ctx.error(format!(
            "{tc} threshold rows for {channels} channels on axis {axis}"
        )));
    }
    let attrs = ctx.attrs();
    let scale =
        Exact::of_f64(attrs.float_or("out_scale", 1.0)? as f64).map_err(|m| ctx.error(m))?;
    let bias = Exact::of_f64(attrs.float_or("out_bias", 0.0)? as f64).map_err(|m| ctx.error(m))?;
    // out = count * scale + bias on an exact grid
    let counts = TensorInfo::exact(vec![1], aecc_ir::Interval::new(0, steps as i128), 0);
    let grid = affine_op(&counts, None, &[scale], &[bias]).map_err(|m| ctx.error(m))?;
    let entries = xi.interval.hi - xi.interval.lo + 1;
    if entries > MAX_LUT_ENTRIES as i128 {
        return Err(ctx.error(format!(
            "the input can take {entries} values, more than the {MAX_LUT_ENTRIES} entries of a \
             lookup table"
        )));
    }
    let thresholds: Vec<Exact> = (0..th.len())
        .map(|i| Exact::of_constant(&th, i).map_err(|m| ctx.error(format!("thresholds {m}"))))
        .collect::<Result<_, _>>()?;
    let input_value = |v: i128| Exact {
        n: v,
        unit: xi.unit,
        frac: xi.ty.frac,
    };
    let mut tables = Vec::with_capacity(tc);
    for c in 0..tc {
        let row = &thresholds[c * steps..(c + 1) * steps];
        let table = (xi.interval.lo..=xi.interval.hi)
            .map(|v| {
                let count = row
                    .iter()
                    .filter(|t| compare(input_value(v), **t).is_ge())
                    .count() as i64;
                count * grid.mul[0] + grid.add[0]
            })
            .collect();
        tables.push(table);
    }
    let lut = Lut {
        axis: (tc > 1).then_some(axis),
        in_lo: xi.interval.lo as i64,
        tables,
        out_frac: grid.out_frac,
        out_unit: grid.out_unit,
    };
    let id = ctx.add_node(Op::Lut(lut), &[x], "")?;
    Ok(vec![Value::Node(id)])
}

/// Exact comparison of two exact reals.
fn compare(a: Exact, b: Exact) -> std::cmp::Ordering {
    // a.n * a.num * b.den * 2^-fa  vs  b.n * b.num * a.den * 2^-fb
    let l = a.n * a.unit.num as i128 * b.unit.den as i128;
    let r = b.n * b.unit.num as i128 * a.unit.den as i128;
    let f = a.frac.max(b.frac);
    let (sl, sr) = ((f - a.frac).min(60) as u32, (f - b.frac).min(60) as u32);
    match (l.checked_shl(sl), r.checked_shl(sr)) {
        (Some(x), Some(y)) if x >> sl == l && y >> sr == r => x.cmp(&y),
        _ => a.to_f64().total_cmp(&b.to_f64()),
    }
}
