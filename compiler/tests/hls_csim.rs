//! Bit-exactness of the HLS C++ backend: every design is emitted for Vitis (ap_types)
//! and Catapult (ac_types), built once with g++, and run on >= 10,000 random on-grid
//! vectors; every output value must equal `aecc_sim::Simulator`'s.
//!
//! Needs g++ and the vendor headers (`scripts/setup-hls-headers.sh`); without them the
//! tests skip loudly, and fail when `CI=true`.

mod hls_common;

use aecc::backend::hls::{HlsFlavor, HlsOptions};
use aecc_ir::Rounding;
use hls_common::*;

#[test]
fn econt_like_is_bit_exact() {
    let g = econt_like(1);
    for flavor in HlsFlavor::ALL {
        check_bit_exact(&g, flavor, VECTORS, 11);
    }
}

#[test]
fn dense_64_32_16_8_is_bit_exact() {
    let g = dense_64_32_16_8(2);
    for flavor in HlsFlavor::ALL {
        check_bit_exact(&g, flavor, VECTORS, 12);
    }
}

#[test]
fn every_rounding_mode_is_bit_exact() {
    for mode in Rounding::ALL {
        let g = rounding_bank(mode);
        for flavor in HlsFlavor::ALL {
            check_bit_exact(&g, flavor, VECTORS, 13);
        }
    }
}

#[test]
fn special_quantizers_are_bit_exact() {
    let g = special_quantizers();
    for flavor in HlsFlavor::ALL {
        check_bit_exact(&g, flavor, VECTORS, 14);
    }
}

#[test]
fn transpose_add_grouped_conv_are_bit_exact() {
    let g = ops_mix(3);
    for flavor in HlsFlavor::ALL {
        check_bit_exact(&g, flavor, VECTORS, 15);
    }
}

#[test]
fn wide_constants_are_exact() {
    let g = wide_constants();
    for flavor in HlsFlavor::ALL {
        check_bit_exact(&g, flavor, VECTORS, 17);
    }
}

#[test]
fn reuse_factor_keeps_bit_exactness() {
    let g = econt_like(4);
    for flavor in HlsFlavor::ALL {
        let opts = HlsOptions {
            reuse: Some(4),
            ..HlsOptions::new(flavor, "top")
        };
        check_bit_exact_with(&g, &opts, VECTORS, 16);
    }
}
