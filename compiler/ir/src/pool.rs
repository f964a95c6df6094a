//! Pooling windows of `MaxPool` and `AvgPool` on NCHW tensors.
//!
//! A [`Pool`] describes the window geometry the ONNX way (kernel, strides, pads,
//! dilations, `ceil_mode`); [`Pool::windows`] lists, for every output element, the flat
//! input indices its window covers and the divisor an average uses. The reference
//! model and the backends all read these lists, so they agree on every edge case
//! (padding, partial windows of `ceil_mode`).
//!
//! Semantics (those of onnxruntime, checked by the fixtures in `compiler/tests/data`):
//! - the window of output row `oy` starts at `oy * stride - pad_top` and has taps at
//!   `start + k * dilation`, `k < kernel`; taps outside the input are padding;
//! - a max ignores padding; a window with no input tap is an error;
//! - an average divides the sum of the input taps by the number of input taps, or,
//!   with `count_include_pad`, by the number of taps inside the padded input (taps that
//!   `ceil_mode` lets run past the bottom/right padding never count).

use crate::fixed::Unit;
use serde::{Deserialize, Serialize};

/// The window geometry of a 2-D pooling op (1-D pools use `H = 1`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Pool {
    pub kernel: [usize; 2],
    pub strides: [usize; 2],
    /// `[top, left, bottom, right]`.
    pub pads: [usize; 4],
    pub dilations: [usize; 2],
    /// Output size rounded up (ONNX `ceil_mode = 1`).
    pub ceil_mode: bool,
    /// Average pools only: padding taps count in the divisor.
    pub count_include_pad: bool,
}

/// The taps of one output element.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolWindow {
    /// Flat (row-major NCHW) input indices, in increasing order.
    pub taps: Vec<usize>,
    /// The divisor of an average over this window.
    pub count: u64,
}

/// How an average pool puts `sum / count` on its output grid without dividing: the
/// output integer is `sum * multiplier`, on the grid `unit * 2^-(in_frac + frac_shift)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AverageScale {
    /// One multiplier per output element (`lcm(counts) / count`).
    pub multipliers: Vec<u64>,
    pub frac_shift: u32,
    /// The output unit: the input unit divided by the odd part of `lcm(counts)`.
    pub unit: Unit,
}

impl Pool {
    /// Output size of one axis, or `None` if the window does not fit.
    fn out_len(&self, axis: usize, len: usize) -> Option<usize> {
        let (k, s, d) = (self.kernel[axis], self.strides[axis], self.dilations[axis]);
        if k == 0 || s == 0 || d == 0 {
            return None;
        }
        let (pb, pe) = (self.pads[axis], self.pads[axis + 2]);
        let eff = d * (k - 1) + 1;
        let padded = len + pb + pe;
        if padded < eff {
            return None;
        }
        let span = padded - eff;
        let mut out = if self.ceil_mode {
            span.div_ceil(s) + 1
        } else {
            span / s + 1
        };
        // A last window that would start past the input and its begin padding is
        // dropped (the rule of onnxruntime and PyTorch).
        if self.ceil_mode && (out - 1) * s >= len + pb {
            out -= 1;
        }
        Some(out)
    }

    /// Output `(height, width)` for an input of `h x w`.
    pub fn out_hw(&self, h: usize, w: usize) -> Option<(usize, usize)> {
        Some((self.out_len(0, h)?, self.out_len(1, w)?))
    }

    /// Input positions of one axis covered by window `o`, and the taps that count as
    /// padding (inside the padded input).
    fn axis_taps(&self, axis: usize, o: usize, len: usize) -> (Vec<usize>, usize) {
        let (k, s, d) = (self.kernel[axis], self.strides[axis], self.dilations[axis]);
        let (pb, pe) = (self.pads[axis] as isize, self.pads[axis + 2] as isize);
        let start = (o * s) as isize - pb;
        let mut real = Vec::new();
        let mut padding = 0;
        for t in 0..k {
            let p = start + (t * d) as isize;
            if p >= 0 && p < len as isize {
                real.push(p as usize);
            } else if p >= -pb && p < len as isize + pe {
                padding += 1;
            }
        }
        (real, padding)
    }

    /// The window of every output element of an input of NCHW `shape`, row-major.
    pub fn windows(&self, shape: &[usize]) -> Vec<PoolWindow> {
        let (n, c, h, w) = (shape[0], shape[1], shape[2], shape[3]);
        let (oh, ow) = self.out_hw(h, w).expect("checked by inference");
        let rows: Vec<(Vec<usize>, usize)> = (0..oh).map(|o| self.axis_taps(0, o, h)).collect();
        let cols: Vec<(Vec<usize>, usize)> = (0..ow).map(|o| self.axis_taps(1, o, w)).collect();
        let mut out = Vec::with_capacity(n * c * oh * ow);
        for plane in 0..n * c {
            for (ry, py) in &rows {
                for (rx, px) in &cols {
                    let mut taps = Vec::with_capacity(ry.len() * rx.len());
                    for &y in ry {
                        for &x in rx {
                            taps.push((plane * h + y) * w + x);
                        }
                    }
                    let real = ry.len() * rx.len();
                    let count = if self.count_include_pad {
                        (ry.len() + py) * (rx.len() + px)
                    } else {
                        real
                    };
                    out.push(PoolWindow {
                        taps,
                        count: count as u64,
                    });
                }
            }
        }
        out
    }

    /// Checks the geometry against an input of `shape`; returns the output shape.
    pub fn check(&self, shape: &[usize]) -> Result<Vec<usize>, String> {
        if shape.len() != 4 {
            return Err(format!("input must be 4-D NCHW, got {shape:?}"));
        }
        let (oh, ow) = self.out_hw(shape[2], shape[3]).ok_or_else(|| {
            format!(
                "window {:?} (dilations {:?}, strides {:?}) does not fit the padded input {}x{}",
                self.kernel, self.dilations, self.strides, shape[2], shape[3]
            )
        })?;
        for axis in 0..2 {
            let len = shape[2 + axis];
            let outs = if axis == 0 { oh } else { ow };
            if (0..outs).any(|o| self.axis_taps(axis, o, len).0.is_empty()) {
                return Err(format!(
                    "a window along axis {} covers only padding (pads {:?})",
                    2 + axis,
                    self.pads
                ));
            }
        }
        Ok(vec![shape[0], shape[1], oh, ow])
    }
}

/// The output scale of an average over `windows` of an input with unit `unit`.
pub fn average_scale(windows: &[PoolWindow], unit: Unit) -> Result<AverageScale, String> {
    let mut lcm: u64 = 1;
    for w in windows {
        let g = crate::fixed::gcd(lcm, w.count);
        lcm = (lcm / g)
            .checked_mul(w.count)
            .filter(|&l| l < 1 << 40)
            .ok_or("the window sizes have no common multiple below 2^40")?;
    }
    let frac_shift = lcm.trailing_zeros();
    let odd = lcm >> frac_shift;
    let unit = unit
        .checked_div(Unit::int(odd).expect("odd"))
        .ok_or("the output scale unit leaves the supported range")?;
    Ok(AverageScale {
        multipliers: windows.iter().map(|w| lcm / w.count).collect(),
        frac_shift,
        unit,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pool(k: usize, s: usize, pads: [usize; 4], ceil: bool, include: bool) -> Pool {
        Pool {
            kernel: [k, k],
            strides: [s, s],
            pads,
            dilations: [1, 1],
            ceil_mode: ceil,
            count_include_pad: include,
        }
    }

    #[test]
    fn windows_of_a_padded_3x3() {
        // 1x1x3x3 input, 2x2 kernel, stride 2, pads bottom/right 1 -> 2x2
        let p = pool(2, 2, [0, 0, 1, 1], false, false);
        assert_eq!(p.check(&[1, 1, 3, 3]).unwrap(), vec![1, 1, 2, 2]);
        let w = p.windows(&[1, 1, 3, 3]);
        assert_eq!(w[0].taps, vec![0, 1, 3, 4]);
        assert_eq!(w[1].taps, vec![2, 5]);
        assert_eq!(w[3].taps, vec![8]);
        assert_eq!(
            w.iter().map(|w| w.count).collect::<Vec<_>>(),
            vec![4, 2, 2, 1]
        );
        let p = pool(2, 2, [0, 0, 1, 1], false, true);
        assert!(p.windows(&[1, 1, 3, 3]).iter().all(|w| w.count == 4));
    }

    #[test]
    fn ceil_mode_adds_partial_windows() {
        // length 5, kernel 2, stride 2: floor -> 2 outputs, ceil -> 3 (the last one
        // covers only index 4; it runs past the input, which has no padding)
        let p = pool(2, 2, [0; 4], true, true);
        assert_eq!(p.out_hw(5, 5), Some((3, 3)));
        let w = p.windows(&[1, 1, 5, 5]);
        assert_eq!(w[2].taps, vec![4, 9]);
        // count_include_pad counts only taps inside the padded input (none here)
        assert_eq!(w[2].count, 2);
        assert_eq!(pool(2, 2, [0; 4], false, true).out_hw(5, 5), Some((2, 2)));
    }

    #[test]
    fn average_scales_divide_exactly() {
        let p = pool(2, 2, [0, 0, 1, 1], false, false);
        let w = p.windows(&[1, 1, 3, 3]);
        let s = average_scale(&w, Unit::ONE).unwrap();
        // counts 4, 2, 2, 1: lcm 4 = 2^2, multipliers 1, 2, 2, 4
        assert_eq!(s.multipliers, vec![1, 2, 2, 4]);
        assert_eq!((s.frac_shift, s.unit), (2, Unit::ONE));
        // a 3x3 window: lcm 9, unit 1/9
        let p = pool(3, 3, [0; 4], false, false);
        let s = average_scale(&p.windows(&[1, 1, 3, 3]), Unit::int(3).unwrap()).unwrap();
        assert_eq!((s.frac_shift, s.unit), (0, Unit::new(1, 3).unwrap()));
    }
}
