//! One lane of a power-of-two quantizer in hardware, bit-exact with
//! [`aecc_ir::Quantizer::quantize_int`].
//!
//! For channel `c` with scale `2^e` and zero point `zp`, on an input `x` on grid
//! `2^-f`, let `k = -f - e`:
//!
//! 1. `v = x * 2^max(k,0) + zp * 2^max(-k,0)`: the value `x / scale + zp` on the grid
//!    `2^-s`, `s = max(-k, 0)` (exact);
//! 2. `q = round(v / 2^s)`: `floor` is an arithmetic shift (`v[.. : s]`), the other
//!    modes add one when the dropped bits call for it (ties read the half bit and the
//!    OR of the bits below it; half-even also the LSB of the floor);
//! 3. saturate `q` to `[lo, hi]` (or wrap into it);
//! 4. `y = (q - zp) << shift_c` onto the common output grid.
//!
//! QONNX's bipolar 1-bit case gives `y = (v >= 0 ? 1 : -1) - zp`, shifted.

use super::netlist::{literal, tight, Bit, ModuleBody, Signal};
use aecc_ir::fixed::div_round;
use aecc_ir::{Interval, Overflow, Quantizer, Rounding};

/// The body and output expression of one quantizer lane `y = Q_c(x)`.
pub struct LaneLogic {
    pub body: ModuleBody,
    /// Expression of exactly `out_width` bits for the output `y`.
    pub y: String,
}

/// How a rounding mode reads in a comment.
pub(super) fn rounding_text(mode: Rounding) -> &'static str {
    match mode {
        Rounding::HalfEven => "to nearest, ties to even",
        Rounding::HalfAwayFromZero => "to nearest, ties away from zero",
        Rounding::HalfTowardZero => "to nearest, ties toward zero",
        Rounding::Floor => "toward -inf (floor)",
        Rounding::Ceil => "toward +inf (ceil)",
        Rounding::TowardZero => "toward zero",
        Rounding::AwayFromZero => "away from zero",
        Rounding::HalfOdd => "to nearest, ties to odd",
    }
}

fn shr_interval(i: Interval, s: u32, mode: Rounding) -> Interval {
    let den = 1i128 << s;
    Interval::new(div_round(i.lo, den, mode), div_round(i.hi, den, mode))
}

/// `expr + c` or `expr - |c|` at `width` bits.
pub(super) fn add_const(expr: String, c: i128, width: u32) -> String {
    if c == 0 {
        expr
    } else if c > 0 {
        format!("{expr} + {}", literal(c, width))
    } else {
        format!("{expr} - {}", literal(-c, width))
    }
}

/// Builds the logic of channel `c` of `q` for an input of `x_width` bits (`x_signed`),
/// holding `x_interval` on grid `2^-in_frac`, producing `out_width` bits.
pub fn lane_logic(
    q: &Quantizer,
    c: usize,
    x_width: u32,
    x_signed: bool,
    x_interval: Interval,
    in_frac: i32,
    out_width: u32,
) -> LaneLogic {
    let ch = q.channels[c];
    debug_assert!(ch.scale.is_pow2());
    let zp = ch.zero_point as i128;
    let k = -in_frac - ch.scale.exponent;
    let (k_left, s) = if k >= 0 {
        (k as u32, 0)
    } else {
        (0, (-k) as u32)
    };
    let out_shift = q.channel_shift(c);

    let mut body = ModuleBody::new();
    let x = body.port("x", x_width, x_signed, x_interval);

    // 1. v = x * 2^k_left + zp * 2^s
    let zp_fine = zp << s;
    let v_interval = Interval::new(
        (x_interval.lo << k_left) + zp_fine,
        (x_interval.hi << k_left) + zp_fine,
    );
    if q.is_bipolar() && (v_interval.lo >= 0 || v_interval.hi < 0) {
        // the sign of v is known: a constant output
        let q_const = if v_interval.lo >= 0 { 1 } else { -1 };
        let y = literal((q_const - zp) << out_shift, out_width);
        return LaneLogic { body, y };
    }
    let v = if k_left == 0 && zp_fine == 0 {
        x
    } else {
        let (w, _) = tight(v_interval);
        let shifted = body.shift_left(&x, k_left, w);
        let comment = format!(
            "v = x / scale + zp on grid 2^-{s}: x * 2^{k_left} + {zp} * 2^{s}, {v_interval}"
        );
        body.wire(
            "v",
            v_interval,
            add_const(shifted, zp_fine, w),
            Some(comment),
        )
    };

    if q.is_bipolar() {
        // q = v >= 0 ? 1 : -1, y = (q - zp) << out_shift
        let pos = literal((1 - zp) << out_shift, out_width);
        let neg = literal((-1 - zp) << out_shift, out_width);
        let y = match body.sign(&v) {
            Bit::Const(false) => pos,
            Bit::Const(true) => neg,
            sign => format!("{} ? {neg} : {pos}", body.use_bit(&sign)),
        };
        return LaneLogic { body, y };
    }

    // 2. q = round(v / 2^s)
    let q_raw = if s == 0 {
        v
    } else {
        let q_interval = shr_interval(v_interval, s, q.rounding);
        let (w, _) = tight(q_interval);
        let floor = body.field(&v, s, w);
        // Only the bits the mode reads are touched (unread bits go to the unused sink).
        let increment = match q.rounding {
            Rounding::Floor => Bit::Const(false),
            Rounding::Ceil => body.any_low_bits(&v, s),
            Rounding::TowardZero => {
                let dropped = body.any_low_bits(&v, s);
                body.sign(&v).and(dropped)
            }
            Rounding::AwayFromZero => {
                let dropped = body.any_low_bits(&v, s);
                (!body.sign(&v)).and(dropped)
            }
            Rounding::HalfEven
            | Rounding::HalfAwayFromZero
            | Rounding::HalfTowardZero
            | Rounding::HalfOdd => {
                let half = body.bit(&v, s - 1);
                let below_half = body.any_low_bits(&v, s - 1);
                // at a tie: even floor stays, odd goes up; or by the sign of v
                let tie_up = match q.rounding {
                    Rounding::HalfEven => body.bit(&v, s),
                    Rounding::HalfOdd => !body.bit(&v, s),
                    Rounding::HalfAwayFromZero => !body.sign(&v),
                    _ => body.sign(&v),
                };
                half.and(below_half.or(tie_up))
            }
        };
        let expr = match increment {
            Bit::Const(false) => floor,
            Bit::Const(true) => add_const(floor, 1, w),
            inc if w == 1 => format!("{floor} + {}", body.use_bit(&inc)),
            inc => format!("{floor} + {{{}'d0, {}}}", w - 1, body.use_bit(&inc)),
        };
        let comment = format!(
            "q = round(v / 2^{s}) {}, {q_interval}",
            rounding_text(q.rounding)
        );
        body.wire("q", q_interval, expr, Some(comment))
    };

    // 3. into [lo, hi]
    let (lo, hi) = q.q_bounds();
    let qi = q_raw.interval;
    let q_in_range = if qi.lo >= lo && qi.hi <= hi {
        q_raw
    } else {
        match q.overflow {
            Overflow::Saturate => saturate(&mut body, &q_raw, lo, hi),
            Overflow::Wrap => wrap(&mut body, &q_raw, lo, hi, q.bit_width),
        }
    };

    // 4. y = (q - zp) << out_shift
    let d = if zp == 0 {
        q_in_range
    } else {
        let i = q_in_range.interval;
        let d_interval = Interval::new(i.lo - zp, i.hi - zp);
        let (w, _) = tight(d_interval);
        let qx = body.field(&q_in_range, 0, w);
        let comment = format!("remove the zero point, {d_interval}");
        body.wire("d", d_interval, add_const(qx, -zp, w), Some(comment))
    };
    let y = body.shift_left(&d, out_shift, out_width);
    LaneLogic { body, y }
}

pub(super) fn saturate(body: &mut ModuleBody, q: &Signal, lo: i128, hi: i128) -> Signal {
    let qi = q.interval;
    let interval = Interval::new(qi.lo.clamp(lo, hi), qi.hi.clamp(lo, hi));
    let (w, _) = tight(interval);
    let mut expr = body.field(q, 0, w);
    if qi.hi > hi {
        let test = body.compare(q, hi, false);
        expr = format!("{test} ? {} : {expr}", literal(hi, w));
    }
    if qi.lo < lo {
        let test = body.compare(q, lo, true);
        expr = format!("{test} ? {} : {expr}", literal(lo, w));
    }
    let comment = format!("saturate to [{lo}, {hi}]");
    body.wire("q_sat", interval, expr, Some(comment))
}

/// `lo + (q - lo) mod (hi - lo + 1)`.
pub(super) fn wrap(body: &mut ModuleBody, q: &Signal, lo: i128, hi: i128, bits: u32) -> Signal {
    let period = hi - lo + 1;
    let range = Interval::new(lo, hi);
    if period == 1i128 << bits {
        // the low `bits` bits, read as the quantizer's signedness
        let (w, _) = tight(range);
        let expr = body.field(q, 0, w);
        return body.wire(
            "q_wrap",
            range,
            expr,
            Some(format!("wrap into [{lo}, {hi}]")),
        );
    }
    // Narrow range: period 2^bits - 1. Make the value non-negative by adding a multiple
    // of the period, then reduce with end-around-carry folds (2^bits = 1 mod period).
    let qi = q.interval;
    let lift = if qi.lo < lo {
        (lo - qi.lo + period - 1) / period * period
    } else {
        0
    };
    let offset = lift - lo;
    let t_interval = Interval::new(qi.lo + offset, qi.hi + offset);
    let (w, _) = tight(t_interval);
    let qx = body.field(q, 0, w);
    let mut t = body.wire(
        "t0",
        t_interval,
        add_const(qx, offset, w),
        Some(format!(
            "wrap into [{lo}, {hi}] (period {period}): q - lo + {lift} >= 0"
        )),
    );
    let mut step = 0;
    while t.interval.hi >= 2 * period {
        step += 1;
        let chunks = t.width.div_ceil(bits);
        let mut hi_sum = 0i128;
        for j in 0..chunks {
            let top = ((j + 1) * bits).min(t.width);
            let max_chunk =
                ((t.interval.hi >> (j * bits)) as u128).min((1u128 << (top - j * bits)) - 1);
            hi_sum += max_chunk as i128;
        }
        let interval = Interval::new(0, hi_sum);
        let (sw, _) = tight(interval);
        let parts: Vec<String> = (0..chunks)
            .map(|j| {
                let lo_bit = j * bits;
                let n = ((j + 1) * bits).min(t.width) - lo_bit;
                let piece = body.field(&t, lo_bit, n);
                if n < sw {
                    format!("{{{}'d0, {piece}}}", sw - n)
                } else {
                    piece
                }
            })
            .collect();
        let name = format!("t{step}");
        t = body.wire(
            &name,
            interval,
            parts.join(" + "),
            Some(format!("fold {bits}-bit chunks (mod {period})")),
        );
    }
    // t in [0, 2 * period): subtract the period once if needed, then add lo back.
    let (w, _) = tight(range);
    let ww = w.max(t.width) + 1;
    let tx = body.field(&t, 0, ww);
    let ge = body.compare(&t, period - 1, false);
    let expr = format!(
        "{ge} ? {} : {}",
        add_const(tx.clone(), lo - period, ww),
        add_const(tx, lo, ww)
    );
    let full = body.wire_of_width(
        "q_mod",
        ww,
        true,
        range,
        expr,
        Some(format!("t mod {period} + lo")),
    );
    let expr = body.field(&full, 0, w);
    body.wire("q_wrap", range, expr, None)
}
