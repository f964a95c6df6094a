//! Planning: one kernel per node, the narrowest integer type proven exact, and a
//! buffer assignment that reuses tile memory once a value is dead.
//!
//! The safety argument for the narrow kernels is in the [`super`] module docs.

use super::kernels::{Blocks, Buf, Post, Pow2Quant, Pre, Round, Store, NO_ROW};
use aecc_ir::fixed::{Interval, Overflow, Rounding};
use aecc_ir::ops::AccumulatorGrid;
use aecc_ir::{Graph, NodeId, Op, Quantizer, TensorInfo};
use std::collections::HashMap;
use std::fmt;

/// Integer width a kernel computes in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Width {
    I32,
    I64,
    I128,
}

impl Width {
    /// Narrowest width holding every value of `vals` (`None` inside means "unbounded").
    fn of(vals: &[Option<i128>]) -> Width {
        if vals.iter().any(|v| v.is_none()) {
            return Width::I128;
        }
        let fits = |lo: i128, hi: i128| vals.iter().all(|v| (lo..=hi).contains(&v.unwrap()));
        if fits(i32::MIN as i128, i32::MAX as i128) {
            Width::I32
        } else if fits(i64::MIN as i128, i64::MAX as i128) {
            Width::I64
        } else {
            Width::I128
        }
    }
    fn bits(self) -> u32 {
        match self {
            Width::I32 => 32,
            Width::I64 => 64,
            Width::I128 => 128,
        }
    }
}

impl fmt::Display for Width {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Width::I32 => "i32",
            Width::I64 => "i64",
            Width::I128 => "i128",
        })
    }
}

/// The kernel planned for one node (see [`super::BatchSimulator::kernels`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kernel {
    /// Sparse sum of products (`Dense`, `Conv`) accumulated in `acc`; `terms` non-zero
    /// weights per sample.
    Linear {
        acc: Width,
        terms: usize,
    },
    /// Power-of-two quantizer as shift, rounding constant and clamp in `width`.
    QuantizePow2 {
        width: Width,
    },
    /// [`aecc_ir::Quantizer::quantize_int`] per value (exact `i128` arithmetic).
    QuantizeExact,
    Relu {
        width: Width,
    },
    Add {
        width: Width,
    },
    /// Row gather.
    Transpose,
    /// The scalar reference, lane by lane (ops without a dedicated kernel).
    Generic,
    /// No work: the output shares the operand's buffer.
    Reshape,
}

impl fmt::Display for Kernel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Kernel::Linear { acc, terms } => write!(f, "linear, {acc} accumulator, {terms} terms"),
            Kernel::QuantizePow2 { width } => write!(f, "power-of-two quantizer in {width}"),
            Kernel::QuantizeExact => f.write_str("exact quantizer (i128)"),
            Kernel::Generic => f.write_str("scalar reference per lane"),
            Kernel::Relu { width } => write!(f, "relu in {width}"),
            Kernel::Add { width } => write!(f, "add in {width}"),
            Kernel::Transpose => f.write_str("transpose (row gather)"),
            Kernel::Reshape => f.write_str("reshape (no-op)"),
        }
    }
}

/// One planned node, for inspection and reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodePlan {
    pub node: String,
    pub op: &'static str,
    pub kernel: Kernel,
}

/// Output rows per block of the `i32` linear kernel: 4 accumulators of [`LANES`]
/// lanes (8 AVX2 registers) stay in registers.
///
/// [`LANES`]: super::kernels::LANES
pub const BLOCK: usize = 4;

/// A linear map with the accumulator and weight types chosen.
#[derive(Debug, Clone)]
pub enum LinearStep {
    /// `i32` input, `i32` weights, `i32` accumulator, blocks of [`BLOCK`] rows.
    A32(Blocks<i32, BLOCK>),
    /// `i64` accumulator with weights that fit `i32`.
    A64W32(Blocks<i32, 1>),
    A64W64(Blocks<i64, 1>),
    A128(Blocks<i64, 1>),
}

#[derive(Debug, Clone)]
pub enum StepKind {
    Linear(LinearStep),
    Pow2Quant {
        width: Width,
        params: Vec<Pow2Quant>,
        chan: Vec<u32>,
    },
    ExactQuant {
        q: Quantizer,
        in_frac: i32,
        in_unit: aecc_ir::Unit,
        chan: Vec<u32>,
    },
    /// Any other op through the scalar reference, lane by lane.
    Generic {
        op: Box<Op>,
        infos: Vec<aecc_ir::TensorInfo>,
        out: aecc_ir::TensorInfo,
    },
    Relu {
        width: Width,
        rows: usize,
    },
    Add {
        width: Width,
        rows: usize,
        sa: u32,
        sb: u32,
    },
    Gather {
        src: Vec<u32>,
    },
}

/// One kernel call: reads slots `args`, writes slot `dst` (never one of `args`).
#[derive(Debug, Clone)]
pub struct Step {
    pub kind: StepKind,
    pub args: Vec<usize>,
    /// Storage of the first operand (the linear kernels are specialised on it).
    pub in_store: Store,
    pub dst: usize,
}

/// The compiled form of a single-input, single-output graph.
#[derive(Debug, Clone)]
pub struct Plan {
    pub steps: Vec<Step>,
    /// Storage type and rows of each tile slot.
    pub slots: Vec<(Store, usize)>,
    pub input_slot: usize,
    pub output_slot: usize,
    pub kernels: Vec<NodePlan>,
    /// An in-range value used to fill the unused lanes of a partial tile.
    pub pad: i64,
}

impl Plan {
    pub fn new_tile(&self) -> Vec<Buf> {
        self.slots.iter().map(|&(s, r)| Buf::new(s, r)).collect()
    }
}

fn store_of(iv: Interval) -> Store {
    if iv.lo >= i32::MIN as i128 && iv.hi <= i32::MAX as i128 {
        Store::I32
    } else {
        Store::I64
    }
}

/// `v << s` if it fits `i128`.
fn shl(v: i128, s: u32) -> Option<i128> {
    if s >= 127 {
        return (v == 0).then_some(0);
    }
    let r = v.checked_mul(1i128 << s)?;
    Some(r)
}

/// The running extremes of a set of values (`None` values do not fit `i128`).
#[derive(Debug, Clone, Copy)]
struct Extremes {
    lo: i128,
    hi: i128,
    unbounded: bool,
}

impl Extremes {
    fn new() -> Extremes {
        Extremes {
            lo: 0,
            hi: 0,
            unbounded: false,
        }
    }
    fn add(&mut self, v: Option<i128>) {
        match v {
            Some(v) => {
                self.lo = self.lo.min(v);
                self.hi = self.hi.max(v);
            }
            None => self.unbounded = true,
        }
    }
    fn width(&self) -> Width {
        if self.unbounded {
            Width::I128
        } else {
            Width::of(&[Some(self.lo), Some(self.hi)])
        }
    }
}

/// Output rows that read the same inputs, with their terms in evaluation order:
/// term `t` reads input row `idx[t]` with weight `w[t * rows.len() + r]` for output
/// row `rows[r]`.
struct Group {
    rows: Vec<usize>,
    idx: Vec<usize>,
    w: Vec<i64>,
}

/// The accumulator width for the rows of `groups`: every value the kernel forms — the
/// operand and weights converted to the accumulator, each product, each prefix sum in
/// the order the kernel adds terms, the shifted sum, the shifted bias and the result —
/// lies inside it. (Zero weights are skipped: they add nothing.)
fn linear_width(
    groups: &[Group],
    bias: &[i64],
    x: Interval,
    product_shift: u32,
    bias_shift: u32,
) -> Width {
    let mut all = Extremes::new();
    all.add(Some(x.lo));
    all.add(Some(x.hi));
    for g in groups {
        let nr = g.rows.len();
        for (r, &row) in g.rows.iter().enumerate() {
            let (mut lo, mut hi) = (Some(0i128), Some(0i128));
            for t in 0..g.idx.len() {
                let w = g.w[t * nr + r];
                if w == 0 {
                    continue;
                }
                all.add(Some(w as i128));
                let p = x.scale(w as i128); // as the IR's own interval inference
                all.add(Some(p.lo));
                all.add(Some(p.hi));
                lo = lo.and_then(|l| l.checked_add(p.lo));
                hi = hi.and_then(|h| h.checked_add(p.hi));
                all.add(lo);
                all.add(hi);
            }
            let slo = lo.and_then(|l| shl(l, product_shift));
            let shi = hi.and_then(|h| shl(h, product_shift));
            let b = shl(bias[row] as i128, bias_shift);
            all.add(slo);
            all.add(shi);
            all.add(b);
            all.add(slo.zip(b).and_then(|(s, b)| s.checked_add(b)));
            all.add(shi.zip(b).and_then(|(s, b)| s.checked_add(b)));
        }
    }
    let w = all.width();
    // the accumulator must also be able to shift by product_shift
    if product_shift >= w.bits() {
        return Width::I128;
    }
    w
}

/// Lowers a `Dense` or `Conv` into groups of at most `r` output rows sharing their
/// input taps (the same sums of products as [`aecc_ir::Op::linear_map`], terms in the
/// same order), with the biases of all output rows. Terms whose weights are all zero
/// are dropped, and so are a convolution's taps that read padding.
fn lower(op: &Op, x: &TensorInfo, r: usize) -> (Vec<Group>, Vec<i64>, AccumulatorGrid) {
    let mut groups = Vec::new();
    match op {
        Op::Dense(d) => {
            let (k, m) = (d.weight.shape[0], d.weight.shape[1]);
            let grid = AccumulatorGrid::new(x.ty.frac, &d.weight, d.bias.as_ref());
            for o in 0..x.len() / k {
                for j0 in (0..m).step_by(r) {
                    let js = j0..(j0 + r).min(m);
                    let mut g = Group {
                        rows: js.clone().map(|j| o * m + j).collect(),
                        idx: Vec::new(),
                        w: Vec::new(),
                    };
                    for kk in 0..k {
                        let ws = &d.weight.data[kk * m + js.start..kk * m + js.end];
                        if ws.iter().any(|&v| v != 0) {
                            g.idx.push(o * k + kk);
                            g.w.extend_from_slice(ws);
                        }
                    }
                    groups.push(g);
                }
            }
            let bias = (0..x.len() / k * m)
                .map(|row| d.bias.as_ref().map_or(0, |b| b.data[row % m]))
                .collect();
            (groups, bias, grid)
        }
        Op::Conv(c) => {
            let (n, ch, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3]);
            let [m, cg, kh, kw] = [0, 1, 2, 3].map(|i| c.weight.shape[i]);
            let (oh, ow) = c.out_hw(h, w).expect("shape was checked by inference");
            let grid = AccumulatorGrid::new(x.ty.frac, &c.weight, c.bias.as_ref());
            let mpg = m / c.group;
            let per_filter = cg * kh * kw;
            let mut taps = Vec::new();
            for b in 0..n {
                for gi in 0..c.group {
                    for oy in 0..oh {
                        for ox in 0..ow {
                            // the taps of this window that read the input, not padding:
                            // (input row, offset in a filter)
                            taps.clear();
                            for ci in 0..cg {
                                for ky in 0..kh {
                                    let iy = (oy * c.strides[0] + ky * c.dilations[0]) as isize
                                        - c.pads[0] as isize;
                                    if iy < 0 || iy >= h as isize {
                                        continue;
                                    }
                                    for kx in 0..kw {
                                        let ix = (ox * c.strides[1] + kx * c.dilations[1]) as isize
                                            - c.pads[1] as isize;
                                        if ix < 0 || ix >= w as isize {
                                            continue;
                                        }
                                        let idx = ((b * ch + gi * cg + ci) * h + iy as usize) * w
                                            + ix as usize;
                                        taps.push((idx, (ci * kh + ky) * kw + kx));
                                    }
                                }
                            }
                            for m0 in (gi * mpg..(gi + 1) * mpg).step_by(r) {
                                let mos = m0..(m0 + r).min((gi + 1) * mpg);
                                let mut g = Group {
                                    rows: mos
                                        .clone()
                                        .map(|mo| ((b * m + mo) * oh + oy) * ow + ox)
                                        .collect(),
                                    idx: Vec::new(),
                                    w: Vec::new(),
                                };
                                for &(idx, k) in &taps {
                                    let ws =
                                        mos.clone().map(|mo| c.weight.data[mo * per_filter + k]);
                                    if ws.clone().any(|v| v != 0) {
                                        g.idx.push(idx);
                                        g.w.extend(ws);
                                    }
                                }
                                groups.push(g);
                            }
                        }
                    }
                }
            }
            let bias = (0..n * m * oh * ow)
                .map(|row| {
                    c.bias
                        .as_ref()
                        .map_or(0, |bb| bb.data[(row / (oh * ow)) % m])
                })
                .collect();
            (groups, bias, grid)
        }
        _ => unreachable!("not a linear op"),
    }
}

/// Non-zero weights (multiplications a scalar evaluation would do).
fn nonzero(groups: &[Group]) -> usize {
    groups
        .iter()
        .map(|g| g.w.iter().filter(|&&w| w != 0).count())
        .sum()
}

fn blocks<W: Copy + Default, const R: usize>(
    groups: &[Group],
    bias: &[i64],
    grid: &AccumulatorGrid,
    conv: impl Fn(i64) -> W,
) -> Blocks<W, R> {
    let mut out = Blocks {
        starts: vec![0],
        outs: Vec::with_capacity(groups.len()),
        idx: Vec::new(),
        w: Vec::new(),
        shift: grid.product_shift,
        bias: bias
            .iter()
            .map(|&b| (b as i128) << grid.bias_shift)
            .collect(),
    };
    for g in groups {
        let nr = g.rows.len();
        assert!(nr <= R, "groups are built with at most R rows");
        let mut outs = [NO_ROW; R];
        for (o, &r) in outs.iter_mut().zip(&g.rows) {
            *o = r as u32;
        }
        out.outs.push(outs);
        for (t, &i) in g.idx.iter().enumerate() {
            let mut w = [W::default(); R];
            for (d, &v) in w.iter_mut().zip(&g.w[t * nr..(t + 1) * nr]) {
                *d = conv(v);
            }
            out.idx.push(i as u32);
            out.w.push(w);
        }
        out.starts.push(out.idx.len() as u32);
    }
    out
}

fn round_of(r: Rounding) -> Round {
    match r {
        Rounding::HalfEven => Round::HalfEven,
        Rounding::HalfAwayFromZero => Round::HalfAwayFromZero,
        Rounding::HalfTowardZero => Round::HalfTowardZero,
        Rounding::Floor => Round::Floor,
        Rounding::Ceil => Round::Ceil,
        Rounding::TowardZero => Round::TowardZero,
        Rounding::AwayFromZero => Round::AwayFromZero,
        Rounding::HalfOdd => Round::HalfOdd,
    }
}

/// The power-of-two quantizer of channel `c` as integer operations on inputs in `x` (on
/// grid `2^-in_frac`), with the width every intermediate fits in; `None` when the
/// channel needs the exact quantizer (scale not a power of two, wrap onto a narrow
/// range, or a value beyond `i64`).
pub fn pow2_quant(
    q: &Quantizer,
    c: usize,
    in_frac: i32,
    x: Interval,
) -> Option<(Pow2Quant, Width)> {
    let ch = &q.channels[c];
    if !ch.scale.is_pow2() {
        return None;
    }
    let bipolar = q.is_bipolar();
    if !bipolar && q.overflow == Overflow::Wrap && q.narrow {
        return None; // modulo 2^b - 1: no mask
    }
    let zp = ch.zero_point as i128;
    let (lo, hi) = q.q_bounds();
    let k = -in_frac - ch.scale.exponent;
    let shift = q.channel_shift(c);
    let mut vals: Vec<Option<i128>> = vec![Some(x.lo), Some(x.hi), Some(zp), Some(lo), Some(hi)];
    let mut shifts = vec![shift];
    // interval of y (the value to round, times 2^s) and of q before saturation
    let (pre, qlo, qhi) = if k >= 0 {
        let k = k as u32;
        shifts.push(k);
        let (a, b) = (shl(x.lo, k), shl(x.hi, k));
        let ylo = a.and_then(|a| a.checked_add(zp));
        let yhi = b.and_then(|b| b.checked_add(zp));
        vals.extend([a, b, ylo, yhi]);
        (Pre::Shl(k), ylo?, yhi?)
    } else {
        let s = (-k) as u32;
        shifts.push(s);
        let zps = shl(zp, s)?;
        let (ylo, yhi) = (x.lo + zps, x.hi + zps); // |x| < 2^64, |zps| < 2^119
        let m = (1i128 << s) - 1;
        vals.extend([Some(zps), Some(ylo), Some(yhi), Some(m), Some(yhi + m)]);
        (Pre::Shr(s, round_of(q.rounding)), ylo >> s, (yhi + m) >> s)
    };
    let post = if bipolar {
        Post::Bipolar
    } else {
        match q.overflow {
            Overflow::Saturate => Post::Saturate,
            Overflow::Wrap => {
                let mask = hi - lo;
                vals.extend([Some(mask), Some(qlo - lo), Some(qhi - lo)]);
                Post::Wrap {
                    mask: i64::try_from(mask).ok()?,
                }
            }
        }
    };
    let (plo, phi) = if bipolar { (-1, 1) } else { (lo, hi) };
    vals.extend([Some(plo - zp), Some(phi - zp)]);
    vals.push(shl(plo - zp, shift));
    vals.push(shl(phi - zp, shift));
    let mut width = Width::of(&vals);
    // a shift by the type's width or more would not be a multiplication by 2^s
    if width == Width::I32 && shifts.iter().any(|&s| s >= 32) {
        width = Width::I64;
    }
    if width == Width::I128 || shifts.iter().any(|&s| s >= 64) {
        return None;
    }
    Some((make(pre, zp, lo, hi, post, shift)?, width))
}

fn make(pre: Pre, zp: i128, lo: i128, hi: i128, post: Post, shift: u32) -> Option<Pow2Quant> {
    Some(Pow2Quant {
        pre,
        zp: i64::try_from(zp).ok()?,
        lo: i64::try_from(lo).ok()?,
        hi: i64::try_from(hi).ok()?,
        post,
        shift,
    })
}

/// Channel of every element of a tensor for quantizer `q`.
pub fn channels(q: &Quantizer, shape: &[usize]) -> Vec<u32> {
    let n: usize = shape.iter().product();
    (0..n).map(|f| q.channel_of(f, shape) as u32).collect()
}

fn transpose_src(shape: &[usize], perm: &[usize]) -> Vec<u32> {
    let rank = shape.len();
    let mut in_strides = vec![1usize; rank];
    for a in (0..rank.saturating_sub(1)).rev() {
        in_strides[a] = in_strides[a + 1] * shape[a + 1];
    }
    let out_shape: Vec<usize> = perm.iter().map(|&p| shape[p]).collect();
    let len: usize = shape.iter().product();
    let mut idx = vec![0usize; rank];
    let mut src = Vec::with_capacity(len);
    for _ in 0..len {
        src.push(
            (0..rank)
                .map(|a| idx[a] * in_strides[perm[a]])
                .sum::<usize>() as u32,
        );
        for a in (0..rank).rev() {
            idx[a] += 1;
            if idx[a] < out_shape[a] {
                break;
            }
            idx[a] = 0;
        }
    }
    src
}

/// Plans a single-input, single-output graph. `Err` carries the reason the graph cannot
/// be planned (the caller then evaluates with the scalar simulator).
pub fn plan(graph: &Graph) -> Result<Plan, String> {
    let input = graph.inputs()[0];
    let output = graph.outputs()[0].1;
    // intervals from the input type's full range (what the scalar path accepts)
    let mut info: HashMap<NodeId, TensorInfo> = HashMap::new();
    let in_node = graph.node(input);
    info.insert(
        input,
        TensorInfo {
            interval: in_node.out.ty.range(),
            ..in_node.out.clone()
        },
    );
    let order = graph.compute_nodes().map_err(|e| e.to_string())?;
    for &id in &order {
        let node = graph.node(id);
        let ops: Vec<&TensorInfo> = graph
            .operands(id)
            .iter()
            .map(|o| {
                info.get(o)
                    .ok_or_else(|| format!("node {} reads another graph input", node.name))
            })
            .collect::<Result<_, _>>()?;
        let t = node
            .op
            .infer(&ops)
            .map_err(|m| format!("node {}: {m}", node.name))?;
        if t.ty.frac != node.out.ty.frac || t.shape != node.out.shape {
            return Err(format!(
                "node {}: stored type differs from inference",
                node.name
            ));
        }
        info.insert(id, t);
    }
    // live nodes: those the output depends on
    let mut live = std::collections::HashSet::new();
    let mut stack = vec![output];
    while let Some(n) = stack.pop() {
        if live.insert(n) {
            stack.extend(graph.operands(n));
        }
    }
    let order: Vec<NodeId> = order.into_iter().filter(|n| live.contains(n)).collect();

    // values -> buffers (a reshape aliases its operand's buffer)
    struct BufInfo {
        store: Store,
        rows: usize,
        last_use: usize,
    }
    let mut bufs: Vec<BufInfo> = Vec::new();
    let mut buf_of: HashMap<NodeId, usize> = HashMap::new();
    let new_buf = |bufs: &mut Vec<BufInfo>, t: &TensorInfo| {
        bufs.push(BufInfo {
            store: store_of(t.interval),
            rows: t.len(),
            last_use: 0,
        });
        bufs.len() - 1
    };
    buf_of.insert(input, new_buf(&mut bufs, &info[&input]));
    // step index i + 1 for order[i]; 0 is the input load
    for (i, &id) in order.iter().enumerate() {
        let node = graph.node(id);
        for o in graph.operands(id) {
            let b = buf_of[&o];
            bufs[b].last_use = bufs[b].last_use.max(i + 1);
        }
        let b = match node.op {
            Op::Reshape { .. } => buf_of[&graph.operands(id)[0]],
            _ => new_buf(&mut bufs, &info[&id]),
        };
        buf_of.insert(id, b);
    }
    bufs[buf_of[&output]].last_use = usize::MAX;

    // buffers -> slots, reusing dead slots of the same storage (best fit)
    let mut slots: Vec<(Store, usize)> = Vec::new();
    let mut free: Vec<usize> = Vec::new();
    let mut slot_of: Vec<Option<usize>> = vec![None; bufs.len()];
    let alloc = |b: usize,
                 bufs: &Vec<BufInfo>,
                 slots: &mut Vec<(Store, usize)>,
                 free: &mut Vec<usize>|
     -> usize {
        let (store, rows) = (bufs[b].store, bufs[b].rows);
        let best = free
            .iter()
            .enumerate()
            .filter(|(_, &s)| slots[s].0 == store)
            .min_by_key(|(_, &s)| {
                let r = slots[s].1;
                if r >= rows {
                    (0, r - rows)
                } else {
                    (1, rows - r)
                }
            })
            .map(|(i, _)| i);
        match best {
            Some(i) => {
                let s = free.swap_remove(i);
                slots[s].1 = slots[s].1.max(rows);
                s
            }
            None => {
                slots.push((store, rows));
                slots.len() - 1
            }
        }
    };
    let in_buf = buf_of[&input];
    slot_of[in_buf] = Some(alloc(in_buf, &bufs, &mut slots, &mut free));

    let mut steps = Vec::new();
    let mut kernels = Vec::new();
    for (i, &id) in order.iter().enumerate() {
        let node = graph.node(id);
        let operands = graph.operands(id);
        let b = buf_of[&id];
        if slot_of[b].is_none() {
            slot_of[b] = Some(alloc(b, &bufs, &mut slots, &mut free));
        }
        let dst = slot_of[b].unwrap();
        let args: Vec<usize> = operands
            .iter()
            .map(|o| slot_of[buf_of[o]].unwrap())
            .collect();
        let x = &info[&operands[0]];
        let in_store = store_of(x.interval);
        let out = &info[&id];
        let kernel = match &node.op {
            Op::Input { .. } => unreachable!("inputs are not compute nodes"),
            Op::Reshape { .. } => Kernel::Reshape,
            Op::Dense(_) | Op::Conv(_) => {
                // blocks of BLOCK rows keep each row's term order; only the narrow
                // kernel uses blocks, the wide ones go row by row
                let (groups, bias, grid) = lower(&node.op, x, BLOCK);
                let (ps, bs) = (grid.product_shift, grid.bias_shift);
                let acc = linear_width(&groups, &bias, x.interval, ps, bs);
                let terms = nonzero(&groups);
                let step = if acc == Width::I32 {
                    LinearStep::A32(blocks(&groups, &bias, &grid, |w| w as i32))
                } else {
                    let (single, _, _) = lower(&node.op, x, 1);
                    let w32 = single
                        .iter()
                        .all(|g| g.w.iter().all(|&w| i32::try_from(w).is_ok()));
                    match acc {
                        Width::I64 if w32 => {
                            LinearStep::A64W32(blocks(&single, &bias, &grid, |w| w as i32))
                        }
                        Width::I64 => LinearStep::A64W64(blocks(&single, &bias, &grid, |w| w)),
                        _ => LinearStep::A128(blocks(&single, &bias, &grid, |w| w)),
                    }
                };
                steps.push(Step {
                    kind: StepKind::Linear(step),
                    args,
                    in_store,
                    dst,
                });
                Kernel::Linear { acc, terms }
            }
            Op::Quantize(q) => {
                let chan = channels(q, &x.shape);
                let planned: Option<Vec<(Pow2Quant, Width)>> = (0..q.channels.len())
                    .map(|c| pow2_quant(q, c, x.ty.frac, x.interval))
                    .collect::<Option<Vec<_>>>()
                    // an input with a scale unit divides by more than a power of two
                    .filter(|_| x.unit.is_one());
                match planned {
                    Some(p) => {
                        let width = p.iter().map(|(_, w)| *w).max().unwrap_or(Width::I32);
                        steps.push(Step {
                            kind: StepKind::Pow2Quant {
                                width,
                                params: p.into_iter().map(|(p, _)| p).collect(),
                                chan,
                            },
                            args,
                            in_store,
                            dst,
                        });
                        Kernel::QuantizePow2 { width }
                    }
                    None => {
                        steps.push(Step {
                            kind: StepKind::ExactQuant {
                                q: q.clone(),
                                in_frac: x.ty.frac,
                                in_unit: x.unit,
                                chan,
                            },
                            args,
                            in_store,
                            dst,
                        });
                        Kernel::QuantizeExact
                    }
                }
            }
            Op::Relu => {
                let width = Width::of(&[Some(x.interval.lo), Some(x.interval.hi)]);
                steps.push(Step {
                    kind: StepKind::Relu {
                        width,
                        rows: out.len(),
                    },
                    args,
                    in_store,
                    dst,
                });
                Kernel::Relu { width }
            }
            Op::Add => {
                let y = &info[&operands[1]];
                let sa = (out.ty.frac - x.ty.frac) as u32;
                let sb = (out.ty.frac - y.ty.frac) as u32;
                let mut width = Width::of(&[
                    Some(x.interval.lo),
                    Some(x.interval.hi),
                    Some(y.interval.lo),
                    Some(y.interval.hi),
                    shl(x.interval.lo, sa),
                    shl(x.interval.hi, sa),
                    shl(y.interval.lo, sb),
                    shl(y.interval.hi, sb),
                    Some(out.interval.lo),
                    Some(out.interval.hi),
                ]);
                while sa.max(sb) >= width.bits() {
                    width = if width == Width::I32 {
                        Width::I64
                    } else {
                        Width::I128
                    };
                }
                steps.push(Step {
                    kind: StepKind::Add {
                        width,
                        rows: out.len(),
                        sa,
                        sb,
                    },
                    args,
                    in_store,
                    dst,
                });
                Kernel::Add { width }
            }
            Op::Transpose { perm } => {
                steps.push(Step {
                    kind: StepKind::Gather {
                        src: transpose_src(&x.shape, perm),
                    },
                    args,
                    in_store,
                    dst,
                });
                Kernel::Transpose
            }
            Op::Sub
            | Op::Affine(_)
            | Op::Clip { .. }
            | Op::LeakyRelu { .. }
            | Op::MaxPool(_)
            | Op::AvgPool(_)
            | Op::Select(_)
            | Op::Concat { .. }
            | Op::Lut(_)
            | Op::Softmax(_) => {
                steps.push(Step {
                    kind: StepKind::Generic {
                        op: Box::new(node.op.clone()),
                        infos: operands.iter().map(|o| info[o].clone()).collect(),
                        out: out.clone(),
                    },
                    args,
                    in_store,
                    dst,
                });
                Kernel::Generic
            }
        };
        kernels.push(NodePlan {
            node: node.name.clone(),
            op: node.op.name(),
            kernel,
        });
        // release the slots of values that die here
        let mut dead: Vec<usize> = operands.iter().map(|o| buf_of[o]).collect();
        dead.sort_unstable();
        dead.dedup();
        for d in dead {
            if bufs[d].last_use == i + 1 && d != b {
                if let Some(s) = slot_of[d] {
                    free.push(s);
                }
            }
        }
    }
    let in_iv = info[&input].interval;
    Ok(Plan {
        steps,
        slots,
        input_slot: slot_of[in_buf].unwrap(),
        output_slot: slot_of[buf_of[&output]].unwrap(),
        kernels,
        pad: 0i128.clamp(in_iv.lo, in_iv.hi) as i64,
    })
}
