//! How a quantizer is implemented in C++: by the output type's own conversion, or by
//! explicit integer code that mirrors [`aecc_ir::Quantizer::quantize_int`].
//!
//! A QONNX `Quant` with a power-of-two scale, zero point 0 and the full range of a
//! `b`-bit integer is exactly the conversion into `ap_fixed<b, I, Q, AP_SAT>` (or
//! `ap_ufixed`, `ac_fixed`) when the rounding mode has a vendor spelling (see
//! [`super::types`]), and a signed narrow-range one is `AP_SAT_SYM`. Everything else (a
//! zero point, per-channel scales, an unsigned narrow range, `CEIL`/`UP` rounding, the
//! 1-bit bipolar quirk, wrapping narrow ranges, scales that are not powers of two) is
//! computed on integers by `aecc::quantize_int` in the generated support header.
//! Non-power-of-two scales `m * 2^e` divide by the odd constant `m` exactly (the HLS
//! tool builds a constant divider for it).

use super::types::{rounding_mode_name, HlsFlavor};
use aecc_ir::fixed::bits_for_interval;
use aecc_ir::{Interval, Overflow, Quantizer, Rounding, TensorInfo};

/// The plan for one quantizer node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QuantPlan {
    /// `y = x`: the output type rounds and saturates exactly like the quantizer.
    TypeConversion,
    /// Explicit integer arithmetic.
    Explicit(ExplicitQuant),
}

/// Parameters of `aecc::quantize_int` for one quantizer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExplicitQuant {
    /// Why the type conversion cannot be used (for the comment in the C++).
    pub reason: String,
    /// Width of the signed working integer.
    pub work_width: u32,
    /// `aecc::` rounding mode constant, e.g. `HALF_EVEN`.
    pub mode: &'static str,
    pub saturate: bool,
    pub bipolar: bool,
    pub bits: u32,
    pub signed: bool,
    pub narrow: bool,
    /// One entry per channel.
    pub channels: Vec<ChannelParams>,
    /// Channel of flat element `i` is `(i / stride) % channels.len()`.
    pub stride: usize,
}

/// `aecc::quant_channel` of one channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChannelParams {
    /// `k = -in_frac - exponent`: the value divided by the scale is
    /// `x * numerator * 2^k / divisor`.
    pub shift: i32,
    /// Numerator of the input's scale unit (1 for plain fixed point).
    pub numerator: u64,
    /// The scale's mantissa times the denominator of the input's scale unit (odd).
    pub divisor: u64,
    pub zero_point: i64,
    /// The mantissa over the output's scale unit: `(q - zp) * multiplier` is the output.
    pub multiplier: u64,
    /// Left shift of `(q - zp) * multiplier` onto the common output grid.
    pub out_shift: u32,
}

/// The `aecc::rounding_mode` enumerator of a rounding mode.
pub fn mode_constant(rounding: Rounding) -> &'static str {
    match rounding {
        Rounding::HalfEven => "HALF_EVEN",
        Rounding::HalfAwayFromZero => "HALF_AWAY_FROM_ZERO",
        Rounding::HalfTowardZero => "HALF_TOWARD_ZERO",
        Rounding::Floor => "FLOOR",
        Rounding::Ceil => "CEIL",
        Rounding::TowardZero => "TOWARD_ZERO",
        Rounding::AwayFromZero => "AWAY_FROM_ZERO",
        Rounding::HalfOdd => "HALF_ODD",
    }
}

/// Why the type conversion is not exact for `q`, or `None` if it is.
pub fn conversion_obstacle(flavor: HlsFlavor, q: &Quantizer) -> Option<String> {
    let first = q.channels.first()?;
    if q.channels.iter().any(|c| c != first) {
        return Some("per-channel scales or zero points".into());
    }
    if q.is_bipolar() {
        return Some("a signed 1-bit quantizer is bipolar (x >= 0 ? 1 : -1)".into());
    }
    if !first.scale.is_pow2() {
        return Some(format!(
            "scale {} is not a power of two (exact division by {})",
            first.scale, first.scale.mantissa
        ));
    }
    if first.zero_point != 0 {
        return Some(format!("zero point {}", first.zero_point));
    }
    if rounding_mode_name(flavor, q.rounding).is_none() {
        return Some(format!(
            "rounding {} has no {} quantization mode",
            q.rounding.qonnx_name(),
            flavor.header_library()
        ));
    }
    if q.narrow && (!q.signed || q.overflow == Overflow::Wrap) {
        return Some(if q.signed {
            "narrow range with wrap-around".into()
        } else {
            "narrow unsigned range [0, 2^b - 2]".into()
        });
    }
    // Defensive: the output type must be exactly the b-bit integer of the quantizer.
    let ty = q.out_type();
    if ty.width != q.bit_width || ty.signed != q.signed {
        return Some(format!(
            "output type {ty} is not the {}-bit range of the quantizer",
            q.bit_width
        ));
    }
    None
}

/// Plans the implementation of quantizer `q` applied to tensor `x`.
pub fn plan(flavor: HlsFlavor, q: &Quantizer, x: &TensorInfo) -> QuantPlan {
    let obstacle = if x.unit.is_one() {
        conversion_obstacle(flavor, q)
    } else {
        Some(format!(
            "the input carries the scale unit {} (exact division by {})",
            x.unit, x.unit.den
        ))
    };
    let Some(reason) = obstacle else {
        return QuantPlan::TypeConversion;
    };
    let channels: Vec<ChannelParams> = q
        .channels
        .iter()
        .enumerate()
        .map(|(c, ch)| ChannelParams {
            shift: -x.ty.frac - ch.scale.exponent,
            numerator: x.unit.num,
            divisor: ch.scale.mantissa * x.unit.den,
            zero_point: ch.zero_point,
            multiplier: q.channel_multiplier(c),
            out_shift: q.channel_shift(c),
        })
        .collect();
    let stride = match q.axis {
        Some(axis) if q.channels.len() > 1 => x.shape[axis + 1..].iter().product(),
        _ => 1,
    };
    QuantPlan::Explicit(ExplicitQuant {
        reason,
        work_width: work_width(q, x, &channels),
        mode: mode_constant(q.rounding),
        saturate: q.overflow == Overflow::Saturate,
        bipolar: q.is_bipolar(),
        bits: q.bit_width,
        signed: q.signed,
        narrow: q.narrow,
        channels,
        stride,
    })
}

/// Width of a signed integer that holds every intermediate of `aecc::quantize_int`
/// for inputs in `x.interval`: the input, `x << k`, the divisor, the floor and the
/// rounded quotient with the zero point, the bounds `2^b`, the wrap-around modulus and
/// the output.
fn work_width(q: &Quantizer, x: &TensorInfo, channels: &[ChannelParams]) -> u32 {
    let (lo, hi) = q.q_bounds();
    let mut all = x.interval.hull(Interval::point(0));
    all = all.hull(Interval::new(lo - 1, hi + 1));
    all = all.hull(Interval::point(1i128 << q.bit_width));
    all = all.hull(q.out_interval());
    for ch in channels {
        let m = ch.divisor as i128;
        let zp = ch.zero_point as i128;
        let xn = x.interval.scale(ch.numerator as i128);
        let (num, den) = if ch.shift >= 0 {
            (xn.shl(ch.shift as u32), m)
        } else {
            (xn, m << (-ch.shift) as u32)
        };
        let floor = Interval::new(num.lo.div_euclid(den), num.hi.div_euclid(den));
        let int_part = Interval::new(floor.lo + zp - 1, floor.hi + zp + 1);
        all = all
            .hull(num)
            .hull(Interval::new(-den, den))
            .hull(int_part)
            .hull(Interval::new(int_part.lo - hi, int_part.hi - lo))
            .hull(xn)
            .hull(Interval::new(lo - zp, hi - zp).scale(ch.multiplier as i128));
    }
    bits_for_interval(all) + 2
}

#[cfg(test)]
mod tests {
    use super::*;
    use aecc_ir::{ChannelQuant, DyadicScale, FixedType};

    fn input(width: u32, frac: i32) -> TensorInfo {
        let ty = FixedType::exact(width, frac, true);
        TensorInfo {
            shape: vec![1, 2, 3],
            ty,
            interval: ty.range(),
            unit: aecc_ir::Unit::ONE,
        }
    }

    #[test]
    fn plain_quantizers_are_type_conversions() {
        for mode in [
            Rounding::HalfEven,
            Rounding::HalfAwayFromZero,
            Rounding::HalfTowardZero,
            Rounding::Floor,
            Rounding::TowardZero,
        ] {
            for signed in [true, false] {
                let q = Quantizer::pow2(6, 3, signed, mode);
                for f in HlsFlavor::ALL {
                    assert_eq!(plan(f, &q, &input(12, 8)), QuantPlan::TypeConversion);
                }
            }
        }
        let mut narrow = Quantizer::pow2(6, 3, true, Rounding::HalfEven);
        narrow.narrow = true;
        assert_eq!(
            plan(HlsFlavor::Vitis, &narrow, &input(12, 8)),
            QuantPlan::TypeConversion
        );
    }

    #[test]
    fn other_quantizers_are_explicit_with_a_reason() {
        let x = input(12, 8);
        let reason = |q: &Quantizer| match plan(HlsFlavor::Vitis, q, &x) {
            QuantPlan::Explicit(e) => e.reason,
            QuantPlan::TypeConversion => panic!("expected explicit code"),
        };
        assert!(reason(&Quantizer::pow2(6, 3, true, Rounding::Ceil)).contains("CEIL"));
        let mut q = Quantizer::pow2(6, 3, false, Rounding::HalfEven);
        q.narrow = true;
        assert!(reason(&q).contains("narrow unsigned"));
        let mut q = Quantizer::pow2(8, 3, false, Rounding::HalfEven);
        q.channels[0].zero_point = 7;
        assert!(reason(&q).contains("zero point 7"));
        let mut q = Quantizer::pow2(8, 3, true, Rounding::HalfEven);
        q.channels[0].scale = DyadicScale {
            mantissa: 3,
            exponent: -4,
        };
        assert!(reason(&q).contains("division by 3"));
        assert!(reason(&Quantizer::pow2(1, 0, true, Rounding::HalfEven)).contains("bipolar"));
        let q = Quantizer {
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
            axis: Some(1),
            ..Quantizer::pow2(6, 0, true, Rounding::HalfEven)
        };
        match plan(HlsFlavor::Catapult, &q, &x) {
            QuantPlan::Explicit(e) => {
                assert_eq!(e.stride, 3);
                assert_eq!(e.channels[0].out_shift, 2);
                assert_eq!(e.channels[1].shift, -3);
            }
            QuantPlan::TypeConversion => panic!("per-channel must be explicit"),
        }
    }

    #[test]
    fn work_width_covers_wide_shifts() {
        // 64-bit input on a coarse grid quantized onto a fine one: x << 40
        let x = input(20, -30);
        let q = Quantizer::pow2(8, 10, true, Rounding::Ceil);
        match plan(HlsFlavor::Vitis, &q, &x) {
            QuantPlan::Explicit(e) => {
                assert_eq!(e.channels[0].shift, 40);
                assert!(e.work_width > 20 + 40, "{}", e.work_width);
            }
            QuantPlan::TypeConversion => panic!(),
        }
    }
}
