//! Canonical signed digit (CSD) recoding: `w = sum d_k 2^k` with `d_k` in {-1, 0, +1}
//! and no two adjacent non-zero digits. It has the fewest non-zero digits of any
//! signed-digit form (on average a third of the bits instead of half), so a constant
//! multiplication `x * w` becomes `nonzero_digits(w) - 1` additions of shifted `x`.

/// One non-zero digit: `(k, negative)` stands for `±2^k`.
pub type Digit = (u32, bool);

/// The non-zero CSD digits of `w`, least significant first.
pub fn csd(w: i128) -> Vec<Digit> {
    let mut digits = Vec::new();
    let mut x = w;
    let mut k = 0u32;
    while x != 0 {
        if x & 1 == 1 {
            // x mod 4 == 1 -> digit +1; x mod 4 == 3 -> digit -1 (then x + 1 has a run of zeros)
            if x & 3 == 3 {
                digits.push((k, true));
                x += 1;
            } else {
                digits.push((k, false));
                x -= 1;
            }
        }
        x >>= 1;
        k += 1;
    }
    digits
}

/// Value of a digit list (for tests and checks).
pub fn value(digits: &[Digit]) -> i128 {
    digits
        .iter()
        .map(|&(k, neg)| if neg { -(1i128 << k) } else { 1i128 << k })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csd_is_exact_canonical_and_minimal() {
        for w in -5000i128..5000 {
            let d = csd(w);
            assert_eq!(value(&d), w, "{w}");
            for pair in d.windows(2) {
                assert!(pair[1].0 > pair[0].0 + 1, "{w}: adjacent digits {d:?}");
            }
            // never more digits than the binary form of |w| has ones
            assert!(
                d.len() as u32 <= w.unsigned_abs().count_ones().max(1),
                "{w}"
            );
        }
        assert_eq!(csd(7), vec![(0, true), (3, false)]);
        assert_eq!(csd(-7), vec![(0, false), (3, true)]);
        assert_eq!(csd(0), vec![]);
        assert_eq!(csd(-32), vec![(5, true)]);
    }
}
