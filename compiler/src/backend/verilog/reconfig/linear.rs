//! `Dense`/`Conv` with weights and biases from configuration registers: real
//! multipliers, optionally folded over several clock cycles (reuse factor).
//!
//! Each output lane `j` is `sum_t x[i_t] * w[k_t] (<< product_shift) + b[m] << bias_shift`
//! over its `T_j` taps (every tap of the layer's structure, whatever the weight value: a
//! register can hold any value). The interval of each product is the hull of the corner
//! products of the operand intervals (the input's interval and the register's full
//! range), so every sum is exact for any register contents.
//!
//! **Folding.** With `fold = R > 1` the lane has `ceil(T_j / R)` multipliers; in phase
//! `p` (`phase[p]` high, one-hot) multiplier `s` takes tap `p * ceil(T_j / R) + s`
//! (operands selected by AND-OR muxes; a missing tap reads 0), and
//! `acc_next = (phase[0] ? bias : acc) + products`. After phase `R - 1`, `acc_next` is the
//! complete sum; `out_data` is its low bits at the output width.

use super::super::layers::{input_lanes, sum_text, LayerLogic};
use super::super::netlist::{tight, ModuleBody, Signal};
use aecc_ir::{Interval, LinearMap, TensorInfo};

/// The interval of `a * b`.
pub fn product_interval(a: Interval, b: Interval) -> Interval {
    let c = [a.lo * b.lo, a.lo * b.hi, a.hi * b.lo, a.hi * b.hi];
    Interval::new(*c.iter().min().unwrap(), *c.iter().max().unwrap())
}

/// Bits of the two's complement of every value of `iv` (a sign bit even when `iv` has
/// no negatives).
fn signed_bits(iv: Interval) -> u32 {
    let (w, signed) = tight(iv);
    w + u32::from(!signed)
}

/// The exact worst-case interval of each output lane of `map` (terms `(input, weight
/// index + 1)`, bias = bias index + 1) for inputs `x`, weights in `w` and biases in `b`.
pub fn lane_intervals(
    map: &LinearMap,
    x: &TensorInfo,
    w: Interval,
    b: Option<Interval>,
) -> Vec<Interval> {
    map.rows
        .iter()
        .map(|row| {
            let mut acc = Interval::point(0);
            for _ in &row.terms {
                acc = acc.add(product_interval(x.interval, w));
            }
            acc = acc.shl(map.grid.product_shift);
            if let (Some(b), true) = (b, row.bias != 0) {
                acc = acc.add(b.shl(map.grid.bias_shift));
            }
            acc
        })
        .collect()
}

/// What [`linear`] built.
pub struct LinearLogic {
    pub logic: LayerLogic,
    /// Output lane expressions besides `out_data` (`acc_next` when folded).
    pub acc_lanes: Vec<String>,
    /// Accumulator width and interval (folded layers).
    pub acc: Option<(u32, Interval)>,
    pub multipliers: usize,
}

/// A multiplier `a * b` at a width holding both operands and the product, as a wire.
fn multiply(body: &mut ModuleBody, name: &str, a: &Signal, b: &Signal) -> Option<Signal> {
    let pi = product_interval(a.interval, b.interval);
    if pi == Interval::point(0) {
        return None;
    }
    let m = signed_bits(pi)
        .max(signed_bits(a.interval))
        .max(signed_bits(b.interval));
    let ae = body.field(a, 0, m);
    let be = body.field(b, 0, m);
    Some(body.wire_of_width(
        name,
        m,
        true,
        pi,
        format!("$signed({ae}) * $signed({be})"),
        None,
    ))
}

/// One-hot AND-OR selection of `choices[p]` (signal or none = 0) by `phase[p]`.
fn select(
    body: &mut ModuleBody,
    name: &str,
    phase: &Signal,
    choices: &[Option<&Signal>],
) -> Option<Signal> {
    let present: Vec<(usize, &Signal)> = choices
        .iter()
        .enumerate()
        .filter_map(|(p, c)| c.map(|c| (p, c)))
        .collect();
    let mut iv = Interval::point(0);
    for (_, c) in &present {
        iv = iv.hull(c.interval);
    }
    if iv == Interval::point(0) {
        return None;
    }
    let (width, _) = tight(iv);
    let mut parts = Vec::new();
    for (p, c) in present {
        let value = body.field(c, 0, width);
        let bit = body.slice(phase, p as u32, p as u32);
        parts.push(if width == 1 {
            format!("({bit} & {value})")
        } else {
            format!("({{{width}{{{bit}}}}} & {value})")
        });
    }
    Some(body.wire(name, iv, parts.join(" | "), None))
}

/// The logic of a layer with register weights. `map` has terms `(input index, weight
/// index + 1)` and bias `bias index + 1` (0: none); `w`/`b` are the register lanes'
/// tensors; `out` the layer's output tensor.
pub fn linear(
    map: &LinearMap,
    x: &TensorInfo,
    w: &TensorInfo,
    b: Option<&TensorInfo>,
    out: &TensorInfo,
    fold: u32,
) -> LinearLogic {
    let mut body = ModuleBody::new();
    let xs = input_lanes(&mut body, "in_data", "x", x);
    let ws = input_lanes(&mut body, "w_data", "w", w);
    let bs = b.map(|b| input_lanes(&mut body, "b_data", "b", b));
    let width = out.ty.width;
    let grid = map.grid;
    let mut multipliers = 0;
    let bias_of = |body: &mut ModuleBody, row_bias: i64, w: u32| -> Option<String> {
        let bs = bs.as_ref()?;
        (row_bias != 0).then(|| body.shift_left(&bs[row_bias as usize - 1], grid.bias_shift, w))
    };

    if fold <= 1 {
        let mut lanes = Vec::with_capacity(map.rows.len());
        for (j, row) in map.rows.iter().enumerate() {
            let mut terms = Vec::new();
            for (t, &(i, k)) in row.terms.iter().enumerate() {
                let p = multiply(&mut body, &format!("p{j}_{t}"), &xs[i], &ws[k as usize - 1]);
                if let Some(p) = p {
                    multipliers += 1;
                    terms.push((false, body.shift_left(&p, grid.product_shift, width)));
                }
            }
            if let Some(bias) = bias_of(&mut body, row.bias, width) {
                terms.push((false, bias));
            }
            let y = body.wire_of_width(
                &format!("y{j}"),
                width,
                out.ty.signed,
                out.interval,
                sum_text(&terms, width),
                None,
            );
            lanes.push(body.slice(&y, width - 1, 0));
        }
        return LinearLogic {
            logic: LayerLogic {
                body,
                instances: Vec::new(),
                lanes,
                submodules: Vec::new(),
            },
            acc_lanes: Vec::new(),
            acc: None,
            multipliers,
        };
    }

    // Folded: the accumulator holds any partial sum, bias + products of a subset of taps.
    let mut acc_iv = Interval::point(0);
    for row in &map.rows {
        let mut lo_hi = Interval::point(0);
        for &(i, k) in &row.terms {
            let p = product_interval(xs[i].interval, ws[k as usize - 1].interval)
                .shl(grid.product_shift);
            lo_hi = lo_hi.add(p.hull(Interval::point(0)));
        }
        if let (Some(bs), true) = (&bs, row.bias != 0) {
            lo_hi = lo_hi.add(bs[row.bias as usize - 1].interval.shl(grid.bias_shift));
        }
        acc_iv = acc_iv.hull(lo_hi);
    }
    acc_iv = acc_iv.hull(out.interval);
    let (acc_w, acc_signed) = tight(acc_iv);
    let phase = body.port("phase", fold, false, Interval::new(0, (1i128 << fold) - 1));
    let acc_info = TensorInfo {
        shape: vec![map.rows.len()],
        ty: aecc_ir::FixedType::exact(acc_w, grid.frac, acc_signed),
        interval: acc_iv,
        unit: out.unit,
    };
    let accs = input_lanes(&mut body, "acc_data", "acc", &acc_info);
    let mut acc_lanes = Vec::with_capacity(map.rows.len());
    let mut lanes = Vec::with_capacity(map.rows.len());
    for (j, row) in map.rows.iter().enumerate() {
        let taps = row.terms.len();
        let slots = taps.div_ceil(fold as usize);
        let mut terms = Vec::new();
        for s in 0..slots {
            let pick = |p: usize| -> Option<(usize, usize)> {
                let t = p * slots + s;
                (t < taps).then(|| (row.terms[t].0, row.terms[t].1 as usize - 1))
            };
            let xc: Vec<Option<&Signal>> = (0..fold as usize)
                .map(|p| pick(p).map(|(i, _)| &xs[i]))
                .collect();
            let wc: Vec<Option<&Signal>> = (0..fold as usize)
                .map(|p| pick(p).map(|(_, k)| &ws[k]))
                .collect();
            let xm = select(&mut body, &format!("xm{j}_{s}"), &phase, &xc);
            let wm = select(&mut body, &format!("wm{j}_{s}"), &phase, &wc);
            if let (Some(xm), Some(wm)) = (xm, wm) {
                if let Some(p) = multiply(&mut body, &format!("p{j}_{s}"), &xm, &wm) {
                    multipliers += 1;
                    terms.push((false, body.shift_left(&p, grid.product_shift, acc_w)));
                }
            }
        }
        let bias = bias_of(&mut body, row.bias, acc_w).unwrap_or_else(|| format!("{acc_w}'d0"));
        let first = body.slice(&phase, 0, 0);
        let acc = body.slice(&accs[j], acc_w - 1, 0);
        terms.insert(0, (false, format!("({first} ? {bias} : {acc})")));
        let next = body.wire_of_width(
            &format!("acc_next{j}"),
            acc_w,
            acc_signed,
            acc_iv,
            sum_text(&terms, acc_w),
            None,
        );
        acc_lanes.push(body.slice(&next, acc_w - 1, 0));
        let y = body.field(&next, 0, width);
        lanes.push(y);
    }
    LinearLogic {
        logic: LayerLogic {
            body,
            instances: Vec::new(),
            lanes,
            submodules: Vec::new(),
        },
        acc_lanes,
        acc: Some((acc_w, acc_iv)),
        multipliers,
    }
}
