//! Data movement: `Flatten`, `Reshape`, `Transpose`, `Identity`, `Squeeze`, `Unsqueeze`.
//! On activations they become `Op::Reshape`/`Op::Transpose` (or nothing when the shape
//! does not change); on constants they are evaluated at compile time.

use super::conv::normalize_axis;
use super::{NodeCtx, Value};
use crate::onnx::constant::{checked_len, shape_str, MAX_DIM};
use crate::onnx::error::ImportError;
use aecc_ir::{NodeId, Op, Select};
use std::rc::Rc;

/// Input 0 with a new shape (same number of elements, checked by the caller or the IR).
fn reshaped(ctx: &mut NodeCtx<'_>, shape: Vec<usize>) -> Result<Vec<Value>, ImportError> {
    if let Value::Const(c) = ctx.value(0)? {
        let c = c.reshape(shape).map_err(|m| ctx.error(m))?;
        return Ok(vec![Value::Const(Rc::new(c))]);
    }
    if let Some(v) = moved_input(
        ctx,
        Op::Reshape {
            shape: shape.clone(),
        },
        shape.clone(),
    )? {
        return Ok(vec![v]);
    }
    moved(ctx, |ctx, x| {
        if ctx.imp.graph.node(x).out.shape == shape {
            return Ok(x);
        }
        ctx.add_node(Op::Reshape { shape }, &[x], "")
    })
}

/// Data movement `f` on input 0: an activation, or the codes of a per-tensor
/// QuantizeLinear (moved codes are the codes of the moved values).
pub(super) fn moved(
    ctx: &mut NodeCtx<'_>,
    f: impl FnOnce(&mut NodeCtx<'_>, NodeId) -> Result<NodeId, ImportError>,
) -> Result<Vec<Value>, ImportError> {
    if let Value::Codes {
        node,
        quantizer,
        elem,
    } = ctx.value(0)?.clone()
    {
        if quantizer.channels.len() == 1 {
            let id = f(ctx, node)?;
            return Ok(vec![Value::Codes {
                node: id,
                quantizer,
                elem,
            }]);
        }
    }
    let x = ctx.activation(0)?;
    Ok(vec![Value::Node(f(ctx, x)?)])
}

/// Integer values of constant input `i` (axes, shapes).
fn int_input(ctx: &NodeCtx<'_>, i: usize, what: &str) -> Result<Vec<i64>, ImportError> {
    ctx.constant(i, what)?
        .to_ints()
        .ok_or_else(|| ctx.error(format!("the {what} must be integers")))
}

pub(super) fn identity(ctx: &mut NodeCtx<'_>) -> Result<Vec<Value>, ImportError> {
    Ok(vec![ctx.value(0)?.clone()])
}

pub(super) fn flatten(ctx: &mut NodeCtx<'_>) -> Result<Vec<Value>, ImportError> {
    let shape = ctx.shape_of(0)?;
    let attrs = ctx.attrs();
    let axis = attrs.int_or("axis", 1)?;
    let rank = shape.len() as i64;
    let a = if axis < 0 { axis + rank } else { axis };
    if !(0..=rank).contains(&a) {
        return Err(attrs.error("axis", format!("{axis} is outside -{rank}..={rank}")));
    }
    let (outer, inner) = shape.split_at(a as usize);
    reshaped(ctx, vec![outer.iter().product(), inner.iter().product()])
}

pub(super) fn reshape(ctx: &mut NodeCtx<'_>) -> Result<Vec<Value>, ImportError> {
    let in_shape = ctx.shape_of(0)?;
    let spec = int_input(ctx, 1, "target shape")?;
    let allow_zero = ctx.attrs().flag_or("allowzero", false)?;
    let bad = |why: &str| {
        ctx.error(format!(
            "cannot reshape {} to {:?}: {why}",
            shape_str(&in_shape),
            spec
        ))
    };
    let mut out = Vec::with_capacity(spec.len());
    let mut infer_at = None;
    for (i, &d) in spec.iter().enumerate() {
        out.push(match d {
            0 if !allow_zero => *in_shape
                .get(i)
                .ok_or_else(|| bad(&format!("0 at position {i} copies a missing dimension")))?,
            -1 if infer_at.is_none() => {
                infer_at = Some(i);
                1
            }
            -1 => return Err(bad("more than one -1")),
            d if d < 0 || d as u64 > MAX_DIM as u64 => {
                return Err(bad(&format!("invalid dimension {d}")))
            }
            d => d as usize,
        });
    }
    let in_len = checked_len(&in_shape).ok_or_else(|| bad("input too large"))?;
    let known = checked_len(&out).ok_or_else(|| bad("result too large"))?;
    if let Some(i) = infer_at {
        if known == 0 || in_len % known != 0 {
            return Err(bad(&format!(
                "{in_len} elements cannot be split into {known}-element blocks for the -1"
            )));
        }
        out[i] = in_len / known;
    } else if known != in_len {
        return Err(bad(&format!("{in_len} elements vs {known}")));
    }
    reshaped(ctx, out)
}

pub(super) fn transpose(ctx: &mut NodeCtx<'_>) -> Result<Vec<Value>, ImportError> {
    let rank = ctx.shape_of(0)?.len();
    let attrs = ctx.attrs();
    let perm: Vec<usize> = match attrs.ints("perm")? {
        None => (0..rank).rev().collect(),
        Some(p) => p
            .iter()
            .map(|&v| usize::try_from(v).ok().filter(|&a| a < rank))
            .collect::<Option<_>>()
            .ok_or_else(|| {
                attrs.error("perm", format!("{p:?} is not a permutation of {rank} axes"))
            })?,
    };
    if let Value::Const(c) = ctx.value(0)? {
        let c = c.transpose(&perm).map_err(|m| ctx.error(m))?;
        return Ok(vec![Value::Const(Rc::new(c))]);
    }
    let shape = ctx.shape_of(0)?;
    let out: Vec<usize> = perm.iter().map(|&p| shape[p]).collect();
    if let Some(v) = moved_input(ctx, Op::Transpose { perm: perm.clone() }, out)? {
        return Ok(vec![v]);
    }
    moved(ctx, |ctx, x| {
        if perm.iter().enumerate().all(|(i, &p)| i == p) {
            return Ok(x);
        }
        ctx.add_node(Op::Transpose { perm }, &[x], "")
    })
}

/// Data movement `op` (giving `shape`) of a graph input that a quantizer reads later:
/// recorded, to be replayed after the input quantizer.
fn moved_input(ctx: &NodeCtx<'_>, op: Op, shape: Vec<usize>) -> Result<Option<Value>, ImportError> {
    match ctx.value(0)? {
        Value::GraphInput {
            name,
            declared,
            moves,
            ..
        } => {
            let mut moves = moves.clone();
            moves.push(op);
            Ok(Some(Value::GraphInput {
                name: name.clone(),
                shape,
                declared: declared.clone(),
                moves,
            }))
        }
        _ => Ok(None),
    }
}

/// Axes from input 1 (opset >= 13) or the `axes` attribute (older opsets).
fn axes_operand(ctx: &NodeCtx<'_>) -> Result<Option<Vec<i64>>, ImportError> {
    if ctx.has_input(1) {
        Ok(Some(int_input(ctx, 1, "axes")?))
    } else {
        ctx.attrs().ints("axes")
    }
}

pub(super) fn squeeze(ctx: &mut NodeCtx<'_>) -> Result<Vec<Value>, ImportError> {
    let shape = ctx.shape_of(0)?;
    let rank = shape.len();
    let drop: Vec<usize> = match axes_operand(ctx)? {
        None => (0..rank).filter(|&a| shape[a] == 1).collect(),
        Some(axes) => {
            let mut out = Vec::new();
            for v in axes {
                let a = normalize_axis(v, rank)
                    .ok_or_else(|| ctx.error(format!("axis {v} is outside -{rank}..{rank}")))?;
                if shape[a] != 1 {
                    return Err(ctx.error(format!(
                        "cannot squeeze axis {a} of size {} in {}",
                        shape[a],
                        shape_str(&shape)
                    )));
                }
                out.push(a);
            }
            out
        }
    };
    let new: Vec<usize> = (0..rank)
        .filter(|a| !drop.contains(a))
        .map(|a| shape[a])
        .collect();
    reshaped(ctx, new)
}

pub(super) fn unsqueeze(ctx: &mut NodeCtx<'_>) -> Result<Vec<Value>, ImportError> {
    let shape = ctx.shape_of(0)?;
    let axes = axes_operand(ctx)?.ok_or_else(|| ctx.error("no axes given"))?;
    let rank = shape.len() + axes.len();
    let mut insert = vec![false; rank];
    for v in axes {
        let a = normalize_axis(v, rank)
            .ok_or_else(|| ctx.error(format!("axis {v} is outside -{rank}..{rank}")))?;
        if std::mem::replace(&mut insert[a], true) {
            return Err(ctx.error(format!("axis {a} is given twice")));
        }
    }
    let mut dims = shape.iter();
    let new: Vec<usize> = insert
        .iter()
        .map(|&ins| {
            if ins {
                1
            } else {
                dims.next().copied().unwrap_or(1)
            }
        })
        .collect();
    reshaped(ctx, new)
}

/// The `(start, step, count)` of one axis of `Slice` (numpy semantics with the ONNX
/// clamping rules, negative steps included).
fn slice_axis(dim: usize, start: i64, end: i64, step: i64) -> (i64, i64, usize) {
    let d = dim as i64;
    let norm = |v: i64| if v < 0 { v + d } else { v };
    let (s, e) = if step > 0 {
        (norm(start).clamp(0, d), norm(end).clamp(0, d))
    } else {
        (norm(start).clamp(-1, d - 1), norm(end).clamp(-1, d - 1))
    };
    let count = if step > 0 {
        if e > s {
            (e - s + step - 1) / step
        } else {
            0
        }
    } else if s > e {
        (s - e + (-step) - 1) / (-step)
    } else {
        0
    };
    (s, step, count as usize)
}

/// `Slice(data, starts, ends, axes, steps)` (inputs from opset 10, attributes before):
/// on constants at compile time, on activations as data movement (wiring).
pub(super) fn slice(ctx: &mut NodeCtx<'_>) -> Result<Vec<Value>, ImportError> {
    let shape = ctx.shape_of(0)?;
    let rank = shape.len();
    let (starts, ends, axes, steps) = if ctx.node.input.len() > 1 {
        let opt =
            |ctx: &NodeCtx<'_>, i: usize, what: &str| -> Result<Option<Vec<i64>>, ImportError> {
                if ctx.has_input(i) {
                    Ok(Some(int_input(ctx, i, what)?))
                } else {
                    Ok(None)
                }
            };
        (
            int_input(ctx, 1, "starts")?,
            int_input(ctx, 2, "ends")?,
            opt(ctx, 3, "axes")?,
            opt(ctx, 4, "steps")?,
        )
    } else {
        let attrs = ctx.attrs();
        (
            attrs
                .ints("starts")?
                .ok_or_else(|| attrs.error("starts", "is required"))?,
            attrs
                .ints("ends")?
                .ok_or_else(|| attrs.error("ends", "is required"))?,
            attrs.ints("axes")?,
            None,
        )
    };
    let axes: Vec<usize> = match axes {
        None => (0..starts.len()).collect(),
        Some(a) => a
            .iter()
            .map(|&v| normalize_axis(v, rank))
            .collect::<Option<_>>()
            .ok_or_else(|| ctx.error(format!("axes {a:?} are outside the rank {rank}")))?,
    };
    let steps = steps.unwrap_or(vec![1; axes.len()]);
    if starts.len() != axes.len() || ends.len() != axes.len() || steps.len() != axes.len() {
        return Err(ctx.error("starts, ends, axes and steps differ in length"));
    }
    if steps.contains(&0) {
        return Err(ctx.error("a step is 0"));
    }
    let mut plan: Vec<(i64, i64, usize)> = shape.iter().map(|&d| (0, 1, d)).collect();
    for (k, &a) in axes.iter().enumerate() {
        plan[a] = slice_axis(shape[a], starts[k], ends[k], steps[k]);
    }
    let out: Vec<usize> = plan.iter().map(|p| p.2).collect();
    let source = |o: &[usize]| -> Vec<usize> {
        o.iter()
            .zip(&plan)
            .map(|(&i, &(s, step, _))| (s + i as i64 * step) as usize)
            .collect()
    };
    if let Value::Const(c) = ctx.value(0)? {
        let sel = Select::from_fn(&shape, out.clone(), 0, |o| Some(source(o)));
        let index: Vec<usize> = sel.index.iter().map(|i| i.expect("no fill")).collect();
        return Ok(vec![Value::Const(Rc::new(c.select(&index, out)))]);
    }
    moved(ctx, |ctx, x| {
        if out == shape {
            return Ok(x);
        }
        let sel = Select::from_fn(&shape, out.clone(), 0, |o| Some(source(o)));
        ctx.add_node(Op::Select(sel), &[x], "")
    })
}

/// `Gather(data, indices; axis)` with constant indices on an activation (wiring; on
/// constants it is folded, see `fold.rs`).
pub(super) fn gather(ctx: &mut NodeCtx<'_>) -> Result<Vec<Value>, ImportError> {
    if matches!(ctx.value(0)?, Value::Const(_)) {
        return super::fold::gather(ctx);
    }
    let shape = ctx.shape_of(0)?;
    let rank = shape.len();
    let axis_attr = ctx.attrs().int_or("axis", 0)?;
    let axis = normalize_axis(axis_attr, rank).ok_or_else(|| {
        ctx.attrs()
            .error("axis", format!("{axis_attr} is outside -{rank}..{rank}"))
    })?;
    let indices = ctx.constant(1, "indices")?;
    let dim = shape[axis] as i64;
    let idx: Vec<usize> = indices
        .to_ints()
        .ok_or_else(|| ctx.error("the indices must be integers"))?
        .into_iter()
        .map(|i| {
            let j = if i < 0 { i + dim } else { i };
            (0..dim)
                .contains(&j)
                .then_some(j as usize)
                .ok_or_else(|| ctx.error(format!("index {i} is out of range for size {dim}")))
        })
        .collect::<Result<_, _>>()?;
    let ishape = indices.shape.clone();
    let mut out = shape[..axis].to_vec();
    out.extend_from_slice(&ishape);
    out.extend_from_slice(&shape[axis + 1..]);
    let k = ishape.len();
    moved(ctx, |ctx, x| {
        let sel = Select::from_fn(&shape, out, 0, |o| {
            let flat = aecc_ir::movement::ravel(&o[axis..axis + k], &ishape);
            let mut src = o[..axis].to_vec();
            src.push(idx[flat]);
            src.extend_from_slice(&o[axis + k..]);
            Some(src)
        });
        ctx.add_node(Op::Select(sel), &[x], "")
    })
}

/// `Split(x, split; axis, num_outputs)`: one slice per output.
pub(super) fn split(ctx: &mut NodeCtx<'_>) -> Result<Vec<Value>, ImportError> {
    let shape = ctx.shape_of(0)?;
    let rank = shape.len();
    let attrs = ctx.attrs();
    let axis_attr = attrs.int_or("axis", 0)?;
    let axis = normalize_axis(axis_attr, rank)
        .ok_or_else(|| attrs.error("axis", format!("{axis_attr} is outside the rank {rank}")))?;
    let outputs = ctx.node.output.len();
    let sizes: Vec<usize> = if ctx.has_input(1) {
        int_input(ctx, 1, "split")?
            .iter()
            .map(|&v| usize::try_from(v).ok())
            .collect::<Option<_>>()
            .ok_or_else(|| ctx.error("split sizes must be non-negative"))?
    } else if let Some(v) = attrs.ints("split")? {
        v.iter().map(|&v| v.max(0) as usize).collect()
    } else {
        let n = attrs.int_or("num_outputs", outputs as i64)?.max(1) as usize;
        let chunk = shape[axis].div_ceil(n);
        (0..n)
            .map(|k| chunk.min(shape[axis].saturating_sub(k * chunk)))
            .collect()
    };
    if sizes.iter().sum::<usize>() != shape[axis] || sizes.len() != outputs {
        return Err(ctx.error(format!(
            "split sizes {sizes:?} do not cover axis {axis} of size {} in {outputs} outputs",
            shape[axis]
        )));
    }
    let x = match ctx.value(0)? {
        Value::Const(_) => None,
        _ => Some(ctx.activation(0)?),
    };
    let mut start = 0;
    let mut values = Vec::with_capacity(outputs);
    for (k, &len) in sizes.iter().enumerate() {
        let mut out = shape.clone();
        out[axis] = len;
        let sel = Select::from_fn(&shape, out.clone(), 0, |o| {
            let mut src = o.to_vec();
            src[axis] += start;
            Some(src)
        });
        values.push(match (x, ctx.value(0)?) {
            (None, Value::Const(c)) => {
                let index: Vec<usize> = sel.index.iter().map(|i| i.expect("no fill")).collect();
                Value::Const(Rc::new(c.select(&index, out)))
            }
            (Some(x), _) => {
                let name = ctx.out_name(k);
                let id = ctx
                    .imp
                    .graph
                    .add_node(name, Op::Select(sel), &[x], ctx.label.clone())?;
                Value::Node(id)
            }
            _ => unreachable!(),
        });
        start += len;
    }
    Ok(values)
}

/// `Concat` of activations along `axis`: operands on different scale units are put on
/// their common unit (an exact integer multiplication), grids are aligned by shifts.
pub(super) fn concat_activations(ctx: &mut NodeCtx<'_>) -> Result<Vec<Value>, ImportError> {
    let given: Vec<usize> = (0..ctx.node.input.len())
        .filter(|&i| ctx.has_input(i))
        .collect();
    let mut ids = Vec::with_capacity(given.len());
    for &i in &given {
        if matches!(ctx.value(i)?, Value::Const(_)) {
            return Err(ctx.error(format!(
                "input #{i} '{}' is a constant; aecc concatenates activations with activations \
                 only",
                ctx.input_name(i)
            )));
        }
        ids.push(ctx.activation(i)?);
    }
    let rank = ctx.imp.graph.node(ids[0]).out.shape.len();
    let attrs = ctx.attrs();
    let axis_attr = attrs
        .int("axis")?
        .ok_or_else(|| attrs.error("axis", "is required"))?;
    let axis = normalize_axis(axis_attr, rank)
        .ok_or_else(|| attrs.error("axis", format!("{axis_attr} is outside -{rank}..{rank}")))?;
    let mut unit = ctx.imp.graph.node(ids[0]).out.unit;
    for &id in &ids[1..] {
        let u = ctx.imp.graph.node(id).out.unit;
        unit = unit.common(u).ok_or_else(|| {
            ctx.error(format!(
                "the scale units {unit} and {u} have no common unit in range"
            ))
        })?;
    }
    for (k, id) in ids.iter_mut().enumerate() {
        let info = ctx.imp.graph.node(*id).out.clone();
        if info.unit != unit {
            let r = info.unit.ratio_int(unit).expect("a common unit divides") as i64;
            let op = Op::Affine(aecc_ir::Affine {
                axis: None,
                mul: vec![r],
                add: vec![0],
                out_frac: info.ty.frac,
                out_unit: unit,
            });
            *id = ctx.add_node(op, &[*id], &format!("/unit{k}"))?;
        }
    }
    let n = ids.len();
    let id = ctx.add_node(Op::Concat { axis, inputs: n }, &ids, "")?;
    Ok(vec![Value::Node(id)])
}
