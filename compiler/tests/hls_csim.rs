//! Bit-exactness of the HLS C++ backend: every design is emitted for Vitis (ap_types)
//! and Catapult (ac_types), built once with g++, and run on >= 10,000 random on-grid
//! vectors; every output value must equal `aecc_sim::Simulator`'s.
//!
//! Needs g++ and the vendor headers (`scripts/setup-hls-headers.sh`); without them the
//! tests skip loudly, and fail when `CI=true`.

mod common;

use aecc::backend::hls::HlsFlavor;
use common::*;

#[test]
fn econt_like_is_bit_exact() {
    let g = econt_like(1);
    for flavor in HlsFlavor::ALL {
        check_bit_exact(&g, flavor, VECTORS, 11);
    }
}
