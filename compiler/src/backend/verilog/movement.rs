//! Data movement: `Select` is wiring in the top module (input lanes and constant fill
//! lanes); `Concat` is a registered layer (its operands arrive at different stages).

use super::layers::{input_lanes, LayerLogic};
use super::netlist::{literal, ModuleBody};
use aecc_ir::{Select, TensorInfo};

/// Lane `i` of the bus `src` (lanes of `from` bits) as exactly `to` bits: truncated,
/// or sign- (`signed`) or zero-extended.
fn lane(src: &str, i: usize, from: u32, to: u32, signed: bool) -> String {
    let lo = i as u32 * from;
    let bits = |hi: u32, lo: u32| {
        if hi == lo {
            format!("{src}[{lo}]")
        } else {
            format!("{src}[{hi}:{lo}]")
        }
    };
    if to <= from {
        bits(lo + to - 1, lo)
    } else {
        let fill = if signed {
            format!(
                "{{{}{{{}}}}}",
                to - from,
                bits(lo + from - 1, lo + from - 1)
            )
        } else {
            format!("{}'d0", to - from)
        };
        format!("{{{fill}, {}}}", bits(lo + from - 1, lo))
    }
}

/// The output lanes of a selection of the bus `src` (tensor `x`), lane 0 first.
pub fn select_lanes(src: &str, x: &TensorInfo, sel: &Select, out: &TensorInfo) -> Vec<String> {
    let (from, to) = (x.ty.width, out.ty.width);
    sel.index
        .iter()
        .map(|i| match i {
            Some(i) => lane(src, *i, from, to, x.ty.signed),
            None => literal(sel.fill as i128, to),
        })
        .collect()
}

/// Whether a selection reads every input lane (then it is wiring in the top module;
/// otherwise a layer, whose unread input bits go to its unused sink).
pub fn reads_every_lane(sel: &Select, in_len: usize) -> bool {
    let mut read = vec![false; in_len];
    for i in sel.index.iter().flatten() {
        read[*i] = true;
    }
    read.iter().all(|&r| r)
}

/// A selection that drops input lanes, as a registered layer.
pub fn select_layer(sel: &Select, x: &TensorInfo, out: &TensorInfo) -> LayerLogic {
    let mut body = ModuleBody::new();
    let xs = input_lanes(&mut body, "in_data", "x", x);
    let w = out.ty.width;
    let lanes = sel
        .index
        .iter()
        .map(|i| match i {
            Some(i) => body.field(&xs[*i], 0, w),
            None => literal(sel.fill as i128, w),
        })
        .collect();
    LayerLogic {
        body,
        instances: Vec::new(),
        lanes,
        submodules: Vec::new(),
    }
}

/// The lanes of the bus `src` (tensor `x`) in the type of `out`: an `Affine` that only
/// changes the scale (multipliers 1, offsets 0) is wiring.
pub fn retyped_lanes(src: &str, x: &TensorInfo, out: &TensorInfo) -> Vec<String> {
    (0..x.len())
        .map(|i| lane(src, i, x.ty.width, out.ty.width, x.ty.signed))
        .collect()
}

/// Concatenation along `axis`: every operand lane shifted onto the output grid.
pub fn concat(axis: usize, xs: &[&TensorInfo], out: &TensorInfo) -> LayerLogic {
    let mut body = ModuleBody::new();
    let w = out.ty.width;
    let operands: Vec<_> = xs
        .iter()
        .enumerate()
        .map(|(k, x)| input_lanes(&mut body, &format!("in{k}_data"), &format!("x{k}_"), x))
        .collect();
    let outer: usize = out.shape[..axis].iter().product();
    let mut lanes = Vec::with_capacity(out.len());
    for o in 0..outer {
        for (k, x) in xs.iter().enumerate() {
            let block: usize = x.shape[axis..].iter().product();
            let shift = (out.ty.frac - x.ty.frac) as u32;
            for v in &operands[k][o * block..(o + 1) * block] {
                let expr = body.shift_left(v, shift, w);
                let j = lanes.len();
                let y = body.wire_of_width(
                    &format!("y{j}"),
                    w,
                    out.ty.signed,
                    v.interval.shl(shift),
                    expr,
                    None,
                );
                lanes.push(body.slice(&y, w - 1, 0));
            }
        }
    }
    LayerLogic {
        body,
        instances: Vec::new(),
        lanes,
        submodules: Vec::new(),
    }
}
