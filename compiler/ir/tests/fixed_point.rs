//! Property tests of the fixed-point core (`fixed.rs`, `quant.rs`) against an exact
//! big-integer / rational oracle written from the definitions:
//! - rounding (`div_round`, `shift_round`) in every mode, over the whole i128 range and
//!   shifts beyond 128 bits;
//! - saturate and wrap (`FixedType::fit`, `wrap`);
//! - interval add, multiply by a constant and shift (`checked_*`): exact when they
//!   answer, and `None` exactly when the true bound leaves i128;
//! - the quantizer / requantizer (`quantize_int`, `quantize_f64`) in every rounding
//!   mode, saturating and wrapping, signed and unsigned, narrow, with zero points,
//!   non-power-of-two scales and input grids far from the scale (the shifts that used
//!   to overflow), including its "out of range" flag.

use aecc_ir::fixed::{div_round, shift_round, wrap, FixedType, Interval, Overflow, Rounding};
use aecc_ir::{ChannelQuant, DyadicScale, Quantizer};
use num_bigint::BigInt;
use num_integer::Integer;
use num_rational::BigRational;
use num_traits::{One, Signed, Zero};
use proptest::prelude::*;

fn big(x: i128) -> BigInt {
    BigInt::from(x)
}

fn pow2(e: i64) -> BigRational {
    if e >= 0 {
        BigRational::from_integer(BigInt::one() << e as usize)
    } else {
        BigRational::new(BigInt::one(), BigInt::one() << (-e) as usize)
    }
}

/// Rounds a rational to an integer by the definition of each mode.
fn round(v: &BigRational, mode: Rounding) -> BigInt {
    let floor = v.floor().to_integer();
    if v.is_integer() {
        return floor;
    }
    let negative = v.is_negative();
    let toward_zero = if negative { &floor + 1 } else { floor.clone() };
    let away_from_zero = if negative { floor.clone() } else { &floor + 1 };
    let frac = v - BigRational::from_integer(floor.clone());
    let half = BigRational::new(1.into(), 2.into());
    match mode {
        Rounding::Floor => floor,
        Rounding::Ceil => floor + 1,
        Rounding::TowardZero => toward_zero,
        Rounding::AwayFromZero => away_from_zero,
        _ if frac < half => floor,
        _ if frac > half => floor + 1,
        Rounding::HalfEven => {
            if floor.is_even() {
                floor
            } else {
                floor + 1
            }
        }
        Rounding::HalfOdd => {
            if floor.is_odd() {
                floor
            } else {
                floor + 1
            }
        }
        Rounding::HalfAwayFromZero => away_from_zero,
        Rounding::HalfTowardZero => toward_zero,
    }
}

fn any_mode() -> impl Strategy<Value = Rounding> {
    prop::sample::select(Rounding::ALL.to_vec())
}

/// i128 values that hit the interesting places: small, near powers of two, extremes.
fn any_i128() -> impl Strategy<Value = i128> {
    prop_oneof![
        -1000i128..1000,
        any::<i128>(),
        (0u32..127, -3i128..=3, any::<bool>()).prop_map(|(e, d, neg)| {
            let v = (1i128 << e).saturating_add(d);
            if neg {
                v.saturating_neg()
            } else {
                v
            }
        }),
        Just(i128::MIN),
        Just(i128::MAX),
        Just(i128::MIN + 1),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    #[test]
    fn div_round_matches_rational(num in any_i128(), den in prop_oneof![1i128..100, 1i128..=i128::MAX], mode in any_mode()) {
        let want = round(&BigRational::new(big(num), big(den)), mode);
        prop_assert_eq!(big(div_round(num, den, mode)), want);
    }

    #[test]
    fn shift_round_matches_rational(x in any_i128(), shift in prop_oneof![0u32..8, 0u32..400], mode in any_mode()) {
        let want = round(&(BigRational::from_integer(big(x)) * pow2(-(shift as i64))), mode);
        prop_assert_eq!(big(shift_round(x, shift, mode)), want);
    }

    #[test]
    fn saturate_and_wrap_match_big_integers(x in any_i128(), width in 1u32..=64, signed in any::<bool>()) {
        let (lo, hi): (BigInt, BigInt) = if signed {
            (-(BigInt::one() << (width - 1) as usize), (BigInt::one() << (width - 1) as usize) - 1)
        } else {
            (BigInt::zero(), (BigInt::one() << width as usize) - 1)
        };
        let mut t = FixedType::exact(width, 0, signed);
        t.overflow = Overflow::Saturate;
        let sat = big(x).clamp(lo.clone(), hi.clone());
        prop_assert_eq!(big(t.fit(x)), sat);
        t.overflow = Overflow::Wrap;
        let m = BigInt::one() << width as usize;
        let wrapped = &lo + (big(x) - &lo).mod_floor(&m);
        prop_assert_eq!(big(t.fit(x)), wrapped.clone());
        prop_assert_eq!(big(wrap(x, width, signed)), wrapped);
        prop_assert!(t.contains(t.fit(x)));
    }

    #[test]
    fn interval_arithmetic_is_exact_or_refuses(a in any_i128(), b in any_i128(), c in any_i128(), d in any_i128(), k in any_i128(), s in 0u32..200) {
        let i = Interval::new(a.min(b), a.max(b));
        let j = Interval::new(c.min(d), c.max(d));
        let fits = |v: &BigInt| *v >= big(i128::MIN) && *v <= big(i128::MAX);
        // add
        let (lo, hi) = (big(i.lo) + big(j.lo), big(i.hi) + big(j.hi));
        match i.checked_add(j) {
            Some(r) => prop_assert_eq!((big(r.lo), big(r.hi)), (lo, hi)),
            None => prop_assert!(!fits(&lo) || !fits(&hi)),
        }
        // multiply by a constant
        let (p, q) = (big(i.lo) * big(k), big(i.hi) * big(k));
        let (lo, hi) = (p.clone().min(q.clone()), p.max(q));
        match i.checked_scale(k) {
            Some(r) => prop_assert_eq!((big(r.lo), big(r.hi)), (lo, hi)),
            None => prop_assert!(!fits(&lo) || !fits(&hi)),
        }
        // shift
        let (lo, hi) = (big(i.lo) << s as usize, big(i.hi) << s as usize);
        match i.checked_shl(s) {
            Some(r) => prop_assert_eq!((big(r.lo), big(r.hi)), (lo, hi)),
            None => prop_assert!(!fits(&lo) || !fits(&hi)),
        }
    }
}

/// The quantizer by its definition: `q = fit(round(x / scale + zp))`, output
/// `(q - zp) * scale` on the finest grid of all channels. Returns the output integer
/// and whether `fit` changed `q`.
fn oracle_quantize(q: &Quantizer, x: &BigRational, c: usize) -> (BigInt, bool) {
    let ch = q.channels[c];
    let scale =
        BigRational::from_integer(BigInt::from(ch.scale.mantissa)) * pow2(ch.scale.exponent as i64);
    let zp = BigInt::from(ch.zero_point);
    let v = x / &scale + BigRational::from_integer(zp.clone());
    let (lo, hi) = q.q_bounds();
    let (lo, hi) = (big(lo), big(hi));
    let (code, overflowed): (BigInt, bool) = if q.signed && q.bit_width == 1 {
        // QONNX's bipolar case
        (BigInt::from(if v.is_negative() { -1 } else { 1 }), false)
    } else {
        let r = round(&v, q.rounding);
        let fitted = match q.overflow {
            Overflow::Saturate => r.clone().clamp(lo.clone(), hi.clone()),
            Overflow::Wrap => &lo + (&r - &lo).mod_floor(&(&hi - &lo + 1)),
        };
        let changed = fitted != r;
        (fitted, changed)
    };
    // output grid: the finest channel grid
    let out_frac = q
        .channels
        .iter()
        .map(|c| -(c.scale.exponent as i64))
        .max()
        .unwrap();
    // ... in units of the largest odd integer dividing every channel's mantissa
    let unit = BigRational::from_integer(BigInt::from(q.out_unit().num));
    let y = BigRational::from_integer(code - zp) * scale * pow2(out_frac) / unit;
    assert!(y.is_integer(), "outputs lie on the common grid");
    (y.to_integer(), overflowed)
}

/// An odd mantissa: small values often, up to 2^bits - 1.
fn mantissa(bits: u32) -> impl Strategy<Value = u64> {
    prop_oneof![
        prop::sample::select(vec![1u64, 1, 3, 5, 7, 9, 255]),
        (0u64..(1u64 << (bits - 1))).prop_map(|k| 2 * k + 1),
    ]
}

/// Quantizers whose parameters pass `Quantizer::check`: up to 3 channels with nearby
/// exponents anywhere in -300..300.
fn any_quantizer() -> impl Strategy<Value = Quantizer> {
    (
        1u32..=24,
        any::<bool>(),
        any::<bool>(),
        any_mode(),
        any::<bool>(),
        -300i32..300,
        prop::collection::vec((mantissa(24), 0i32..4, -1000i64..1000), 1..=3),
    )
        .prop_map(|(bits, signed, narrow, rounding, wrap, e0, chans)| {
            let narrow = narrow && (signed || bits != 1);
            let channels: Vec<ChannelQuant> = chans
                .iter()
                .map(|&(m, de, zp)| ChannelQuant {
                    scale: DyadicScale {
                        mantissa: m,
                        exponent: e0 + de,
                    },
                    zero_point: zp,
                })
                .collect();
            Quantizer {
                axis: (channels.len() > 1).then_some(0),
                channels,
                bit_width: bits,
                signed,
                narrow,
                rounding,
                overflow: if wrap {
                    Overflow::Wrap
                } else {
                    Overflow::Saturate
                },
            }
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4000))]

    #[test]
    fn quantize_int_matches_rational_oracle(q in any_quantizer(), x in any_i128(), frac_offset in prop_oneof![-60i32..60, -1500i32..1500], c in 0usize..3) {
        prop_assert!(q.check().is_ok(), "{:?}", q.check());
        let c = c % q.channels.len();
        // the input grid relative to the scale: near (k small) and far (k beyond 128)
        let in_frac = -q.channels[c].scale.exponent + frac_offset;
        let (got, over) = q.overflowing_quantize_int(x, in_frac, c);
        let real = BigRational::from_integer(big(x)) * pow2(-(in_frac as i64));
        let (want, want_over) = oracle_quantize(&q, &real, c);
        prop_assert_eq!(big(got), want, "x={} in_frac={} c={}", x, in_frac, c);
        prop_assert_eq!(over, want_over);
        prop_assert!(q.out_interval().contains(got));
        prop_assert_eq!(q.quantize_int(x, in_frac, c), got);
    }

    #[test]
    fn quantize_f64_matches_rational_oracle(q in any_quantizer(), bits in any::<u64>(), near in -40i32..40, m in -1000i64..1000, pick in 0u8..3, c in 0usize..3) {
        let c = c % q.channels.len();
        // any float, or one near the channel's grid (where rounding decides)
        let x = match pick {
            0 => f64::from_bits(bits),
            _ => m as f64 * 2f64.powi(q.channels[c].scale.exponent + near),
        };
        let got = q.overflowing_quantize_f64(x, c);
        if x.is_nan() {
            prop_assert!(got.is_none());
        } else if x.is_infinite() {
            let (y, _) = got.unwrap();
            let (lo, hi) = q.q_bounds();
            let bound = if q.signed && q.bit_width == 1 { x.signum() as i128 } else if x < 0.0 { lo } else { hi };
            prop_assert_eq!(y, q.grid_value(bound, c));
        } else {
            let real = BigRational::from_float(x).unwrap();
            let (want, want_over) = oracle_quantize(&q, &real, c);
            let (y, over) = got.unwrap();
            prop_assert_eq!(big(y), want, "x={:e}", x);
            prop_assert_eq!(over, want_over);
        }
    }

    #[test]
    fn ties_and_near_ties_far_below_the_grid(q in any_quantizer(), j in -300i128..300, s in 1u32..126, delta in -2i128..=2, c in 0usize..3) {
        // x / (m 2^s) = j + 1/2 (+ delta / (m 2^s)): exact ties and their neighbours,
        // with s beyond the point where m * 2^s leaves i128
        let c = c % q.channels.len();
        let m = q.channels[c].scale.mantissa as i128;
        let Some(x) = (2 * j + 1).checked_mul(m).and_then(|v| v.checked_mul(1i128 << (s - 1))).and_then(|v| v.checked_add(delta)) else {
            return Ok(());
        };
        let in_frac = -q.channels[c].scale.exponent + s as i32;
        let (got, over) = q.overflowing_quantize_int(x, in_frac, c);
        let real = BigRational::from_integer(big(x)) * pow2(-(in_frac as i64));
        let (want, want_over) = oracle_quantize(&q, &real, c);
        prop_assert_eq!(big(got), want, "x={} s={}", x, s);
        prop_assert_eq!(over, want_over);
    }

    #[test]
    fn wide_pow2_quantizers_match_oracle(bits in 1u32..=64, signed in any::<bool>(), wrap in any::<bool>(), mode in any_mode(), e in -100i32..100, x in any_i128(), offset in -130i32..130) {
        // values are held in i64: unsigned quantizers have at most 63 bits
        let bits = if signed { bits } else { bits.min(63) };
        let mut q = Quantizer::pow2(bits, -e, signed, mode);
        q.overflow = if wrap { Overflow::Wrap } else { Overflow::Saturate };
        prop_assert!(q.check().is_ok());
        let in_frac = -e + offset;
        let (got, over) = q.overflowing_quantize_int(x, in_frac, 0);
        let real = BigRational::from_integer(big(x)) * pow2(-(in_frac as i64));
        let (want, want_over) = oracle_quantize(&q, &real, 0);
        prop_assert_eq!(big(got), want);
        prop_assert_eq!(over, want_over);
    }
}

#[test]
fn check_refuses_parameters_that_would_overflow() {
    let base = Quantizer::pow2(8, 4, true, Rounding::HalfEven);
    let with = |f: &dyn Fn(&mut Quantizer)| {
        let mut q = base.clone();
        f(&mut q);
        q.check().unwrap_err()
    };
    assert!(with(&|q| q.bit_width = 0).contains("bit width 0"));
    assert!(with(&|q| q.bit_width = 65).contains("bit width 65"));
    assert!(with(&|q| q.channels.clear()).contains("no scale"));
    assert!(with(&|q| q.channels[0].scale.mantissa = 0).contains("not normalised"));
    assert!(with(&|q| q.channels[0].scale.mantissa = 6).contains("not normalised"));
    assert!(with(&|q| q.channels[0].scale.mantissa = (1 << 41) + 1).contains("significant bits"));
    assert!(with(&|q| q.channels[0].scale.exponent = i32::MIN).contains("exponent"));
    assert!(with(&|q| q.channels[0].zero_point = i64::MAX).contains("zero point"));
    // a per-tensor mantissa is the output unit: 64-bit codes still fit ...
    let mut odd = base.clone();
    odd.bit_width = 64;
    odd.channels[0].scale.mantissa = 255;
    assert!(odd.check().is_ok());
    // ... but channels with coprime mantissas multiply their codes on the common grid
    assert!(with(&|q| {
        q.bit_width = 64;
        q.axis = Some(0);
        q.channels[0].scale.mantissa = 255;
        q.channels.push(ChannelQuant {
            scale: DyadicScale {
                mantissa: 1,
                exponent: q.channels[0].scale.exponent,
            },
            zero_point: 0,
        });
    })
    .contains("bits"));
    // channels whose grids are far apart: the coarse one needs a huge shift
    assert!(with(&|q| {
        q.axis = Some(0);
        q.channels.push(ChannelQuant {
            scale: DyadicScale::pow2(-1000),
            zero_point: 0,
        });
    })
    .contains("bits"));
    assert!(with(&|q| {
        q.signed = false;
        q.narrow = true;
        q.bit_width = 1;
    })
    .contains("empty range"));
    assert!(with(&|q| {
        q.signed = false;
        q.bit_width = 64;
    })
    .contains("at most 63 bits unsigned"));
    assert!(base.check().is_ok());
}

#[test]
fn extreme_grids_are_exact() {
    // the cases that overflowed i128 shifts before the quantizer was made total
    let q = Quantizer::pow2(8, 0, true, Rounding::HalfEven);
    assert_eq!(q.quantize_int(1, -200, 0), 127); // 2^200 saturates
    assert_eq!(q.quantize_int(-1, -200, 0), -128);
    assert_eq!(q.quantize_int(1, 200, 0), 0); // 2^-200 rounds to 0
    assert_eq!(q.quantize_int(i128::MAX, 0, 0), 127);
    assert_eq!(q.quantize_int(i128::MIN, 300, 0), 0); // -2^-173
    let mut floor = q.clone();
    floor.rounding = Rounding::Floor;
    assert_eq!(floor.quantize_int(-1, 5000, 0), -1);
    let mut w = q.clone();
    w.overflow = Overflow::Wrap;
    // 3 * 2^200 mod 256 = 0; (2^200 + 5) mod 256 is not reachable from one x, use 5 * 2^3
    assert_eq!(w.quantize_int(3, -200, 0), 0);
    assert_eq!(w.quantize_int(5, -3, 0), 40);
    assert_eq!(w.quantize_int(17, -4, 0), 16); // 272 mod 256
    assert_eq!(q.quantize_f64(f64::MAX, 0), Some(127));
    assert_eq!(q.quantize_f64(f64::MIN_POSITIVE / 4.0, 0), Some(0));
    let tiny = Quantizer::pow2(8, 1074, true, Rounding::Ceil);
    assert!(tiny.check().is_ok());
    assert_eq!(tiny.quantize_f64(5e-324, 0), Some(1));
    assert_eq!(tiny.quantize_f64(1.0, 0), Some(127));
    let coarse = Quantizer::pow2(8, -971, true, Rounding::HalfEven);
    // f64::MAX / 2^971 is about 2^53: saturates
    assert_eq!(coarse.quantize_f64(f64::MAX, 0), Some(127));
    assert_eq!(coarse.quantize_f64(2f64.powi(972), 0), Some(2));
}
