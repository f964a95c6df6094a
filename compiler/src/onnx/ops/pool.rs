//! Pooling: `MaxPool`, `AveragePool`, `GlobalAveragePool`, `GlobalMaxPool`, and
//! `ReduceMean`/`ReduceMax` over the spatial axes; 1-D (`[N, C, L]`) and 2-D (NCHW).
//!
//! A maximum is exact on integers (and on the codes of a QuantizeLinear: the maximum of
//! codes is the code of the maximum). An average is the window sum times an integer on
//! a grid whose scale unit carries the division by the window size (see
//! [`aecc_ir::pool`]): exact, with no divider; the quantizer after it divides.

use super::conv::{from_2d, to_2d, window};
use super::{NodeCtx, Value};
use crate::onnx::error::ImportError;
use aecc_ir::{NodeId, Op, Pool};
use std::rc::Rc;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Max,
    Average,
}

/// The activation (or codes, for a maximum) to pool, as a 4-D tensor; whether it was
/// 1-D; the codes' quantizer to re-wrap the result with.
type PoolInput = (NodeId, bool, Option<(Rc<aecc_ir::Quantizer>, i32)>);

fn pool_input(ctx: &mut NodeCtx<'_>, kind: Kind) -> Result<PoolInput, ImportError> {
    let (x, codes) = match ctx.value(0)?.clone() {
        Value::Codes {
            node,
            quantizer,
            elem,
        } if kind == Kind::Max => (node, Some((quantizer, elem))),
        _ => (ctx.activation(0)?, None),
    };
    let rank = ctx.imp.graph.node(x).out.shape.len();
    match rank {
        3 => Ok((to_2d(ctx, x)?, true, codes)),
        4 => Ok((x, false, codes)),
        _ => Err(ctx.error(format!(
            "pooling is supported on 1-D [N, C, L] and 2-D [N, C, H, W] tensors, got rank {rank}"
        ))),
    }
}

fn finish(
    ctx: &mut NodeCtx<'_>,
    kind: Kind,
    x: NodeId,
    one_d: bool,
    pool: Pool,
    codes: Option<(Rc<aecc_ir::Quantizer>, i32)>,
) -> Result<Vec<Value>, ImportError> {
    let op = match kind {
        Kind::Max => Op::MaxPool(pool),
        Kind::Average => Op::AvgPool(pool),
    };
    let id = ctx.add_node(op, &[x], if one_d { "/2d" } else { "" })?;
    let id = if one_d { from_2d(ctx, id)? } else { id };
    Ok(vec![match codes {
        Some((quantizer, elem)) => Value::Codes {
            node: id,
            quantizer,
            elem,
        },
        None => Value::Node(id),
    }])
}

fn windowed(ctx: &mut NodeCtx<'_>, kind: Kind) -> Result<Vec<Value>, ImportError> {
    let (x, one_d, codes) = pool_input(ctx, kind)?;
    let shape = ctx.imp.graph.node(x).out.shape.clone();
    let spatial = if one_d { 1 } else { 2 };
    let win = window(ctx, spatial, None, [shape[2], shape[3]])?;
    let attrs = ctx.attrs();
    let ceil_mode = attrs.flag_or("ceil_mode", false)?;
    let count_include_pad = kind == Kind::Average && attrs.flag_or("count_include_pad", false)?;
    if attrs.int_or("storage_order", 0)? != 0 {
        return Err(attrs.error("storage_order", "only row-major (0) is supported"));
    }
    let pool = Pool {
        kernel: win.kernel,
        strides: win.strides,
        pads: win.pads,
        dilations: win.dilations,
        ceil_mode,
        count_include_pad,
    };
    finish(ctx, kind, x, one_d, pool, codes)
}

fn global(ctx: &mut NodeCtx<'_>, kind: Kind) -> Result<Vec<Value>, ImportError> {
    let (x, one_d, codes) = pool_input(ctx, kind)?;
    let shape = ctx.imp.graph.node(x).out.shape.clone();
    let pool = Pool {
        kernel: [shape[2], shape[3]],
        strides: [1, 1],
        pads: [0; 4],
        dilations: [1, 1],
        ceil_mode: false,
        count_include_pad: false,
    };
    finish(ctx, kind, x, one_d, pool, codes)
}

pub(super) fn max_pool(ctx: &mut NodeCtx<'_>) -> Result<Vec<Value>, ImportError> {
    windowed(ctx, Kind::Max)
}

pub(super) fn average_pool(ctx: &mut NodeCtx<'_>) -> Result<Vec<Value>, ImportError> {
    windowed(ctx, Kind::Average)
}

pub(super) fn global_average_pool(ctx: &mut NodeCtx<'_>) -> Result<Vec<Value>, ImportError> {
    global(ctx, Kind::Average)
}

pub(super) fn global_max_pool(ctx: &mut NodeCtx<'_>) -> Result<Vec<Value>, ImportError> {
    global(ctx, Kind::Max)
}

/// `ReduceMean`/`ReduceMax` over exactly the spatial axes (all axes after the channel
/// axis): a global pool, reshaped when `keepdims = 0`.
fn reduce(ctx: &mut NodeCtx<'_>, kind: Kind) -> Result<Vec<Value>, ImportError> {
    let shape = ctx.shape_of(0)?;
    let rank = shape.len();
    let axes: Vec<i64> = if ctx.has_input(1) {
        ctx.constant(1, "axes")?
            .to_ints()
            .ok_or_else(|| ctx.error("axes must be integers"))?
    } else {
        ctx.attrs().ints("axes")?.unwrap_or_default()
    };
    let mut axes: Vec<usize> = axes
        .iter()
        .map(|&a| super::conv::normalize_axis(a, rank))
        .collect::<Option<_>>()
        .ok_or_else(|| ctx.error(format!("axes {axes:?} are outside the rank {rank}")))?;
    axes.sort_unstable();
    let spatial: Vec<usize> = (2..rank).collect();
    if axes != spatial || !(3..=4).contains(&rank) {
        return Err(ctx.error(format!(
            "{} is supported over the spatial axes {spatial:?} of a 3-D or 4-D tensor \
             (a global pool), got axes {axes:?}",
            ctx.node.op_type
        )));
    }
    let keep = ctx.attrs().flag_or("keepdims", true)?;
    let out = global(ctx, kind)?;
    if keep {
        return Ok(out);
    }
    let Some(Value::Node(y)) = out.first().cloned() else {
        return Err(ctx.error("ReduceMax with keepdims = 0 on codes is not supported"));
    };
    let name = ctx.imp.graph.node(y).name.clone();
    ctx.imp.graph.node_mut(y).name = format!("{name}/keepdims");
    let id = ctx.add_node(
        Op::Reshape {
            shape: vec![shape[0], shape[1]],
        },
        &[y],
        "",
    )?;
    Ok(vec![Value::Node(id)])
}

pub(super) fn reduce_mean(ctx: &mut NodeCtx<'_>) -> Result<Vec<Value>, ImportError> {
    reduce(ctx, Kind::Average)
}

pub(super) fn reduce_max(ctx: &mut NodeCtx<'_>) -> Result<Vec<Value>, ImportError> {
    reduce(ctx, Kind::Max)
}
