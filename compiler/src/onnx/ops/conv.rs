//! `Conv` (1-D and 2-D, grouped and depthwise), the QONNX channels-last wrappers, and
//! `Pad` (constant, edge or reflect padding; zero padding of H/W is folded into a `Conv`
//! that reads it: Keras-style 'same' padding is often exported as Pad + Conv; any other
//! reader gets the padding as data movement).

use super::weights::{channel_vector, check_accumulator, weight_tensor, weights_with_bias};
use super::{NodeCtx, Value};
use crate::onnx::constant::shape_str;
use crate::onnx::error::ImportError;
use aecc_ir::{Conv, Op, Select};

/// The window attributes of a Conv or a pool, lifted to 2-D (`[H, W]`; a 1-D op has
/// `H = 1` with kernel 1, stride 1 and no padding).
pub(crate) struct Window {
    pub kernel: [usize; 2],
    pub strides: [usize; 2],
    pub dilations: [usize; 2],
    /// `[top, left, bottom, right]`.
    pub pads: [usize; 4],
}

/// Reads `kernel_shape` (checked against `kernel` when given), `strides`, `dilations`,
/// `pads` and `auto_pad` for a window of `spatial` (1 or 2) axes over an input of
/// spatial size `in_hw` (2-D, `H = 1` for 1-D). `kernel` is `None` for pools (the
/// kernel_shape attribute is required then).
pub(crate) fn window(
    ctx: &NodeCtx<'_>,
    spatial: usize,
    kernel: Option<[usize; 2]>,
    in_hw: [usize; 2],
) -> Result<Window, ImportError> {
    let attrs = ctx.attrs();
    let lift = |v: Vec<usize>, fill: usize| -> [usize; 2] {
        if spatial == 1 {
            [fill, v[0]]
        } else {
            [v[0], v[1]]
        }
    };
    let kernel = match (attrs.usizes_n("kernel_shape", spatial, 1)?, kernel) {
        (Some(k), Some(w)) => {
            let k = lift(k, 1);
            if k != w {
                return Err(attrs.error(
                    "kernel_shape",
                    format!("{k:?} does not match the weight's {w:?}"),
                ));
            }
            w
        }
        (Some(k), None) => lift(k, 1),
        (None, Some(w)) => w,
        (None, None) => return Err(attrs.error("kernel_shape", "is required")),
    };
    let strides = lift(
        attrs
            .usizes_n("strides", spatial, 1)?
            .unwrap_or(vec![1; spatial]),
        1,
    );
    let dilations = lift(
        attrs
            .usizes_n("dilations", spatial, 1)?
            .unwrap_or(vec![1; spatial]),
        1,
    );
    let pads = attrs.usizes_n("pads", 2 * spatial, 0)?;
    let auto_pad = attrs.string_or("auto_pad", "NOTSET")?;
    let pads: [usize; 4] = match auto_pad.as_str() {
        "NOTSET" => match pads {
            None => [0; 4],
            Some(p) if spatial == 1 => [0, p[0], 0, p[1]],
            Some(p) => [p[0], p[1], p[2], p[3]],
        },
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
                    let k = kernel[a];
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
    Ok(Window {
        kernel,
        strides,
        dilations,
        pads,
    })
}

/// A 3-D `[N, C, L]` activation as `[N, C, 1, L]` (a reshape: wiring).
pub(crate) fn to_2d(
    ctx: &mut NodeCtx<'_>,
    x: aecc_ir::NodeId,
) -> Result<aecc_ir::NodeId, ImportError> {
    let s = ctx.imp.graph.node(x).out.shape.clone();
    ctx.add_node(
        Op::Reshape {
            shape: vec![s[0], s[1], 1, s[2]],
        },
        &[x],
        "/in2d",
    )
}

/// A `[N, M, 1, L]` result of a 1-D op (named with the suffix `/2d`) back to
/// `[N, M, L]`, named after the output.
pub(crate) fn from_2d(
    ctx: &mut NodeCtx<'_>,
    y: aecc_ir::NodeId,
) -> Result<aecc_ir::NodeId, ImportError> {
    let s = ctx.imp.graph.node(y).out.shape.clone();
    let id = ctx.add_node(
        Op::Reshape {
            shape: vec![s[0], s[1], s[3]],
        },
        &[y],
        "",
    )?;
    Ok(id)
}

/// `Conv` in 1-D (`[N, C, L]`, run as 2-D with `H = 1`) or 2-D (NCHW), with groups
/// (depthwise when `group == C`), strides, dilations, padding (an explicit `Pad`
/// before it is folded in) and a bias.
pub(super) fn conv(ctx: &mut NodeCtx<'_>) -> Result<Vec<Value>, ImportError> {
    let (x, extra_pads) = match ctx.value(0)? {
        Value::Padded { node, pads, .. } => (*node, *pads),
        _ => (ctx.activation(0)?, [0; 4]),
    };
    let w = ctx.constant(1, "weight")?;
    let b = ctx.opt_constant(2, "bias")?;
    let bias_name = ctx.input_name(2).to_string();
    let id = conv_with(ctx, x, extra_pads, w, b, &bias_name, "")?;
    Ok(vec![Value::Node(id)])
}

/// The Conv of this node's attributes on the activation `x` (with zero padding
/// `extra_pads` from a Pad before it) with weights `w` and bias `b` (named `bias_name`
/// in messages); `suffix` names the result node (empty: after the node's output).
pub(crate) fn conv_with(
    ctx: &mut NodeCtx<'_>,
    x: aecc_ir::NodeId,
    extra_pads: [usize; 4],
    w: std::rc::Rc<crate::onnx::constant::Constant>,
    b: Option<std::rc::Rc<crate::onnx::constant::Constant>>,
    bias_name: &str,
    suffix: &str,
) -> Result<aecc_ir::NodeId, ImportError> {
    let x_shape = ctx.imp.graph.node(x).out.shape.clone();
    let spatial = x_shape.len().saturating_sub(2);
    if !(1..=2).contains(&spatial) || w.shape.len() != x_shape.len() {
        return Err(ctx.error(format!(
            "only 1-D and 2-D convolutions are supported (3-D NCL or 4-D NCHW input and a \
             weight of the same rank), got input {} and weight {}",
            shape_str(&x_shape),
            shape_str(&w.shape)
        )));
    }
    let one_d = spatial == 1;
    let (x, w) = if one_d {
        let mut ws = w.shape.clone();
        ws.insert(2, 1);
        (
            to_2d(ctx, x)?,
            std::rc::Rc::new(w.reshape(ws).map_err(|m| ctx.error(m))?),
        )
    } else {
        (x, w)
    };
    let x_shape = ctx.imp.graph.node(x).out.shape.clone();
    let attrs = ctx.attrs();
    let group = attrs.int_or("group", 1)?;
    let channels = x_shape[1];
    if group < 1 || !channels.is_multiple_of(group as usize) || w.shape[0] % group as usize != 0 {
        return Err(attrs.error(
            "group",
            format!(
                "{group} does not divide the {channels} input and {} output channels",
                w.shape[0]
            ),
        ));
    }
    let group = group as usize;
    if w.shape[1] * group != channels {
        return Err(ctx.error(format!(
            "the weight {} expects {} input channels per group, the input has {channels} \
             channels in {group} group(s)",
            shape_str(&w.shape),
            w.shape[1]
        )));
    }
    let (kh, kw) = (w.shape[2], w.shape[3]);
    // The Conv's own input is the (possibly Pad-ed) tensor.
    let in_hw = [
        x_shape[2] + extra_pads[0] + extra_pads[2],
        x_shape[3] + extra_pads[1] + extra_pads[3],
    ];
    let win = window(ctx, spatial, Some([kh, kw]), in_hw)?;
    let mut pads = win.pads;
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
            let (w, b) = weights_with_bias(ctx, &xi, weight, None, &vector, bias_name)?;
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
        strides: win.strides,
        pads,
        dilations: win.dilations,
        group,
    });
    if one_d {
        let id = ctx.add_node(op, &[x], "/2d")?;
        let s = ctx.imp.graph.node(id).out.shape.clone();
        ctx.add_node(
            Op::Reshape {
                shape: vec![s[0], s[1], s[3]],
            },
            &[id],
            suffix,
        )
    } else {
        ctx.add_node(op, &[x], suffix)
    }
}

/// An op of the QONNX channels-last domain (`qonnx.custom_op.channels_last`: Conv,
/// MaxPool, BatchNormalization on NHWC/NLC tensors): the standard op between two
/// transposes (wiring in hardware). A Conv's weight is channels-last too (`[M, kh, kw,
/// C]`), as qonnx executes it.
pub(super) fn channels_last(
    ctx: &mut NodeCtx<'_>,
    inner: super::Builder,
    weight_too: bool,
) -> Result<Vec<Value>, ImportError> {
    let x = ctx.activation(0)?;
    let rank = ctx.imp.graph.node(x).out.shape.len();
    if rank < 3 {
        return Err(ctx.error("a channels-last op needs a tensor with channels and spatial axes"));
    }
    // NHWC -> NCHW: [0, rank-1, 1, ..., rank-2]
    let mut to_first = vec![0, rank - 1];
    to_first.extend(1..rank - 1);
    if weight_too {
        let w = ctx.constant(1, "weight")?;
        if w.shape.len() == rank {
            let w = w.transpose(&to_first).map_err(|m| ctx.error(m))?;
            ctx.set_input(1, Value::Const(std::rc::Rc::new(w)));
        }
    }
    let t = ctx.add_node(Op::Transpose { perm: to_first }, &[x], "/to_nchw")?;
    ctx.set_input(0, Value::Node(t));
    let out = inner(ctx)?;
    let y = match out.first() {
        Some(Value::Node(y)) => *y,
        _ => return Err(ctx.error("the channels-last op did not give an activation")),
    };
    let name = ctx.imp.graph.node(y).name.clone();
    ctx.imp.graph.node_mut(y).name = format!("{name}/nchw");
    let mut to_last = vec![0];
    to_last.extend(2..rank);
    to_last.push(1);
    let id = ctx.add_node(Op::Transpose { perm: to_last }, &[y], "")?;
    Ok(vec![Value::Node(id)])
}

/// `Pad(data, pads, constant_value, axes; mode)` (opset < 11: `pads` and `value` as
/// attributes). Zero padding of the H/W axes of a 4-D activation waits for a `Conv`
/// to fold it into its pads; everything else (any axes, a constant on the input grid,
/// `edge`, `reflect`, `wrap`, negative pads that crop) is data movement (`Select`).
pub(super) fn pad(ctx: &mut NodeCtx<'_>) -> Result<Vec<Value>, ImportError> {
    let (x, before) = match ctx.value(0)? {
        Value::Padded { node, pads, .. } => (Some(*node), *pads),
        Value::Const(_) => (None, [0; 4]),
        _ => (Some(ctx.activation(0)?), [0; 4]),
    };
    let shape = match x {
        Some(x) => ctx.imp.graph.node(x).out.shape.clone(),
        None => ctx.shape_of(0)?,
    };
    let rank = shape.len();
    let attrs = ctx.attrs();
    let mode = attrs.string_or("mode", "constant")?;
    if !matches!(mode.as_str(), "constant" | "edge" | "reflect" | "wrap") {
        return Err(attrs.error(
            "mode",
            format!("'{mode}': expected constant, edge, reflect or wrap"),
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
    if begin.iter().chain(&end).any(|&p| p.abs() > 1 << 20) {
        return Err(ctx.error(format!(
            "pads begin {begin:?}, end {end:?}: huge pads are not supported"
        )));
    }
    let zero_hw = mode == "constant"
        && value == 0.0
        && rank == 4
        && begin[..2].iter().chain(&end[..2]).all(|&p| p == 0)
        && begin.iter().chain(&end).all(|&p| p >= 0);
    if let (true, Some(x)) = (zero_hw, x) {
        let pads = [
            before[0] + begin[2] as usize,
            before[1] + begin[3] as usize,
            before[2] + end[2] as usize,
            before[3] + end[3] as usize,
        ];
        return Ok(vec![Value::Padded { node: x, pads }]);
    }
    // an earlier zero Pad waiting for a Conv becomes a node first
    let x = match x {
        Some(_) if before != [0; 4] => Some(ctx.activation(0)?),
        x => x,
    };
    let shape = match x {
        Some(x) => ctx.imp.graph.node(x).out.shape.clone(),
        None => shape,
    };
    let out: Vec<usize> = (0..rank)
        .map(|a| shape[a] as i64 + begin[a] + end[a])
        .map(|d| usize::try_from(d).ok().filter(|&d| d > 0))
        .collect::<Option<_>>()
        .ok_or_else(|| ctx.error("the pads crop an axis to nothing"))?;
    let source = |o: &[usize]| -> Option<Vec<usize>> {
        let mut src = Vec::with_capacity(rank);
        for a in 0..rank {
            let d = shape[a] as i64;
            let mut i = o[a] as i64 - begin[a];
            if !(0..d).contains(&i) {
                i = match mode.as_str() {
                    "constant" => return None,
                    "edge" => i.clamp(0, d - 1),
                    "wrap" => i.rem_euclid(d),
                    _ if d == 1 => 0,
                    _ => {
                        let period = 2 * (d - 1);
                        let r = i.rem_euclid(period);
                        if r < d {
                            r
                        } else {
                            period - r
                        }
                    }
                };
            }
            src.push(i as usize);
        }
        Some(src)
    };
    let Some(x) = x else {
        let c = ctx.constant(0, "data")?;
        let vals = c.to_f64();
        let sel = Select::from_fn(&shape, out.clone(), 0, source);
        let data = sel
            .index
            .iter()
            .map(|i| i.map_or(value, |i| vals[i]))
            .collect();
        return Ok(vec![Value::Const(std::rc::Rc::new(
            crate::onnx::constant::Constant::new(
                out,
                crate::onnx::constant::ConstData::Float(data),
            ),
        ))]);
    };
    let xi = ctx.imp.graph.node(x).out.clone();
    let fill = if mode == "constant" {
        let v = super::affine::Exact::of_f64(value).map_err(|m| ctx.error(m))?;
        let (lo, hi) =
            super::affine::integer_bounds(&xi, Some(v), Some(v)).map_err(|m| ctx.error(m))?;
        if lo != hi {
            return Err(ctx.error(format!(
                "padding value {value} is not on the input's grid ({}*2^{})",
                xi.unit, -xi.ty.frac
            )));
        }
        lo
    } else {
        0
    };
    let sel = Select::from_fn(&shape, out, fill, source);
    let id = ctx.add_node(Op::Select(sel), &[x], "")?;
    Ok(vec![Value::Node(id)])
}

/// `v` in `-rank..rank` as an axis index.
pub(super) fn normalize_axis(v: i64, rank: usize) -> Option<usize> {
    let r = rank as i64;
    let a = if v < 0 { v + r } else { v };
    (0..r).contains(&a).then_some(a as usize)
}
