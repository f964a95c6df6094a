//! The delay model and register placement ("pipelining from a delay model").
//!
//! # Delay model
//!
//! Every adder is a ripple-carry adder: its bit `i` is ready one full-adder delay after
//! its operands' bit `i`, or one carry delay after bit `i - 1`, whichever is later. A
//! signal's arrival is kept as the times of its least and most significant bits
//! (bits in between are interpolated), so a tree of ripple adders costs one
//! full-adder delay per level plus one carry chain, as it does in silicon, instead of
//! a whole carry chain per level. Other cells:
//!
//! | cell | delay |
//! | --- | --- |
//! | adder, `n`-bit carry span | LSB: `+ t_fa`; MSB: `max(operand MSB + t_fa, LSB + n * t_carry)` |
//! | constant multiplier (kept `*`) | `ceil(log2 digits)` adder levels of its width |
//! | ReLU | sign bit + `t_gate` for every bit (the sign fans out) |
//! | quantizer, floor form | MSB + `(2 + log2 width) * t_gate` (overflow flag OR tree, tie NOR, mux) |
//! | quantizer, generic | MSB + `t_fa` + `width * t_carry` (incrementer) + `3 * t_gate` |
//! | register | `t_clk_q` after the edge, needs `t_setup` before the next |
//!
//! The numbers of [`DelayModel::sky130_hd`] were measured with yosys 0.23 (`synth`,
//! `abc -liberty`) and OpenSTA 2.0.17 on `sky130_fd_sc_hd__tt_025C_1v80` (the Liberty
//! file in `../shared/pdk`): registered `n`-bit adders took 1.28, 2.19, 2.96, 4.01 and
//! 5.64 ns for n = 4, 8, 16, 24, 32 (clock-to-Q included), a fit of
//! `0.66 + 0.155 n` ns. `benches/qor.sh` checks the model against OpenSTA on the
//! whole generated designs.
//!
//! # Register placement
//!
//! Cells are visited in topological order; each goes into the earliest pipeline stage
//! where its result is ready `t_setup` before the clock edge, reading operands from
//! earlier stages through registers. This "as soon as possible" placement gives the
//! fewest stages any placement can give under the model, so the latency in cycles is
//! the smallest that meets the clock. A cell whose own delay exceeds the clock period
//! cannot be fixed by registers; it is reported in [`Schedule::violations`].

use super::dfg::{CellOp, Dfg, SigId};
use super::quant_lane::QuantForm;

/// Delays in nanoseconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DelayModel {
    pub t_clk_q: f64,
    pub t_setup: f64,
    /// From an operand bit to the same sum bit (one full adder).
    pub t_fa: f64,
    /// Carry propagation per bit.
    pub t_carry: f64,
    /// One level of simple gates (AND/OR/MUX).
    pub t_gate: f64,
}

impl DelayModel {
    /// SkyWater 130 nm high-density cells, typical corner (see the module docs).
    pub fn sky130_hd() -> DelayModel {
        DelayModel {
            t_clk_q: 0.35,
            t_setup: 0.15,
            t_fa: 0.45,
            t_carry: 0.155,
            t_gate: 0.2,
        }
    }
}

/// When the least and most significant bits of a signal are ready (ns after the edge).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Arrival {
    pub lsb: f64,
    pub msb: f64,
}

impl Arrival {
    fn at(t: f64) -> Arrival {
        Arrival { lsb: t, msb: t }
    }
    fn later(self, other: Arrival) -> Arrival {
        Arrival {
            lsb: self.lsb.max(other.lsb),
            msb: self.msb.max(other.msb),
        }
    }
}

fn log2_ceil(n: u32) -> u32 {
    32 - n.max(1).saturating_sub(1).leading_zeros()
}

impl DelayModel {
    /// Arrival of cell `id`'s result given its operands' arrivals (`operand(sig)`).
    pub fn cell_arrival(
        &self,
        dfg: &Dfg,
        id: SigId,
        operand: impl Fn(SigId) -> Arrival,
    ) -> Arrival {
        let c = dfg.cell(id);
        let w = c.width() as f64;
        match &c.op {
            CellOp::Input { .. } => Arrival::at(self.t_clk_q),
            CellOp::Const => Arrival::at(0.0),
            CellOp::Add { a, b } => {
                let (x, y) = (operand(a.sig), operand(b.sig));
                // the carry chain starts at the lowest bit where both operands have bits
                let span = w - (a.shift.max(b.shift) as f64).min(w - 1.0);
                let ins = x.later(y);
                let lsb = ins.lsb + self.t_fa;
                Arrival {
                    lsb,
                    msb: (ins.msb + self.t_fa).max(lsb + span * self.t_carry),
                }
            }
            CellOp::Mul { x, factor } => {
                let digits = super::csd::csd(*factor as i128).len() as u32;
                let levels = log2_ceil(digits) as f64;
                let x = operand(*x);
                let lsb = x.lsb + levels * self.t_fa;
                Arrival {
                    lsb,
                    msb: (x.msb + levels * self.t_fa).max(lsb + w * self.t_carry),
                }
            }
            CellOp::FlipSign { x, .. } => {
                let x = operand(*x);
                Arrival {
                    lsb: x.lsb,
                    msb: x.msb + self.t_gate,
                }
            }
            CellOp::Relu { x } => Arrival::at(operand(*x).msb + self.t_gate),
            CellOp::Quantize { x, lane, .. } => {
                let xa = operand(*x);
                let xw = dfg.cell(*x).width();
                match lane.form {
                    QuantForm::Floor { .. } => {
                        Arrival::at(xa.msb + (2 + log2_ceil(xw)) as f64 * self.t_gate)
                    }
                    QuantForm::Generic => Arrival::at(
                        xa.msb + self.t_fa + xw as f64 * self.t_carry + 3.0 * self.t_gate,
                    ),
                }
            }
        }
    }

    /// Combinational arrival of every cell from the inputs, ignoring registers.
    pub fn arrivals(&self, dfg: &Dfg) -> Vec<Arrival> {
        let mut arr: Vec<Arrival> = Vec::with_capacity(dfg.cells.len());
        for id in 0..dfg.cells.len() {
            let a = self.cell_arrival(dfg, id, |s| arr[s]);
            arr.push(a);
        }
        arr
    }
}

/// The pipeline stage of every cell.
#[derive(Debug, Clone, PartialEq)]
pub struct Schedule {
    /// Stage of each cell (0 = the stage after the input register). Constants: 0.
    pub stage: Vec<u32>,
    /// Arrival within its stage.
    pub arrival: Vec<Arrival>,
    /// Number of combinational stages; the output register closes the last one.
    pub stages: u32,
    /// The clock period the schedule was made for.
    pub clock_ns: f64,
    /// Longest register-to-register path of the schedule (model), ns.
    pub critical_ns: f64,
    /// Cells slower than the clock on their own.
    pub violations: Vec<SigId>,
}

impl Schedule {
    /// Latency of the whole design in cycles: input register + one per stage.
    pub fn latency(&self) -> u32 {
        1 + self.stages
    }
}

/// Places registers: the earliest stage of every cell under `model` and `clock_ns`.
/// With `clock_ns` infinite (or huge) the whole design is one stage.
pub fn schedule(dfg: &Dfg, model: &DelayModel, clock_ns: f64) -> Schedule {
    let n = dfg.cells.len();
    let budget = clock_ns - model.t_setup;
    let mut stage = vec![0u32; n];
    let mut arrival = vec![Arrival::default(); n];
    let mut violations = Vec::new();
    let registered = Arrival::at(model.t_clk_q);
    // folded layers: the stage their inputs are held in, and arrivals within a phase
    let fold_inputs: Vec<Vec<SigId>> = (0..dfg.folds.len()).map(|f| dfg.fold_inputs(f)).collect();
    let mut hold: Vec<Option<u32>> = vec![None; dfg.folds.len()];
    let mut phase_arrival = vec![Arrival::default(); n];
    let mut fold_critical = 0.0f64;
    for id in 0..n {
        let c = dfg.cell(id);
        if let Some(fs) = c.fold {
            let f = fs.fold;
            let h = *hold[f]
                .get_or_insert_with(|| fold_inputs[f].iter().map(|&x| stage[x]).max().unwrap_or(0));
            let phases = dfg.folds[f].1;
            // operands: held inputs (registered), constants, earlier slots of the phase,
            // through a phase multiplexer
            let mux = model.t_gate * (1 + log2_ceil(phases)) as f64;
            let a = model.cell_arrival(dfg, id, |o| {
                let oc = dfg.cell(o);
                if oc.is_const() {
                    Arrival::at(0.0)
                } else if oc.fold.is_some_and(|s| s.fold == f) {
                    phase_arrival[o]
                } else {
                    registered
                }
            });
            let a = Arrival {
                lsb: a.lsb + mux,
                msb: a.msb + mux,
            };
            if a.msb > budget {
                violations.push(id);
            }
            fold_critical = fold_critical.max(a.msb);
            phase_arrival[id] = a;
            // outside the fold the result is a bank register, complete after the phases
            stage[id] = h + 1 + phases;
            arrival[id] = registered;
            continue;
        }
        let operands: Vec<SigId> = c
            .operands()
            .into_iter()
            .filter(|&o| !dfg.cell(o).is_const())
            .collect();
        let mut s = operands.iter().map(|&o| stage[o]).max().unwrap_or(0);
        let at = |s: u32| {
            model.cell_arrival(dfg, id, |o| {
                if dfg.cell(o).is_const() {
                    Arrival::at(0.0)
                } else if stage[o] == s {
                    arrival[o]
                } else {
                    registered
                }
            })
        };
        let mut a = at(s);
        if c.is_const() {
            a = Arrival::at(0.0);
        } else if a.msb > budget && operands.iter().any(|&o| stage[o] == s) {
            s += 1;
            a = at(s);
        }
        if a.msb > budget && !c.is_const() {
            violations.push(id);
        }
        stage[id] = s;
        arrival[id] = a;
    }
    let stages = dfg
        .outputs
        .iter()
        .filter(|o| !dfg.cell(o.sig).is_const())
        .map(|o| stage[o.sig] + 1)
        .max()
        .unwrap_or(1);
    let critical_ns = arrival.iter().map(|a| a.msb).fold(fold_critical, f64::max) + model.t_setup;
    Schedule {
        stage,
        arrival,
        stages,
        clock_ns,
        critical_ns,
        violations,
    }
}
