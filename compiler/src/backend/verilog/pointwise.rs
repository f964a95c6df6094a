//! Element-wise layers: `Sub`, `Affine`, `Clip`, `LeakyRelu` and lookup tables, one
//! lane per tensor element, exact at the tight width of each result (see `netlist.rs`
//! for the arithmetic convention).

use super::layers::{coords, input_lanes, LayerLogic};
use super::netlist::{literal, tight, Bit, ModuleBody, Signal};
use super::views::{render_file, InstanceView, LutEntryView, LutView};
use super::BackendError;
use aecc_ir::pointwise::channel_index;
use aecc_ir::{Affine, Interval, Lut, TensorInfo};
use std::collections::BTreeMap;

fn logic(body: ModuleBody, lanes: Vec<String>) -> LayerLogic {
    LayerLogic {
        body,
        instances: Vec::new(),
        lanes,
        submodules: Vec::new(),
    }
}

/// `x * c` as an expression of `width` bits (`x` extended to the width first).
fn times(body: &mut ModuleBody, x: &Signal, c: i128, width: u32) -> String {
    let xe = body.field(x, 0, width);
    match c {
        0 => format!("{width}'d0"),
        1 => xe,
        -1 => format!("-{xe}"),
        c if c < 0 => format!("-({xe} * {})", literal(-c, width)),
        c => format!("{xe} * {}", literal(c, width)),
    }
}

/// `a - b` per lane, each operand shifted onto the finer grid.
pub fn sub(a: &TensorInfo, b: &TensorInfo, out: &TensorInfo) -> LayerLogic {
    let mut body = ModuleBody::new();
    let as_ = input_lanes(&mut body, "a_data", "a", a);
    let bs = input_lanes(&mut body, "b_data", "b", b);
    let w = out.ty.width;
    let (sa, sb) = (
        (out.ty.frac - a.ty.frac) as u32,
        (out.ty.frac - b.ty.frac) as u32,
    );
    let mut lanes = Vec::with_capacity(as_.len());
    for (i, (av, bv)) in as_.iter().zip(&bs).enumerate() {
        let ta = body.shift_left(av, sa, w);
        let tb = body.shift_left(bv, sb, w);
        let y = body.wire_of_width(
            &format!("y{i}"),
            w,
            out.ty.signed,
            out.interval,
            format!("{ta} - {tb}"),
            None,
        );
        lanes.push(body.slice(&y, w - 1, 0));
    }
    logic(body, lanes)
}

/// `y = x * mul[c] + add[c]` per lane.
pub fn affine(a: &Affine, x: &TensorInfo, out: &TensorInfo) -> LayerLogic {
    let mut body = ModuleBody::new();
    let xs = input_lanes(&mut body, "in_data", "x", x);
    let w = out.ty.width;
    let mut lanes = Vec::with_capacity(xs.len());
    for (i, xv) in xs.iter().enumerate() {
        let c = channel_index(a.axis, i, &x.shape);
        let (m, k) = (a.mul[c] as i128, a.add[c] as i128);
        let product = times(&mut body, xv, m, w);
        let expr = match k {
            0 => product,
            k if k > 0 => format!("{product} + {}", literal(k, w)),
            k => format!("{product} - {}", literal(-k, w)),
        };
        let interval = xv.interval.scale(m).add(Interval::point(k));
        let comment = (a.mul.len() > 1).then(|| format!("y{} (channel {c})", coords(i, &x.shape)));
        let y = body.wire_of_width(&format!("y{i}"), w, out.ty.signed, interval, expr, comment);
        lanes.push(body.slice(&y, w - 1, 0));
    }
    logic(body, lanes)
}

/// `v` clamped to `[lo, hi]` as a wire named `name` (of the width of its interval).
pub fn clamp(body: &mut ModuleBody, v: &Signal, lo: i128, hi: i128, name: &str) -> Signal {
    let vi = v.interval;
    let interval = Interval::new(vi.lo.clamp(lo, hi), vi.hi.clamp(lo, hi));
    let (w, _) = tight(interval);
    if vi.hi <= lo || vi.lo >= hi {
        // a constant
        let c = if vi.hi <= lo { lo } else { hi };
        return body.wire(name, interval, literal(c, w), None);
    }
    let mut expr = body.field(v, 0, w);
    if vi.hi > hi {
        let test = body.compare(v, hi, false);
        expr = format!("{test} ? {} : {expr}", literal(hi, w));
    }
    if vi.lo < lo {
        let test = body.compare(v, lo, true);
        expr = format!("{test} ? {} : {expr}", literal(lo, w));
    }
    body.wire(name, interval, expr, None)
}

/// Clamp every lane to `[lo, hi]`.
pub fn clip(lo: i64, hi: i64, x: &TensorInfo, out: &TensorInfo) -> LayerLogic {
    let mut body = ModuleBody::new();
    let xs = input_lanes(&mut body, "in_data", "x", x);
    let w = out.ty.width;
    let mut lanes = Vec::with_capacity(xs.len());
    for (i, xv) in xs.iter().enumerate() {
        let c = clamp(&mut body, xv, lo as i128, hi as i128, &format!("c{i}"));
        let expr = body.field(&c, 0, w);
        let y = body.wire_of_width(&format!("y{i}"), w, out.ty.signed, c.interval, expr, None);
        lanes.push(body.slice(&y, w - 1, 0));
    }
    logic(body, lanes)
}

/// `x >= 0 ? x * pos : x * neg` per lane.
pub fn leaky_relu(pos: i64, neg: i64, x: &TensorInfo, out: &TensorInfo) -> LayerLogic {
    let mut body = ModuleBody::new();
    let xs = input_lanes(&mut body, "in_data", "x", x);
    let w = out.ty.width;
    let mut lanes = Vec::with_capacity(xs.len());
    for (i, xv) in xs.iter().enumerate() {
        let expr = match body.sign(xv) {
            Bit::Const(false) => times(&mut body, xv, pos as i128, w),
            Bit::Const(true) => times(&mut body, xv, neg as i128, w),
            sign => {
                let p = times(&mut body, xv, pos as i128, w);
                let n = times(&mut body, xv, neg as i128, w);
                format!("{} ? ({n}) : ({p})", body.use_bit(&sign))
            }
        };
        let y = body.wire_of_width(&format!("y{i}"), w, out.ty.signed, out.interval, expr, None);
        lanes.push(body.slice(&y, w - 1, 0));
    }
    logic(body, lanes)
}

/// A lookup table: one `case` module per channel (`{module}_lut`, or `{module}_ch<c>`),
/// instantiated once per lane. Only the entries the input interval can reach are
/// listed; the `default` arm gives the entry of the smallest reachable input.
pub fn lut(
    l: &Lut,
    module: &str,
    x: &TensorInfo,
    out: &TensorInfo,
    node_name: &str,
) -> Result<LayerLogic, BackendError> {
    let mut body = ModuleBody::new();
    let xs = input_lanes(&mut body, "in_data", "x", x);
    let w = out.ty.width;
    let xw = x.ty.width;
    let mut submodules = Vec::new();
    let mut modules: BTreeMap<usize, String> = BTreeMap::new();
    let mut instances = Vec::with_capacity(xs.len());
    let mut lanes = Vec::with_capacity(xs.len());
    let reachable = l.reachable(x.interval);
    for (i, xv) in xs.iter().enumerate() {
        let c = channel_index(l.axis, i, &x.shape);
        let name = match modules.get(&c) {
            Some(m) => m.clone(),
            None => {
                let name = if l.tables.len() == 1 {
                    format!("{module}_lut")
                } else {
                    format!("{module}_ch{c}")
                };
                let table = &l.tables[c];
                let entries: Vec<LutEntryView> = reachable
                    .clone()
                    .map(|e| LutEntryView {
                        key: literal(l.in_lo as i128 + e as i128, xw),
                        value: literal(table[e] as i128, w),
                    })
                    .collect();
                let view = LutView {
                    header: vec![
                        format!("{name}: lookup table of {node_name} (channel {c})"),
                        format!(
                            "x: {} {} -> y: {} {} (grid {}*2^{})",
                            x.ty, x.interval, out.ty, out.interval, out.unit, -out.ty.frac
                        ),
                    ],
                    module: name.clone(),
                    x_msb: xw - 1,
                    y_msb: w - 1,
                    default: entries[0].value.clone(),
                    entries,
                };
                submodules.push((name.clone(), render_file(&view)?));
                modules.insert(c, name.clone());
                name
            }
        };
        let x_full = body.slice(xv, xv.width - 1, 0);
        let y = format!("y{i}");
        body.instance_output(&y, w, None);
        instances.push(InstanceView {
            module: name,
            name: format!("u_y{i}"),
            connections: format!(".x({x_full}), .y({y})"),
        });
        lanes.push(y);
    }
    Ok(LayerLogic {
        body,
        instances,
        lanes,
        submodules,
    })
}
