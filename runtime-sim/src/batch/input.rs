//! Real-valued inputs onto the input grid, fast: the input quantizer of a power-of-two
//! channel as one float multiply (exact), a floor and a comparison of the (exact)
//! fractional part. Values outside the range where that is provably exact go through
//! [`aecc_ir::Quantizer::quantize_f64`], so the result is always identical to
//! [`crate::Simulator::quantize_input`].

use aecc_ir::fixed::{pow2, Overflow, Rounding};
use aecc_ir::Quantizer;

#[derive(Debug, Clone, Copy)]
struct FastChannel {
    /// `2^-e`: multiplying by it is exact when the product is a normal float.
    inv_scale: f64,
    zp: i128,
    lo: i128,
    hi: i128,
    shift: u32,
}

/// [`FastChannel`] in `i64`, when every constant (and `floor + zp`) fits.
#[derive(Debug, Clone, Copy)]
struct Fast64 {
    inv_scale: f64,
    zp: i64,
    lo: i64,
    hi: i64,
    shift: u32,
}

impl Fast64 {
    fn new(p: &FastChannel, q: &Quantizer) -> Option<Fast64> {
        // |floor| < 2^62 and |zp| < 2^61 keep floor + zp + 1 inside i64; the output
        // (q - zp) << shift is a value of the input type, at most 64 bits
        if p.zp.abs() >= 1 << 61 || p.shift >= 64 {
            return None;
        }
        let (lo, hi) = if q.is_bipolar() {
            (-1, 1)
        } else {
            (p.lo, p.hi)
        };
        Some(Fast64 {
            inv_scale: p.inv_scale,
            zp: p.zp as i64,
            lo: i64::try_from(lo).ok()?,
            hi: i64::try_from(hi).ok()?,
            shift: p.shift,
        })
    }
}

/// The model's input quantizer, prepared for one input tensor shape.
#[derive(Debug, Clone)]
pub struct InputQuant {
    q: Quantizer,
    /// Channel of each element of a sample.
    chan: Vec<u32>,
    fast: Vec<Option<FastChannel>>,
}

/// `|v| < 2^62`: the floor fits `i64` with room for the zero point.
const BIG: f64 = 4611686018427387904.0;
/// Below this (non-zero) magnitude the exact path is used: `quantize_f64` moves such
/// values to `2^-24` steps, and the product could be subnormal.
const TINY: f64 = 1.0 / 1048576.0;

impl InputQuant {
    pub fn new(q: &Quantizer, shape: &[usize]) -> InputQuant {
        let fast = q
            .channels
            .iter()
            .enumerate()
            .map(|(c, ch)| {
                let e = ch.scale.exponent;
                let ok = ch.scale.is_pow2() && (-1000..=1000).contains(&e);
                ok.then(|| {
                    let (lo, hi) = q.q_bounds();
                    FastChannel {
                        inv_scale: pow2(-e),
                        zp: ch.zero_point as i128,
                        lo,
                        hi,
                        shift: q.channel_shift(c),
                    }
                })
            })
            .collect();
        InputQuant {
            q: q.clone(),
            chan: super::plan::channels(q, shape),
            fast,
        }
    }

    /// Quantizes whole samples (`real.len()` a multiple of the sample length) into
    /// `out`; `false` if a value is NaN.
    #[inline(always)]
    pub fn quantize_samples(&self, real: &[f64], out: &mut Vec<i64>) -> bool {
        out.clear();
        let len = self.chan.len();
        if len == 0 {
            return true;
        }
        if let (1, Some(p)) = (self.fast.len(), &self.fast[0]) {
            // per-tensor power-of-two scale, the common case: one set of constants and a
            // loop specialised on the rounding mode
            if self.q.overflow == Overflow::Saturate || self.q.is_bipolar() {
                if let Some(f) = Fast64::new(p, &self.q) {
                    return match (self.q.is_bipolar(), self.q.rounding) {
                        (true, _) => {
                            self.fast_loop(&f, real, out, |ip, _| if ip >= 0 { 1 } else { -1 })
                        }
                        (_, Rounding::Floor) => self.fast_loop(&f, real, out, |ip, _| ip),
                        (_, Rounding::Ceil) => {
                            self.fast_loop(&f, real, out, |ip, r| ip + (r != 0.0) as i64)
                        }
                        (_, Rounding::TowardZero) => self
                            .fast_loop(&f, real, out, |ip, r| ip + ((r != 0.0) & (ip < 0)) as i64),
                        (_, Rounding::AwayFromZero) => self
                            .fast_loop(&f, real, out, |ip, r| ip + ((r != 0.0) & (ip >= 0)) as i64),
                        (_, Rounding::HalfEven) => self.fast_loop(&f, real, out, |ip, r| {
                            ip + ((r > 0.5) | ((r == 0.5) & (ip & 1 == 1))) as i64
                        }),
                        (_, Rounding::HalfAwayFromZero) => {
                            self.fast_loop(&f, real, out, |ip, r| {
                                ip + ((r > 0.5) | ((r == 0.5) & (ip >= 0))) as i64
                            })
                        }
                        (_, Rounding::HalfTowardZero) => self.fast_loop(&f, real, out, |ip, r| {
                            ip + ((r > 0.5) | ((r == 0.5) & (ip < 0))) as i64
                        }),
                        (_, Rounding::HalfOdd) => self.fast_loop(&f, real, out, |ip, r| {
                            ip + ((r > 0.5) | ((r == 0.5) & (ip & 1 == 0))) as i64
                        }),
                    };
                }
            }
        }
        let mut nan = false;
        for sample in real.chunks_exact(len) {
            for (&x, &c) in sample.iter().zip(&self.chan) {
                nan |= x.is_nan();
                out.push(self.quantize(x, c as usize));
            }
        }
        !nan
    }

    /// The per-tensor loop in `i64`: `round(ip, rem)` rounds `ip + rem` (`ip` the floor
    /// of `x / scale + zp`, `0 <= rem < 1` its exact fraction); then clamp and rescale.
    #[inline(always)]
    fn fast_loop(
        &self,
        f: &Fast64,
        real: &[f64],
        out: &mut Vec<i64>,
        round: impl Fn(i64, f64) -> i64,
    ) -> bool {
        let mut nan = false;
        let bipolar = self.q.is_bipolar();
        for &x in real {
            nan |= x.is_nan();
            let v = x * f.inv_scale;
            let a = v.abs();
            out.push(if a < BIG && (a >= TINY || x == 0.0) {
                let t = v as i64; // exact truncation: |v| < 2^62
                let fl = t - ((t as f64) > v) as i64;
                let rem = v - fl as f64; // exact
                let q = round(fl + f.zp, rem);
                let q = if bipolar { q } else { q.max(f.lo).min(f.hi) };
                // in i128 and truncated, as `quantize_input` does (only a 64-bit input type
                // with a zero point can leave i64 here)
                ((q as i128 - f.zp as i128) << f.shift) as i64
            } else {
                self.slow(x, 0)
            });
        }
        !nan
    }

    /// Quantizes `x` for channel `c` (any value for NaN: the caller reports it).
    #[inline(always)]
    fn quantize(&self, x: f64, c: usize) -> i64 {
        if let Some(p) = &self.fast[c] {
            let v = x * p.inv_scale;
            let a = v.abs();
            if a < BIG && (a >= TINY || x == 0.0) {
                return self.finish(p, v);
            }
        }
        self.slow(x, c)
    }

    #[inline(never)]
    fn slow(&self, x: f64, c: usize) -> i64 {
        self.q.quantize_f64(x, c).map_or(0, |v| v as i64)
    }

    /// `v = x / scale` exactly, `|v| < 2^62`: round `v + zp`, saturate or wrap, rescale.
    #[inline(always)]
    fn finish(&self, p: &FastChannel, v: f64) -> i64 {
        // floor without a libm call: |v| < 2^62, so truncation to i64 is exact
        let t = v as i64;
        let fl = if (t as f64) > v { t - 1 } else { t };
        let rem = v - fl as f64; // exact: the bits of v below the units
        let ip = fl as i128 + p.zp; // floor(v / scale + zp)
        let q = if self.q.is_bipolar() {
            if ip >= 0 {
                1
            } else {
                -1
            }
        } else {
            let neg = ip < 0;
            let q = if rem == 0.0 {
                ip
            } else {
                match self.q.rounding {
                    Rounding::Floor => ip,
                    Rounding::Ceil => ip + 1,
                    Rounding::TowardZero => ip + neg as i128,
                    Rounding::AwayFromZero => ip + !neg as i128,
                    _ if rem < 0.5 => ip,
                    _ if rem > 0.5 => ip + 1,
                    Rounding::HalfEven => ip + (ip & 1),
                    Rounding::HalfAwayFromZero => ip + !neg as i128,
                    Rounding::HalfTowardZero => ip + neg as i128,
                    Rounding::HalfOdd => ip + 1 - (ip & 1),
                }
            };
            match self.q.overflow {
                Overflow::Saturate => q.clamp(p.lo, p.hi),
                Overflow::Wrap => p.lo + (q - p.lo).rem_euclid(p.hi - p.lo + 1),
            }
        };
        ((q - p.zp) << p.shift) as i64
    }
}
