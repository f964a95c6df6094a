//! Lowering of constant-weight `Dense` and `Conv` to explicit sums of products.
//!
//! A fully parallel design computes every output element as its own sum; this is the
//! form the Verilog backend emits and that tests compare against the structured ops.

use crate::ops::{AccumulatorGrid, Conv, Dense, Op, TensorInfo};

/// One output element: `(sum_k weight_k * x[index_k]) << product_shift + bias << bias_shift`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinearRow {
    /// `(flat input index, weight)`, zero weights omitted, in increasing input index.
    pub terms: Vec<(usize, i64)>,
    pub bias: i64,
}

/// A constant linear map from the flat input to the flat output (row-major order).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinearMap {
    pub in_len: usize,
    pub rows: Vec<LinearRow>,
    pub grid: AccumulatorGrid,
}

impl LinearMap {
    /// Evaluates the map exactly (reference for tests).
    pub fn eval(&self, x: &[i64]) -> Vec<i128> {
        self.rows
            .iter()
            .map(|r| {
                let s: i128 = r.terms.iter().map(|&(i, w)| x[i] as i128 * w as i128).sum();
                (s << self.grid.product_shift) + ((r.bias as i128) << self.grid.bias_shift)
            })
            .collect()
    }

    /// Number of non-zero weights (multiplications of a naive implementation).
    pub fn nonzero_terms(&self) -> usize {
        self.rows.iter().map(|r| r.terms.len()).sum()
    }
}

impl Op {
    /// The explicit linear map of a `Dense` or `Conv` on an input tensor `x`.
    pub fn linear_map(&self, x: &TensorInfo) -> Option<LinearMap> {
        match self {
            Op::Dense(d) => Some(dense_map(d, x)),
            Op::Conv(c) => Some(conv_map(c, x)),
            _ => None,
        }
    }
}

impl Op {
    /// Number of non-zero terms of the explicit linear map of a `Dense` or `Conv` on `x`
    /// (what [`LinearMap::nonzero_terms`] would count), computed from the weights alone
    /// in time proportional to their number: sizes a design before anything per output
    /// element is built. `None` for other ops.
    pub fn linear_terms(&self, x: &TensorInfo) -> Option<u128> {
        match self {
            Op::Dense(d) => {
                let k = d.weight.shape[0].max(1);
                let outer = (x.len() / k) as u128;
                let nonzero = d.weight.data.iter().filter(|&&w| w != 0).count() as u128;
                Some(outer * nonzero)
            }
            Op::Conv(c) => {
                let (n, h, w) = (x.shape[0], x.shape[2], x.shape[3]);
                let (cg, kh, kw) = (c.weight.shape[1], c.weight.shape[2], c.weight.shape[3]);
                let (oh, ow) = c.out_hw(h, w)?;
                // output rows (columns) whose tap ky (kx) reads inside the input
                let valid = |k: usize, size: usize, out: usize, axis: usize| -> u128 {
                    let (s, d, p) = (
                        c.strides[axis] as i128,
                        c.dilations[axis] as i128,
                        c.pads[axis] as i128,
                    );
                    // 0 <= o * s + k * d - p < size
                    let lo = p - k as i128 * d;
                    let hi = lo + size as i128 - 1;
                    let first = if lo <= 0 { 0 } else { (lo + s - 1) / s };
                    let last = if hi < 0 {
                        -1
                    } else {
                        (hi / s).min(out as i128 - 1)
                    };
                    (last - first + 1).max(0) as u128
                };
                let rows: Vec<u128> = (0..kh).map(|ky| valid(ky, h, oh, 0)).collect();
                let cols: Vec<u128> = (0..kw).map(|kx| valid(kx, w, ow, 1)).collect();
                let per_filter = cg * kh * kw;
                let mut terms = 0u128;
                for (i, &wv) in c.weight.data.iter().enumerate() {
                    if wv != 0 {
                        let tap = i % per_filter;
                        terms += rows[(tap / kw) % kh] * cols[tap % kw];
                    }
                }
                Some(terms * n as u128)
            }
            _ => None,
        }
    }
}

fn dense_map(d: &Dense, x: &TensorInfo) -> LinearMap {
    let (k, m) = (d.weight.shape[0], d.weight.shape[1]);
    let outer = x.len() / k;
    let grid = AccumulatorGrid::new(x.ty.frac, &d.weight, d.bias.as_ref());
    let mut rows = Vec::with_capacity(outer * m);
    for o in 0..outer {
        for j in 0..m {
            let terms = (0..k)
                .filter_map(|kk| {
                    let w = d.weight.data[kk * m + j];
                    (w != 0).then_some((o * k + kk, w))
                })
                .collect();
            let bias = d.bias.as_ref().map_or(0, |b| b.data[j]);
            rows.push(LinearRow { terms, bias });
        }
    }
    LinearMap {
        in_len: x.len(),
        rows,
        grid,
    }
}

fn conv_map(c: &Conv, x: &TensorInfo) -> LinearMap {
    let (n, ch, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3]);
    let (m, cg, kh, kw) = (
        c.weight.shape[0],
        c.weight.shape[1],
        c.weight.shape[2],
        c.weight.shape[3],
    );
    let (oh, ow) = c.out_hw(h, w).expect("shape was checked by inference");
    let grid = AccumulatorGrid::new(x.ty.frac, &c.weight, c.bias.as_ref());
    let m_per_group = m / c.group;
    let mut rows = Vec::with_capacity(n * m * oh * ow);
    for b in 0..n {
        for mo in 0..m {
            let g = mo / m_per_group;
            for oy in 0..oh {
                for ox in 0..ow {
                    let mut terms = Vec::new();
                    for ci in 0..cg {
                        let cin = g * cg + ci;
                        for ky in 0..kh {
                            let iy = (oy * c.strides[0] + ky * c.dilations[0]) as isize
                                - c.pads[0] as isize;
                            if iy < 0 || iy >= h as isize {
                                continue;
                            }
                            for kx in 0..kw {
                                let ix = (ox * c.strides[1] + kx * c.dilations[1]) as isize
                                    - c.pads[1] as isize;
                                if ix < 0 || ix >= w as isize {
                                    continue;
                                }
                                let wv = c.weight.data[((mo * cg + ci) * kh + ky) * kw + kx];
                                if wv != 0 {
                                    let idx = ((b * ch + cin) * h + iy as usize) * w + ix as usize;
                                    terms.push((idx, wv));
                                }
                            }
                        }
                    }
                    terms.sort_unstable();
                    let bias = c.bias.as_ref().map_or(0, |bb| bb.data[mo]);
                    rows.push(LinearRow { terms, bias });
                }
            }
        }
    }
    LinearMap {
        in_len: x.len(),
        rows,
        grid,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixed::Interval;
    use crate::ops::ConstTensor;

    #[test]
    fn conv_map_handles_asymmetric_padding() {
        // 1x1x3x3 input, 1x1x2x2 kernel of ones, stride 2, pads bottom/right 1 -> 2x2
        let c = Conv {
            weight: ConstTensor::new(vec![1, 1, 2, 2], vec![1, 2, 3, 4], 0),
            bias: Some(ConstTensor::new(vec![1], vec![10], 0)),
            strides: [2, 2],
            pads: [0, 0, 1, 1],
            dilations: [1, 1],
            group: 1,
        };
        let x = TensorInfo::exact(vec![1, 1, 3, 3], Interval::new(0, 9), 0);
        let map = Op::Conv(c).linear_map(&x).unwrap();
        let xs: Vec<i64> = (1..=9).collect();
        // out[0,0] = 1*1 + 2*2 + 3*4 + 4*5 = 37 + 10
        // out[0,1] = 1*3 + 3*6 = 21 + 10 (right column padded)
        // out[1,0] = 1*7 + 2*8 = 23 + 10 (bottom row padded)
        // out[1,1] = 1*9 = 9 + 10
        assert_eq!(map.eval(&xs), vec![47, 31, 33, 19]);
    }

    #[test]
    fn linear_terms_count_the_map_without_building_it() {
        // every padding/stride/dilation combination on a small input
        let mut seed = 7u64;
        let mut next = |n: usize| {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((seed >> 33) % n as u64) as usize
        };
        for _ in 0..300 {
            let (kh, kw) = (1 + next(3), 1 + next(3));
            let c = Conv {
                weight: ConstTensor::new(
                    vec![2, 1, kh, kw],
                    (0..2 * kh * kw).map(|_| next(3) as i64 - 1).collect(),
                    0,
                ),
                bias: None,
                strides: [1 + next(3), 1 + next(3)],
                pads: [next(3), next(3), next(3), next(3)],
                dilations: [1 + next(2), 1 + next(2)],
                group: 1,
            };
            let x = TensorInfo::exact(vec![1, 1, 2 + next(5), 2 + next(5)], Interval::new(0, 3), 0);
            if c.out_hw(x.shape[2], x.shape[3]).is_none() {
                continue;
            }
            let op = Op::Conv(c);
            let map = op.linear_map(&x).unwrap();
            assert_eq!(op.linear_terms(&x), Some(map.nonzero_terms() as u128));
        }
    }

    #[test]
    fn dense_map_prunes_zeros() {
        let d = Dense {
            weight: ConstTensor::new(vec![2, 2], vec![0, 1, 2, 0], 0),
            bias: None,
        };
        let x = TensorInfo::exact(vec![1, 2], Interval::new(0, 3), 0);
        let op = Op::Dense(d);
        let map = op.linear_map(&x).unwrap();
        assert_eq!(map.nonzero_terms(), 2);
        assert_eq!(op.linear_terms(&x), Some(2));
        assert_eq!(map.eval(&[5, 7]), vec![14, 5]);
    }
}
