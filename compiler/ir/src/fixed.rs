//! Fixed-point types and the exact integer arithmetic behind them.
//!
//! This module is the only place in aecc where rounding, saturation and wrapping are
//! defined. A value of a tensor is an integer `x` standing for the real number
//! `x * 2^-frac`; every backend reproduces these functions bit for bit and the
//! co-simulation proves it.

use serde::{Deserialize, Serialize};
use std::fmt;

/// How a value that falls between two grid points is rounded.
///
/// The names follow QONNX (`ROUND`/`HALF_EVEN`, `CEIL`, `FLOOR`, `UP`, `DOWN`,
/// `HALF_UP`, `HALF_DOWN`); `ROUND_TO_ZERO` is accepted as an alias of `DOWN`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Rounding {
    /// Round to nearest, ties to even (`np.round`, ONNX QuantizeLinear, `AP_RND_CONV`).
    HalfEven,
    /// Round to nearest, ties away from zero (QONNX `HALF_UP`).
    HalfAwayFromZero,
    /// Round to nearest, ties toward zero (QONNX `HALF_DOWN`).
    HalfTowardZero,
    /// Toward minus infinity (`np.floor`, `AP_TRN`).
    Floor,
    /// Toward plus infinity (`np.ceil`).
    Ceil,
    /// Toward zero (`np.fix`, QONNX `DOWN`/`ROUND_TO_ZERO`, `AP_TRN_ZERO`).
    TowardZero,
    /// Away from zero (QONNX `UP`).
    AwayFromZero,
    /// Round to nearest, ties to odd. Not a QONNX mode: ONNX `QuantizeLinear` rounds
    /// `x / scale` half to even *before* adding the zero point, which for an odd zero
    /// point is `round_half_to_odd(x / scale + zp)`.
    HalfOdd,
}

impl Rounding {
    /// Parses a QONNX `rounding_mode` attribute (case-insensitive).
    pub fn from_qonnx(mode: &str) -> Option<Rounding> {
        Some(match mode.to_ascii_uppercase().as_str() {
            "ROUND" | "HALF_EVEN" => Rounding::HalfEven,
            "CEIL" => Rounding::Ceil,
            "FLOOR" => Rounding::Floor,
            "UP" => Rounding::AwayFromZero,
            "DOWN" | "ROUND_TO_ZERO" => Rounding::TowardZero,
            "HALF_UP" => Rounding::HalfAwayFromZero,
            "HALF_DOWN" => Rounding::HalfTowardZero,
            _ => return None,
        })
    }

    /// The QONNX spelling of this mode.
    pub fn qonnx_name(self) -> &'static str {
        match self {
            Rounding::HalfEven => "ROUND",
            Rounding::HalfAwayFromZero => "HALF_UP",
            Rounding::HalfTowardZero => "HALF_DOWN",
            Rounding::Floor => "FLOOR",
            Rounding::Ceil => "CEIL",
            Rounding::TowardZero => "ROUND_TO_ZERO",
            Rounding::AwayFromZero => "UP",
            Rounding::HalfOdd => "HALF_ODD",
        }
    }

    /// Every mode (the QONNX ones and `HalfOdd`).
    pub const ALL: [Rounding; 8] = [
        Rounding::HalfEven,
        Rounding::HalfAwayFromZero,
        Rounding::HalfTowardZero,
        Rounding::Floor,
        Rounding::Ceil,
        Rounding::TowardZero,
        Rounding::AwayFromZero,
        Rounding::HalfOdd,
    ];
}

/// What happens to a value outside the representable range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Overflow {
    /// Clamp to the nearest bound (QONNX `Quant`, `AP_SAT`).
    Saturate,
    /// Keep the low `width` bits, two's complement (`AP_WRAP`).
    Wrap,
}

/// A fixed-point type: `width` bits, the integer `x` stands for `x * 2^-frac`.
///
/// `frac` may be negative (a coarse grid) or larger than `width` (all bits fractional).
/// `rounding` and `overflow` describe how values are converted *into* this type; for
/// exact intermediate signals (accumulators) they are `Floor`/`Wrap` and never act,
/// because interval analysis sizes those types so nothing is lost.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct FixedType {
    pub width: u32,
    pub frac: i32,
    pub signed: bool,
    pub rounding: Rounding,
    pub overflow: Overflow,
}

/// The widest integer type the IR allows on a tensor (values are held in `i64`, so an
/// unsigned tensor has at most 63 bits: see [`Interval::fits_i64`]).
pub const MAX_WIDTH: u32 = 64;

impl FixedType {
    /// An exact type: conversion into it never rounds or saturates by construction.
    pub fn exact(width: u32, frac: i32, signed: bool) -> FixedType {
        FixedType {
            width,
            frac,
            signed,
            rounding: Rounding::Floor,
            overflow: Overflow::Wrap,
        }
    }

    /// The smallest exact type that holds every integer of `interval`.
    pub fn for_interval(interval: Interval, frac: i32) -> FixedType {
        let signed = interval.lo < 0;
        FixedType::exact(bits_for_interval(interval), frac, signed)
    }

    /// Integer bits including the sign bit (the `I` of `ap_fixed<W,I>`).
    pub fn int_bits(&self) -> i32 {
        self.width as i32 - self.frac
    }

    /// Smallest integer representable.
    ///
    /// Total for every `width`: a width outside `1..=MAX_WIDTH` is not a valid IR type
    /// (the verifier refuses it), but asking for its range never panics (width 0 reads
    /// as 1, widths beyond 127 as 127).
    pub fn min_int(&self) -> i128 {
        let w = self.width.clamp(1, 127);
        if self.signed {
            -(1i128 << (w - 1))
        } else {
            0
        }
    }

    /// Largest integer representable (total for every `width`, see [`Self::min_int`]).
    pub fn max_int(&self) -> i128 {
        let w = self.width.clamp(1, 127);
        if self.signed {
            (1i128 << (w - 1)) - 1
        } else {
            (1i128 << w) - 1
        }
    }

    /// The full interval of this type.
    pub fn range(&self) -> Interval {
        Interval::new(self.min_int(), self.max_int())
    }

    /// Whether `x` is representable.
    pub fn contains(&self, x: i128) -> bool {
        x >= self.min_int() && x <= self.max_int()
    }

    /// Brings `x` into range by this type's overflow mode.
    pub fn fit(&self, x: i128) -> i128 {
        match self.overflow {
            Overflow::Saturate => x.clamp(self.min_int(), self.max_int()),
            Overflow::Wrap => wrap(x, self.width, self.signed),
        }
    }

    /// Real value of the integer `x` in this type (exact when `width <= 53`).
    pub fn to_f64(&self, x: i128) -> f64 {
        x as f64 * pow2(-self.frac)
    }
}

impl fmt::Display for FixedType {
    /// `s10.7` = signed, 10 bits, 7 fractional; `u9.8` = unsigned, 9 bits, 8 fractional.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}{}.{}",
            if self.signed { 's' } else { 'u' },
            self.width,
            self.frac
        )
    }
}

/// A closed interval of integers, `lo <= hi`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Interval {
    pub lo: i128,
    pub hi: i128,
}

#[allow(clippy::should_implement_trait)] // interval arithmetic reads best as methods
impl Interval {
    pub fn new(lo: i128, hi: i128) -> Interval {
        debug_assert!(lo <= hi, "interval [{lo}, {hi}] is empty");
        Interval { lo, hi }
    }
    pub fn point(x: i128) -> Interval {
        Interval { lo: x, hi: x }
    }
    pub fn hull(self, other: Interval) -> Interval {
        Interval {
            lo: self.lo.min(other.lo),
            hi: self.hi.max(other.hi),
        }
    }
    /// The interval of `x + y`. Panics on i128 overflow; use [`Self::checked_add`] on
    /// values that come from outside the IR.
    pub fn add(self, other: Interval) -> Interval {
        self.checked_add(other)
            .expect("interval sum overflows i128 (use checked_add)")
    }
    /// The interval of `c * x` for a constant `c`. Panics on i128 overflow; see
    /// [`Self::checked_scale`].
    pub fn scale(self, c: i128) -> Interval {
        self.checked_scale(c)
            .expect("interval product overflows i128 (use checked_scale)")
    }
    /// The interval of `x << s` (multiplication by `2^s`). Panics on i128 overflow; see
    /// [`Self::checked_shl`].
    pub fn shl(self, s: u32) -> Interval {
        self.checked_shl(s)
            .expect("interval shift overflows i128 (use checked_shl)")
    }
    /// `x + y`, or `None` when a bound leaves i128.
    pub fn checked_add(self, other: Interval) -> Option<Interval> {
        Some(Interval {
            lo: self.lo.checked_add(other.lo)?,
            hi: self.hi.checked_add(other.hi)?,
        })
    }
    /// `c * x`, or `None` when a bound leaves i128.
    pub fn checked_scale(self, c: i128) -> Option<Interval> {
        let (a, b) = (self.lo.checked_mul(c)?, self.hi.checked_mul(c)?);
        Some(Interval {
            lo: a.min(b),
            hi: a.max(b),
        })
    }
    /// `x << s` (exact multiplication by `2^s`), or `None` when a bound leaves i128.
    pub fn checked_shl(self, s: u32) -> Option<Interval> {
        Some(Interval {
            lo: checked_shl_exact(self.lo, s)?,
            hi: checked_shl_exact(self.hi, s)?,
        })
    }
    pub fn relu(self) -> Interval {
        Interval {
            lo: self.lo.max(0),
            hi: self.hi.max(0),
        }
    }
    pub fn contains(&self, x: i128) -> bool {
        self.lo <= x && x <= self.hi
    }
    /// Whether every value fits `i64`, the type the IR's tensors are held in.
    pub fn fits_i64(&self) -> bool {
        self.lo >= i64::MIN as i128 && self.hi <= i64::MAX as i128
    }
}

impl fmt::Display for Interval {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{}, {}]", self.lo, self.hi)
    }
}

/// Fewest bits of a two's-complement (if `lo < 0`) or unsigned integer holding `interval`.
/// At least one bit.
pub fn bits_for_interval(interval: Interval) -> u32 {
    fn unsigned_bits(x: i128) -> u32 {
        // bits to hold 0..=x
        128 - (x as u128).leading_zeros()
    }
    if interval.lo < 0 {
        // signed: need -2^(w-1) <= lo and hi <= 2^(w-1)-1
        let neg = unsigned_bits(-(interval.lo + 1)); // bits of |lo|-1
        let pos = unsigned_bits(interval.hi.max(0));
        neg.max(pos) + 1
    } else {
        unsigned_bits(interval.hi).max(1)
    }
}

/// `x * 2^s` exactly, or `None` when it leaves i128 (unlike `i128::checked_shl`, which
/// only checks the shift amount and drops high bits).
pub fn checked_shl_exact(x: i128, s: u32) -> Option<i128> {
    if x == 0 {
        return Some(0);
    }
    if s >= 127 {
        return None;
    }
    let y = x << s;
    (y >> s == x).then_some(y)
}

/// Number of bits of `|x|` (0 for 0).
pub fn magnitude_bits(x: i128) -> u32 {
    128 - x.unsigned_abs().leading_zeros()
}

/// `2^e` as a float (exact for the exponents used here).
pub fn pow2(e: i32) -> f64 {
    (2.0f64).powi(e)
}

/// Two's-complement wrap of `x` to `width` bits.
pub fn wrap(x: i128, width: u32, signed: bool) -> i128 {
    if width >= 127 {
        return x;
    }
    let m = 1i128 << width;
    let low = x.rem_euclid(m);
    if signed && low >= m / 2 {
        low - m
    } else {
        low
    }
}

/// `round(num / den)` exactly, for `den > 0`, with the given rounding mode.
pub fn div_round(num: i128, den: i128, mode: Rounding) -> i128 {
    assert!(den > 0, "div_round needs a positive divisor");
    round_parts(num.div_euclid(den), num.rem_euclid(den), den, mode)
}

/// Rounds the rational `int_part + rem / den` (with `0 <= rem < den`) to an integer.
///
/// Splitting the value this way lets callers add an integer offset (a zero point) to
/// `int_part` without multiplying it by a large denominator.
pub fn round_parts(int_part: i128, rem: i128, den: i128, mode: Rounding) -> i128 {
    debug_assert!(0 <= rem && rem < den);
    let q = int_part; // floor of the value
    if rem == 0 {
        return q;
    }
    // The value lies strictly between q and q + 1; it is negative iff q < 0.
    let negative = q < 0;
    let toward_zero = if negative { q + 1 } else { q };
    let away_from_zero = if negative { q } else { q + 1 };
    match mode {
        Rounding::Floor => q,
        Rounding::Ceil => q + 1,
        Rounding::TowardZero => toward_zero,
        Rounding::AwayFromZero => away_from_zero,
        Rounding::HalfEven
        | Rounding::HalfAwayFromZero
        | Rounding::HalfTowardZero
        | Rounding::HalfOdd => {
            // compare rem/den with 1/2 without overflow: rem vs den - rem
            let other = den - rem;
            if rem < other {
                q
            } else if rem > other {
                q + 1
            } else {
                match mode {
                    Rounding::HalfEven => q + q.rem_euclid(2),
                    Rounding::HalfOdd => q + 1 - q.rem_euclid(2),
                    Rounding::HalfAwayFromZero => away_from_zero,
                    _ => toward_zero,
                }
            }
        }
    }
}

/// `round(x * 2^-shift)` for `shift >= 0` (a right shift with rounding); exact for
/// every `x` and `shift`.
pub fn shift_round(x: i128, shift: u32, mode: Rounding) -> i128 {
    if shift == 0 {
        return x;
    }
    let (floor, class) = pow2_quotient(x, shift);
    round_parts(floor, class, 4, mode)
}

/// `x * 2^-s` (`s >= 1`) as `floor + class / 4`, where `class` stands for the dropped
/// bits `r` (`0 <= r < 2^s`) as far as any rounding mode can tell: 0 when `r == 0`, 1
/// below one half, 2 exactly one half, 3 above. Exact for every `x` and `s`, even where
/// `2^s` itself leaves i128.
pub(crate) fn pow2_quotient(x: i128, s: u32) -> (i128, i128) {
    debug_assert!(s >= 1);
    if s >= 128 {
        // |x| <= 2^127 <= 2^(s-1): the value lies in [-1/2, 1/2)
        return match x {
            0 => (0, 0),
            x if x > 0 => (0, 1),
            i128::MIN if s == 128 => (-1, 2),
            _ => (-1, 3),
        };
    }
    let floor = x >> s;
    // the residue x - floor * 2^s in [0, 2^s), computed modulo 2^128
    let r = (x as u128).wrapping_sub((floor as u128).wrapping_shl(s));
    let half = 1u128 << (s - 1);
    let class = match r.cmp(&half) {
        _ if r == 0 => 0,
        std::cmp::Ordering::Less => 1,
        std::cmp::Ordering::Equal => 2,
        std::cmp::Ordering::Greater => 3,
    };
    (floor, class)
}

/// A scale factor `mantissa * 2^exponent` with an odd (or unit) positive mantissa.
///
/// Every finite positive binary float is exactly such a dyadic rational, so a scale read
/// from an ONNX float tensor is represented without error; a power of two has
/// `mantissa == 1`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct DyadicScale {
    pub mantissa: u64,
    pub exponent: i32,
}

impl DyadicScale {
    pub fn pow2(exponent: i32) -> DyadicScale {
        DyadicScale {
            mantissa: 1,
            exponent,
        }
    }

    /// The exact dyadic form of a positive finite float; `None` for zero, negative,
    /// NaN or infinite values.
    pub fn from_f64(v: f64) -> Option<DyadicScale> {
        if !(v.is_finite() && v > 0.0) {
            return None;
        }
        let bits = v.to_bits();
        let exp_bits = ((bits >> 52) & 0x7ff) as i32;
        let frac_bits = bits & ((1u64 << 52) - 1);
        let (mut mantissa, mut exponent) = if exp_bits == 0 {
            (frac_bits, -1074)
        } else {
            (frac_bits | (1u64 << 52), exp_bits - 1075)
        };
        let tz = mantissa.trailing_zeros();
        mantissa >>= tz;
        exponent += tz as i32;
        Some(DyadicScale { mantissa, exponent })
    }

    pub fn is_pow2(&self) -> bool {
        self.mantissa == 1
    }

    pub fn to_f64(&self) -> f64 {
        self.mantissa as f64 * pow2(self.exponent)
    }
}

impl fmt::Display for DyadicScale {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.mantissa == 1 {
            write!(f, "2^{}", self.exponent)
        } else {
            write!(f, "{}*2^{}", self.mantissa, self.exponent)
        }
    }
}

/// Largest number of bits of a unit's numerator or denominator.
pub const MAX_UNIT_BITS: u32 = 62;

/// Greatest common divisor (`gcd(0, b) = b`).
pub fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// The odd rational part of a tensor's scale.
///
/// A tensor's integer `x` stands for the real number `x * num / den * 2^-frac`: the
/// power-of-two part of the scale is the fixed-point grid (`frac`), the rest is this
/// unit. `num` and `den` are odd, coprime and positive; plain fixed-point tensors have
/// the unit `1/1`. Units let a tensor quantized with a non-power-of-two scale
/// `m * 2^e` carry its small integer codes (`q - zp`, unit `m`) instead of the wide
/// products `(q - zp) * m`, and let an average pool divide by its window size exactly
/// (unit `1/9` for a 3x3 window) without a divider: the division happens, exactly, in
/// the next quantizer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Unit {
    pub num: u64,
    pub den: u64,
}

impl Default for Unit {
    fn default() -> Unit {
        Unit::ONE
    }
}

impl Unit {
    pub const ONE: Unit = Unit { num: 1, den: 1 };

    /// `num / den` in lowest terms; `None` unless both are odd, positive and below
    /// `2^MAX_UNIT_BITS`.
    pub fn new(num: u64, den: u64) -> Option<Unit> {
        let limit = 1u64 << MAX_UNIT_BITS;
        if num.is_multiple_of(2) || den.is_multiple_of(2) || num >= limit || den >= limit {
            return None;
        }
        let g = gcd(num, den);
        Some(Unit {
            num: num / g,
            den: den / g,
        })
    }

    /// The integer unit `n` (odd).
    pub fn int(n: u64) -> Option<Unit> {
        Unit::new(n, 1)
    }

    pub fn is_one(&self) -> bool {
        self.num == 1 && self.den == 1
    }

    /// `self * other`, `None` when it leaves the supported range.
    pub fn checked_mul(self, other: Unit) -> Option<Unit> {
        let (a, d) = (gcd(self.num, other.den), gcd(other.num, self.den));
        let num = (self.num / a).checked_mul(other.num / d)?;
        let den = (self.den / d).checked_mul(other.den / a)?;
        Unit::new(num, den)
    }

    /// `self / other`.
    pub fn checked_div(self, other: Unit) -> Option<Unit> {
        self.checked_mul(Unit {
            num: other.den,
            den: other.num,
        })
    }

    /// The largest unit `g` for which `self / g` and `other / g` are both (odd)
    /// integers: `gcd(nums) / lcm(dens)`.
    pub fn common(self, other: Unit) -> Option<Unit> {
        let num = gcd(self.num, other.num);
        let den = (self.den / gcd(self.den, other.den)).checked_mul(other.den)?;
        Unit::new(num, den)
    }

    /// `self / other` if it is an integer.
    pub fn ratio_int(self, other: Unit) -> Option<u64> {
        let r = self.checked_div(other)?;
        (r.den == 1).then_some(r.num)
    }

    /// The value as a float (exact when `num` and `den` have at most 53 bits and
    /// `den == 1`).
    pub fn to_f64(&self) -> f64 {
        self.num as f64 / self.den as f64
    }
}

impl fmt::Display for Unit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.den == 1 {
            write!(f, "{}", self.num)
        } else {
            write!(f, "{}/{}", self.num, self.den)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bits_for_interval_matches_hand_values() {
        assert_eq!(bits_for_interval(Interval::new(0, 0)), 1);
        assert_eq!(bits_for_interval(Interval::new(0, 1)), 1);
        assert_eq!(bits_for_interval(Interval::new(0, 255)), 8);
        assert_eq!(bits_for_interval(Interval::new(0, 256)), 9);
        assert_eq!(bits_for_interval(Interval::new(-128, 127)), 8);
        assert_eq!(bits_for_interval(Interval::new(-129, 0)), 9);
        assert_eq!(bits_for_interval(Interval::new(-1, 0)), 1);
        assert_eq!(bits_for_interval(Interval::new(-1, 1)), 2);
        assert_eq!(bits_for_interval(Interval::new(-128, 128)), 9);
    }

    #[test]
    fn div_round_ties_and_signs() {
        use Rounding::*;
        // 5/2 = 2.5, -5/2 = -2.5, 7/4 = 1.75, -7/4 = -1.75
        let cases: [(Rounding, [i128; 4]); 8] = [
            (HalfEven, [2, -2, 2, -2]),
            (HalfOdd, [3, -3, 2, -2]),
            (HalfAwayFromZero, [3, -3, 2, -2]),
            (HalfTowardZero, [2, -2, 2, -2]),
            (Floor, [2, -3, 1, -2]),
            (Ceil, [3, -2, 2, -1]),
            (TowardZero, [2, -2, 1, -1]),
            (AwayFromZero, [3, -3, 2, -2]),
        ];
        for (mode, want) in cases {
            let got = [
                div_round(5, 2, mode),
                div_round(-5, 2, mode),
                div_round(7, 4, mode),
                div_round(-7, 4, mode),
            ];
            assert_eq!(got, want, "{mode:?}");
        }
        assert_eq!(div_round(3, 2, HalfEven), 2);
        assert_eq!(div_round(3, 2, HalfOdd), 1);
        assert_eq!(div_round(-1, 2, HalfOdd), -1);
        assert_eq!(div_round(-3, 2, HalfEven), -2);
        assert_eq!(div_round(6, 3, HalfEven), 2);
    }

    #[test]
    fn wrap_is_twos_complement() {
        assert_eq!(wrap(128, 8, true), -128);
        assert_eq!(wrap(-129, 8, true), 127);
        assert_eq!(wrap(256, 8, false), 0);
        assert_eq!(wrap(-1, 8, false), 255);
    }

    #[test]
    fn dyadic_scale_is_exact() {
        assert_eq!(
            DyadicScale::from_f64(0.0078125),
            Some(DyadicScale::pow2(-7))
        );
        assert_eq!(
            DyadicScale::from_f64(3.0),
            Some(DyadicScale {
                mantissa: 3,
                exponent: 0
            })
        );
        let s = DyadicScale::from_f64(0.1f32 as f64).unwrap();
        assert_eq!(s.to_f64(), 0.1f32 as f64);
        assert!(DyadicScale::from_f64(0.0).is_none());
        assert!(DyadicScale::from_f64(f64::NAN).is_none());
        assert!(DyadicScale::from_f64(-1.0).is_none());
    }

    #[test]
    fn rounding_names_round_trip() {
        for m in Rounding::ALL {
            if m != Rounding::HalfOdd {
                assert_eq!(Rounding::from_qonnx(m.qonnx_name()), Some(m));
            }
        }
        assert_eq!(Rounding::from_qonnx("HALF_ODD"), None);
        assert_eq!(
            Rounding::from_qonnx("round_to_zero"),
            Some(Rounding::TowardZero)
        );
        assert_eq!(Rounding::from_qonnx("bogus"), None);
    }

    #[test]
    fn units_reduce_and_combine() {
        let a = Unit::new(9, 15).unwrap();
        assert_eq!((a.num, a.den), (3, 5));
        assert!(Unit::new(2, 3).is_none());
        let b = Unit::new(5, 7).unwrap();
        assert_eq!(a.checked_mul(b), Unit::new(3, 7));
        assert_eq!(a.checked_div(b), Unit::new(21, 25));
        // common unit of 3/5 and 9/7: gcd(3, 9) / lcm(5, 7) = 3/35
        let c = a.common(Unit::new(9, 7).unwrap()).unwrap();
        assert_eq!((c.num, c.den), (3, 35));
        assert_eq!(a.ratio_int(c), Some(7));
        assert_eq!(Unit::new(9, 7).unwrap().ratio_int(c), Some(15));
        assert_eq!(Unit::ONE.ratio_int(a), None);
        assert_eq!(a.to_string(), "3/5");
        assert!(Unit::int(1u64 << 61 | 1)
            .unwrap()
            .checked_mul(Unit::int(3).unwrap())
            .is_none());
    }

    #[test]
    fn type_ranges() {
        let t = FixedType::exact(10, 7, true);
        assert_eq!((t.min_int(), t.max_int()), (-512, 511));
        assert_eq!(t.int_bits(), 3);
        let u = FixedType::exact(9, 8, false);
        assert_eq!((u.min_int(), u.max_int()), (0, 511));
        assert_eq!(u.to_string(), "u9.8");
    }
}
