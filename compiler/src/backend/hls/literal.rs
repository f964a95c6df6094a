//! Exact C++ literals for constants on a fixed-point grid.
//!
//! A weight is the integer `n` on the grid `2^-frac`, i.e. the real number `n * 2^-frac`.
//! Every such number has a finite decimal expansion, so it is written out in full
//! (`0.40625`, `-3.0`, `1536.0`): the C++ compiler turns the literal into a `double`
//! without rounding as long as `n` has at most 53 significant bits, and converting that
//! double into a type that holds the value (the weight's own type) is exact too.

/// Largest number of significant bits a constant may have (a `double`'s mantissa).
pub const MAX_LITERAL_BITS: u32 = 53;

/// The exact decimal literal of `n * 2^-frac`, or `None` if the value is not exactly a
/// `double` (more than 53 significant bits) or its decimal form would be unreasonable
/// (`|frac| > 120`).
pub fn exact_decimal(n: i64, frac: i32) -> Option<String> {
    if n == 0 {
        return Some("0.0".to_string());
    }
    if frac.abs() > 120 {
        return None;
    }
    let magnitude = n.unsigned_abs() as u128;
    let significant = 128 - magnitude.leading_zeros() - magnitude.trailing_zeros();
    if significant > MAX_LITERAL_BITS {
        return None;
    }
    let sign = if n < 0 { "-" } else { "" };
    if frac <= 0 {
        let shift = (-frac) as u32;
        // magnitude < 2^64, shift <= 120: may exceed u128, fall back to digit doubling.
        let digits = if shift + (128 - magnitude.leading_zeros()) < 127 {
            (magnitude << shift).to_string()
        } else {
            decimal_times_pow2(magnitude, shift)
        };
        return Some(format!("{sign}{digits}.0"));
    }
    let frac = frac as u32;
    let int_part = magnitude >> frac;
    let mask = (1u128 << frac) - 1;
    let mut rem = magnitude & mask;
    let mut out = format!("{sign}{int_part}.");
    if rem == 0 {
        out.push('0');
    }
    while rem != 0 {
        // rem < 2^frac <= 2^120, so rem * 10 < 2^124: no overflow.
        rem *= 10;
        out.push(char::from(b'0' + (rem >> frac) as u8));
        rem &= mask;
    }
    Some(out)
}

/// Decimal digits of `m * 2^shift` for values beyond `u128`, by repeated doubling of a
/// little-endian digit vector.
fn decimal_times_pow2(m: u128, shift: u32) -> String {
    let mut digits: Vec<u8> = m.to_string().bytes().rev().map(|b| b - b'0').collect();
    for _ in 0..shift {
        let mut carry = 0u8;
        for d in digits.iter_mut() {
            let v = *d * 2 + carry;
            *d = v % 10;
            carry = v / 10;
        }
        if carry > 0 {
            digits.push(carry);
        }
    }
    digits.iter().rev().map(|d| char::from(b'0' + d)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_are_exact() {
        assert_eq!(exact_decimal(0, 5).unwrap(), "0.0");
        assert_eq!(exact_decimal(13, 5).unwrap(), "0.40625");
        assert_eq!(exact_decimal(-16, 5).unwrap(), "-0.5");
        assert_eq!(exact_decimal(-96, 5).unwrap(), "-3.0");
        assert_eq!(exact_decimal(3, -9).unwrap(), "1536.0");
        assert_eq!(exact_decimal(1, 20).unwrap(), "0.00000095367431640625");
        assert_eq!(exact_decimal(5, 0).unwrap(), "5.0");
        assert_eq!(
            exact_decimal(1, -100).unwrap(),
            "1267650600228229401496703205376.0"
        );
        // 2^53 + 1 is not a double
        assert!(exact_decimal((1 << 53) + 1, 0).is_none());
        // but 2^60 is
        assert_eq!(exact_decimal(1 << 60, 0).unwrap(), "1152921504606846976.0");
    }

    #[test]
    fn literals_parse_back_to_the_same_value() {
        for n in [-1000i64, -7, -1, 1, 3, 255, 12345, (1 << 52) - 1] {
            for frac in [-12, -1, 0, 1, 3, 8, 17, 30] {
                let text = exact_decimal(n, frac).unwrap();
                let back: f64 = text.parse().unwrap();
                assert_eq!(back, n as f64 * 2f64.powi(-frac), "{n} {frac} {text}");
            }
        }
    }
}
