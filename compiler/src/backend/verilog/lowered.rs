//! The optimised Verilog architecture: the lane graph of [`crate::lower`] printed as one
//! flat, pipelined module.
//!
//! - ports and handshake as [`aecc_testbench::RtlDesign`] documents (`clk`, `rst`,
//!   `in_valid`, `in_data`, `out_valid`, `out_data`); the input and the output are
//!   registered, and the valid pipeline `valid_pipe` has one bit per cycle of latency;
//! - every cell is one `wire` of its exact width (adders over exactly the bits where
//!   both operands have bits: the low bits of the unshifted operand pass through);
//! - registers sit where the schedule put stage boundaries, named `<signal>_p<stage>`;
//! - a quantizer lane in floor form is a bit slice, a tie detector and an overflow
//!   flag; a generic lane instantiates the lane module of `quantize.rs`;
//! - with `reuse > 1`, folded layers are printed by [`super::folded`].

use super::netlist::{literal, tight, Bit, ModuleBody, Signal};
use super::quantize::lane_logic;
use super::views::{
    comment_lines, render_file, unused_sink, InstanceView, LaneView, LaneWireView, WireView,
};
use super::BackendError;
use crate::lower::dfg::{signal_prefix, CellOp, SigId, Term};
use crate::lower::quant_lane::{QuantForm, QuantLane};
use crate::lower::{bitwidth::built_width, Lowered};
use aecc_ir::{Graph, Interval, Overflow};
use aecc_testbench::{Lane, Port, RtlDesign};
use askama::Template;
use std::collections::BTreeMap;

/// The flat module (`hdl-templates/verilog/lowered.v`).
#[derive(Template)]
#[template(path = "verilog/lowered.v", escape = "none")]
pub struct LoweredView {
    pub header: Vec<String>,
    pub module: String,
    pub in_msb: u32,
    pub out_msb: u32,
    /// `Some` when the design has an `in_ready` output (reuse > 1).
    pub ready_msb: Option<u32>,
    pub latency: u32,
    pub latency_msb: u32,
    pub valid_next: String,
    /// Extra control lines (`assign in_ready = ...;`).
    pub control: Vec<String>,
    /// The body of the input register's always block.
    pub input_capture: String,
    pub regs: Vec<RegView>,
    pub wires: Vec<WireView>,
    pub instances: Vec<InstanceView>,
    pub blocks: Vec<RegBlockView>,
    pub unused: Option<String>,
}

pub struct RegView {
    pub name: String,
    pub msb: u32,
}

/// One `always @(posedge clk)` block.
pub struct RegBlockView {
    pub comment: String,
    pub enable: Option<String>,
    pub assigns: Vec<(String, String)>,
}

/// A value as an operand: a constant or a signal.
#[derive(Debug, Clone)]
pub enum Val {
    Const(i128),
    Sig(Signal),
}

/// Shared state of the printer: the module body, names and registered copies.
pub struct Printer<'a> {
    pub low: &'a Lowered,
    pub top: String,
    pub body: ModuleBody,
    /// Base signal of each non-constant cell.
    pub base: Vec<Option<Signal>>,
    /// Registered copies `(cell, stage) -> signal`.
    copies: BTreeMap<(SigId, u32), Signal>,
    /// Stage each cell's base signal is valid in.
    pub home: Vec<u32>,
    pub regs: Vec<RegView>,
    /// `stage boundary -> (register, source)`: registers loaded at the end of stage - 1.
    pub loads: BTreeMap<u32, Vec<(String, String)>>,
    /// Registers loaded at the end of stage - 1 when an enable is high.
    pub enabled_loads: BTreeMap<(u32, String), Vec<(String, String)>>,
    pub wires_extra: Vec<InstanceView>,
    pub submodules: BTreeMap<String, String>,
    lane_modules: BTreeMap<String, String>,
}

impl<'a> Printer<'a> {
    pub fn new(low: &'a Lowered, top: &str) -> Printer<'a> {
        let n = low.dfg.cells.len();
        Printer {
            low,
            top: top.to_string(),
            body: ModuleBody::new(),
            base: vec![None; n],
            copies: BTreeMap::new(),
            home: low.schedule.stage.clone(),
            regs: Vec::new(),
            loads: BTreeMap::new(),
            enabled_loads: BTreeMap::new(),
            wires_extra: Vec::new(),
            submodules: BTreeMap::new(),
            lane_modules: BTreeMap::new(),
        }
    }

    pub fn width(&self, id: SigId) -> u32 {
        built_width(&self.low.dfg, &self.low.need, id)
    }

    /// The value of cell `id` as seen in `stage` (a registered copy when it was made in
    /// an earlier stage).
    pub fn at(&mut self, id: SigId, stage: u32) -> Val {
        let cell = self.low.dfg.cell(id);
        if cell.is_const() {
            return Val::Const(cell.interval.lo);
        }
        let home = self.home[id];
        assert!(
            stage >= home,
            "cell {id} used in stage {stage} before its stage {home}"
        );
        if stage == home {
            return Val::Sig(self.base[id].clone().expect("operands are printed first"));
        }
        if let Some(s) = self.copies.get(&(id, stage)) {
            return Val::Sig(s.clone());
        }
        let prev = match self.at(id, stage - 1) {
            Val::Sig(s) => s,
            Val::Const(_) => unreachable!(),
        };
        let w = cell.width().min(prev.width);
        let base_name = self.base[id].as_ref().unwrap().name.clone();
        let name = format!("{base_name}_p{stage}");
        let source = self.body.field(&prev, 0, w);
        let sig = self
            .body
            .port(&name, w, cell.signed() && w == cell.width(), cell.interval);
        self.regs.push(RegView {
            name: name.clone(),
            msb: w - 1,
        });
        self.loads.entry(stage).or_default().push((name, source));
        self.copies.insert((id, stage), sig.clone());
        Val::Sig(sig)
    }

    /// Declares a register (printed with the pipeline registers) and tracks its bits.
    pub fn register(&mut self, name: &str, width: u32, signed: bool, interval: Interval) -> Signal {
        self.regs.push(RegView {
            name: name.to_string(),
            msb: width - 1,
        });
        self.body.port(name, width, signed, interval)
    }

    /// `name <= source` at the end of stage `boundary - 1` when `enable` is high.
    pub fn load_enabled(&mut self, boundary: u32, enable: &str, name: &str, source: String) {
        self.enabled_loads
            .entry((boundary, enable.to_string()))
            .or_default()
            .push((name.to_string(), source));
    }

    /// Bits `[lo, lo + width)` of `val << shift` (two's complement extension).
    pub fn bits(&mut self, val: &Val, shift: u32, lo: u32, width: u32) -> String {
        match val {
            Val::Const(c) => literal((c << shift) >> lo, width),
            Val::Sig(v) => {
                if lo >= shift {
                    self.body.field(v, lo - shift, width)
                } else {
                    let z = shift - lo;
                    if z >= width {
                        format!("{width}'d0")
                    } else {
                        let high = self.body.field(v, 0, width - z);
                        format!("{{{high}, {z}'d0}}")
                    }
                }
            }
        }
    }

    /// Declares the base wire of cell `id`.
    pub fn declare(
        &mut self,
        id: SigId,
        name: &str,
        width: u32,
        expr: String,
        comment: Option<String>,
    ) {
        let cell = self.low.dfg.cell(id);
        let signed = cell.signed() && width == cell.width();
        let s = self
            .body
            .wire_of_width(name, width, signed, cell.interval, expr, comment);
        self.base[id] = Some(s);
    }

    /// Bits `[lo, lo + width)` of an adder operand `o << shift` (`o` = `v`, or its
    /// ones' complement on `w` bits zero-extended), without the operand's sign.
    pub fn term_bits(&mut self, t: &Term, v: &Val, lo: u32, width: u32) -> String {
        let Some(w) = t.complement else {
            return self.bits(v, t.shift, lo, width);
        };
        match v {
            Val::Const(c) => literal((((1i128 << w) - 1 - c) << t.shift) >> lo, width),
            Val::Sig(x) => {
                if lo < t.shift {
                    let z = t.shift - lo;
                    if z >= width {
                        return format!("{width}'d0");
                    }
                    let high = self.term_bits(t, v, t.shift, width - z);
                    return format!("{{{high}, {z}'d0}}");
                }
                let start = lo - t.shift;
                let avail = w.saturating_sub(start).min(width);
                if avail == 0 {
                    return format!("{width}'d0");
                }
                // written as an XOR with ones, not `~`: yosys keeps `~` as an inverter
                // cell in front of a carry chain, while an XOR with a constant merges
                // into the adder's own propagate LUT
                let core = format!(
                    "({} ^ {{{avail}{{1'b1}}}})",
                    self.body.field(x, start, avail)
                );
                if avail < width {
                    format!("{{{}'d0, {core}}}", width - avail)
                } else {
                    core
                }
            }
        }
    }

    /// `a + b` of an adder cell at width `w`, in stage `stage`.
    pub fn add_expr(&mut self, a: &Term, b: &Term, w: u32, stage: u32) -> String {
        let va = self.at(a.sig, stage);
        let vb = self.at(b.sig, stage);
        if let Some(e) = self.constant_add(a, &va, b, &vb, w) {
            return e;
        }
        // the operand that is not shifted and not negated passes its low bits through
        let pass = |t: &Term, other: &Term| t.shift == 0 && !t.neg && other.shift > 0;
        let (p, pv, q, qv) = if pass(a, b) {
            (a, va, b, vb)
        } else if pass(b, a) {
            (b, vb, a, va)
        } else {
            // full width: positive term first
            let (p, pv, q, qv) = if a.neg {
                (b, vb, a, va)
            } else {
                (a, va, b, vb)
            };
            let x = self.term_bits(p, &pv, 0, w);
            let y = self.term_bits(q, &qv, 0, w);
            return match (p.neg, q.neg) {
                (false, false) if q.complement.is_some() && p.complement.is_none() => {
                    format!("{y} + {x}")
                }
                (false, false) => format!("{x} + {y}"),
                (false, true) => format!("{x} - {y}"),
                _ => format!("{w}'d0 - {x} - {y}"),
            };
        };
        let d = q.shift.min(w);
        let low = self.term_bits(p, &pv, 0, d);
        if d == w {
            return low;
        }
        let wc = w - d;
        let x = self.term_bits(p, &pv, d, wc);
        let y = self.term_bits(q, &qv, d, wc);
        if q.neg {
            format!("{{{x} - {y}, {low}}}")
        } else if q.complement.is_some() && p.complement.is_none() {
            // a complemented operand goes first: yosys then maps the ones' complement
            // into the carry chain's propagate LUT instead of a separate inverter
            format!("{{{y} + {x}, {low}}}")
        } else {
            format!("{{{x} + {y}, {low}}}")
        }
    }

    /// `±(x << k) + c` for a signal `x` and a constant, written so that no carry-chain
    /// bit has a constant on one side and the signal read whole on the other: the
    /// constant's trailing zeros take the signal's low bits through, and an odd
    /// constant `2K + 1` becomes `{x[..:1] + K + x[0], ~x[0]}` (`x[0]` the carry in;
    /// `{K - x[..:1], ~x[0]}` for `c - x`). Otherwise yosys folds the adder that
    /// produced `x` and this one into one multi-operand adder (`alumacc`), which it
    /// maps to LUT-based compressors, where the constant costs logic; as an adder of
    /// its own on an FPGA carry chain a constant costs none. `None` when the adder has
    /// no such pair of operands (or it is a subtraction from an even constant).
    fn constant_add(&mut self, a: &Term, va: &Val, b: &Term, vb: &Val, w: u32) -> Option<String> {
        let (x, vx, c) = match (va, vb) {
            (Val::Sig(_), Val::Const(c)) => (a, va, b.value(*c)),
            (Val::Const(c), Val::Sig(_)) => (b, vb, a.value(*c)),
            _ => return None,
        };
        if x.complement.is_some() || x.shift >= w {
            return None;
        }
        let Val::Sig(xs) = vx else { unreachable!() };
        let xs = xs.clone();
        let k = x.shift;
        let h = w - k;
        let c_hi = c >> k;
        let hi = self.constant_add_bits(&xs, 0, h, c_hi, x.neg)?;
        Some(if k == 0 {
            hi
        } else {
            format!("{{{hi}, {}}}", literal(c & ((1i128 << k) - 1), k))
        })
    }

    /// Bits `[0, width)` of `±(x >> lo) + c` (see [`Printer::constant_add`]).
    fn constant_add_bits(
        &mut self,
        x: &Signal,
        lo: u32,
        width: u32,
        c: i128,
        neg: bool,
    ) -> Option<String> {
        let v = Val::Sig(x.clone());
        if c == 0 {
            return (!neg).then(|| self.bits(&v, 0, lo, width));
        }
        let t = c.trailing_zeros();
        if t > 0 {
            if neg {
                return None;
            }
            let n = t.min(width);
            let low = self.bits(&v, 0, lo, n);
            if n == width {
                return Some(low);
            }
            let high = self.constant_add_bits(x, lo + t, width - t, c >> t, neg)?;
            return Some(format!("{{{high}, {low}}}"));
        }
        // c odd: the low bit is ~x[lo] and x[lo] is the carry into the rest
        let b0 = self.body.bit(x, lo);
        let b0 = self.body.use_bit(&b0);
        if width == 1 {
            return Some(format!("~{b0}"));
        }
        let rest = self.bits(&v, 0, lo + 1, width - 1);
        let k = literal(c >> 1, width - 1);
        let hi = if neg {
            format!("{k} - {rest}")
        } else if width == 2 {
            format!("{rest} + {k} + {b0}")
        } else {
            format!("{rest} + {k} + {{{}'d0, {b0}}}", width - 2)
        };
        Some(format!("{{{hi}, ~{b0}}}"))
    }

    /// A generic quantizer lane as an instance of a lane module; returns the output
    /// wire's expression of `w` bits (before a fused ReLU).
    pub fn generic_lane(
        &mut self,
        lane: &QuantLane,
        x: &Val,
        shift: u32,
        x_interval: Interval,
        name: &str,
    ) -> (String, u32) {
        let (xw, xs) = tight(x_interval);
        let pre = QuantLane {
            relu: false,
            ..lane.clone()
        };
        let y_iv = pre.out_interval(x_interval);
        let (yw, _) = tight(y_iv);
        let key = format!(
            "ch{} x{}{} {} lsb{} y{}",
            lane.channel, xw, xs, x_interval, lane.in_lsb, yw
        );
        let module = match self.lane_modules.get(&key) {
            Some(m) => m.clone(),
            None => {
                let m = format!("{}_qlane{}", self.top, self.lane_modules.len());
                let logic = lane_logic(
                    &lane.quantizer,
                    lane.channel,
                    xw,
                    xs,
                    x_interval,
                    -lane.in_lsb,
                    yw,
                );
                let ch = lane.quantizer.channels[lane.channel];
                let view = LaneView {
                    header: vec![
                        format!("{m}: one quantizer lane of {}", self.top),
                        format!(
                            "channel {}: scale {}, zero point {}; {}",
                            lane.channel,
                            ch.scale,
                            ch.zero_point,
                            aecc_ir::printer::quantizer(&lane.quantizer)
                        ),
                        format!("x: {x_interval} on grid 2^{} -> y: {y_iv}", lane.in_lsb),
                    ],
                    module: m.clone(),
                    x_msb: xw - 1,
                    y_msb: yw - 1,
                    wires: logic
                        .body
                        .wires
                        .iter()
                        .map(|wire| LaneWireView {
                            comment: wire
                                .comment
                                .as_deref()
                                .map(comment_lines)
                                .unwrap_or_default(),
                            name: wire.name.clone(),
                            msb: wire.width - 1,
                            expr: wire.expr.clone().unwrap_or_default(),
                        })
                        .collect(),
                    unused: unused_sink(&logic.body),
                    y_expr: logic.y,
                };
                let text = render_file(&view).expect("lane template renders");
                self.submodules.insert(m.clone(), text);
                self.lane_modules.insert(key, m.clone());
                m
            }
        };
        let xin = self.bits(x, shift, 0, xw);
        let y = format!("{name}_y");
        self.body.instance_output(&y, yw, None);
        let ysig = self.body.port(&format!("{name}_y"), yw, y_iv.lo < 0, y_iv);
        self.wires_extra.push(InstanceView {
            module,
            name: format!("u_{name}"),
            connections: format!(".x({xin}), .y({y})"),
        });
        let _ = ysig;
        (y, yw)
    }
}

/// The floor-form quantizer lane: returns the output expression of `w` bits.
pub fn floor_lane(
    p: &mut Printer,
    lane: &QuantLane,
    x: &Val,
    shift: u32,
    x_interval: Interval,
    w: u32,
    name: &str,
) -> String {
    let QuantForm::Floor { tie_even } = lane.form else {
        unreachable!()
    };
    let s = lane.dropped_bits();
    let out_shift = lane.quantizer.channel_shift(lane.channel);
    // r = floor(v / 2^s) (or v << -s), as a signal
    let (r_lo, r_hi) = if s <= 0 {
        (x_interval.lo << (-s), x_interval.hi << (-s))
    } else {
        (x_interval.lo >> s, x_interval.hi >> s)
    };
    // `keep`: bit 0 of r survives (false only at a tie of round-half-to-even)
    let (r_lo, keep) = if s > 0 && tie_even {
        // the LSB is cleared at a tie: an odd lower bound can drop by one
        let keep = if (shift as i32) >= s {
            Bit::Const(false)
        } else {
            match x {
                Val::Const(_) => unreachable!("constant lanes are folded"),
                Val::Sig(v) => {
                    let n = (s as u32 - shift).min(v.width);
                    p.body.any_low_bits(v, n)
                }
            }
        };
        (r_lo - (r_lo & 1), keep)
    } else {
        (r_lo, Bit::Const(true))
    };
    let r_iv = Interval::new(r_lo, r_hi);
    let (rw, _) = tight(r_iv);
    let mut r_expr = if s <= 0 {
        p.bits(x, shift + (-s) as u32, 0, rw)
    } else {
        p.bits(x, shift, s as u32, rw)
    };
    if keep != Bit::Const(true) {
        let k = p.body.use_bit(&keep);
        r_expr = if rw == 1 {
            format!("{r_expr} & {k}")
        } else {
            format!("{r_expr} & {{{{{}{{1'b1}}}}, {k}}}", rw - 1)
        };
    }
    let r = p.body.wire(&format!("{name}_r"), r_iv, r_expr, None);
    let (lo, hi) = lane.code_bounds();
    let zp = lane.quantizer.channels[lane.channel].zero_point as i128;
    let d_expr = match lane.quantizer.overflow {
        Overflow::Saturate => {
            // clamp r to [lo - zp, hi - zp] (the zero point cancels: y = (q - zp) << sh)
            let (l, h) = (lo - zp, hi - zp);
            let d_iv = Interval::new(r_iv.lo.clamp(l, h), r_iv.hi.clamp(l, h));
            let (dw, _) = tight(d_iv);
            let mut e = p.body.field(&r, 0, dw);
            if r_iv.hi > h {
                let over = overflow_above(&mut p.body, &r, h);
                e = format!("{over} ? {} : {e}", literal(h, dw));
            }
            if r_iv.lo < l {
                let under = if l == 0 {
                    let sign = p.body.sign(&r);
                    p.body.use_bit(&sign)
                } else {
                    p.body.compare(&r, l, true)
                };
                e = format!("{under} ? {} : {e}", literal(l, dw));
            }
            (e, d_iv)
        }
        Overflow::Wrap => {
            // full period, zero point 0: the low `bits` bits of r, read as the code
            let range = Interval::new(lo, hi);
            let (dw, _) = tight(range);
            (p.body.field(&r, 0, dw), range)
        }
    };
    let d = p.body.wire(&format!("{name}_d"), d_expr.1, d_expr.0, None);
    p.body.shift_left(&d, out_shift, w)
}

/// `v > h` for a value `v`: when `h + 1` is a power of two and `v` cannot be below
/// `-(h + 1)`... in general a comparison; as an overflow flag (OR of the bits above the
/// range, gated by the sign) when `h = 2^n - 1`.
fn overflow_above(body: &mut ModuleBody, v: &Signal, h: i128) -> String {
    if h >= 0 && (h + 1).count_ones() == 1 {
        let n = (h + 1).trailing_zeros();
        let top = if v.signed { v.width - 1 } else { v.width };
        if n < top {
            let high = body.slice(v, top - 1, n);
            let any = if top - 1 == n {
                high
            } else {
                format!("(|{high})")
            };
            return match body.sign(v) {
                Bit::Const(false) => any,
                Bit::Const(true) => "1'b0".into(),
                sign => format!("(~{} & {any})", body.use_bit(&sign)),
            };
        }
    }
    body.compare(v, h, false)
}

/// Header lines common to the optimised designs.
pub fn header(low: &Lowered, graph: &Graph, top: &str, latency: u32) -> Vec<String> {
    let input = graph.inputs()[0];
    let (out_name, output) = graph.outputs()[0].clone();
    let in_info = &graph.node(input).out;
    let out_info = &graph.node(output).out;
    let o = &low.options;
    vec![
        format!(
            "{top}: generated by aecc from graph \"{}\". Do not edit.",
            super::one_line(&graph.name)
        ),
        format!(
            "Optimised architecture: {} arithmetic, quantizer fusion {}, clock target {} ns \
             (delay model {:.2} ns), {}.",
            match o.arithmetic {
                crate::lower::Arithmetic::Multipliers => "constant-multiplier",
                crate::lower::Arithmetic::ShiftAdd => "CSD shift-add",
                crate::lower::Arithmetic::SharedShiftAdd =>
                    "CSD shift-add with shared sub-expressions",
            },
            if o.fuse { "on" } else { "off" },
            o.clock_ns,
            low.schedule.critical_ns,
            if o.reuse == 1 {
                format!("one input per clock (II = 1), latency {latency} cycles")
            } else {
                format!(
                    "one input every {} clocks (II = {}, in_ready high when an input is accepted), latency {latency} cycles",
                    o.reuse, o.reuse
                )
            }
        ),
        "rst: synchronous, active high; clears the valid pipeline (data registers have no reset)."
            .into(),
        format!(
            "in_data : input {:?}, {} lanes of {} ({} row-major): lane i at bits [{}*i +: {}]",
            super::one_line(&graph.node(input).name),
            in_info.len(),
            in_info.ty,
            super::shape_text(&in_info.shape),
            in_info.ty.width,
            in_info.ty.width
        ),
        format!(
            "out_data: output {:?}, {} lanes of {} ({} row-major): lane i at bits [{}*i +: {}]",
            super::one_line(&out_name),
            out_info.len(),
            out_info.ty,
            super::shape_text(&out_info.shape),
            out_info.ty.width,
            out_info.ty.width
        ),
    ]
}

fn kind_letter(op: &CellOp) -> &'static str {
    match op {
        CellOp::Input { .. } => "x",
        CellOp::Const => "c",
        CellOp::Add { .. } => "a",
        CellOp::Mul { .. } => "m",
        CellOp::FlipSign { .. } => "u",
        CellOp::Relu { .. } => "r",
        CellOp::Quantize { .. } => "q",
    }
}

/// Prints cell `id` (not constant, not an input) in its stage.
pub fn print_cell(p: &mut Printer, id: SigId, name: &str, comment: Option<String>) {
    let low = p.low;
    let cell = low.dfg.cell(id);
    let stage = p.home[id];
    let w = p.width(id);
    let expr = match &cell.op {
        CellOp::Input { .. } | CellOp::Const => unreachable!(),
        CellOp::Add { a, b } => p.add_expr(a, b, w, stage),
        CellOp::Mul { x, factor } => {
            let v = p.at(*x, stage);
            let xe = p.bits(&v, 0, 0, w);
            format!("{xe} * {}", literal(*factor as i128, w))
        }
        CellOp::FlipSign { x, width } => {
            let Val::Sig(v) = p.at(*x, stage) else {
                unreachable!("constants are folded")
            };
            if w < *width {
                // the value fits below the inverted bit, which is then 0
                p.body.field(&v, 0, w)
            } else {
                let msb = p.body.bit(&v, width - 1);
                let msb = p.body.use_bit(&msb);
                if *width == 1 {
                    format!("({msb} ^ 1'b1)")
                } else {
                    let low = p.body.field(&v, 0, width - 1);
                    format!("{{{msb} ^ 1'b1, {low}}}")
                }
            }
        }
        CellOp::Relu { x } => {
            let v = p.at(*x, stage);
            relu_expr(p, &v, w)
        }
        CellOp::Quantize { x, shift, lane } => {
            let v = p.at(*x, stage);
            let xi = low.dfg.cell(*x).interval.shl(*shift);
            match lane.form {
                QuantForm::Floor { .. } => floor_lane(p, lane, &v, *shift, xi, w, name),
                QuantForm::Generic => {
                    let (y, yw) = p.generic_lane(lane, &v, *shift, xi, name);
                    let pre = QuantLane {
                        relu: false,
                        ..(**lane).clone()
                    };
                    let y_iv = pre.out_interval(xi);
                    let ysig = Signal {
                        name: y.clone(),
                        width: yw,
                        signed: y_iv.lo < 0,
                        interval: y_iv,
                    };
                    if lane.relu {
                        relu_expr(p, &Val::Sig(ysig), w)
                    } else {
                        p.body.field(&ysig, 0, w)
                    }
                }
            }
        }
    };
    p.declare(id, name, w, expr, comment);
}

fn relu_expr(p: &mut Printer, v: &Val, w: u32) -> String {
    let Val::Sig(x) = v else { unreachable!() };
    let low = p.body.field(x, 0, w);
    match p.body.sign(x) {
        Bit::Const(false) => low,
        Bit::Const(true) => format!("{w}'d0"),
        sign if w == 1 => format!("~{} & {low}", p.body.use_bit(&sign)),
        sign => format!("{{{w}{{~{}}}}} & {low}", p.body.use_bit(&sign)),
    }
}

/// The input lanes: `x<i>` slices of the input register (full port width each).
pub fn print_inputs(p: &mut Printer, graph: &Graph) {
    let info = &graph.node(graph.inputs()[0]).out;
    let lane_w = info.ty.width;
    let in_r = p.body.port(
        "in_r",
        lane_w * info.len() as u32,
        false,
        Interval::point(0),
    );
    let mut lanes: BTreeMap<usize, SigId> = BTreeMap::new();
    for (id, c) in p.low.dfg.cells.iter().enumerate() {
        if let CellOp::Input { lane } = c.op {
            lanes.insert(lane, id);
        }
    }
    for lane in 0..info.len() {
        let expr = p
            .body
            .slice(&in_r, (lane as u32 + 1) * lane_w - 1, lane as u32 * lane_w);
        match lanes.get(&lane) {
            Some(&id) => {
                let iv = p.low.dfg.cell(id).interval;
                let s = p.body.wire_of_width(
                    &format!("x{lane}"),
                    lane_w,
                    info.ty.signed,
                    iv,
                    expr,
                    None,
                );
                p.base[id] = Some(s);
            }
            None => {
                // a lane no output depends on: left to the unused sink
                let _ = p.body.wire_of_width(
                    &format!("x{lane}"),
                    lane_w,
                    info.ty.signed,
                    info.interval,
                    expr,
                    None,
                );
            }
        }
    }
}

/// The output register's source: the lanes, most significant first.
pub fn output_expr(p: &mut Printer, graph: &Graph, stage: u32) -> String {
    let info = &graph.node(graph.outputs()[0].1).out;
    let w = info.ty.width;
    let outs = p.low.dfg.outputs.clone();
    let lanes: Vec<String> = outs
        .iter()
        .map(|o| {
            let v = p.at(o.sig, stage);
            p.bits(&v, o.shift, 0, w)
        })
        .collect();
    super::layers::concat_lanes(&lanes)
}

fn lanes_of(info: &aecc_ir::TensorInfo) -> Vec<Lane> {
    vec![
        Lane {
            width: info.ty.width,
            signed: info.ty.signed,
        };
        info.len()
    ]
}

/// The ports of a design for `graph`.
pub fn ports(graph: &Graph) -> (Port, Port) {
    let in_info = &graph.node(graph.inputs()[0]).out;
    let out_info = &graph.node(graph.outputs()[0].1).out;
    (
        Port {
            name: "in_data".into(),
            lanes: lanes_of(in_info),
        },
        Port {
            name: "out_data".into(),
            lanes: lanes_of(out_info),
        },
    )
}

/// Emits the II = 1 design of a lowered graph.
pub fn emit(graph: &Graph, low: &Lowered, top: &str) -> Result<RtlDesign, BackendError> {
    let mut p = Printer::new(low, top);
    print_inputs(&mut p, graph);
    let mut counters: BTreeMap<(usize, &'static str), usize> = BTreeMap::new();
    let mut last_layer = usize::MAX;
    let mut folds_done = std::collections::BTreeSet::new();
    for id in 0..low.dfg.cells.len() {
        let cell = low.dfg.cell(id);
        if cell.is_const() || matches!(cell.op, CellOp::Input { .. }) {
            continue;
        }
        if let Some(fs) = cell.fold {
            if folds_done.insert(fs.fold) {
                super::folded::print_fold(&mut p, fs.fold);
                last_layer = cell.layer;
            }
            continue;
        }
        let kind = kind_letter(&cell.op);
        let n = counters.entry((cell.layer, kind)).or_default();
        let name = format!("{}{kind}{n}", signal_prefix(cell.layer));
        *n += 1;
        let comment = (cell.layer != last_layer).then(|| {
            let l = &low.dfg.layers[cell.layer];
            format!(
                "layer l{} = {} ({}), from {}",
                cell.layer,
                l.name,
                l.op,
                super::one_line(&l.origin)
            )
        });
        last_layer = cell.layer;
        print_cell(&mut p, id, &name, comment);
    }
    let stages = low.schedule.stages;
    let out_src = output_expr(&mut p, graph, stages - 1);
    finish(p, graph, low, top, stages, out_src)
}

/// Assembles the module text and the design.
pub fn finish(
    mut p: Printer,
    graph: &Graph,
    low: &Lowered,
    top: &str,
    stages: u32,
    out_src: String,
) -> Result<RtlDesign, BackendError> {
    let latency = 1 + stages;
    let (input, output) = ports(graph);
    let mut blocks: Vec<RegBlockView> = p
        .loads
        .iter()
        .map(|(&stage, assigns)| RegBlockView {
            comment: format!("registers between stage {} and stage {stage}", stage - 1),
            enable: None,
            assigns: assigns.clone(),
        })
        .collect();
    for ((stage, enable), assigns) in &p.enabled_loads {
        blocks.push(RegBlockView {
            comment: format!(
                "registers loaded at the end of stage {} when {enable}",
                stage - 1
            ),
            enable: Some(enable.clone()),
            assigns: assigns.clone(),
        });
    }
    blocks.push(RegBlockView {
        comment: format!("output register (end of stage {})", stages - 1),
        enable: None,
        assigns: vec![("out_r".into(), out_src)],
    });
    let mut instances = std::mem::take(&mut p.wires_extra);
    instances.sort_by(|a, b| a.name.cmp(&b.name));
    let view = LoweredView {
        header: header(low, graph, top, latency),
        module: top.to_string(),
        in_msb: input.width() - 1,
        out_msb: output.width() - 1,
        ready_msb: (low.options.reuse > 1).then_some(0),
        latency,
        latency_msb: latency - 1,
        valid_next: if latency == 1 {
            "in_valid".into()
        } else {
            format!("{{valid_pipe[{}:0], in_valid}}", latency - 2)
        },
        control: if low.options.reuse > 1 {
            let n = low.options.reuse;
            vec![
                format!("// one input every {n} cycles: ready when no input was taken in the last {} cycle(s)", n - 1),
                if n == 2 {
                    "assign in_ready = ~valid_pipe[0];".to_string()
                } else {
                    format!("assign in_ready = ~|valid_pipe[{}:0];", n - 2)
                },
            ]
        } else {
            Vec::new()
        },
        input_capture: "in_r <= in_data;".into(),
        regs: std::mem::take(&mut p.regs),
        wires: p.body.wires.iter().map(WireView::from).collect(),
        instances,
        blocks,
        unused: unused_sink(&p.body),
    };
    let mut files = vec![(format!("{top}.v"), render_file(&view)?)];
    for (name, text) in std::mem::take(&mut p.submodules) {
        files.push((format!("{name}.v"), text));
    }
    Ok(RtlDesign {
        top: top.to_string(),
        files,
        inputs: vec![input],
        outputs: vec![output],
        latency,
        initiation_interval: low.options.reuse,
    })
}
