//! The quantizer: QONNX `Quant` semantics, exact, on integers.
//!
//! QONNX defines `q = clip(round(x / scale + zp), lo, hi)` and `y = (q - zp) * scale`,
//! computed in floating point. aecc computes the same thing exactly: the input is an
//! integer on a power-of-two grid, the scale is the exact dyadic value of the float in
//! the model (`mantissa * 2^exponent`), so `x / scale + zp` is a rational number and
//! its rounding is decided by integer division. The output integer is `(q - zp) *
//! (mantissa / g)` shifted onto the common output grid `2^-out_frac` (the finest grid of
//! all channels), with the scale unit `g` (the largest odd integer dividing every
//! channel's mantissa, see [`crate::fixed::Unit`]): so the output is exactly `y`, and a
//! per-tensor quantizer with a non-power-of-two scale outputs its small codes `q - zp`
//! (unit `mantissa`), not their wide products with the mantissa.
//!
//! The input may carry a unit too (`x * num / den * 2^-frac`): then `x / scale` is
//! `x * num * 2^k / (den * mantissa)`, still one exact integer division.

use crate::fixed::{
    bits_for_interval, gcd, magnitude_bits, pow2_quotient, round_parts, DyadicScale, FixedType,
    Interval, Overflow, Rounding, Unit, MAX_WIDTH,
};
use serde::{Deserialize, Serialize};

/// Largest number of significant bits allowed in a scale's mantissa (f32 scales have 24).
pub const MAX_SCALE_MANTISSA_BITS: u32 = 40;

/// Largest binary exponent (in magnitude) of a scale: covers every finite `f64`
/// (exponents -1074..=971) and keeps the grid arithmetic of the IR far inside `i32`.
pub const MAX_SCALE_EXPONENT: i32 = 2048;

/// Largest zero point (in magnitude).
pub const MAX_ZERO_POINT: u64 = 1 << 62;

/// Scale and zero point of one channel (or of the whole tensor).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ChannelQuant {
    pub scale: DyadicScale,
    pub zero_point: i64,
}

/// A quantizer: rounds and saturates a tensor onto an integer grid.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Quantizer {
    /// One entry per channel along `axis`, or exactly one entry for per-tensor.
    pub channels: Vec<ChannelQuant>,
    /// The channel axis of the tensor when there is more than one channel entry.
    pub axis: Option<usize>,
    pub bit_width: u32,
    pub signed: bool,
    pub narrow: bool,
    pub rounding: Rounding,
    pub overflow: Overflow,
}

impl Quantizer {
    /// A per-tensor quantizer with a power-of-two scale `2^-frac` and zero point 0.
    pub fn pow2(bit_width: u32, frac: i32, signed: bool, rounding: Rounding) -> Quantizer {
        Quantizer {
            channels: vec![ChannelQuant {
                scale: DyadicScale::pow2(-frac),
                zero_point: 0,
            }],
            axis: None,
            bit_width,
            signed,
            narrow: false,
            rounding,
            overflow: Overflow::Saturate,
        }
    }

    /// The QONNX integer bounds `[lo, hi]` of `q`.
    pub fn q_bounds(&self) -> (i128, i128) {
        // total for every width ([`Self::check`] refuses widths outside 1..=64)
        let b = self.bit_width.clamp(1, 120);
        let narrow = self.narrow as i128;
        if self.signed {
            (-(1i128 << (b - 1)) + narrow, (1i128 << (b - 1)) - 1)
        } else {
            (0, (1i128 << b) - 1 - narrow)
        }
    }

    /// QONNX's special case: a signed 1-bit Quant is bipolar (`x >= 0 ? 1 : -1`).
    pub fn is_bipolar(&self) -> bool {
        self.signed && self.bit_width == 1
    }

    /// Whether every channel's scale is a power of two.
    pub fn is_pow2(&self) -> bool {
        self.channels.iter().all(|c| c.scale.is_pow2())
    }

    /// Checks the parameters every other method relies on: at least one channel (exactly
    /// one without an axis), a bit width in `1..=64`, a non-empty range, normalised
    /// scales (odd mantissa of at most [`MAX_SCALE_MANTISSA_BITS`] bits, exponent within
    /// [`MAX_SCALE_EXPONENT`]), zero points within [`MAX_ZERO_POINT`], and output integers
    /// that fit 64 bits on the common grid of all channels.
    ///
    /// Type inference runs this on every `Quantize` node and the verifier on every input
    /// quantizer; after it passes, no method of the quantizer can overflow or panic.
    pub fn check(&self) -> Result<(), String> {
        if self.channels.is_empty() {
            return Err("quantizer has no scale".into());
        }
        if self.axis.is_none() && self.channels.len() != 1 {
            return Err(format!(
                "per-tensor quantizer must have exactly one scale, has {}",
                self.channels.len()
            ));
        }
        if self.bit_width == 0 || self.bit_width > MAX_WIDTH {
            return Err(format!(
                "bit width {} is outside 1..={}",
                self.bit_width, MAX_WIDTH
            ));
        }
        if self.narrow && !self.signed && self.bit_width == 1 {
            return Err("an unsigned narrow 1-bit quantizer has an empty range".into());
        }
        for ch in &self.channels {
            let s = ch.scale;
            if s.mantissa == 0 || s.mantissa % 2 == 0 {
                return Err(format!(
                    "scale {s} is not normalised (the mantissa must be odd and positive)"
                ));
            }
            if 64 - s.mantissa.leading_zeros() > MAX_SCALE_MANTISSA_BITS {
                return Err(format!(
                    "scale {s} has more than {MAX_SCALE_MANTISSA_BITS} significant bits"
                ));
            }
            if s.exponent.unsigned_abs() > MAX_SCALE_EXPONENT as u32 {
                return Err(format!(
                    "scale {s}: binary exponent beyond +-{MAX_SCALE_EXPONENT}"
                ));
            }
            if ch.zero_point.unsigned_abs() > MAX_ZERO_POINT {
                return Err(format!(
                    "zero point {} is out of range (at most 2^62 in magnitude)",
                    ch.zero_point
                ));
            }
        }
        let interval = self.try_out_interval().ok_or_else(|| {
            format!(
                "the quantized values do not fit {MAX_WIDTH} bits on the common grid 2^{} of \
                 all channels",
                -self.out_frac()
            )
        })?;
        if !interval.fits_i64() {
            return Err(format!(
                "the quantized values need {} bits on the common grid 2^{} of all channels \
                 (interval {interval}); the IR holds values in 64-bit signed integers (at \
                 most 63 bits unsigned)",
                bits_for_interval(interval),
                -self.out_frac()
            ));
        }
        Ok(())
    }

    /// Output grid: the finest of the channels' grids.
    pub fn out_frac(&self) -> i32 {
        self.channels
            .iter()
            .map(|c| c.scale.exponent.saturating_neg())
            .max()
            .unwrap_or(0)
    }

    /// Left shift that puts channel `c`'s `(q - zp) * multiplier` on the output grid.
    pub fn channel_shift(&self, c: usize) -> u32 {
        (self.out_frac() as i64 + self.channels[c].scale.exponent as i64) as u32
    }

    /// The scale unit of the output: the largest odd integer dividing every channel's
    /// mantissa (the mantissa itself for a per-tensor quantizer; 1 for power-of-two
    /// scales).
    pub fn out_unit(&self) -> Unit {
        let g = self
            .channels
            .iter()
            .fold(0, |g, c| gcd(g, c.scale.mantissa))
            .max(1);
        Unit::int(g).unwrap_or(Unit::ONE)
    }

    /// The integer factor of channel `c`'s codes on the output grid: its mantissa
    /// divided by the output unit.
    pub fn channel_multiplier(&self, c: usize) -> u64 {
        self.channels[c].scale.mantissa / self.out_unit().num
    }

    /// Exact interval of the output integers, `None` when a bound leaves i128 (only for
    /// parameters [`Self::check`] refuses).
    fn try_out_interval(&self) -> Option<Interval> {
        let (lo, hi) = if self.is_bipolar() {
            (-1, 1)
        } else {
            self.q_bounds()
        };
        let out_frac = self.out_frac() as i64;
        let unit = self.out_unit().num;
        let mut out: Option<Interval> = None;
        for ch in &self.channels {
            let zp = ch.zero_point as i128;
            let shift = out_frac + ch.scale.exponent as i64;
            let iv = Interval::new(lo.checked_sub(zp)?, hi.checked_sub(zp)?)
                .checked_scale((ch.scale.mantissa / unit) as i128)?
                .checked_shl(u32::try_from(shift).ok()?)?;
            out = Some(match out {
                None => iv,
                Some(o) => o.hull(iv),
            });
        }
        Some(out.unwrap_or(Interval::point(0)))
    }

    /// Exact interval of the output integers. Needs [`Self::check`] to pass.
    pub fn out_interval(&self) -> Interval {
        self.try_out_interval()
            .expect("quantizer parameters out of range (Quantizer::check refuses them)")
    }

    /// Output type: the smallest type holding the output interval, on the output grid,
    /// carrying this quantizer's rounding and overflow modes.
    pub fn out_type(&self) -> FixedType {
        let mut t = FixedType::for_interval(self.out_interval(), self.out_frac());
        t.rounding = self.rounding;
        t.overflow = self.overflow;
        t
    }

    /// The code `q` in `q_bounds()` (or +-1 when bipolar) for the exact value
    /// `x * 2^k / m + zp` of channel `ch` (`m`: the mantissa times the denominator of the
    /// input's unit), and whether saturation or wrapping changed it.
    fn code(&self, x: i128, k: i64, m: i128, ch: &ChannelQuant) -> (i128, bool) {
        let (lo, hi) = self.q_bounds();
        let zp = ch.zero_point as i128;
        match scaled(x, k, m) {
            Scaled::Parts { floor, rem, den } => {
                let int_part = floor + zp;
                if self.is_bipolar() {
                    // value >= 0 iff its floor is >= 0
                    return (if int_part >= 0 { 1 } else { -1 }, false);
                }
                let q = round_parts(int_part, rem, den, self.rounding);
                let fitted = match self.overflow {
                    Overflow::Saturate => q.clamp(lo, hi),
                    Overflow::Wrap => lo + (q - lo).rem_euclid(hi - lo + 1),
                };
                (fitted, fitted != q)
            }
            Scaled::Huge { negative } => {
                if self.is_bipolar() {
                    return (if negative { -1 } else { 1 }, false);
                }
                match self.overflow {
                    Overflow::Saturate => (if negative { lo } else { hi }, true),
                    Overflow::Wrap => {
                        // Only k >= 0 gives a huge value: the rounded code modulo the
                        // range, exactly.
                        let range = (hi - lo + 1) as u128;
                        let (floor_mod, rem) = floor_mod(x, k as u64, m, range);
                        let up = rem != 0
                            && match self.rounding {
                                Rounding::Floor => false,
                                Rounding::Ceil => true,
                                Rounding::TowardZero => negative,
                                Rounding::AwayFromZero => !negative,
                                // m is odd: no ties
                                _ => 2 * rem > m,
                            };
                        let q = floor_mod as i128 + up as i128 + zp;
                        (lo + (q - lo).rem_euclid(hi - lo + 1), true)
                    }
                }
            }
        }
    }

    /// The output integer of code `q` for channel `c`.
    fn output_of(&self, q: i128, c: usize) -> i128 {
        let ch = &self.channels[c];
        (q - ch.zero_point as i128)
            .checked_mul(self.channel_multiplier(c) as i128)
            .and_then(|v| crate::fixed::checked_shl_exact(v, self.channel_shift(c)))
            .expect("quantizer parameters out of range (Quantizer::check refuses them)")
    }

    /// Quantizes the integer `x` of a tensor on grid `2^-in_frac`, for channel `c`.
    /// Returns the output integer on grid `2^-out_frac()`. Exact for every `x` and
    /// `in_frac`; needs [`Self::check`] to pass.
    pub fn quantize_int(&self, x: i128, in_frac: i32, c: usize) -> i128 {
        self.overflowing_quantize_int(x, in_frac, c).0
    }

    /// [`Self::quantize_int`], and whether the value was out of range (saturated or
    /// wrapped): the hook `aecc simulate --check-overflow` counts with.
    pub fn overflowing_quantize_int(&self, x: i128, in_frac: i32, c: usize) -> (i128, bool) {
        self.overflowing_quantize_scaled(x, in_frac, Unit::ONE, c)
    }

    /// Quantizes the integer `x` of a tensor on grid `in_unit * 2^-in_frac`, for channel
    /// `c`. Returns the output integer on the grid `out_unit() * 2^-out_frac()`. Exact
    /// when `x * in_unit.num` fits 128 bits (type inference checks the input interval).
    pub fn quantize_scaled(&self, x: i128, in_frac: i32, in_unit: Unit, c: usize) -> i128 {
        self.overflowing_quantize_scaled(x, in_frac, in_unit, c).0
    }

    /// [`Self::quantize_scaled`], and whether the value was out of range.
    pub fn overflowing_quantize_scaled(
        &self,
        x: i128,
        in_frac: i32,
        in_unit: Unit,
        c: usize,
    ) -> (i128, bool) {
        let ch = &self.channels[c];
        // x * n/d * 2^-in_frac / (m * 2^e) = x * n * 2^k / (d * m) with k = -in_frac - e.
        let k = -(in_frac as i64) - ch.scale.exponent as i64;
        let x = x
            .checked_mul(in_unit.num as i128)
            .expect("input times its unit fits 128 bits (checked by type inference)");
        let m = ch.scale.mantissa as i128 * in_unit.den as i128;
        let (q, overflowed) = self.code(x, k, m, ch);
        (self.output_of(q, c), overflowed)
    }

    /// The rounded code `round(x * in_unit * 2^-in_frac / scale) + zp` of channel `c`
    /// before saturation or wrapping (bipolar quantizers: not meaningful). `None` when
    /// it does not fit 128 bits.
    pub fn unclamped_code(&self, x: i128, in_frac: i32, in_unit: Unit, c: usize) -> Option<i128> {
        let ch = &self.channels[c];
        let k = -(in_frac as i64) - ch.scale.exponent as i64;
        let x = x.checked_mul(in_unit.num as i128)?;
        let m = ch.scale.mantissa as i128 * in_unit.den as i128;
        match scaled(x, k, m) {
            Scaled::Parts { floor, rem, den } => Some(round_parts(
                floor.checked_add(ch.zero_point as i128)?,
                rem,
                den,
                self.rounding,
            )),
            Scaled::Huge { .. } => None,
        }
    }

    /// Quantizes a real (floating-point) value exactly, for channel `c`; infinities
    /// saturate to the bounds in either overflow mode. `None` for NaN.
    pub fn quantize_f64(&self, x: f64, c: usize) -> Option<i128> {
        self.overflowing_quantize_f64(x, c).map(|(y, _)| y)
    }

    /// [`Self::quantize_f64`], and whether the value was out of range.
    pub fn overflowing_quantize_f64(&self, x: f64, c: usize) -> Option<(i128, bool)> {
        if x.is_nan() {
            return None;
        }
        if x.is_infinite() {
            let q = if self.is_bipolar() {
                x.signum() as i128
            } else {
                let (lo, hi) = self.q_bounds();
                if x < 0.0 {
                    lo
                } else {
                    hi
                }
            };
            return Some((self.output_of(q, c), !self.is_bipolar()));
        }
        let (n, frac) = f64_to_dyadic(x);
        Some(self.overflowing_quantize_int(n, frac, c))
    }

    /// The output integer for the quantized code `q` (in `q_bounds()`) of channel `c`:
    /// every value the quantizer can produce is `grid_value(q, c)` for some `q`.
    pub fn grid_value(&self, q: i128, c: usize) -> i128 {
        self.output_of(q, c)
    }

    /// The channel of element `flat` of a tensor with shape `shape`.
    pub fn channel_of(&self, flat: usize, shape: &[usize]) -> usize {
        match self.axis {
            None => 0,
            Some(axis) => {
                let stride: usize = shape[axis + 1..].iter().product();
                (flat / stride) % shape[axis]
            }
        }
    }
}

/// The exact value `x * 2^k / m` (`1 <= m < 2^40`), split for rounding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scaled {
    /// `floor + rem / den` with `0 <= rem < den`. `rem / den` may be a stand-in for the
    /// true fraction that every rounding mode rounds the same way (see
    /// [`pow2_quotient`]); `|floor| < 2^121`.
    Parts { floor: i128, rem: i128, den: i128 },
    /// `|value| >= 2^80`: beyond every quantizer range even after adding a zero point.
    Huge { negative: bool },
}

fn scaled(x: i128, k: i64, m: i128) -> Scaled {
    // m is a mantissa (< 2^40), or one times a unit's denominator for the inputs type
    // inference admits (whose values stay inside the exact path)
    debug_assert!((1..1i128 << 100).contains(&m));
    if x == 0 {
        return Scaled::Parts {
            floor: 0,
            rem: 0,
            den: 1,
        };
    }
    if k >= 0 {
        // |x| * 2^k >= 2^(bits - 1 + k) and m < 2^40
        if magnitude_bits(x) as i64 + k <= 120 {
            let num = x << k;
            return Scaled::Parts {
                floor: num.div_euclid(m),
                rem: num.rem_euclid(m),
                den: m,
            };
        }
        return Scaled::Huge { negative: x < 0 };
    }
    let s = k.unsigned_abs();
    if (128 - m.leading_zeros()) as u64 + s <= 120 {
        let den = m << s;
        return Scaled::Parts {
            floor: x.div_euclid(den),
            rem: x.rem_euclid(den),
            den,
        };
    }
    // m * 2^s leaves i128: x = a * 2^s + r, a = qa * m + ra, so the value is
    // qa + (ra + r / 2^s) / m; r / 2^s is replaced by its class / 4, which every
    // rounding mode treats alike (comparisons with 0 and 1/2 are kept).
    let (a, class) = pow2_quotient(x, s.min(u32::MAX as u64) as u32);
    Scaled::Parts {
        floor: a.div_euclid(m),
        rem: 4 * a.rem_euclid(m) + class,
        den: 4 * m,
    }
}

/// `(floor(x * 2^k / m) mod range, (x * 2^k) mod m)` exactly, for `range <= 2^64`,
/// `1 <= m < 2^40`, any `x` and `k`, without leaving 128 bits.
fn floor_mod(x: i128, k: u64, m: i128, range: u128) -> (u128, i128) {
    fn mul_mod(a: u128, b: u128, r: u128) -> u128 {
        (a % r) * (b % r) % r // both factors < 2^64
    }
    // 2^k mod range by squaring
    let mut pow = 1u128 % range;
    let mut base = 2u128 % range;
    let mut e = k;
    while e > 0 {
        if e & 1 == 1 {
            pow = mul_mod(pow, base, range);
        }
        base = mul_mod(base, base, range);
        e >>= 1;
    }
    // x = t * m + u: floor(x 2^k / m) = t 2^k + floor(u 2^k / m)
    let t = x.div_euclid(m).rem_euclid(range as i128) as u128;
    let mut u = x.rem_euclid(m) as u128;
    let mut acc = mul_mod(t, pow, range);
    // floor(u 2^k / m) mod range, 60 bits at a time (u < 2^40)
    let mut g = 0u128;
    let mut left = k;
    let m = m as u128;
    while left > 0 {
        let c = left.min(60) as u32;
        let v = u << c;
        g = ((g << c) % range + v / m) % range;
        u = v % m;
        left -= c as u64;
    }
    acc = (acc + g) % range;
    (acc, u as i128)
}

/// Exact `(n, frac)` with `x == n * 2^-frac` for a finite float.
pub fn f64_to_dyadic(x: f64) -> (i128, i32) {
    if x == 0.0 {
        return (0, 0);
    }
    let s = crate::fixed::DyadicScale::from_f64(x.abs()).expect("finite non-zero");
    let n = s.mantissa as i128 * if x < 0.0 { -1 } else { 1 };
    (n, -s.exponent)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(bits: u32, frac: i32, signed: bool, narrow: bool, mode: Rounding) -> Quantizer {
        let mut q = Quantizer::pow2(bits, frac, signed, mode);
        q.narrow = narrow;
        q
    }

    /// The float formula of QONNX `int_quant`, written out in f64, as a check of the
    /// integer path on values where f64 is exact.
    fn qonnx_float(x: f64, scale: f64, zp: f64, qz: &Quantizer) -> f64 {
        let (lo, hi) = qz.q_bounds();
        let y = x / scale + zp;
        let y = y.clamp(lo as f64, hi as f64);
        let r = match qz.rounding {
            Rounding::HalfEven => {
                let f = y.floor();
                let d = y - f;
                if d > 0.5 || (d == 0.5 && f % 2.0 != 0.0) {
                    f + 1.0
                } else {
                    f
                }
            }
            Rounding::Floor => y.floor(),
            Rounding::Ceil => y.ceil(),
            Rounding::TowardZero => y.trunc(),
            Rounding::AwayFromZero => y.signum() * y.abs().ceil(),
            Rounding::HalfAwayFromZero => y.signum() * (y.abs() + 0.5).floor(),
            Rounding::HalfTowardZero => y.signum() * (y.abs() - 0.5).ceil(),
            Rounding::HalfOdd => {
                let f = y.floor();
                let d = y - f;
                if d > 0.5 || (d == 0.5 && f % 2.0 == 0.0) {
                    f + 1.0
                } else {
                    f
                }
            }
        };
        (r - zp) * scale
    }

    #[test]
    fn econt_input_quantizer() {
        // 10-bit signed, 3 integer bits: scale 2^-7, range [-4, 4 - 2^-7]
        let qz = q(10, 7, true, false, Rounding::HalfEven);
        assert_eq!(qz.quantize_f64(1.0, 0), Some(128));
        assert_eq!(qz.quantize_f64(100.0, 0), Some(511));
        assert_eq!(qz.quantize_f64(-100.0, 0), Some(-512));
        // 0.5 grid step ties to even
        assert_eq!(qz.quantize_f64(1.5 / 128.0, 0), Some(2));
        assert_eq!(qz.quantize_f64(2.5 / 128.0, 0), Some(2));
        assert_eq!(
            qz.out_type(),
            FixedType {
                rounding: Rounding::HalfEven,
                overflow: Overflow::Saturate,
                ..FixedType::exact(10, 7, true)
            }
        );
    }

    #[test]
    fn requantize_from_finer_grid_all_modes() {
        for mode in Rounding::ALL {
            for narrow in [false, true] {
                for signed in [true, false] {
                    let qz = q(4, 2, signed, narrow, mode);
                    for x in -200i128..200 {
                        // x on grid 2^-5 -> quantize to grid 2^-2
                        let got = qz.quantize_int(x, 5, 0);
                        let want = qonnx_float(x as f64 / 32.0, 0.25, 0.0, &qz);
                        assert_eq!(
                            got as f64 * 0.25,
                            want,
                            "{mode:?} narrow={narrow} signed={signed} x={x}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn zero_point_and_odd_scale() {
        // uint8 with zero point 128 and scale 3 * 2^-4 = 0.1875
        let mut qz = q(8, 0, false, false, Rounding::HalfEven);
        qz.channels[0] = ChannelQuant {
            scale: DyadicScale {
                mantissa: 3,
                exponent: -4,
            },
            zero_point: 128,
        };
        assert_eq!(qz.out_frac(), 4);
        // the output is the code q - zp, with the unit 3: value (q - zp) * 3 * 2^-4
        assert_eq!(qz.out_unit(), Unit::int(3).unwrap());
        for x in -3000i128..3000 {
            let got = qz.quantize_int(x, 6, 0); // x * 2^-6
            let want = qonnx_float(x as f64 / 64.0, 0.1875, 128.0, &qz);
            assert_eq!(got as f64 * 3.0 / 16.0, want, "x={x}");
        }
        assert_eq!(qz.out_interval(), Interval::new(-128, 127));
    }

    #[test]
    fn input_units_divide_exactly() {
        // input x * 5/3 * 2^-2, quantized with scale 7 * 2^-3, zp 1, int6, half-even:
        // q = round(x * 5/3 / 4 / (7/8) + 1) = round(10x / 21 + 1)
        let mut qz = q(6, 0, true, false, Rounding::HalfEven);
        qz.channels[0] = ChannelQuant {
            scale: DyadicScale {
                mantissa: 7,
                exponent: -3,
            },
            zero_point: 1,
        };
        let unit = Unit::new(5, 3).unwrap();
        for x in -200i128..200 {
            let want_q =
                crate::fixed::div_round(10 * x + 21, 21, Rounding::HalfEven).clamp(-32, 31);
            assert_eq!(qz.quantize_scaled(x, 2, unit, 0), want_q - 1, "x={x}");
        }
        // hand-computed: x = 21: 10 + 1 = 11 -> code 10; x = -63: -30 + 1 = -29 -> -30
        assert_eq!(qz.quantize_scaled(21, 2, unit, 0), 10);
        assert_eq!(qz.quantize_scaled(-63, 2, unit, 0), -30);
        // a tie: 10x/21 + 1 = 2.5 at x = 3.15 (none); x = 0 -> exactly 1 -> code 0
        assert_eq!(qz.quantize_scaled(0, 2, unit, 0), 0);
    }

    #[test]
    fn per_channel_mantissas_share_their_gcd() {
        let qz = Quantizer {
            channels: vec![
                ChannelQuant {
                    scale: DyadicScale {
                        mantissa: 3,
                        exponent: -2,
                    },
                    zero_point: 0,
                },
                ChannelQuant {
                    scale: DyadicScale {
                        mantissa: 9,
                        exponent: -4,
                    },
                    zero_point: 0,
                },
            ],
            axis: Some(0),
            ..q(4, 0, true, false, Rounding::HalfEven)
        };
        assert_eq!(qz.out_unit(), Unit::int(3).unwrap());
        assert_eq!((qz.channel_multiplier(0), qz.channel_multiplier(1)), (1, 3));
        // channel 0: 1.0 / 0.75 = 1.33 -> 1 -> on grid 3 * 2^-4: 1 << 2 = 4 (= 0.75)
        assert_eq!(qz.quantize_f64(1.0, 0), Some(4));
        // channel 1: 1.0 / 0.5625 = 1.78 -> 2 -> 2 * 3 = 6 (= 6 * 3/16 = 1.125)
        assert_eq!(qz.quantize_f64(1.0, 1), Some(6));
    }

    #[test]
    fn bipolar_quirk() {
        let qz = q(1, 0, true, false, Rounding::HalfEven);
        assert_eq!(qz.quantize_f64(0.0, 0), Some(1));
        assert_eq!(qz.quantize_f64(-0.001, 0), Some(-1));
        assert_eq!(qz.quantize_f64(7.0, 0), Some(1));
    }

    #[test]
    fn per_channel_common_grid() {
        let qz = Quantizer {
            channels: vec![
                ChannelQuant {
                    scale: DyadicScale::pow2(-3),
                    zero_point: 0,
                },
                ChannelQuant {
                    scale: DyadicScale::pow2(-5),
                    zero_point: 0,
                },
            ],
            axis: Some(0),
            ..q(6, 0, true, false, Rounding::HalfEven)
        };
        assert_eq!(qz.out_frac(), 5);
        // channel 0: 0.5 -> q = 4 -> on grid 2^-5: 16
        assert_eq!(qz.quantize_f64(0.5, 0), Some(16));
        assert_eq!(qz.quantize_f64(0.5, 1), Some(16));
        // channel 0 saturates at 31 * 2^-3
        assert_eq!(qz.quantize_f64(100.0, 0), Some(31 << 2));
        assert_eq!(qz.channel_of(5, &[2, 3]), 1);
    }

    #[test]
    fn extreme_floats_do_not_overflow() {
        let qz = q(8, 4, true, false, Rounding::Ceil);
        assert_eq!(qz.quantize_f64(f64::INFINITY, 0), Some(127));
        assert_eq!(qz.quantize_f64(f64::NEG_INFINITY, 0), Some(-128));
        assert_eq!(qz.quantize_f64(1e-300, 0), Some(1));
        assert_eq!(qz.quantize_f64(-1e-300, 0), Some(0));
        assert_eq!(qz.quantize_f64(f64::NAN, 0), None);
    }
}
