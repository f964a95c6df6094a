//! One lane of a quantizer as the lane graph computes it, and the "floor form" that
//! makes rounding nearly free in hardware.
//!
//! Every rounding mode of a power-of-two quantizer that drops `s` bits is
//! `floor((x + c) / 2^s)` for a constant `c` (sometimes only for `x >= 0`), and
//! round-half-to-even is the half-up result `floor((x + 2^(s-1)) / 2^s)` with its
//! least significant bit cleared at a tie (when the `s` low bits of `x + 2^(s-1)` are
//! zero: the half-up result is then `q + 1` for `x = q + 1/2`, and the even one of
//! `q, q + 1` is that value with bit 0 cleared). When the producer of `x` is an adder
//! tree with a constant term (a bias), `c` is added to that constant for free, and the
//! quantizer lane keeps only a bit slice, a tie detector and the saturation logic: no
//! incrementer. [`QuantLane::hardware`] is that algebra; [`QuantLane::reference`] is
//! the IR quantizer it must equal (unit-tested exhaustively below).
//!
//! A ReLU next to a saturating quantizer whose zero point is in range folds into the
//! lower clamp bound: `Q(max(x, 0)) = max(Q(x), 0)` (Q is monotone and `Q(0) = 0`),
//! and `max(Q(x), 0)` is `Q` with the code clamped to `[max(lo, zp), hi]`.

use aecc_ir::fixed::shift_round;
use aecc_ir::{Interval, Overflow, Quantizer, Rounding};
use std::sync::Arc;

/// How a quantizer lane is built.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuantForm {
    /// The general lane of `backend::verilog::quantize` (rounding increment,
    /// saturation or wrap), followed by a ReLU when `relu` is set.
    Generic,
    /// `floor(v / 2^s)`, bit 0 cleared at a tie when `tie_even`, then the clamp; the
    /// rounding constant was added to `v` by its producer (`offset`).
    Floor { tie_even: bool },
}

/// One lane of a quantizer, `y = Q_c(v - offset)` (then `max(y, 0)` when `relu`),
/// where the input `v` counts units of `2^in_lsb`.
#[derive(Debug, Clone, PartialEq)]
pub struct QuantLane {
    pub quantizer: Arc<Quantizer>,
    pub channel: usize,
    pub in_lsb: i32,
    /// A ReLU fused into the quantizer (before or after it: the same function).
    pub relu: bool,
    /// Added to the input by its producer (the rounding constant of the floor form).
    pub offset: i128,
    pub form: QuantForm,
}

/// Rounding constant and tie handling of the floor form of `rounding` when `s` bits are
/// dropped, or `None` when the mode needs the generic lane. `nonneg`: the input is never
/// negative, or a fused ReLU maps every negative input to zero anyway (every offset
/// below keeps negative inputs at or below zero). The modes that round by the sign
/// need a zero point of 0 (the sign is that of `x / scale + zp`).
pub fn floor_plan(
    rounding: Rounding,
    s: i32,
    nonneg: bool,
    zero_point: i64,
) -> Option<(i128, bool)> {
    if s <= 0 {
        return Some((0, false));
    }
    let half = 1i128 << (s - 1);
    let full = (1i128 << s) - 1;
    let nonneg = nonneg && zero_point == 0;
    match rounding {
        Rounding::Floor => Some((0, false)),
        Rounding::Ceil => Some((full, false)),
        Rounding::HalfEven if zero_point % 2 == 0 => Some((half, true)),
        Rounding::HalfAwayFromZero if nonneg => Some((half, false)),
        Rounding::HalfTowardZero if nonneg => Some((half - 1, false)),
        Rounding::TowardZero if nonneg => Some((0, false)),
        Rounding::AwayFromZero if nonneg => Some((full, false)),
        _ => None,
    }
}

/// Whether a ReLU can be folded into `q`'s clamp (saturating, zero point in range,
/// not bipolar).
pub fn relu_fusable(q: &Quantizer, channel: usize) -> bool {
    let (lo, hi) = q.q_bounds();
    let zp = q.channels[channel].zero_point as i128;
    q.overflow == Overflow::Saturate && !q.is_bipolar() && lo <= zp && zp <= hi
}

impl QuantLane {
    fn zero_point(&self) -> i128 {
        self.quantizer.channels[self.channel].zero_point as i128
    }

    /// Bits of the input below the output grid (negative: the input is on a coarser
    /// grid and is shifted left).
    pub fn dropped_bits(&self) -> i32 {
        self.quantizer.channels[self.channel].scale.exponent - self.in_lsb
    }

    /// Code bounds after the fused ReLU.
    pub fn code_bounds(&self) -> (i128, i128) {
        let (lo, hi) = self.quantizer.q_bounds();
        if self.relu {
            (lo.max(self.zero_point()), hi)
        } else {
            (lo, hi)
        }
    }

    /// The output integer of code `q`.
    pub fn output_of_code(&self, q: i128) -> i128 {
        self.quantizer.grid_value(q, self.channel)
    }

    /// What the lane must compute: the IR quantizer on `v - offset` (real value
    /// `(v - offset) * 2^in_lsb`), then the fused ReLU.
    pub fn reference(&self, v: i128) -> i128 {
        let y = self
            .quantizer
            .quantize_int(v - self.offset, -self.in_lsb, self.channel);
        if self.relu {
            y.max(0)
        } else {
            y
        }
    }

    /// The code before the clamp, for the floor form.
    fn floor_code(&self, v: i128, tie_even: bool) -> i128 {
        let s = self.dropped_bits();
        let r = if s <= 0 {
            v << (-s)
        } else {
            let r = v >> s; // arithmetic: floor
            if tie_even && v & ((1i128 << s) - 1) == 0 {
                r & !1
            } else {
                r
            }
        };
        r + self.zero_point()
    }

    /// What the hardware computes (the floor form, or the reference for the generic
    /// lane). Equal to [`QuantLane::reference`] for every input.
    pub fn hardware(&self, v: i128) -> i128 {
        match self.form {
            QuantForm::Generic => self.reference(v),
            QuantForm::Floor { tie_even } => {
                let q = self.floor_code(v, tie_even);
                let (lo, hi) = self.code_bounds();
                let q = match self.quantizer.overflow {
                    Overflow::Saturate => q.clamp(lo, hi),
                    Overflow::Wrap => lo + (q - lo).rem_euclid(hi - lo + 1),
                };
                self.output_of_code(q)
            }
        }
    }

    /// The code before clamping or wrapping, by the reference rounding (for intervals).
    fn raw_code(&self, v: i128) -> i128 {
        let s = self.dropped_bits();
        let x = v - self.offset;
        let r = if s <= 0 {
            x << (-s)
        } else {
            shift_round(x, s as u32, self.quantizer.rounding)
        };
        r + self.zero_point()
    }

    /// Exact interval of the output for inputs `v` in `x`.
    pub fn out_interval(&self, x: Interval) -> Interval {
        let q = &self.quantizer;
        let monotone = q.is_bipolar() || q.overflow == Overflow::Saturate || {
            let (lo, hi) = q.q_bounds();
            self.raw_code(x.lo) >= lo && self.raw_code(x.hi) <= hi
        };
        if monotone {
            Interval::new(self.reference(x.lo), self.reference(x.hi))
        } else {
            let (lo, hi) = self.code_bounds();
            let (a, b) = (self.output_of_code(lo), self.output_of_code(hi));
            Interval::new(a.min(b), a.max(b))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aecc_ir::{ChannelQuant, DyadicScale};

    fn quantizer(bits: u32, frac: i32, signed: bool, mode: Rounding, zp: i64) -> Quantizer {
        let mut q = Quantizer::pow2(bits, frac, signed, mode);
        q.channels[0] = ChannelQuant {
            scale: DyadicScale::pow2(-frac),
            zero_point: zp,
        };
        q
    }

    /// The floor form equals the reference for every mode, grid, zero point, ReLU,
    /// overflow mode and input it is planned for.
    #[test]
    fn floor_form_equals_reference_exhaustively() {
        let mut checked = 0;
        for mode in Rounding::ALL {
            for signed in [true, false] {
                for overflow in [Overflow::Saturate, Overflow::Wrap] {
                    for zp in [-2i64, 0, 1, 2] {
                        for relu in [false, true] {
                            let mut q = quantizer(4, 2, signed, mode, zp);
                            q.overflow = overflow;
                            let q = Arc::new(q);
                            if relu && !relu_fusable(&q, 0) {
                                continue;
                            }
                            for lsb in [-6, -5, -3, -2, -1, 0] {
                                for nonneg in [false, true] {
                                    let s = -2 - lsb;
                                    let Some((offset, tie_even)) =
                                        floor_plan(mode, s, nonneg || relu, zp)
                                    else {
                                        continue;
                                    };
                                    let lane = QuantLane {
                                        quantizer: q.clone(),
                                        channel: 0,
                                        in_lsb: lsb,
                                        relu,
                                        offset,
                                        form: QuantForm::Floor { tie_even },
                                    };
                                    let range = if nonneg { 0..400 } else { -400..400 };
                                    for x in range {
                                        let v = x + offset;
                                        assert_eq!(
                                            lane.hardware(v),
                                            lane.reference(v),
                                            "{mode:?} signed={signed} {overflow:?} zp={zp} \
                                             relu={relu} lsb={lsb} x={x}"
                                        );
                                        checked += 1;
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        assert!(checked > 100_000, "{checked}");
    }

    #[test]
    fn relu_fusion_is_max_after_quantize() {
        let q = Arc::new(quantizer(6, 3, true, Rounding::HalfEven, 0));
        let lane = QuantLane {
            quantizer: q.clone(),
            channel: 0,
            in_lsb: -6,
            relu: true,
            offset: 0,
            form: QuantForm::Generic,
        };
        for x in -500..500i128 {
            let relu_first = q.quantize_int(x.max(0), 6, 0);
            let relu_after = q.quantize_int(x, 6, 0).max(0);
            assert_eq!(relu_first, relu_after);
            assert_eq!(lane.reference(x), relu_after);
        }
    }

    #[test]
    fn intervals_are_exact() {
        let q = Arc::new(quantizer(5, 1, true, Rounding::HalfEven, 0));
        let lane = QuantLane {
            quantizer: q,
            channel: 0,
            in_lsb: -3,
            relu: true,
            offset: 0,
            form: QuantForm::Generic,
        };
        // x in [-40, 13] on grid 2^-3 -> [-5, 1.625] -> codes on 2^-1: [0, 3]
        assert_eq!(
            lane.out_interval(Interval::new(-40, 13)),
            Interval::new(0, 3)
        );
        let mut wrap = quantizer(3, 0, true, Rounding::Floor, 0);
        wrap.overflow = Overflow::Wrap;
        let lane = QuantLane {
            quantizer: Arc::new(wrap),
            channel: 0,
            in_lsb: 0,
            relu: false,
            offset: 0,
            form: QuantForm::Floor { tie_even: false },
        };
        assert_eq!(lane.out_interval(Interval::new(0, 3)), Interval::new(0, 3));
        assert_eq!(lane.out_interval(Interval::new(0, 9)), Interval::new(-4, 3));
    }
}
