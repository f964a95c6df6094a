//! One lane of a quantizer whose division is not a shift: a non-power-of-two scale
//! `m * 2^e`, or an input carrying a scale unit `num / den` (see [`aecc_ir::Unit`]).
//! Bit-exact with [`aecc_ir::Quantizer::quantize_scaled`].
//!
//! For channel `c`, with `x` on the grid `num / den * 2^-f` and `k = -f - e`:
//!
//! 1. `V = x * num * 2^max(k,0) + zp * D * 2^s`, where `D = den * m` (odd) and
//!    `s = max(-k, 0)`: then `x / scale + zp = V / (D * 2^s)` (exact);
//! 2. `V_hi = floor(V / 2^s)` is a bit slice; `Q = floor(V_hi / D)` is the high part
//!    of one constant product (`(V_hi + K*D) * M >> t`, with `K*D` making the dividend
//!    non-negative and `M`, `t` a magic multiplier proven exact for the dividend's whole
//!    interval, see [`crate::backend::magic`]); the remainder of the whole division is
//!    `R = {V_hi - Q*D, V[s-1:0]}`, in `[0, D * 2^s)`;
//! 3. `q = Q + 1` when the rounding mode asks for it: `R != 0` (ceil, toward/away from
//!    zero by the sign of `Q`), or `R` against the half `D * 2^(s-1)` (ties by the
//!    parity or sign of `Q`);
//! 4. saturate or wrap `q` into `[lo, hi]`, remove the zero point and put
//!    `(q - zp) * (m / g)` on the output grid (`g` the output unit).
//!
//! QONNX's bipolar 1-bit case is `V >= 0 ? 1 : -1`.

use super::netlist::{literal, tight, Bit, ModuleBody};
use super::quantize::{add_const, lane_logic, rounding_text, saturate, wrap, LaneLogic};
use crate::backend::magic::MagicDivisor;
use aecc_ir::fixed::div_round;
use aecc_ir::{Interval, Overflow, Quantizer, Rounding, TensorInfo};

/// The logic of channel `c` of `q` on an input `x`, producing `out_width` bits: the
/// shift-only lane when the division is by a power of two, else the lane above.
pub fn lane(q: &Quantizer, c: usize, x: &TensorInfo, out_width: u32) -> Result<LaneLogic, String> {
    if q.channels[c].scale.is_pow2() && x.unit.is_one() {
        return Ok(lane_logic(
            q,
            c,
            x.ty.width,
            x.ty.signed,
            x.interval,
            x.ty.frac,
            out_width,
        ));
    }
    scaled_lane(q, c, x, out_width)
}

fn scaled_lane(
    q: &Quantizer,
    c: usize,
    xi: &TensorInfo,
    out_width: u32,
) -> Result<LaneLogic, String> {
    let ch = q.channels[c];
    let zp = ch.zero_point as i128;
    let k = -xi.ty.frac - ch.scale.exponent;
    let (k_left, s) = if k >= 0 {
        (k as u32, 0)
    } else {
        (0, (-k) as u32)
    };
    let num = xi.unit.num as i128;
    let d = xi.unit.den as i128 * ch.scale.mantissa as i128;
    let den = d << s;
    let multiplier = q.channel_multiplier(c) as i128;
    let out_shift = q.channel_shift(c);

    let mut body = ModuleBody::new();
    let x = body.port("x", xi.ty.width, xi.ty.signed, xi.interval);

    // 1. V = x * num * 2^k_left + zp * D * 2^s
    let xn = if num == 1 {
        x
    } else {
        let i = xi.interval.scale(num);
        let (w, _) = tight(i);
        let expr = format!("{} * {}", body.field(&x, 0, w), literal(num, w));
        body.wire(
            "xn",
            i,
            expr,
            Some(format!("x * {num} (numerator of the input unit), {i}")),
        )
    };
    let zp_fine = zp * den;
    let v_interval = xn.interval.shl(k_left).add(Interval::point(zp_fine));
    let y_of = |qv: i128| literal(((qv - zp) * multiplier) << out_shift, out_width);
    if q.is_bipolar() && (v_interval.lo >= 0 || v_interval.hi < 0) {
        let y = y_of(if v_interval.lo >= 0 { 1 } else { -1 });
        return Ok(LaneLogic { body, y });
    }
    let v = if k_left == 0 && zp_fine == 0 {
        xn
    } else {
        let (w, _) = tight(v_interval);
        let shifted = body.shift_left(&xn, k_left, w);
        let comment = format!(
            "V = (x / scale + zp) * {d} * 2^{s}: x * {num} * 2^{k_left} + {zp} * {den}, \
             {v_interval}"
        );
        body.wire(
            "v",
            v_interval,
            add_const(shifted, zp_fine, w),
            Some(comment),
        )
    };
    if q.is_bipolar() {
        let (pos, neg) = (y_of(1), y_of(-1));
        let y = match body.sign(&v) {
            Bit::Const(false) => pos,
            Bit::Const(true) => neg,
            sign => format!("{} ? {neg} : {pos}", body.use_bit(&sign)),
        };
        return Ok(LaneLogic { body, y });
    }

    // 2. Q = floor(V / (D * 2^s)) and the remainder R
    let hi_interval = Interval::new(v_interval.lo >> s, v_interval.hi >> s);
    let v_hi = if s == 0 {
        v.clone()
    } else {
        let (w, _) = tight(hi_interval);
        let expr = body.field(&v, s, w);
        body.wire(
            "v_hi",
            hi_interval,
            expr,
            Some(format!("floor(V / 2^{s}), {hi_interval}")),
        )
    };
    let (quotient, rem_hi) = if d == 1 {
        (v_hi, None)
    } else {
        let offset = if hi_interval.lo < 0 {
            (-hi_interval.lo + d - 1) / d
        } else {
            0
        };
        let u_interval = Interval::new(hi_interval.lo + offset * d, hi_interval.hi + offset * d);
        let u = if offset == 0 {
            v_hi
        } else {
            let (w, _) = tight(u_interval);
            let expr = add_const(body.field(&v_hi, 0, w), offset * d, w);
            body.wire(
                "u",
                u_interval,
                expr,
                Some(format!(
                    "V_hi + {offset} * {d} >= 0 (same remainder mod {d}), {u_interval}"
                )),
            )
        };
        let magic = MagicDivisor::new(d as u128, u_interval.hi as u128).ok_or_else(|| {
            format!(
                "dividing {u_interval} by {d} needs a product wider than 127 bits; the \
                 quantizer's input is too wide for an exact constant division"
            )
        })?;
        let m = magic.multiplier as i128;
        let p_interval = Interval::new(u_interval.lo * m, u_interval.hi * m);
        let (wp, _) = tight(p_interval);
        let expr = format!("{} * {}", body.field(&u, 0, wp), literal(m, wp));
        let p = body.wire(
            "p",
            p_interval,
            expr,
            Some(format!(
                "u * {m}: floor(u / {d}) = p >> {} for every u in {u_interval} \
                 (magic multiplier, exact on this interval)",
                magic.shift
            )),
        );
        let qu_interval = Interval::new(u_interval.lo / d, u_interval.hi / d);
        let (wq, _) = tight(qu_interval);
        let expr = body.field(&p, magic.shift, wq);
        let qu = body.wire(
            "qu",
            qu_interval,
            expr,
            Some(format!("floor(u / {d}), {qu_interval}")),
        );
        let r_interval = Interval::new(0, d - 1);
        let (wr, _) = tight(r_interval);
        let expr = format!(
            "{} - {} * {}",
            body.field(&u, 0, wr),
            body.field(&qu, 0, wr),
            literal(d, wr)
        );
        let r = body.wire(
            "r_hi",
            r_interval,
            expr,
            Some(format!("u - {d} * floor(u / {d}), {r_interval}")),
        );
        let quotient = if offset == 0 {
            qu
        } else {
            let i = Interval::new(qu_interval.lo - offset, qu_interval.hi - offset);
            let (w, _) = tight(i);
            let expr = add_const(body.field(&qu, 0, w), -offset, w);
            body.wire("qf", i, expr, Some(format!("floor(V / {den}), {i}")))
        };
        (quotient, Some(r))
    };
    // R = {r_hi, V[s-1:0]} in [0, den)
    let rem = match (&rem_hi, s) {
        (None, 0) => None,
        (Some(r), 0) => Some(r.clone()),
        (r, _) => {
            // the low s bits of V, sign-extended when V is narrower than the shift
            let low = body.field(&v, 0, s);
            let r_interval = Interval::new(0, den - 1);
            let (w, _) = tight(r_interval);
            let expr = match r {
                Some(r) => format!("{{{}, {low}}}", body.slice(r, r.width - 1, 0)),
                None => low,
            };
            debug_assert_eq!(w, rem_hi.as_ref().map_or(0, |r| r.width) + s);
            Some(body.wire(
                "rem",
                r_interval,
                expr,
                Some(format!("V - {den} * floor(V / {den}), {r_interval}")),
            ))
        }
    };

    // 3. q = round(V / den)
    let q_interval = Interval::new(
        div_round(v_interval.lo, den, q.rounding),
        div_round(v_interval.hi, den, q.rounding),
    );
    let q_raw = match &rem {
        None => quotient,
        Some(r) => {
            let nonzero = body.any_low_bits(r, r.width);
            let increment = match q.rounding {
                Rounding::Floor => Bit::Const(false),
                Rounding::Ceil => nonzero,
                Rounding::TowardZero => body.sign(&quotient).and(nonzero),
                Rounding::AwayFromZero => (!body.sign(&quotient)).and(nonzero),
                Rounding::HalfEven
                | Rounding::HalfAwayFromZero
                | Rounding::HalfTowardZero
                | Rounding::HalfOdd => {
                    // above half: R > floor(den / 2); a tie (R == den / 2) needs an
                    // even den
                    let above = Bit::Expr {
                        text: body.compare(r, den / 2, false),
                        reads: Vec::new(),
                    };
                    if s == 0 {
                        above
                    } else {
                        let tie_up = match q.rounding {
                            Rounding::HalfEven => body.bit(&quotient, 0),
                            Rounding::HalfOdd => !body.bit(&quotient, 0),
                            Rounding::HalfAwayFromZero => !body.sign(&quotient),
                            _ => body.sign(&quotient),
                        };
                        let tie = match tie_up {
                            Bit::Const(false) => Bit::Const(false),
                            tie_up => Bit::Expr {
                                text: format!(
                                    "({} == {})",
                                    body.slice(r, r.width - 1, 0),
                                    literal(den / 2, r.width)
                                ),
                                reads: Vec::new(),
                            }
                            .and(tie_up),
                        };
                        above.or(tie)
                    }
                }
            };
            let (w, _) = tight(q_interval);
            let floor = body.field(&quotient, 0, w);
            let expr = match increment {
                Bit::Const(false) => floor,
                Bit::Const(true) => add_const(floor, 1, w),
                inc if w == 1 => format!("{floor} + {}", body.use_bit(&inc)),
                inc => format!("{floor} + {{{}'d0, {}}}", w - 1, body.use_bit(&inc)),
            };
            body.wire(
                "q",
                q_interval,
                expr,
                Some(format!(
                    "q = round(V / {den}) {}, {q_interval}",
                    rounding_text(q.rounding)
                )),
            )
        }
    };

    // 4. into [lo, hi], remove the zero point, onto the output grid
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
    let d_signal = if zp == 0 {
        q_in_range
    } else {
        let i = q_in_range.interval;
        let d_interval = Interval::new(i.lo - zp, i.hi - zp);
        let (w, _) = tight(d_interval);
        let qx = body.field(&q_in_range, 0, w);
        body.wire(
            "d",
            d_interval,
            add_const(qx, -zp, w),
            Some(format!("remove the zero point, {d_interval}")),
        )
    };
    let scaled = if multiplier == 1 {
        d_signal
    } else {
        let i = d_signal.interval.scale(multiplier);
        let (w, _) = tight(i);
        let expr = format!(
            "{} * {}",
            body.field(&d_signal, 0, w),
            literal(multiplier, w)
        );
        body.wire(
            "dm",
            i,
            expr,
            Some(format!(
                "(q - zp) * {multiplier}: this channel's share of the output unit"
            )),
        )
    };
    let y = body.shift_left(&scaled, out_shift, out_width);
    Ok(LaneLogic { body, y })
}
