//! Exact real constants and the per-channel affine maps built from them: the shared
//! machinery of `BatchNormalization`, `Mul`/`Div`/`Add`/`Sub` with a constant,
//! `HardSigmoid` and `Clip` bounds.
//!
//! Every constant of the model is an exact rational `n * unit * 2^-frac` ([`Exact`]):
//! floats are dyadic, quantized constants carry their scale unit, and `1 / c` moves the
//! odd part of `c` into the unit's denominator. An affine map `y = x * a_c + b_c` on an
//! activation on the grid `unit_x * 2^-f_x` is then an integer map `x * mul_c + add_c`
//! on a grid `G * 2^-F` chosen so that every `mul_c` and `add_c` is an integer
//! ([`affine_node`]); nothing is rounded.

use super::NodeCtx;
use crate::onnx::constant::Constant;
use crate::onnx::error::ImportError;
use aecc_ir::fixed::div_round;
use aecc_ir::{Affine, NodeId, Op, Rounding, TensorInfo, Unit};

/// The exact real number `n * unit * 2^-frac`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Exact {
    pub n: i128,
    pub unit: Unit,
    pub frac: i32,
}

impl Exact {
    pub fn zero() -> Exact {
        Exact {
            n: 0,
            unit: Unit::ONE,
            frac: 0,
        }
    }

    /// The exact value of a float.
    pub fn of_f64(v: f64) -> Result<Exact, String> {
        if !v.is_finite() {
            return Err(format!("{v} is not a finite number"));
        }
        let (n, f) = aecc_ir::quant::f64_to_dyadic(v);
        Ok(Exact {
            n,
            unit: Unit::ONE,
            frac: f,
        }
        .normalized())
    }

    /// Element `i` of a constant.
    pub fn of_constant(c: &Constant, i: usize) -> Result<Exact, String> {
        let (n, frac, unit) = c.exact(i)?;
        Ok(Exact { n, unit, frac }.normalized())
    }

    /// Powers of two of `n` moved into `frac`.
    pub fn normalized(self) -> Exact {
        if self.n == 0 {
            return Exact::zero();
        }
        let t = self.n.trailing_zeros();
        Exact {
            n: self.n >> t,
            unit: self.unit,
            frac: self.frac - t as i32,
        }
    }

    pub fn neg(self) -> Exact {
        Exact { n: -self.n, ..self }
    }

    pub fn checked_mul(self, o: Exact) -> Option<Exact> {
        Some(
            Exact {
                n: self
                    .n
                    .checked_mul(o.n)
                    .filter(|v| v.unsigned_abs() < 1 << 100)?,
                unit: self.unit.checked_mul(o.unit)?,
                frac: self.frac.checked_add(o.frac)?,
            }
            .normalized(),
        )
    }

    /// `1 / self` (exact: the odd part of `n` goes into the unit's denominator).
    pub fn recip(self) -> Option<Exact> {
        let e = self.normalized();
        if e.n == 0 || e.n.unsigned_abs() >= 1 << 62 {
            return None;
        }
        let odd = Unit::new(1, e.n.unsigned_abs() as u64)?;
        Some(Exact {
            n: e.n.signum(),
            unit: odd.checked_div(e.unit)?,
            frac: -e.frac,
        })
    }

    pub fn to_f64(self) -> f64 {
        self.n as f64 * self.unit.to_f64() * aecc_ir::fixed::pow2(-self.frac)
    }

    /// `self` as an integer count of `step = unit * 2^-frac`, if it is one.
    fn on_grid(self, unit: Unit, frac: i32) -> Option<i128> {
        if self.n == 0 {
            return Some(0);
        }
        let r = self.unit.ratio_int(unit)? as i128;
        let shift = frac.checked_sub(self.frac)?;
        if !(0..100).contains(&shift) {
            return None;
        }
        self.n
            .checked_mul(r)?
            .checked_mul(1i128 << shift)
            .filter(|v| v.unsigned_abs() < 1 << 100)
    }

    /// `self / (unit * 2^-frac)` rounded with `mode` (the grid integer next to it).
    fn round_on_grid(self, unit: Unit, frac: i32, mode: Rounding) -> Option<i128> {
        // n * u.num * unit.den * 2^(frac - f) / (u.den * unit.num)
        let num = self
            .n
            .checked_mul(self.unit.num as i128)?
            .checked_mul(unit.den as i128)?;
        let den = (self.unit.den as i128).checked_mul(unit.num as i128)?;
        let shift = frac - self.frac;
        let (num, den) = if shift >= 0 {
            if shift > 60 || num.unsigned_abs().leading_zeros() < shift as u32 + 2 {
                return None;
            }
            (num << shift, den)
        } else {
            if -shift > 60 || den.leading_zeros() < (-shift) as u32 + 2 {
                return None;
            }
            (num, den << (-shift))
        };
        Some(div_round(num, den, mode))
    }
}

/// Per-channel values of a constant that broadcasts against `target` along `axis` (or
/// is a single value), as exact numbers.
pub(crate) fn channel_exacts(
    ctx: &NodeCtx<'_>,
    c: &Constant,
    target: &[usize],
    axis: Option<usize>,
    what: &str,
) -> Result<Vec<Exact>, ImportError> {
    let v = match axis {
        None => c.clone(),
        Some(a) => super::weights::channel_vector(ctx, c, target, a, what)?,
    };
    (0..v.len())
        .map(|i| Exact::of_constant(&v, i).map_err(|m| ctx.error(format!("{what} {m}"))))
        .collect()
}

/// The channel axis along which a constant `c` varies against the activation shape
/// `target` (numpy broadcasting), or `None` when it is a single value.
pub(crate) fn constant_axis(
    ctx: &NodeCtx<'_>,
    c: &Constant,
    target: &[usize],
    what: &str,
) -> Result<Option<usize>, ImportError> {
    super::weights::broadcast_axis(&c.shape, target).map_err(|m| ctx.error(format!("{what}: {m}")))
}

/// The integer affine map computing `y = x * a[c] + b[c]` exactly on the activation
/// `x` (channel `c` along `axis`), as an IR node (`suffix` names a helper node).
pub(crate) fn affine_node(
    ctx: &mut NodeCtx<'_>,
    x: NodeId,
    axis: Option<usize>,
    a: &[Exact],
    b: &[Exact],
    suffix: &str,
) -> Result<NodeId, ImportError> {
    let op = affine_op(&ctx.imp.graph.node(x).out, axis, a, b).map_err(|m| ctx.error(m))?;
    ctx.add_node(Op::Affine(op), &[x], suffix)
}

/// The `Affine` of [`affine_node`] for an input tensor `xi`.
pub(crate) fn affine_op(
    xi: &TensorInfo,
    axis: Option<usize>,
    a: &[Exact],
    b: &[Exact],
) -> Result<Affine, String> {
    let n = a.len().max(b.len());
    let pick = |v: &[Exact], c: usize| if v.len() == 1 { v[0] } else { v[c] };
    let input = Exact {
        n: 1,
        unit: xi.unit,
        frac: xi.ty.frac,
    };
    let products: Vec<Exact> = (0..n)
        .map(|c| {
            pick(a, c)
                .checked_mul(input)
                .ok_or_else(|| "the multiplier leaves the exact range".to_string())
        })
        .collect::<Result<_, _>>()?;
    let offsets: Vec<Exact> = (0..n).map(|c| pick(b, c).normalized()).collect();
    let nonzero = products.iter().chain(&offsets).filter(|e| e.n != 0);
    let mut unit: Option<Unit> = None;
    let mut frac = xi.ty.frac;
    let mut any = false;
    for e in nonzero {
        unit = Some(match unit {
            None => e.unit,
            Some(u) => u
                .common(e.unit)
                .ok_or("the constants' scale units have no common unit in range")?,
        });
        frac = if any { frac.max(e.frac) } else { e.frac };
        any = true;
    }
    let unit = unit.unwrap_or(xi.unit);
    let as_i64 = |e: Exact| -> Result<i64, String> {
        e.on_grid(unit, frac)
            .and_then(|v| i64::try_from(v).ok())
            .ok_or_else(|| {
                format!(
                    "the constant {} does not fit 64 bits on the output grid",
                    e.to_f64()
                )
            })
    };
    let mul = products
        .iter()
        .map(|&p| {
            // mul = a * unit_x * 2^-f_x / (G * 2^-F): the product with n = a.n
            as_i64(p)
        })
        .collect::<Result<Vec<i64>, String>>()?;
    let add = offsets
        .iter()
        .map(|&o| as_i64(o))
        .collect::<Result<Vec<i64>, String>>()?;
    Ok(Affine {
        axis: if n == 1 { None } else { axis },
        mul,
        add,
        out_frac: frac,
        out_unit: unit,
    })
}

/// Integer bounds on the grid of `xi` equivalent to the real bounds `lo`, `hi` (an
/// integer `x` satisfies `lo <= x * step` iff `x >= ceil(lo / step)`).
pub(crate) fn integer_bounds(
    xi: &TensorInfo,
    lo: Option<Exact>,
    hi: Option<Exact>,
) -> Result<(i64, i64), String> {
    let clamp = |v: Option<i128>, default: i128| -> i64 {
        v.unwrap_or(default)
            .clamp(i64::MIN as i128, i64::MAX as i128) as i64
    };
    let bound = |e: Exact, mode: Rounding| -> Option<i128> {
        // a bound far outside the tensor's range only needs its sign
        e.round_on_grid(xi.unit, xi.ty.frac, mode).or_else(|| {
            (e.to_f64().abs() > 1e30).then_some({
                if e.n < 0 {
                    i64::MIN as i128
                } else {
                    i64::MAX as i128
                }
            })
        })
    };
    let lo_i = match lo {
        None => i64::MIN,
        Some(e) => clamp(
            Some(bound(e, Rounding::Ceil).ok_or("the lower bound is outside the exact range")?),
            0,
        ),
    };
    let hi_i = match hi {
        None => i64::MAX,
        Some(e) => clamp(
            Some(bound(e, Rounding::Floor).ok_or("the upper bound is outside the exact range")?),
            0,
        ),
    };
    Ok((lo_i, hi_i))
}

#[cfg(test)]
mod tests {
    use super::*;
    use aecc_ir::Interval;

    fn x(frac: i32, unit: Unit) -> TensorInfo {
        TensorInfo::exact(vec![1, 2], Interval::new(-100, 100), frac).with_unit(unit)
    }

    #[test]
    fn batch_norm_like_map_is_integral() {
        // x on 2^-3; a = [0.75, -1.5], b = [0.125, 2]
        let a = [Exact::of_f64(0.75).unwrap(), Exact::of_f64(-1.5).unwrap()];
        let b = [Exact::of_f64(0.125).unwrap(), Exact::of_f64(2.0).unwrap()];
        let op = affine_op(&x(3, Unit::ONE), Some(1), &a, &b).unwrap();
        // products on 2^-5 (0.75 = 3 * 2^-2): mul = [3, -6]; b = [4, 64]
        assert_eq!(
            (op.mul.clone(), op.add.clone(), op.out_frac),
            (vec![3, -6], vec![4, 64], 5)
        );
        assert_eq!(op.out_unit, Unit::ONE);
    }

    #[test]
    fn division_by_three_moves_into_the_unit() {
        let third = Exact::of_f64(3.0).unwrap().recip().unwrap();
        assert_eq!(third.unit, Unit::new(1, 3).unwrap());
        let op = affine_op(
            &x(2, Unit::int(5).unwrap()),
            None,
            &[third],
            &[Exact::zero()],
        )
        .unwrap();
        // x * 5 / 3 on 2^-2: mul 1 on the unit 5/3
        assert_eq!(
            (op.mul.clone(), op.out_frac, op.out_unit),
            (vec![1], 2, Unit::new(5, 3).unwrap())
        );
        // an offset of 1 on that grid needs the unit 1/3: 5/3 = 5 * (1/3)
        let op = affine_op(
            &x(2, Unit::int(5).unwrap()),
            None,
            &[third],
            &[Exact::of_f64(1.0).unwrap()],
        )
        .unwrap();
        assert_eq!(op.out_unit, Unit::new(1, 3).unwrap());
        // 1 = 12 * 1/3 * 2^-2
        assert_eq!(
            (op.mul.clone(), op.add.clone(), op.out_frac),
            (vec![5], vec![12], 2)
        );
    }

    #[test]
    fn clip_bounds_round_inward() {
        // x on 2^-2 with unit 3 (step 0.75): 0 <= x * 0.75 <= 6.1 -> [0, 8]
        let (lo, hi) = integer_bounds(
            &x(2, Unit::int(3).unwrap()),
            Some(Exact::of_f64(0.0).unwrap()),
            Some(Exact::of_f64(6.1f32 as f64).unwrap()),
        )
        .unwrap();
        assert_eq!((lo, hi), (0, 8));
        let (lo, _) =
            integer_bounds(&x(0, Unit::ONE), Some(Exact::of_f64(-2.5).unwrap()), None).unwrap();
        assert_eq!(lo, -2);
    }
}
