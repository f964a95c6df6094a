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

    /// Quantizes element `idx` of a sample; `None` for NaN.
    #[inline]
    pub fn quantize(&self, x: f64, idx: usize) -> Option<i64> {
        if x.is_nan() {
            return None;
        }
        let c = self.chan[idx] as usize;
        if let Some(p) = &self.fast[c] {
            let v = x * p.inv_scale;
            let a = v.abs();
            if a < BIG && (a >= TINY || x == 0.0) {
                return Some(self.finish(p, v));
            }
        }
        self.q.quantize_f64(x, c).map(|v| v as i64)
    }

    /// `v = x / scale` exactly, `|v| < 2^62`: round `v + zp`, saturate or wrap, rescale.
    #[inline]
    fn finish(&self, p: &FastChannel, v: f64) -> i64 {
        let fl = v.floor();
        let rem = v - fl; // exact: the bits of v below the units
        let ip = fl as i128 + p.zp; // floor(v + zp)
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
