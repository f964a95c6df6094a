//! Constant matrix-vector multiplication without multipliers.
//!
//! A layer `y_j = sum_i w_ij x_i + c_j` is lowered in three steps:
//!
//! 1. **CSD recoding**: every weight becomes its canonical signed digits, so each
//!    column `j` is a list of shifted, signed inputs ("digits" `±x_i << k`).
//! 2. **Common sub-expressions across all columns** (two-term CSE in the style of
//!    Hartley's method and of the CMVM literature: RAG-n and Hcub for single and
//!    multiple constants, da4ml for matrices): the pair of digits
//!    `(x_a << k, ±x_b << (k + d))` that occurs most often over all columns, at any
//!    common shift `k`, becomes one new signal `t = x_a ± (x_b << d)` computed by one
//!    adder, and every occurrence is replaced by `t << k`. New signals take part in
//!    later pairs, so sums of three, four, ... digits are shared as well. Pair counts
//!    are kept incrementally; ties go to the pattern whose adder is narrower.
//! 3. **Adder trees balanced by arrival time**: each column's remaining digits and its
//!    constant are summed by repeatedly adding the two operands that are ready first
//!    (Huffman's rule on the delay model's arrival times), so late signals (deep
//!    shared terms) enter near the root.
//!
//! Every adder is sized from the exact interval of the linear form it computes over
//! the layer's inputs (each input lane in its own interval), which is tighter than
//! adding the operands' intervals when a shared term and another operand contain the
//! same input with opposite signs.

use super::csd::csd;
use super::dfg::{Cell, CellOp, Dfg, SigId, Term};
use super::timing::{Arrival, DelayModel};
use aecc_ir::Interval;
use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap, HashMap};

/// How constant multiplications are built.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Arithmetic {
    /// `x * constant` operators (what synthesis makes of them is up to the tool).
    Multipliers,
    /// CSD shift-and-add, each output on its own (no sharing).
    ShiftAdd,
    /// CSD shift-and-add with sub-expressions shared across the whole layer.
    SharedShiftAdd,
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
}

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

/// The layer-local signals: inputs first, then shared terms.
struct Signals {
    sig: Vec<SigId>,
    form: Vec<Form>,
}

/// Pair counts with a priority order: most occurrences first, then the narrowest adder.
#[derive(Default)]
struct PairCounts {
    count: HashMap<Pattern, (i64, u32)>,
    order: BTreeSet<(i64, Reverse<u32>, Reverse<Pattern>)>,
}

impl PairCounts {
    fn bump(&mut self, p: Pattern, by: i64, cost: impl FnOnce() -> u32) {
        let entry = self.count.entry(p).or_insert_with(|| (0, cost()));
        if entry.0 > 0 {
            self.order.remove(&(entry.0, Reverse(entry.1), Reverse(p)));
        }
        entry.0 += by;
        debug_assert!(entry.0 >= 0);
        if entry.0 > 0 {
            self.order.insert((entry.0, Reverse(entry.1), Reverse(p)));
        }
    }
    fn best(&self) -> Option<(Pattern, i64)> {
        self.order.last().map(|&(c, _, Reverse(p))| (p, c))
    }
}

/// Lowers the product of `columns` with `inputs` into `dfg` cells of `layer`;
/// `arrival` holds the delay-model arrival of every dfg cell and is extended.
pub fn lower(
    dfg: &mut Dfg,
    layer: usize,
    inputs: &[CmvmInput],
    columns: &[CmvmColumn],
    arithmetic: Arithmetic,
    model: &DelayModel,
    arrival: &mut Vec<Arrival>,
) -> (Vec<CmvmOutput>, CmvmStats) {
    let mut stats = CmvmStats::default();
    let mut signals = Signals {
        sig: inputs.iter().map(|x| x.sig).collect(),
        form: (0..inputs.len() as u32).map(Form::input).collect(),
    };
    let mut cols: Vec<BTreeMap<(u32, u32), bool>> = vec![BTreeMap::new(); columns.len()];
    let mut ctx = Ctx {
        dfg,
        layer,
        inputs,
        model,
        arrival,
    };
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
                signals.sig.push(m);
                let f = signals.form[i].combine(odd, &Form::default(), 0);
                signals.form.push(f);
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
        stats.shared_adders = share(&mut ctx, &mut signals, &mut cols);
    }
    let mut outputs = Vec::with_capacity(columns.len());
    for (j, col) in cols.iter().enumerate() {
        let digits: Vec<Digit> = col
            .iter()
            .map(|(&(sig, k), &neg)| Digit { sig, k, neg })
            .collect();
        let (out, adders) = tree(&mut ctx, &signals, &digits, columns[j].constant);
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
}

impl Ctx<'_> {
    fn push(&mut self, op: CellOp, interval: Interval) -> SigId {
        let id = self.dfg.push(Cell {
            op,
            interval,
            layer: self.layer,
        });
        let a = self.model.cell_arrival(self.dfg, id, |s| self.arrival[s]);
        self.arrival.push(a);
        debug_assert_eq!(self.arrival.len(), self.dfg.cells.len());
        id
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

/// Greedy two-term common sub-expression elimination. Returns the adders made.
fn share(ctx: &mut Ctx, signals: &mut Signals, cols: &mut [BTreeMap<(u32, u32), bool>]) -> usize {
    let width_of = |signals: &Signals, inputs: &[CmvmInput], p: Pattern| -> u32 {
        let sb = if p.opposite {
            -(1i128 << p.d)
        } else {
            1i128 << p.d
        };
        let f = signals.form[p.a as usize].combine(1, &signals.form[p.b as usize], sb);
        aecc_ir::fixed::bits_for_interval(f.interval(inputs))
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
                counts.bump(p, 1, || width_of(signals, ctx.inputs, p));
            }
        }
    }
    let mut made = 0;
    while let Some((p, n)) = counts.best() {
        if n < 2 {
            break;
        }
        // the new signal t = v_a + (±v_b << d)
        let sb = if p.opposite {
            -(1i128 << p.d)
        } else {
            1i128 << p.d
        };
        let form = signals.form[p.a as usize].combine(1, &signals.form[p.b as usize], sb);
        let interval = form.interval(ctx.inputs);
        let t = ctx.push(
            CellOp::Add {
                a: Term::plus(signals.sig[p.a as usize], 0),
                b: Term {
                    sig: signals.sig[p.b as usize],
                    shift: p.d,
                    neg: p.opposite,
                },
            },
            interval,
        );
        signals.sig.push(t);
        signals.form.push(form);
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
                add_digit(
                    &mut counts,
                    col,
                    signals,
                    ctx.inputs,
                    t_local,
                    k,
                    neg,
                    &width_of,
                );
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
        counts.bump(pattern_of(d, Digit { sig, k, neg }), -1, || 0);
    }
}

#[allow(clippy::too_many_arguments)]
fn add_digit(
    counts: &mut PairCounts,
    col: &mut BTreeMap<(u32, u32), bool>,
    signals: &Signals,
    inputs: &[CmvmInput],
    sig: u32,
    k: u32,
    neg: bool,
    width_of: &impl Fn(&Signals, &[CmvmInput], Pattern) -> u32,
) {
    let d = Digit { sig, k, neg };
    for (&(s, kk), &n) in col.iter() {
        let p = pattern_of(
            d,
            Digit {
                sig: s,
                k: kk,
                neg: n,
            },
        );
        counts.bump(p, 1, || width_of(signals, inputs, p));
    }
    let fresh = col.insert((sig, k), neg);
    debug_assert!(fresh.is_none());
}

/// An operand of an output tree.
#[derive(Debug, Clone)]
struct Operand {
    sig: SigId,
    k: u32,
    neg: bool,
    form: Form,
}

/// Sums one column. Returns the output and the number of adders.
fn tree(ctx: &mut Ctx, signals: &Signals, digits: &[Digit], constant: i128) -> (CmvmOutput, usize) {
    let mut operands: Vec<Operand> = digits
        .iter()
        .map(|d| Operand {
            sig: signals.sig[d.sig as usize],
            k: d.k,
            neg: d.neg,
            form: signals.form[d.sig as usize].clone(),
        })
        .collect();
    let mut adders = 0;
    if operands.is_empty() {
        let tz = if constant == 0 {
            0
        } else {
            constant.trailing_zeros()
        };
        let c = ctx.dfg.constant(constant >> tz, ctx.layer);
        ctx.arrival.push(Arrival::default());
        return (CmvmOutput { sig: c, shift: tz }, 0);
    }
    // earliest first (picoseconds, then width, then creation order for determinism)
    let key = |ctx: &Ctx, o: &Operand| {
        let a = ctx.arrival[o.sig];
        ((a.msb * 1000.0).round() as i64, ctx.dfg.cell(o.sig).width())
    };
    let mut heap: BinaryHeap<Reverse<((i64, u32), usize)>> = BinaryHeap::new();
    let mut pool: Vec<Option<Operand>> = Vec::new();
    for o in operands.drain(..) {
        heap.push(Reverse((key(ctx, &o), pool.len())));
        pool.push(Some(o));
    }
    while heap.len() > 1 {
        let Reverse((_, i)) = heap.pop().unwrap();
        let Reverse((_, j)) = heap.pop().unwrap();
        let x = pool[i].take().unwrap();
        let y = pool[j].take().unwrap();
        let last = heap.is_empty() && constant == 0;
        let o = combine(ctx, x, y, last);
        adders += 1;
        heap.push(Reverse((key(ctx, &o), pool.len())));
        pool.push(Some(o));
    }
    let Reverse((_, i)) = heap.pop().unwrap();
    let mut sum = pool[i].take().unwrap();
    if constant != 0 {
        let tz = constant.trailing_zeros();
        let c = ctx.dfg.constant(constant >> tz, ctx.layer);
        ctx.arrival.push(Arrival::default());
        let c = Operand {
            sig: c,
            k: tz,
            neg: false,
            form: Form::constant(constant >> tz),
        };
        sum = combine(ctx, c, sum, true);
        adders += 1;
    }
    if sum.neg {
        // all operands were negative and there is no constant: 0 - sum
        let zero = ctx.dfg.constant(0, ctx.layer);
        ctx.arrival.push(Arrival::default());
        let z = Operand {
            sig: zero,
            k: sum.k,
            neg: false,
            form: Form::default(),
        };
        sum = combine(ctx, z, sum, true);
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

/// One adder: `x + y` with signs. The operand with the smaller shift is not shifted; a
/// subtraction keeps the shifted operand as the subtrahend when it can (its low bits
/// then pass through) by negating the result, unless `last` (a final negation would
/// cost an adder).
fn combine(ctx: &mut Ctx, x: Operand, y: Operand, last: bool) -> Operand {
    let (lo, hi) = if (x.k, x.sig) <= (y.k, y.sig) {
        (x, y)
    } else {
        (y, x)
    };
    let d = hi.k - lo.k;
    // (first, second, result negated): value = first + second (signed terms)
    let (pos_lo, neg_hi, result_neg) = match (lo.neg, hi.neg) {
        (false, false) => (true, false, false),
        (true, true) => (true, false, true),
        (false, true) => (true, true, false),
        (true, false) if !last => (true, true, true),
        (true, false) => (false, false, false),
    };
    // term signs relative to the stored (magnitude) signals
    let (a_neg, b_neg) = if pos_lo {
        (false, neg_hi)
    } else {
        (true, false)
    };
    let sa: i128 = if a_neg { -1 } else { 1 };
    let sb: i128 = if b_neg { -(1i128 << d) } else { 1i128 << d };
    let form = lo.form.combine(sa, &hi.form, sb);
    let interval = form.interval(ctx.inputs);
    let op = if a_neg {
        // hi << d - lo: write the positive term first
        CellOp::Add {
            a: Term::plus(hi.sig, d),
            b: Term {
                sig: lo.sig,
                shift: 0,
                neg: true,
            },
        }
    } else {
        CellOp::Add {
            a: Term::plus(lo.sig, 0),
            b: Term {
                sig: hi.sig,
                shift: d,
                neg: b_neg,
            },
        }
    };
    let sig = ctx.push(op, interval);
    Operand {
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

    fn check(arithmetic: Arithmetic, seed: u64) -> CmvmStats {
        let (mut dfg, inputs, columns) = problem(seed, 12, 6);
        let model = DelayModel::sky130_hd();
        let mut arrival = model.arrivals(&dfg);
        let (outs, stats) = lower(
            &mut dfg,
            0,
            &inputs,
            &columns,
            arithmetic,
            &model,
            &mut arrival,
        );
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed + 100);
        for _ in 0..300 {
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
                    "{arithmetic:?} column {j}"
                );
            }
        }
        stats
    }

    #[test]
    fn every_arithmetic_is_exact() {
        for seed in 0..5 {
            check(Arithmetic::Multipliers, seed);
            let plain = check(Arithmetic::ShiftAdd, seed);
            let shared = check(Arithmetic::SharedShiftAdd, seed);
            assert_eq!(plain.shared_adders, 0);
            assert!(
                shared.shared_adders + shared.tree_adders < plain.tree_adders,
                "sharing saves adders: {shared:?} vs {plain:?}"
            );
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
            Arithmetic::SharedShiftAdd,
            &model,
            &mut arrival,
        );
        // 5x0 + 3x1 = x0 + 4x0 - x1 + 4x1: needs 3 adders, and the second column none
        assert_eq!(stats.shared_adders + stats.tree_adders, 3, "{stats:?}");
        assert_eq!(outs[0].sig, outs[1].sig);
        assert_eq!(outs[1].shift, outs[0].shift + 1);
    }
}
