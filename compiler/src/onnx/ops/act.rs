//! Activations: `Relu` (`max(x, 0)`, exact on integers).

use super::{NodeCtx, Value};
use crate::onnx::constant::{ConstData, Constant};
use crate::onnx::error::ImportError;
use aecc_ir::Op;
use std::rc::Rc;

pub(super) fn relu(ctx: &mut NodeCtx<'_>) -> Result<Vec<Value>, ImportError> {
    if let Value::Const(c) = ctx.value(0)? {
        let data = match &c.data {
            ConstData::Float(v) => ConstData::Float(v.iter().map(|&x| x.max(0.0)).collect()),
            ConstData::Int(v) => ConstData::Int(v.iter().map(|&x| x.max(0)).collect()),
            ConstData::Fixed { data, frac, unit } => ConstData::Fixed {
                data: data.iter().map(|&x| x.max(0)).collect(),
                frac: *frac,
                unit: *unit,
            },
        };
        return Ok(vec![Value::Const(Rc::new(Constant::new(
            c.shape.clone(),
            data,
        )))]);
    }
    let x = ctx.activation(0)?;
    let id = ctx.add_node(Op::Relu, &[x], "")?;
    Ok(vec![Value::Node(id)])
}
