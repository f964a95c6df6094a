//! Exact division by a constant through a multiplication: the "round-by-multiply-high"
//! method (Granlund and Montgomery, PLDI 1994), with the multiplier checked for the
//! bounded range of the dividend.
//!
//! For a divisor `d > 0` and a shift `t`, let `M = ceil(2^t / d)` and
//! `e = M * d - 2^t` (so `0 <= e < d`). Every `u` in `[0, u_max]` is `u = q * d + r`
//! with `0 <= r < d`, and
//!
//! ```text
//! u * M / 2^t = u / d + u * e / (d * 2^t) = q + (r + u * e / 2^t) / d.
//! ```
//!
//! When `u_max * e < 2^t`, the last numerator is `< r + 1 <= d`, so
//! `floor(u * M / 2^t) = q`: the quotient is the high part of one product, exactly, for
//! the whole range. [`MagicDivisor::new`] picks the smallest such `t` (one always exists
//! at `t = bits(u_max) + bits(d)`, where `u_max * e < u_max * d < 2^t`).

/// `floor(u / divisor) = (u * multiplier) >> shift` for every `0 <= u <= max_dividend`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MagicDivisor {
    pub divisor: u128,
    pub max_dividend: u128,
    pub multiplier: u128,
    pub shift: u32,
}

fn bits(x: u128) -> u32 {
    128 - x.leading_zeros()
}

impl MagicDivisor {
    /// The magic multiplier of `divisor` for dividends in `[0, max_dividend]`; `None`
    /// when the product `max_dividend * multiplier` would not fit 127 bits.
    pub fn new(divisor: u128, max_dividend: u128) -> Option<MagicDivisor> {
        if divisor == 0 {
            return None;
        }
        let start = bits(max_dividend);
        for shift in start..=start + bits(divisor) {
            if shift >= 127 {
                return None;
            }
            let p = 1u128 << shift;
            let multiplier = p.div_ceil(divisor);
            let e = multiplier * divisor - p;
            let ok = max_dividend.checked_mul(e).is_some_and(|v| v < p);
            if ok {
                let product = max_dividend.checked_mul(multiplier)?;
                if bits(product) > 127 {
                    return None;
                }
                return Some(MagicDivisor {
                    divisor,
                    max_dividend,
                    multiplier,
                    shift,
                });
            }
        }
        None
    }

    /// The quotient the hardware computes (for tests and documentation).
    pub fn quotient(&self, u: u128) -> u128 {
        debug_assert!(u <= self.max_dividend);
        (u * self.multiplier) >> self.shift
    }

    /// Width of the product `u * multiplier` over the range.
    pub fn product_bits(&self) -> u32 {
        bits(self.max_dividend * self.multiplier)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exhaustive_on_small_ranges() {
        for d in 1..=200u128 {
            for max in [1u128, 7, 100, 1000, 4095] {
                let m = MagicDivisor::new(d, max).unwrap();
                for u in 0..=max {
                    assert_eq!(m.quotient(u), u / d, "d={d} max={max} u={u}");
                }
            }
        }
    }

    #[test]
    fn float32_mantissas_on_wide_ranges() {
        // odd 24-bit mantissas (float32 scales) and 40-bit dividends: check the range
        // ends, the points around every multiple near them, and a pseudo-random sample
        let mut seed = 0x2545F4914F6CDD1Du64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for _ in 0..200 {
            let d = ((next() >> 40) | 1 | (1 << 23)) as u128;
            let max = (next() >> 24) as u128;
            let m = MagicDivisor::new(d, max).unwrap();
            assert!(m.shift <= 128 - max.leading_zeros() + 25);
            let mut probes = vec![
                0,
                1,
                max,
                max - 1,
                max / d * d,
                (max / d * d).saturating_sub(1),
            ];
            probes.extend((0..500).map(|_| (next() as u128) % (max + 1)));
            for u in probes {
                assert_eq!(m.quotient(u), u / d, "d={d} max={max} u={u}");
            }
        }
    }

    #[test]
    fn hand_computed_multiplier() {
        // d = 3, u <= 255: t = 9 (M = 171 = ceil(512/3), e = 1, 255 * 1 < 512)
        let m = MagicDivisor::new(3, 255).unwrap();
        assert_eq!((m.multiplier, m.shift), (171, 9));
        assert_eq!(m.quotient(255), 85);
        // (t = 8 fails: M = 86, e = 2, 255 * 2 >= 256)
    }
}
