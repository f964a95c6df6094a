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

pub(crate) fn gather(ctx: &mut NodeCtx<'_>) -> Result<Vec<Value>, ImportError> {
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
    let any_activation = (0..ctx.node.input.len())
        .any(|i| ctx.has_input(i) && !matches!(ctx.value(i), Ok(Value::Const(_))));
    if any_activation {
        return super::shape::concat_activations(ctx);
    }
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
    let attrs = ctx.attrs();
    let to = attrs
        .int("to")?
        .ok_or_else(|| attrs.error("to", "is required"))?;
    let to = DataType::try_from(to as i32)
        .map_err(|_| attrs.error("to", format!("unknown element type {to}")))?;
    if !matches!(ctx.value(0)?, Value::Const(_)) && matches!(to, DataType::Float | DataType::Double)
    {
        // a float cast of a quantized activation changes nothing (its values are exact
        // in float32 when they are at most 24 bits wide, as QAT activations are)
        let x = ctx.activation(0)?;
        return Ok(vec![Value::Node(x)]);
    }
    let c = folded_input(ctx, 0)?;
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
    let mut k = Constant::new(c.shape.clone(), data);
    k.elem = to as i32;
    Ok(konst(k))
}

/// Numpy broadcasting of two shapes: the result shape and, for every result element,
/// the flat index it reads in each operand.
pub(crate) fn broadcast2(a: &[usize], b: &[usize]) -> Option<(Vec<usize>, Vec<usize>, Vec<usize>)> {
    let rank = a.len().max(b.len());
    let pad = |s: &[usize]| -> Vec<usize> {
        let mut v = vec![1; rank - s.len()];
        v.extend_from_slice(s);
        v
    };
    let (pa, pb) = (pad(a), pad(b));
    let mut out = Vec::with_capacity(rank);
    for i in 0..rank {
        out.push(match (pa[i], pb[i]) {
            (x, y) if x == y => x,
            (1, y) => y,
            (x, 1) => x,
            _ => return None,
        });
    }
    constant::checked_len(&out)?;
    let (sa, sb) = (constant::strides(&pa), constant::strides(&pb));
    let n: usize = out.iter().product();
    let mut ia = Vec::with_capacity(n);
    let mut ib = Vec::with_capacity(n);
    for j in 0..n {
        let idx = aecc_ir::movement::unravel(j, &out);
        let (mut x, mut y) = (0, 0);
        for d in 0..rank {
            if pa[d] != 1 {
                x += idx[d] * sa[d];
            }
            if pb[d] != 1 {
                y += idx[d] * sb[d];
            }
        }
        ia.push(x);
        ib.push(y);
    }
    Some((out, ia, ib))
}

/// Whether a float constant holds double-precision values (else float32 arithmetic).
fn is_double(c: &Constant) -> bool {
    c.elem == DataType::Double as i32
}

/// `x op y` of two constants with broadcasting: integers exactly (`Div` truncates, as
/// onnxruntime's integer division), quantized constants exactly when the result is
/// (sums and products of exact values), floats in float32 (double for double tensors),
/// as the executor computes them.
pub(crate) fn arith(
    ctx: &NodeCtx<'_>,
    op: super::math::Arith,
    x: &Constant,
    y: &Constant,
) -> Result<Constant, ImportError> {
    use super::math::Arith;
    let (shape, ia, ib) = broadcast2(&x.shape, &y.shape).ok_or_else(|| {
        ctx.error(format!(
            "cannot broadcast {} and {}",
            shape_str(&x.shape),
            shape_str(&y.shape)
        ))
    })?;
    if let (ConstData::Int(a), ConstData::Int(b)) = (&x.data, &y.data) {
        let v = ia
            .iter()
            .zip(&ib)
            .map(|(&i, &j)| match op {
                Arith::Add => a[i].checked_add(b[j]),
                Arith::Sub => a[i].checked_sub(b[j]),
                Arith::Mul => a[i].checked_mul(b[j]),
                Arith::Div => a[i].checked_div(b[j]),
            })
            .collect::<Option<Vec<i64>>>()
            .ok_or_else(|| ctx.error("integer overflow or division by zero in constants"))?;
        let mut c = Constant::new(shape, ConstData::Int(v));
        c.elem = x.elem;
        return Ok(c);
    }
    let (a, b) = (x.to_f64(), y.to_f64());
    let double = is_double(x) || is_double(y);
    let v = ia
        .iter()
        .zip(&ib)
        .map(|(&i, &j)| {
            let r = match op {
                Arith::Add => a[i] + b[j],
                Arith::Sub => a[i] - b[j],
                Arith::Mul => a[i] * b[j],
                Arith::Div => a[i] / b[j],
            };
            if double {
                r
            } else {
                r as f32 as f64
            }
        })
        .collect();
    let mut c = Constant::new(shape, ConstData::Float(v));
    c.elem = if double {
        DataType::Double
    } else {
        DataType::Float
    } as i32;
    Ok(c)
}

/// `-c`, exactly.
pub(crate) fn negate(c: &Constant) -> Constant {
    let data = match &c.data {
        ConstData::Float(v) => ConstData::Float(v.iter().map(|x| -x).collect()),
        ConstData::Int(v) => ConstData::Int(v.iter().map(|x| x.wrapping_neg()).collect()),
        ConstData::Fixed { data, frac, unit } => ConstData::Fixed {
            data: data.iter().map(|x| x.wrapping_neg()).collect(),
            frac: *frac,
            unit: *unit,
        },
    };
    Constant::new(c.shape.clone(), data)
}

/// A unary function of a constant, in float32 (or exactly for `Neg`/`Abs` of integers).
fn unary(
    ctx: &mut NodeCtx<'_>,
    f: fn(f64) -> f64,
    int: Option<fn(i64) -> i64>,
) -> Result<Vec<Value>, ImportError> {
    let c = folded_input(ctx, 0)?;
    if let (ConstData::Int(v), Some(g)) = (&c.data, int) {
        let mut k = Constant::new(
            c.shape.clone(),
            ConstData::Int(v.iter().map(|&x| g(x)).collect()),
        );
        k.elem = c.elem;
        return Ok(konst(k));
    }
    let double = is_double(&c);
    let v = c
        .to_f64()
        .iter()
        .map(|&x| {
            let y = f(x);
            if double {
                y
            } else {
                y as f32 as f64
            }
        })
        .collect();
    Ok(konst(Constant::new(c.shape.clone(), ConstData::Float(v))))
}

pub(super) fn neg(ctx: &mut NodeCtx<'_>) -> Result<Vec<Value>, ImportError> {
    if !matches!(ctx.value(0)?, Value::Const(_)) {
        let x = ctx.activation(0)?;
        let minus = super::affine::Exact::of_f64(-1.0).expect("finite");
        let id = super::affine::affine_node(
            ctx,
            x,
            None,
            &[minus],
            &[super::affine::Exact::zero()],
            "",
        )?;
        return Ok(vec![Value::Node(id)]);
    }
    unary(ctx, |x| -x, Some(|x: i64| x.wrapping_neg()))
}
pub(super) fn abs(ctx: &mut NodeCtx<'_>) -> Result<Vec<Value>, ImportError> {
    unary(ctx, f64::abs, Some(|x: i64| x.wrapping_abs()))
}
pub(super) fn sqrt(ctx: &mut NodeCtx<'_>) -> Result<Vec<Value>, ImportError> {
    unary(ctx, f64::sqrt, None)
}
pub(super) fn reciprocal(ctx: &mut NodeCtx<'_>) -> Result<Vec<Value>, ImportError> {
    unary(ctx, |x| 1.0 / x, None)
}
pub(super) fn floor(ctx: &mut NodeCtx<'_>) -> Result<Vec<Value>, ImportError> {
    unary(ctx, f64::floor, Some(|x: i64| x))
}
pub(super) fn ceil(ctx: &mut NodeCtx<'_>) -> Result<Vec<Value>, ImportError> {
    unary(ctx, f64::ceil, Some(|x: i64| x))
}

/// `Pow`, `Min`, `Max` of two constants (float32).
fn binary_float(ctx: &mut NodeCtx<'_>, f: fn(f64, f64) -> f64) -> Result<Vec<Value>, ImportError> {
    let (x, y) = (folded_input(ctx, 0)?, folded_input(ctx, 1)?);
    let (shape, ia, ib) =
        broadcast2(&x.shape, &y.shape).ok_or_else(|| ctx.error("the operands do not broadcast"))?;
    let (a, b) = (x.to_f64(), y.to_f64());
    let double = is_double(&x);
    let v = ia
        .iter()
        .zip(&ib)
        .map(|(&i, &j)| {
            let r = f(a[i], b[j]);
            if double {
                r
            } else {
                r as f32 as f64
            }
        })
        .collect();
    Ok(konst(Constant::new(shape, ConstData::Float(v))))
}
pub(super) fn pow(ctx: &mut NodeCtx<'_>) -> Result<Vec<Value>, ImportError> {
    binary_float(ctx, f64::powf)
}

/// `ConstantOfShape(shape; value)`.
pub(super) fn constant_of_shape(ctx: &mut NodeCtx<'_>) -> Result<Vec<Value>, ImportError> {
    let dims = folded_input(ctx, 0)?
        .to_ints()
        .ok_or_else(|| ctx.error("the shape must be integers"))?;
    let shape: Vec<usize> = dims
        .iter()
        .map(|&d| usize::try_from(d).ok().filter(|&d| d <= constant::MAX_DIM))
        .collect::<Option<_>>()
        .ok_or_else(|| ctx.error(format!("invalid shape {dims:?}")))?;
    let n = constant::checked_len(&shape).ok_or_else(|| ctx.error("the shape is too large"))?;
    let value = match ctx.attrs().tensor("value")? {
        Some(t) => decode_tensor(t).map_err(|m| ctx.error(m))?,
        None => Constant::new(vec![1], ConstData::Float(vec![0.0])),
    };
    let data = match &value.data {
        ConstData::Int(v) => ConstData::Int(vec![v.first().copied().unwrap_or(0); n]),
        _ => ConstData::Float(vec![value.to_f64().first().copied().unwrap_or(0.0); n]),
    };
    let mut c = Constant::new(shape, data);
    c.elem = value.elem;
    Ok(konst(c))
}

/// `Range(start, limit, delta)` of integer constants.
pub(super) fn range(ctx: &mut NodeCtx<'_>) -> Result<Vec<Value>, ImportError> {
    let get = |ctx: &NodeCtx<'_>, i: usize| -> Result<i64, ImportError> {
        folded_input(ctx, i)?
            .to_ints()
            .and_then(|v| v.first().copied())
            .ok_or_else(|| ctx.error("Range is folded only for integer constants"))
    };
    let (start, limit, delta) = (get(ctx, 0)?, get(ctx, 1)?, get(ctx, 2)?);
    if delta == 0 {
        return Err(ctx.error("delta is 0"));
    }
    let mut v = Vec::new();
    let mut x = start;
    while (delta > 0 && x < limit) || (delta < 0 && x > limit) {
        v.push(x);
        if v.len() > constant::MAX_DIM {
            return Err(ctx.error("the range is too long"));
        }
        x += delta;
    }
    Ok(konst(Constant::ints(vec![v.len()], v)))
}
