//! Pooling layers over the windows of [`aecc_ir::Pool::windows`]: a balanced tree of
//! comparators for `MaxPool`, an adder (times the window's multiplier) for `AvgPool`.

use super::layers::{coords, input_lanes, LayerLogic};
use super::netlist::{literal, ModuleBody, Signal};
use aecc_ir::pool::average_scale;
use aecc_ir::{Pool, TensorInfo};

/// `max(a, b)` as a new wire `name` of the width of `a` and `b`.
fn max2(body: &mut ModuleBody, a: &Signal, b: &Signal, name: &str) -> Signal {
    let w = a.width;
    let (ta, tb) = (body.slice(a, w - 1, 0), body.slice(b, w - 1, 0));
    let test = if a.signed {
        format!("($signed({ta}) > $signed({tb}))")
    } else {
        format!("({ta} > {tb})")
    };
    body.wire_of_width(
        name,
        w,
        a.signed,
        a.interval.hull(b.interval),
        format!("{test} ? {ta} : {tb}"),
        None,
    )
}

/// The maximum of every window.
pub fn max_pool(p: &Pool, x: &TensorInfo, out: &TensorInfo) -> LayerLogic {
    let mut body = ModuleBody::new();
    let xs = input_lanes(&mut body, "in_data", "x", x);
    let w = out.ty.width;
    let mut lanes = Vec::new();
    for (j, window) in p.windows(&x.shape).iter().enumerate() {
        let mut level: Vec<Signal> = window.taps.iter().map(|&t| xs[t].clone()).collect();
        let mut depth = 0;
        while level.len() > 1 {
            depth += 1;
            let mut next = Vec::with_capacity(level.len().div_ceil(2));
            for (k, pair) in level.chunks(2).enumerate() {
                next.push(match pair {
                    [a, b] => max2(&mut body, a, b, &format!("m{j}_{depth}_{k}")),
                    [a] => a.clone(),
                    _ => unreachable!(),
                });
            }
            level = next;
        }
        let top = &level[0];
        let expr = body.field(top, 0, w);
        let y = body.wire_of_width(
            &format!("y{j}"),
            w,
            out.ty.signed,
            top.interval,
            expr,
            Some(format!(
                "y{} = max of {} taps",
                coords(j, &out.shape),
                window.taps.len()
            )),
        );
        lanes.push(body.slice(&y, w - 1, 0));
    }
    LayerLogic {
        body,
        instances: Vec::new(),
        lanes,
        submodules: Vec::new(),
    }
}

/// `sum(window) * lcm(counts) / count` for every window (the division is in the
/// output's scale unit, see [`aecc_ir::pool`]).
pub fn avg_pool(p: &Pool, x: &TensorInfo, out: &TensorInfo) -> LayerLogic {
    let mut body = ModuleBody::new();
    let xs = input_lanes(&mut body, "in_data", "x", x);
    let w = out.ty.width;
    let windows = p.windows(&x.shape);
    let scale = average_scale(&windows, x.unit).expect("checked by inference");
    let mut lanes = Vec::new();
    for (j, (window, &m)) in windows.iter().zip(&scale.multipliers).enumerate() {
        let terms: Vec<String> = window
            .taps
            .iter()
            .map(|&t| body.field(&xs[t], 0, w))
            .collect();
        let mut lines = Vec::new();
        for chunk in terms.chunks(4) {
            lines.push(chunk.join(" + "));
        }
        let sum = lines.join("\n     + ");
        let expr = if m == 1 {
            sum
        } else {
            format!("({sum}) * {}", literal(m as i128, w))
        };
        let y = body.wire_of_width(
            &format!("y{j}"),
            w,
            out.ty.signed,
            out.interval,
            expr,
            Some(format!(
                "y{} = sum of {} taps{}",
                coords(j, &out.shape),
                window.taps.len(),
                if m == 1 {
                    String::new()
                } else {
                    format!(" * {m}")
                }
            )),
        );
        lanes.push(body.slice(&y, w - 1, 0));
    }
    LayerLogic {
        body,
        instances: Vec::new(),
        lanes,
        submodules: Vec::new(),
    }
}
