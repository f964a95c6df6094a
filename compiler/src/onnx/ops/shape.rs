//! Data movement: `Flatten`, `Reshape`, `Transpose`, `Identity`, `Squeeze`, `Unsqueeze`.
//! On activations they become `Op::Reshape`/`Op::Transpose` (or nothing when the shape
//! does not change); on constants they are evaluated at compile time.

use super::conv::normalize_axis;
use super::{NodeCtx, Value};
use crate::onnx::constant::{checked_len, shape_str, MAX_DIM};
use crate::onnx::error::ImportError;
use aecc_ir::Op;
use std::rc::Rc;

/// Input 0 with a new shape (same number of elements, checked by the caller or the IR).
fn reshaped(ctx: &mut NodeCtx<'_>, shape: Vec<usize>) -> Result<Vec<Value>, ImportError> {
    if let Value::Const(c) = ctx.value(0)? {
        let c = c.reshape(shape).map_err(|m| ctx.error(m))?;
        return Ok(vec![Value::Const(Rc::new(c))]);
    }
    let x = ctx.activation(0)?;
    if ctx.imp.graph.node(x).out.shape == shape {
        return Ok(vec![Value::Node(x)]);
    }
    let id = ctx.add_node(Op::Reshape { shape }, &[x], "")?;
    Ok(vec![Value::Node(id)])
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
    let x = ctx.activation(0)?;
    if perm.iter().enumerate().all(|(i, &p)| i == p) {
        return Ok(vec![Value::Node(x)]);
    }
    let id = ctx.add_node(Op::Transpose { perm }, &[x], "")?;
    Ok(vec![Value::Node(id)])
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
