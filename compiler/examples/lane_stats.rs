//! Prints the lane graph statistics of a model for every arithmetic option:
//! `cargo run --release --example lane_stats -- models/econt/model.onnx`.

use aecc::lower::dfg::CellOp;
use aecc::lower::{lower, Arithmetic, HardwareOptions};

fn main() {
    let path = std::env::args()
        .nth(1)
        .expect("usage: lane_stats MODEL.onnx");
    let (graph, _) = aecc::pipeline::lower(std::path::Path::new(&path), None).unwrap();
    for arithmetic in [
        Arithmetic::Multipliers,
        Arithmetic::ShiftAdd,
        Arithmetic::SharedShiftAdd,
    ] {
        let t = std::time::Instant::now();
        let low = lower(
            &graph,
            &HardwareOptions {
                arithmetic,
                ..HardwareOptions::default()
            },
        )
        .unwrap();
        let (mut adders, mut adder_bits, mut muls, mut quant, mut relu) = (0, 0u64, 0, 0, 0);
        for (i, c) in low.dfg.cells.iter().enumerate() {
            let w = aecc::lower::bitwidth::built_width(&low.dfg, &low.need, i) as u64;
            match c.op {
                CellOp::Add { .. } => {
                    adders += 1;
                    adder_bits += w;
                }
                CellOp::Mul { .. } => muls += 1,
                CellOp::Quantize { .. } => quant += 1,
                CellOp::Relu { .. } => relu += 1,
                _ => {}
            }
        }
        println!(
            "{arithmetic:?}: {adders} adders ({adder_bits} bits), {muls} mults, {quant} quantizer lanes, {relu} relus, {} stages, critical {:.2} ns, {:?}",
            low.schedule.stages,
            low.schedule.critical_ns,
            t.elapsed()
        );
        for s in low.stats.iter().filter_map(|s| s.cmvm) {
            println!("   {s:?}");
        }
    }
}
