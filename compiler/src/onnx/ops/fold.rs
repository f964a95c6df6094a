//! Ops evaluated at compile time: `Constant`, and the shape arithmetic exporters emit in
//! front of a `Reshape` (`Shape` -> `Gather` -> `Unsqueeze` -> `Concat`, `Cast`). Shapes
//! are static in aecc, so `Shape` of any tensor is a constant.

use super::conv::normalize_axis;
use super::{NodeCtx, Value};
use crate::onnx::constant::{self, decode_tensor, shape_str, ConstData, Constant};
use crate::onnx::error::ImportError;
use crate::onnx::proto::DataType;
use std::rc::Rc;

fn konst(c: Constant) -> Vec<Value> {
    vec![Value::Const(Rc::new(c))]
}

/// Input `i`, which must be a constant: these ops are only folded, never built in hardware.
fn folded_input(ctx: &NodeCtx<'_>, i: usize) -> Result<Rc<Constant>, ImportError> {
    match ctx.value(i)? {
        Value::Const(c) => Ok(c.clone()),
        _ => Err(ctx.error(format!(
            "input #{i} '{}' is computed from the graph inputs; aecc evaluates {} only on \
             constants (shape arithmetic), it has no hardware for it",
            ctx.input_name(i),
            ctx.node.op_type
        ))),
    }
}

pub(super) fn constant(ctx: &mut NodeCtx<'_>) -> Result<Vec<Value>, ImportError> {
    let attrs = ctx.attrs();
    if let Some(t) = attrs.tensor("value")? {
        let c = decode_tensor(t).map_err(|message| ImportError::Tensor {
            name: ctx.out_name(0),
            message,
        })?;
        return Ok(konst(c));
    }
    if attrs.has("value_float") {
        let v = attrs.float_or("value_float", 0.0)? as f64;
        return Ok(konst(Constant::new(vec![], ConstData::Float(vec![v]))));
    }
    if let Some(v) = attrs.floats("value_floats")? {
        let v: Vec<f64> = v.into_iter().map(|x| x as f64).collect();
        return Ok(konst(Constant::new(vec![v.len()], ConstData::Float(v))));
    }
    if let Some(v) = attrs.int("value_int")? {
        return Ok(konst(Constant::ints(vec![], vec![v])));
    }
    if let Some(v) = attrs.ints("value_ints")? {
        return Ok(konst(Constant::ints(vec![v.len()], v)));
    }
    let present: Vec<&str> = attrs.names().collect();
    Err(ctx.error(format!(
        "no supported value attribute (value, value_float(s), value_int(s)); has {present:?}"
    )))
}

pub(super) fn shape(ctx: &mut NodeCtx<'_>) -> Result<Vec<Value>, ImportError> {
    let shape = ctx.shape_of(0)?;
    let attrs = ctx.attrs();
    let rank = shape.len() as i64;
    let clamp = |v: i64| (if v < 0 { v + rank } else { v }).clamp(0, rank) as usize;
    let start = clamp(attrs.int_or("start", 0)?);
    let end = clamp(attrs.int_or("end", rank)?);
    let dims: Vec<i64> = shape[start..end.max(start)]
        .iter()
        .map(|&d| d as i64)
        .collect();
    Ok(konst(Constant::ints(vec![dims.len()], dims)))
}

pub(super) fn gather(ctx: &mut NodeCtx<'_>) -> Result<Vec<Value>, ImportError> {
    let data = folded_input(ctx, 0)?;
    let indices = folded_input(ctx, 1)?;
    let rank = data.shape.len();
    let axis_attr = ctx.attrs().int_or("axis", 0)?;
    let axis = normalize_axis(axis_attr, rank).ok_or_else(|| {
        ctx.attrs()
            .error("axis", format!("{axis_attr} is outside -{rank}..{rank}"))
    })?;
    let dim = data.shape[axis] as i64;
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
    let mut out_shape = data.shape[..axis].to_vec();
    out_shape.extend_from_slice(&indices.shape);
    out_shape.extend_from_slice(&data.shape[axis + 1..]);
    if constant::checked_len(&out_shape).is_none() {
        return Err(ctx.error(format!(
            "result shape {} is too large",
            shape_str(&out_shape)
        )));
    }
    Ok(konst(data.gather(axis, &idx, &indices.shape)))
}

pub(super) fn concat(ctx: &mut NodeCtx<'_>) -> Result<Vec<Value>, ImportError> {
    let parts: Vec<Rc<Constant>> = (0..ctx.node.input.len())
        .filter(|&i| ctx.has_input(i))
        .map(|i| folded_input(ctx, i))
        .collect::<Result<_, _>>()?;
    let first = parts.first().ok_or_else(|| ctx.error("no inputs"))?;
    let rank = first.shape.len();
    let attrs = ctx.attrs();
    let axis_attr = attrs
        .int("axis")?
        .ok_or_else(|| attrs.error("axis", "is required"))?;
    let axis = normalize_axis(axis_attr, rank)
        .ok_or_else(|| attrs.error("axis", format!("{axis_attr} is outside -{rank}..{rank}")))?;
    for p in &parts {
        let same =
            p.shape.len() == rank && (0..rank).all(|a| a == axis || p.shape[a] == first.shape[a]);
        if !same {
            return Err(ctx.error(format!(
                "cannot concatenate {} and {} along axis {axis}",
                shape_str(&first.shape),
                shape_str(&p.shape)
            )));
        }
    }
    let refs: Vec<&Constant> = parts.iter().map(|p| p.as_ref()).collect();
    let c = constant::concat(&refs, axis).map_err(|m| ctx.error(m))?;
    Ok(konst(c))
}

pub(super) fn cast(ctx: &mut NodeCtx<'_>) -> Result<Vec<Value>, ImportError> {
    let c = folded_input(ctx, 0)?;
    let attrs = ctx.attrs();
    let to = attrs
        .int("to")?
        .ok_or_else(|| attrs.error("to", "is required"))?;
    let to = DataType::try_from(to as i32)
        .map_err(|_| attrs.error("to", format!("unknown element type {to}")))?;
    let data = match to {
        DataType::Float => ConstData::Float(c.to_f64().iter().map(|&x| x as f32 as f64).collect()),
        DataType::Double => ConstData::Float(c.to_f64()),
        DataType::Bool => ConstData::Int(c.to_f64().iter().map(|&x| (x != 0.0) as i64).collect()),
        DataType::Int8
        | DataType::Int16
        | DataType::Int32
        | DataType::Int64
        | DataType::Uint8
        | DataType::Uint16
        | DataType::Uint32
        | DataType::Uint64 => match c.to_ints() {
            Some(v) => ConstData::Int(v),
            None => ConstData::Int(
                c.to_f64()
                    .iter()
                    .map(|&x| {
                        (x.is_finite() && x.abs() < 9.2e18)
                            .then_some(x.trunc() as i64)
                            .ok_or_else(|| ctx.error(format!("cannot cast {x} to an integer")))
                    })
                    .collect::<Result<_, _>>()?,
            ),
        },
        other => {
            return Err(attrs.error(
                "to",
                format!("casting constants to {other:?} is not supported"),
            ))
        }
    };
    Ok(konst(Constant::new(c.shape.clone(), data)))
}
