//! `Conv` (2-D, NCHW, group 1) and `Pad` (zero padding of H/W, folded into the Conv that
//! reads it: Keras-style 'same' padding is often exported as Pad + Conv).

use super::weights::{channel_vector, check_accumulator, weight_tensor, weights_with_bias};
use super::{NodeCtx, Value};
use crate::onnx::constant::shape_str;
use crate::onnx::error::ImportError;
use aecc_ir::{Conv, Op};

pub(super) fn conv(ctx: &mut NodeCtx<'_>) -> Result<Vec<Value>, ImportError> {
    let (x, extra_pads) = match ctx.value(0)? {
        Value::Padded { node, pads, .. } => (*node, *pads),
        _ => (ctx.activation(0)?, [0; 4]),
    };
    let w = ctx.constant(1, "weight")?;
    let b = ctx.opt_constant(2, "bias")?;
    let x_shape = ctx.imp.graph.node(x).out.shape.clone();
    if x_shape.len() != 4 || w.shape.len() != 4 {
        return Err(ctx.error(format!(
            "only 2-D convolutions are supported (4-D NCHW input and 4-D weight), got input {} \
             and weight {}",
            shape_str(&x_shape),
            shape_str(&w.shape)
        )));
    }
    let attrs = ctx.attrs();
    let group = attrs.int_or("group", 1)?;
    if group != 1 {
        return Err(attrs.error(
            "group",
            format!("{group}: only group 1 is supported for now (no grouped or depthwise Conv)"),
        ));
    }
    let (kh, kw) = (w.shape[2], w.shape[3]);
    if let Some(k) = attrs.usizes_n("kernel_shape", 2, 1)? {
        if k != [kh, kw] {
            return Err(attrs.error(
                "kernel_shape",
                format!("{k:?} does not match the weight's {:?}", [kh, kw]),
            ));
        }
    }
    let strides = attrs.usizes_n("strides", 2, 1)?.unwrap_or(vec![1, 1]);
    let dilations = attrs.usizes_n("dilations", 2, 1)?.unwrap_or(vec![1, 1]);
    let pads = attrs.usizes_n("pads", 4, 0)?;
    let auto_pad = attrs.string_or("auto_pad", "NOTSET")?;
    // The Conv's own input is the (possibly Pad-ed) tensor.
    let in_hw = [
        x_shape[2] + extra_pads[0] + extra_pads[2],
        x_shape[3] + extra_pads[1] + extra_pads[3],
    ];
    let mut pads: [usize; 4] = match auto_pad.as_str() {
        "NOTSET" => {
            let p = pads.unwrap_or(vec![0; 4]);
            [p[0], p[1], p[2], p[3]]
        }
        "VALID" | "SAME_UPPER" | "SAME_LOWER" => {
            if pads.as_ref().is_some_and(|p| p.iter().any(|&v| v != 0)) {
                return Err(attrs.error(
                    "pads",
                    format!("must not be given together with auto_pad = {auto_pad}"),
                ));
            }
            if auto_pad == "VALID" {
                [0; 4]
            } else {
                let mut p = [0usize; 4];
                for a in 0..2 {
                    let k = [kh, kw][a];
                    let eff = dilations[a] * (k.max(1) - 1) + 1;
                    let out = in_hw[a].div_ceil(strides[a]);
                    let total = ((out.max(1) - 1) * strides[a] + eff).saturating_sub(in_hw[a]);
                    let small = total / 2;
                    let large = total - small;
                    // SAME_UPPER puts the extra padding at the end, SAME_LOWER at the start.
                    let (begin, end) = if auto_pad == "SAME_UPPER" {
                        (small, large)
                    } else {
                        (large, small)
                    };
                    p[a] = begin;
                    p[a + 2] = end;
                }
                p
            }
        }
        other => {
            return Err(attrs.error(
                "auto_pad",
                format!(
                    "unknown value '{other}'; expected NOTSET, VALID, SAME_UPPER or SAME_LOWER"
                ),
            ))
        }
    };
    for (p, e) in pads.iter_mut().zip(extra_pads) {
        *p += e;
    }
    let weight = weight_tensor(ctx, &w, 1)?;
    let (weight, bias) = match b {
        None => (weight, None),
        Some(b) => {
            let m = weight.shape[0];
            let vector = channel_vector(ctx, &b, &[m], 0, "bias")?;
            let xi = ctx.imp.graph.node(x).out.clone();
            let name = ctx.input_name(2).to_string();
            let (w, b) = weights_with_bias(ctx, &xi, weight, None, &vector, &name)?;
            (w, Some(b))
        }
    };
    let terms = weight.shape[1] * kh * kw;
    check_accumulator(
        ctx,
        &ctx.imp.graph.node(x).out,
        &weight,
        bias.as_ref(),
        terms,
    )?;
    let op = Op::Conv(Conv {
        weight,
        bias,
        strides: [strides[0], strides[1]],
        pads,
        dilations: [dilations[0], dilations[1]],
        group: 1,
    });
    let id = ctx.add_node(op, &[x], "")?;
    Ok(vec![Value::Node(id)])
}

/// `Pad(data, pads, constant_value, axes; mode)` with zeros on the H/W axes of a 4-D
/// activation. Older opsets (< 11) give `pads` and `value` as attributes.
pub(super) fn pad(ctx: &mut NodeCtx<'_>) -> Result<Vec<Value>, ImportError> {
    let (x, before) = match ctx.value(0)? {
        Value::Padded { node, pads, .. } => (*node, *pads),
        _ => (ctx.activation(0)?, [0; 4]),
    };
    let rank = ctx.imp.graph.node(x).out.shape.len();
    let attrs = ctx.attrs();
    let mode = attrs.string_or("mode", "constant")?;
    if mode != "constant" {
        return Err(attrs.error(
            "mode",
            format!("'{mode}': only constant (zero) padding is supported"),
        ));
    }
    let pads: Vec<i64> = if ctx.has_input(1) {
        ctx.constant(1, "pads")?
            .to_ints()
            .ok_or_else(|| ctx.error("pads must be integers"))?
    } else {
        attrs
            .ints("pads")?
            .ok_or_else(|| ctx.error("no pads given (neither input #1 nor attribute 'pads')"))?
    };
    let value = match ctx.opt_constant(2, "constant value")? {
        Some(c) => c.to_f64().first().copied().unwrap_or(0.0),
        None => attrs.float_or("value", 0.0)? as f64,
    };
    if value != 0.0 {
        return Err(ctx.error(format!(
            "padding value {value}: only zero padding is supported"
        )));
    }
    // Expand to one (begin, end) pair per axis.
    let axes: Vec<usize> = match ctx.opt_constant(3, "axes")? {
        None => (0..rank).collect(),
        Some(a) => a
            .to_ints()
            .unwrap_or_default()
            .into_iter()
            .map(|v| normalize_axis(v, rank))
            .collect::<Option<_>>()
            .ok_or_else(|| ctx.error(format!("axes must be in -{rank}..{rank}")))?,
    };
    if pads.len() != 2 * axes.len() {
        return Err(ctx.error(format!(
            "expected {} pads (begin and end for {} axes), got {}",
            2 * axes.len(),
            axes.len(),
            pads.len()
        )));
    }
    let mut begin = vec![0i64; rank];
    let mut end = vec![0i64; rank];
    for (k, &a) in axes.iter().enumerate() {
        begin[a] += pads[k];
        end[a] += pads[k + axes.len()];
    }
    if rank != 4 || begin[..2].iter().chain(&end[..2]).any(|&p| p != 0) {
        return Err(ctx.error(format!(
            "only zero padding of the H and W axes of a 4-D NCHW tensor is supported (pads \
             begin {begin:?}, end {end:?})"
        )));
    }
    if begin
        .iter()
        .chain(&end)
        .any(|&p| !(0..=1 << 20).contains(&p))
    {
        return Err(ctx.error(format!(
            "pads begin {begin:?}, end {end:?}: negative (cropping) or huge pads are not \
             supported"
        )));
    }
    let pads = [
        before[0] + begin[2] as usize,
        before[1] + begin[3] as usize,
        before[2] + end[2] as usize,
        before[3] + end[3] as usize,
    ];
    Ok(vec![Value::Padded {
        node: x,
        pads,
        origin: ctx.label.clone(),
    }])
}

/// `v` in `-rank..rank` as an axis index.
pub(super) fn normalize_axis(v: i64, rank: usize) -> Option<usize> {
    let r = rank as i64;
    let a = if v < 0 { v + r } else { v };
    (0..r).contains(&a).then_some(a as usize)
}
