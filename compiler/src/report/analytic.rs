//! The analytic (instant) estimate: an operation inventory of the emitted Verilog
//! ([`super::structure`]) and cost models that turn it into Xilinx-7-series-like
//! LUT/FF/CARRY4/DSP counts and generic gate counts, transistors and gate equivalents.
//!
//! # Model
//!
//! Every adder tree (`a + b - c * 6 + ...`, as synthesis merges it) is reduced at the bit
//! level: each summand contributes its non-constant bits to columns (a constant product
//! `x * c` contributes one shifted copy of `x` per set bit of `c` in the generic flow, and
//! one DSP product in the FPGA flow); columns with more than two bits are compressed by
//! full adders (each removes one bit), the last two rows are added by a carry chain
//! (full adders where both rows and a carry meet, half adders elsewhere). So the costs
//! follow the exact widths, shifts and sign extensions the backend emitted, whatever
//! adder structure it chose. Comparators, multiplexers, gates and flip-flops (after the
//! clean-ups of [`super::structure`]) are counted by bits.
//!
//! The cost of each element (gates, transistors, LUTs per full adder, ...) was measured
//! with yosys 0.23 (`synth`, `stat -tech cmos`; `synth_xilinx -flatten`) on small
//! designs and on the bundled models' layers; the figures are the constants below.
//! `compiler/tests/report_analytic.rs` checks the totals stay within 25% of yosys on the
//! bundled models.

use super::structure::{Bit, DesignStructure, FlipFlop, Logic, LogicKind, Summand};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap, HashSet};

/// Operation inventory of a module or layer (hierarchy expanded).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Inventory {
    /// Adder trees (one per multi-operand sum).
    pub adders: u64,
    /// Sum of the adder trees' output widths (bits).
    pub adder_bits: u64,
    /// `width -> count` of adder trees, widest first in the report.
    pub adder_widths: BTreeMap<u32, u64>,
    /// Full adders that compress more than two rows (generic flow).
    pub compressor_full_adders: u64,
    /// Carry-chain bits of the final two-row additions.
    pub carry_chain_bits: u64,
    /// Constant products `x * c` with `c` not a power of two, before merging identical ones.
    pub constant_multiplications: u64,
    /// Distinct constant products (what synthesis builds).
    pub distinct_constant_multiplications: u64,
    /// Products of two non-constant values (multipliers).
    pub multipliers: u64,
    /// Bits of comparators (`<`, `>`, `==`, ...).
    pub comparator_bits: u64,
    /// Multiplexer bits choosing between two non-constant values.
    pub mux_bits: u64,
    /// Two-input gates (AND/OR/XOR of non-constant bits, reductions, constant-arm muxes).
    pub gates: u64,
    pub inverters: u64,
    /// Flip-flops (after removing constant, unread and duplicate ones).
    pub register_bits: u64,
    /// Flip-flops with a write enable: configuration / weight storage.
    pub config_register_bits: u64,
    /// Flip-flops with a reset.
    pub reset_register_bits: u64,
}

/// Estimated resources.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Resources {
    /// Xilinx 7-series-like (yosys `synth_xilinx`): LUTs (LUT1-6, SRLs).
    pub luts: u64,
    /// Flip-flops (FDRE/FDSE/...).
    pub ffs: u64,
    pub carry4: u64,
    pub dsps: u64,
    /// Generic gates and flip-flops (yosys `synth` internal cells).
    pub generic_cells: u64,
    /// CMOS transistors (yosys `stat -tech cmos` cell weights).
    pub transistors: u64,
    /// Gate equivalents: transistors / 4 (a 2-input NAND).
    pub gate_equivalents: u64,
}

/// Costs in f64 while accumulating (rounded once at the end: deterministic).
#[derive(Debug, Clone, Copy, Default)]
struct Cost {
    luts: f64,
    ffs: f64,
    carry4: f64,
    dsps: f64,
    cells: f64,
    transistors: f64,
}

impl std::ops::AddAssign for Cost {
    fn add_assign(&mut self, o: Cost) {
        self.luts += o.luts;
        self.ffs += o.ffs;
        self.carry4 += o.carry4;
        self.dsps += o.dsps;
        self.cells += o.cells;
        self.transistors += o.transistors;
    }
}

impl std::ops::Mul<f64> for Cost {
    type Output = Cost;
    fn mul(self, k: f64) -> Cost {
        Cost {
            luts: self.luts * k,
            ffs: self.ffs * k,
            carry4: self.carry4 * k,
            dsps: self.dsps * k,
            cells: self.cells * k,
            transistors: self.transistors * k,
        }
    }
}

impl Cost {
    fn resources(self) -> Resources {
        let r = |x: f64| x.max(0.0).round() as u64;
        Resources {
            luts: r(self.luts),
            ffs: r(self.ffs),
            carry4: r(self.carry4),
            dsps: r(self.dsps),
            generic_cells: r(self.cells),
            transistors: r(self.transistors),
            gate_equivalents: r(self.transistors / 4.0),
        }
    }
}

/// Measured cost of each element (see the module documentation).
mod coeff {
    // generic flow (yosys synth + abc): cells and transistors
    pub const CELLS_PER_COMPRESSOR_FA: f64 = 4.6;
    pub const TRANSISTORS_PER_COMPRESSOR_FA: f64 = 38.0;
    pub const CELLS_PER_CARRY_FA: f64 = 6.1;
    pub const TRANSISTORS_PER_CARRY_FA: f64 = 45.7;
    pub const CELLS_PER_CARRY_HA: f64 = 2.0;
    pub const TRANSISTORS_PER_CARRY_HA: f64 = 18.0;
    pub const CELLS_PER_COMPARE_BIT: f64 = 1.0;
    pub const TRANSISTORS_PER_COMPARE_BIT: f64 = 6.0;
    pub const CELLS_PER_MUX_BIT: f64 = 1.0;
    pub const TRANSISTORS_PER_MUX_BIT: f64 = 12.0;
    pub const TRANSISTORS_PER_GATE: f64 = 6.0;
    pub const TRANSISTORS_PER_XOR: f64 = 12.0;
    pub const TRANSISTORS_PER_INVERTER: f64 = 2.0;
    /// `$_DFF_P_` in yosys' cmos table.
    pub const TRANSISTORS_PER_FF: f64 = 16.0;
    /// A flip-flop with a reset or enable: the flip-flop plus a 2-input gate.
    pub const TRANSISTORS_PER_FF_WITH_CONTROL: f64 = 22.0;
    /// Variable multiplier: per partial-product bit (an AND and a full adder).
    pub const CELLS_PER_PRODUCT_BIT: f64 = 5.5;
    pub const TRANSISTORS_PER_PRODUCT_BIT: f64 = 44.0;

    // Xilinx 7 (yosys synth_xilinx)
    pub const LUTS_PER_COMPRESSOR_FA: f64 = 1.5;
    pub const LUTS_PER_CARRY_BIT: f64 = 1.0;
    pub const LUTS_PER_COMPARE_BIT: f64 = 0.5;
    pub const LUTS_PER_MUX_BIT: f64 = 1.0;
    /// DSP48E1 operand widths (A: 25, B: 18 signed).
    pub const DSP_A_WIDTH: u32 = 25;
    pub const DSP_B_WIDTH: u32 = 18;
}

/// The bits of an adder tree by column (least significant first).
struct Columns {
    bits: Vec<Vec<Bit>>,
    /// A constant one somewhere in the column.
    constant: Vec<bool>,
}

/// The adder cells of one tree.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct AdderCost {
    /// Full adders compressing columns of more than two bits.
    compress: u64,
    /// Final two-row addition: full-adder bits (two rows and a carry) and half-adder
    /// bits (two inputs).
    carry_fa: u64,
    carry_ha: u64,
    /// Final-addition bits where both rows are non-constant (a LUT each on Xilinx; a
    /// row plus a carry, as in an incrementer, needs none).
    two_row_bits: u64,
    /// Length of the carry chain (from its first generating bit to the top).
    chain_bits: u64,
}

impl Columns {
    fn new(w: usize) -> Columns {
        Columns {
            bits: vec![Vec::new(); w],
            constant: vec![false; w],
        }
    }

    /// Adds one row (bit `i` goes to column `i + shift`; bits beyond the width drop).
    fn add_row(&mut self, row: &[Bit], shift: usize) {
        for (i, &b) in row.iter().enumerate() {
            let j = i + shift;
            if j >= self.bits.len() {
                break;
            }
            match b {
                Bit::Net(_) => self.bits[j].push(b),
                Bit::One => self.constant[j] = true,
                Bit::Zero => {}
            }
        }
    }

    /// The same bit twice in a column is that bit once in the next column (`x + x =
    /// 2x`): no logic. Synthesis finds these (sign extensions of one operand in several
    /// shifted rows of a product); counting them as adder inputs would overestimate.
    fn fold_duplicates(&mut self) {
        let w = self.bits.len();
        for j in 0..w {
            loop {
                self.bits[j].sort_unstable();
                let dup = self.bits[j].windows(2).position(|p| p[0] == p[1]);
                let Some(k) = dup else { break };
                let b = self.bits[j][k];
                self.bits[j].drain(k..k + 2);
                if j + 1 < w {
                    self.bits[j + 1].push(b);
                }
            }
        }
    }

    fn cost(mut self) -> AdderCost {
        self.fold_duplicates();
        let w = self.bits.len();
        let mut c = AdderCost::default();
        // a third bit in the lowest column is the carry chain's carry in (`a + b + c0`,
        // as yosys maps it: the `$alu`'s CI), not a compressor
        let first = self.bits.iter().position(|col| !col.is_empty());
        let carry_in_col = first.filter(|&j| self.bits[j].len() == 3 && !self.constant[j]);
        let mut carry = 0u32;
        let rows: Vec<u32> = self
            .bits
            .iter()
            .enumerate()
            .map(|(j, column)| {
                if Some(j) == carry_in_col {
                    return 2;
                }
                let n = column.len() as u32 + carry;
                let fa = if n > 2 { (n - 1) / 2 } else { 0 };
                c.compress += fa as u64;
                carry = fa;
                n - 2 * fa
            })
            .collect();
        let mut carry_in = false;
        let mut chain_start: Option<usize> = None;
        for (j, &row) in rows.iter().enumerate() {
            if Some(j) == carry_in_col {
                carry_in = true;
            }
            let k = self.constant[j] && (row > 0 || carry_in);
            let inputs = row + u32::from(carry_in) + u32::from(k);
            if row == 2 {
                c.two_row_bits += 1;
            }
            match inputs {
                0 | 1 => carry_in = false,
                2 => {
                    c.carry_ha += 1;
                    carry_in = true;
                }
                _ => {
                    c.carry_fa += 1;
                    carry_in = true;
                }
            }
            if carry_in && chain_start.is_none() {
                chain_start = Some(j);
            }
        }
        c.chain_bits = chain_start.map_or(0, |s| (w - s) as u64);
        c
    }
}

#[cfg(test)]
fn column_cost(heights: &[u32], constants: &[bool]) -> (u64, u64, u64) {
    let mut cols = Columns::new(heights.len());
    let mut id = 0;
    for (j, &h) in heights.iter().enumerate() {
        for _ in 0..h {
            id += 1;
            cols.bits[j].push(Bit::Net(id));
        }
    }
    cols.constant = constants.to_vec();
    let c = cols.cost();
    (c.compress, c.carry_fa, c.carry_ha)
}

fn nonconst(b: &Bit) -> bool {
    matches!(b, Bit::Net(_))
}

/// Target flow a sum is costed for.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Flow {
    Generic,
    Xilinx,
}

/// Key of a constant product, for merging identical ones.
type ProductKey = (Vec<Bit>, u128, u32);

fn product_key(operand: &[Bit], constant: u128, w: u32) -> ProductKey {
    (operand.to_vec(), constant, w)
}

/// Constant products of the whole design: how often each distinct one is used.
fn product_uses(logic: &[Logic]) -> HashMap<ProductKey, u32> {
    let mut uses: HashMap<ProductKey, u32> = HashMap::new();
    for l in logic {
        if let LogicKind::Sum { summands } = &l.kind {
            for s in summands {
                if let Summand::ConstProduct { operand, constant } = s {
                    if !constant.is_power_of_two() {
                        *uses
                            .entry(product_key(operand, *constant, l.outputs.len() as u32))
                            .or_default() += 1;
                    }
                }
            }
        }
    }
    uses
}

/// Xilinx LUTs of 2-input gates and multiplexers: those whose outputs only feed other
/// gates or multiplexers merge into the LUT of the one they feed (ABC maps a cone into
/// one 6-input LUT, and a wider cone into a tree of LUTs, 5 more inputs per LUT); each
/// remaining (root) output is a LUT over its cone's inputs, unless the one adder that
/// reads it takes a small cone into its own LUT (see below). Multiplexers between a
/// value and a constant that feed only flip-flops become the flip-flops' set/reset
/// (FDSE/FDRE): no LUT.
fn xilinx_gate_luts(d: &DesignStructure) -> Vec<f64> {
    let n = d.logic.len();
    let mut driver: HashMap<u32, usize> = HashMap::new();
    for (i, l) in d.logic.iter().enumerate() {
        for &o in &l.outputs {
            driver.insert(o, i);
        }
    }
    let is_gate = |l: &Logic| {
        matches!(
            l.kind,
            LogicKind::Gates { .. } | LogicKind::Inverters { .. } | LogicKind::Mux { .. }
        )
    };
    // what reads each item's outputs: gates only, flip-flops only, or anything else
    let mut read_by_gate = vec![false; n];
    let mut read_by_other = vec![false; n];
    let mut read_by_ff = vec![false; n];
    // how many logic items read each item's outputs, and the last one
    let mut readers = vec![0u32; n];
    let mut last_reader = vec![usize::MAX; n];
    for (r, l) in d.logic.iter().enumerate() {
        let mut reads: Vec<Bit> = l.inputs.clone();
        if let LogicKind::Sum { summands } = &l.kind {
            for s in summands {
                match s {
                    Summand::Bits(b) => reads.extend(b.iter().copied()),
                    Summand::ConstProduct { operand, .. } => reads.extend(operand.iter().copied()),
                }
            }
        }
        let mut read_here: HashSet<usize> = HashSet::new();
        for b in reads {
            if let Bit::Net(k) = b {
                if let Some(&i) = driver.get(&k) {
                    if is_gate(l) {
                        read_by_gate[i] = true;
                    } else {
                        read_by_other[i] = true;
                    }
                    read_here.insert(i);
                }
            }
        }
        for i in read_here {
            readers[i] += 1;
            last_reader[i] = r;
        }
    }
    for f in &d.flip_flops {
        for b in std::iter::once(f.d).chain(f.control.iter().copied()) {
            if let Bit::Net(k) = b {
                if let Some(&i) = driver.get(&k) {
                    read_by_ff[i] = true;
                }
            }
        }
    }
    let mut luts = vec![0.0; n];
    let mut small_cone = vec![false; n];
    for (i, l) in d.logic.iter().enumerate() {
        let root = read_by_other[i] || read_by_ff[i] || !read_by_gate[i];
        match &l.kind {
            // a multiplexer between a value and a constant that only flip-flops read is
            // their set/reset
            LogicKind::Mux { both: 0, .. }
                if read_by_ff[i] && !read_by_other[i] && !read_by_gate[i] => {}
            LogicKind::Gates { .. } | LogicKind::Inverters { .. } | LogicKind::Mux { .. }
                if root =>
            {
                // the cone's distinct non-gate inputs
                let mut leaves: HashSet<Bit> = HashSet::new();
                let mut stack: Vec<Bit> = l.inputs.clone();
                let mut seen = HashSet::new();
                while let Some(b) = stack.pop() {
                    let Bit::Net(k) = b else { continue };
                    match driver.get(&k) {
                        Some(&j)
                            if is_gate(&d.logic[j]) && !(read_by_other[j] || read_by_ff[j]) =>
                        {
                            if seen.insert(j) {
                                stack.extend(d.logic[j].inputs.iter().copied());
                            }
                        }
                        _ => {
                            leaves.insert(b);
                        }
                    }
                }
                let outputs = l.outputs.len() as f64;
                let per_output = (leaves.len() as f64 / outputs).max(1.0);
                luts[i] = outputs * ((per_output - 1.0) / 5.0).ceil().max(1.0);
                small_cone[i] = per_output <= 5.0;
            }
            _ => {}
        }
    }
    // A carry-chain adder bit is a LUT over its two operand bits: when one operand
    // row is the output of a cone of at most five inputs that only this adder reads,
    // ABC maps the cone into that LUT (the other operand, the carry chain's DI input,
    // has to be a signal of its own). One such row per adder.
    for (s, l) in d.logic.iter().enumerate() {
        let LogicKind::Sum { summands } = &l.kind else {
            continue;
        };
        let rows = summands
            .iter()
            .filter(
                |x| matches!(x, Summand::Bits(b) if b.iter().filter(|b| nonconst(b)).count() > 1),
            )
            .count();
        if rows != 2 {
            continue;
        }
        let mut best: Option<usize> = None;
        for x in summands {
            let Summand::Bits(bits) = x else { continue };
            let drivers: HashSet<usize> = bits
                .iter()
                .filter_map(|b| match b {
                    Bit::Net(k) => driver.get(k).copied(),
                    _ => None,
                })
                .collect();
            let undriven = bits
                .iter()
                .any(|b| matches!(b, Bit::Net(k) if !driver.contains_key(k)));
            if drivers.len() != 1 || undriven {
                continue;
            }
            let j = *drivers.iter().next().unwrap();
            let alone = readers[j] == 1 && last_reader[j] == s && !read_by_ff[j];
            if alone && small_cone[j] && best.is_none_or(|b| luts[j] > luts[b]) {
                best = Some(j);
            }
        }
        if let Some(j) = best {
            luts[j] = 0.0;
        }
    }
    luts
}

/// The cost of a set of logic items (with their indices) and flip-flops. Products used
/// more than once are built once (synthesis merges identical ones): their cost goes to
/// the first group that uses them (`built` remembers which are paid for).
fn group_cost(
    logic: &[(usize, &Logic)],
    ffs: &[&FlipFlop],
    uses: &HashMap<ProductKey, u32>,
    built: &mut HashSet<ProductKey>,
    gate_luts: &[f64],
) -> (Cost, Inventory) {
    use coeff::*;
    let mut inv = Inventory::default();
    let mut cost = Cost::default();
    let add_generic = |cost: &mut Cost, a: &AdderCost| {
        cost.cells += a.compress as f64 * CELLS_PER_COMPRESSOR_FA
            + a.carry_fa as f64 * CELLS_PER_CARRY_FA
            + a.carry_ha as f64 * CELLS_PER_CARRY_HA;
        cost.transistors += a.compress as f64 * TRANSISTORS_PER_COMPRESSOR_FA
            + a.carry_fa as f64 * TRANSISTORS_PER_CARRY_FA
            + a.carry_ha as f64 * TRANSISTORS_PER_CARRY_HA;
    };
    for &(index, l) in logic {
        match &l.kind {
            LogicKind::Sum { summands } => {
                let w = l.live_width as usize;
                if w == 0 {
                    continue;
                }
                inv.adders += 1;
                inv.adder_bits += w as u64;
                *inv.adder_widths.entry(w as u32).or_default() += 1;
                let full_w = l.outputs.len() as u32;
                // products built here for the first time
                for s in summands {
                    let Summand::ConstProduct { operand, constant } = s else {
                        continue;
                    };
                    if constant.is_power_of_two() {
                        continue;
                    }
                    inv.constant_multiplications += 1;
                    let key = product_key(operand, *constant, full_w);
                    if !built.insert(key.clone()) {
                        continue;
                    }
                    inv.distinct_constant_multiplications += 1;
                    let used = operand.iter().filter(|b| nonconst(b)).count() as u32;
                    let cbits = 128 - constant.leading_zeros();
                    if used <= DSP_A_WIDTH && cbits < DSP_B_WIDTH {
                        cost.dsps += 1.0;
                    }
                    if uses.get(&key).copied().unwrap_or(0) > 1 {
                        // a shared product: its own adder tree (generic flow)
                        let mut cols = Columns::new(full_w as usize);
                        for k in 0..128 {
                            if constant >> k & 1 == 1 {
                                cols.add_row(operand, k);
                            }
                        }
                        add_generic(&mut cost, &cols.cost());
                    }
                }
                for flow in [Flow::Generic, Flow::Xilinx] {
                    let mut cols = Columns::new(w);
                    let mut dsp_rows = 0u32;
                    for s in summands {
                        match s {
                            Summand::Bits(bits) => cols.add_row(bits, 0),
                            Summand::ConstProduct { operand, constant } => {
                                let key = product_key(operand, *constant, full_w);
                                let shared = uses.get(&key).copied().unwrap_or(0) > 1;
                                if constant.is_power_of_two() {
                                    cols.add_row(operand, constant.trailing_zeros() as usize);
                                } else if flow == Flow::Xilinx || shared {
                                    // one row: the product (from its lowest possible bit),
                                    // a signal of its own
                                    dsp_rows += 1;
                                    let tz = constant.trailing_zeros() as usize;
                                    let id = Bit::Net(u32::MAX - dsp_rows);
                                    let row: Vec<Bit> = (0..w)
                                        .map(|j| if j >= tz { id } else { Bit::Zero })
                                        .collect();
                                    cols.add_row(&row, 0);
                                } else {
                                    for k in 0..128 {
                                        if constant >> k & 1 == 1 {
                                            cols.add_row(operand, k);
                                        }
                                    }
                                }
                            }
                        }
                    }
                    let a = cols.cost();
                    match flow {
                        Flow::Generic => {
                            inv.compressor_full_adders += a.compress;
                            inv.carry_chain_bits += a.carry_fa + a.carry_ha;
                            add_generic(&mut cost, &a);
                        }
                        Flow::Xilinx => {
                            cost.luts += a.compress as f64 * LUTS_PER_COMPRESSOR_FA
                                + a.two_row_bits as f64 * LUTS_PER_CARRY_BIT;
                            cost.carry4 += (a.chain_bits as f64 / 4.0).ceil();
                        }
                    }
                }
            }
            LogicKind::VarProduct { a_width, b_width } => {
                inv.multipliers += 1;
                let bits = (*a_width as f64) * (*b_width as f64);
                cost.cells += bits * CELLS_PER_PRODUCT_BIT;
                cost.transistors += bits * TRANSISTORS_PER_PRODUCT_BIT;
                cost.dsps += ((*a_width as f64 / DSP_A_WIDTH as f64).ceil()
                    * (*b_width as f64 / DSP_B_WIDTH as f64).ceil())
                .max(1.0);
            }
            LogicKind::Compare { width, .. } => {
                inv.comparator_bits += *width as u64;
                cost.cells += *width as f64 * CELLS_PER_COMPARE_BIT;
                cost.transistors += *width as f64 * TRANSISTORS_PER_COMPARE_BIT;
                cost.luts += (*width as f64 * LUTS_PER_COMPARE_BIT).ceil();
            }
            LogicKind::Mux { both, one } => {
                inv.mux_bits += *both as u64;
                inv.gates += *one as u64;
                cost.cells += *both as f64 * CELLS_PER_MUX_BIT + *one as f64;
                cost.transistors +=
                    *both as f64 * TRANSISTORS_PER_MUX_BIT + *one as f64 * TRANSISTORS_PER_GATE;
                cost.luts += gate_luts[index];
            }
            LogicKind::Gates { count, xor } => {
                inv.gates += *count as u64;
                cost.cells += *count as f64;
                cost.transistors += *count as f64
                    * if *xor {
                        TRANSISTORS_PER_XOR
                    } else {
                        TRANSISTORS_PER_GATE
                    };
                cost.luts += gate_luts[index];
            }
            LogicKind::Inverters { count } => {
                inv.inverters += *count as u64;
                cost.transistors += *count as f64 * TRANSISTORS_PER_INVERTER;
                cost.luts += gate_luts[index];
            }
            LogicKind::Shifter { width, stages } => {
                let bits = (*width as f64) * (*stages as f64);
                inv.mux_bits += bits as u64;
                cost.cells += bits * CELLS_PER_MUX_BIT;
                cost.transistors += bits * TRANSISTORS_PER_MUX_BIT;
                cost.luts += bits * LUTS_PER_MUX_BIT / 2.0;
            }
        }
    }
    for f in ffs {
        inv.register_bits += 1;
        if f.enable {
            inv.config_register_bits += 1;
        }
        if f.reset {
            inv.reset_register_bits += 1;
        }
        cost.ffs += 1.0;
        cost.cells += 1.0;
        cost.transistors += if f.enable || f.reset {
            TRANSISTORS_PER_FF_WITH_CONTROL
        } else {
            TRANSISTORS_PER_FF
        };
    }
    (cost, inv)
}

impl Inventory {
    fn add_scaled(&mut self, o: &Inventory, k: u64) {
        self.adders += o.adders * k;
        self.adder_bits += o.adder_bits * k;
        for (w, n) in &o.adder_widths {
            *self.adder_widths.entry(*w).or_default() += n * k;
        }
        self.compressor_full_adders += o.compressor_full_adders * k;
        self.carry_chain_bits += o.carry_chain_bits * k;
        self.constant_multiplications += o.constant_multiplications * k;
        self.distinct_constant_multiplications += o.distinct_constant_multiplications * k;
        self.multipliers += o.multipliers * k;
        self.comparator_bits += o.comparator_bits * k;
        self.mux_bits += o.mux_bits * k;
        self.gates += o.gates * k;
        self.inverters += o.inverters * k;
        self.register_bits += o.register_bits * k;
        self.config_register_bits += o.config_register_bits * k;
        self.reset_register_bits += o.reset_register_bits * k;
    }
}

/// The analytic estimate of a layer (a top-level instance), of the top module's own
/// logic, or of the whole design.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Estimate {
    pub inventory: Inventory,
    pub resources: Resources,
}

/// Estimates of a design: total, per top-level instance, and the top's own logic.
#[derive(Debug, Clone, PartialEq)]
pub struct DesignEstimate {
    pub total: Estimate,
    /// Instance name -> estimate.
    pub by_instance: BTreeMap<String, Estimate>,
    pub top_level: Estimate,
}

/// Estimates a flattened design.
pub fn estimate(d: &DesignStructure) -> DesignEstimate {
    let uses = product_uses(&d.logic);
    let mut built = HashSet::new();
    let groups = d.owners.len() + 1;
    let mut logic: Vec<Vec<(usize, &Logic)>> = vec![Vec::new(); groups];
    let mut ffs: Vec<Vec<&FlipFlop>> = vec![Vec::new(); groups];
    let slot = |o: Option<u32>| o.map_or(0, |k| k as usize + 1);
    for (i, l) in d.logic.iter().enumerate() {
        logic[slot(l.owner)].push((i, l));
    }
    for f in &d.flip_flops {
        ffs[slot(f.owner)].push(f);
    }
    let gate_luts = xilinx_gate_luts(d);
    let mut total_cost = Cost::default();
    let mut total_inv = Inventory::default();
    let mut by_instance = BTreeMap::new();
    let mut top_level = None;
    for g in 0..groups {
        let (c, i) = group_cost(&logic[g], &ffs[g], &uses, &mut built, &gate_luts);
        total_cost += c;
        total_inv.add_scaled(&i, 1);
        let e = Estimate {
            inventory: i,
            resources: c.resources(),
        };
        if g == 0 {
            top_level = Some(e);
        } else {
            by_instance.insert(d.owners[g - 1].0.clone(), e);
        }
    }
    DesignEstimate {
        total: Estimate {
            inventory: total_inv,
            resources: total_cost.resources(),
        },
        by_instance,
        top_level: top_level.unwrap(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_of_simple_adders() {
        // a + b, 4 bits: one half adder then three full adders
        assert_eq!(column_cost(&[2, 2, 2, 2], &[false; 4]), (0, 3, 1));
        // a + b + c + d: two rows compressed per column, then the carry chain
        let (c, fa, ha) = column_cost(&[4, 4, 4, 4], &[false; 4]);
        assert!(c >= 7 && fa + ha == 4, "{c} {fa} {ha}");
        // x + 1: half adders only
        let mut k = [false; 4];
        k[0] = true;
        assert_eq!(column_cost(&[1, 1, 1, 1], &k), (0, 0, 4));
        // a single row: wiring
        assert_eq!(column_cost(&[1, 1, 1], &[false; 3]), (0, 0, 0));
        // a + b + c0 (c0 one bit at the bottom): the carry in, no compressor
        assert_eq!(column_cost(&[3, 2, 2, 2], &[false; 4]), (0, 4, 0));
        // a third bit higher up is compressed
        let (c, _, _) = column_cost(&[2, 3, 2, 2], &[false; 4]);
        assert!(c >= 1, "{c}");
    }

    fn luts_of(src: &str) -> u64 {
        let ms = super::super::verilog::parse(src).unwrap();
        let d = super::super::structure::analyse_design(&ms, &ms[0].name, &[]).unwrap();
        estimate(&d).total.resources.luts
    }

    /// The model's LUT rules for multiplexed adder operands (as in folded designs): a
    /// 3:1 multiplexer per bit is one cone of five inputs; one operand cone of at most
    /// five inputs goes into the adder's own LUT, the other is a LUT of its own; a
    /// select as the carry in costs nothing. (The rules are calibrated on whole designs:
    /// `tests/report_analytic.rs` holds ECON-T `--reuse 3` to yosys within 25 %; on an
    /// 8-bit toy ABC maps the multiplexers into MUXF7/MUXF8 trees instead.)
    #[test]
    fn multiplexed_adder_operands() {
        let module = |body: &str| {
            format!(
                "module m(input wire s0, input wire s1, input wire [7:0] a, input wire [7:0] b,
                  input wire [7:0] c, input wire [7:0] d, input wire [7:0] e,
                  input wire [7:0] f, output wire [7:0] y);
                  {body}
                endmodule"
            )
        };
        // one 8-bit adder: 8 LUTs
        let plain = luts_of(&module("assign y = a + b;"));
        assert_eq!(plain, 8);
        // its first operand a 3:1 multiplexer: the cone goes into the adder's LUT
        let muxed = luts_of(&module("assign y = (s0 ? a : s1 ? c : e) + b;"));
        assert_eq!(muxed, 8);
        // both operands multiplexed, the second inverted by a select that is also the
        // carry in: one cone of its own (8), the other in the adder's LUT (8)
        let folded = luts_of(&module(
            "assign y = (s0 ? a : s1 ? c : e) + ((s0 ? b : s1 ? d : f) ^ {8{s0}}) + {7'd0, s0};",
        ));
        assert_eq!(folded, 16);
    }
}
