//! QONNX `Quant(x, scale, zero_point, bit_width; signed, narrow, rounding_mode)`.
//!
//! - on a graph input: becomes the input's `from_float` quantizer, and the input is typed
//!   by the quantizer's output type;
//! - on an activation: `Op::Quantize`;
//! - on a constant (weights, biases): evaluated at compile time, exactly, into integers on
//!   the quantizer's output grid.
//!
//! Scales may be per tensor or per channel (the channel axis is the one axis along which
//! the broadcast scale or zero point varies). Every positive finite float scale is an
//! exact dyadic rational ([`aecc_ir::DyadicScale`]), so non-power-of-two scales are exact
//! too; power-of-two scales map onto plain fixed-point types.

use super::weights::broadcast_axis;
use super::{NodeCtx, Value};
use crate::onnx::constant::{ConstData, Constant};
use crate::onnx::error::ImportError;
use aecc_ir::fixed::{bits_for_interval, Interval, Overflow, Rounding, MAX_WIDTH};
use aecc_ir::quant::MAX_SCALE_MANTISSA_BITS;
use aecc_ir::{ChannelQuant, DyadicScale, Op, Quantizer};
use std::rc::Rc;

/// Largest binary exponent (in magnitude) of a scale `mantissa * 2^exponent`: scales
/// from about 2^-80 to 2^80 * mantissa. Keeps every shift of the IR's exact quantizer
/// (`Quantizer::quantize_f64`/`quantize_int`, which shift by up to `-exponent` bits, e.g.
/// for the value 0) inside i128; real QAT scales are many orders of magnitude inside.
const MAX_SCALE_EXPONENT: i32 = 80;

/// Largest zero point magnitude (the IR's bound).
const MAX_ZERO_POINT: u64 = 1 << 62;

pub(super) fn quant(ctx: &mut NodeCtx<'_>) -> Result<Vec<Value>, ImportError> {
    let shape = ctx.shape_of(0)?;
    let q = quantizer(ctx, &shape)?;
    Ok(vec![apply_quantizer(ctx, q)?])
}

/// QONNX `BipolarQuant(x, scale)`: `y = (x >= 0 ? 1 : -1) * scale`, the 1-bit signed
/// quantizer (scale per tensor or per channel).
pub(super) fn bipolar_quant(ctx: &mut NodeCtx<'_>) -> Result<Vec<Value>, ImportError> {
    let shape = ctx.shape_of(0)?;
    let scale = ctx.constant(1, "scale")?;
    let axis =
        broadcast_axis(&scale.shape, &shape).map_err(|m| ctx.error(format!("scale: {m}")))?;
    let scales = parse_scales(ctx, &scale)?;
    let channels = axis.map_or(1, |a| shape[a]);
    let q = Quantizer {
        channels: (0..channels)
            .map(|c| ChannelQuant {
                scale: scales[if scales.len() == 1 { 0 } else { c }],
                zero_point: 0,
            })
            .collect(),
        axis,
        bit_width: 1,
        signed: true,
        narrow: false,
        rounding: Rounding::HalfEven,
        overflow: Overflow::Saturate,
    };
    Ok(vec![apply_quantizer(ctx, q)?])
}

/// Applies `q` to input 0: a graph input becomes an IR input quantized by `q`, an
/// activation gets a `Quantize` node, a constant is quantized at compile time, a float
/// function waiting for its quantizer becomes a lookup table.
pub(crate) fn apply_quantizer(ctx: &mut NodeCtx<'_>, q: Quantizer) -> Result<Value, ImportError> {
    match ctx.value(0)?.clone() {
        Value::GraphInput {
            name,
            shape,
            declared,
            moves,
        } => {
            if !moves.is_empty() && q.channels.len() > 1 {
                return Err(ctx.error(format!(
                    "a per-channel quantizer after data movement of graph input '{name}' is \
                     not supported (quantize the input first)"
                )));
            }
            let ty = q.out_type();
            let id = ctx.imp.graph.add_input(name.clone(), declared, ty, Some(q));
            ctx.imp.graph.node_mut(id).origin = format!("{} + {}", name, ctx.label);
            // the per-tensor quantizer commutes with the data movement: replay it
            let mut at = id;
            for (k, op) in moves.into_iter().enumerate() {
                at = ctx.add_node(op, &[at], &format!("/in{k}"))?;
            }
            debug_assert_eq!(ctx.imp.graph.node(at).out.shape, shape);
            Ok(Value::Node(at))
        }
        Value::Const(c) => Ok(Value::Const(Rc::new(quantize_constant(ctx, &q, &c)?))),
        Value::Lazy { node, func, origin } if *func == super::act::Elementwise::Softmax => {
            if ctx.imp.options.lut_softmax {
                let id = super::act::lut_softmax(ctx, node, &q, &origin)?;
                return Ok(Value::Node(id));
            }
            // a quantized softmax at the end: still dropped (see act.rs)
            Ok(ctx.value(0)?.clone())
        }
        Value::Lazy { node, func, origin } => {
            let id = super::act::lookup_table(ctx, node, &func, &q, &origin)?;
            Ok(Value::Node(id))
        }
        _ => {
            let x = ctx.activation(0)?;
            let id = ctx.add_node(Op::Quantize(q), &[x], "")?;
            Ok(Value::Node(id))
        }
    }
}

/// Quantizes a constant exactly: the result is `(q - zp) * mantissa` on the grid
/// `2^-q.out_frac()`, i.e. exactly the float `y` QONNX defines.
fn quantize_constant(
    ctx: &NodeCtx<'_>,
    q: &Quantizer,
    c: &Constant,
) -> Result<Constant, ImportError> {
    let mut out = Vec::with_capacity(c.len());
    let floats = c.to_f64();
    let fixed = c.to_scaled();
    for i in 0..c.len() {
        let ch = q.channel_of(i, &c.shape);
        let y = match &fixed {
            // Integers go through the exact integer path unless the value is so far from
            // the scale that the shifts would leave i128; then it only saturates or
            // rounds by sign, which the float path does identically.
            Some((data, frac, unit)) if fits_int_path(data[i], *frac, *unit, &q.channels[ch]) => {
                Some(q.quantize_scaled(data[i] as i128, *frac, *unit, ch))
            }
            Some((_, _, unit)) if !unit.is_one() => {
                return Err(ctx.error(format!(
                    "input '{}' element {i} is too far from the scale to quantize exactly",
                    ctx.input_name(0)
                )))
            }
            _ => q.quantize_f64(floats[i], ch),
        };
        let y = y.ok_or_else(|| {
            ctx.error(format!(
                "input '{}' contains NaN at element {}",
                ctx.input_name(0),
                i
            ))
        })?;
        out.push(
            i64::try_from(y)
                .map_err(|_| ctx.error(format!("quantized value {y} does not fit 64 bits")))?,
        );
    }
    Ok(Constant {
        declared: Some(q.out_interval()),
        ..Constant::new(
            c.shape.clone(),
            ConstData::Fixed {
                data: out,
                frac: q.out_frac(),
                unit: q.out_unit(),
            },
        )
    })
}

fn fits_int_path(x: i64, frac: i32, unit: aecc_ir::Unit, ch: &ChannelQuant) -> bool {
    let k = -(frac as i64) - ch.scale.exponent as i64;
    let x_bits = 64 - x.unsigned_abs().leading_zeros() as i64;
    let unit_bits = 64 - unit.num.leading_zeros() as i64;
    let den_bits = 128 - (unit.den as u128 * ch.scale.mantissa as u128).leading_zeros() as i64;
    (-60..=60).contains(&k) && x_bits + unit_bits + k.max(0) < 100 && den_bits - k.min(0) < 100
}

/// Reads scale, zero point, bit width and the attributes of this `Quant` node, for an
/// input of shape `x_shape`.
pub(super) fn quantizer(ctx: &NodeCtx<'_>, x_shape: &[usize]) -> Result<Quantizer, ImportError> {
    let scale = ctx.constant(1, "scale")?;
    let zero_point = ctx.constant(2, "zero point")?;
    let bit_width = ctx.constant(3, "bit width")?;

    // bit width
    let bw = bit_width.to_f64();
    let bits = match bw.as_slice() {
        [b] if b.fract() == 0.0 && (1.0..=MAX_WIDTH as f64).contains(b) => *b as u32,
        [b] => {
            return Err(ImportError::BadBitWidth {
                node: ctx.label.clone(),
                value: *b,
            })
        }
        _ => {
            return Err(ctx.error(format!(
                "the bit width must be a scalar, got shape {:?}",
                bit_width.shape
            )))
        }
    };

    // attributes
    let attrs = ctx.attrs();
    let signed = attrs.flag_or("signed", true)?;
    let narrow = attrs.flag_or("narrow", false)?;
    let mode = attrs.string_or("rounding_mode", "ROUND")?;
    let rounding = Rounding::from_qonnx(&mode).ok_or_else(|| {
        attrs.error(
            "rounding_mode",
            format!(
                "unknown mode '{mode}'; expected one of ROUND, HALF_EVEN, CEIL, FLOOR, UP, \
                 DOWN, ROUND_TO_ZERO, HALF_UP, HALF_DOWN"
            ),
        )
    })?;
    if narrow && !signed && bits == 1 {
        return Err(ctx.error("an unsigned narrow 1-bit quantizer has an empty range"));
    }

    // channel axis
    let axis_of = |c: &Constant, what: &str| {
        broadcast_axis(&c.shape, x_shape).map_err(|m| ctx.error(format!("{what}: {m}")))
    };
    let scale_axis = axis_of(&scale, "scale")?;
    let zp_axis = axis_of(&zero_point, "zero point")?;
    let axis = match (scale_axis, zp_axis) {
        (Some(a), Some(b)) if a != b => {
            return Err(ctx.error(format!(
                "scale varies along axis {a} but zero point along axis {b}; one channel axis \
                 is supported"
            )))
        }
        (a, b) => a.or(b),
    };
    let channels = axis.map_or(1, |a| x_shape[a]);

    // scales
    let scales = parse_scales(ctx, &scale)?;

    // zero points
    let zps: Vec<i64> = match zero_point.to_ints() {
        Some(z) => z,
        None => {
            let value = zero_point
                .to_f64()
                .into_iter()
                .find(|v| !(v.is_finite() && v.fract() == 0.0))
                .unwrap_or(f64::NAN);
            return Err(ImportError::NonIntegerZeroPoint {
                node: ctx.label.clone(),
                value,
            });
        }
    };
    if let Some(z) = zps.iter().find(|z| z.unsigned_abs() > MAX_ZERO_POINT) {
        return Err(ctx.error(format!(
            "zero point {z} is out of range (at most 2^62 in magnitude)"
        )));
    }

    let pick = |v: usize, c: usize| if v == 1 { 0 } else { c };
    let q = Quantizer {
        channels: (0..channels)
            .map(|c| ChannelQuant {
                scale: scales[pick(scales.len(), c)],
                zero_point: zps[pick(zps.len(), c)],
            })
            .collect(),
        axis,
        bit_width: bits,
        signed,
        narrow,
        rounding,
        overflow: Overflow::Saturate,
    };
    check_output_width(ctx, &q)?;
    q.check().map_err(|m| ctx.error(m))?;
    Ok(q)
}

/// The exact dyadic values of a scale tensor (each finite, positive, within the
/// supported exponent and mantissa range).
pub(crate) fn parse_scales(
    ctx: &NodeCtx<'_>,
    scale: &Constant,
) -> Result<Vec<DyadicScale>, ImportError> {
    scale
        .to_f64()
        .into_iter()
        .map(|v| {
            let s = DyadicScale::from_f64(v).ok_or_else(|| ImportError::BadScale {
                node: ctx.label.clone(),
                value: v,
                reason: "must be finite and positive".into(),
            })?;
            if s.exponent.abs() > MAX_SCALE_EXPONENT {
                return Err(ImportError::BadScale {
                    node: ctx.label.clone(),
                    value: v,
                    reason: format!(
                        "is outside the supported range (binary exponent {} beyond \
                         +-{MAX_SCALE_EXPONENT})",
                        s.exponent
                    ),
                });
            }
            let mantissa_bits = 64 - s.mantissa.leading_zeros();
            if mantissa_bits > MAX_SCALE_MANTISSA_BITS {
                return Err(ImportError::BadScale {
                    node: ctx.label.clone(),
                    value: v,
                    reason: format!(
                        "has {mantissa_bits} significant bits; at most {MAX_SCALE_MANTISSA_BITS} \
                         are supported (float32 scales have at most 24)"
                    ),
                });
            }
            Ok(s)
        })
        .collect()
}

/// The output integers `(q - zp) * mantissa << shift` must fit the IR's 64 bits (checked
/// here, before the IR computes the output interval, so extreme scales cannot overflow).
pub(crate) fn check_output_width(ctx: &NodeCtx<'_>, q: &Quantizer) -> Result<(), ImportError> {
    let (lo, hi) = q.q_bounds();
    let out_frac = q.channels.iter().map(|c| -(c.scale.exponent as i64)).max();
    for ch in &q.channels {
        let zp = ch.zero_point as i128;
        let magnitude = bits_for_interval(Interval::new(lo - zp, hi - zp)) as i64;
        let mantissa = 64 - ch.scale.mantissa.leading_zeros() as i64;
        let shift = out_frac.unwrap_or(0) + ch.scale.exponent as i64;
        let width = magnitude + mantissa + shift;
        if width > MAX_WIDTH as i64 {
            return Err(ctx.error(format!(
                "the quantized values need about {width} bits on the common grid of all \
                 channels (scale {} next to the finest scale 2^{}); at most {MAX_WIDTH} are \
                 supported",
                ch.scale,
                -out_frac.unwrap_or(0)
            )));
        }
    }
    Ok(())
}

/// A scalar constant input as a float.
fn scalar(ctx: &NodeCtx<'_>, i: usize, what: &str) -> Result<f64, ImportError> {
    let c = ctx.constant(i, what)?;
    match c.to_f64().as_slice() {
        [v] => Ok(*v),
        _ => Err(ctx.error(format!(
            "{what} must be a single value (per-tensor), got shape {:?}",
            c.shape
        ))),
    }
}

/// QONNX `Trunc`: drops low bits of an integer on a quantization grid (QuantAvgPool,
/// accumulator truncation). Version 1 (QONNX opset 1) and 2 (opset 2) differ:
///
/// - v1 `(x, scale, zp, in_bits, out_bits)`: `q = round(x / scale + zp)`,
///   `y = (rounding(q / 2^(in_bits - out_bits)) - zp) * scale` (no clamp);
/// - v2 `(x, scale, zp, in_bits, out_scale, out_bits; signed, narrow)`:
///   `t = 2^round(log2(out_scale / scale))`, `q = round(x / scale + zp)`,
///   `y = (clamp(rounding(q / t)) - zp / t) * out_scale`, the clamp to the `out_bits`
///   range.
///
/// Both are two exact quantizers (the first one wide enough never to clamp); the zero
/// point must be a multiple of `t` (it is 0 in every exporter that writes Trunc).
pub(super) fn trunc(ctx: &mut NodeCtx<'_>) -> Result<Vec<Value>, ImportError> {
    let version = ctx.imp.opset(&ctx.node.domain).unwrap_or(1);
    let x = ctx.activation(0)?;
    let xi = ctx.imp.graph.node(x).out.clone();
    let s = scalar(ctx, 1, "scale")?;
    let zp = scalar(ctx, 2, "zero point")?;
    let in_bits = scalar(ctx, 3, "input bit width")?;
    let (out_scale, out_bits) = if version >= 2 {
        (
            Some(scalar(ctx, 4, "output scale")?),
            scalar(ctx, 5, "output bit width")?,
        )
    } else {
        (None, scalar(ctx, 4, "output bit width")?)
    };
    let attrs = ctx.attrs();
    let mode = attrs.string_or("rounding_mode", "FLOOR")?;
    let rounding = Rounding::from_qonnx(&mode)
        .ok_or_else(|| attrs.error("rounding_mode", format!("unknown mode '{mode}'")))?;
    let (signed, narrow) = if version >= 2 {
        (
            attrs.flag_or("signed", true)?,
            attrs.flag_or("narrow", false)?,
        )
    } else {
        (true, false)
    };
    if zp.fract() != 0.0 || out_bits.fract() != 0.0 || !(1.0..=64.0).contains(&out_bits) {
        return Err(ctx.error("the zero point and the output bit width must be integers"));
    }
    let zp = zp as i64;
    let scale = parse_scales(ctx, &Constant::new(vec![], ConstData::Float(vec![s])))?[0];
    let t: i32 = match out_scale {
        Some(os) => (os / s).log2().round() as i32,
        None => {
            if in_bits.fract() != 0.0 || in_bits < out_bits {
                return Err(ctx.error("the input bit width must be an integer >= the output's"));
            }
            (in_bits - out_bits) as i32
        }
    };
    if !(0..=62).contains(&t) || zp % (1i64 << t) != 0 || (version < 2 && zp != 0) {
        return Err(ctx.error(format!(
            "truncation by 2^{t} with zero point {zp}: aecc supports zero points that are \
             multiples of 2^t (and 0 in Trunc v1)"
        )));
    }
    // 1. q1 = round(x / scale + zp), wide enough never to clamp
    let mut q1 = Quantizer {
        channels: vec![ChannelQuant {
            scale,
            zero_point: zp,
        }],
        axis: None,
        bit_width: 64,
        signed: true,
        narrow: false,
        rounding: Rounding::HalfEven,
        overflow: Overflow::Saturate,
    };
    let code = |q: &Quantizer, v: i128| {
        q.unclamped_code(v, xi.ty.frac, xi.unit, 0)
            .ok_or_else(|| ctx.error("the Trunc input is too large for exact arithmetic"))
    };
    let range = Interval::new(
        code(&q1, xi.interval.lo)? - 1,
        code(&q1, xi.interval.hi)? + 1,
    );
    q1.bit_width = bits_for_interval(range).max(2);
    check_output_width(ctx, &q1)?;
    let n1 = ctx.add_node(Op::Quantize(q1.clone()), &[x], "/round")?;
    // 2. q2 = clamp(rounding(q1 / 2^t)), on the scale scale * 2^t
    let mut q2 = Quantizer {
        channels: vec![ChannelQuant {
            scale: DyadicScale {
                mantissa: scale.mantissa,
                exponent: scale.exponent + t,
            },
            zero_point: zp >> t,
        }],
        axis: None,
        bit_width: out_bits as u32,
        signed,
        narrow,
        rounding,
        overflow: Overflow::Saturate,
    };
    if version < 2 {
        // no clamp: as wide as the first quantizer
        q2.bit_width = q1.bit_width;
        q2.signed = true;
        q2.narrow = false;
    }
    check_output_width(ctx, &q2)?;
    // 3. onto the output scale: out_scale (v2) or scale (v1)
    let target = match out_scale {
        Some(os) => parse_scales(ctx, &Constant::new(vec![], ConstData::Float(vec![os])))?[0],
        None => scale,
    };
    let truncated_scale = q2.channels[0].scale;
    if target == truncated_scale {
        let id = ctx.add_node(Op::Quantize(q2), &[n1], "")?;
        return Ok(vec![Value::Node(id)]);
    }
    let n2 = ctx.add_node(Op::Quantize(q2), &[n1], "/truncate")?;
    let op = Op::Affine(aecc_ir::Affine {
        axis: None,
        mul: vec![1],
        add: vec![0],
        out_frac: -target.exponent,
        out_unit: aecc_ir::Unit::int(target.mantissa).expect("odd mantissa"),
    });
    let id = ctx.add_node(op, &[n2], "")?;
    Ok(vec![Value::Node(id)])
}
