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
    match ctx.value(0)?.clone() {
        Value::GraphInput { name, shape } => {
            let q = quantizer(ctx, &shape)?;
            let ty = q.out_type();
            let id = ctx.imp.graph.add_input(name.clone(), shape, ty, Some(q));
            ctx.imp.graph.node_mut(id).origin = format!("{} + {}", name, ctx.label);
            Ok(vec![Value::Node(id)])
        }
        Value::Node(x) => {
            let shape = ctx.imp.graph.node(x).out.shape.clone();
            let q = quantizer(ctx, &shape)?;
            let id = ctx.add_node(Op::Quantize(q), &[x], "")?;
            Ok(vec![Value::Node(id)])
        }
        Value::Const(c) => {
            let q = quantizer(ctx, &c.shape)?;
            Ok(vec![Value::Const(Rc::new(quantize_constant(ctx, &q, &c)?))])
        }
        Value::Padded { origin, .. } => Err(ctx.padded_error(0, &origin)),
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
    Ok(Constant::new(
        c.shape.clone(),
        ConstData::Fixed {
            data: out,
            frac: q.out_frac(),
            unit: q.out_unit(),
        },
    ))
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
    let scales: Vec<DyadicScale> = scale
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
        .collect::<Result<_, _>>()?;

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
    Ok(q)
}

/// The output integers `(q - zp) * mantissa << shift` must fit the IR's 64 bits (checked
/// here, before the IR computes the output interval, so extreme scales cannot overflow).
fn check_output_width(ctx: &NodeCtx<'_>, q: &Quantizer) -> Result<(), ImportError> {
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
