//! The operations of the fixed-point dataflow IR and their transfer functions.
//!
//! Every tensor value is an integer on a power-of-two grid (see [`crate::fixed`]).
//! Between quantizers all arithmetic is exact: each op's output type is inferred from
//! the exact interval of its result, so no intermediate can overflow. Only
//! [`Op::Quantize`] rounds or saturates.
//!
//! Shapes are the ONNX shapes with the batch dimension fixed to 1: the hardware takes
//! one sample per clock.

use crate::fixed::{FixedType, Interval, Unit, MAX_WIDTH};
use crate::movement::Select;
use crate::pointwise::{Affine, Lut, SoftmaxLut};
use crate::pool::{average_scale, Pool};
use crate::quant::Quantizer;
use serde::{Deserialize, Serialize};

/// Shape, type and value interval of the tensor a node produces.
///
/// Element `x` stands for the real number `x * unit * 2^-ty.frac` (see [`Unit`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TensorInfo {
    pub shape: Vec<usize>,
    pub ty: FixedType,
    /// Every integer the tensor can hold lies in this interval.
    pub interval: Interval,
    /// The odd rational part of the scale (1 for plain fixed point).
    #[serde(default)]
    pub unit: Unit,
}

impl TensorInfo {
    /// A tensor whose type is the smallest exact type of `interval` on grid `frac`
    /// (unit 1).
    pub fn exact(shape: Vec<usize>, interval: Interval, frac: i32) -> TensorInfo {
        TensorInfo {
            shape,
            ty: FixedType::for_interval(interval, frac),
            interval,
            unit: Unit::ONE,
        }
    }

    /// The same tensor with the scale unit `unit`.
    pub fn with_unit(mut self, unit: Unit) -> TensorInfo {
        self.unit = unit;
        self
    }

    /// The real value of element integer `x`: exact when `x * unit.num` has at most
    /// 53 significant bits and `unit.den == 1`, else the f64 of the exact quotient
    /// (rounded once more by the division).
    pub fn real(&self, x: i128) -> f64 {
        let n = x.saturating_mul(self.unit.num as i128) as f64;
        n / self.unit.den as f64 * crate::fixed::pow2(-self.ty.frac)
    }
    /// Number of elements (saturating: shapes beyond `usize` are refused by inference).
    pub fn len(&self) -> usize {
        self.shape.iter().fold(1usize, |n, &d| n.saturating_mul(d))
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Integer constants on the grid `unit * 2^-frac` (weights, biases).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ConstTensor {
    pub shape: Vec<usize>,
    pub data: Vec<i64>,
    pub frac: i32,
    /// The odd rational part of the scale (1 for plain fixed point).
    #[serde(default)]
    pub unit: Unit,
    /// Every integer the tensor's quantizer can produce (the precision the model
    /// declares, e.g. `[-32, 31]` for a 6-bit signed weight), when the constant came out
    /// of a quantizer; `None` for other constants. Constant-weight hardware ignores it;
    /// reconfigurable weights are stored in registers of this range.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub declared: Option<Interval>,
}

impl ConstTensor {
    /// Constants on the plain fixed-point grid `2^-frac`.
    pub fn new(shape: Vec<usize>, data: Vec<i64>, frac: i32) -> ConstTensor {
        debug_assert_eq!(shape.iter().product::<usize>(), data.len());
        ConstTensor {
            shape,
            data,
            frac,
            unit: Unit::ONE,
            declared: None,
        }
    }

    /// The same constants with the scale unit `unit`.
    pub fn with_unit(mut self, unit: Unit) -> ConstTensor {
        self.unit = unit;
        self
    }

    /// The same tensor with the declared range of its quantizer.
    pub fn with_declared(mut self, declared: Option<Interval>) -> ConstTensor {
        self.declared = declared;
        self
    }

    /// The range of integers this tensor may hold: the declared range when there is one
    /// (widened to include the data, in case a caller changed the data), else the hull
    /// of the data.
    pub fn storage_interval(&self) -> Interval {
        match self.declared {
            Some(d) => d.hull(self.interval()),
            None => self.interval(),
        }
    }
    pub fn interval(&self) -> Interval {
        let lo = self.data.iter().copied().min().unwrap_or(0) as i128;
        let hi = self.data.iter().copied().max().unwrap_or(0) as i128;
        Interval::new(lo, hi)
    }
    pub fn ty(&self) -> FixedType {
        FixedType::for_interval(self.interval(), self.frac)
    }
}

/// `y[..., j] = sum_k x[..., k] * weight[k, j] + bias[j]` over the last axis
/// (ONNX `MatMul` with a constant right operand, `Gemm`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Dense {
    /// `[K, M]`.
    pub weight: ConstTensor,
    /// `[M]`.
    pub bias: Option<ConstTensor>,
}

/// 2-D convolution, NCHW, constant weights `[M, C/group, kh, kw]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Conv {
    pub weight: ConstTensor,
    /// `[M]`.
    pub bias: Option<ConstTensor>,
    pub strides: [usize; 2],
    /// `[top, left, bottom, right]` (ONNX order `x1_begin, x2_begin, x1_end, x2_end`).
    pub pads: [usize; 4],
    pub dilations: [usize; 2],
    pub group: usize,
}

impl Conv {
    /// Output spatial size for an input of `h x w`, or `None` if the window does not fit
    /// (or a size overflows).
    pub fn out_hw(&self, h: usize, w: usize) -> Option<(usize, usize)> {
        let kh = *self.weight.shape.get(2)?;
        let kw = *self.weight.shape.get(3)?;
        let eff_h = self.dilations[0]
            .checked_mul(kh.checked_sub(1)?)?
            .checked_add(1)?;
        let eff_w = self.dilations[1]
            .checked_mul(kw.checked_sub(1)?)?
            .checked_add(1)?;
        let ph = h.checked_add(self.pads[0])?.checked_add(self.pads[2])?;
        let pw = w.checked_add(self.pads[1])?.checked_add(self.pads[3])?;
        if ph < eff_h || pw < eff_w || self.strides[0] == 0 || self.strides[1] == 0 {
            return None;
        }
        Some((
            (ph - eff_h) / self.strides[0] + 1,
            (pw - eff_w) / self.strides[1] + 1,
        ))
    }
}

/// The accumulator alignment shared by `Dense` and `Conv`: products `x * w` live on
/// grid `x_frac + w_frac`, the bias on `b_frac`; the accumulator uses the finer one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AccumulatorGrid {
    pub frac: i32,
    /// Left shift applied to every product.
    pub product_shift: u32,
    /// Left shift applied to the bias.
    pub bias_shift: u32,
}

impl AccumulatorGrid {
    /// The grid of a layer that type inference accepted (panics otherwise; see
    /// [`Self::try_new`]).
    pub fn new(x_frac: i32, weight: &ConstTensor, bias: Option<&ConstTensor>) -> AccumulatorGrid {
        Self::try_new(x_frac, weight, bias).expect("accumulator grid checked by type inference")
    }

    /// The grid, or an error when the grids are too far apart for the IR's arithmetic
    /// (a shift of more than [`MAX_ALIGN_SHIFT`] bits, or a grid beyond `i32`).
    pub fn try_new(
        x_frac: i32,
        weight: &ConstTensor,
        bias: Option<&ConstTensor>,
    ) -> Result<AccumulatorGrid, String> {
        let pf = x_frac as i64 + weight.frac as i64;
        let frac = match bias {
            Some(b) => pf.max(b.frac as i64),
            None => pf,
        };
        let frac32 = i32::try_from(frac)
            .map_err(|_| format!("accumulator grid 2^{} is out of range", -frac))?;
        let product_shift = align_shift(frac - pf, "products", frac)?;
        let bias_shift = match bias {
            Some(b) => align_shift(frac - b.frac as i64, "bias", frac)?,
            None => 0,
        };
        Ok(AccumulatorGrid {
            frac: frac32,
            product_shift,
            bias_shift,
        })
    }
}

/// Largest left shift that aligns an operand onto a finer grid (inputs, products and
/// biases are at most 64 bits wide; the IR's arithmetic is 128 bits).
pub const MAX_ALIGN_SHIFT: i64 = 64;

fn align_shift(shift: i64, what: &str, frac: i64) -> Result<u32, String> {
    if shift > MAX_ALIGN_SHIFT {
        return Err(format!(
            "the {what} would be shifted left by {shift} bits onto the accumulator grid \
             2^{} (at most {MAX_ALIGN_SHIFT}): the grids are too far apart",
            -frac
        ));
    }
    Ok(shift as u32)
}

/// An operation of the fixed-point IR.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Op {
    /// A graph input, already on its integer grid. `from_float` is the quantizer that
    /// maps real-valued data onto that grid (the model's first `Quant`).
    Input {
        from_float: Option<Quantizer>,
    },
    /// Round and saturate onto a new grid (QONNX `Quant`, ONNX `QuantizeLinear` +
    /// `DequantizeLinear`).
    Quantize(Quantizer),
    /// `max(x, 0)`.
    Relu,
    Dense(Dense),
    Conv(Conv),
    /// Element-wise sum of two tensors of the same shape.
    Add,
    /// Same data, new shape (row-major order is kept).
    Reshape {
        shape: Vec<usize>,
    },
    /// Axis permutation (ONNX `Transpose`).
    Transpose {
        perm: Vec<usize>,
    },
    /// Element-wise difference `a - b` of two tensors of the same shape and unit.
    Sub,
    /// Per-channel integer affine map with a stated output grid (batch normalization,
    /// multiplication or division by constants, constant offsets).
    Affine(Affine),
    /// Clamp to the integers `[lo, hi]` of the input grid (ONNX `Clip`, HardTanh,
    /// the clamp of a QCDQ chain).
    Clip {
        lo: i64,
        hi: i64,
    },
    /// `x >= 0 ? x * pos : x * neg`, on the grid `2^-(frac + frac_shift)` (ONNX
    /// `LeakyRelu` with `alpha = neg / pos`).
    LeakyRelu {
        pos: i64,
        neg: i64,
        frac_shift: u32,
    },
    /// Maximum over pooling windows (padding excluded).
    MaxPool(Pool),
    /// Average over pooling windows: the window sum times `lcm(counts) / count`, on a
    /// grid whose unit divides by the odd part of `lcm(counts)` (exact, no divider).
    AvgPool(Pool),
    /// Data movement by an explicit index map, with constant fill (Slice, Gather, Pad).
    Select(Select),
    /// Concatenation of `inputs` tensors of the same unit along `axis`; operands on
    /// coarser grids are shifted onto the finest.
    Concat {
        axis: usize,
        inputs: usize,
    },
    /// A lookup table on the input integers (Sigmoid, Tanh, ... fused with the
    /// quantizer after them).
    Lut(Lut),
    /// Softmax over the last axis by an `exp` table and an exact division (opt-in).
    Softmax(SoftmaxLut),
}

impl Op {
    /// Short name used in printing and messages.
    pub fn name(&self) -> &'static str {
        match self {
            Op::Input { .. } => "input",
            Op::Quantize(_) => "quantize",
            Op::Relu => "relu",
            Op::Dense(_) => "dense",
            Op::Conv(_) => "conv",
            Op::Add => "add",
            Op::Reshape { .. } => "reshape",
            Op::Transpose { .. } => "transpose",
            Op::Sub => "sub",
            Op::Affine(_) => "affine",
            Op::Clip { .. } => "clip",
            Op::LeakyRelu { .. } => "leaky_relu",
            Op::MaxPool(_) => "max_pool",
            Op::AvgPool(_) => "avg_pool",
            Op::Select(_) => "select",
            Op::Concat { .. } => "concat",
            Op::Lut(_) => "lut",
            Op::Softmax(_) => "softmax",
        }
    }

    /// Number of operands.
    pub fn arity(&self) -> usize {
        match self {
            Op::Input { .. } => 0,
            Op::Add | Op::Sub => 2,
            Op::Concat { inputs, .. } => *inputs,
            _ => 1,
        }
    }

    /// Whether the op only moves data (no arithmetic): wiring in hardware.
    pub fn is_wiring(&self) -> bool {
        matches!(
            self,
            Op::Reshape { .. } | Op::Transpose { .. } | Op::Select(_)
        )
    }

    /// Infers the output tensor of this op from its operands. Errors are plain
    /// messages; the graph adds the node name.
    pub fn infer(&self, inputs: &[&TensorInfo]) -> Result<TensorInfo, String> {
        if inputs.len() != self.arity() {
            return Err(format!(
                "expects {} operand(s), got {}",
                self.arity(),
                inputs.len()
            ));
        }
        let out = match self {
            Op::Input { .. } => return Err("an input's tensor is declared, not inferred".into()),
            Op::Quantize(q) => infer_quantize(q, inputs[0])?,
            Op::Relu => {
                let x = inputs[0];
                TensorInfo::exact(x.shape.clone(), x.interval.relu(), x.ty.frac).with_unit(x.unit)
            }
            Op::Dense(d) => infer_dense(d, inputs[0])?,
            Op::Conv(c) => infer_conv(c, inputs[0])?,
            Op::Add | Op::Sub => {
                let (a, b) = (inputs[0], inputs[1]);
                if a.shape != b.shape {
                    return Err(format!(
                        "operand shapes {:?} and {:?} differ",
                        a.shape, b.shape
                    ));
                }
                same_unit(inputs)?;
                let frac = a.ty.frac.max(b.ty.frac);
                let align = |t: &TensorInfo, what: &str| {
                    let shift = align_shift(frac as i64 - t.ty.frac as i64, what, frac as i64)?;
                    t.interval.checked_shl(shift).ok_or_else(|| {
                        format!("{what} shifted onto grid 2^{} overflows 128 bits", -frac)
                    })
                };
                let (ia, ib) = (align(a, "first operand")?, align(b, "second operand")?);
                let ib = if matches!(self, Op::Sub) {
                    ib.checked_scale(-1)
                        .ok_or("the difference overflows 128 bits")?
                } else {
                    ib
                };
                let sum = ia.checked_add(ib).ok_or("the sum overflows 128 bits")?;
                TensorInfo::exact(a.shape.clone(), sum, frac).with_unit(a.unit)
            }
            Op::Affine(a) => {
                let x = inputs[0];
                a.check(&x.shape, x.interval)?;
                TensorInfo::exact(x.shape.clone(), a.out_interval(x.interval), a.out_frac)
                    .with_unit(a.out_unit)
            }
            Op::Clip { lo, hi } => {
                let x = inputs[0];
                if lo > hi {
                    return Err(format!("empty range [{lo}, {hi}]"));
                }
                let (lo, hi) = (*lo as i128, *hi as i128);
                let i = Interval::new(x.interval.lo.clamp(lo, hi), x.interval.hi.clamp(lo, hi));
                TensorInfo::exact(x.shape.clone(), i, x.ty.frac).with_unit(x.unit)
            }
            Op::LeakyRelu {
                pos,
                neg,
                frac_shift,
            } => {
                let x = inputs[0];
                if *pos <= 0 || *frac_shift > 62 {
                    return Err(format!(
                        "positive slope {pos} must be positive, shift {frac_shift} at most 62"
                    ));
                }
                let positive = Interval::new(x.interval.lo.max(0), x.interval.hi.max(0));
                let negative = Interval::new(x.interval.lo.min(0), x.interval.hi.min(0));
                let i = positive
                    .scale(*pos as i128)
                    .hull(negative.scale(*neg as i128));
                TensorInfo::exact(x.shape.clone(), i, x.ty.frac + *frac_shift as i32)
                    .with_unit(x.unit)
            }
            Op::MaxPool(p) => {
                let x = inputs[0];
                let shape = p.check(&x.shape)?;
                // a maximum of values of a type is a value of that type
                TensorInfo { shape, ..x.clone() }
            }
            Op::AvgPool(p) => {
                let x = inputs[0];
                let shape = p.check(&x.shape)?;
                let windows = p.windows(&x.shape);
                let scale = average_scale(&windows, x.unit)?;
                let mut out: Option<Interval> = None;
                for (w, &m) in windows.iter().zip(&scale.multipliers) {
                    let mut i = Interval::point(0);
                    for _ in &w.taps {
                        i = i.add(x.interval);
                    }
                    let i = i.scale(m as i128);
                    out = Some(out.map_or(i, |o| o.hull(i)));
                }
                TensorInfo::exact(
                    shape,
                    out.unwrap_or(Interval::point(0)),
                    x.ty.frac + scale.frac_shift as i32,
                )
                .with_unit(scale.unit)
            }
            Op::Select(sel) => {
                let x = inputs[0];
                sel.check(x.len())?;
                let fill = sel.fill as i128;
                if !sel.fills() || x.ty.contains(fill) {
                    // moved values (and a fill the type holds) keep the input's type
                    TensorInfo {
                        shape: sel.shape.clone(),
                        interval: if sel.fills() {
                            x.interval.hull(Interval::point(fill))
                        } else {
                            x.interval
                        },
                        ..x.clone()
                    }
                } else {
                    let interval = x.interval.hull(Interval::point(fill));
                    TensorInfo::exact(sel.shape.clone(), interval, x.ty.frac).with_unit(x.unit)
                }
            }
            Op::Concat { axis, .. } => infer_concat(*axis, inputs)?,
            Op::Lut(l) => {
                let x = inputs[0];
                let interval = l.check(&x.shape, x.interval)?;
                TensorInfo::exact(x.shape.clone(), interval, l.out_frac).with_unit(l.out_unit)
            }
            Op::Softmax(s) => {
                let x = inputs[0];
                s.check()?;
                if x.shape.is_empty() {
                    return Err("softmax needs an axis".into());
                }
                TensorInfo::exact(
                    x.shape.clone(),
                    Interval::new(0, s.out_max as i128),
                    s.out_frac,
                )
            }

            Op::Reshape { shape } => {
                let x = inputs[0];
                let n = checked_len(shape)
                    .ok_or_else(|| format!("shape {shape:?} has too many elements"))?;
                if n != x.len() {
                    return Err(format!(
                        "cannot reshape {:?} ({} elements) to {:?} ({} elements)",
                        x.shape,
                        x.len(),
                        shape,
                        n
                    ));
                }
                TensorInfo {
                    shape: shape.clone(),
                    ..x.clone()
                }
            }
            Op::Transpose { perm } => {
                let x = inputs[0];
                let mut seen = vec![false; x.shape.len()];
                if perm.len() != x.shape.len()
                    || perm
                        .iter()
                        .any(|&p| p >= seen.len() || std::mem::replace(&mut seen[p], true))
                {
                    return Err(format!(
                        "perm {:?} is not a permutation of {} axes",
                        perm,
                        x.shape.len()
                    ));
                }
                TensorInfo {
                    shape: perm.iter().map(|&p| x.shape[p]).collect(),
                    ..x.clone()
                }
            }
        };
        if out.ty.width > MAX_WIDTH || !out.interval.fits_i64() {
            return Err(format!(
                "result needs {} {} bits (interval {}); the IR holds values in 64-bit signed \
                 integers (at most 63 bits unsigned)",
                out.ty.width,
                if out.ty.signed { "signed" } else { "unsigned" },
                out.interval
            ));
        }
        check_shape(&out.shape)?;
        Ok(out)
    }
}

/// Largest left shift a quantizer may apply to its input before dividing (keeps the
/// hardware's exact arithmetic inside 128 bits).
const MAX_QUANT_SHIFT: i64 = 56;

/// Largest magnitude (bits) of an exact intermediate the IR computes in i128.
const MAX_EXACT_BITS: u32 = 120;

fn magnitude_bits(i: Interval) -> u32 {
    128 - i.lo.unsigned_abs().max(i.hi.unsigned_abs()).leading_zeros()
}

fn u64_bits(x: u64) -> u32 {
    64 - x.leading_zeros()
}

/// Operands of an element-wise op must share their unit (the importer aligns them).
fn same_unit(inputs: &[&TensorInfo]) -> Result<(), String> {
    let u = inputs[0].unit;
    match inputs.iter().find(|t| t.unit != u) {
        Some(t) => Err(format!(
            "operands have the scale units {u} and {}; they must be equal",
            t.unit
        )),
        None => Ok(()),
    }
}

/// The finest grid of the operands; every operand shifted onto it stays inside the
/// exact range.
fn aligned_frac(inputs: &[&TensorInfo]) -> Result<i32, String> {
    let frac = inputs.iter().map(|t| t.ty.frac).max().unwrap_or(0);
    for t in inputs {
        let shift = (frac - t.ty.frac) as u32;
        if magnitude_bits(t.interval) + shift > MAX_EXACT_BITS {
            return Err(format!(
                "the grids 2^{} and 2^{} are too far apart to align exactly",
                -t.ty.frac, -frac
            ));
        }
    }
    Ok(frac)
}

fn infer_concat(axis: usize, inputs: &[&TensorInfo]) -> Result<TensorInfo, String> {
    let first = inputs.first().ok_or("no operands")?;
    let rank = first.shape.len();
    if axis >= rank {
        return Err(format!("axis {axis} is outside the rank {rank}"));
    }
    let mut shape = first.shape.clone();
    shape[axis] = 0;
    for t in inputs {
        if t.shape.len() != rank || (0..rank).any(|a| a != axis && t.shape[a] != first.shape[a]) {
            return Err(format!(
                "cannot concatenate {:?} and {:?} along axis {axis}",
                first.shape, t.shape
            ));
        }
        shape[axis] += t.shape[axis];
    }
    same_unit(inputs)?;
    let frac = aligned_frac(inputs)?;
    let interval = inputs
        .iter()
        .map(|t| t.interval.shl((frac - t.ty.frac) as u32))
        .reduce(Interval::hull)
        .expect("at least one operand");
    Ok(TensorInfo::exact(shape, interval, frac).with_unit(first.unit))
}

/// Product of the dimensions, `None` when it overflows `usize`.
pub fn checked_len(shape: &[usize]) -> Option<usize> {
    shape.iter().try_fold(1usize, |n, &d| n.checked_mul(d))
}

/// A tensor the IR can hold: at least one element, every dimension positive.
fn check_shape(shape: &[usize]) -> Result<(), String> {
    if let Some(axis) = shape.iter().position(|&d| d == 0) {
        return Err(format!(
            "shape {shape:?} has size 0 on axis {axis}: every dimension must be at least 1"
        ));
    }
    if checked_len(shape).is_none() {
        return Err(format!("shape {shape:?} has too many elements"));
    }
    Ok(())
}

fn infer_quantize(q: &Quantizer, x: &TensorInfo) -> Result<TensorInfo, String> {
    q.check()?;
    if let Some(axis) = q.axis {
        if axis >= x.shape.len() || x.shape[axis] != q.channels.len() {
            return Err(format!(
                "per-channel quantizer with {} channels on axis {} does not fit input shape {:?}",
                q.channels.len(),
                axis,
                x.shape
            ));
        }
    }
    for ch in &q.channels {
        let k = -(x.ty.frac as i64) - ch.scale.exponent as i64;
        let num_bits = magnitude_bits(x.interval) as i64 + u64_bits(x.unit.num) as i64 + k.max(0);
        let den_bits =
            u64_bits(x.unit.den) as i64 + u64_bits(ch.scale.mantissa) as i64 + (-k).max(0);
        if num_bits.max(den_bits) > MAX_EXACT_BITS as i64 {
            return Err(format!(
                "dividing the input (unit {}, grid 2^{}) by the scale {} needs {} bits, more \
                 than the exact range",
                x.unit,
                -x.ty.frac,
                ch.scale,
                num_bits.max(den_bits)
            ));
        }
        if k.abs() > MAX_QUANT_SHIFT {
            return Err(format!(
                "scale {} is {} binary orders from the input grid 2^{} (at most {} supported)",
                ch.scale,
                k.abs(),
                -x.ty.frac,
                MAX_QUANT_SHIFT
            ));
        }
    }
    let ty = q.out_type();
    Ok(TensorInfo {
        shape: x.shape.clone(),
        ty,
        interval: q.out_interval(),
        unit: q.out_unit(),
    })
}

/// The unit of a Dense/Conv result: the input's times the weights'; a bias must be on
/// the same unit (the importer puts it there).
fn product_unit(
    x: &TensorInfo,
    w: &ConstTensor,
    bias: Option<&ConstTensor>,
) -> Result<Unit, String> {
    let unit = x.unit.checked_mul(w.unit).ok_or_else(|| {
        format!(
            "the product of the input unit {} and the weight unit {} leaves the supported range",
            x.unit, w.unit
        )
    })?;
    if let Some(b) = bias {
        if b.unit != unit {
            return Err(format!(
                "the bias unit {} differs from the products' unit {unit}",
                b.unit
            ));
        }
    }
    Ok(unit)
}

/// A constant tensor the IR can compute with: data matching the shape, at most 64 bits.
fn check_const(t: &ConstTensor, what: &str) -> Result<(), String> {
    if checked_len(&t.shape) != Some(t.data.len()) {
        return Err(format!(
            "{what} has {} values for shape {:?}",
            t.data.len(),
            t.shape
        ));
    }
    if t.data.is_empty() {
        return Err(format!("{what} of shape {:?} has no elements", t.shape));
    }
    Ok(())
}

/// Sum over `weights` of `tap * w`, shifted and biased: the exact interval of one
/// accumulator, or an error when a bound leaves 128 bits.
fn accumulate(
    tap: Interval,
    weights: impl Iterator<Item = i64>,
    grid: &AccumulatorGrid,
    bias: Option<i64>,
) -> Result<Interval, String> {
    let overflow = || {
        format!(
            "the accumulator's range overflows 128-bit arithmetic (input range {tap}); the \
             weights or grids are too extreme for a {MAX_WIDTH}-bit datapath"
        )
    };
    let mut acc = Interval::point(0);
    for w in weights {
        acc = tap
            .checked_scale(w as i128)
            .and_then(|p| acc.checked_add(p))
            .ok_or_else(overflow)?;
    }
    acc = acc.checked_shl(grid.product_shift).ok_or_else(overflow)?;
    if let Some(b) = bias {
        let b = crate::fixed::checked_shl_exact(b as i128, grid.bias_shift).ok_or_else(overflow)?;
        acc = acc.checked_add(Interval::point(b)).ok_or_else(overflow)?;
    }
    Ok(acc)
}

fn infer_dense(d: &Dense, x: &TensorInfo) -> Result<TensorInfo, String> {
    let w = &d.weight;
    if w.shape.len() != 2 {
        return Err(format!("weight must be 2-D [K, M], got {:?}", w.shape));
    }
    let (k, m) = (w.shape[0], w.shape[1]);
    if x.shape.last() != Some(&k) {
        return Err(format!(
            "input shape {:?} does not end in K = {} of weight {:?}",
            x.shape, k, w.shape
        ));
    }
    if let Some(b) = &d.bias {
        if b.shape != [m] {
            return Err(format!("bias shape {:?} does not match M = {}", b.shape, m));
        }
    }
    check_const(w, "weight")?;
    if let Some(b) = &d.bias {
        check_const(b, "bias")?;
    }
    let grid = AccumulatorGrid::try_new(x.ty.frac, w, d.bias.as_ref())?;
    let mut out: Option<Interval> = None;
    for j in 0..m {
        let column = (0..k).map(|kk| w.data[kk * m + j]);
        let acc = accumulate(
            x.interval,
            column,
            &grid,
            d.bias.as_ref().map(|b| b.data[j]),
        )?;
        out = Some(out.map_or(acc, |o| o.hull(acc)));
    }
    let mut shape = x.shape.clone();
    *shape.last_mut().unwrap() = m;
    let unit = product_unit(x, w, d.bias.as_ref())?;
    Ok(TensorInfo::exact(shape, out.unwrap_or(Interval::point(0)), grid.frac).with_unit(unit))
}

fn infer_conv(c: &Conv, x: &TensorInfo) -> Result<TensorInfo, String> {
    let w = &c.weight;
    if x.shape.len() != 4 {
        return Err(format!("input must be 4-D NCHW, got {:?}", x.shape));
    }
    if w.shape.len() != 4 {
        return Err(format!(
            "weight must be 4-D [M, C/group, kh, kw], got {:?}",
            w.shape
        ));
    }
    let (n, ch, h, wd) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3]);
    let (m, cg, kh, kw) = (w.shape[0], w.shape[1], w.shape[2], w.shape[3]);
    let expected = cg.checked_mul(c.group);
    if c.group == 0 || ch % c.group != 0 || m % c.group != 0 || expected != Some(ch) {
        return Err(format!(
            "input has {} channels but weight {:?} with group {} expects {}",
            ch,
            w.shape,
            c.group,
            expected.map_or("more than usize".to_string(), |e| e.to_string())
        ));
    }
    if kh == 0 || kw == 0 || c.dilations.contains(&0) {
        return Err("kernel size and dilations must be positive".into());
    }
    if let Some(b) = &c.bias {
        if b.shape != [m] {
            return Err(format!(
                "bias shape {:?} does not match {} output channels",
                b.shape, m
            ));
        }
    }
    check_const(w, "weight")?;
    if let Some(b) = &c.bias {
        check_const(b, "bias")?;
    }
    let (oh, ow) = c.out_hw(h, wd).ok_or_else(|| {
        format!(
            "kernel {}x{} does not fit padded input {}x{} (or a stride is 0)",
            kh, kw, h, wd
        )
    })?;
    let grid = AccumulatorGrid::try_new(x.ty.frac, w, c.bias.as_ref())?;
    // Padded taps read zero: bound each tap by the input interval joined with 0 when
    // the convolution pads (sound for every output position).
    let padded = c.pads.iter().any(|&p| p > 0);
    let tap = if padded {
        x.interval.hull(Interval::point(0))
    } else {
        x.interval
    };
    let per_out = cg * kh * kw;
    let mut out: Option<Interval> = None;
    for mo in 0..m {
        let filter = w.data[mo * per_out..(mo + 1) * per_out].iter().copied();
        let acc = accumulate(tap, filter, &grid, c.bias.as_ref().map(|b| b.data[mo]))?;
        out = Some(out.map_or(acc, |o| o.hull(acc)));
    }
    let unit = product_unit(x, w, c.bias.as_ref())?;
    Ok(TensorInfo::exact(
        vec![n, m, oh, ow],
        out.unwrap_or(Interval::point(0)),
        grid.frac,
    )
    .with_unit(unit))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixed::Rounding;

    fn input(shape: Vec<usize>, lo: i128, hi: i128, frac: i32) -> TensorInfo {
        TensorInfo::exact(shape, Interval::new(lo, hi), frac)
    }

    #[test]
    fn dense_interval_is_exact_sum_of_extremes() {
        // x in [-4, 3] on 2^-2, w = [[1, -2], [3, 0]] on 2^-1, b = [5, -1] on 2^-4
        let d = Dense {
            weight: ConstTensor::new(vec![2, 2], vec![1, -2, 3, 0], 1),
            bias: Some(ConstTensor::new(vec![2], vec![5, -1], 4)),
        };
        let x = input(vec![1, 2], -4, 3, 2);
        let y = Op::Dense(d).infer(&[&x]).unwrap();
        assert_eq!(y.shape, vec![1, 2]);
        assert_eq!(y.ty.frac, 4); // products on 2^-3, bias on 2^-4
                                  // column 0: x0*1 + x1*3 in [-16, 12] -> <<1 = [-32, 24] + 5 = [-27, 29]
                                  // column 1: x0*-2 in [-6, 8] -> <<1 = [-12, 16] - 1 = [-13, 15]
        assert_eq!(y.interval, Interval::new(-27, 29));
        assert_eq!(y.ty.width, 6);
    }

    #[test]
    fn conv_same_padding_stride_2() {
        let c = Conv {
            weight: ConstTensor::new(vec![8, 1, 3, 3], vec![1; 72], 5),
            bias: None,
            strides: [2, 2],
            pads: [0, 0, 1, 1],
            dilations: [1, 1],
            group: 1,
        };
        let x = input(vec![1, 1, 8, 8], -512, 511, 7);
        let y = Op::Conv(c).infer(&[&x]).unwrap();
        assert_eq!(y.shape, vec![1, 8, 4, 4]);
        assert_eq!(y.interval, Interval::new(-512 * 9, 511 * 9));
        assert_eq!(y.ty.frac, 12);
    }

    #[test]
    fn shape_errors_are_reported() {
        let d = Dense {
            weight: ConstTensor::new(vec![3, 2], vec![0; 6], 0),
            bias: None,
        };
        let x = input(vec![1, 4], 0, 1, 0);
        assert!(Op::Dense(d)
            .infer(&[&x])
            .unwrap_err()
            .contains("does not end in K = 3"));
        let x = input(vec![2, 3], 0, 1, 0);
        assert!(Op::Reshape { shape: vec![5] }.infer(&[&x]).is_err());
        assert!(Op::Transpose { perm: vec![0, 0] }.infer(&[&x]).is_err());
        let t = Op::Transpose { perm: vec![1, 0] }.infer(&[&x]).unwrap();
        assert_eq!(t.shape, vec![3, 2]);
    }

    #[test]
    fn quantize_and_relu_types() {
        let x = input(vec![4], -1000, 1000, 12);
        let q = Quantizer::pow2(11, 8, true, Rounding::HalfEven);
        let y = Op::Quantize(q).infer(&[&x]).unwrap();
        assert_eq!((y.ty.width, y.ty.frac, y.ty.signed), (11, 8, true));
        let r = Op::Relu.infer(&[&y]).unwrap();
        assert_eq!(r.interval, Interval::new(0, 1023));
        assert_eq!((r.ty.width, r.ty.signed), (10, false));
    }
}
