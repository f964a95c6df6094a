//! Element-wise ops with constant parameters: per-channel integer affine maps and
//! lookup tables. Both state their output grid (`out_unit * 2^-out_frac`) explicitly:
//! the importer chooses the integers so that the real-valued op is computed exactly.

use crate::fixed::{Interval, Unit};
use serde::{Deserialize, Serialize};

/// The channel of element `flat` of a tensor of `shape` for parameters that vary along
/// `axis` (always 0 without an axis).
pub fn channel_index(axis: Option<usize>, flat: usize, shape: &[usize]) -> usize {
    match axis {
        None => 0,
        Some(a) => {
            let stride: usize = shape[a + 1..].iter().product();
            (flat / stride) % shape[a]
        }
    }
}

/// `y = x * mul[c] + add[c]` on integers, `c` the channel along `axis`; `y` is on the
/// grid `out_unit * 2^-out_frac`.
///
/// With the input on `unit_x * 2^-f_x`, this is the real map `y = x * a_c + b_c` with
/// `a_c = mul[c] * unit_x / out_unit * 2^(out_frac - f_x)` and
/// `b_c = add[c] * out_unit * 2^-out_frac`: batch normalization, multiplication or
/// division by constants, subtraction of a constant, a change of zero point.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Affine {
    pub axis: Option<usize>,
    pub mul: Vec<i64>,
    pub add: Vec<i64>,
    pub out_frac: i32,
    pub out_unit: Unit,
}

impl Affine {
    /// `y` for the integer `x` of channel `c`.
    pub fn apply(&self, x: i128, c: usize) -> i128 {
        x * self.mul[c] as i128 + self.add[c] as i128
    }

    /// Exact interval of the output for inputs in `x`.
    pub fn out_interval(&self, x: Interval) -> Interval {
        let mut out: Option<Interval> = None;
        for (&m, &a) in self.mul.iter().zip(&self.add) {
            let i = x.scale(m as i128).add(Interval::point(a as i128));
            out = Some(out.map_or(i, |o| o.hull(i)));
        }
        out.unwrap_or(Interval::point(0))
    }

    pub(crate) fn check(&self, shape: &[usize], x: Interval) -> Result<(), String> {
        if self.mul.is_empty() || self.mul.len() != self.add.len() {
            return Err(format!(
                "{} multipliers and {} offsets",
                self.mul.len(),
                self.add.len()
            ));
        }
        check_channels(self.axis, self.mul.len(), shape)?;
        let bound = (x.lo.unsigned_abs().max(x.hi.unsigned_abs())) as f64;
        let big = self
            .mul
            .iter()
            .zip(&self.add)
            .any(|(&m, &a)| bound * (m as f64).abs() + (a as f64).abs() > 2f64.powi(100));
        if big {
            return Err("the products leave the exact 128-bit range".into());
        }
        Ok(())
    }
}

/// A lookup table on the integers of the input: `y = tables[c][x - in_lo]`, `c` the
/// channel along `axis`; `y` is on the grid `out_unit * 2^-out_frac`. The importer
/// fills the table with the exact results of an activation and the quantizer after it
/// (Sigmoid, Tanh, ...).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Lut {
    pub axis: Option<usize>,
    /// The input integer of entry 0.
    pub in_lo: i64,
    /// One table per channel, all the same length.
    pub tables: Vec<Vec<i64>>,
    pub out_frac: i32,
    pub out_unit: Unit,
}

/// Largest table the IR accepts (entries per channel).
pub const MAX_LUT_ENTRIES: usize = 1 << 16;

impl Lut {
    pub fn lookup(&self, x: i64, c: usize) -> i64 {
        self.tables[c][(x - self.in_lo) as usize]
    }

    /// The entries an input in `x` can select, per channel.
    pub fn reachable(&self, x: Interval) -> std::ops::RangeInclusive<usize> {
        (x.lo - self.in_lo as i128) as usize..=(x.hi - self.in_lo as i128) as usize
    }

    pub(crate) fn check(&self, shape: &[usize], x: Interval) -> Result<Interval, String> {
        let len = self.tables.first().map_or(0, |t| t.len());
        if len == 0 || self.tables.iter().any(|t| t.len() != len) {
            return Err("the tables must be non-empty and of equal length".into());
        }
        if len > MAX_LUT_ENTRIES {
            return Err(format!(
                "{len} entries per table, more than {MAX_LUT_ENTRIES}"
            ));
        }
        check_channels(self.axis, self.tables.len(), shape)?;
        let lo = self.in_lo as i128;
        let hi = lo + len as i128 - 1;
        if x.lo < lo || x.hi > hi {
            return Err(format!(
                "the table covers inputs [{lo}, {hi}] but the input can be {x}"
            ));
        }
        let mut out: Option<Interval> = None;
        for t in &self.tables {
            for &v in &t[self.reachable(x)] {
                let p = Interval::point(v as i128);
                out = Some(out.map_or(p, |o| o.hull(p)));
            }
        }
        Ok(out.expect("the reachable range is not empty"))
    }
}

fn check_channels(axis: Option<usize>, n: usize, shape: &[usize]) -> Result<(), String> {
    match axis {
        None if n == 1 => Ok(()),
        None => Err(format!("{n} channels of parameters but no channel axis")),
        Some(a) if a < shape.len() && shape[a] == n => Ok(()),
        Some(a) => Err(format!(
            "{n} channels of parameters on axis {a} do not fit shape {shape:?}"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn affine_per_channel() {
        let a = Affine {
            axis: Some(1),
            mul: vec![3, -2],
            add: vec![1, 0],
            out_frac: 0,
            out_unit: Unit::ONE,
        };
        assert_eq!(channel_index(a.axis, 5, &[1, 2, 4]), 1);
        assert_eq!(a.apply(4, 0), 13);
        assert_eq!(a.apply(4, 1), -8);
        assert_eq!(a.out_interval(Interval::new(-1, 2)), Interval::new(-4, 7));
        assert!(a.check(&[1, 3, 4], Interval::new(0, 1)).is_err());
    }

    #[test]
    fn lut_softmax_row() {
        // exp(-d ln 2) on 2^-3: 8, 4, 2, 1, 0
        let s = SoftmaxLut {
            table: vec![8, 4, 2, 1, 0],
            table_frac: 3,
            out_frac: 4,
            out_max: 15,
        };
        assert!(s.check().is_ok());
        // x = [3, 2, 0]: d = [0, 1, 3], e = [8, 4, 1], S = 13;
        // 8 * 16 / 13 = 9.85 -> 10, 64 / 13 = 4.92 -> 5, 16 / 13 = 1.23 -> 1
        assert_eq!(s.row(&[3, 2, 0]), vec![10, 5, 1]);
        // d beyond the table reads its last entry; a lone maximum saturates at 15
        assert_eq!(s.row(&[9, 0]), vec![15, 0]);
    }

    #[test]
    fn lut_covers_its_input() {
        let l = Lut {
            axis: None,
            in_lo: -2,
            tables: vec![vec![10, 11, 12, 13, 14]],
            out_frac: 0,
            out_unit: Unit::ONE,
        };
        assert_eq!(l.lookup(-2, 0), 10);
        assert_eq!(l.lookup(2, 0), 14);
        assert_eq!(
            l.check(&[4], Interval::new(-1, 1)),
            Ok(Interval::new(11, 13))
        );
        assert!(l.check(&[4], Interval::new(-3, 1)).is_err());
    }
}

/// A softmax over the last axis with a lookup table for `exp` and an exact integer
/// division, quantized onto unsigned codes on `2^-out_frac` (half to even, saturated
/// at `out_max`):
///
/// ```text
/// m = max_j x_j,  e_i = table[min(m - x_i, len - 1)],  S = sum_j e_j,
/// y_i = min(round(e_i * 2^out_frac / S), out_max)
/// ```
///
/// `table[d]` is `exp(-d * step)` on the grid `2^-table_frac` (the importer fills it for
/// the input's step); `table[0] = 2^table_frac`, so `S > 0`. This is aecc's own integer
/// softmax ("LUT softmax"), bit-exact between the reference and the hardware; it
/// approximates the float softmax the executors compute (the deviation is measured).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SoftmaxLut {
    pub table: Vec<i64>,
    pub table_frac: u32,
    pub out_frac: i32,
    pub out_max: i64,
}

impl SoftmaxLut {
    /// The outputs of one row.
    pub fn row(&self, x: &[i64]) -> Vec<i64> {
        let m = x.iter().copied().max().unwrap_or(0);
        let last = self.table.len() - 1;
        let e: Vec<i128> = x
            .iter()
            .map(|&v| self.table[((m as i128 - v as i128) as usize).min(last)] as i128)
            .collect();
        let s: i128 = e.iter().sum();
        e.iter()
            .map(|&ei| {
                let q = crate::fixed::div_round(
                    ei << self.out_frac.max(0),
                    s,
                    crate::fixed::Rounding::HalfEven,
                );
                q.min(self.out_max as i128) as i64
            })
            .collect()
    }

    pub(crate) fn check(&self) -> Result<(), String> {
        if self.table.is_empty() || self.table[0] != 1i64 << self.table_frac.min(62) {
            return Err("the exp table must start at 1.0".into());
        }
        if self.table.windows(2).any(|w| w[1] > w[0] || w[1] < 0) {
            return Err("the exp table must be non-negative and decreasing".into());
        }
        if self.table.len() > MAX_LUT_ENTRIES || self.out_frac < 0 || self.out_frac > 30 {
            return Err("table too long or output grid out of range".into());
        }
        Ok(())
    }
}
