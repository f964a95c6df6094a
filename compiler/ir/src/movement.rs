//! Data movement as an explicit index map: [`Select`] covers `Slice`, `Gather` with
//! constant indices, `Pad` (constant, edge and reflect) and `Split`; in hardware it is
//! wiring.

use serde::{Deserialize, Serialize};

/// Output element `j` (row-major) is input element `index[j]`, or the constant integer
/// `fill` where `index[j]` is `None` (constant padding).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Select {
    pub shape: Vec<usize>,
    pub index: Vec<Option<usize>>,
    pub fill: i64,
}

/// The multi-index of flat element `flat` of a row-major tensor of `shape`.
pub fn unravel(mut flat: usize, shape: &[usize]) -> Vec<usize> {
    let mut idx = vec![0; shape.len()];
    for (a, &d) in shape.iter().enumerate().rev() {
        idx[a] = flat % d.max(1);
        flat /= d.max(1);
    }
    idx
}

/// The flat index of multi-index `idx` in a row-major tensor of `shape`.
pub fn ravel(idx: &[usize], shape: &[usize]) -> usize {
    idx.iter().zip(shape).fold(0, |acc, (&i, &d)| acc * d + i)
}

impl Select {
    /// The selection whose output multi-index `o` reads input multi-index `f(o)`
    /// (`None`: the fill value).
    pub fn from_fn(
        in_shape: &[usize],
        out_shape: Vec<usize>,
        fill: i64,
        f: impl Fn(&[usize]) -> Option<Vec<usize>>,
    ) -> Select {
        let n: usize = out_shape.iter().product();
        let index = (0..n)
            .map(|j| f(&unravel(j, &out_shape)).map(|i| ravel(&i, in_shape)))
            .collect();
        Select {
            shape: out_shape,
            index,
            fill,
        }
    }

    /// Whether some output element is the fill constant.
    pub fn fills(&self) -> bool {
        self.index.iter().any(Option::is_none)
    }

    pub(crate) fn check(&self, in_len: usize) -> Result<(), String> {
        let n: usize = self.shape.iter().product();
        if n != self.index.len() {
            return Err(format!(
                "{} indices for the output shape {:?}",
                self.index.len(),
                self.shape
            ));
        }
        if let Some(i) = self.index.iter().flatten().find(|&&i| i >= in_len) {
            return Err(format!("index {i} is outside the {in_len}-element input"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slice_and_pad_maps() {
        // x[:, 1:3] of a 2x4 tensor
        let s = Select::from_fn(&[2, 4], vec![2, 2], 0, |o| Some(vec![o[0], o[1] + 1]));
        assert_eq!(s.index, vec![Some(1), Some(2), Some(5), Some(6)]);
        // one zero before a length-2 vector
        let p = Select::from_fn(&[2], vec![3], 0, |o| o[0].checked_sub(1).map(|i| vec![i]));
        assert_eq!(p.index, vec![None, Some(0), Some(1)]);
        assert!(p.fills());
        assert_eq!(unravel(5, &[2, 3]), vec![1, 2]);
        assert_eq!(ravel(&[1, 2], &[2, 3]), 5);
    }
}
