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

use crate::fixed::{gcd, round_parts, DyadicScale, FixedType, Interval, Overflow, Rounding, Unit};
use serde::{Deserialize, Serialize};

/// Largest number of significant bits allowed in a scale's mantissa (f32 scales have 24).
pub const MAX_SCALE_MANTISSA_BITS: u32 = 40;

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
        let b = self.bit_width;
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

    /// Output grid: the finest of the channels' grids.
    pub fn out_frac(&self) -> i32 {
        self.channels
            .iter()
            .map(|c| -c.scale.exponent)
            .max()
            .unwrap_or(0)
    }

    /// Left shift that puts channel `c`'s `(q - zp) * multiplier` on the output grid.
    pub fn channel_shift(&self, c: usize) -> u32 {
        (self.out_frac() + self.channels[c].scale.exponent) as u32
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
        Unit::int(g).expect("scale mantissas are odd and below 2^40")
    }

    /// The integer factor of channel `c`'s codes on the output grid: its mantissa
    /// divided by the output unit.
    pub fn channel_multiplier(&self, c: usize) -> u64 {
        self.channels[c].scale.mantissa / self.out_unit().num
    }

    /// Exact interval of the output integers.
    pub fn out_interval(&self) -> Interval {
        let (lo, hi) = if self.is_bipolar() {
            (-1, 1)
        } else {
            self.q_bounds()
        };
        let mut out: Option<Interval> = None;
        for (c, ch) in self.channels.iter().enumerate() {
            let zp = ch.zero_point as i128;
            let iv = Interval::new(lo - zp, hi - zp)
                .scale(self.channel_multiplier(c) as i128)
                .shl(self.channel_shift(c));
            out = Some(match out {
                None => iv,
                Some(o) => o.hull(iv),
            });
        }
        out.unwrap_or(Interval::point(0))
    }

    /// Output type: the smallest type holding the output interval, on the output grid,
    /// carrying this quantizer's rounding and overflow modes.
    pub fn out_type(&self) -> FixedType {
        let mut t = FixedType::for_interval(self.out_interval(), self.out_frac());
        t.rounding = self.rounding;
        t.overflow = self.overflow;
        t
    }

    /// The integer `q` (before removing the zero point) for the rational input
    /// `num / den + zp`, `den > 0`.
    fn q_of(&self, num: i128, den: i128, ch: &ChannelQuant) -> i128 {
        let int_part = num.div_euclid(den) + ch.zero_point as i128;
        let rem = num.rem_euclid(den);
        if self.is_bipolar() {
            // value >= 0 iff its floor is >= 0
            return if int_part >= 0 { 1 } else { -1 };
        }
        let q = round_parts(int_part, rem, den, self.rounding);
        let (lo, hi) = self.q_bounds();
        match self.overflow {
            Overflow::Saturate => q.clamp(lo, hi),
            Overflow::Wrap => lo + (q - lo).rem_euclid(hi - lo + 1),
        }
    }

    /// Quantizes the integer `x` of a tensor on grid `2^-in_frac` (unit 1), for
    /// channel `c`. Returns the output integer on the grid `out_unit() * 2^-out_frac()`.
    pub fn quantize_int(&self, x: i128, in_frac: i32, c: usize) -> i128 {
        self.quantize_scaled(x, in_frac, Unit::ONE, c)
    }

    /// The numerator and denominator (`> 0`) of `x / scale` for the input integer `x`
    /// on the grid `in_unit * 2^-in_frac`, channel `c`.
    pub fn scaled_fraction(&self, x: i128, in_frac: i32, in_unit: Unit, c: usize) -> (i128, i128) {
        let ch = &self.channels[c];
        // x * n/d * 2^-in_frac / (m * 2^e) = x * n * 2^k / (d * m) with k = -in_frac - e.
        let k = -in_frac - ch.scale.exponent;
        let num = x * in_unit.num as i128;
        let den = in_unit.den as i128 * ch.scale.mantissa as i128;
        if k >= 0 {
            (num << k, den)
        } else {
            (num, den << (-k))
        }
    }

    /// Quantizes the integer `x` of a tensor on grid `in_unit * 2^-in_frac`, for
    /// channel `c`. Returns the output integer on the grid `out_unit() * 2^-out_frac()`.
    pub fn quantize_scaled(&self, x: i128, in_frac: i32, in_unit: Unit, c: usize) -> i128 {
        let (num, den) = self.scaled_fraction(x, in_frac, in_unit, c);
        let q = self.q_of(num, den, &self.channels[c]);
        self.grid_value(q, c)
    }

    /// Quantizes a real (floating-point) value exactly, for channel `c`.
    /// `None` for NaN.
    pub fn quantize_f64(&self, x: f64, c: usize) -> Option<i128> {
        if x.is_nan() {
            return None;
        }
        // Values far beyond the largest bound only matter through their sign (they
        // saturate), and values far below one grid step only through their sign (they
        // round to zp or a neighbour in every mode): clamp their magnitude so the
        // integer arithmetic stays inside i128. Needs mantissa < 2^MAX_SCALE_MANTISSA_BITS.
        let ch = &self.channels[c];
        let grid_exp = ch.scale.exponent; // the power-of-two part of the scale
        let big = crate::fixed::pow2(grid_exp + 65 + MAX_SCALE_MANTISSA_BITS as i32);
        let tiny = crate::fixed::pow2(grid_exp - 24);
        let x = if x.is_infinite() || x.abs() > big {
            big.copysign(x)
        } else if x != 0.0 && x.abs() < tiny {
            tiny.copysign(x)
        } else {
            x
        };
        let (n, frac) = f64_to_dyadic(x);
        Some(self.quantize_int(n, frac, c))
    }

    /// The output integer for the quantized code `q` (in `q_bounds()`) of channel `c`:
    /// every value the quantizer can produce is `grid_value(q, c)` for some `q`.
    pub fn grid_value(&self, q: i128, c: usize) -> i128 {
        let ch = &self.channels[c];
        ((q - ch.zero_point as i128) * self.channel_multiplier(c) as i128) << self.channel_shift(c)
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
