//! ONNX `QuantizeLinear` / `DequantizeLinear` (the QDQ format onnxruntime's quantization
//! tool writes), the `Clip` of QCDQ chains, and codes as graph outputs.
//!
//! `QuantizeLinear(x, scale, zero_point; axis)` is `q = saturate(round(x / scale) + zp)`
//! (round half to even, *then* the zero point: for an odd zero point that is the IR's
//! `HalfOdd` rounding of `x / scale + zp`) on the integer type of the zero point (int8, uint8, int16,
//! uint16, int4, uint4; `output_dtype` from opset 21; uint8 without a zero point), per
//! tensor or per axis. aecc computes it exactly as a quantizer (`Op::Quantize`); the
//! codes `q` it produces are a [`Value::Codes`] that `DequantizeLinear` with the same
//! parameters turns back into the quantized real value `(q - zp) * scale` — exactly
//! what the IR quantizer outputs. Constant codes (weights, int32 biases) are
//! dequantized at compile time, exactly, keeping the scale's odd mantissa as the scale
//! unit of the constant (so int8 weights stay small integers in hardware).
//!
//! onnxruntime computes `x / scale` in float32 before rounding; where that float
//! quotient lies within half a float32 ulp of a rounding tie, it can round the other way
//! than the exact quotient. The deviation is measured on the committed vectors (README,
//! "Supported ONNX").

use super::quant::{apply_quantizer, check_output_width, parse_scales};
use super::{NodeCtx, Value};
use crate::onnx::constant::{ConstData, Constant};
use crate::onnx::error::ImportError;
use crate::onnx::import::Importer;
use crate::onnx::proto::DataType;
use aecc_ir::{Affine, ChannelQuant, NodeId, Op, Overflow, Quantizer, Rounding, Unit};
use std::rc::Rc;

/// Bits and signedness of an ONNX integer element type.
fn int_type(elem: i32) -> Option<(u32, bool)> {
    Some(match DataType::try_from(elem).ok()? {
        DataType::Int8 => (8, true),
        DataType::Uint8 => (8, false),
        DataType::Int16 => (16, true),
        DataType::Uint16 => (16, false),
        DataType::Int4 => (4, true),
        DataType::Uint4 => (4, false),
        DataType::Int2 => (2, true),
        DataType::Uint2 => (2, false),
        DataType::Int32 => (32, true),
        DataType::Uint32 => (32, false),
        _ => return None,
    })
}

fn type_name(elem: i32) -> String {
    DataType::try_from(elem).map_or(format!("type {elem}"), |d| format!("{d:?}").to_uppercase())
}

/// The quantizer of this QuantizeLinear/DequantizeLinear node for an input of shape
/// `x_shape`, and the element type of the codes. `codes_elem` is the element type of
/// a DequantizeLinear's input, when known.
fn linear_quantizer(
    ctx: &NodeCtx<'_>,
    x_shape: &[usize],
    codes_elem: Option<i32>,
) -> Result<(Quantizer, i32), ImportError> {
    let scale = ctx.constant(1, "scale")?;
    let zero_point = ctx.opt_constant(2, "zero point")?;
    let attrs = ctx.attrs();
    if attrs.int_or("block_size", 0)? != 0 {
        return Err(attrs.error(
            "block_size",
            "blocked quantization is not supported (per-tensor and per-axis are)",
        ));
    }
    let output_dtype = attrs.int_or("output_dtype", 0)? as i32;
    let axis = attrs.int_or("axis", 1)?;
    quantizer_from(
        ctx,
        &scale,
        zero_point.as_deref(),
        x_shape,
        axis,
        codes_elem.filter(|&e| e != 0).unwrap_or(output_dtype),
    )
}

/// The ONNX linear quantizer of `scale` and `zero_point` (per tensor, or per axis
/// along `axis` when the scale has several values) for a tensor of shape `x_shape`;
/// the element type of the codes is the zero point's, else `elem` (when not 0), else
/// uint8.
pub(crate) fn quantizer_from(
    ctx: &NodeCtx<'_>,
    scale: &Constant,
    zero_point: Option<&Constant>,
    x_shape: &[usize],
    axis: i64,
    elem: i32,
) -> Result<(Quantizer, i32), ImportError> {
    let attrs = ctx.attrs();
    let elem = match zero_point {
        Some(z) if z.elem != 0 => z.elem,
        _ if elem != 0 => elem,
        _ => DataType::Uint8 as i32,
    };
    let (bits, signed) = int_type(elem).ok_or_else(|| {
        ctx.error(format!(
            "codes of {} are not supported (int2/int4/int8/int16/int32 and their unsigned \
             types are)",
            type_name(elem)
        ))
    })?;
    let rank = x_shape.len() as i64;
    let axis = if scale.len() > 1 {
        let a = axis;
        let a = if a < 0 { a + rank } else { a };
        if !(0..rank).contains(&a) || x_shape[a as usize] != scale.len() {
            return Err(attrs.error(
                "axis",
                format!(
                    "{a}: {} scales do not match the input shape {x_shape:?} along it",
                    scale.len()
                ),
            ));
        }
        Some(a as usize)
    } else {
        None
    };
    let scales = parse_scales(ctx, scale)?;
    let zps: Vec<i64> = match &zero_point {
        None => vec![0],
        Some(z) => z
            .to_ints()
            .ok_or_else(|| ctx.error("the zero point must be integers"))?,
    };
    if zps.len() != 1 && zps.len() != scales.len() {
        return Err(ctx.error(format!(
            "{} zero points for {} scales",
            zps.len(),
            scales.len()
        )));
    }
    // round(x / scale) + zp (half to even, then the zero point) is
    // round_half_to_odd(x / scale + zp) for an odd zero point
    let odd = zps.iter().filter(|z| *z % 2 != 0).count();
    let rounding = if odd == 0 {
        Rounding::HalfEven
    } else if odd == zps.len() {
        Rounding::HalfOdd
    } else {
        return Err(ctx.error(
            "per-axis zero points of mixed parity are not supported (QuantizeLinear rounds \
             before adding the zero point: aecc represents that per quantizer, not per \
             channel)",
        ));
    };
    let q = Quantizer {
        channels: (0..scales.len())
            .map(|c| ChannelQuant {
                scale: scales[c],
                zero_point: zps[if zps.len() == 1 { 0 } else { c }],
            })
            .collect(),
        axis,
        bit_width: bits,
        signed,
        narrow: false,
        rounding,
        overflow: Overflow::Saturate,
    };
    let (lo, hi) = q.q_bounds();
    if let Some(z) = q
        .channels
        .iter()
        .find(|c| !(lo..=hi).contains(&(c.zero_point as i128)))
    {
        return Err(ctx.error(format!(
            "zero point {} is outside the range [{lo}, {hi}] of {}",
            z.zero_point,
            type_name(elem)
        )));
    }
    check_output_width(ctx, &q)?;
    Ok((q, elem))
}

/// The code `q` of a quantizer output integer `y = (q - zp) * mult << shift`.
fn code_of(q: &Quantizer, y: i128, c: usize) -> i128 {
    let step = (q.channel_multiplier(c) as i128) << q.channel_shift(c);
    y / step + q.channels[c].zero_point as i128
}

pub(super) fn quantize_linear(ctx: &mut NodeCtx<'_>) -> Result<Vec<Value>, ImportError> {
    let shape = ctx.shape_of(0)?;
    let (q, elem) = linear_quantizer(ctx, &shape, None)?;
    match apply_quantizer(ctx, q.clone())? {
        Value::Const(c) => {
            // constant codes: the integers q
            let (data, _, _) = c.to_scaled().expect("quantized constants are exact");
            let codes = data
                .iter()
                .enumerate()
                .map(|(i, &y)| code_of(&q, y as i128, q.channel_of(i, &c.shape)) as i64)
                .collect();
            let mut k = Constant::new(c.shape.clone(), ConstData::Int(codes));
            k.elem = elem;
            Ok(vec![Value::Const(Rc::new(k))])
        }
        Value::Node(node) => Ok(vec![Value::Codes {
            node,
            quantizer: Rc::new(q),
            elem,
        }]),
        lazy @ Value::Lazy { .. } => Ok(vec![lazy]),
        _ => unreachable!("a quantizer gives a node or a constant"),
    }
}

pub(super) fn dequantize_linear(ctx: &mut NodeCtx<'_>) -> Result<Vec<Value>, ImportError> {
    match ctx.value(0)?.clone() {
        lazy @ Value::Lazy { .. } => Ok(vec![lazy]),
        Value::Codes {
            node,
            quantizer,
            elem,
        } => {
            let shape = ctx.imp.graph.node(node).out.shape.clone();
            let (q, _) = linear_quantizer(ctx, &shape, Some(elem))?;
            if q.channels != quantizer.channels || q.axis != quantizer.axis {
                return Err(ctx.error(format!(
                    "its scale/zero point ({}) differ from those of the QuantizeLinear that \
                     made its input ({}); aecc supports QuantizeLinear -> DequantizeLinear \
                     pairs with equal parameters",
                    aecc_ir::printer::quantizer(&q),
                    aecc_ir::printer::quantizer(&quantizer)
                )));
            }
            Ok(vec![Value::Node(node)])
        }
        Value::Const(c) => {
            let (q, _) = linear_quantizer(ctx, &c.shape, Some(c.elem))?;
            Ok(vec![Value::Const(Rc::new(dequantize_constant(
                ctx, &c, &q,
            )?))])
        }
        Value::GraphInput { name, .. } => Err(ImportError::InputNotQuantized {
            input: name,
            reason: format!(
                "it feeds node {}: integer graph inputs are not supported (give the model \
                 float inputs and a QuantizeLinear)",
                ctx.label
            ),
        }),
        _ => Err(ctx.error(format!(
            "input '{}' is not the output of a QuantizeLinear or a constant",
            ctx.input_name(0)
        ))),
    }
}

/// The exact real values `(q - zp) * scale` of constant codes `c`, keeping the
/// quantizer's scale unit.
pub(crate) fn dequantize_constant(
    ctx: &NodeCtx<'_>,
    c: &Constant,
    q: &Quantizer,
) -> Result<Constant, ImportError> {
    let codes = c
        .to_ints()
        .ok_or_else(|| ctx.error("the quantized constant must be integer codes"))?;
    let data = codes
        .iter()
        .enumerate()
        .map(|(i, &v)| {
            i64::try_from(q.grid_value(v as i128, q.channel_of(i, &c.shape)))
                .map_err(|_| ctx.error("a dequantized value does not fit 64 bits"))
        })
        .collect::<Result<Vec<i64>, _>>()?;
    // the codes' type is the quantizer's: every code it can hold is declared
    Ok(Constant {
        declared: Some(q.out_interval()),
        ..Constant::new(
            c.shape.clone(),
            ConstData::Fixed {
                data,
                frac: q.out_frac(),
                unit: q.out_unit(),
            },
        )
    })
}

/// `Clip` of codes (the QCDQ form of a narrower range): the bounds, in codes, become
/// an integer clip of the quantized value; the result is still codes.
pub(super) fn clip_codes(
    ctx: &mut NodeCtx<'_>,
    node: NodeId,
    q: &Quantizer,
    elem: i32,
    lo: Option<super::affine::Exact>,
    hi: Option<super::affine::Exact>,
) -> Result<Vec<Value>, ImportError> {
    let uniform = q.channels.iter().enumerate().all(|(c, ch)| {
        ch.zero_point == q.channels[0].zero_point
            && q.channel_multiplier(c) == 1
            && q.channel_shift(c) == 0
    });
    if !uniform {
        return Err(ctx.error(
            "a Clip of per-axis codes with different zero points or scales is not supported",
        ));
    }
    let zp = q.channels[0].zero_point as i128;
    let codes = aecc_ir::TensorInfo::exact(vec![1], aecc_ir::Interval::point(0), 0);
    let (l, h) = super::affine::integer_bounds(&codes, lo, hi).map_err(|m| ctx.error(m))?;
    let (l, h) = (
        (l as i128 - zp).clamp(i64::MIN as i128, i64::MAX as i128) as i64,
        (h as i128 - zp).clamp(i64::MIN as i128, i64::MAX as i128) as i64,
    );
    let xi = ctx.imp.graph.node(node).out.clone();
    let id = if (l as i128) <= xi.interval.lo && (h as i128) >= xi.interval.hi {
        node
    } else {
        ctx.add_node(Op::Clip { lo: l, hi: h }, &[node], "")?
    };
    Ok(vec![Value::Codes {
        node: id,
        quantizer: Rc::new(q.clone()),
        elem,
    }])
}

/// Codes as a graph output: the integers `q = y + zp` of the quantized value `y`
/// (per-tensor quantizers), on the plain integer grid.
pub(crate) fn codes_output(
    imp: &mut Importer,
    name: &str,
    node: NodeId,
    q: &Quantizer,
) -> Result<NodeId, ImportError> {
    let bad = |m: &str| ImportError::Output {
        output: name.to_string(),
        message: m.to_string(),
    };
    if q.channels.len() != 1 || q.channel_multiplier(0) != 1 || q.channel_shift(0) != 0 {
        return Err(bad(
            "it is the codes of a per-axis QuantizeLinear; aecc outputs codes of per-tensor \
             quantizers only (or add a DequantizeLinear)",
        ));
    }
    let op = Op::Affine(Affine {
        axis: None,
        mul: vec![1],
        add: vec![q.channels[0].zero_point],
        out_frac: 0,
        out_unit: Unit::ONE,
    });
    let origin = imp.graph.node(node).origin.clone();
    let id = imp
        .graph
        .add_node(format!("{name}/codes"), op, &[node], origin)?;
    Ok(id)
}
