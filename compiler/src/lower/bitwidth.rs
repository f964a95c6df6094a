//! Backward bit requirements: which low bits of every signal some output can see.
//!
//! Forward, every cell already carries the exact interval of its values (the builder
//! computes it per lane), which bounds its width from above. Backward, a consumer may
//! need fewer bits than the producer holds: a wrapping quantizer keeps only the bits up
//! to its output's top bit, an adder whose result is only needed modulo `2^n` needs
//! only `n` low bits of its operands (minus their shift), and so on up the graph. A
//! signal is then built with `min(tight width, needed bits)` bits and its adders are
//! that much narrower; operands read only the bits that exist (no sign extension of a
//! truncated signal happens, see [`required_bits`]).
//!
//! Saturating quantizers and ReLUs need the sign, so they need every bit; their
//! saturation logic itself reduces the bits above the output range to one overflow
//! flag (in the Verilog emitter).

use super::dfg::{CellOp, Dfg};
use super::quant_lane::QuantForm;
use aecc_ir::Overflow;

/// For every cell, the number of low bits some output depends on (0 for dead cells).
///
/// Soundness: a cell built with `e = min(width, needed)` bits is exact modulo `2^e`.
/// Every consumer of it is built with at most its own needed bits `n`, and reads at
/// most `n - shift <= e` bits of the operand when the operand was truncated, so only
/// bits that exist are read; when the operand was not truncated, its sign extension is
/// the true one.
pub fn required_bits(dfg: &Dfg, output_width: u32) -> Vec<u32> {
    let n = dfg.cells.len();
    let mut need = vec![0u32; n];
    for o in &dfg.outputs {
        let w = dfg.cell(o.sig).width();
        let bits = output_width.saturating_sub(o.shift).min(w).max(1);
        need[o.sig] = need[o.sig].max(bits);
    }
    for id in (0..n).rev() {
        let c = dfg.cell(id);
        let mine = need[id].min(c.width());
        if mine == 0 {
            continue;
        }
        let mut want = |sig: usize, bits: u32| {
            let w = dfg.cell(sig).width();
            need[sig] = need[sig].max(bits.min(w).max(1));
        };
        match &c.op {
            CellOp::Input { .. } | CellOp::Const => {}
            CellOp::Add { a, b } => {
                for t in [a, b] {
                    if mine > t.shift {
                        // a complemented operand is zero-extended from its width
                        let bits = match t.complement {
                            Some(w) => (mine - t.shift).min(w),
                            None => mine - t.shift,
                        };
                        want(t.sig, bits);
                    }
                }
            }
            CellOp::Mul { x, .. } => want(*x, mine),
            CellOp::FlipSign { x, .. } => want(*x, u32::MAX),
            CellOp::Relu { x } => want(*x, u32::MAX),
            CellOp::Quantize { x, shift, lane } => {
                let q = &lane.quantizer;
                let modular = matches!(lane.form, QuantForm::Floor { .. })
                    && q.overflow == Overflow::Wrap
                    && !lane.relu;
                if modular {
                    // the code is kept modulo 2^bits: bits [0, s + bits) of the input
                    let top = lane.dropped_bits() + q.bit_width as i32 - *shift as i32;
                    want(*x, top.max(1) as u32);
                } else {
                    want(*x, u32::MAX);
                }
            }
        }
    }
    need
}

/// Width a cell is built with.
pub fn built_width(dfg: &Dfg, need: &[u32], id: usize) -> u32 {
    let w = dfg.cell(id).width();
    match dfg.cell(id).op {
        CellOp::Input { .. } | CellOp::Const => w,
        _ => w.min(need[id]).max(1),
    }
}
