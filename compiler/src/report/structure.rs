//! The hardware structure of emitted Verilog: every module's adders (with the exact
//! non-constant bits of every summand), constant and variable products, comparators,
//! multiplexers, gates and registers, after the clean-ups every synthesis tool does
//! (constant folding, removal of logic no output depends on, merging of identical
//! products and identical flip-flops, trimming of adder bits no one reads).
//!
//! It is computed from the Verilog text ([`super::verilog`]) by a bit-level abstract
//! interpretation: every signal bit is a net or a constant, wiring (slices,
//! concatenations, extensions) only renames nets, and every operator becomes one
//! [`Logic`] item with its input and output nets. [`analyse`] returns one
//! [`ModuleStructure`] per module; the cost models in [`super::analytic`] turn them into
//! estimates.

use super::verilog::{const_eval, Dir, Expr, Item, Module, NetKind, Sensitivity, Stmt};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// One bit of a value: a constant or a net.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Bit {
    Zero,
    One,
    Net(u32),
}

impl Bit {
    fn constant(self) -> Option<bool> {
        match self {
            Bit::Zero => Some(false),
            Bit::One => Some(true),
            Bit::Net(_) => None,
        }
    }
    fn of(b: bool) -> Bit {
        if b {
            Bit::One
        } else {
            Bit::Zero
        }
    }
}

/// A value: bits, least significant first.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Value {
    bits: Vec<Bit>,
    signed: bool,
}

impl Value {
    fn constant(value: u128, width: u32, signed: bool) -> Value {
        Value {
            bits: (0..width)
                .map(|i| Bit::of(i < 128 && (value >> i) & 1 == 1))
                .collect(),
            signed,
        }
    }
    fn width(&self) -> u32 {
        self.bits.len() as u32
    }
    /// Sign- or zero-extends (or truncates) to `w` bits.
    fn resize(&self, w: u32) -> Value {
        let fill = if self.signed {
            *self.bits.last().unwrap_or(&Bit::Zero)
        } else {
            Bit::Zero
        };
        let mut bits = self.bits.clone();
        bits.resize(w as usize, fill);
        Value {
            bits,
            signed: self.signed,
        }
    }
    /// Extends to `w` bits as a signed value only when the expression is signed.
    fn extend(&self, w: u32, signed: bool) -> Value {
        Value {
            signed,
            ..self.clone()
        }
        .resize(w)
    }
    fn as_const(&self) -> Option<u128> {
        let mut v = 0u128;
        for (i, b) in self.bits.iter().enumerate() {
            match b.constant()? {
                true if i < 128 => v |= 1 << i,
                _ => {}
            }
        }
        Some(v)
    }
}

/// One summand of an adder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Summand {
    /// A value (already at the adder's width; constant bits are known).
    Bits(Vec<Bit>),
    /// `operand * constant` (the constant's magnitude; subtraction is in the sign).
    ConstProduct { operand: Vec<Bit>, constant: u128 },
}

/// What one logic item computes.
#[derive(Debug, Clone, PartialEq)]
pub enum LogicKind {
    /// A multi-operand adder/subtractor of `width` bits (a tree of `+`, `-` and constant
    /// products, as synthesis merges it).
    Sum { summands: Vec<Summand> },
    /// A product of two non-constant values.
    VarProduct { a_width: u32, b_width: u32 },
    /// A comparison; `constant`: one operand is a constant.
    Compare {
        width: u32,
        constant: bool,
        equality: bool,
    },
    /// Multiplexer bits: `both` bits choose between two non-constant values; `one` bits
    /// between a non-constant value and a constant (an AND/OR gate).
    Mux { both: u32, one: u32 },
    /// Two-input gates (bitwise AND/OR/XOR of non-constant bits, reduction trees).
    Gates { count: u32, xor: bool },
    /// Inverters.
    Inverters { count: u32 },
    /// A shift by a non-constant amount: `width` bits, `stages` mux levels.
    Shifter { width: u32, stages: u32 },
}

/// One operator instance with its nets.
#[derive(Debug, Clone, PartialEq)]
pub struct Logic {
    pub kind: LogicKind,
    /// The top-level instance it belongs to (index into [`DesignStructure::owners`]),
    /// `None` for the top module's own logic.
    pub owner: Option<u32>,
    pub inputs: Vec<Bit>,
    pub outputs: Vec<u32>,
    /// For sums: the adder width after trimming bits nobody reads.
    pub live_width: u32,
}

/// One flip-flop bit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlipFlop {
    pub owner: Option<u32>,
    pub d: Bit,
    pub q: u32,
    /// Synchronous (or asynchronous) reset to a constant.
    pub reset: bool,
    /// Held when not written (a write enable): configuration storage, not pipeline.
    pub enable: bool,
    /// `(clock, reset/enable condition nets)`: flip-flops merge only when equal.
    pub control: Vec<Bit>,
    /// Written in a `(* keep *)` block (TMR copies): never merged or removed.
    pub keep: bool,
}

/// The flattened structure of a design: every module instance inlined, so constants and
/// unused bits propagate across module boundaries as they do in a flattening synthesis.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DesignStructure {
    pub top: String,
    /// Top-level instances (`(instance name, module name)`): the layers.
    pub owners: Vec<(String, String)>,
    /// Line of each top-level instance statement in the top module's file.
    pub owner_lines: Vec<usize>,
    pub logic: Vec<Logic>,
    pub flip_flops: Vec<FlipFlop>,
    /// Flip-flop bits removed: constant input, never read, or a duplicate.
    pub removed_flip_flops: usize,
    /// Constructs the reader did not analyse, modules not found.
    pub notes: Vec<String>,
}

/// Nets with union-find aliasing and constant classes.
#[derive(Default)]
struct Nets {
    parent: Vec<u32>,
    constant: Vec<Option<bool>>,
}

impl Nets {
    fn fresh(&mut self) -> u32 {
        let id = self.parent.len() as u32;
        self.parent.push(id);
        self.constant.push(None);
        id
    }
    fn find(&mut self, mut n: u32) -> u32 {
        while self.parent[n as usize] != n {
            let p = self.parent[n as usize];
            self.parent[n as usize] = self.parent[p as usize];
            n = p;
        }
        n
    }
    fn canon(&mut self, b: Bit) -> Bit {
        match b {
            Bit::Net(n) => {
                let r = self.find(n);
                match self.constant[r as usize] {
                    Some(c) => Bit::of(c),
                    None => Bit::Net(r),
                }
            }
            c => c,
        }
    }
    /// `net` is driven by `b`.
    fn drive(&mut self, net: u32, b: Bit) {
        let r = self.find(net);
        match self.canon(b) {
            Bit::Net(m) if m != r => {
                // keep the constant of either class
                let c = self.constant[r as usize].or(self.constant[m as usize]);
                self.parent[r as usize] = m;
                self.constant[m as usize] = c;
            }
            Bit::Net(_) => {}
            c => self.constant[r as usize] = c.constant(),
        }
    }
}

struct Signal {
    /// Bits of the declared range, index 0 = the bit numbered `lsb`.
    nets: Vec<u32>,
    lsb: i128,
    /// Declared `msb < lsb` (`[0:7]`).
    descending: bool,
    signed: bool,
}

struct Analyser<'m> {
    nets: Nets,
    /// The current instance's parameters and signals (a scope per inlined instance).
    params: BTreeMap<String, i128>,
    signals: BTreeMap<String, Signal>,
    /// Hierarchical path of the current instance (`u_a.u_b.`).
    path: String,
    owner: Option<u32>,
    owners: Vec<(String, String)>,
    owner_lines: Vec<usize>,
    modules: &'m HashMap<String, &'m Module>,
    logic: Vec<Logic>,
    flip_flops: Vec<FlipFlop>,
    /// Nets that are roots of liveness (the top's output ports).
    roots: Vec<Bit>,
    notes: Vec<String>,
    /// Every signal's nets by full path, kept when its scope closes.
    all_signals: Vec<(String, Vec<u32>)>,
    /// Signal bits found constant by a previous pass: `path -> [(bit index, value)]`.
    seed: &'m Constants,
    /// Layers of a flat top module: `(signal name prefix, owner name)`, see
    /// [`analyse_design`].
    groups: &'m [(String, String)],
    /// Owners of the top module's signals (by net) found through `groups`.
    net_owner: HashMap<u32, u32>,
    /// Negations built so far, by operand bits and width: synthesis merges identical
    /// ones (yosys `opt_merge`), and with them the constant products that read them.
    negations: HashMap<(Vec<Bit>, u32), Vec<Bit>>,
}

/// Constant signal bits by signal path: `(bit index, value)` pairs. (Keyed by path, not
/// by `(path, bit)`: one lookup per declared signal instead of a string copy per bit.)
type Constants = HashMap<String, Vec<(usize, bool)>>;

/// Number of constant bits.
fn constant_bits(c: &Constants) -> usize {
    c.values().map(Vec::len).sum()
}

/// The largest width the reader handles for one value (wider values are truncated, which
/// only happens for malformed input).
const MAX_WIDTH: i128 = 1 << 20;

impl Analyser<'_> {
    fn declare(&mut self, name: &str, msb: i128, lsb: i128, signed: bool) {
        let width = ((msb - lsb).abs() + 1).min(MAX_WIDTH) as usize;
        let nets: Vec<u32> = (0..width).map(|_| self.nets.fresh()).collect();
        if !self.seed.is_empty() {
            let full = format!("{}{name}", self.path);
            for &(i, c) in self.seed.get(&full).into_iter().flatten() {
                if let Some(&n) = nets.get(i) {
                    self.nets.drive(n, Bit::of(c));
                }
            }
        }
        self.signals.insert(
            name.to_string(),
            Signal {
                nets,
                lsb: lsb.min(msb),
                descending: msb < lsb,
                signed,
            },
        );
    }

    /// The owner of a top-module signal named `name` by the layer groups (registered
    /// on first use).
    fn group_owner(&mut self, name: &str) -> Option<u32> {
        if !self.path.is_empty() {
            return None;
        }
        let (_, owner) = self
            .groups
            .iter()
            .find(|(p, _)| name.starts_with(p.as_str()))?;
        if let Some(i) = self.owners.iter().position(|(o, _)| o == owner) {
            return Some(i as u32);
        }
        self.owners.push((owner.clone(), String::new()));
        self.owner_lines.push(0);
        Some(self.owners.len() as u32 - 1)
    }

    fn range_of(&self, r: &Option<super::verilog::Range>) -> (i128, i128) {
        match r {
            None => (0, 0),
            Some(r) => (
                const_eval(&r.msb, &self.params).unwrap_or(0),
                const_eval(&r.lsb, &self.params).unwrap_or(0),
            ),
        }
    }

    fn add_logic(&mut self, kind: LogicKind, inputs: Vec<Bit>, width: u32) -> Vec<Bit> {
        let outputs: Vec<u32> = (0..width).map(|_| self.nets.fresh()).collect();
        let bits = outputs.iter().map(|&n| Bit::Net(n)).collect();
        self.logic.push(Logic {
            kind,
            owner: self.owner,
            inputs: inputs
                .into_iter()
                .filter(|b| matches!(b, Bit::Net(_)))
                .collect(),
            outputs,
            live_width: width,
        });
        bits
    }

    fn canon_value(&mut self, v: &mut Value) {
        for b in &mut v.bits {
            *b = self.nets.canon(*b);
        }
    }

    /// Index of bit `i` (a Verilog bit number) within a signal.
    fn signal_bit(&self, name: &str, i: i128) -> Option<Bit> {
        let s = self.signals.get(name)?;
        let k = if s.descending {
            (s.lsb + s.nets.len() as i128 - 1) - i
        } else {
            i - s.lsb
        };
        if k < 0 || k >= s.nets.len() as i128 {
            return Some(Bit::Zero);
        }
        Some(Bit::Net(s.nets[k as usize]))
    }

    fn select(&mut self, base: &Expr, hi: i128, lo: i128) -> Value {
        let (hi, lo) = (hi.max(lo), hi.min(lo));
        if let Expr::Ident(name) = base {
            if self.signals.contains_key(name) {
                let bits = (lo..=hi.min(lo + MAX_WIDTH))
                    .map(|i| self.signal_bit(name, i).unwrap_or(Bit::Zero))
                    .collect();
                return Value {
                    bits,
                    signed: false,
                };
            }
        }
        let v = self.eval(base, 0);
        let bits = (lo..=hi.min(lo + MAX_WIDTH))
            .map(|i| {
                if i >= 0 && (i as usize) < v.bits.len() {
                    v.bits[i as usize]
                } else {
                    Bit::Zero
                }
            })
            .collect();
        Value {
            bits,
            signed: false,
        }
    }

    /// Width of an expression by Verilog's self-determined rules (no side effects).
    fn self_width(&self, e: &Expr) -> u32 {
        self.shape(e).0
    }

    /// Self-determined (width, signed) of an expression, without evaluating it.
    fn shape(&self, e: &Expr) -> (u32, bool) {
        let c = |e: &Expr| const_eval(e, &self.params);
        match e {
            Expr::Number { width, signed, .. } => (width.unwrap_or(32), *signed),
            Expr::Ident(name) => match self.signals.get(name) {
                Some(s) => (s.nets.len() as u32, s.signed),
                None if self.params.contains_key(name) => (32, true),
                None => (1, false),
            },
            Expr::Index(..) => (1, false),
            Expr::Range(_, hi, lo) => match (c(hi), c(lo)) {
                (Some(h), Some(l)) => (((h - l).abs() + 1).min(MAX_WIDTH) as u32, false),
                _ => (1, false),
            },
            Expr::Part { width, .. } => (c(width).unwrap_or(1).clamp(1, MAX_WIDTH) as u32, false),
            Expr::Concat(items) => (items.iter().map(|i| self.shape(i).0).sum(), false),
            Expr::Repeat(n, items) => {
                let one: u32 = items.iter().map(|i| self.shape(i).0).sum();
                let n = c(n).unwrap_or(0).clamp(0, MAX_WIDTH) as u32;
                (one.saturating_mul(n), false)
            }
            Expr::Call(name, args) => {
                let (w, s) = args.first().map_or((32, false), |a| self.shape(a));
                match name.as_str() {
                    "$signed" => (w, true),
                    "$unsigned" => (w, false),
                    _ => (w, s),
                }
            }
            Expr::Unary(op, a) => match *op {
                "+" | "-" | "~" => self.shape(a),
                _ => (1, false),
            },
            Expr::Binary(op, a, b) => match *op {
                "+" | "-" | "*" | "/" | "%" | "&" | "|" | "^" | "~^" | "^~" => {
                    let (wa, sa) = self.shape(a);
                    let (wb, sb) = self.shape(b);
                    (wa.max(wb), sa && sb)
                }
                "<<" | ">>" | "<<<" | ">>>" | "**" => self.shape(a),
                _ => (1, false),
            },
            Expr::Ternary(_, a, b) => {
                let (wa, sa) = self.shape(a);
                let (wb, sb) = self.shape(b);
                (wa.max(wb), sa && sb)
            }
        }
    }

    /// Evaluates `e` in a context of at least `ctx` bits (Verilog's context-determined
    /// width for arithmetic).
    fn eval(&mut self, e: &Expr, ctx: u32) -> Value {
        let mut v = self.eval_inner(e, ctx);
        self.canon_value(&mut v);
        v
    }

    fn eval_inner(&mut self, e: &Expr, ctx: u32) -> Value {
        match e {
            Expr::Number {
                width,
                value,
                signed,
            } => Value::constant(*value, width.unwrap_or(32), *signed),
            Expr::Ident(name) => {
                if let Some(s) = self.signals.get(name) {
                    Value {
                        bits: s.nets.iter().map(|&n| Bit::Net(n)).collect(),
                        signed: s.signed,
                    }
                } else if let Some(&p) = self.params.get(name) {
                    Value::constant(p as u128, 32, true)
                } else {
                    // undeclared (implicit net): one bit
                    self.declare(name, 0, 0, false);
                    self.eval_inner(e, ctx)
                }
            }
            Expr::Index(base, i) => match const_eval(i, &self.params) {
                Some(i) => self.select(base, i, i),
                None => {
                    // a variable index: a multiplexer over the base bits
                    let b = self.eval(base, 0);
                    let idx = self.eval(i, 0);
                    let stages = idx.width();
                    let mut inputs = b.bits.clone();
                    inputs.extend(idx.bits);
                    let bits = self.add_logic(
                        LogicKind::Mux {
                            both: b.width().saturating_sub(1),
                            one: 0,
                        },
                        inputs,
                        1,
                    );
                    let _ = stages;
                    Value {
                        bits,
                        signed: false,
                    }
                }
            },
            Expr::Range(base, hi, lo) => {
                let hi = const_eval(hi, &self.params).unwrap_or(0);
                let lo = const_eval(lo, &self.params).unwrap_or(0);
                self.select(base, hi, lo)
            }
            Expr::Part {
                base,
                start,
                width,
                up,
            } => {
                let w = const_eval(width, &self.params).unwrap_or(1).max(1);
                match const_eval(start, &self.params) {
                    Some(s) => {
                        let (hi, lo) = if *up { (s + w - 1, s) } else { (s, s - w + 1) };
                        self.select(base, hi, lo)
                    }
                    None => {
                        let b = self.eval(base, 0);
                        let idx = self.eval(start, 0);
                        let mut inputs = b.bits.clone();
                        inputs.extend(idx.bits.iter().copied());
                        let bits = self.add_logic(
                            LogicKind::Shifter {
                                width: w as u32,
                                stages: idx.width(),
                            },
                            inputs,
                            w as u32,
                        );
                        Value {
                            bits,
                            signed: false,
                        }
                    }
                }
            }
            Expr::Concat(items) => {
                let mut bits = Vec::new();
                for it in items.iter().rev() {
                    let v = self.eval(it, 0);
                    bits.extend(v.bits);
                }
                Value {
                    bits,
                    signed: false,
                }
            }
            Expr::Repeat(n, items) => {
                let n = const_eval(n, &self.params).unwrap_or(0).clamp(0, MAX_WIDTH);
                let one = self.eval(&Expr::Concat(items.clone()), 0);
                let mut bits = Vec::new();
                for _ in 0..n {
                    bits.extend(one.bits.iter().copied());
                }
                Value {
                    bits,
                    signed: false,
                }
            }
            Expr::Call(name, args) => {
                let mut v = match args.first() {
                    Some(a) => self.eval(a, 0),
                    None => Value::constant(0, 32, false),
                };
                match name.as_str() {
                    "$signed" => v.signed = true,
                    "$unsigned" => v.signed = false,
                    _ => {}
                }
                v
            }
            Expr::Unary(op, a) => self.unary(op, a, ctx),
            Expr::Binary(op, a, b) => self.binary(op, a, b, ctx),
            Expr::Ternary(c, a, b) => {
                let cond = self.reduce_bool(c);
                let w = ctx.max(self.self_width(a)).max(self.self_width(b));
                let va = self.eval(a, w).resize(w);
                let vb = self.eval(b, w).resize(w);
                let signed = va.signed && vb.signed;
                match cond.constant() {
                    Some(true) => return Value { signed, ..va },
                    Some(false) => return Value { signed, ..vb },
                    None => {}
                }
                let mut out = Vec::with_capacity(w as usize);
                let (mut both, mut one) = (0, 0);
                let mut inputs = vec![cond];
                let mut pending = Vec::new();
                for (i, (&x, &y)) in va.bits.iter().zip(&vb.bits).enumerate() {
                    if x == y {
                        out.push(Some(x));
                        continue;
                    }
                    match (x.constant(), y.constant()) {
                        (Some(true), Some(false)) => out.push(Some(cond)),
                        (Some(false), Some(true)) => {
                            // ~cond: an inverter shared by all such bits
                            out.push(None);
                            pending.push(i);
                        }
                        (Some(_), None) | (None, Some(_)) => {
                            one += 1;
                            out.push(None);
                            pending.push(i);
                            inputs.push(if x.constant().is_none() { x } else { y });
                        }
                        _ => {
                            both += 1;
                            out.push(None);
                            pending.push(i);
                            inputs.push(x);
                            inputs.push(y);
                        }
                    }
                }
                if !pending.is_empty() {
                    let nets =
                        self.add_logic(LogicKind::Mux { both, one }, inputs, pending.len() as u32);
                    for (k, i) in pending.into_iter().enumerate() {
                        out[i] = Some(nets[k]);
                    }
                }
                Value {
                    bits: out.into_iter().map(|b| b.unwrap()).collect(),
                    signed,
                }
            }
        }
    }

    /// A one-bit truth value of `e` (`|e`).
    fn reduce_bool(&mut self, e: &Expr) -> Bit {
        let v = self.eval(e, 0);
        self.reduce_or(&v.bits)
    }

    fn reduce_or(&mut self, bits: &[Bit]) -> Bit {
        if bits.contains(&Bit::One) {
            return Bit::One;
        }
        let vars: Vec<Bit> = bits.iter().copied().filter(|b| *b != Bit::Zero).collect();
        match vars.len() {
            0 => Bit::Zero,
            1 => vars[0],
            n => self.add_logic(
                LogicKind::Gates {
                    count: n as u32 - 1,
                    xor: false,
                },
                vars,
                1,
            )[0],
        }
    }

    fn unary(&mut self, op: &str, a: &Expr, ctx: u32) -> Value {
        match op {
            "+" => self.eval(a, ctx),
            "-" => {
                let w = ctx.max(self.self_width(a));
                let v = self.eval(a, w).resize(w);
                if let Some(c) = v.as_const() {
                    let neg = c.wrapping_neg();
                    return Value::constant(neg, w, v.signed);
                }
                let key = (v.bits.clone(), w);
                let bits = match self.negations.get(&key) {
                    Some(bits) => bits.clone(),
                    None => {
                        let bits = self.sum(w, vec![(true, Summand::Bits(v.bits.clone()))]);
                        self.negations.insert(key, bits.clone());
                        bits
                    }
                };
                Value {
                    bits,
                    signed: v.signed,
                }
            }
            "~" => {
                let w = ctx.max(self.self_width(a));
                let v = self.eval(a, w).resize(w);
                let mut out = Vec::with_capacity(w as usize);
                let mut pending = Vec::new();
                for (i, &b) in v.bits.iter().enumerate() {
                    match b.constant() {
                        Some(c) => out.push(Some(Bit::of(!c))),
                        None => {
                            out.push(None);
                            pending.push((i, b));
                        }
                    }
                }
                if !pending.is_empty() {
                    let inputs = pending.iter().map(|p| p.1).collect();
                    let nets = self.add_logic(
                        LogicKind::Inverters {
                            count: pending.len() as u32,
                        },
                        inputs,
                        pending.len() as u32,
                    );
                    for (k, (i, _)) in pending.into_iter().enumerate() {
                        out[i] = Some(nets[k]);
                    }
                }
                Value {
                    bits: out.into_iter().map(|b| b.unwrap()).collect(),
                    signed: v.signed,
                }
            }
            "!" => {
                let b = self.reduce_bool(a);
                let bit = match b.constant() {
                    Some(c) => Bit::of(!c),
                    None => self.add_logic(LogicKind::Inverters { count: 1 }, vec![b], 1)[0],
                };
                Value {
                    bits: vec![bit],
                    signed: false,
                }
            }
            _ => {
                // reductions & | ^ ~& ~| ~^
                let v = self.eval(a, 0);
                let xor = op.contains('^');
                let and = op.contains('&');
                let mut vars = Vec::new();
                let mut folded: Option<bool> = None;
                let mut parity = false;
                for &b in &v.bits {
                    match b.constant() {
                        Some(c) if xor => parity ^= c,
                        Some(c) if and && !c => folded = Some(false),
                        Some(c) if !and && c => folded = Some(true),
                        Some(_) => {}
                        None => vars.push(b),
                    }
                }
                let invert = op.starts_with('~');
                let bit = if let Some(f) = folded {
                    Bit::of(f ^ invert)
                } else if vars.is_empty() {
                    Bit::of((if xor { parity } else { and }) ^ invert)
                } else if vars.len() == 1 && !invert && !parity {
                    vars[0]
                } else {
                    let n = vars.len() as u32;
                    self.add_logic(
                        LogicKind::Gates {
                            count: n.saturating_sub(1).max(1),
                            xor,
                        },
                        vars,
                        1,
                    )[0]
                };
                Value {
                    bits: vec![bit],
                    signed: false,
                }
            }
        }
    }

    /// Flattens a `+`/`-` tree (with constant products) into summands.
    fn collect_summands(
        &mut self,
        e: &Expr,
        negative: bool,
        w: u32,
        sctx: bool,
        out: &mut Vec<(bool, Summand)>,
    ) {
        match e {
            Expr::Binary(op @ ("+" | "-"), a, b) => {
                self.collect_summands(a, negative, w, sctx, out);
                self.collect_summands(b, negative ^ (*op == "-"), w, sctx, out);
            }
            Expr::Unary("-", a) if !self.is_constant(a) => {
                self.collect_summands(a, !negative, w, sctx, out)
            }
            Expr::Binary("*", a, b) => {
                let va = self.eval(a, w).extend(w, sctx);
                let vb = self.eval(b, w).extend(w, sctx);
                match (va.as_const(), vb.as_const()) {
                    (Some(x), Some(y)) => {
                        let p = x.wrapping_mul(y);
                        out.push((negative, Summand::Bits(Value::constant(p, w, false).bits)));
                    }
                    (Some(c), None) | (None, Some(c)) => {
                        let operand = if va.as_const().is_some() { vb } else { va };
                        // a negative constant (two's complement in w bits) is a
                        // subtraction of its magnitude
                        let (neg, mag) = magnitude(c, w);
                        out.push((
                            negative ^ neg,
                            Summand::ConstProduct {
                                operand: operand.bits,
                                constant: mag,
                            },
                        ));
                    }
                    (None, None) => {
                        let bits = self.var_product(&va, &vb, w);
                        out.push((negative, Summand::Bits(bits)));
                    }
                }
            }
            _ => {
                let v = self.eval(e, w).extend(w, sctx);
                out.push((negative, Summand::Bits(v.bits)));
            }
        }
    }

    fn is_constant(&mut self, e: &Expr) -> bool {
        const_eval(e, &self.params).is_some()
    }

    fn var_product(&mut self, a: &Value, b: &Value, w: u32) -> Vec<Bit> {
        let used = |v: &Value| {
            v.bits
                .iter()
                .rposition(|b| *b != Bit::Zero)
                .map_or(0, |p| p as u32 + 1)
        };
        let (aw, bw) = (used(a), used(b));
        let mut inputs = a.bits.clone();
        inputs.extend(b.bits.iter().copied());
        self.add_logic(
            LogicKind::VarProduct {
                a_width: aw,
                b_width: bw,
            },
            inputs,
            w,
        )
    }

    /// An adder item over `summands` at width `w` (constant summands folded together).
    fn sum(&mut self, w: u32, summands: Vec<(bool, Summand)>) -> Vec<Bit> {
        let mut constant: u128 = 0;
        let mut kept = Vec::new();
        for (neg, s) in summands {
            let c = match &s {
                Summand::Bits(bits) => Value {
                    bits: bits.clone(),
                    signed: false,
                }
                .as_const(),
                Summand::ConstProduct { operand, constant } => Value {
                    bits: operand.clone(),
                    signed: false,
                }
                .as_const()
                .map(|v| v.wrapping_mul(*constant)),
            };
            match c {
                Some(c) => {
                    constant = if neg {
                        constant.wrapping_sub(c)
                    } else {
                        constant.wrapping_add(c)
                    }
                }
                None => {
                    // x * 0 vanishes
                    if matches!(&s, Summand::ConstProduct { constant: 0, .. }) {
                        continue;
                    }
                    kept.push((neg, s));
                }
            }
        }
        let mask = if w >= 128 {
            u128::MAX
        } else {
            (1u128 << w) - 1
        };
        constant &= mask;
        // one summand, positive, no constant: wiring (x * 2^k is a shift)
        if kept.len() == 1 && constant == 0 && !kept[0].0 {
            match &kept[0].1 {
                Summand::Bits(bits) => return bits.clone(),
                Summand::ConstProduct { operand, constant } if constant.is_power_of_two() => {
                    let k = constant.trailing_zeros() as usize;
                    let mut bits = vec![Bit::Zero; k.min(w as usize)];
                    bits.extend(operand.iter().copied());
                    bits.truncate(w as usize);
                    return bits;
                }
                _ => {}
            }
        }
        if kept.is_empty() {
            return Value::constant(constant, w, false).bits;
        }
        let mut inputs = Vec::new();
        let mut out = Vec::new();
        for (neg, s) in kept {
            match &s {
                Summand::Bits(bits) => inputs.extend(bits.iter().copied()),
                Summand::ConstProduct { operand, .. } => inputs.extend(operand.iter().copied()),
            }
            let _ = neg;
            out.push(s);
        }
        if constant != 0 {
            out.push(Summand::Bits(Value::constant(constant, w, false).bits));
        }
        self.add_logic(LogicKind::Sum { summands: out }, inputs, w)
    }

    fn binary(&mut self, op: &str, a: &Expr, b: &Expr, ctx: u32) -> Value {
        match op {
            "+" | "-" | "*" => {
                let w = ctx.max(self.self_width(a)).max(self.self_width(b));
                let signed = self.shape(a).1 && self.shape(b).1;
                let mut summands = Vec::new();
                self.collect_summands(
                    &Expr::Binary(
                        match op {
                            "+" => "+",
                            "-" => "-",
                            _ => "*",
                        },
                        Box::new(a.clone()),
                        Box::new(b.clone()),
                    ),
                    false,
                    w,
                    signed,
                    &mut summands,
                );
                let bits = self.sum(w, summands);
                Value { bits, signed }
            }
            "&" | "|" | "^" | "~^" | "^~" => {
                let w = ctx.max(self.self_width(a)).max(self.self_width(b));
                let signed = self.shape(a).1 && self.shape(b).1;
                let va = self.eval(a, w).extend(w, signed);
                let vb = self.eval(b, w).extend(w, signed);
                let xor = op.contains('^');
                let invert = op.starts_with('~') || op.ends_with('~');
                let mut out = Vec::with_capacity(w as usize);
                let mut pending = Vec::new();
                let mut inputs = Vec::new();
                let mut inverters = 0;
                for (i, (&x, &y)) in va.bits.iter().zip(&vb.bits).enumerate() {
                    let folded = match (op, x.constant(), y.constant()) {
                        (_, Some(p), Some(q)) => Some(Bit::of(match op {
                            "&" => p & q,
                            "|" => p | q,
                            "^" => p ^ q,
                            _ => !(p ^ q),
                        })),
                        ("&", Some(false), _) | ("&", _, Some(false)) => Some(Bit::Zero),
                        ("|", Some(true), _) | ("|", _, Some(true)) => Some(Bit::One),
                        ("&", Some(true), _) | ("|", Some(false), _) | ("^", Some(false), _) => {
                            Some(y)
                        }
                        ("&", _, Some(true)) | ("|", _, Some(false)) | ("^", _, Some(false)) => {
                            Some(x)
                        }
                        _ if x == y && (op == "&" || op == "|") => Some(x),
                        _ if x == y && op == "^" => Some(Bit::Zero),
                        (_, Some(_), None) | (_, None, Some(_)) => {
                            // x ^ 1, x xnor 0, ...: an inverter
                            inverters += 1;
                            None
                        }
                        _ => None,
                    };
                    match folded {
                        Some(b) => out.push(Some(b)),
                        None => {
                            out.push(None);
                            pending.push(i);
                            inputs.push(x);
                            inputs.push(y);
                        }
                    }
                }
                if !pending.is_empty() {
                    let gates = pending.len() as u32 - inverters;
                    let kind = if gates == 0 {
                        LogicKind::Inverters { count: inverters }
                    } else {
                        LogicKind::Gates { count: gates, xor }
                    };
                    let _ = invert;
                    let nets = self.add_logic(kind, inputs, pending.len() as u32);
                    for (k, i) in pending.into_iter().enumerate() {
                        out[i] = Some(nets[k]);
                    }
                }
                Value {
                    bits: out.into_iter().map(|b| b.unwrap()).collect(),
                    signed: va.signed && vb.signed,
                }
            }
            "&&" | "||" => {
                let x = self.reduce_bool(a);
                let y = self.reduce_bool(b);
                let bit = match (op, x.constant(), y.constant()) {
                    (_, Some(p), Some(q)) => Bit::of(if op == "&&" { p && q } else { p || q }),
                    ("&&", Some(false), _) | ("&&", _, Some(false)) => Bit::Zero,
                    ("||", Some(true), _) | ("||", _, Some(true)) => Bit::One,
                    (_, Some(_), None) => y,
                    (_, None, Some(_)) => x,
                    _ => self.add_logic(
                        LogicKind::Gates {
                            count: 1,
                            xor: false,
                        },
                        vec![x, y],
                        1,
                    )[0],
                };
                Value {
                    bits: vec![bit],
                    signed: false,
                }
            }
            "==" | "!=" | "===" | "!==" | "<" | "<=" | ">" | ">=" => {
                let w = self.self_width(a).max(self.self_width(b));
                let signed = self.shape(a).1 && self.shape(b).1;
                let va = self.eval(a, w).extend(w, signed);
                let vb = self.eval(b, w).extend(w, signed);
                let equality = op.contains('=') && !op.starts_with('<') && !op.starts_with('>');
                if let (Some(x), Some(y)) = (va.as_const(), vb.as_const()) {
                    let (x, y) = if signed {
                        (sign_extend(x, w), sign_extend(y, w))
                    } else {
                        (x as i128, y as i128)
                    };
                    let r = match op {
                        "==" | "===" => x == y,
                        "!=" | "!==" => x != y,
                        "<" => x < y,
                        "<=" => x <= y,
                        ">" => x > y,
                        _ => x >= y,
                    };
                    return Value::constant(u128::from(r), 1, false);
                }
                let constant = va.as_const().is_some() || vb.as_const().is_some();
                // bits where both sides are constant do not cost logic
                let mut width = va
                    .bits
                    .iter()
                    .zip(&vb.bits)
                    .filter(|(x, y)| x.constant().is_none() || y.constant().is_none())
                    .count() as u32;
                // against a constant, the bits below the threshold's trailing zeros do not
                // matter (x > 1023 is "any bit from 10 up")
                if !equality {
                    let c = va.as_const().or(vb.as_const()).unwrap_or(0);
                    let const_on_right = vb.as_const().is_some();
                    // x > c, x <= c: threshold c + 1; x < c, x >= c: threshold c
                    let strict_gt = matches!(
                        (op, const_on_right),
                        (">" | "<=", true) | ("<" | ">=", false)
                    );
                    let threshold = if strict_gt { c.wrapping_add(1) } else { c };
                    let mask = if w >= 128 {
                        u128::MAX
                    } else {
                        (1u128 << w) - 1
                    };
                    let t = threshold & mask;
                    if constant && t != 0 {
                        width = width.saturating_sub(t.trailing_zeros()).max(1);
                    }
                }
                let mut inputs = va.bits.clone();
                inputs.extend(vb.bits.iter().copied());
                let bit = self.add_logic(
                    LogicKind::Compare {
                        width,
                        constant,
                        equality,
                    },
                    inputs,
                    1,
                )[0];
                Value {
                    bits: vec![bit],
                    signed: false,
                }
            }
            "<<" | ">>" | "<<<" | ">>>" => {
                let w = ctx.max(self.self_width(a));
                let va = self.eval(a, w).resize(w);
                match const_eval(b, &self.params) {
                    Some(s) => {
                        let s = s.clamp(0, w as i128) as usize;
                        let fill = if op == ">>>" && va.signed {
                            *va.bits.last().unwrap_or(&Bit::Zero)
                        } else {
                            Bit::Zero
                        };
                        let bits = if op.starts_with('<') {
                            let mut bits = vec![Bit::Zero; s];
                            bits.extend(va.bits.iter().copied());
                            bits.truncate(w as usize);
                            bits
                        } else {
                            let mut bits: Vec<Bit> = va.bits.iter().skip(s).copied().collect();
                            bits.resize(w as usize, fill);
                            bits
                        };
                        Value {
                            bits,
                            signed: va.signed,
                        }
                    }
                    None => {
                        let vb = self.eval(b, 0);
                        let mut inputs = va.bits.clone();
                        inputs.extend(vb.bits.iter().copied());
                        let bits = self.add_logic(
                            LogicKind::Shifter {
                                width: w,
                                stages: vb.width(),
                            },
                            inputs,
                            w,
                        );
                        Value {
                            bits,
                            signed: va.signed,
                        }
                    }
                }
            }
            _ => {
                // / % **: a non-constant divider is outside what aecc emits; count as a
                // product so it is not silently free
                let w = ctx.max(self.self_width(a)).max(self.self_width(b));
                let va = self.eval(a, w).resize(w);
                let vb = self.eval(b, w).resize(w);
                if let (Some(x), Some(y)) = (va.as_const(), vb.as_const()) {
                    let r = match op {
                        "/" if y != 0 => x / y,
                        "%" if y != 0 => x % y,
                        _ => 0,
                    };
                    return Value::constant(r, w, false);
                }
                let bits = self.var_product(&va, &vb, w);
                Value {
                    bits,
                    signed: false,
                }
            }
        }
    }

    /// The nets an assignment target names, LSB first.
    fn lvalue(&mut self, e: &Expr) -> Vec<u32> {
        match e {
            Expr::Ident(name) => {
                if !self.signals.contains_key(name) {
                    self.declare(name, 0, 0, false);
                }
                self.signals[name].nets.clone()
            }
            Expr::Index(..) | Expr::Range(..) | Expr::Part { .. } => self
                .eval_inner(e, 0)
                .bits
                .into_iter()
                .filter_map(|b| match b {
                    Bit::Net(n) => Some(n),
                    _ => None,
                })
                .collect(),
            Expr::Concat(items) => {
                let mut nets = Vec::new();
                for it in items.iter().rev() {
                    nets.extend(self.lvalue(it));
                }
                nets
            }
            _ => Vec::new(),
        }
    }

    fn assign(&mut self, lhs: &Expr, rhs: &Expr) {
        let target = self.lvalue(lhs);
        let w = target.len() as u32;
        let v = self.eval(rhs, w).resize(w);
        for (n, b) in target.into_iter().zip(v.bits) {
            self.nets.drive(n, b);
        }
    }

    /// Collects the non-blocking assignments of a clocked block: each target bit gets
    /// its next-state bit and whether it is reset / held.
    fn clocked(
        &mut self,
        s: &Stmt,
        cond: &[Bit],
        reset_names: &BTreeSet<String>,
        out: &mut BTreeMap<u32, NextState>,
    ) {
        match s {
            Stmt::Block(b) => {
                for s in b {
                    self.clocked(s, cond, reset_names, out);
                }
            }
            Stmt::Empty => {}
            Stmt::Assign { lhs, rhs, .. } => {
                let target = self.lvalue(lhs);
                let w = target.len() as u32;
                let v = self.eval(rhs, w).resize(w);
                let is_reset = v.as_const().is_some()
                    && !cond.is_empty()
                    && matches!(cond.last(), Some(Bit::Net(_)));
                for (n, b) in target.into_iter().zip(v.bits) {
                    let e = out.entry(n).or_insert(NextState {
                        d: b,
                        conditions: 0,
                        reset: false,
                        reset_value: None,
                        control: Vec::new(),
                    });
                    e.conditions += 1;
                    if is_reset && b.constant().is_some() && e.conditions == 1 {
                        e.reset = true;
                        e.reset_value = Some(b);
                    } else {
                        e.d = b;
                    }
                    e.control.extend(cond.iter().copied());
                }
            }
            Stmt::If {
                cond: c,
                then,
                otherwise,
            } => {
                let bit = self.reduce_bool(c);
                let is_reset = match c {
                    Expr::Ident(n) => {
                        reset_names.contains(n) || n.contains("rst") || n.contains("reset")
                    }
                    _ => false,
                };
                let mut inner = cond.to_vec();
                inner.push(bit);
                self.clocked(then, &inner, reset_names, out);
                if let Some(o) = otherwise {
                    self.clocked(o, &inner, reset_names, out);
                }
                let _ = is_reset;
            }
        }
    }

    fn item(&mut self, item: &Item) {
        match item {
            Item::Decl { init, name, .. } => {
                if let Some(e) = init {
                    let saved = self.owner;
                    self.owner = self.group_owner(name).or(saved);
                    self.assign(&Expr::Ident(name.clone()), e);
                    self.owner = saved;
                }
            }
            Item::Param { .. } => {}
            Item::Assign { lhs, rhs } => {
                let saved = self.owner;
                if let Some(name) = base_name(lhs) {
                    self.owner = self.group_owner(name).or(saved);
                }
                self.assign(lhs, rhs);
                self.owner = saved;
            }
            Item::Always {
                sensitivity,
                body,
                keep,
            } => match sensitivity {
                Sensitivity::Edge(edges) => {
                    let resets: BTreeSet<String> =
                        edges.iter().skip(1).map(|(_, n)| n.clone()).collect();
                    let clock = self
                        .signals
                        .get(&edges[0].1)
                        .map(|s| Bit::Net(s.nets[0]))
                        .unwrap_or(Bit::Zero);
                    let mut next = BTreeMap::new();
                    self.clocked(body, &[], &resets, &mut next);
                    for (q, ns) in next {
                        // a bit written under every path (conditions > 1 with a reset, or
                        // unconditionally) is a pipeline flip-flop; a bit written under a
                        // condition and otherwise held has an enable
                        let unconditional = ns.control.is_empty();
                        let enable = !(unconditional || ns.reset && ns.conditions >= 2);
                        let mut control = vec![clock];
                        control.extend(ns.control);
                        // a constant input: the flip-flop is a constant (synthesis removes it)
                        if let (Some(_), false) = (ns.d.constant(), enable) {
                            if !ns.reset || Some(ns.d) == ns.reset_value {
                                self.nets.drive(q, ns.d);
                            }
                        }
                        self.flip_flops.push(FlipFlop {
                            owner: self.net_owner.get(&q).copied().or(self.owner),
                            d: ns.d,
                            q,
                            reset: ns.reset,
                            enable,
                            control,
                            keep: *keep,
                        });
                    }
                }
                Sensitivity::Combinational => {
                    // combinational always: treat assignments as continuous
                    let mut next = BTreeMap::new();
                    self.clocked(body, &[], &BTreeSet::new(), &mut next);
                    for (q, ns) in next {
                        self.nets.drive(q, ns.d);
                    }
                }
            },
            Item::Instance { .. } => {}
        }
    }
}

struct NextState {
    d: Bit,
    conditions: u32,
    reset: bool,
    reset_value: Option<Bit>,
    control: Vec<Bit>,
}

fn sign_extend(x: u128, w: u32) -> i128 {
    if w == 0 || w >= 128 {
        return x as i128;
    }
    let x = x as i128;
    if x >> (w - 1) & 1 == 1 {
        x - (1i128 << w)
    } else {
        x
    }
}

/// `c` as a `w`-bit two's complement number: (negative, magnitude).
fn magnitude(c: u128, w: u32) -> (bool, u128) {
    if w > 0 && w < 128 && (c >> (w - 1)) & 1 == 1 && c != 1 << (w - 1) {
        (true, ((1u128 << w) - c) & ((1u128 << w) - 1))
    } else {
        (false, c)
    }
}

impl Analyser<'_> {
    /// Processes the current scope's module: ports and declarations are already there.
    fn module_items(&mut self, m: &Module, depth: u32) {
        for it in &m.items {
            if let Item::Decl {
                name,
                range,
                signed,
                kind,
                ..
            } = it
            {
                let (msb, lsb) = self.range_of(range);
                if !self.signals.contains_key(name) {
                    self.declare(name, msb, lsb, *signed || *kind == NetKind::Integer);
                    if let Some(o) = self.group_owner(name) {
                        for &n in &self.signals[name].nets {
                            self.net_owner.insert(n, o);
                        }
                    }
                }
            }
        }
        for it in &m.items {
            match it {
                Item::Instance {
                    module,
                    name,
                    params,
                    connections,
                    line,
                } => self.instance(module, name, *line, params, connections, depth),
                _ => self.item(it),
            }
        }
    }

    /// Inlines one instance: its ports are unified with the connected nets, its logic
    /// is analysed in a scope of its own.
    fn instance(
        &mut self,
        module: &str,
        name: &str,
        line: usize,
        params: &[(Option<String>, Expr)],
        connections: &[(Option<String>, Option<Expr>)],
        depth: u32,
    ) {
        let Some(m) = self.modules.get(module).copied() else {
            self.notes.push(format!(
                "module {module} (instance {}{name}) is not defined: its logic is not counted",
                self.path
            ));
            // its outputs are unknown values: fresh nets (already declared)
            return;
        };
        if depth > 64 {
            self.notes
                .push(format!("instance {}{name}: hierarchy too deep", self.path));
            return;
        }
        // connections evaluated in the parent's scope
        let mut inputs: Vec<(String, Vec<Bit>)> = Vec::new();
        let mut outputs: Vec<(String, Vec<u32>)> = Vec::new();
        for (k, (port, e)) in connections.iter().enumerate() {
            let Some(e) = e else { continue };
            let decl = match port {
                Some(p) => m.ports.iter().find(|d| &d.name == p),
                None => m.ports.get(k),
            };
            let Some(decl) = decl else { continue };
            match decl.dir {
                Dir::Output => outputs.push((decl.name.clone(), self.lvalue(e))),
                _ => {
                    let v = self.eval(e, 0);
                    inputs.push((decl.name.clone(), v.bits));
                }
            }
        }
        let mut child_params = BTreeMap::new();
        for (k, (pname, e)) in params.iter().enumerate() {
            let target = match pname {
                Some(n) => Some(n.clone()),
                None => m.params.get(k).map(|(n, _)| n.clone()),
            };
            if let (Some(t), Some(v)) = (target, const_eval(e, &self.params)) {
                child_params.insert(t, v);
            }
        }
        // enter the child's scope
        let saved_signals = std::mem::take(&mut self.signals);
        let saved_params = std::mem::take(&mut self.params);
        let saved_path = self.path.clone();
        let saved_owner = self.owner;
        self.path = format!("{saved_path}{name}.");
        if depth == 0 {
            let grouped = name.strip_prefix("u_").and_then(|n| {
                let saved_path = std::mem::take(&mut self.path);
                let o = self.group_owner(n);
                self.path = saved_path;
                o
            });
            self.owner = Some(match grouped {
                Some(o) => o,
                None => {
                    self.owner_lines.push(line);
                    self.owners.push((name.to_string(), module.to_string()));
                    self.owners.len() as u32 - 1
                }
            });
        }
        for (pname, e) in &m.params {
            let v = child_params
                .get(pname)
                .copied()
                .or_else(|| const_eval(e, &self.params));
            if let Some(v) = v {
                self.params.insert(pname.clone(), v);
            }
        }
        for it in &m.items {
            if let Item::Param { name, value } = it {
                if let Some(v) = const_eval(value, &self.params) {
                    self.params.insert(name.clone(), v);
                }
            }
        }
        for p in &m.ports {
            let (msb, lsb) = self.range_of(&p.range);
            self.declare(&p.name, msb, lsb, p.signed);
        }
        for (port, bits) in inputs {
            let nets = self.signals[&port].nets.clone();
            let w = nets.len();
            let mut bits = bits;
            bits.resize(w, Bit::Zero);
            for (n, b) in nets.into_iter().zip(bits) {
                self.nets.drive(n, b);
            }
        }
        let port_nets: Vec<(Vec<u32>, Vec<u32>)> = outputs
            .into_iter()
            .map(|(port, parent)| (self.signals[&port].nets.clone(), parent))
            .collect();
        self.module_items(m, depth + 1);
        for s in &m.skipped {
            self.notes.push(format!(
                "{}: not analysed: {s}",
                self.path.trim_end_matches('.')
            ));
        }
        for (child, parent) in port_nets {
            for (p, c) in parent.into_iter().zip(child) {
                self.nets.drive(p, Bit::Net(c));
            }
        }
        // leave the scope
        let scope = std::mem::replace(&mut self.signals, saved_signals);
        for (n, sig) in scope {
            self.all_signals
                .push((format!("{}{n}", self.path), sig.nets));
        }
        self.params = saved_params;
        self.path = saved_path;
        self.owner = saved_owner;
    }
}

/// One pass of the flattened analysis of `top`, with constants found by a previous pass.
fn analyse_pass(
    modules: &HashMap<String, &Module>,
    top: &Module,
    seed: &Constants,
    groups: &[(String, String)],
) -> (DesignStructure, Constants) {
    let mut a = Analyser {
        nets: Nets::default(),
        params: BTreeMap::new(),
        signals: BTreeMap::new(),
        path: String::new(),
        owner: None,
        owners: Vec::new(),
        owner_lines: Vec::new(),
        modules,
        logic: Vec::new(),
        flip_flops: Vec::new(),
        roots: Vec::new(),
        notes: top
            .skipped
            .iter()
            .map(|s| format!("{}: not analysed: {s}", top.name))
            .collect(),
        all_signals: Vec::new(),
        seed,
        groups,
        net_owner: HashMap::new(),
        negations: HashMap::new(),
    };
    for (name, e) in &top.params {
        if let Some(v) = const_eval(e, &a.params) {
            a.params.insert(name.clone(), v);
        }
    }
    for it in &top.items {
        if let Item::Param { name, value } = it {
            if let Some(v) = const_eval(value, &a.params) {
                a.params.insert(name.clone(), v);
            }
        }
    }
    for p in &top.ports {
        let (msb, lsb) = a.range_of(&p.range);
        a.declare(&p.name, msb, lsb, p.signed);
    }
    a.module_items(top, 0);
    for p in &top.ports {
        if p.dir != Dir::Input {
            let bits: Vec<Bit> = a.signals[&p.name]
                .nets
                .iter()
                .map(|&n| Bit::Net(n))
                .collect();
            a.roots.extend(bits);
        }
    }
    let scope = std::mem::take(&mut a.signals);
    for (n, sig) in scope {
        a.all_signals.push((n, sig.nets));
    }
    // constants by signal path, for the next pass
    let mut constants = Constants::new();
    let all = std::mem::take(&mut a.all_signals);
    for (name, nets) in &all {
        let bits: Vec<(usize, bool)> = nets
            .iter()
            .enumerate()
            .filter_map(|(i, &n)| Some((i, a.nets.canon(Bit::Net(n)).constant()?)))
            .collect();
        match constants.entry(name.clone()) {
            _ if bits.is_empty() => {}
            std::collections::hash_map::Entry::Vacant(e) => {
                e.insert(bits);
            }
            // a path declared twice: the later declaration's bits win, bit by bit
            std::collections::hash_map::Entry::Occupied(mut e) => {
                for (i, c) in bits {
                    match e.get_mut().iter_mut().find(|(j, _)| *j == i) {
                        Some(p) => p.1 = c,
                        None => e.get_mut().push((i, c)),
                    }
                }
            }
        }
    }
    (finish(a, top.name.clone()), constants)
}

/// Canonicalises nets, merges identical flip-flops, removes dead logic.
fn finish(mut a: Analyser, top: String) -> DesignStructure {
    // canonical nets everywhere
    let mut logic = std::mem::take(&mut a.logic);
    for l in &mut logic {
        for b in &mut l.inputs {
            *b = a.nets.canon(*b);
        }
        for o in &mut l.outputs {
            *o = a.nets.find(*o);
        }
        if let LogicKind::Sum { summands } = &mut l.kind {
            for s in summands {
                match s {
                    Summand::Bits(bits) => {
                        for b in bits {
                            *b = a.nets.canon(*b);
                        }
                    }
                    Summand::ConstProduct { operand, .. } => {
                        for b in operand {
                            *b = a.nets.canon(*b);
                        }
                    }
                }
            }
        }
    }
    let mut ffs = std::mem::take(&mut a.flip_flops);
    for f in &mut ffs {
        f.d = a.nets.canon(f.d);
        f.q = a.nets.find(f.q);
        for c in &mut f.control {
            *c = a.nets.canon(*c);
        }
    }
    let roots: Vec<Bit> = a.roots.iter().map(|&b| a.nets.canon(b)).collect();

    // liveness: from the output ports backwards (nets are dense ids: a bit per net)
    let mut live = vec![false; a.nets.parent.len()];
    let mut stack: Vec<u32> = Vec::new();
    for b in &roots {
        if let Bit::Net(n) = *b {
            if !live[n as usize] {
                live[n as usize] = true;
                stack.push(n);
            }
        }
    }
    // the logic and the flip-flop driving each net (dense tables, NONE: none)
    const NONE: usize = usize::MAX;
    let mut driver = vec![NONE; live.len()];
    for (i, l) in logic.iter().enumerate() {
        for &o in &l.outputs {
            driver[o as usize] = i;
        }
    }
    let mut ff_of = vec![NONE; live.len()];
    for (i, f) in ffs.iter().enumerate() {
        if ff_of[f.q as usize] == NONE {
            ff_of[f.q as usize] = i;
        }
    }
    let mut logic_live = vec![false; logic.len()];
    let mut ff_live = vec![false; ffs.len()];
    let push = |b: Bit, live: &mut Vec<bool>, stack: &mut Vec<u32>| {
        if let Bit::Net(m) = b {
            if !live[m as usize] {
                live[m as usize] = true;
                stack.push(m);
            }
        }
    };
    while let Some(n) = stack.pop() {
        if let Some(&i) = driver.get(n as usize).filter(|&&i| i != NONE) {
            if !logic_live[i] {
                logic_live[i] = true;
                for &b in &logic[i].inputs {
                    push(b, &mut live, &mut stack);
                }
                if let LogicKind::Sum { summands } = &logic[i].kind {
                    for s in summands {
                        let bits = match s {
                            Summand::Bits(b) => b,
                            Summand::ConstProduct { operand, .. } => operand,
                        };
                        for &b in bits {
                            push(b, &mut live, &mut stack);
                        }
                    }
                }
            }
        }
        if let Some(&i) = ff_of.get(n as usize).filter(|&&i| i != NONE) {
            if !ff_live[i] {
                ff_live[i] = true;
                push(ffs[i].d, &mut live, &mut stack);
                for &c in &ffs[i].control.clone() {
                    push(c, &mut live, &mut stack);
                }
            }
        }
    }
    // trim adders to the highest bit read (synthesis drops unread MSBs)
    let mut kept_logic = Vec::new();
    for (i, mut l) in logic.into_iter().enumerate() {
        if !logic_live[i] {
            continue;
        }
        if let LogicKind::Sum { .. } = l.kind {
            l.live_width = l
                .outputs
                .iter()
                .rposition(|&o| live[o as usize])
                .map_or(0, |p| p as u32 + 1);
        }
        kept_logic.push(l);
    }
    // flip-flops: drop constant-input and dead ones, merge identical ones
    let mut removed = 0;
    let mut seen: BTreeSet<(Bit, bool, bool, Vec<Bit>)> = BTreeSet::new();
    let mut kept_ffs = Vec::new();
    for (i, f) in ffs.into_iter().enumerate() {
        if f.keep {
            kept_ffs.push(f);
            continue;
        }
        if !ff_live[i] || f.d.constant().is_some() && !f.enable {
            removed += 1;
            continue;
        }
        if !seen.insert((f.d, f.reset, f.enable, f.control.clone())) {
            removed += 1;
            continue;
        }
        kept_ffs.push(f);
    }
    let mut notes = a.notes;
    notes.sort();
    notes.dedup();
    DesignStructure {
        top,
        owners: a.owners,
        owner_lines: a.owner_lines,
        logic: kept_logic,
        flip_flops: kept_ffs,
        removed_flip_flops: removed,
        notes,
    }
}

/// Analyses a design flattened from `top` (all files' modules together). Constants that
/// reach a module only through a later part of the text (or through registers) are found
/// by repeating the analysis with the constants of the previous pass, until none is new.
///
/// `groups` names the layers of a flat top module (the optimised architecture prints
/// every layer's signals with one prefix, `l<k>_`, instead of one instance per layer):
/// the top module's logic and flip-flops whose signal name starts with a prefix, and its
/// instances named `u_<prefix>...`, belong to an owner of the given name, as if they were
/// one instance.
pub fn analyse_design(
    modules: &[Module],
    top: &str,
    groups: &[(String, String)],
) -> Option<DesignStructure> {
    let by_name: HashMap<String, &Module> = modules.iter().map(|m| (m.name.clone(), m)).collect();
    let top = by_name.get(top).copied()?;
    let mut seed = Constants::new();
    for _ in 0..8 {
        let (d, constants) = analyse_pass(&by_name, top, &seed, groups);
        if constant_bits(&constants) <= constant_bits(&seed) {
            return Some(d);
        }
        seed = constants;
    }
    Some(analyse_pass(&by_name, top, &seed, groups).0)
}

/// The signal an assignment's left-hand side writes (`x`, `x[3:0]`, ...).
fn base_name(e: &Expr) -> Option<&str> {
    match e {
        Expr::Ident(n) => Some(n),
        Expr::Index(x, _) | Expr::Range(x, _, _) | Expr::Part { base: x, .. } => base_name(x),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::super::verilog::parse;
    use super::*;

    fn one(src: &str) -> DesignStructure {
        let ms = parse(src).unwrap();
        analyse_design(&ms, &ms[0].name, &[]).unwrap()
    }

    #[test]
    fn keep_copies_are_not_merged() {
        let src = |attr: &str| {
            format!(
                "module m(input wire clk, input wire en, input wire [3:0] d, output wire [3:0] q);
              reg [3:0] r0;
              reg [3:0] r1;
              reg [3:0] r2;
              {attr} always @(posedge clk) if (en) r0 <= d;
              {attr} always @(posedge clk) if (en) r1 <= d;
              {attr} always @(posedge clk) if (en) r2 <= d;
              assign q = (r0 & r1) | (r0 & r2) | (r1 & r2);
            endmodule"
            )
        };
        // identical copies merge, as yosys' opt_merge does without the attribute
        assert_eq!(one(&src("")).flip_flops.len(), 4);
        assert_eq!(one(&src("(* keep *)")).flip_flops.len(), 12);
        assert_eq!(one(&src("(* keep = 1 *)")).flip_flops.len(), 12);
        assert_eq!(one(&src("(* keeper *)")).flip_flops.len(), 4);
    }

    #[test]
    fn wiring_is_free_and_sums_are_found() {
        let s = one(
            "module m(input wire clk, input wire [9:0] a, input wire [9:0] b,
            output reg [11:0] y);
          wire [11:0] ae = {{2{a[9]}}, a};
          wire [11:0] bs = {b, 2'd0};
          wire [11:0] s = ae * 12'd6 - bs + 12'd3;
          always @(posedge clk) y <= s;
        endmodule",
        );
        assert_eq!(s.flip_flops.len(), 12);
        assert_eq!(s.logic.len(), 1);
        let LogicKind::Sum { summands } = &s.logic[0].kind else {
            panic!()
        };
        assert_eq!(summands.len(), 3);
        assert!(matches!(
            summands[0],
            Summand::ConstProduct { constant: 6, .. }
        ));
        // {b, 2'd0}: the two low bits are constant zero
        let Summand::Bits(bits) = &summands[1] else {
            panic!()
        };
        assert_eq!(&bits[..2], &[Bit::Zero, Bit::Zero]);
    }

    #[test]
    fn identical_negations_are_built_once() {
        // `-a * 11` twice reads one negation (synthesis merges identical cells), so the
        // two constant products read the same operand and count as one
        let s = one(
            "module m(input wire clk, input wire [7:0] a, input wire [7:0] b,
            output reg [15:0] y, output reg [15:0] z);
          wire [15:0] ae = {{8{a[7]}}, a};
          wire [15:0] be = {{8{b[7]}}, b};
          wire [15:0] p = -ae * 16'd11 + be * 16'd3;
          wire [15:0] q = -ae * 16'd11 - be * 16'd5;
          always @(posedge clk) begin y <= p; z <= q; end
        endmodule",
        );
        let negations = s
            .logic
            .iter()
            .filter(|l| match &l.kind {
                LogicKind::Sum { summands } => {
                    matches!(summands.as_slice(), [Summand::Bits(_)])
                }
                _ => false,
            })
            .count();
        assert_eq!(negations, 1);
        let operands: Vec<&Vec<Bit>> = s
            .logic
            .iter()
            .flat_map(|l| match &l.kind {
                LogicKind::Sum { summands } => summands.iter().collect::<Vec<_>>(),
                _ => Vec::new(),
            })
            .filter_map(|x| match x {
                Summand::ConstProduct {
                    operand,
                    constant: 11,
                } => Some(operand),
                _ => None,
            })
            .collect();
        assert_eq!(operands.len(), 2);
        assert_eq!(operands[0], operands[1]);
    }

    #[test]
    fn dead_logic_constant_and_duplicate_flip_flops_are_removed() {
        let s = one(
            "module m(input wire clk, input wire [3:0] a, output wire [3:0] y);
          wire [3:0] dead = a + 4'd1;
          reg [3:0] r1, r2;
          reg [1:0] c;
          always @(posedge clk) begin
            r1 <= a;
            r2 <= a;
            c <= 2'd1;
          end
          assign y = r1 ^ r2 ^ {2'd0, c};
        endmodule",
        );
        assert!(s
            .logic
            .iter()
            .all(|l| !matches!(l.kind, LogicKind::Sum { .. })));
        assert_eq!(s.flip_flops.len(), 4, "{:?}", s.flip_flops);
        assert_eq!(s.removed_flip_flops, 6);
    }

    #[test]
    fn reset_and_enable_flip_flops() {
        let s = one("module m(input wire clk, input wire rst, input wire we,
            input wire [3:0] d, output wire [7:0] q);
          reg [3:0] v, cfg;
          always @(posedge clk) begin
            if (rst) v <= 4'd0;
            else v <= d;
          end
          always @(posedge clk) begin
            if (we) cfg <= d;
          end
          assign q = {cfg, v};
        endmodule");
        let reset = s.flip_flops.iter().filter(|f| f.reset && !f.enable).count();
        let enable = s.flip_flops.iter().filter(|f| f.enable).count();
        assert_eq!((reset, enable), (4, 4));
    }

    #[test]
    fn adders_are_trimmed_to_the_bits_read() {
        let s = one(
            "module m(input wire [7:0] a, input wire [7:0] b, output wire [3:0] y);
          wire [7:0] t = a + b;
          assign y = t[3:0];
        endmodule",
        );
        assert_eq!(s.logic.len(), 1);
        assert_eq!(s.logic[0].live_width, 4);
    }
}
