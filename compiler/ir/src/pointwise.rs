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
