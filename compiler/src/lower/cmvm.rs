//! Constant matrix-vector multiplication without multipliers.
//!
//! A layer `y_j = sum_i w_ij x_i + c_j` is lowered in three steps:
//!
//! 1. **CSD recoding**: every weight becomes its canonical signed digits, so each
//!    column `j` is a list of shifted, signed inputs ("digits" `±x_i << k`).
//! 2. **Common sub-expressions across all columns** (two-term CSE in the style of
//!    Hartley's method and of the CMVM literature: RAG-n and Hcub for single and
//!    multiple constants, da4ml for matrices): the pair of digits
//!    `(x_a << k, ±x_b << (k + d))` that saves the most over all columns, at any
//!    common shift `k`, becomes one new signal `t = x_a ± (x_b << d)` computed by one
//!    adder, and every occurrence is replaced by `t << k`. A pattern found `n` times
//!    saves `n - 1` adders, each weighted by the bits where its operands overlap (an
//!    adder's cost on an FPGA carry chain: the other bits pass through or meet a
//!    constant); ties go to more occurrences, then to the narrower adder. New signals
//!    take part in later pairs, so sums of three, four, ... digits are shared as well.
//!    Pair counts are kept incrementally.
//! 3. **Adder trees, cheapest pair first**: each column's remaining digits are summed
//!    by repeatedly adding the pair whose adder costs the fewest LUTs ([`adder_cost`]:
//!    bits where the operands overlap; the lower operand's low bits pass through),
//!    ties to the earlier arrival by the delay model, then the constant. Two's
//!    complement throughout; each adder is written the way that costs the fewest LUTs
//!    on a carry chain ([`adder_cost`]): which operand of a difference is the minuend,
//!    and whether a signed operand is read with its sign bit inverted (offset binary,
//!    the offset moved into the output's constant), so that bits of the adder above a
//!    narrower operand have one varying input instead of a sign extension. The sign
//!    of the tree's sum is chosen with the adder that adds the constant afterwards
//!    (`c + v` pays an inverter per one of `c` under `v`'s bits, `c - v` per zero:
//!    [`constant_add_cost`]). [`TreeOrder::Arrival`] pairs the two operands ready
//!    first instead (Huffman's rule on the delay model's arrival times): the
//!    shallowest trees, which `lower::lower` falls back to when the cheapest ones need
//!    another register stage for the clock.
//!
//! Every adder is sized from the exact interval of the linear form it computes over
//! the layer's inputs (each input lane in its own interval), which is tighter than
//! adding the operands' intervals when a shared term and another operand contain the
//! same input with opposite signs.

use super::csd::csd;
use super::dfg::{Cell, CellOp, Dfg, SigId, Term};
use super::timing::{Arrival, DelayModel};
use aecc_ir::fixed::bits_for_interval;
use aecc_ir::Interval;
use rustc_hash::FxHashMap;
use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap};

/// How constant multiplications are built.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Arithmetic {
    /// `x * constant` operators (what synthesis makes of them is up to the tool).
    Multipliers,
    /// CSD shift-and-add, each output on its own (no sharing).
    ShiftAdd,
    /// CSD shift-and-add with sub-expressions shared across the whole layer.
    SharedShiftAdd,
}

/// How each output's adder tree picks the next pair of operands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TreeOrder {
    /// The pair whose adder costs the fewest LUTs ([`adder_cost`]), ties to the earlier
    /// arrival: the smallest trees, possibly deeper ones.
    #[default]
    Cost,
    /// The two operands that are ready first (Huffman's rule on the delay model's
    /// arrival times): the shallowest trees.
    Arrival,
}

/// One input of a constant matrix-vector product.
#[derive(Debug, Clone, Copy)]
pub struct CmvmInput {
    pub sig: SigId,
    pub interval: Interval,
}

/// One output: `sum (coefficient * v_input) + constant`, in the layer's units.
#[derive(Debug, Clone, Default)]
pub struct CmvmColumn {
    /// `(input index, coefficient)`, coefficients non-zero.
    pub terms: Vec<(usize, i128)>,
    pub constant: i128,
}

/// The result of one column: `v_sig << shift` equals the column's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CmvmOutput {
    pub sig: SigId,
    pub shift: u32,
}

/// Statistics for reports.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CmvmStats {
    /// Non-zero CSD digits of all weights (adders of a naive shift-add: digits - 1 per output).
    pub digits: usize,
    /// Adders of shared sub-expressions.
    pub shared_adders: usize,
    /// Adders in the output trees (including constants).
    pub tree_adders: usize,
    /// Sharing was not tried: the layer has more digit pairs than [`CSE_PAIR_BUDGET`].
    pub sharing_skipped: bool,
}

/// Most digit pairs (over all columns of a layer) the two-term sharing counts. Its cost
/// grows with the pairs, which grow with the square of the digits per column: a layer
/// above this budget is built without shared sub-expressions (each output's own CSD
/// tree), so that compile time stays close to linear in the weights. ECON-T's dense
/// layer has about 250,000 pairs.
pub const CSE_PAIR_BUDGET: usize = 1_500_000;

/// Columns with more operands than this pair by arrival instead of by LUT cost in their
/// adder tree (the cost rule compares every pair: quadratic in the operands).
pub const COST_TREE_MAX_OPERANDS: usize = 96;

/// A sparse linear form `sum c_i v_i + constant` over the layer inputs.
#[derive(Debug, Clone, Default, PartialEq)]
struct Form {
    coeffs: Vec<(u32, i128)>,
    constant: i128,
}

impl Form {
    fn input(i: u32) -> Form {
        Form {
            coeffs: vec![(i, 1)],
            constant: 0,
        }
    }
    fn constant(c: i128) -> Form {
        Form {
            coeffs: Vec::new(),
            constant: c,
        }
    }
    /// `self * sa + other * sb` with `sa, sb` signed powers of two.
    fn combine(&self, sa: i128, other: &Form, sb: i128) -> Form {
        let (a, b) = (&self.coeffs, &other.coeffs);
        let mut out = Vec::with_capacity(a.len() + b.len());
        let (mut i, mut j) = (0, 0);
        while i < a.len() || j < b.len() {
            let take_a = j == b.len() || (i < a.len() && a[i].0 < b[j].0);
            let take_b = i == a.len() || (j < b.len() && b[j].0 < a[i].0);
            if take_a {
                out.push((a[i].0, a[i].1 * sa));
                i += 1;
            } else if take_b {
                out.push((b[j].0, b[j].1 * sb));
                j += 1;
            } else {
                let c = a[i].1 * sa + b[j].1 * sb;
                if c != 0 {
                    out.push((a[i].0, c));
                }
                i += 1;
                j += 1;
            }
        }
        Form {
            coeffs: out,
            constant: self.constant * sa + other.constant * sb,
        }
    }
    fn interval(&self, inputs: &[CmvmInput]) -> Interval {
        let mut iv = Interval::point(self.constant);
        for &(i, c) in &self.coeffs {
            iv = iv.add(inputs[i as usize].interval.scale(c));
        }
        iv
    }
}

/// A digit of a column: `±v_sig << k` where `sig` indexes the local signal table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
struct Digit {
    sig: u32,
    k: u32,
    neg: bool,
}

/// A two-digit pattern: `v_a + (±v_b << d)`, `a` the digit with the lower `(k, sig)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
struct Pattern {
    a: u32,
    b: u32,
    d: u32,
    opposite: bool,
}

fn pattern_of(x: Digit, y: Digit) -> Pattern {
    let (lo, hi) = if (x.k, x.sig) <= (y.k, y.sig) {
        (x, y)
    } else {
        (y, x)
    };
    Pattern {
        a: lo.sig,
        b: hi.sig,
        d: hi.k - lo.k,
        opposite: lo.neg != hi.neg,
    }
}

/// The layer-local signals: inputs first, then shared terms. Each is built as a
/// non-negative hardware value `u` (signal `sig`); its true value is `u + offset`, and
/// `form` is the true value as a linear form of the layer inputs.
struct Signals {
    sig: Vec<SigId>,
    form: Vec<Form>,
    offset: Vec<i128>,
}

impl Signals {
    /// The linear form of the hardware value `u = true - offset`.
    fn hw_form(&self, s: u32) -> Form {
        let mut f = self.form[s as usize].clone();
        f.constant -= self.offset[s as usize];
        f
    }
}

/// Pair counts with a priority order: the largest saving first, where a pattern found
/// `n` times saves `n - 1` adders of about `weight` LUT bits each (the bits where its
/// two operands overlap, plus one), then the most occurrences, then the narrowest adder.
///
/// The order is a max-heap with lazy deletion: a count that grows pushes its new key, a
/// count that shrinks pushes nothing, and [`PairCounts::best`] drops (or re-pushes with
/// the current count) entries whose key is no longer the pattern's current key. So the
/// pattern returned is the one with the largest current key, as with an ordered set, at
/// the price of a hash update per change instead of two tree updates.
#[derive(Default)]
struct PairCounts {
    /// occurrences, (weight, width); the cost is computed when the count first
    /// reaches 2 (weight 0 until then: most patterns occur once and are never chosen)
    count: FxHashMap<Pattern, (i64, (i64, u32))>,
    order: BinaryHeap<PairKey>,
}

/// (saving, occurrences, narrowest width) packed into one integer, then the pattern
/// (the smallest first) to break ties: the order of the tuple
/// `((n - 1) * weight, n, Reverse(width), Reverse(pattern))`, each field saturated at
/// its bits (2^36 bits of saving, 2^20 occurrences, 255 bits of width).
type PairKey = (u64, Reverse<Pattern>);

impl PairCounts {
    fn key(n: i64, c: (i64, u32), p: Pattern) -> PairKey {
        let saving = (((n - 1) * c.0).max(0) as u64).min((1 << 36) - 1);
        let n = (n.max(0) as u64).min((1 << 20) - 1);
        let narrow = 255 - u64::from(c.1.min(255));
        ((saving << 28) | (n << 8) | narrow, Reverse(p))
    }
    /// Adds `by` occurrences of `p`; `cost` gives its (weight, width) when it is first
    /// needed. Only patterns found at least twice are queued: a pattern found once
    /// saves nothing, and every queued key is larger than any such pattern's.
    fn bump(&mut self, p: Pattern, by: i64, cost: impl FnOnce() -> (i64, u32)) {
        let entry = self.count.entry(p).or_insert((0, (0, 0)));
        entry.0 += by;
        debug_assert!(entry.0 >= 0);
        if by > 0 && entry.0 >= 2 {
            if entry.1 .0 == 0 {
                entry.1 = cost();
            }
            self.order.push(Self::key(entry.0, entry.1, p));
        }
    }
    /// The pattern with the largest current key among those found at least twice, and
    /// its count.
    fn best(&mut self) -> Option<(Pattern, i64)> {
        while let Some(&top) = self.order.peek() {
            let Reverse(p) = top.1;
            let (n, c) = self.count[&p];
            let current = Self::key(n, c, p);
            if top == current {
                return Some((p, n));
            }
            self.order.pop();
            // the count shrank since this entry was pushed: queue it at its current key
            // (a larger count always pushes its own entry, so the key only shrinks here)
            if n >= 2 && current < top {
                self.order.push(current);
            }
        }
        None
    }
}

/// How one constant matrix-vector product is built.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CmvmOptions {
    pub arithmetic: Arithmetic,
    /// Non-negative adder operands (see [`lower`]).
    pub nonneg: bool,
    /// The adders are bound to shared slots afterwards (`--reuse`): no cell but an
    /// adder may read an adder of this product (the slots are printed as one block).
    pub folded: bool,
    /// Pairing rule of the output trees.
    pub tree_order: TreeOrder,
    /// Choose the sign of each tree's sum by the cost of the adder of its constant
    /// (see [`combine_by_cost`]); off: the sum is positive where that is free.
    pub root_constant_cost: bool,
}

/// Lowers the product of `columns` with `inputs` into `dfg` cells of `layer`;
/// `arrival` holds the delay-model arrival of every dfg cell and is extended.
///
/// With `nonneg`, every adder adds two non-negative operands: a signed input is made non-negative by
/// inverting its sign bit (`x + 2^(w-1)`), a subtracted operand `-u` is replaced by its
/// ones' complement `~u = 2^w - 1 - u`, and the constants this introduces are added to
/// the output's constant (which the output adds once anyway, for its bias). Narrow
/// operands are then zero-extended, so the bits of an adder above its narrower operand
/// are an incrementer (half adders in an ASIC) instead of a full adder with a
/// sign-extension input. Without it (the default), operands are two's complement and
/// subtractions are subtractions, which FPGA carry chains absorb for free (yosys maps a
/// ones' complement operand that is itself an adder output to separate inverters); only
/// where a narrower signed operand would be sign-extended under bits of the other one
/// is its sign bit inverted (`v + 2^(w-1)`, zero-extended: those bits of the adder need
/// no logic) and `-2^(w-1)` moved into the output's constant (see [`combine_signed`]).
pub fn lower(
    dfg: &mut Dfg,
    layer: usize,
    inputs: &[CmvmInput],
    columns: &[CmvmColumn],
    options: CmvmOptions,
    model: &DelayModel,
    arrival: &mut Vec<Arrival>,
) -> (Vec<CmvmOutput>, CmvmStats) {
    let CmvmOptions {
        arithmetic, nonneg, ..
    } = options;
    let mut stats = CmvmStats::default();
    let first_cell = dfg.cells.len();
    let mut ctx = Ctx {
        dfg,
        layer,
        inputs,
        model,
        arrival,
        nonneg,
        folded: options.folded,
        first_cell,
        flipped: HashMap::new(),
    };
    let mut signals = Signals {
        sig: Vec::new(),
        form: Vec::new(),
        offset: Vec::new(),
    };
    let mut used = vec![false; inputs.len()];
    for col in columns {
        for &(i, w) in &col.terms {
            used[i] |= w != 0;
        }
    }
    for (i, x) in inputs.iter().enumerate() {
        let form = Form::input(i as u32);
        let (sig, offset) = if used[i] {
            ctx.unsigned(x.sig, x.interval)
        } else {
            (x.sig, 0)
        };
        signals.sig.push(sig);
        signals.form.push(form);
        signals.offset.push(offset);
    }
    let mut cols: Vec<BTreeMap<(u32, u32), bool>> = vec![BTreeMap::new(); columns.len()];
    for (j, col) in columns.iter().enumerate() {
        for &(i, w) in &col.terms {
            if w == 0 {
                continue;
            }
            let tz = w.trailing_zeros();
            let odd = w >> tz;
            if arithmetic == Arithmetic::Multipliers && odd.abs() != 1 {
                // keep the multiplication (by the odd part; the power of two is a shift)
                let interval = inputs[i].interval.scale(odd);
                let m = ctx.push(
                    CellOp::Mul {
                        x: inputs[i].sig,
                        factor: odd as i64,
                    },
                    interval,
                );
                let (sig, offset) = ctx.unsigned(m, interval);
                signals.sig.push(sig);
                signals
                    .form
                    .push(signals.form[i].combine(odd, &Form::default(), 0));
                signals.offset.push(offset);
                insert(&mut cols[j], (signals.sig.len() - 1) as u32, tz, false);
                stats.digits += 1;
                continue;
            }
            for (k, neg) in csd(w) {
                insert(&mut cols[j], i as u32, k, neg);
                stats.digits += 1;
            }
        }
    }
    if arithmetic == Arithmetic::SharedShiftAdd {
        let pairs: usize = cols
            .iter()
            .map(|c| c.len() * c.len().saturating_sub(1) / 2)
            .sum();
        if pairs <= CSE_PAIR_BUDGET {
            stats.shared_adders = share(&mut ctx, &mut signals, &mut cols);
        } else {
            stats.sharing_skipped = true;
        }
    }
    let mut outputs = Vec::with_capacity(columns.len());
    for (j, col) in cols.iter().enumerate() {
        let digits: Vec<Digit> = col
            .iter()
            .map(|(&(sig, k), &neg)| Digit { sig, k, neg })
            .collect();
        let (out, adders) = if nonneg {
            tree(&mut ctx, &signals, &digits, columns[j].constant)
        } else {
            tree_signed(&mut ctx, &signals, &digits, columns[j].constant, options)
        };
        stats.tree_adders += adders;
        outputs.push(out);
    }
    (outputs, stats)
}

struct Ctx<'a> {
    dfg: &'a mut Dfg,
    layer: usize,
    inputs: &'a [CmvmInput],
    model: &'a DelayModel,
    arrival: &'a mut Vec<Arrival>,
    /// Non-negative operands (see [`lower`]) instead of two's complement ones.
    nonneg: bool,
    /// See [`CmvmOptions::folded`].
    folded: bool,
    /// The first cell made by this product.
    first_cell: SigId,
    /// Sign-flipped versions of signals (`FlipSign` cells), made once each.
    flipped: HashMap<SigId, SigId>,
}

impl Ctx<'_> {
    fn push(&mut self, op: CellOp, interval: Interval) -> SigId {
        let id = self.dfg.push(Cell {
            op,
            interval,
            layer: self.layer,
            fold: None,
        });
        let a = self.model.cell_arrival(self.dfg, id, |s| self.arrival[s]);
        self.arrival.push(a);
        debug_assert_eq!(self.arrival.len(), self.dfg.cells.len());
        id
    }

    fn constant(&mut self, value: i128) -> SigId {
        self.push(CellOp::Const, Interval::point(value))
    }

    /// A non-negative version of `sig` (values in `iv`) and its offset: the signal
    /// itself, or its sign bit inverted (`v + 2^(w-1)`, offset `-2^(w-1)`).
    fn unsigned(&mut self, sig: SigId, iv: Interval) -> (SigId, i128) {
        if iv.lo >= 0 || !self.nonneg {
            return (sig, 0);
        }
        let width = bits_for_interval(iv);
        let half = 1i128 << (width - 1);
        let flipped = self.push(
            CellOp::FlipSign { x: sig, width },
            Interval::new(iv.lo + half, iv.hi + half),
        );
        (flipped, -half)
    }

    fn width(&self, sig: SigId) -> u32 {
        self.dfg.cell(sig).width()
    }

    /// Whether `sig` is signed and may be read through a `FlipSign` cell.
    fn can_flip(&self, sig: SigId) -> bool {
        let c = self.dfg.cell(sig);
        if c.interval.lo >= 0 || c.is_const() {
            return false;
        }
        // an adder bound to a slot (`--reuse`): the flip would sit between two slots
        !(self.folded && sig >= self.first_cell && matches!(c.op, CellOp::Add { .. }))
    }

    /// `sig + 2^(w-1)` (its sign bit inverted) when `sig` is signed and may be read
    /// through a `FlipSign` cell, with `2^(w-1)`.
    fn flip(&mut self, sig: SigId) -> Option<(SigId, i128)> {
        if !self.can_flip(sig) {
            return None;
        }
        let c = self.dfg.cell(sig);
        let iv = c.interval;
        let width = c.width();
        let half = 1i128 << (width - 1);
        if let Some(&f) = self.flipped.get(&sig) {
            return Some((f, half));
        }
        let f = self.push(
            CellOp::FlipSign { x: sig, width },
            Interval::new(iv.lo + half, iv.hi + half),
        );
        self.flipped.insert(sig, f);
        Some((f, half))
    }
}

/// Adds digit `±v_sig << k` to a column, merging equal digits (`x + x = x << 1`,
/// `x - x = 0`).
fn insert(col: &mut BTreeMap<(u32, u32), bool>, sig: u32, k: u32, neg: bool) {
    match col.remove(&(sig, k)) {
        None => {
            col.insert((sig, k), neg);
        }
        Some(other) if other == neg => insert(col, sig, k + 1, neg),
        Some(_) => {}
    }
}

/// The hardware of the shared term of pattern `p`: its two operands, the offset of its
/// true value and the form of its hardware value.
fn pattern_hardware(ctx: &Ctx, signals: &Signals, p: Pattern) -> (Term, Term, i128, Form) {
    let (a, b) = (p.a as usize, p.b as usize);
    if !ctx.nonneg {
        // two's complement: h_a ± h_b << d, each h the signal or its sign-flipped
        // version (`+ half`, see `tc_flips`); true = h_a + c_a ± (h_b + c_b) << d
        let (fa, fb) = tc_flips(ctx, signals, p);
        let sb = if p.opposite {
            -(1i128 << p.d)
        } else {
            1i128 << p.d
        };
        let hw = |s: u32, f: Option<i128>| {
            let mut form = signals.hw_form(s);
            form.constant += f.unwrap_or(0);
            (form, signals.offset[s as usize] - f.unwrap_or(0))
        };
        let (form_a, c_a) = hw(p.a, fa);
        let (form_b, c_b) = hw(p.b, fb);
        let form = form_a.combine(1, &form_b, sb);
        let tb = Term {
            neg: p.opposite,
            ..Term::plus(signals.sig[b], p.d)
        };
        return (Term::plus(signals.sig[a], 0), tb, c_a + c_b * sb, form);
    }
    let wb = ctx.width(signals.sig[b]);
    let ta = Term::plus(signals.sig[a], 0);
    let (tb, offset, hw_b) = if p.opposite {
        // u_a + (~u_b << d): true = u_t + c_a - (2^wb - 1) << d - c_b << d
        let ones = (1i128 << wb) - 1;
        let mut f = signals.hw_form(p.b).combine(-1, &Form::default(), 0);
        f.constant += ones;
        (
            Term {
                sig: signals.sig[b],
                shift: p.d,
                neg: false,
                complement: Some(wb),
            },
            signals.offset[a] - (ones << p.d) - (signals.offset[b] << p.d),
            f,
        )
    } else {
        (
            Term::plus(signals.sig[b], p.d),
            signals.offset[a] + (signals.offset[b] << p.d),
            signals.hw_form(p.b),
        )
    };
    let form = signals.hw_form(p.a).combine(1, &hw_b, 1i128 << p.d);
    (ta, tb, offset, form)
}

/// Which operands of pattern `p`'s two's complement adder are read sign-flipped (the
/// flip's `half`), by the rule of [`combine_signed_plain`].
fn tc_flips(ctx: &Ctx, signals: &Signals, p: Pattern) -> (Option<i128>, Option<i128>) {
    let (sa, sb) = (signals.sig[p.a as usize], signals.sig[p.b as usize]);
    let (wa, wb) = (ctx.width(sa), ctx.width(sb));
    let half = |s: SigId| ctx.can_flip(s).then(|| 1i128 << (ctx.width(s) - 1));
    let d = p.d;
    if wa < d + wb {
        if d + wb - wa.max(d) > 1 + u32::from(wa <= d) {
            return (half(sa), None);
        }
    } else if !p.opposite && d + wb + 1 < wa {
        return (None, half(sb));
    }
    (None, None)
}

/// Greedy two-term common sub-expression elimination. Returns the adders made.
fn share(ctx: &mut Ctx, signals: &mut Signals, cols: &mut [BTreeMap<(u32, u32), bool>]) -> usize {
    // (weight, width) of a pattern's adder: the operands' overlapping bits (those of
    // the unshifted operand at or above the other's shift) + 1, and the sum's width
    let width_of = |ctx: &Ctx, signals: &Signals, p: Pattern| -> (i64, u32) {
        let (_, _, _, form) = pattern_hardware(ctx, signals, p);
        let wa = ctx.width(signals.sig[p.a as usize]);
        let wb = ctx.width(signals.sig[p.b as usize]);
        let overlap = wa.min(p.d + wb).saturating_sub(p.d);
        (
            i64::from(overlap) + 1,
            bits_for_interval(form.interval(ctx.inputs)),
        )
    };
    let mut counts = PairCounts::default();
    for col in cols.iter() {
        let digits: Vec<Digit> = col
            .iter()
            .map(|(&(sig, k), &neg)| Digit { sig, k, neg })
            .collect();
        for x in 0..digits.len() {
            for y in x + 1..digits.len() {
                let p = pattern_of(digits[x], digits[y]);
                counts.bump(p, 1, || width_of(ctx, signals, p));
            }
        }
    }
    let mut made = 0;
    while let Some((p, n)) = counts.best() {
        if n < 2 {
            break;
        }
        let (mut ta, mut tb, offset, hw_form) = pattern_hardware(ctx, signals, p);
        if !ctx.nonneg {
            let (fa, fb) = tc_flips(ctx, signals, p);
            if fa.is_some() {
                ta.sig = ctx.flip(ta.sig).expect("flippable").0;
            }
            if fb.is_some() {
                tb.sig = ctx.flip(tb.sig).expect("flippable").0;
            }
        }
        let interval = hw_form.interval(ctx.inputs);
        debug_assert!(!ctx.nonneg || interval.lo >= 0);
        let t = ctx.push(CellOp::Add { a: ta, b: tb }, interval);
        let sb = if p.opposite {
            -(1i128 << p.d)
        } else {
            1i128 << p.d
        };
        let form = signals.form[p.a as usize].combine(1, &signals.form[p.b as usize], sb);
        signals.sig.push(t);
        signals.form.push(form);
        signals.offset.push(offset);
        let t_local = (signals.sig.len() - 1) as u32;
        made += 1;
        let mut replaced = 0;
        for col in cols.iter_mut() {
            // occurrences: (a, k, n) with (b, k + d, n ^ opposite), lowest k first
            let starts: Vec<(u32, bool)> = col
                .range((p.a, 0)..=(p.a, u32::MAX))
                .map(|(&(_, k), &neg)| (k, neg))
                .collect();
            for (k, neg) in starts {
                let first = (p.a, k);
                let second = (p.b, k + p.d);
                if col.get(&first) != Some(&neg) || col.get(&second) != Some(&(neg ^ p.opposite)) {
                    continue; // used by an earlier (overlapping) occurrence
                }
                remove_digit(&mut counts, col, first);
                remove_digit(&mut counts, col, second);
                let d = Digit {
                    sig: t_local,
                    k,
                    neg,
                };
                for (&(s, kk), &nn) in col.iter() {
                    let q = pattern_of(
                        d,
                        Digit {
                            sig: s,
                            k: kk,
                            neg: nn,
                        },
                    );
                    counts.bump(q, 1, || width_of(ctx, signals, q));
                }
                let fresh = col.insert((t_local, k), neg);
                debug_assert!(fresh.is_none());
                replaced += 1;
            }
        }
        debug_assert!(replaced >= 1, "pattern {p:?} counted {n} but found nowhere");
    }
    made
}

fn remove_digit(counts: &mut PairCounts, col: &mut BTreeMap<(u32, u32), bool>, key: (u32, u32)) {
    let neg = col.remove(&key).expect("digit present");
    let d = Digit {
        sig: key.0,
        k: key.1,
        neg,
    };
    for (&(sig, k), &neg) in col.iter() {
        counts.bump(pattern_of(d, Digit { sig, k, neg }), -1, || (0, 0));
    }
}

/// A non-negative operand of an output tree: `term` (its shift is the operand's
/// weight `2^k`) and the linear form of the term's unshifted value.
#[derive(Debug, Clone)]
struct Operand {
    term: Term,
    form: Form,
}

/// Sums one column. Returns the output and the number of adders.
fn tree(ctx: &mut Ctx, signals: &Signals, digits: &[Digit], constant: i128) -> (CmvmOutput, usize) {
    // leaves: non-negative terms; `total` collects the constants that make them exact
    let mut total = constant;
    let mut operands: Vec<Operand> = Vec::with_capacity(digits.len());
    for d in digits {
        let s = d.sig as usize;
        let sig = signals.sig[s];
        if d.neg {
            let w = ctx.width(sig);
            let ones = (1i128 << w) - 1;
            total -= (ones + signals.offset[s]) << d.k;
            let mut form = signals.hw_form(d.sig).combine(-1, &Form::default(), 0);
            form.constant += ones;
            operands.push(Operand {
                term: Term {
                    sig,
                    shift: d.k,
                    neg: false,
                    complement: Some(w),
                },
                form,
            });
        } else {
            total += signals.offset[s] << d.k;
            operands.push(Operand {
                term: Term::plus(sig, d.k),
                form: signals.hw_form(d.sig),
            });
        }
    }
    let mut adders = 0;
    if operands.is_empty() {
        return (constant_output(ctx, total), 0);
    }
    let (mut sum, n) = earliest_first(
        ctx,
        operands,
        |o| o.term.sig,
        |ctx, x, y, _| {
            let (o, delta) = combine(ctx, x, y, false);
            total += delta;
            o
        },
    );
    adders += n;
    if total != 0 || sum.term.complement.is_some() {
        // the constant at the sum's weight or below, so the constant is the adder's
        // first operand and a complemented sum its second
        let k = if total == 0 {
            sum.term.shift
        } else {
            total.trailing_zeros().min(sum.term.shift)
        };
        let c = ctx.constant(total >> k);
        let c = Operand {
            term: Term::plus(c, k),
            form: Form::constant(total >> k),
        };
        let (o, delta) = combine(ctx, c, sum, true);
        debug_assert_eq!(delta, 0);
        sum = o;
        adders += 1;
    }
    debug_assert!(sum.term.complement.is_none() && !sum.term.neg);
    (
        CmvmOutput {
            sig: sum.term.sig,
            shift: sum.term.shift,
        },
        adders,
    )
}

/// The form of the signal under an operand (the operand's value before a complement).
fn signal_form(o: &Operand) -> Form {
    match o.term.complement {
        None => o.form.clone(),
        Some(w) => {
            let mut f = o.form.combine(-1, &Form::default(), 0);
            f.constant += (1i128 << w) - 1;
            f
        }
    }
}

/// One adder for `x + y` (operand values). The operand with the smaller weight is not
/// shifted, so its low bits pass through. A complemented operand costs inverters on the
/// bits the other operand does not cover; when that is cheaper the adder sums the
/// operands with the opposite complements and the result is used complemented. Returns the new operand and the constant `delta` (in units of
/// the column) with `x + y = new + delta`. With `plain_result` the new operand is
/// never complemented.
fn combine(ctx: &mut Ctx, x: Operand, y: Operand, plain_result: bool) -> (Operand, i128) {
    let (lo, hi) = if (x.term.shift, x.term.sig) <= (y.term.shift, y.term.sig) {
        (x, y)
    } else {
        (y, x)
    };
    let k = lo.term.shift;
    let d = hi.term.shift - k;
    let ones = |w: u32| (1i128 << w) - 1;
    let plain = |ctx: &mut Ctx, a: &Operand, b: &Operand, b_shift: u32| -> Operand {
        // a (plain, unshifted) + b (maybe complemented) << b_shift
        let form = a.form.combine(1, &b.form, 1i128 << b_shift);
        let sig = ctx.push(
            CellOp::Add {
                a: Term { shift: 0, ..a.term },
                b: Term {
                    shift: b_shift,
                    ..b.term
                },
            },
            form.interval(ctx.inputs),
        );
        Operand {
            term: Term::plus(sig, k),
            form,
        }
    };
    // A complemented operand costs an inverter on every bit the other operand does not
    // cover (bits it passes through, or above the other's top): choose between adding
    // the operands as they are and adding the opposite complements, used complemented.
    let (wl, wh) = (ctx.width(lo.term.sig), ctx.width(hi.term.sig));
    let lo_alone = d.min(wl) + wl.saturating_sub(d + wh);
    let hi_alone = (d + wh).saturating_sub(wl.max(d));
    let cost = |cl: bool, ch: bool| u32::from(cl) * lo_alone + u32::from(ch) * hi_alone;
    let (cl, ch) = (lo.term.complement.is_some(), hi.term.complement.is_some());
    if plain_result || cost(cl, ch) <= cost(!cl, !ch) {
        return (plain(ctx, &lo, &hi, d), 0);
    }
    // ~t with t = (lo with the opposite complement) + (hi with the opposite complement)
    let flip = |ctx: &Ctx, o: &Operand| -> (Operand, i128) {
        // returns the flipped operand and value(o) + value(flipped) (a constant)
        match o.term.complement {
            Some(w) => (
                Operand {
                    term: Term {
                        complement: None,
                        ..o.term
                    },
                    form: signal_form(o),
                },
                ones(w),
            ),
            None => {
                let w = ctx.width(o.term.sig);
                let mut form = o.form.combine(-1, &Form::default(), 0);
                form.constant += ones(w);
                (
                    Operand {
                        term: Term {
                            complement: Some(w),
                            ..o.term
                        },
                        form,
                    },
                    ones(w),
                )
            }
        }
    };
    let (l, cl_sum) = flip(ctx, &lo);
    let (h, ch_sum) = flip(ctx, &hi);
    let t = plain(ctx, &l, &h, d);
    let wt = ctx.width(t.term.sig);
    let mut form = t.form.combine(-1, &Form::default(), 0);
    form.constant += ones(wt);
    let z = Operand {
        term: Term {
            complement: Some(wt),
            ..t.term
        },
        form,
    };
    // value(lo) = cl_sum - value(l); value(hi) = ch_sum - value(h);
    // value(z) = ones(wt) - value(l) - value(h) << d
    let delta = cl_sum + (ch_sum << d) - ones(wt);
    (z, delta << k)
}

/// The order in which an output tree adds two operands (the smallest first): see
/// [`TreeOrder`].
type TreePairKey = (i64, i64, u32);

/// An operand of a two's complement output tree: `±v_sig << k`.
#[derive(Debug, Clone)]
struct SignedOperand {
    sig: SigId,
    k: u32,
    neg: bool,
    form: Form,
}

/// A column with no digits left: its constant, stored without its trailing zeros.
fn constant_output(ctx: &mut Ctx, total: i128) -> CmvmOutput {
    let tz = if total == 0 {
        0
    } else {
        total.trailing_zeros()
    };
    CmvmOutput {
        sig: ctx.constant(total >> tz),
        shift: tz,
    }
}

/// Sums `operands` two at a time, always the two ready first (Huffman's rule on the
/// delay model's arrival times; ties to the narrower signal, then to creation order, for
/// determinism): `add(ctx, x, y, final_pair)` makes one adder. Returns the sum and the
/// number of adders. `operands` must not be empty.
fn earliest_first<T>(
    ctx: &mut Ctx,
    operands: Vec<T>,
    sig: impl Fn(&T) -> SigId,
    mut add: impl FnMut(&mut Ctx, T, T, bool) -> T,
) -> (T, usize) {
    let key = |ctx: &Ctx, o: &T| {
        let s = sig(o);
        let a = ctx.arrival[s];
        ((a.msb * 1000.0).round() as i64, ctx.dfg.cell(s).width())
    };
    let mut heap: BinaryHeap<Reverse<((i64, u32), usize)>> = BinaryHeap::new();
    let mut pool: Vec<Option<T>> = Vec::new();
    for o in operands {
        heap.push(Reverse((key(ctx, &o), pool.len())));
        pool.push(Some(o));
    }
    let mut adders = 0;
    while heap.len() > 1 {
        let Reverse((_, i)) = heap.pop().unwrap();
        let Reverse((_, j)) = heap.pop().unwrap();
        let x = pool[i].take().unwrap();
        let y = pool[j].take().unwrap();
        let o = add(ctx, x, y, heap.is_empty());
        adders += 1;
        heap.push(Reverse((key(ctx, &o), pool.len())));
        pool.push(Some(o));
    }
    let Reverse((_, i)) = heap.pop().expect("at least one operand");
    (pool[i].take().unwrap(), adders)
}

/// Sums one column with two's complement operands (subtractions). Returns the output
/// and the number of adders.
fn tree_signed(
    ctx: &mut Ctx,
    signals: &Signals,
    digits: &[Digit],
    constant: i128,
    options: CmvmOptions,
) -> (CmvmOutput, usize) {
    let order = options.tree_order;
    // `total`: the constant the operands' hardware values leave out (the column's
    // constant, shared terms' offsets, sign flips made on the way)
    let mut total = constant;
    let operands: Vec<SignedOperand> = digits
        .iter()
        .map(|d| {
            let off = signals.offset[d.sig as usize] << d.k;
            total += if d.neg { -off } else { off };
            SignedOperand {
                sig: signals.sig[d.sig as usize],
                k: d.k,
                neg: d.neg,
                form: signals.hw_form(d.sig),
            }
        })
        .collect();
    let mut adders = 0;
    if operands.is_empty() {
        return (constant_output(ctx, total), 0);
    }
    // With `TreeOrder::Cost`, pairs cheapest first by [`adder_cost`] (as a plain sum or
    // difference, the unshifted operand's low bits passing through): operands whose
    // bits overlap least are added first; ties go to the earlier arrival, then to the
    // narrower sum. With `TreeOrder::Arrival`, the two operands ready first. Pairs with
    // a consumed operand are skipped when popped.
    let pair_key = |ctx: &Ctx, x: &SignedOperand, y: &SignedOperand| -> TreePairKey {
        let span = |o: &SignedOperand| {
            let s = if o.neg { -(1i128 << o.k) } else { 1i128 << o.k };
            ctx.dfg.cell(o.sig).interval.scale(s)
        };
        let (lo, hi) = if x.k <= y.k { (x, y) } else { (y, x) };
        let iv = span(lo).add(span(hi));
        let w = bits_for_interval(Interval::new(iv.lo >> lo.k, iv.hi >> lo.k));
        let shape = |o: &SignedOperand, shift: u32, neg: bool| {
            let c = ctx.dfg.cell(o.sig);
            Shape {
                width: c.width(),
                signed: c.signed(),
                shift,
                neg,
            }
        };
        let cost = adder_cost(
            &shape(lo, 0, false),
            &shape(hi, hi.k - lo.k, lo.neg != hi.neg),
            w,
        );
        let arrival = ctx.arrival[x.sig].msb.max(ctx.arrival[y.sig].msb);
        let arrival = (arrival * 1000.0).round() as i64;
        match order {
            TreeOrder::Cost => (i64::from(cost), arrival, w),
            // the two earliest operands: the pair's later arrival, then the earlier one
            TreeOrder::Arrival => {
                let first = ctx.arrival[x.sig].msb.min(ctx.arrival[y.sig].msb);
                (arrival, (first * 1000.0).round() as i64, w)
            }
        }
    };
    let mut sum = if operands.len() > COST_TREE_MAX_OPERANDS {
        // many operands: the two ready first, from a heap of operands (n log n)
        let (sum, n) = earliest_first(
            ctx,
            operands,
            |o| o.sig,
            |ctx, x, y, final_pair| {
                let last = final_pair && total == 0;
                let root = final_pair && options.root_constant_cost;
                combine_signed(ctx, x, y, last, root, Some(&mut total))
            },
        );
        adders += n;
        sum
    } else {
        let mut pool: Vec<Option<SignedOperand>> = operands.into_iter().map(Some).collect();
        let mut pairs: BinaryHeap<Reverse<(TreePairKey, usize, usize)>> = BinaryHeap::new();
        for i in 0..pool.len() {
            for j in i + 1..pool.len() {
                let key = pair_key(ctx, pool[i].as_ref().unwrap(), pool[j].as_ref().unwrap());
                pairs.push(Reverse((key, i, j)));
            }
        }
        let mut live = pool.len();
        while live > 1 {
            let Reverse((_, i, j)) = pairs.pop().expect("a pair of live operands");
            if pool[i].is_none() || pool[j].is_none() {
                continue;
            }
            let x = pool[i].take().unwrap();
            let y = pool[j].take().unwrap();
            live -= 2;
            let last = live == 0 && total == 0;
            let root = live == 0 && options.root_constant_cost;
            let o = combine_signed(ctx, x, y, last, root, Some(&mut total));
            adders += 1;
            let n = pool.len();
            for (i, other) in pool.iter().enumerate() {
                if let Some(other) = other {
                    pairs.push(Reverse((pair_key(ctx, other, &o), i, n)));
                }
            }
            pool.push(Some(o));
            live += 1;
        }
        pool.iter_mut().rev().find_map(Option::take).unwrap()
    };
    if total != 0 {
        let tz = total.trailing_zeros();
        let c = ctx.constant(total >> tz);
        let c = SignedOperand {
            sig: c,
            k: tz,
            neg: false,
            form: Form::constant(total >> tz),
        };
        sum = combine_signed(ctx, c, sum, true, false, None);
        adders += 1;
    }
    if sum.neg {
        // all operands were negative and there is no constant: 0 - sum
        let zero = ctx.constant(0);
        let z = SignedOperand {
            sig: zero,
            k: sum.k,
            neg: false,
            form: Form::default(),
        };
        sum = combine_signed(ctx, z, sum, true, false, None);
        adders += 1;
    }
    debug_assert!(!sum.neg);
    (
        CmvmOutput {
            sig: sum.sig,
            shift: sum.k,
        },
        adders,
    )
}

/// Replaces operand `o` by its sign-flipped signal (see [`Ctx::flip`]) and moves the
/// flip's constant into `total`. False when `o` cannot be flipped.
fn flip_operand(ctx: &mut Ctx, o: &mut SignedOperand, total: &mut i128) -> bool {
    let Some((f, half)) = ctx.flip(o.sig) else {
        return false;
    };
    // ±v << k = ±(v + half) << k ∓ half << k
    o.sig = f;
    o.form = o.form.combine(1, &Form::constant(half), 1);
    let c = half << o.k;
    *total += if o.neg { c } else { -c };
    true
}

/// One two's complement adder `x + y` with signs; the operand with the smaller shift is
/// not shifted. With `total` (the column's constant still to be added) and two signals,
/// see [`combine_by_cost`]; otherwise (a constant operand) [`combine_signed_plain`].
fn combine_signed(
    ctx: &mut Ctx,
    x: SignedOperand,
    y: SignedOperand,
    last: bool,
    root: bool,
    total: Option<&mut i128>,
) -> SignedOperand {
    let (lo, hi) = if (x.k, x.sig) <= (y.k, y.sig) {
        (x, y)
    } else {
        (y, x)
    };
    if let Some(total) = total {
        if !ctx.dfg.cell(lo.sig).is_const() && !ctx.dfg.cell(hi.sig).is_const() {
            return combine_by_cost(ctx, lo, hi, last, root, total);
        }
        return combine_signed_plain(ctx, lo, hi, last, Some(total));
    }
    combine_signed_plain(ctx, lo, hi, last, None)
}

/// The shape of an adder operand for [`adder_cost`]: its signal's width and
/// signedness and the term's shift and sign.
#[derive(Debug, Clone, Copy)]
struct Shape {
    width: u32,
    signed: bool,
    shift: u32,
    neg: bool,
}

/// The state of bit `i` of an adder operand as the carry chain sees it (a subtrahend
/// inverted): constant 0 or 1, a signal, or an inverted signal.
#[derive(Debug, Clone, Copy, PartialEq)]
enum BitState {
    Zero,
    One,
    Var,
    Inv,
}

fn bit_state(t: &Shape, i: u32) -> BitState {
    let raw = if i >= t.shift && (i - t.shift < t.width || t.signed) {
        BitState::Var
    } else {
        BitState::Zero
    };
    match (raw, t.neg) {
        (BitState::Zero, true) => BitState::One,
        (BitState::Var, true) => BitState::Inv,
        _ => raw,
    }
}

/// LUTs of a `w`-bit adder `a + b` of two signals on an FPGA carry chain as the Verilog
/// printer writes it (yosys `synth_xilinx`): one per bit with two varying inputs, or
/// with one varying input that reaches the chain inverted (an inverter); bits with one
/// plain varying input (or none) are free, and so are the low bits of an unshifted, not
/// negated operand below the other's shift (they pass through). Bits that repeat a
/// sign bit share the logic of the first.
fn adder_cost(a: &Shape, b: &Shape, w: u32) -> u32 {
    let pass = |p: &Shape, q: &Shape| p.shift == 0 && !p.neg && q.shift > 0;
    let pass_lo = if pass(a, b) {
        b.shift.min(w)
    } else if pass(b, a) {
        a.shift.min(w)
    } else {
        0
    };
    // the bit of the operand's signal at adder bit `i` (sign extension repeats the top)
    let src = |t: &Shape, i: u32, s: BitState| -> i64 {
        if matches!(s, BitState::Var | BitState::Inv) {
            i64::from((i - t.shift).min(t.width - 1))
        } else {
            -1
        }
    };
    let mut luts: Vec<(u8, i64, i64)> = Vec::with_capacity(w as usize);
    for i in pass_lo..w {
        use BitState::*;
        let (x, y) = (bit_state(a, i), bit_state(b, i));
        let kind = match (x, y) {
            (Var | Inv, Var | Inv) => 0,
            (One, Var) | (Zero, Inv) => 1,
            (Var, One) | (Inv, Zero) => 2,
            _ => continue,
        };
        luts.push((kind, src(a, i, x), src(b, i, y)));
    }
    luts.sort_unstable();
    luts.dedup();
    luts.len() as u32
}

/// LUTs of the adder `c ± (v << k)` that adds an output tree's constant `c` to its sum
/// `v` (`w` bits, signed or not) on an FPGA carry chain, by the rules of [`adder_cost`]:
/// a bit where `v` varies costs an inverter when it meets a one of `c` (added) or a
/// zero of `c` (subtracted, `~v + 1`); the bits below the lower of `k` and the
/// constant's lowest one are not part of the adder, and the bits of `v`'s sign
/// extension share one inverter. Zero when `c` is zero (there is no adder).
fn constant_add_cost(w: u32, signed: bool, k: u32, neg: bool, c: i128) -> u32 {
    if c == 0 {
        return 0;
    }
    let base = k.min(c.trailing_zeros());
    let mut sign_ext = false;
    let mut cost = 0;
    // bits of v at positions k.. of the sum; above them v's sign extension, whose
    // width the sum's (at most one carry more) bounds
    for i in base..k + w + 1 {
        let ci = (c >> i.min(126)) & 1 == 1;
        let varies = i >= k && (i - k < w || signed);
        if !varies {
            continue;
        }
        if ci != neg {
            if i - k >= w {
                sign_ext = true;
            } else {
                cost += 1;
            }
        }
    }
    cost + u32::from(sign_ext)
}

/// One two's complement adder of an output tree, the cheapest by [`adder_cost`] among
/// the ways to write `x + y`: for a difference, which operand is the minuend (the
/// result negated when it is the shifted one, unless `last`), and each signed operand
/// read sign-flipped or not (see [`Ctx::flip`]); ties go to fewer changes. The
/// constants this moves go to `total`. At the `root` of a tree the cost includes the
/// adder of the constant left after it ([`constant_add_cost`]): `total - v` and
/// `total + v` cost LUTs at different bits, so the sign of the result is chosen with it.
fn combine_by_cost(
    ctx: &mut Ctx,
    mut lo: SignedOperand,
    mut hi: SignedOperand,
    last: bool,
    root: bool,
    total: &mut i128,
) -> SignedOperand {
    let d = hi.k - lo.k;
    let sl: i128 = if lo.neg { -1 } else { 1 };
    let sh: i128 = if hi.neg { -1 } else { 1 };
    let opposite = lo.neg != hi.neg;
    let half = |s: SigId| 1i128 << (ctx.width(s) - 1);
    let flips = |s: SigId| -> &'static [bool] {
        if ctx.can_flip(s) {
            &[false, true]
        } else {
            &[false]
        }
    };
    // (cost, changes), flip lo, flip hi, minuend hi
    let mut best: Option<((u32, u32), bool, bool, bool)> = None;
    for &flip_lo in flips(lo.sig) {
        for &flip_hi in flips(hi.sig) {
            let flipped = |o: &SignedOperand, f: bool| {
                if f {
                    o.form.combine(1, &Form::constant(half(o.sig)), 1)
                } else {
                    o.form.clone()
                }
            };
            let (form_l, form_h) = (flipped(&lo, flip_lo), flipped(&hi, flip_hi));
            let shape = |s: SigId, f: bool| {
                let c = ctx.dfg.cell(s);
                Shape {
                    width: c.width(),
                    signed: c.signed() && !f,
                    shift: 0,
                    neg: false,
                }
            };
            let (shl, shh) = (shape(lo.sig, flip_lo), shape(hi.sig, flip_hi));
            for minuend_hi in [false, true] {
                if minuend_hi && !opposite {
                    continue;
                }
                // a: the minuend (or first addend), b: the subtrahend (or second addend)
                let (mut a, mut b, fa, fb, sa) = if minuend_hi {
                    (shh, shl, &form_h, &form_l, sh)
                } else {
                    (shl, shh, &form_l, &form_h, sl)
                };
                if minuend_hi {
                    a.shift = d;
                } else {
                    b.shift = d;
                }
                b.neg = opposite;
                // a negated result must be made positive at the end by an adder
                if last && sa < 0 && !(lo.neg && hi.neg) {
                    continue;
                }
                let sb: i128 = if b.neg { -1 } else { 1 };
                let r = fa.combine(1i128 << a.shift, fb, sb << b.shift);
                let w = bits_for_interval(r.interval(ctx.inputs));
                let mut cost = adder_cost(&a, &b, w);
                // a flipped sign bit that meets no varying bit of the other operand is
                // an inverter of its own
                for (f, me_is_a) in [(flip_lo, !minuend_hi), (flip_hi, minuend_hi)] {
                    if f {
                        let (me, other) = if me_is_a { (&a, &b) } else { (&b, &a) };
                        let pos = me.shift + me.width - 1;
                        if !matches!(bit_state(other, pos), BitState::Var | BitState::Inv) {
                            cost += 1;
                        }
                    }
                }
                if root {
                    let mut left = *total;
                    for (f, o) in [(flip_lo, &lo), (flip_hi, &hi)] {
                        if f {
                            let c = half(o.sig) << o.k;
                            left += if o.neg { c } else { -c };
                        }
                    }
                    let signed = r.interval(ctx.inputs).lo < 0;
                    cost += constant_add_cost(w, signed, lo.k, sa < 0, left);
                }
                let changes = u32::from(flip_lo) + u32::from(flip_hi) + u32::from(minuend_hi);
                let key = (cost, changes);
                if best.is_none_or(|c| key < c.0) {
                    best = Some((key, flip_lo, flip_hi, minuend_hi));
                }
            }
        }
    }
    let Some((_, flip_lo, flip_hi, minuend_hi)) = best else {
        return combine_signed_plain(ctx, lo, hi, last, Some(total));
    };
    if flip_lo {
        flip_operand(ctx, &mut lo, total);
    }
    if flip_hi {
        flip_operand(ctx, &mut hi, total);
    }
    let (a, b, sa, a_shift, b_shift) = if minuend_hi {
        (&hi, &lo, sh, d, 0)
    } else {
        (&lo, &hi, sl, 0, d)
    };
    let ta = Term::plus(a.sig, a_shift);
    let tb = Term {
        neg: opposite,
        ..Term::plus(b.sig, b_shift)
    };
    let sb: i128 = if opposite { -1 } else { 1 };
    let form = a.form.combine(1i128 << a_shift, &b.form, sb << b_shift);
    // the adder computes `form`; the operands' value is sa * form (the result negated
    // when the minuend's sign is negative), with no constant left over
    debug_assert_eq!(
        form.combine(sa, &Form::default(), 0),
        lo.form.combine(sl, &hi.form, sh << d)
    );
    let interval = form.interval(ctx.inputs);
    let sig = ctx.push(CellOp::Add { a: ta, b: tb }, interval);
    SignedOperand {
        sig,
        k: lo.k,
        neg: sa < 0,
        form,
    }
}

/// [`combine_signed`] by fixed rules: a subtraction keeps the shifted operand as the
/// subtrahend when it can (its low bits then pass through) by negating the result,
/// unless `last` (a final negation would cost an adder).
///
/// With `total`, a narrower signed operand whose sign extension would run under bits
/// of the other operand is read sign-flipped instead: zero-extended, those bits of the
/// adder have one varying input, which an FPGA carry chain takes without a LUT (a
/// sign-extension bit costs one).
fn combine_signed_plain(
    ctx: &mut Ctx,
    mut lo: SignedOperand,
    mut hi: SignedOperand,
    last: bool,
    total: Option<&mut i128>,
) -> SignedOperand {
    let d = hi.k - lo.k;
    // (lo positive, hi negated, result negated)
    let (pos_lo, neg_hi, result_neg) = match (lo.neg, hi.neg) {
        (false, false) => (true, false, false),
        (true, true) => (true, false, true),
        (false, true) => (true, true, false),
        (true, false) if !last => (true, true, true),
        (true, false) => (false, false, false),
    };
    let (a_neg, b_neg) = if pos_lo {
        (false, neg_hi)
    } else {
        (true, false)
    };
    if let Some(total) = total {
        // only an added operand is flipped: a zero-extended subtrahend costs an
        // inverter per bit on the carry chain, as much as its sign extension
        let (wl, wh) = (ctx.width(lo.sig), ctx.width(hi.sig));
        if wl < d + wh {
            // lo's sign would be extended under hi's bits [max(wl, d), d + wh); its
            // flipped sign bit costs an inverter when it passes through (wl <= d)
            let saved = d + wh - wl.max(d);
            if !a_neg && saved > 1 + u32::from(wl <= d) {
                flip_operand(ctx, &mut lo, total);
            }
        } else if !b_neg && d + wh + 1 < wl {
            flip_operand(ctx, &mut hi, total);
        }
    }
    let sa: i128 = if a_neg { -1 } else { 1 };
    let sb: i128 = if b_neg { -(1i128 << d) } else { 1i128 << d };
    let form = lo.form.combine(sa, &hi.form, sb);
    let interval = form.interval(ctx.inputs);
    let op = if a_neg {
        // hi << d - lo: the positive term first
        CellOp::Add {
            a: Term::plus(hi.sig, d),
            b: Term {
                neg: true,
                ..Term::plus(lo.sig, 0)
            },
        }
    } else {
        CellOp::Add {
            a: Term::plus(lo.sig, 0),
            b: Term {
                neg: b_neg,
                ..Term::plus(hi.sig, d)
            },
        }
    };
    let sig = ctx.push(op, interval);
    SignedOperand {
        sig,
        k: lo.k,
        neg: result_neg,
        form,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    fn problem(seed: u64, n_in: usize, n_out: usize) -> (Dfg, Vec<CmvmInput>, Vec<CmvmColumn>) {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let mut dfg = Dfg::default();
        let mut inputs = Vec::new();
        for lane in 0..n_in {
            let lo = if lane % 3 == 0 { 0 } else { -100 };
            let interval = Interval::new(lo, 200);
            let sig = dfg.push(Cell {
                op: CellOp::Input { lane },
                interval,
                layer: 0,
                fold: None,
            });
            inputs.push(CmvmInput { sig, interval });
        }
        dfg.input_lanes = n_in;
        let columns = (0..n_out)
            .map(|j| CmvmColumn {
                terms: (0..n_in)
                    .filter_map(|i| {
                        let w = rng.random_range(-40i128..=40) << (j % 3);
                        (rng.random_ratio(4, 5) && w != 0).then_some((i, w))
                    })
                    .collect(),
                constant: if j % 2 == 0 {
                    rng.random_range(-999..999)
                } else {
                    0
                },
            })
            .collect();
        (dfg, inputs, columns)
    }

    fn check(arithmetic: Arithmetic, nonneg: bool, seed: u64) -> CmvmStats {
        check_sized(arithmetic, nonneg, seed, 12, 6, 300)
    }

    fn check_sized(
        arithmetic: Arithmetic,
        nonneg: bool,
        seed: u64,
        n_in: usize,
        n_out: usize,
        vectors: usize,
    ) -> CmvmStats {
        let (mut dfg, inputs, columns) = problem(seed, n_in, n_out);
        let model = DelayModel::sky130_hd();
        let mut arrival = model.arrivals(&dfg);
        let (outs, stats) = lower(
            &mut dfg,
            0,
            &inputs,
            &columns,
            CmvmOptions {
                arithmetic,
                nonneg,
                folded: false,
                tree_order: TreeOrder::Cost,
                root_constant_cost: true,
            },
            &model,
            &mut arrival,
        );
        if nonneg {
            // every adder operand is non-negative
            for c in &dfg.cells {
                if let CellOp::Add { a, b } = c.op {
                    for t in [a, b] {
                        assert!(!t.neg);
                        let o = dfg.cell(t.sig);
                        assert!(o.is_const() || o.interval.lo >= 0, "{:?}", c.op);
                    }
                }
            }
        }
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed + 100);
        for _ in 0..vectors {
            let x: Vec<i64> = inputs
                .iter()
                .map(|i| rng.random_range(i.interval.lo..=i.interval.hi) as i64)
                .collect();
            let v = dfg.eval_all(&x); // checks every cell against its interval
            for (j, col) in columns.iter().enumerate() {
                let want: i128 = col
                    .terms
                    .iter()
                    .map(|&(i, w)| w * x[i] as i128)
                    .sum::<i128>()
                    + col.constant;
                assert_eq!(
                    v[outs[j].sig] << outs[j].shift,
                    want,
                    "{arithmetic:?} nonneg={nonneg} column {j}"
                );
            }
        }
        stats
    }

    #[test]
    fn narrow_signed_operands_are_sign_flipped_not_extended() {
        // two's complement trees over signed inputs read narrow signed operands with
        // the sign bit inverted (offset moved into the constant) and stay exact
        for seed in 0..3 {
            let (mut dfg, inputs, columns) = problem(seed, 12, 6);
            let model = DelayModel::sky130_hd();
            let mut arrival = model.arrivals(&dfg);
            let options = CmvmOptions {
                arithmetic: Arithmetic::ShiftAdd,
                nonneg: false,
                folded: false,
                tree_order: TreeOrder::Cost,
                root_constant_cost: true,
            };
            let (outs, _) = lower(
                &mut dfg,
                0,
                &inputs,
                &columns,
                options,
                &model,
                &mut arrival,
            );
            let flips = dfg
                .cells
                .iter()
                .filter(|c| matches!(c.op, CellOp::FlipSign { .. }))
                .count();
            assert!(flips > 0, "seed {seed}: no operand was flipped");
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
            for _ in 0..200 {
                let x: Vec<i64> = inputs
                    .iter()
                    .map(|i| rng.random_range(i.interval.lo as i64..=i.interval.hi as i64))
                    .collect();
                let v = dfg.eval_all(&x);
                for (j, col) in columns.iter().enumerate() {
                    let want: i128 = col
                        .terms
                        .iter()
                        .map(|&(i, w)| w * x[i] as i128)
                        .sum::<i128>()
                        + col.constant;
                    assert_eq!(v[outs[j].sig] << outs[j].shift, want);
                }
            }
        }
    }

    #[test]
    fn every_arithmetic_is_exact() {
        for seed in 0..5 {
            for nonneg in [false, true] {
                check(Arithmetic::Multipliers, nonneg, seed);
                let plain = check(Arithmetic::ShiftAdd, nonneg, seed);
                let shared = check(Arithmetic::SharedShiftAdd, nonneg, seed);
                assert_eq!(plain.shared_adders, 0);
                assert!(
                    shared.shared_adders + shared.tree_adders < plain.tree_adders,
                    "sharing saves adders: {shared:?} vs {plain:?}"
                );
            }
        }
    }

    #[test]
    fn shared_terms_are_reused() {
        // two columns 5x0 + 3x1 and 10x0 + 6x1 (the second is the first << 1)
        let mut dfg = Dfg::default();
        let inputs: Vec<CmvmInput> = (0..2)
            .map(|lane| {
                let interval = Interval::new(0, 15);
                CmvmInput {
                    sig: dfg.push(Cell {
                        op: CellOp::Input { lane },
                        interval,
                        layer: 0,
                        fold: None,
                    }),
                    interval,
                }
            })
            .collect();
        let columns = vec![
            CmvmColumn {
                terms: vec![(0, 5), (1, 3)],
                constant: 0,
            },
            CmvmColumn {
                terms: vec![(0, 10), (1, 6)],
                constant: 0,
            },
        ];
        let model = DelayModel::sky130_hd();
        let mut arrival = model.arrivals(&dfg);
        let (outs, stats) = lower(
            &mut dfg,
            0,
            &inputs,
            &columns,
            CmvmOptions {
                arithmetic: Arithmetic::SharedShiftAdd,
                nonneg: true,
                folded: false,
                tree_order: TreeOrder::Cost,
                root_constant_cost: true,
            },
            &model,
            &mut arrival,
        );
        // 5x0 + 3x1 = x0 + 4x0 - x1 + 4x1: three shared adders make the sum for both
        // columns; each column then adds the constant that makes `-x1` non-negative
        // (`~x1 - 15`)
        assert_eq!(stats.shared_adders, 3, "{stats:?}");
        assert_eq!(stats.tree_adders, 2, "{stats:?}");
        let v = dfg.eval_all(&[3, 7]);
        assert_eq!(v[outs[0].sig] << outs[0].shift, 5 * 3 + 3 * 7);
        assert_eq!(v[outs[1].sig] << outs[1].shift, 10 * 3 + 6 * 7);
    }

    /// Hand-counted inverters of `c ± (v << k)` on a carry chain.
    #[test]
    fn constant_add_cost_counts_the_inverters() {
        // no constant: no adder
        assert_eq!(constant_add_cost(8, false, 0, false, 0), 0);
        // v (8 bits, unsigned) + 0b1011: ~v at bits 0, 1 and 3
        assert_eq!(constant_add_cost(8, false, 0, false, 0b1011), 3);
        // 0b1011 - v = 0b1011 + ~v + 1: ~v where the constant has a zero among v's
        // bits 0..7: bits 2, 4, 5, 6, 7
        assert_eq!(constant_add_cost(8, false, 0, true, 0b1011), 5);
        // v (4 bits, signed) << 2, plus 0b110000: v's bits sit at 2..5 and meet the
        // constant's ones at 4 and 5; above them the sign meets a zero at bit 6
        assert_eq!(constant_add_cost(4, true, 2, false, 0b110000), 2);
        // v (4 bits, signed) + 0b110000: the ones are above v's bits, under its sign
        // extension: one inverter of the sign bit, shared
        assert_eq!(constant_add_cost(4, true, 0, false, 0b110000), 1);
        // the same with v unsigned: those bits are constants plus the carry, free
        assert_eq!(constant_add_cost(4, false, 0, false, 0b110000), 0);
        // a constant below v's shift only meets the zeros under v: free
        assert_eq!(constant_add_cost(6, false, 3, false, 0b101), 0);
    }

    /// Past the effort caps the product is still exact: a layer with more digit pairs
    /// than the budget is built without sharing, its columns (over the operand cap)
    /// pair by arrival; below the budget, sharing runs.
    #[test]
    fn effort_caps_keep_products_exact() {
        // 700 inputs, 4 columns of about 900 digits: about 1.6M pairs
        let big = check_sized(Arithmetic::SharedShiftAdd, false, 7, 700, 4, 20);
        assert!(big.sharing_skipped, "{big:?}");
        assert_eq!(big.shared_adders, 0);
        assert!(big.digits > 3000, "{big:?}");
        // 150 inputs, 4 columns: about 80k pairs, shared; trees over 96 operands
        let mid = check_sized(Arithmetic::SharedShiftAdd, false, 8, 150, 4, 50);
        assert!(!mid.sharing_skipped && mid.shared_adders > 0, "{mid:?}");
    }
}
