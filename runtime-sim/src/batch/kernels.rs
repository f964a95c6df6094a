//! The integer kernels of the batch evaluator.
//!
//! Data layout ("feature-major tiles"): a tile holds [`LANES`] samples; a tensor of
//! `len` elements is stored as `len` rows of `LANES` values, `row[f][s]` being element
//! `f` of sample `s`. Every kernel walks rows and does the same thing to all lanes of a
//! row with scalar parameters (weights, shifts, bounds) broadcast, so the lane loops
//! are plain fixed-length loops the compiler turns into SIMD instructions.
//!
//! The arithmetic type of each kernel (`i32`, `i64` or `i128`) was chosen by the planner
//! ([`super::plan`]) from interval bounds that prove no intermediate value leaves it,
//! so the plain `+`, `*`, `<<` below never overflow (debug builds check that they do
//! not: the property tests run the kernels with overflow checks on).

use std::ops::{Add, BitAnd, Mul, Shl, Shr, Sub};

/// Samples per tile: one lane per sample. 16 `i32` are two AVX2 registers; the whole
/// working set of an ECON-T-sized tile stays in L1.
pub const LANES: usize = 16;

/// Storage of a tensor in a tile: values proven to fit `i32` are stored as `i32`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Store {
    I32,
    I64,
}

/// One tensor of a tile.
#[derive(Debug, Clone, Default)]
pub enum Buf {
    #[default]
    Empty,
    I32(Vec<i32>),
    I64(Vec<i64>),
}

impl Buf {
    pub fn new(store: Store, rows: usize) -> Buf {
        match store {
            Store::I32 => Buf::I32(vec![0; rows * LANES]),
            Store::I64 => Buf::I64(vec![0; rows * LANES]),
        }
    }

    /// Row `f` converted to `W` (the values are proven to fit).
    #[inline(always)]
    pub fn load<W: Num>(&self, f: usize) -> [W; LANES] {
        let mut out = [W::default(); LANES];
        match self {
            Buf::I32(v) => {
                let r: &[i32; LANES] = v[f * LANES..][..LANES].try_into().unwrap();
                for s in 0..LANES {
                    out[s] = W::from_i64(r[s] as i64);
                }
            }
            Buf::I64(v) => {
                let r: &[i64; LANES] = v[f * LANES..][..LANES].try_into().unwrap();
                for s in 0..LANES {
                    out[s] = W::from_i64(r[s]);
                }
            }
            Buf::Empty => unreachable!("buffer not allocated"),
        }
        out
    }

    /// Stores `row` as row `f` (the values are proven to fit the storage).
    #[inline(always)]
    pub fn store<W: Num>(&mut self, f: usize, row: &[W; LANES]) {
        match self {
            Buf::I32(v) => {
                let r: &mut [i32; LANES] = (&mut v[f * LANES..][..LANES]).try_into().unwrap();
                for s in 0..LANES {
                    r[s] = i32::from_i64(row[s].to_i64());
                }
            }
            Buf::I64(v) => {
                let r: &mut [i64; LANES] = (&mut v[f * LANES..][..LANES]).try_into().unwrap();
                for s in 0..LANES {
                    r[s] = row[s].to_i64();
                }
            }
            Buf::Empty => unreachable!("buffer not allocated"),
        }
    }
}

/// The integer types the kernels compute in.
pub trait Num:
    Copy
    + Default
    + Ord
    + Send
    + Sync
    + 'static
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
    + Shl<u32, Output = Self>
    + Shr<u32, Output = Self>
    + BitAnd<Output = Self>
{
    const MIN: i128;
    const MAX: i128;
    /// Conversion of a value proven to fit (checked in debug builds).
    fn from_i64(v: i64) -> Self;
    fn from_i128(v: i128) -> Self;
    /// Conversion of a value proven to fit `i64` (checked in debug builds).
    fn to_i64(self) -> i64;
    fn fits(v: i128) -> bool {
        Self::MIN <= v && v <= Self::MAX
    }
}

macro_rules! impl_num {
    ($t:ty) => {
        impl Num for $t {
            const MIN: i128 = <$t>::MIN as i128;
            const MAX: i128 = <$t>::MAX as i128;
            #[inline(always)]
            fn from_i64(v: i64) -> Self {
                debug_assert!(Self::fits(v as i128), "{v} does not fit {}", stringify!($t));
                v as $t
            }
            #[inline(always)]
            fn from_i128(v: i128) -> Self {
                debug_assert!(Self::fits(v), "{v} does not fit {}", stringify!($t));
                v as $t
            }
            #[inline(always)]
            fn to_i64(self) -> i64 {
                debug_assert!(<i64 as Num>::fits(self as i128), "{self} does not fit i64");
                self as i64
            }
        }
    };
}
impl_num!(i32);
impl_num!(i64);
impl_num!(i128);

/// Read access to the values of a buffer of a known storage type.
pub trait Elem: Num {
    fn slice(b: &Buf) -> &[Self];
}
impl Elem for i32 {
    #[inline(always)]
    fn slice(b: &Buf) -> &[i32] {
        match b {
            Buf::I32(v) => v,
            _ => unreachable!("planned as i32"),
        }
    }
}
impl Elem for i64 {
    #[inline(always)]
    fn slice(b: &Buf) -> &[i64] {
        match b {
            Buf::I64(v) => v,
            _ => unreachable!("planned as i64"),
        }
    }
}

/// Marks an unused output slot of a [`Blocks`] block.
pub const NO_ROW: u32 = u32::MAX;

/// A constant linear map in blocks of `R` output rows that read the same inputs (the
/// output channels of one convolution window, or `R` neighbouring outputs of a dense
/// layer). Output row `o` of block `b` is
/// `(sum_t w[t][o] * x[idx[t]]) << shift + bias[row]` over `t in starts[b]..starts[b + 1]`;
/// a term whose `R` weights are all zero is not stored (zero weights, and taps that read
/// a convolution's padding, cost nothing). Each input row is loaded once per block and
/// multiplied by `R` broadcast weights.
#[derive(Debug, Clone)]
pub struct Blocks<W, const R: usize> {
    pub starts: Vec<u32>,
    /// Output row of each slot of each block, or [`NO_ROW`].
    pub outs: Vec<[u32; R]>,
    pub idx: Vec<u32>,
    pub w: Vec<[W; R]>,
    pub shift: u32,
    /// Bias of each output row, already shifted onto the accumulator grid.
    pub bias: Vec<i128>,
}

/// `y = (W x) << shift + bias` with `T` the input storage, `Wt` the weight type and `A`
/// the accumulator.
#[inline(always)]
pub fn linear<T: Elem, Wt: Num, A: Num, const R: usize>(m: &Blocks<Wt, R>, x: &Buf, y: &mut Buf) {
    let x = T::slice(x);
    for (b, outs) in m.outs.iter().enumerate() {
        let (s, e) = (m.starts[b] as usize, m.starts[b + 1] as usize);
        let mut acc = [[A::default(); LANES]; R];
        for (&i, w) in m.idx[s..e].iter().zip(&m.w[s..e]) {
            let xr: &[T; LANES] = x[i as usize * LANES..][..LANES].try_into().unwrap();
            let mut xv = [A::default(); LANES];
            for l in 0..LANES {
                xv[l] = A::from_i64(xr[l].to_i64());
            }
            for r in 0..R {
                let w = A::from_i64(w[r].to_i64());
                for l in 0..LANES {
                    acc[r][l] = acc[r][l] + w * xv[l];
                }
            }
        }
        for r in 0..R {
            let o = outs[r];
            if o == NO_ROW {
                continue;
            }
            let acc = &mut acc[r];
            if m.shift > 0 {
                for v in acc.iter_mut() {
                    *v = *v << m.shift;
                }
            }
            let bias = A::from_i128(m.bias[o as usize]);
            for v in acc.iter_mut() {
                *v = *v + bias;
            }
            y.store(o as usize, acc);
        }
    }
}

/// Rounding of `y / 2^s` to an integer, the modes of [`aecc_ir::Rounding`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Round {
    Floor,
    Ceil,
    TowardZero,
    AwayFromZero,
    HalfEven,
    HalfAwayFromZero,
    HalfTowardZero,
    HalfOdd,
}

/// What follows the rounding: QONNX saturation, two's-complement wrap onto a
/// `2^b`-value range, or the bipolar sign quirk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Post {
    Saturate,
    /// `lo + ((q - lo) & mask)`, `mask = 2^b - 1`.
    Wrap {
        mask: i64,
    },
    /// `q = 1` if the value is `>= 0`, else `-1` (no rounding, no clamp).
    Bipolar,
}

/// The power-of-two quantizer of one channel as integer operations:
/// - `pre = Shl(k)`: `y = (x << k) + zp` (the input grid is coarser; nothing rounds);
/// - `pre = Shr(s, mode)`: `y = x + (zp << s)`, `q = round(y / 2^s)` by a rounding
///   constant and an arithmetic shift;
///
/// then `q` is saturated or wrapped to `[lo, hi]` and the output is `(q - zp) << shift`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pow2Quant {
    pub pre: Pre,
    pub zp: i64,
    pub lo: i64,
    pub hi: i64,
    pub post: Post,
    pub shift: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pre {
    Shl(u32),
    Shr(u32, Round),
}

#[inline(always)]
fn map<W: Num>(v: &mut [W; LANES], f: impl Fn(W) -> W) {
    for x in v.iter_mut() {
        *x = f(*x);
    }
}

/// Quantizes one row in `W` (every intermediate proven to fit `W`).
#[inline(always)]
pub fn pow2_quant_row<W: Num>(p: &Pow2Quant, v: &mut [W; LANES]) {
    let zero = W::from_i64(0);
    let one = W::from_i64(1);
    let zp = W::from_i64(p.zp);
    match p.pre {
        Pre::Shl(k) => map(v, |x| (x << k) + zp),
        Pre::Shr(s, mode) => {
            let zps = W::from_i64(p.zp << s);
            map(v, |x| x + zps);
            if p.post != Post::Bipolar {
                // y = v; q = (y + c) >> s with the rounding constant c of the mode
                let m = W::from_i64((1i64 << s) - 1); // 2^s - 1
                let half = W::from_i64(1i64 << (s - 1));
                let half_m1 = half - one;
                match mode {
                    Round::Floor => map(v, |y| y >> s),
                    Round::Ceil => map(v, |y| (y + m) >> s),
                    Round::TowardZero => map(v, |y| (y + if y < zero { m } else { zero }) >> s),
                    Round::AwayFromZero => map(v, |y| (y + if y > zero { m } else { zero }) >> s),
                    Round::HalfEven => map(v, |y| (y + half_m1 + ((y >> s) & one)) >> s),
                    Round::HalfAwayFromZero => {
                        map(v, |y| (y + if y < zero { half_m1 } else { half }) >> s)
                    }
                    Round::HalfTowardZero => {
                        map(v, |y| (y + if y < zero { half } else { half_m1 }) >> s)
                    }
                    // ties up when the floor is even: half - (floor & 1)
                    Round::HalfOdd => map(v, |y| (y + half - ((y >> s) & one)) >> s),
                }
            }
        }
    }
    match p.post {
        Post::Saturate => {
            let (lo, hi) = (W::from_i64(p.lo), W::from_i64(p.hi));
            map(v, |q| q.max(lo).min(hi)); // lo <= hi; `clamp` would not inline
        }
        Post::Wrap { mask } => {
            let (lo, mask) = (W::from_i64(p.lo), W::from_i64(mask));
            map(v, |q| lo + ((q - lo) & mask));
        }
        Post::Bipolar => {
            let m1 = zero - one;
            map(v, |y| if y < zero { m1 } else { one });
        }
    }
    let shift = p.shift;
    map(v, |q| (q - zp) << shift);
}

/// Applies the planned power-of-two quantizer to every row; `chan[f]` picks the
/// channel parameters of row `f`.
#[inline(always)]
pub fn pow2_quant<W: Num>(params: &[Pow2Quant], chan: &[u32], x: &Buf, y: &mut Buf) {
    for (f, &c) in chan.iter().enumerate() {
        let mut v = x.load::<W>(f);
        pow2_quant_row(&params[c as usize], &mut v);
        y.store(f, &v);
    }
}

#[inline(always)]
pub fn relu<W: Num>(rows: usize, x: &Buf, y: &mut Buf) {
    let zero = W::from_i64(0);
    for f in 0..rows {
        let mut v = x.load::<W>(f);
        map(&mut v, |a| a.max(zero));
        y.store(f, &v);
    }
}

/// `y = (a << sa) + (b << sb)`.
#[inline(always)]
pub fn add<W: Num>(rows: usize, sa: u32, sb: u32, a: &Buf, b: &Buf, y: &mut Buf) {
    for f in 0..rows {
        let mut v = a.load::<W>(f);
        let w = b.load::<W>(f);
        for s in 0..LANES {
            v[s] = (v[s] << sa) + (w[s] << sb);
        }
        y.store(f, &v);
    }
}

/// Row gather: `y[f] = x[src[f]]`.
#[inline(always)]
pub fn gather(src: &[u32], x: &Buf, y: &mut Buf) {
    for (f, &i) in src.iter().enumerate() {
        let v = x.load::<i64>(i as usize);
        y.store(f, &v);
    }
}

/// The exact quantizer (any scale): `aecc_ir::Quantizer::quantize_int` on every value.
pub fn exact_quant(
    q: &aecc_ir::Quantizer,
    in_frac: i32,
    in_unit: aecc_ir::Unit,
    chan: &[u32],
    x: &Buf,
    y: &mut Buf,
) {
    for (f, &c) in chan.iter().enumerate() {
        let v = x.load::<i64>(f);
        let mut out = [0i64; LANES];
        for s in 0..LANES {
            out[s] = q.quantize_scaled(v[s] as i128, in_frac, in_unit, c as usize) as i64;
        }
        y.store(f, &out);
    }
}

/// Any op, one lane at a time through the scalar reference ([`crate::eval::eval_op`]):
/// the ops without a dedicated kernel (pools, affine maps, lookup tables, data
/// movement with constants, ...).
pub fn generic(
    op: &aecc_ir::Op,
    infos: &[aecc_ir::TensorInfo],
    out_info: &aecc_ir::TensorInfo,
    args: &[&Buf],
    y: &mut Buf,
) {
    let mut operands: Vec<Vec<i64>> = infos.iter().map(|t| vec![0; t.len()]).collect();
    let mut rows: Vec<Vec<[i64; LANES]>> = Vec::with_capacity(args.len());
    for (a, t) in args.iter().zip(infos) {
        rows.push((0..t.len()).map(|f| a.load::<i64>(f)).collect());
    }
    let mut results = vec![[0i64; LANES]; out_info.len()];
    for s in 0..LANES {
        for (k, r) in rows.iter().enumerate() {
            for (f, row) in r.iter().enumerate() {
                operands[k][f] = row[s];
            }
        }
        let refs: Vec<(&[i64], &aecc_ir::TensorInfo)> = operands
            .iter()
            .zip(infos)
            .map(|(v, t)| (v.as_slice(), t))
            .collect();
        let y_s = crate::eval::eval_op(op, &refs, out_info);
        for (f, v) in y_s.into_iter().enumerate() {
            results[f][s] = v;
        }
    }
    for (f, row) in results.iter().enumerate() {
        y.store(f, row);
    }
}
