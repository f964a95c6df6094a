//! Constant weights and biases as exact integers, shared by `Gemm`, `MatMul`, `Add` and
//! `Conv`.
//!
//! Quantized constants (the outputs of `Quant` nodes, folded at compile time) and integer
//! constants are exact. Unquantized float constants are put on a power-of-two grid by
//! this rule (a warning with the largest error is pushed whenever it rounds):
//!
//! - **bias** (anything added to an accumulator): exactly, if every value needs at most
//!   `acc_frac + 8` fractional bits, where `2^-acc_frac` is the grid of the products
//!   `x * w`; otherwise rounded half-to-even onto `2^-(acc_frac + 8)`
//!   ([`FLOAT_BIAS_EXTRA_FRAC_BITS`]);
//! - **weight**: no accumulator grid exists before the weights are known, so the grid is
//!   chosen from the weights themselves: exactly, if they need no more fractional bits
//!   than the finest grid on which the largest magnitude fits a signed
//!   [`FLOAT_WEIGHT_BITS`]-bit integer; otherwise rounded half-to-even onto that grid.

use super::NodeCtx;
use crate::onnx::constant::{
    floats_to_grid, frac_for_magnitude, shape_str, shl_i64, to_unit_grid, ConstData, Constant,
};
use crate::onnx::error::ImportError;
use aecc_ir::fixed::pow2;
use aecc_ir::{ConstTensor, DyadicScale, Interval, TensorInfo, Unit};

/// Fractional bits beyond the product grid given to an unquantized float bias.
pub const FLOAT_BIAS_EXTRA_FRAC_BITS: i32 = 8;
/// Signed width that sets the grid of unquantized float weights.
pub const FLOAT_WEIGHT_BITS: u32 = 16;

/// The axis of `target` along which `param`, broadcast against `target` (numpy rules,
/// right-aligned), varies: `None` if it holds one value, `Some(axis)` if it varies along
/// exactly one axis and matches `target` there.
pub(crate) fn broadcast_axis(param: &[usize], target: &[usize]) -> Result<Option<usize>, String> {
    if param.contains(&0) {
        return Err(format!("shape {} is empty", shape_str(param)));
    }
    if param.len() > target.len() {
        if param.iter().all(|&d| d == 1) {
            return Err(format!(
                "shape {} has more axes than the tensor {} it applies to",
                shape_str(param),
                shape_str(target)
            ));
        }
        return Err(format!(
            "shape {} does not broadcast to {}",
            shape_str(param),
            shape_str(target)
        ));
    }
    let offset = target.len() - param.len();
    let mut axes = Vec::new();
    for (i, &d) in param.iter().enumerate() {
        if d == 1 {
            continue;
        }
        let a = offset + i;
        if d != target[a] {
            return Err(format!(
                "shape {} does not broadcast to {} (axis {a}: {d} vs {})",
                shape_str(param),
                shape_str(target),
                target[a]
            ));
        }
        axes.push(a);
    }
    match axes.as_slice() {
        [] => Ok(None),
        [a] => Ok(Some(*a)),
        _ => Err(format!(
            "shape {} varies along axes {:?} of {}; only one channel axis is supported",
            shape_str(param),
            axes,
            shape_str(target)
        )),
    }
}

/// The `n` per-channel values of `c`, which must broadcast against `target` as a
/// per-channel vector along `axis` (or be a single value, repeated).
pub(crate) fn channel_vector(
    ctx: &NodeCtx<'_>,
    c: &Constant,
    target: &[usize],
    axis: usize,
    what: &str,
) -> Result<Constant, ImportError> {
    let n = target.get(axis).copied().unwrap_or(1);
    let bad = |m: String| {
        ctx.error(format!(
            "{what} of shape {} must be one value per output channel ({n} along axis {axis} of \
             {}): {m}",
            shape_str(&c.shape),
            shape_str(target)
        ))
    };
    match broadcast_axis(&c.shape, target).map_err(bad)? {
        None => Ok(c.select(&vec![0; n], vec![n])),
        Some(a) if a == axis => Ok(c.select(&(0..n).collect::<Vec<_>>(), vec![n])),
        Some(a) => Err(bad(format!("it varies along axis {a}"))),
    }
}

/// A weight tensor as exact integers (see the module rule for unquantized floats).
pub(crate) fn weight_tensor(
    ctx: &mut NodeCtx<'_>,
    c: &Constant,
    input: usize,
) -> Result<ConstTensor, ImportError> {
    if let Some((data, frac, unit)) = c.to_scaled() {
        return Ok(ConstTensor::new(c.shape.clone(), data, frac)
            .with_unit(unit)
            .with_declared(c.declared));
    }
    let values = c.to_f64();
    let max_abs = values.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    let frac = frac_for_magnitude(max_abs, FLOAT_WEIGHT_BITS);
    let g = floats_to_grid(&values, frac).map_err(|m| {
        ctx.error(format!(
            "weight '{}' (unquantized float) {m}",
            ctx.input_name(input)
        ))
    })?;
    if !g.is_exact() {
        let msg = format!(
            "node {}: weight '{}' is an unquantized float (no Quant node); rounded \
             half-to-even to grid 2^{} ({FLOAT_WEIGHT_BITS}-bit signed range of its largest \
             magnitude {max_abs:e}), max abs error {:e}",
            ctx.label,
            ctx.input_name(input),
            -g.frac,
            g.max_error
        );
        ctx.warn(msg);
    }
    Ok(ConstTensor::new(c.shape.clone(), g.data, g.frac))
}

/// The weights and the bias of a Dense/Conv on the input `x`, the bias being `extra`
/// (added to `old_bias` when there is one), all on one exact scale unit. `tensor`
/// names the bias in messages.
///
/// The products `x * w` are on the grid `unit_x * unit_w * 2^-(frac_x + frac_w)`. The
/// bias is put on that unit, by the first rule that applies (see the module rule for
/// unquantized floats on plain grids):
/// 1. exactly, with at most [`FLOAT_BIAS_EXTRA_FRAC_BITS`] more fractional bits;
/// 2. exactly, after multiplying the weights by a small integer `r < 2^16` that moves
///    the products onto a unit the bias shares (e.g. a bias on `2^-3` after an
///    activation quantized with scale `5 * 2^-3`: the weights are multiplied by 5);
/// 3. rounded onto the product grid itself when no value moves by more than 1/16 of its
///    step: the case of a QDQ bias, whose scale is the float32 product `fl(s_x * s_w)`,
///    not the exact `s_x * s_w` of the products;
/// 4. exactly, with any weight multiplier that keeps the weights within 62 bits and
///    the accumulator within 56;
/// 5. rounded half-to-even onto the grid with the extra fractional bits.
///
/// Every rounding is a warning with its largest error.
pub(crate) fn weights_with_bias(
    ctx: &mut NodeCtx<'_>,
    x: &TensorInfo,
    weight: ConstTensor,
    old_bias: Option<ConstTensor>,
    extra: &Constant,
    tensor: &str,
) -> Result<(ConstTensor, ConstTensor), ImportError> {
    let pf = x.ty.frac + weight.frac;
    let up = product_unit(ctx, x.unit, weight.unit)?;
    let max_frac = pf + FLOAT_BIAS_EXTRA_FRAC_BITS;
    let bad = |ctx: &NodeCtx<'_>, m: String| ctx.error(format!("bias '{tensor}' {m}"));
    let finish = |ctx: &NodeCtx<'_>, w: ConstTensor, b: ConstTensor| {
        let b = match &old_bias {
            None => b,
            Some(old) => {
                let r = old
                    .unit
                    .ratio_int(b.unit)
                    .expect("the product unit divides");
                let scaled = scale_ints(ctx, old, r)?;
                add_bias(ctx, &scaled.with_unit(b.unit), &b)?
            }
        };
        Ok((w, b))
    };
    let with_unit = |g: super::super::constant::GridValues, unit: Unit| {
        let declared = if g.is_exact() {
            declared_on(extra, unit, g.frac)
        } else {
            None
        };
        ConstTensor::new(extra.shape.clone(), g.data, g.frac)
            .with_unit(unit)
            .with_declared(declared)
    };

    // already on the product unit: exact as it is
    if let Some((data, frac, unit)) = extra.to_scaled() {
        if unit == up {
            let b = ConstTensor::new(extra.shape.clone(), data, frac)
                .with_unit(unit)
                .with_declared(extra.declared);
            return finish(ctx, weight, b);
        }
    }
    // plain grids and a float bias: the module rule
    if up.is_one() && matches!(extra.data, ConstData::Float(_)) {
        let g = floats_to_grid(&extra.to_f64(), max_frac)
            .map_err(|m| bad(ctx, format!("(unquantized float) {m}")))?;
        if !g.is_exact() {
            let msg = format!(
                "node {}: bias '{tensor}' is an unquantized float (no Quant node); rounded \
                 half-to-even to grid 2^{} (accumulator grid 2^{} + \
                 {FLOAT_BIAS_EXTRA_FRAC_BITS} bits), max abs error {:e}",
                ctx.label, -g.frac, -pf, g.max_error
            );
            ctx.warn(msg);
        }
        return finish(ctx, weight, with_unit(g, Unit::ONE));
    }
    // 1. exact on the product unit
    let exact = to_unit_grid(extra, up, pf.min(0), max_frac).map_err(|m| bad(ctx, m))?;
    if exact.is_exact() {
        return finish(ctx, weight, with_unit(exact, up));
    }
    // the unit the bias's exact values share with the products
    let bias_unit = match &extra.data {
        ConstData::Fixed { unit, .. } => *unit,
        _ => Unit::ONE,
    };
    let common = up.common(bias_unit);
    // bits of the largest accumulator of weights `w` (an estimate that errs high)
    let terms = (weight.data.len() / extra.len().max(1)).max(1) as u128;
    let x_max = x
        .interval
        .lo
        .unsigned_abs()
        .max(x.interval.hi.unsigned_abs());
    let acc_bits = |w: &ConstTensor| -> u32 {
        let w_max = w
            .data
            .iter()
            .map(|v| v.unsigned_abs() as u128)
            .max()
            .unwrap_or(0);
        let bits = |v: u128| 128 - v.leading_zeros();
        bits(x_max) + bits(w_max) + bits(terms)
    };
    let rescaled = |ctx: &NodeCtx<'_>, limit: u64| -> Option<(ConstTensor, ConstTensor)> {
        let g = common?;
        let r = up.ratio_int(g)?;
        if r >= limit {
            return None;
        }
        let b = to_unit_grid(extra, g, pf.min(0), max_frac).ok()?;
        if !b.is_exact() {
            return None;
        }
        let w = scale_ints(ctx, &weight, r).ok()?;
        if w.ty().width > 62 || acc_bits(&w) > 56 {
            return None;
        }
        let wu = weight.unit.checked_div(Unit::int(r)?)?;
        Some((w.with_unit(wu), with_unit(b, g)))
    };
    // 2. a small weight multiplier makes it exact
    if let Some((w, b)) = rescaled(ctx, 1 << 16) {
        return finish(ctx, w, b);
    }
    // 3. within 1/16 of a product step of the product grid
    let step = up.to_f64() * pow2(-pf);
    let near = to_unit_grid(extra, up, pf, pf).map_err(|m| bad(ctx, m))?;
    let rounded = if near.max_error <= step / 16.0 {
        Some(near)
    } else if let Some((w, b)) = rescaled(ctx, u64::MAX) {
        // 4. any weight multiplier that fits
        return finish(ctx, w, b);
    } else {
        None
    };
    // 5. the extra fractional bits
    let g = rounded.unwrap_or(exact);
    let msg = format!(
        "node {}: bias '{tensor}' is not on the accumulator's scale (unit {up}, grid 2^{}); \
         rounded half-to-even to {up}*2^{}, max abs error {:e} ({:.3e} of the accumulator \
         step)",
        ctx.label,
        -pf,
        -g.frac,
        g.max_error,
        g.max_error / step
    );
    ctx.warn(msg);
    finish(ctx, weight, with_unit(g, up))
}

/// The integers of `c` times `r` (checked).
fn scale_ints(ctx: &NodeCtx<'_>, c: &ConstTensor, r: u64) -> Result<ConstTensor, ImportError> {
    let data = c
        .data
        .iter()
        .map(|&v| v.checked_mul(r as i64))
        .collect::<Option<Vec<i64>>>()
        .ok_or_else(|| ctx.error(format!("constants times {r} do not fit 64 bits")))?;
    let declared = c
        .declared
        .and_then(|d| fits_i64(d.checked_scale(r as i128)?));
    Ok(ConstTensor::new(c.shape.clone(), data, c.frac)
        .with_unit(c.unit)
        .with_declared(declared))
}

/// `d` when both ends fit an `i64` (declared ranges hold the values of 64-bit
/// registers).
fn fits_i64(d: Interval) -> Option<Interval> {
    (d.lo >= i64::MIN as i128 && d.hi <= i64::MAX as i128).then_some(d)
}

/// The declared range of the quantized constant `c` on the grid `unit * 2^-frac`, when
/// every code of the range lands on that grid (an integer factor from `c`'s grid):
/// every code the quantizer can produce, expressed on the new grid.
pub(crate) fn declared_on(c: &Constant, unit: Unit, frac: i32) -> Option<Interval> {
    let d = c.declared?;
    let (f, u) = match &c.data {
        ConstData::Fixed { frac, unit, .. } => (*frac, *unit),
        ConstData::Int(_) => (0, Unit::ONE),
        ConstData::Float(_) => return None,
    };
    // a value n * u * 2^-f is n * (u / unit) * 2^(frac - f) on the new grid
    let shift = frac.checked_sub(f)?;
    if !(0..=62).contains(&shift) {
        return None;
    }
    let num = (u.num as i128).checked_mul(unit.den as i128)? << shift;
    let den = (u.den as i128).checked_mul(unit.num as i128)?;
    if den == 0 || num % den != 0 {
        return None;
    }
    fits_i64(d.checked_scale(num / den)?)
}

/// The scale unit of the products `x * w` of a Dense/Conv.
pub(crate) fn product_unit(ctx: &NodeCtx<'_>, x: Unit, w: Unit) -> Result<Unit, ImportError> {
    x.checked_mul(w).ok_or_else(|| {
        ctx.error(format!(
            "the scale units of the input ({x}) and the weights ({w}) multiply beyond the \
             supported range"
        ))
    })
}

/// `a + b` of two bias vectors on their finest common grid.
pub(crate) fn add_bias(
    ctx: &NodeCtx<'_>,
    a: &ConstTensor,
    b: &ConstTensor,
) -> Result<ConstTensor, ImportError> {
    if a.unit != b.unit {
        return Err(ctx.error(format!(
            "the biases are on the scale units {} and {}",
            a.unit, b.unit
        )));
    }
    let frac = a.frac.max(b.frac);
    let (sa, sb) = ((frac - a.frac) as u32, (frac - b.frac) as u32);
    let data = a
        .data
        .iter()
        .zip(&b.data)
        .map(|(&x, &y)| {
            shl_i64(x, sa)
                .zip(shl_i64(y, sb))
                .and_then(|(x, y)| x.checked_add(y))
        })
        .collect::<Option<Vec<i64>>>()
        .ok_or_else(|| ctx.error("the sum of the biases does not fit 64 bits"))?;
    // every sum of a declared value of each (both must be declared)
    let declared = match (a.declared, b.declared) {
        (Some(da), Some(db)) => da
            .checked_shl(sa)
            .zip(db.checked_shl(sb))
            .and_then(|(x, y)| x.checked_add(y))
            .and_then(fits_i64),
        _ => None,
    };
    Ok(ConstTensor::new(a.shape.clone(), data, frac)
        .with_unit(a.unit)
        .with_declared(declared))
}

/// Multiplies a constant by the float factor `k` (Gemm `alpha`/`beta`) exactly: `k` is a
/// dyadic rational `m * 2^e`, so integers are multiplied by `m` and the grid moves by `e`.
/// Floats are multiplied in f64 (exact for float32 data and factors).
pub(crate) fn scale_constant(
    ctx: &NodeCtx<'_>,
    c: &Constant,
    k: f32,
    attribute: &str,
) -> Result<Constant, ImportError> {
    if k == 1.0 {
        return Ok(c.clone());
    }
    if !k.is_finite() {
        return Err(ctx
            .attrs()
            .error(attribute, format!("{k} is not a finite number")));
    }
    let mut declared = None;
    let data = match &c.data {
        ConstData::Float(v) => ConstData::Float(v.iter().map(|&x| x * k as f64).collect()),
        _ => {
            let (data, frac, unit) = c.to_scaled().unwrap_or_default();
            if k == 0.0 {
                ConstData::Fixed {
                    data: vec![0; data.len()],
                    frac: 0,
                    unit: Unit::ONE,
                }
            } else {
                let s = DyadicScale::from_f64(k.abs() as f64).unwrap_or(DyadicScale::pow2(0));
                let m = s.mantissa as i64 * if k < 0.0 { -1 } else { 1 };
                let data = data
                    .iter()
                    .map(|&x| x.checked_mul(m))
                    .collect::<Option<Vec<i64>>>()
                    .ok_or_else(|| {
                        ctx.attrs().error(
                            attribute,
                            format!("{k} (= {s}) times the integer values does not fit 64 bits"),
                        )
                    })?;
                // the quantizer's codes, times the same integer
                declared = c
                    .declared
                    .and_then(|d| d.checked_scale(m as i128))
                    .and_then(fits_i64);
                ConstData::Fixed {
                    data,
                    frac: frac - s.exponent,
                    unit,
                }
            }
        }
    };
    Ok(Constant {
        declared,
        ..Constant::new(c.shape.clone(), data)
    })
}

/// Bits of the largest magnitude in an interval-like set of values.
fn magnitude_bits(max_abs: u128) -> i64 {
    128 - max_abs.leading_zeros() as i64
}

/// Largest intermediate magnitude (in bits) the importer lets the IR's interval analysis
/// compute with i128; anything beyond is refused before the IR sees it. The IR itself
/// then refuses results wider than 64 bits with a clear message.
const MAX_INTERMEDIATE_BITS: i64 = 120;

/// Refuses a Dense/Conv whose accumulator bound could not even be computed in i128
/// (extreme weights or grids far apart); `terms` is the number of products per output.
pub(crate) fn check_accumulator(
    ctx: &NodeCtx<'_>,
    x: &TensorInfo,
    weight: &ConstTensor,
    bias: Option<&ConstTensor>,
    terms: usize,
) -> Result<(), ImportError> {
    let product_frac = x.ty.frac as i64 + weight.frac as i64;
    let acc_frac = bias.map_or(product_frac, |b| product_frac.max(b.frac as i64));
    let x_bits = magnitude_bits(
        x.interval
            .lo
            .unsigned_abs()
            .max(x.interval.hi.unsigned_abs()),
    );
    let w_max = weight
        .data
        .iter()
        .map(|w| w.unsigned_abs())
        .max()
        .unwrap_or(0);
    let t_bits = magnitude_bits(terms as u128);
    let products = x_bits + magnitude_bits(w_max as u128) + t_bits + (acc_frac - product_frac);
    let bias_bits = bias.map_or(0, |b| {
        let b_max = b.data.iter().map(|v| v.unsigned_abs()).max().unwrap_or(0);
        magnitude_bits(b_max as u128) + (acc_frac - b.frac as i64)
    });
    let bits = products.max(bias_bits);
    if bits > MAX_INTERMEDIATE_BITS {
        return Err(ctx.error(format!(
            "the accumulator would need about {bits} bits (input {} on grid 2^{}, weights on \
             grid 2^{}{}); at most 64 are supported",
            x.ty,
            -x.ty.frac,
            -weight.frac,
            bias.map_or(String::new(), |b| format!(", bias on grid 2^{}", -b.frac))
        )));
    }
    Ok(())
}

/// Refuses an element-wise Add whose operands' grids are so far apart that aligning them
/// would leave i128.
pub(crate) fn check_add(
    ctx: &NodeCtx<'_>,
    a: &TensorInfo,
    b: &TensorInfo,
) -> Result<(), ImportError> {
    let frac = a.ty.frac.max(b.ty.frac) as i64;
    for t in [a, b] {
        let m = t
            .interval
            .lo
            .unsigned_abs()
            .max(t.interval.hi.unsigned_abs());
        let bits = magnitude_bits(m) + frac - t.ty.frac as i64;
        if bits > MAX_INTERMEDIATE_BITS {
            return Err(ctx.error(format!(
                "the operands' grids 2^{} and 2^{} are too far apart to add exactly in 64 bits",
                -a.ty.frac, -b.ty.frac
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broadcast_axes() {
        assert_eq!(broadcast_axis(&[], &[1, 8, 4, 4]), Ok(None));
        assert_eq!(broadcast_axis(&[1], &[1, 8, 4, 4]), Ok(None));
        assert_eq!(broadcast_axis(&[8, 1, 1], &[1, 8, 4, 4]), Ok(Some(1)));
        assert_eq!(broadcast_axis(&[8, 1, 1, 1], &[8, 1, 3, 3]), Ok(Some(0)));
        assert_eq!(broadcast_axis(&[16], &[1, 16]), Ok(Some(1)));
        assert!(broadcast_axis(&[7, 1, 1], &[1, 8, 4, 4]).is_err());
        assert!(broadcast_axis(&[8, 4, 1], &[1, 8, 4, 4]).is_err());
        assert!(broadcast_axis(&[1, 1, 1], &[1, 16]).is_err());
    }

    fn quantized(data: Vec<i64>, frac: i32, unit: Unit, declared: Interval) -> Constant {
        Constant {
            declared: Some(declared),
            ..Constant::new(vec![data.len()], ConstData::Fixed { data, frac, unit })
        }
    }

    #[test]
    fn declared_ranges_move_with_exact_integer_rescalings() {
        let three = Unit::new(3, 1).unwrap();
        let fifteen = Unit::new(15, 1).unwrap();
        let c = quantized(vec![-3, 2], 2, three, Interval::new(-8, 7));
        // same grid: unchanged
        assert_eq!(declared_on(&c, three, 2), Some(Interval::new(-8, 7)));
        // two more fractional bits: every code times 4
        assert_eq!(declared_on(&c, three, 4), Some(Interval::new(-32, 28)));
        // 3 * 2^-2 on the unit 1: times 3
        assert_eq!(declared_on(&c, Unit::ONE, 2), Some(Interval::new(-24, 21)));
        // onto the unit 15 (a factor 1/5) or a coarser grid: codes do not all land on it
        assert_eq!(declared_on(&c, fifteen, 2), None);
        assert_eq!(declared_on(&c, three, 1), None);
        // not quantized: nothing declared
        let plain = Constant::new(
            vec![1],
            ConstData::Fixed {
                data: vec![1],
                frac: 0,
                unit: three,
            },
        );
        assert_eq!(declared_on(&plain, three, 0), None);
        // beyond i64: dropped
        let wide = quantized(vec![1], 0, Unit::ONE, Interval::new(-(1 << 40), 1 << 40));
        assert_eq!(declared_on(&wide, Unit::ONE, 30), None);
    }
}
