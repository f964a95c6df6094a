//! `Gemm`, `MatMul` and `Add`.
//!
//! - `Gemm(A, B, C; alpha, beta, transA, transB)` and `MatMul(A, B)` with a constant
//!   (quantized) `B` become `Op::Dense`; `alpha` and `beta` are folded exactly into the
//!   integer weights and bias (any finite float factor is a dyadic rational).
//! - `Add` of a constant to the output of a Dense or Conv that nothing else reads is
//!   folded into that node's bias; `Add` of two activations is `Op::Add`.

use super::weights::{
    channel_vector, check_accumulator, check_add, scale_constant, weight_tensor, weights_with_bias,
};
use super::{NodeCtx, Value};
use crate::onnx::constant::{shape_str, Constant};
use crate::onnx::error::ImportError;
use aecc_ir::{Dense, NodeId, Op};
use std::rc::Rc;

/// The constant weight operand of a Gemm/MatMul, with a clear error otherwise.
fn weight_operand(ctx: &NodeCtx<'_>, i: usize) -> Result<Rc<Constant>, ImportError> {
    match ctx.value(i)? {
        Value::Const(c) => Ok(c.clone()),
        _ => Err(ctx.error(format!(
            "input #{i} '{}' is computed from the graph inputs; {} is supported only with a \
             constant (quantized) weight operand",
            ctx.input_name(i),
            ctx.node.op_type
        ))),
    }
}

/// The activation operand of a Gemm/MatMul, with a clear error for constants.
fn data_operand(ctx: &mut NodeCtx<'_>, i: usize) -> Result<NodeId, ImportError> {
    match ctx.value(i)? {
        Value::Const(_) => Err(ctx.error(format!(
            "input #{i} '{}' is a constant; {} is supported only as activation x constant \
             weights",
            ctx.input_name(i),
            ctx.node.op_type
        ))),
        _ => ctx.activation(i),
    }
}

/// [`check_accumulator`] for a Dense of `weight` `[K, N]` on `x`.
fn check_dense(
    ctx: &NodeCtx<'_>,
    x: NodeId,
    weight: &aecc_ir::ConstTensor,
    bias: Option<&aecc_ir::ConstTensor>,
) -> Result<(), ImportError> {
    let k = weight.shape.first().copied().unwrap_or(0);
    check_accumulator(ctx, &ctx.imp.graph.node(x).out, weight, bias, k)
}

pub(super) fn gemm(ctx: &mut NodeCtx<'_>) -> Result<Vec<Value>, ImportError> {
    let attrs = ctx.attrs();
    let alpha = attrs.float_or("alpha", 1.0)?;
    let beta = attrs.float_or("beta", 1.0)?;
    let trans_a = attrs.flag_or("transA", false)?;
    let trans_b = attrs.flag_or("transB", false)?;

    let mut x = data_operand(ctx, 0)?;
    let b = weight_operand(ctx, 1)?;
    let x_shape = ctx.imp.graph.node(x).out.shape.clone();
    if x_shape.len() != 2 || b.shape.len() != 2 {
        return Err(ctx.error(format!(
            "A and B must be 2-D, got A {} and B {}",
            shape_str(&x_shape),
            shape_str(&b.shape)
        )));
    }
    if trans_a {
        x = ctx.add_node(Op::Transpose { perm: vec![1, 0] }, &[x], "/transA")?;
    }
    let b = if trans_b {
        b.transpose(&[1, 0]).map_err(|m| ctx.error(m))?
    } else {
        (*b).clone()
    };
    let b = scale_constant(ctx, &b, alpha, "alpha")?;
    let weight = weight_tensor(ctx, &b, 1)?;
    let n = weight.shape[1];
    let out_shape = {
        let s = &ctx.imp.graph.node(x).out.shape;
        vec![s[0], n]
    };

    let c = if ctx.has_input(2) {
        Some(ctx.value(2)?.clone())
    } else {
        None
    };
    match c {
        None => {
            check_dense(ctx, x, &weight, None)?;
            let id = ctx.add_node(Op::Dense(Dense { weight, bias: None }), &[x], "")?;
            Ok(vec![Value::Node(id)])
        }
        Some(Value::Const(c)) => {
            let c = scale_constant(ctx, &c, beta, "beta")?;
            let c = channel_vector(ctx, &c, &out_shape, 1, "bias C")?;
            let xi = ctx.imp.graph.node(x).out.clone();
            let name = ctx.input_name(2).to_string();
            let (weight, bias) = weights_with_bias(ctx, &xi, weight, None, &c, &name)?;
            check_dense(ctx, x, &weight, Some(&bias))?;
            let id = ctx.add_node(
                Op::Dense(Dense {
                    weight,
                    bias: Some(bias),
                }),
                &[x],
                "",
            )?;
            Ok(vec![Value::Node(id)])
        }
        Some(_) => {
            // A computed C: Dense, then an element-wise Add.
            if beta != 1.0 {
                return Err(ctx.attrs().error(
                    "beta",
                    format!("{beta}: must be 1 when C is computed from the graph inputs"),
                ));
            }
            let cid = ctx.activation(2)?;
            check_dense(ctx, x, &weight, None)?;
            let d = ctx.add_node(Op::Dense(Dense { weight, bias: None }), &[x], "/matmul")?;
            let g = &ctx.imp.graph;
            check_add(ctx, &g.node(d).out, &g.node(cid).out)?;
            let id = ctx.add_node(Op::Add, &[d, cid], "")?;
            Ok(vec![Value::Node(id)])
        }
    }
}

pub(super) fn matmul(ctx: &mut NodeCtx<'_>) -> Result<Vec<Value>, ImportError> {
    let x = data_operand(ctx, 0)?;
    let b = weight_operand(ctx, 1)?;
    if b.shape.len() != 2 {
        return Err(ctx.error(format!(
            "the weight operand must be 2-D [K, N], got {}",
            shape_str(&b.shape)
        )));
    }
    let weight = weight_tensor(ctx, &b, 1)?;
    check_dense(ctx, x, &weight, None)?;
    let id = ctx.add_node(Op::Dense(Dense { weight, bias: None }), &[x], "")?;
    Ok(vec![Value::Node(id)])
}

/// The element-wise arithmetic ops.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Arith {
    Add,
    Sub,
    Mul,
    Div,
}

pub(super) fn add(ctx: &mut NodeCtx<'_>) -> Result<Vec<Value>, ImportError> {
    arith(ctx, Arith::Add)
}

pub(super) fn sub(ctx: &mut NodeCtx<'_>) -> Result<Vec<Value>, ImportError> {
    arith(ctx, Arith::Sub)
}

pub(super) fn mul(ctx: &mut NodeCtx<'_>) -> Result<Vec<Value>, ImportError> {
    arith(ctx, Arith::Mul)
}

pub(super) fn div(ctx: &mut NodeCtx<'_>) -> Result<Vec<Value>, ImportError> {
    arith(ctx, Arith::Div)
}

/// `Add`/`Sub`/`Mul`/`Div`:
/// - of two constants: folded at compile time;
/// - of an activation and a constant: `Add`/`Sub` fold into the bias of the Gemm/MatMul/
///   Conv before them when nothing else reads it; otherwise, and for `Mul`/`Div`, an
///   exact per-channel affine map (`Div` by `c` multiplies by the exact `1/c`: the odd
///   part of `c` becomes the unit's denominator, divided exactly by the next quantizer);
/// - of two activations: `Add`/`Sub` of tensors of the same shape (grids and units
///   aligned exactly); products and quotients of activations are not supported.
fn arith(ctx: &mut NodeCtx<'_>, op: Arith) -> Result<Vec<Value>, ImportError> {
    use super::affine::{affine_node, channel_exacts, constant_axis, Exact};
    let (a, b) = (ctx.value(0)?.clone(), ctx.value(1)?.clone());
    match (&a, &b) {
        (Value::Const(x), Value::Const(y)) => Ok(vec![Value::Const(Rc::new(super::fold::arith(
            ctx, op, x, y,
        )?))]),
        (Value::Const(c), _) | (_, Value::Const(c)) => {
            let const_first = matches!(a, Value::Const(_));
            let xi_index = if const_first { 1 } else { 0 };
            let x = ctx.activation(xi_index)?;
            let shape = ctx.imp.graph.node(x).out.shape.clone();
            let foldable = matches!(ctx.imp.graph.node(x).op, Op::Dense(_) | Op::Conv(_))
                && ctx.imp.pending_uses(x) == 0;
            match (op, const_first) {
                (Arith::Add, _) if foldable => return fold_into_bias(ctx, x, c),
                (Arith::Sub, false) if foldable => {
                    let negated = super::fold::negate(c);
                    return fold_into_bias(ctx, x, &negated);
                }
                (Arith::Div, true) => {
                    return Err(ctx.error(
                        "dividing a constant by an activation is not supported (only \
                         activation / constant)",
                    ))
                }
                _ => {}
            }
            let axis = constant_axis(ctx, c, &shape, "constant operand")?;
            let values = channel_exacts(ctx, c, &shape, axis, "constant operand")?;
            let one = Exact::of_f64(1.0).expect("finite");
            let (mul, add): (Vec<Exact>, Vec<Exact>) = match (op, const_first) {
                (Arith::Add, _) => (vec![one], values),
                (Arith::Sub, false) => (vec![one], values.iter().map(|v| v.neg()).collect()),
                (Arith::Sub, true) => (vec![one.neg()], values),
                (Arith::Mul, _) => (values, vec![Exact::zero()]),
                (Arith::Div, _) => (
                    values
                        .iter()
                        .map(|v| {
                            v.recip().ok_or_else(|| {
                                ctx.error(format!(
                                    "division by {}: zero or outside the exact range",
                                    v.to_f64()
                                ))
                            })
                        })
                        .collect::<Result<_, _>>()?,
                    vec![Exact::zero()],
                ),
            };
            let id = affine_node(ctx, x, axis, &mul, &add, "")?;
            Ok(vec![Value::Node(id)])
        }
        _ => {
            let (x, y) = (ctx.activation(0)?, ctx.activation(1)?);
            if matches!(op, Arith::Mul | Arith::Div) {
                return Err(ctx.error(format!(
                    "{} of two activations is not supported (only by constants)",
                    ctx.node.op_type
                )));
            }
            let (x, y) = align_units(ctx, x, y)?;
            let g = &ctx.imp.graph;
            check_add(ctx, &g.node(x).out, &g.node(y).out)?;
            let ir = if op == Arith::Add { Op::Add } else { Op::Sub };
            let id = ctx.add_node(ir, &[x, y], "")?;
            Ok(vec![Value::Node(id)])
        }
    }
}

/// Two activations on one scale unit: each multiplied (exactly) by its unit over the
/// common unit when they differ.
pub(crate) fn align_units(
    ctx: &mut NodeCtx<'_>,
    x: NodeId,
    y: NodeId,
) -> Result<(NodeId, NodeId), ImportError> {
    let (ux, uy) = (
        ctx.imp.graph.node(x).out.unit,
        ctx.imp.graph.node(y).out.unit,
    );
    if ux == uy {
        return Ok((x, y));
    }
    let common = ux.common(uy).ok_or_else(|| {
        ctx.error(format!(
            "the operands' scale units {ux} and {uy} have no common unit in range"
        ))
    })?;
    let mut out = Vec::new();
    for (id, u, k) in [(x, ux, 0), (y, uy, 1)] {
        if u == common {
            out.push(id);
            continue;
        }
        let r = u.ratio_int(common).expect("a common unit divides") as i64;
        let frac = ctx.imp.graph.node(id).out.ty.frac;
        let op = Op::Affine(aecc_ir::Affine {
            axis: None,
            mul: vec![r],
            add: vec![0],
            out_frac: frac,
            out_unit: common,
        });
        out.push(ctx.add_node(op, &[id], &format!("/unit{k}"))?);
    }
    Ok((out[0], out[1]))
}

/// `x + c`: adds `c` to the bias of the Dense/Conv node `x`, which must have no other
/// reader, and renames that node after this Add's output.
fn fold_into_bias(
    ctx: &mut NodeCtx<'_>,
    x: NodeId,
    c: &Constant,
) -> Result<Vec<Value>, ImportError> {
    let node = ctx.imp.graph.node(x).clone();
    let refuse = |why: String| {
        ctx.error(format!(
            "adding a constant is supported only right after a Gemm/MatMul/Conv whose output \
             nothing else reads (it is folded into the bias); {why}"
        ))
    };
    let (weight, old_bias, axis) = match &node.op {
        Op::Dense(d) => (&d.weight, &d.bias, node.out.shape.len() - 1),
        Op::Conv(cv) => (&cv.weight, &cv.bias, 1),
        other => {
            return Err(refuse(format!(
                "here the other operand comes from node {} ({})",
                node.origin,
                other.name()
            )))
        }
    };
    if ctx.imp.pending_uses(x) > 0 {
        return Err(refuse(format!(
            "the output of node {} is also read elsewhere",
            node.origin
        )));
    }
    let operand = ctx.imp.graph.operands(x)[0];
    let which = if matches!(ctx.value(0)?, Value::Const(_)) {
        0
    } else {
        1
    };
    let name = ctx.input_name(which).to_string();
    let vector = channel_vector(ctx, c, &node.out.shape, axis, "added constant")?;
    let xi = ctx.imp.graph.node(operand).out.clone();
    let (weight, bias) =
        weights_with_bias(ctx, &xi, weight.clone(), old_bias.clone(), &vector, &name)?;
    // products per output: K for a Dense [K, N], C * kh * kw for a Conv [M, C, kh, kw]
    let terms = match node.op {
        Op::Dense(_) => weight.shape[0],
        _ => weight.shape[1..].iter().product(),
    };
    check_accumulator(ctx, &xi, &weight, Some(&bias), terms)?;
    let op = match node.op {
        Op::Dense(_) => Op::Dense(Dense {
            weight,
            bias: Some(bias),
        }),
        Op::Conv(cv) => Op::Conv(aecc_ir::Conv {
            weight,
            bias: Some(bias),
            ..cv
        }),
        _ => unreachable!("checked above"),
    };
    let out = {
        let g = &ctx.imp.graph;
        op.infer(&[&g.node(operand).out])
            .map_err(|message| ImportError::Shape {
                node: ctx.label.clone(),
                message,
            })?
    };
    let new_name = ctx.out_name(0);
    let label = ctx.label.clone();
    let n = ctx.imp.graph.node_mut(x);
    n.op = op;
    n.out = out;
    n.name = new_name;
    n.origin = format!("{} + {}", n.origin, label);
    Ok(vec![Value::Node(x)])
}
