//! `BatchNormalization` (inference): `y = (x - mean) / sqrt(var + eps) * scale + B`.
//!
//! onnxruntime computes it per channel as `a = scale / sqrt(var + eps)`,
//! `b = B - mean * a` in float32, then `y = x * a + b`. aecc takes `a` and `b` as the
//! float32 values that computation gives (each an exact dyadic rational) and computes
//! `y = x * a + b` exactly, as a per-channel integer affine map (one constant
//! multiplication per element; cheaper in hardware than folding a 24-bit `a` into
//! every weight of the layer before). Only the last float32 rounding of the executor's
//! `x * a + b` is not reproduced: its effect on the quantizer after it is measured on
//! the committed vectors.

use super::affine::{affine_node, Exact};
use super::{NodeCtx, Value};
use crate::onnx::error::ImportError;

pub(super) fn batch_norm(ctx: &mut NodeCtx<'_>) -> Result<Vec<Value>, ImportError> {
    let attrs = ctx.attrs();
    if attrs.flag_or("training_mode", false)? {
        return Err(attrs.error("training_mode", "only inference (0) is supported"));
    }
    if attrs.int_or("spatial", 1)? != 1 {
        return Err(attrs.error("spatial", "only spatial = 1 is supported"));
    }
    let eps = attrs.float_or("epsilon", 1e-5)?;
    let x = ctx.activation(0)?;
    let shape = ctx.imp.graph.node(x).out.shape.clone();
    if shape.len() < 2 {
        return Err(ctx.error(format!("the input {shape:?} has no channel axis")));
    }
    let c = shape[1];
    let mut params = Vec::with_capacity(4);
    for (i, what) in [(1, "scale"), (2, "B"), (3, "mean"), (4, "var")] {
        let k = ctx.constant(i, what)?;
        let v = k.to_f64();
        if v.len() != c {
            return Err(ctx.error(format!("{what} has {} values for {c} channels", v.len())));
        }
        params.push(v);
    }
    let (mut a, mut b) = (Vec::with_capacity(c), Vec::with_capacity(c));
    let columns = params[0]
        .iter()
        .zip(&params[1])
        .zip(&params[2])
        .zip(&params[3]);
    for (ch, (((&scale, &bias), &mean), &var)) in columns.enumerate() {
        let [scale, bias, mean, var] = [scale, bias, mean, var].map(|v| v as f32);
        let inv_std = 1.0f32 / (var + eps).sqrt();
        let a_c = inv_std * scale;
        let b_c = bias - mean * a_c;
        let exact = |v: f32, what: &str| {
            Exact::of_f64(v as f64).map_err(|m| ctx.error(format!("channel {ch}: {what} {m}")))
        };
        a.push(exact(a_c, "scale / sqrt(var + eps)")?);
        b.push(exact(b_c, "B - mean * scale / sqrt(var + eps)")?);
    }
    let id = affine_node(ctx, x, Some(1), &a, &b, "")?;
    Ok(vec![Value::Node(id)])
}
