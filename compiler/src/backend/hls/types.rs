//! Spelling IR fixed-point types as vendor C++ types.
//!
//! Every IR [`FixedType`] becomes `ap_fixed`/`ap_ufixed` (Vitis/Vivado HLS, Xilinx
//! ap_types) or `ac_fixed` (Catapult, ac_types) with the same width, integer bits,
//! signedness, rounding and overflow. The rounding modes of both libraries were checked
//! against their `quantization_adjust` code (and are checked again, bit for bit, by the
//! C-simulation tests):
//!
//! | IR rounding        | ap_types       | ac_types       | meaning                     |
//! |--------------------|----------------|----------------|-----------------------------|
//! | `HalfEven`         | `AP_RND_CONV`  | `AC_RND_CONV`  | nearest, ties to even       |
//! | `HalfAwayFromZero` | `AP_RND_INF`   | `AC_RND_INF`   | nearest, ties away from 0   |
//! | `HalfTowardZero`   | `AP_RND_ZERO`  | `AC_RND_ZERO`  | nearest, ties toward 0      |
//! | `Floor`            | `AP_TRN`       | `AC_TRN`       | toward minus infinity       |
//! | `TowardZero`       | `AP_TRN_ZERO`  | `AC_TRN_ZERO`  | toward zero                 |
//! | `Ceil`             | (none)         | (none)         | explicit integer code       |
//! | `AwayFromZero`     | (none)         | (none)         | explicit integer code       |
//!
//! (`AP_RND` rounds ties toward plus infinity and `AP_RND_MIN_INF` toward minus
//! infinity; QONNX has neither.) Overflow: `Saturate` is `AP_SAT`, or `AP_SAT_SYM` for a
//! signed narrow-range quantizer (`[-2^(b-1)+1, 2^(b-1)-1]`); `Wrap` is `AP_WRAP`.

use aecc_ir::{FixedType, Overflow, Rounding};
use std::fmt;
use std::str::FromStr;

/// Which HLS tool (and fixed-point library) the C++ is written for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HlsFlavor {
    /// AMD/Xilinx Vitis HLS (and Vivado HLS): `ap_fixed`, `#pragma HLS ...`.
    Vitis,
    /// Siemens Catapult HLS: `ac_fixed`, `#pragma hls_...`.
    Catapult,
}

impl HlsFlavor {
    pub const ALL: [HlsFlavor; 2] = [HlsFlavor::Vitis, HlsFlavor::Catapult];

    /// Lower-case name as used on the command line (`vitis`, `catapult`).
    pub fn name(self) -> &'static str {
        match self {
            HlsFlavor::Vitis => "vitis",
            HlsFlavor::Catapult => "catapult",
        }
    }

    /// The fixed-point header library the generated C++ includes.
    pub fn header_library(self) -> &'static str {
        match self {
            HlsFlavor::Vitis => "ap_types",
            HlsFlavor::Catapult => "ac_types",
        }
    }
}

impl fmt::Display for HlsFlavor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for HlsFlavor {
    type Err = String;
    fn from_str(s: &str) -> Result<HlsFlavor, String> {
        match s.to_ascii_lowercase().as_str() {
            "vitis" | "vivado" | "vitis_hls" | "vivado_hls" => Ok(HlsFlavor::Vitis),
            "catapult" => Ok(HlsFlavor::Catapult),
            other => Err(format!(
                "unknown HLS flavour '{other}' (expected 'vitis' or 'catapult')"
            )),
        }
    }
}

/// The vendor quantization mode that implements `rounding`, if there is one.
pub fn rounding_mode_name(flavor: HlsFlavor, rounding: Rounding) -> Option<&'static str> {
    use HlsFlavor::*;
    use Rounding::*;
    Some(match (flavor, rounding) {
        (Vitis, HalfEven) => "AP_RND_CONV",
        (Vitis, HalfAwayFromZero) => "AP_RND_INF",
        (Vitis, HalfTowardZero) => "AP_RND_ZERO",
        (Vitis, Floor) => "AP_TRN",
        (Vitis, TowardZero) => "AP_TRN_ZERO",
        (Catapult, HalfEven) => "AC_RND_CONV",
        (Catapult, HalfAwayFromZero) => "AC_RND_INF",
        (Catapult, HalfTowardZero) => "AC_RND_ZERO",
        (Catapult, Floor) => "AC_TRN",
        (Catapult, TowardZero) => "AC_TRN_ZERO",
        (_, Ceil | AwayFromZero | HalfOdd) => return None,
    })
}

/// The vendor overflow mode; `symmetric` selects the narrow signed range.
pub fn overflow_mode_name(flavor: HlsFlavor, overflow: Overflow, symmetric: bool) -> &'static str {
    match (flavor, overflow, symmetric) {
        (HlsFlavor::Vitis, Overflow::Wrap, _) => "AP_WRAP",
        (HlsFlavor::Vitis, Overflow::Saturate, false) => "AP_SAT",
        (HlsFlavor::Vitis, Overflow::Saturate, true) => "AP_SAT_SYM",
        (HlsFlavor::Catapult, Overflow::Wrap, _) => "AC_WRAP",
        (HlsFlavor::Catapult, Overflow::Saturate, false) => "AC_SAT",
        (HlsFlavor::Catapult, Overflow::Saturate, true) => "AC_SAT_SYM",
    }
}

/// A fixed-point type spelled for one flavour, e.g.
/// `ap_fixed<10, 3, AP_RND_CONV, AP_SAT>` or `ac_fixed<10, 3, true, AC_RND_CONV, AC_SAT>`.
///
/// `symmetric` asks for the symmetric saturation mode (signed narrow quantizers). A
/// rounding mode without a vendor spelling (`Ceil`, `AwayFromZero`) is spelled as
/// truncation; the caller implements such a quantizer with explicit integer code, so
/// the type's own rounding never acts, and says so in a comment.
pub fn spell(flavor: HlsFlavor, ty: &FixedType, symmetric: bool) -> String {
    let q = rounding_mode_name(flavor, ty.rounding)
        .unwrap_or_else(|| rounding_mode_name(flavor, Rounding::Floor).expect("floor"));
    let o = overflow_mode_name(flavor, ty.overflow, symmetric && ty.signed);
    let (w, i) = (ty.width, ty.int_bits());
    match flavor {
        HlsFlavor::Vitis if ty.signed => format!("ap_fixed<{w}, {i}, {q}, {o}>"),
        HlsFlavor::Vitis => format!("ap_ufixed<{w}, {i}, {q}, {o}>"),
        HlsFlavor::Catapult => format!("ac_fixed<{w}, {i}, {}, {q}, {o}>", ty.signed),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spells_the_econt_types() {
        let input = FixedType {
            rounding: Rounding::HalfEven,
            overflow: Overflow::Saturate,
            ..FixedType::exact(10, 7, true)
        };
        assert_eq!(
            spell(HlsFlavor::Vitis, &input, false),
            "ap_fixed<10, 3, AP_RND_CONV, AP_SAT>"
        );
        assert_eq!(
            spell(HlsFlavor::Catapult, &input, false),
            "ac_fixed<10, 3, true, AC_RND_CONV, AC_SAT>"
        );
        let acc = FixedType::exact(19, 12, true);
        assert_eq!(
            spell(HlsFlavor::Vitis, &acc, false),
            "ap_fixed<19, 7, AP_TRN, AP_WRAP>"
        );
        let latent = FixedType {
            rounding: Rounding::TowardZero,
            overflow: Overflow::Saturate,
            ..FixedType::exact(9, 8, false)
        };
        assert_eq!(
            spell(HlsFlavor::Vitis, &latent, true),
            "ap_ufixed<9, 1, AP_TRN_ZERO, AP_SAT>"
        );
        assert_eq!(
            spell(HlsFlavor::Catapult, &latent, false),
            "ac_fixed<9, 1, false, AC_TRN_ZERO, AC_SAT>"
        );
        let narrow = FixedType {
            rounding: Rounding::HalfAwayFromZero,
            overflow: Overflow::Saturate,
            ..FixedType::exact(4, 6, true)
        };
        assert_eq!(
            spell(HlsFlavor::Vitis, &narrow, true),
            "ap_fixed<4, -2, AP_RND_INF, AP_SAT_SYM>"
        );
    }

    #[test]
    fn flavour_names_parse() {
        for f in HlsFlavor::ALL {
            assert_eq!(f.name().parse::<HlsFlavor>(), Ok(f));
        }
        assert!("quartus".parse::<HlsFlavor>().is_err());
    }
}
