//! Compile-time constant tensors: decoding ONNX `TensorProto`s, data movement
//! (reshape, transpose, gather, concat) and the rule that puts unquantized float
//! constants onto a power-of-two grid.

use super::proto::{DataLocation, DataType, TensorProto};
use aecc_ir::fixed::{div_round, pow2, Interval, Rounding};
use aecc_ir::quant::f64_to_dyadic;
use aecc_ir::Unit;

/// Largest number of elements of any tensor aecc reads or computes (2^24, 128 MiB as
/// 64-bit values): refuses absurd shapes before anything is allocated. A fully unrolled
/// design is far smaller (see `aecc::limits`).
pub const MAX_ELEMENTS: usize = 1 << 24;

/// Largest total number of elements of all constants one import holds (initializers and
/// everything folded at compile time, 2^26, 512 MiB as 64-bit values): ops like `Gather`
/// can make large constants from small ones, so a small file could otherwise fill the
/// memory by chaining them.
pub const MAX_CONSTANT_ELEMENTS: usize = 1 << 26;
/// Largest single dimension (same bound).
pub const MAX_DIM: usize = MAX_ELEMENTS;

/// The values of a constant tensor.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum ConstData {
    /// Real numbers from float tensors (f16, bf16, f32 and f64 values are all exact in f64).
    Float(Vec<f64>),
    /// Integers (integer and bool tensors: shapes, indices, axes).
    Int(Vec<i64>),
    /// Exact real values `data[i] * unit * 2^-frac`: the outputs of `Quant` and
    /// `DequantizeLinear` nodes folded at compile time (the unit is the odd part of a
    /// non-power-of-two scale, see [`aecc_ir::Unit`]).
    Fixed {
        data: Vec<i64>,
        frac: i32,
        unit: Unit,
    },
}

/// A constant tensor known at compile time.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Constant {
    pub shape: Vec<usize>,
    pub data: ConstData,
    /// The ONNX element type (`DataType` as i32) of a tensor read from the model, 0
    /// for computed constants: the zero point of `QuantizeLinear` gives the codes' type.
    pub elem: i32,
    /// The integer range of the quantizer that produced `data` (on the grid of
    /// `ConstData::Fixed`), kept through data movement (reshape, transpose, gather);
    /// `None` for any other constant.
    pub declared: Option<Interval>,
}

/// Product of `shape`, or `None` when it exceeds [`MAX_ELEMENTS`].
pub(crate) fn checked_len(shape: &[usize]) -> Option<usize> {
    shape
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .filter(|&n| n <= MAX_ELEMENTS)
}

/// Row-major strides of `shape`.
pub(crate) fn strides(shape: &[usize]) -> Vec<usize> {
    let mut s = vec![1usize; shape.len()];
    for i in (0..shape.len().saturating_sub(1)).rev() {
        s[i] = s[i + 1] * shape[i + 1];
    }
    s
}

pub(crate) fn shape_str(shape: &[usize]) -> String {
    format!("{shape:?}")
}

impl Constant {
    pub fn new(shape: Vec<usize>, data: ConstData) -> Constant {
        Constant {
            shape,
            data,
            elem: 0,
            declared: None,
        }
    }

    pub fn ints(shape: Vec<usize>, data: Vec<i64>) -> Constant {
        Constant::new(shape, ConstData::Int(data))
    }

    pub fn len(&self) -> usize {
        match &self.data {
            ConstData::Float(v) => v.len(),
            ConstData::Int(v) => v.len(),
            ConstData::Fixed { data, .. } => data.len(),
        }
    }

    /// The values as floats (exact for `Float`, `Int` below 2^53 and `Fixed` with at most
    /// 53 significant bits; only used for quantizer parameters and messages).
    pub fn to_f64(&self) -> Vec<f64> {
        match &self.data {
            ConstData::Float(v) => v.clone(),
            ConstData::Int(v) => v.iter().map(|&x| x as f64).collect(),
            ConstData::Fixed { data, frac, unit } => data
                .iter()
                .map(|&x| (x as i128 * unit.num as i128) as f64 / unit.den as f64 * pow2(-frac))
                .collect(),
        }
    }

    /// The values if every one is an integer that fits `i64`.
    pub fn to_ints(&self) -> Option<Vec<i64>> {
        match &self.data {
            ConstData::Int(v) => Some(v.clone()),
            ConstData::Float(v) => v
                .iter()
                .map(|&x| {
                    (x.is_finite() && x.fract() == 0.0 && x.abs() < 9.2e18).then_some(x as i64)
                })
                .collect(),
            ConstData::Fixed { data, frac, unit } => data
                .iter()
                .map(|&x| {
                    if !unit.is_one() {
                        let n = x as i128 * unit.num as i128;
                        let den = unit.den as i128;
                        return (n % den == 0)
                            .then(|| exact_int(n / den, *frac))
                            .flatten()
                            .and_then(|v| i64::try_from(v).ok());
                    }
                    if *frac <= 0 {
                        (x as i128)
                            .checked_shl((-frac) as u32)
                            .filter(|_| -frac < 64)
                            .and_then(|v| i64::try_from(v).ok())
                    } else if *frac >= 64 {
                        (x == 0).then_some(0)
                    } else {
                        (x % (1i64 << frac) == 0).then_some(x >> frac)
                    }
                })
                .collect(),
        }
    }

    /// Exact integers, their grid and unit, for `Int` and `Fixed` values.
    pub fn to_scaled(&self) -> Option<(Vec<i64>, i32, Unit)> {
        match &self.data {
            ConstData::Int(v) => Some((v.clone(), 0, Unit::ONE)),
            ConstData::Fixed { data, frac, unit } => Some((data.clone(), *frac, *unit)),
            ConstData::Float(_) => None,
        }
    }

    /// Element `i` as the exact rational `n * num / den * 2^-frac`: `(n, frac, unit)`.
    pub fn exact(&self, i: usize) -> Result<(i128, i32, Unit), String> {
        match &self.data {
            ConstData::Int(v) => Ok((v[i] as i128, 0, Unit::ONE)),
            ConstData::Fixed { data, frac, unit } => Ok((data[i] as i128, *frac, *unit)),
            ConstData::Float(v) => {
                if !v[i].is_finite() {
                    return Err(format!("contains the non-finite value {}", v[i]));
                }
                let (n, f) = f64_to_dyadic(v[i]);
                Ok((n, f, Unit::ONE))
            }
        }
    }

    /// A new constant of `shape` whose element `i` is element `index[i]` of this one.
    /// Every index must be in range (callers compute them from shapes).
    pub fn select(&self, index: &[usize], shape: Vec<usize>) -> Constant {
        fn pick<T: Copy>(v: &[T], index: &[usize]) -> Vec<T> {
            index.iter().map(|&i| v[i]).collect()
        }
        let data = match &self.data {
            ConstData::Float(v) => ConstData::Float(pick(v, index)),
            ConstData::Int(v) => ConstData::Int(pick(v, index)),
            ConstData::Fixed { data, frac, unit } => ConstData::Fixed {
                data: pick(data, index),
                frac: *frac,
                unit: *unit,
            },
        };
        Constant {
            declared: self.declared,
            ..Constant::new(shape, data)
        }
    }

    /// Same data, new shape with the same number of elements.
    pub fn reshape(&self, shape: Vec<usize>) -> Result<Constant, String> {
        if checked_len(&shape) != Some(self.len()) {
            return Err(format!(
                "cannot reshape {} ({} elements) to {}",
                shape_str(&self.shape),
                self.len(),
                shape_str(&shape)
            ));
        }
        Ok(Constant {
            shape,
            data: self.data.clone(),
            elem: self.elem,
            declared: self.declared,
        })
    }

    /// Axis permutation.
    pub fn transpose(&self, perm: &[usize]) -> Result<Constant, String> {
        let rank = self.shape.len();
        let mut seen = vec![false; rank];
        if perm.len() != rank
            || perm
                .iter()
                .any(|&p| p >= rank || std::mem::replace(&mut seen[p], true))
        {
            return Err(format!(
                "perm {:?} is not a permutation of the {} axes of {}",
                perm,
                rank,
                shape_str(&self.shape)
            ));
        }
        let out_shape: Vec<usize> = perm.iter().map(|&p| self.shape[p]).collect();
        let in_strides = strides(&self.shape);
        let index = for_each_index(&out_shape, |pos| {
            pos.iter().zip(perm).map(|(&x, &p)| x * in_strides[p]).sum()
        });
        Ok(self.select(&index, out_shape))
    }

    /// ONNX `Gather` along `axis` with (already normalised, in-range) indices.
    pub fn gather(&self, axis: usize, indices: &[usize], indices_shape: &[usize]) -> Constant {
        let outer: usize = self.shape[..axis].iter().product();
        let inner: usize = self.shape[axis + 1..].iter().product();
        let dim = self.shape[axis];
        let mut index = Vec::with_capacity(outer * indices.len() * inner);
        for o in 0..outer {
            for &i in indices {
                for n in 0..inner {
                    index.push((o * dim + i) * inner + n);
                }
            }
        }
        let mut shape = self.shape[..axis].to_vec();
        shape.extend_from_slice(indices_shape);
        shape.extend_from_slice(&self.shape[axis + 1..]);
        self.select(&index, shape)
    }
}

/// Calls `f` on every multi-index of `shape` in row-major order, collecting the results.
fn for_each_index(shape: &[usize], mut f: impl FnMut(&[usize]) -> usize) -> Vec<usize> {
    let n: usize = shape.iter().product();
    let mut out = Vec::with_capacity(n);
    let mut pos = vec![0usize; shape.len()];
    for _ in 0..n {
        out.push(f(&pos));
        for a in (0..shape.len()).rev() {
            pos[a] += 1;
            if pos[a] < shape[a] {
                break;
            }
            pos[a] = 0;
        }
    }
    out
}

/// Concatenation of constants along `axis` (shapes checked by the caller). Integer
/// constants stay integers; anything else mixed with a float becomes float; quantized
/// constants are put on their finest common grid.
pub(crate) fn concat(parts: &[&Constant], axis: usize) -> Result<Constant, String> {
    let first = parts.first().ok_or("nothing to concatenate")?;
    let mut shape = first.shape.clone();
    shape[axis] = parts.iter().map(|p| p.shape[axis]).sum();
    if checked_len(&shape).is_none() {
        return Err(format!("result shape {} is too large", shape_str(&shape)));
    }
    let outer: usize = shape[..axis].iter().product();
    let all_int = parts.iter().all(|p| matches!(p.data, ConstData::Int(_)));
    let any_float = parts.iter().any(|p| matches!(p.data, ConstData::Float(_)));
    // Interleave the blocks of every part: for each outer index, each part's slab.
    let slabs = |p: &Constant| -> usize { p.shape[axis..].iter().product() };
    let data = if all_int || any_float {
        let vals: Vec<Vec<f64>> = parts.iter().map(|p| p.to_f64()).collect();
        let ints: Vec<Vec<i64>> = parts.iter().filter_map(|p| p.to_ints()).collect();
        let mut out_f = Vec::new();
        let mut out_i = Vec::new();
        for o in 0..outer {
            for (k, p) in parts.iter().enumerate() {
                let s = slabs(p);
                if all_int {
                    out_i.extend_from_slice(&ints[k][o * s..(o + 1) * s]);
                } else {
                    out_f.extend_from_slice(&vals[k][o * s..(o + 1) * s]);
                }
            }
        }
        if all_int {
            ConstData::Int(out_i)
        } else {
            ConstData::Float(out_f)
        }
    } else {
        let fixed: Vec<(Vec<i64>, i32, Unit)> =
            parts.iter().filter_map(|p| p.to_scaled()).collect();
        let frac = fixed.iter().map(|f| f.1).max().unwrap_or(0);
        let unit = fixed
            .iter()
            .try_fold(fixed[0].2, |u, f| u.common(f.2))
            .ok_or("the parts' scale units have no common unit")?;
        let mut out = Vec::new();
        for o in 0..outer {
            for (k, p) in parts.iter().enumerate() {
                let s = slabs(p);
                let shift = (frac - fixed[k].1) as u32;
                let m = fixed[k].2.ratio_int(unit).expect("a common unit divides") as i64;
                for &x in &fixed[k].0[o * s..(o + 1) * s] {
                    let v = x.checked_mul(m).and_then(|v| shl_i64(v, shift));
                    out.push(v.ok_or("values overflow 64 bits")?);
                }
            }
        }
        ConstData::Fixed {
            data: out,
            frac,
            unit,
        }
    };
    Ok(Constant::new(shape, data))
}

/// `x << shift` if it fits `i64`.
pub(crate) fn shl_i64(x: i64, shift: u32) -> Option<i64> {
    if shift >= 64 {
        return (x == 0).then_some(0);
    }
    i64::try_from((x as i128) << shift).ok()
}

// ---------------------------------------------------------------------------------------
// Decoding TensorProto
// ---------------------------------------------------------------------------------------

/// Reads a `TensorProto` into a [`Constant`]. Errors are messages about the tensor; the
/// caller names it.
pub(crate) fn decode_tensor(t: &TensorProto) -> Result<Constant, String> {
    let dt = DataType::try_from(t.data_type)
        .map_err(|_| format!("unknown element type {}", t.data_type))?;
    if t.data_location == DataLocation::External as i32 || !t.external_data.is_empty() {
        return Err(
            "its data is stored in an external file; aecc reads self-contained models \
             only (re-save with onnx.save_model(model, path, save_as_external_data=False))"
                .into(),
        );
    }
    let mut shape = Vec::with_capacity(t.dims.len());
    for &d in &t.dims {
        if d < 0 || d as u64 > MAX_DIM as u64 {
            return Err(format!(
                "dimension {d} in shape {:?} is out of range",
                t.dims
            ));
        }
        shape.push(d as usize);
    }
    let n = checked_len(&shape)
        .ok_or_else(|| format!("shape {:?} has more than {} elements", t.dims, MAX_ELEMENTS))?;
    let raw = &t.raw_data;
    let use_raw = !raw.is_empty() || n == 0;
    let type_name = format!("{dt:?}").to_uppercase();

    // Fixed-width little-endian chunks of raw_data.
    let chunks = |size: usize| -> Result<std::slice::ChunksExact<'_, u8>, String> {
        if raw.len() != n * size {
            return Err(format!(
                "raw_data has {} bytes, expected {} ({} {} values of {} bytes for shape {:?})",
                raw.len(),
                n * size,
                n,
                type_name,
                size,
                t.dims
            ));
        }
        Ok(raw.chunks_exact(size))
    };
    let typed_len = |len: usize, field: &str| -> Result<(), String> {
        if len != n {
            return Err(format!(
                "{field} has {len} values, expected {n} for shape {:?} ({type_name})",
                t.dims
            ));
        }
        Ok(())
    };
    fn le<const N: usize>(c: &[u8]) -> [u8; N] {
        let mut a = [0u8; N];
        a.copy_from_slice(c);
        a
    }

    let data = match dt {
        DataType::Float => ConstData::Float(if use_raw {
            chunks(4)?
                .map(|c| f32::from_le_bytes(le(c)) as f64)
                .collect()
        } else {
            typed_len(t.float_data.len(), "float_data")?;
            t.float_data.iter().map(|&x| x as f64).collect()
        }),
        DataType::Double => ConstData::Float(if use_raw {
            chunks(8)?.map(|c| f64::from_le_bytes(le(c))).collect()
        } else {
            typed_len(t.double_data.len(), "double_data")?;
            t.double_data.clone()
        }),
        DataType::Float16 | DataType::Bfloat16 => {
            let bits: Vec<u16> = if use_raw {
                chunks(2)?.map(|c| u16::from_le_bytes(le(c))).collect()
            } else {
                typed_len(t.int32_data.len(), "int32_data")?;
                t.int32_data.iter().map(|&x| x as u16).collect()
            };
            ConstData::Float(
                bits.into_iter()
                    .map(|b| {
                        if dt == DataType::Float16 {
                            f16_to_f64(b)
                        } else {
                            f32::from_bits((b as u32) << 16) as f64
                        }
                    })
                    .collect(),
            )
        }
        DataType::Int8 | DataType::Uint8 | DataType::Bool => ConstData::Int(if use_raw {
            chunks(1)?
                .map(|c| {
                    if dt == DataType::Int8 {
                        c[0] as i8 as i64
                    } else {
                        c[0] as i64
                    }
                })
                .collect()
        } else {
            typed_len(t.int32_data.len(), "int32_data")?;
            t.int32_data.iter().map(|&x| x as i64).collect()
        }),
        DataType::Int16 | DataType::Uint16 => ConstData::Int(if use_raw {
            chunks(2)?
                .map(|c| {
                    if dt == DataType::Int16 {
                        i16::from_le_bytes(le(c)) as i64
                    } else {
                        u16::from_le_bytes(le(c)) as i64
                    }
                })
                .collect()
        } else {
            typed_len(t.int32_data.len(), "int32_data")?;
            t.int32_data.iter().map(|&x| x as i64).collect()
        }),
        DataType::Int32 => ConstData::Int(if use_raw {
            chunks(4)?
                .map(|c| i32::from_le_bytes(le(c)) as i64)
                .collect()
        } else {
            typed_len(t.int32_data.len(), "int32_data")?;
            t.int32_data.iter().map(|&x| x as i64).collect()
        }),
        DataType::Int64 => ConstData::Int(if use_raw {
            chunks(8)?.map(|c| i64::from_le_bytes(le(c))).collect()
        } else {
            typed_len(t.int64_data.len(), "int64_data")?;
            t.int64_data.clone()
        }),
        DataType::Uint32 | DataType::Uint64 => {
            let vals: Vec<u64> = if use_raw {
                if dt == DataType::Uint32 {
                    chunks(4)?
                        .map(|c| u32::from_le_bytes(le(c)) as u64)
                        .collect()
                } else {
                    chunks(8)?.map(|c| u64::from_le_bytes(le(c))).collect()
                }
            } else {
                typed_len(t.uint64_data.len(), "uint64_data")?;
                t.uint64_data.clone()
            };
            ConstData::Int(
                vals.into_iter()
                    .map(|v| i64::try_from(v).map_err(|_| format!("value {v} exceeds 2^63 - 1")))
                    .collect::<Result<_, _>>()?,
            )
        }
        DataType::Int4 | DataType::Uint4 => {
            // two values per byte, the first in the low nibble
            let bytes: Vec<u8> = if use_raw {
                raw.clone()
            } else {
                t.int32_data.iter().map(|&x| x as u8).collect()
            };
            if bytes.len() != n.div_ceil(2) {
                return Err(format!(
                    "has {} bytes, expected {} ({n} packed 4-bit values for shape {:?})",
                    bytes.len(),
                    n.div_ceil(2),
                    t.dims
                ));
            }
            ConstData::Int(
                (0..n)
                    .map(|i| {
                        let nibble = (bytes[i / 2] >> (4 * (i % 2))) & 0xf;
                        if dt == DataType::Int4 {
                            ((nibble << 4) as i8 >> 4) as i64
                        } else {
                            nibble as i64
                        }
                    })
                    .collect(),
            )
        }
        other => {
            return Err(format!(
                "element type {} is not supported (supported: float, double, float16, bfloat16, \
                 int4, uint4, int8..int64, uint8..uint64, bool)",
                format!("{other:?}").to_uppercase()
            ))
        }
    };
    let mut c = Constant::new(shape, data);
    c.elem = dt as i32;
    Ok(c)
}

/// IEEE half precision bits to f64 (exact).
fn f16_to_f64(b: u16) -> f64 {
    let sign = if b & 0x8000 != 0 { -1.0 } else { 1.0 };
    let exp = ((b >> 10) & 0x1f) as i32;
    let man = (b & 0x3ff) as f64;
    sign * match exp {
        0 => man * pow2(-24),
        31 => {
            if man == 0.0 {
                f64::INFINITY
            } else {
                f64::NAN
            }
        }
        e => (1024.0 + man) * pow2(e - 25),
    }
}

// ---------------------------------------------------------------------------------------
// Unquantized float constants
// ---------------------------------------------------------------------------------------

/// Float values put on a power-of-two grid: `data[i] * 2^-frac`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct GridValues {
    pub data: Vec<i64>,
    pub frac: i32,
    /// Largest `|value - data * 2^-frac|` (0 when exact).
    pub max_error: f64,
}

impl GridValues {
    pub fn is_exact(&self) -> bool {
        self.max_error == 0.0
    }
}

/// Puts float values on a power-of-two grid, exactly when possible.
///
/// Every finite float is a dyadic rational `n * 2^-f`. If every value needs at most
/// `max_frac` fractional bits, they are represented exactly on the coarsest grid that
/// holds them all (but no coarser than `2^0` unless `max_frac` is negative). Otherwise
/// every value is rounded half-to-even onto `2^-max_frac` and the largest absolute error
/// is returned for the caller to report. NaN and infinities are errors.
pub(crate) fn floats_to_grid(values: &[f64], max_frac: i32) -> Result<GridValues, String> {
    let mut needed = i32::MIN;
    for &v in values {
        if !v.is_finite() {
            return Err(format!("contains the non-finite value {v}"));
        }
        if v != 0.0 {
            needed = needed.max(f64_to_dyadic(v).1);
        }
    }
    let frac = if needed <= max_frac {
        needed.max(max_frac.min(0))
    } else {
        max_frac
    };
    let mut data = Vec::with_capacity(values.len());
    let mut max_error = 0.0f64;
    for &v in values {
        let (n, f) = f64_to_dyadic(v);
        let q: i128 = if f <= frac {
            let shift = (frac - f) as u32;
            if shift >= 64 {
                return Err(format!(
                    "value {v} does not fit a 64-bit integer on grid 2^{}",
                    -frac
                ));
            }
            n << shift
        } else {
            let shift = (f - frac) as u32;
            if shift >= 120 {
                0 // |v| < 2^-66 grid steps: rounds to zero in half-even
            } else {
                div_round(n, 1i128 << shift, Rounding::HalfEven)
            }
        };
        let q = i64::try_from(q).map_err(|_| {
            format!(
                "value {v} does not fit a 64-bit integer on grid 2^{}",
                -frac
            )
        })?;
        let err = (v - q as f64 * pow2(-frac)).abs();
        max_error = max_error.max(err);
        data.push(q);
    }
    Ok(GridValues {
        data,
        frac,
        max_error,
    })
}

/// `n * 2^-f` if it is an integer.
fn exact_int(n: i128, f: i32) -> Option<i128> {
    if f <= 0 {
        n.checked_shl((-f) as u32)
            .filter(|v| v >> (-f) as u32 == n && -f < 120)
    } else if f >= 120 {
        (n == 0).then_some(0)
    } else {
        (n % (1i128 << f) == 0).then_some(n >> f)
    }
}

/// Puts the exact values of `c` on the grid `unit * 2^-frac`, `frac` in
/// `min_frac..=max_frac`: exactly on the coarsest such grid that holds them all, else
/// rounded half-to-even onto `unit * 2^-max_frac` (the largest absolute error, in real
/// units, is returned for the caller to report).
pub(crate) fn to_unit_grid(
    c: &Constant,
    unit: Unit,
    min_frac: i32,
    max_frac: i32,
) -> Result<GridValues, String> {
    // every value is n * num / den * 2^-f; on the target grid it is
    // n * num * unit.den / (den * unit.num) * 2^(frac - f)
    let mut parts = Vec::with_capacity(c.len());
    for i in 0..c.len() {
        let (n, f, u) = c.exact(i)?;
        let p = n
            .checked_mul(u.num as i128)
            .and_then(|v| v.checked_mul(unit.den as i128))
            .filter(|v| v.unsigned_abs() < 1 << 100)
            .ok_or("has a value too large for the exact range")?;
        let q = u.den as i128 * unit.num as i128;
        parts.push((p, q, f));
    }
    let on = |frac: i32, exact_only: bool| -> Option<(Vec<i64>, f64)> {
        let mut data = Vec::with_capacity(parts.len());
        let mut max_error = 0.0f64;
        for &(p, q, f) in &parts {
            let shift = frac - f;
            let (num, den) = if shift >= 0 {
                if shift > 120 || (p != 0 && p.unsigned_abs().leading_zeros() <= shift as u32 + 1) {
                    return None;
                }
                (p << shift, q)
            } else {
                if -shift > 100 {
                    return None;
                }
                (p, q << (-shift))
            };
            if exact_only && num % den != 0 {
                return None;
            }
            let t = div_round(num, den, Rounding::HalfEven);
            let t = i64::try_from(t).ok()?;
            let err =
                ((num - t as i128 * den) as f64 / den as f64).abs() * unit.to_f64() * pow2(-frac);
            max_error = max_error.max(err);
            data.push(t);
        }
        Some((data, max_error))
    };
    for frac in min_frac..=max_frac {
        if let Some((data, _)) = on(frac, true) {
            return Ok(GridValues {
                data,
                frac,
                max_error: 0.0,
            });
        }
    }
    let (data, max_error) =
        on(max_frac, false).ok_or("does not fit a 64-bit integer on the target grid")?;
    Ok(GridValues {
        data,
        frac: max_frac,
        max_error,
    })
}

/// Which power-of-two grid a float value of magnitude `max_abs` needs so it fits a
/// signed integer of `bits` bits: the finest grid with `max_abs * 2^frac < 2^(bits-1)`.
pub(crate) fn frac_for_magnitude(max_abs: f64, bits: u32) -> i32 {
    if !(max_abs.is_finite() && max_abs > 0.0) {
        return 0;
    }
    // max_abs < 2^e with e = floor(log2(max_abs)) + 1
    let e = f64_to_dyadic(max_abs).1;
    let (n, _) = f64_to_dyadic(max_abs);
    let log2_floor = (127 - (n.unsigned_abs()).leading_zeros() as i32) - e;
    let upper = log2_floor + 1;
    bits as i32 - 1 - upper
}

#[cfg(test)]
mod tests {
    use super::*;

    fn float_tensor(dims: Vec<i64>, data: Vec<f32>) -> TensorProto {
        TensorProto {
            dims,
            data_type: DataType::Float as i32,
            float_data: data,
            ..Default::default()
        }
    }

    #[test]
    fn decodes_raw_and_typed_data() {
        let t = float_tensor(vec![2], vec![0.5, -1.0]);
        assert_eq!(
            decode_tensor(&t).unwrap().data,
            ConstData::Float(vec![0.5, -1.0])
        );
        let raw = TensorProto {
            dims: vec![2],
            data_type: DataType::Int64 as i32,
            raw_data: [3i64.to_le_bytes(), (-1i64).to_le_bytes()].concat(),
            ..Default::default()
        };
        assert_eq!(
            decode_tensor(&raw).unwrap().data,
            ConstData::Int(vec![3, -1])
        );
        let f16 = TensorProto {
            dims: vec![3],
            data_type: DataType::Float16 as i32,
            raw_data: vec![0x00, 0x3c, 0x00, 0xb8, 0x01, 0x00],
            ..Default::default()
        };
        assert_eq!(
            decode_tensor(&f16).unwrap().data,
            ConstData::Float(vec![1.0, -0.5, pow2(-24)])
        );
    }

    #[test]
    fn refuses_bad_lengths_and_sizes() {
        let t = float_tensor(vec![3], vec![0.5, -1.0]);
        assert!(decode_tensor(&t)
            .unwrap_err()
            .contains("float_data has 2 values, expected 3"));
        let t = TensorProto {
            dims: vec![4],
            data_type: DataType::Float as i32,
            raw_data: vec![0; 15],
            ..Default::default()
        };
        assert!(decode_tensor(&t)
            .unwrap_err()
            .contains("raw_data has 15 bytes"));
        let t = float_tensor(vec![1 << 20, 1 << 20], vec![]);
        assert!(decode_tensor(&t).unwrap_err().contains("more than"));
        let t = float_tensor(vec![-1], vec![]);
        assert!(decode_tensor(&t).is_err());
        let t = TensorProto {
            dims: vec![1],
            data_type: DataType::String as i32,
            string_data: vec![b"x".to_vec()],
            ..Default::default()
        };
        assert!(decode_tensor(&t).unwrap_err().contains("STRING"));
    }

    #[test]
    fn transpose_and_gather() {
        let c = Constant::ints(vec![2, 3], vec![0, 1, 2, 3, 4, 5]);
        let t = c.transpose(&[1, 0]).unwrap();
        assert_eq!(t.shape, vec![3, 2]);
        assert_eq!(t.data, ConstData::Int(vec![0, 3, 1, 4, 2, 5]));
        let g = c.gather(1, &[2, 0], &[2]);
        assert_eq!(g.shape, vec![2, 2]);
        assert_eq!(g.data, ConstData::Int(vec![2, 0, 5, 3]));
        let s = Constant::ints(vec![4], vec![1, 8, 4, 4]);
        let g = s.gather(0, &[0], &[]);
        assert_eq!((g.shape.clone(), g.data), (vec![], ConstData::Int(vec![1])));
    }

    #[test]
    fn float_grid_rule() {
        // exact: 0.5 and 0.25 need 2 fractional bits
        let g = floats_to_grid(&[0.5, -0.25, 0.0], 10).unwrap();
        assert_eq!(
            (g.data.clone(), g.frac, g.is_exact()),
            (vec![2, -1, 0], 2, true)
        );
        // integers stay on grid 1
        let g = floats_to_grid(&[4.0, 8.0], 10).unwrap();
        assert_eq!((g.data, g.frac), (vec![4, 8], 0));
        // 0.1 is rounded half-to-even to 2^-4: 1.6 -> 2
        let g = floats_to_grid(&[0.1, 3.0 / 32.0], 4).unwrap();
        assert_eq!((g.data.clone(), g.frac), (vec![2, 2], 4)); // 1.5 -> 2 (tie to even)
        assert_eq!(g.max_error, 0.125 - 3.0 / 32.0);
        assert!(floats_to_grid(&[f64::NAN], 4).is_err());
        assert!(floats_to_grid(&[1e30, 0.5], 4).is_err());
    }

    #[test]
    fn magnitude_grid() {
        assert_eq!(frac_for_magnitude(1.0, 16), 14); // 1.0 * 2^14 < 2^15
        assert_eq!(frac_for_magnitude(0.99, 16), 15);
        assert_eq!(frac_for_magnitude(3.0, 8), 5); // 3 * 2^5 = 96 < 128
    }
}
