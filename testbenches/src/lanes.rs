//! Packing lane values into flat buses and back.
//!
//! A bus is a little-endian vector of 64-bit limbs: bit `b` of the bus is bit `b % 64`
//! of limb `b / 64`. Lane `i` occupies bits `[offset_i +: width_i]` (see
//! [`crate::Port`]), holding the low `width_i` bits of the value's two's complement.

use crate::design::Lane;

/// Number of 64-bit limbs of a bus of `width` bits (at least one).
pub fn limbs_for(width: u32) -> usize {
    (width as usize).div_ceil(64).max(1)
}

fn low_mask(width: u32) -> u64 {
    if width >= 64 {
        u64::MAX
    } else {
        (1u64 << width) - 1
    }
}

/// Whether `value` is representable in `lane`.
pub fn fits(value: i64, lane: Lane) -> bool {
    let w = lane.width;
    if w == 0 {
        return false;
    }
    if lane.signed {
        w >= 64 || (-(1i64 << (w - 1))..(1i64 << (w - 1))).contains(&value)
    } else {
        value >= 0 && (w >= 63 || value < (1i64 << w))
    }
}

/// Packs `values[i]` into lane `i`. Each value is truncated to its lane's width (two's
/// complement), so check [`fits`] first where out-of-range values are an error.
pub fn pack_lanes(values: &[i64], lanes: &[Lane]) -> Vec<u64> {
    assert_eq!(values.len(), lanes.len(), "one value per lane");
    let total: u32 = lanes.iter().map(|l| l.width).sum();
    let mut bus = vec![0u64; limbs_for(total)];
    pack_lanes_into(values, lanes, &mut bus);
    bus
}

/// [`pack_lanes`] into a caller's bus (at least [`limbs_for`] the total width limbs),
/// which is cleared first.
pub fn pack_lanes_into(values: &[i64], lanes: &[Lane], bus: &mut [u64]) {
    debug_assert_eq!(values.len(), lanes.len(), "one value per lane");
    bus.fill(0);
    let mut at = 0u32;
    for (&v, lane) in values.iter().zip(lanes) {
        let bits = (v as u64) & low_mask(lane.width);
        let (limb, shift) = ((at / 64) as usize, at % 64);
        bus[limb] |= bits << shift;
        if shift != 0 && shift + lane.width > 64 {
            bus[limb + 1] |= bits >> (64 - shift);
        }
        at += lane.width;
    }
}

/// Reads lane `i` of the bus as a signed (sign-extended) or unsigned integer.
pub fn unpack_lanes(bus: &[u64], lanes: &[Lane]) -> Vec<i64> {
    let mut out = Vec::with_capacity(lanes.len());
    unpack_lanes_into(bus, lanes, &mut out);
    out
}

/// [`unpack_lanes`], appending the lane values to `out`.
pub fn unpack_lanes_into(bus: &[u64], lanes: &[Lane], out: &mut Vec<i64>) {
    let mut at = 0u32;
    out.extend(lanes.iter().map(|lane| {
        let (limb, shift) = ((at / 64) as usize, at % 64);
        let mut bits = bus.get(limb).copied().unwrap_or(0) >> shift;
        if shift != 0 && shift + lane.width > 64 {
            bits |= bus.get(limb + 1).copied().unwrap_or(0) << (64 - shift);
        }
        at += lane.width;
        let w = lane.width;
        bits &= low_mask(w);
        if lane.signed && w < 64 && (bits >> (w - 1)) & 1 == 1 {
            (bits | !low_mask(w)) as i64
        } else {
            bits as i64
        }
    }));
}

/// The bus as one hexadecimal number, most significant digit first, exactly
/// `ceil(width / 4)` digits (the format of the co-simulation protocol and `$readmemh`).
pub fn bus_to_hex(bus: &[u64], width: u32) -> String {
    let digits = (width as usize).div_ceil(4).max(1);
    let mut s = String::with_capacity(bus.len() * 16);
    for limb in bus.iter().rev() {
        s.push_str(&format!("{limb:016x}"));
    }
    let pad = digits.saturating_sub(s.len());
    let mut out = "0".repeat(pad);
    out.push_str(&s[s.len().saturating_sub(digits)..]);
    out
}

/// Parses a hexadecimal number (most significant digit first) into limbs of a bus of
/// `width` bits. `None` on a non-hex character or a value wider than `width`.
pub fn hex_to_bus(hex: &str, width: u32) -> Option<Vec<u64>> {
    let mut bus = vec![0u64; limbs_for(width)];
    for (j, c) in hex.bytes().rev().enumerate() {
        let d = (c as char).to_digit(16)? as u64;
        let bit = 4 * j as u32;
        if d != 0 {
            if bit >= width || (width - bit < 4 && d >> (width - bit) != 0) {
                return None;
            }
            bus[(bit / 64) as usize] |= d << (bit % 64);
        }
    }
    Some(bus)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lane(width: u32, signed: bool) -> Lane {
        Lane { width, signed }
    }

    #[test]
    fn pack_places_lane_zero_at_lsb() {
        let lanes = [lane(4, false), lane(4, true), lane(8, false)];
        let bus = pack_lanes(&[0x3, -1, 0xab], &lanes);
        assert_eq!(bus, vec![0xabf3]);
        assert_eq!(unpack_lanes(&bus, &lanes), vec![3, -1, 0xab]);
    }

    #[test]
    fn lanes_straddle_limbs() {
        // 7 lanes of 10 bits = 70 bits: lane 6 straddles limbs 0 and 1
        let lanes = vec![lane(10, true); 7];
        let values = [-512, 511, -1, 0, 1, 300, -300];
        let bus = pack_lanes(&values, &lanes);
        assert_eq!(bus.len(), 2);
        assert_eq!(unpack_lanes(&bus, &lanes), values);
        // lane 6 = -300 = 0x2d4 (10 bits) at bit 60: low 4 bits in limb 0, rest in limb 1
        assert_eq!(bus[0] >> 60, 0x4);
        assert_eq!(bus[1], 0x2d);
    }

    #[test]
    fn full_width_lanes() {
        let lanes = [
            lane(64, true),
            lane(64, false),
            lane(1, true),
            lane(1, false),
        ];
        let values = [i64::MIN, -1, -1, 1];
        let bus = pack_lanes(&values, &lanes);
        assert_eq!(bus, vec![1u64 << 63, u64::MAX, 0b11]);
        // a 64-bit unsigned lane holding u64::MAX reads back as the same bits
        assert_eq!(unpack_lanes(&bus, &lanes), vec![i64::MIN, -1, -1, 1]);
    }

    #[test]
    fn round_trip_random_layouts() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        for _ in 0..500 {
            let n = rng.random_range(1..20);
            let lanes: Vec<Lane> = (0..n)
                .map(|_| lane(rng.random_range(1..=64), rng.random()))
                .collect();
            let values: Vec<i64> = lanes
                .iter()
                .map(|l| {
                    let w = l.width;
                    if l.signed {
                        let lo = if w == 64 {
                            i64::MIN
                        } else {
                            -(1i64 << (w - 1))
                        };
                        let hi = if w == 64 {
                            i64::MAX
                        } else {
                            (1i64 << (w - 1)) - 1
                        };
                        rng.random_range(lo..=hi)
                    } else if w >= 63 {
                        rng.random_range(0..=i64::MAX)
                    } else {
                        rng.random_range(0..(1i64 << w))
                    }
                })
                .collect();
            for (&v, &l) in values.iter().zip(&lanes) {
                assert!(fits(v, l));
            }
            let bus = pack_lanes(&values, &lanes);
            assert_eq!(unpack_lanes(&bus, &lanes), values);
            let width: u32 = lanes.iter().map(|l| l.width).sum();
            let hex = bus_to_hex(&bus, width);
            assert_eq!(hex.len(), width.div_ceil(4) as usize);
            assert_eq!(hex_to_bus(&hex, width), Some(bus));
        }
    }

    #[test]
    fn hex_format() {
        assert_eq!(bus_to_hex(&[0x1f3], 10), "1f3");
        assert_eq!(bus_to_hex(&[0x5, 0x1], 65), "10000000000000005");
        assert_eq!(hex_to_bus("10000000000000005", 65), Some(vec![5, 1]));
        assert_eq!(hex_to_bus("7ff", 10), None); // bit 10 set
        assert_eq!(hex_to_bus("3ff", 10), Some(vec![0x3ff]));
        assert_eq!(hex_to_bus("3g", 10), None);
    }

    #[test]
    fn fits_checks_ranges() {
        assert!(fits(-8, lane(4, true)) && !fits(-9, lane(4, true)));
        assert!(fits(7, lane(4, true)) && !fits(8, lane(4, true)));
        assert!(fits(15, lane(4, false)) && !fits(16, lane(4, false)));
        assert!(!fits(-1, lane(4, false)));
        assert!(fits(i64::MAX, lane(63, false)) && fits(i64::MIN, lane(64, true)));
    }
}
