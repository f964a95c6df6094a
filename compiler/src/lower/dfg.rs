//! The lane-level dataflow graph: the IR lowered to one signal per tensor element and
//! one cell per two-input adder, constant multiplication, ReLU or quantizer lane.
//!
//! Every signal holds an integer `v` in an exact interval. A cell computes integers
//! only; where the real value matters (a quantizer's rounding point, the output port's
//! grid) the reader says which power of two `v` is counted in. Cells are stored in
//! topological order (operands before users), so a single forward sweep evaluates,
//! sizes or times the whole design.

use super::quant_lane::QuantLane;
use aecc_ir::fixed::bits_for_interval;
use aecc_ir::Interval;

/// Index of a cell (and of the signal it drives).
pub type SigId = usize;

/// One operand of an adder: `±(v_sig << shift)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Term {
    pub sig: SigId,
    pub shift: u32,
    pub neg: bool,
}

impl Term {
    pub fn plus(sig: SigId, shift: u32) -> Term {
        Term {
            sig,
            shift,
            neg: false,
        }
    }
}

/// What a cell computes.
#[derive(Debug, Clone, PartialEq)]
pub enum CellOp {
    /// Lane `lane` of the (registered) design input.
    Input { lane: usize },
    /// A constant: `interval.lo == interval.hi`.
    Const,
    /// `a + b` with each operand shifted and possibly negated.
    Add { a: Term, b: Term },
    /// `v_x * factor` (only when multipliers are kept).
    Mul { x: SigId, factor: i64 },
    /// `max(v_x, 0)`.
    Relu { x: SigId },
    /// One lane of a quantizer on the input `v_x << shift` (counted in units of
    /// `2^lane.in_lsb`).
    Quantize {
        x: SigId,
        shift: u32,
        lane: Box<QuantLane>,
    },
}

/// One cell of the lane graph.
#[derive(Debug, Clone, PartialEq)]
pub struct Cell {
    pub op: CellOp,
    /// Every value `v` can take.
    pub interval: Interval,
    /// Index into [`Dfg::layers`]: the IR node this cell implements.
    pub layer: usize,
}

impl Cell {
    /// Bits of the tightest two's complement (or unsigned) type holding the interval.
    pub fn width(&self) -> u32 {
        bits_for_interval(self.interval)
    }
    pub fn signed(&self) -> bool {
        self.interval.lo < 0
    }
    pub fn is_const(&self) -> bool {
        self.interval.lo == self.interval.hi
    }
    /// Operands, in order.
    pub fn operands(&self) -> Vec<SigId> {
        match &self.op {
            CellOp::Input { .. } | CellOp::Const => Vec::new(),
            CellOp::Add { a, b } => vec![a.sig, b.sig],
            CellOp::Mul { x, .. } | CellOp::Relu { x } | CellOp::Quantize { x, .. } => vec![*x],
        }
    }
}

/// The IR node a group of cells implements (for names, comments and reports).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerInfo {
    /// Verilog-safe short name.
    pub name: String,
    pub op: &'static str,
    /// The ONNX node(s) it came from.
    pub origin: String,
}

/// An output lane: `v_sig << shift` on the output port's grid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutputLane {
    pub sig: SigId,
    pub shift: u32,
}

/// The lane graph of a whole design: one input tensor, one output tensor.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Dfg {
    pub cells: Vec<Cell>,
    pub layers: Vec<LayerInfo>,
    /// Every output lane, in lane order.
    pub outputs: Vec<OutputLane>,
    /// Number of input lanes.
    pub input_lanes: usize,
}

impl Dfg {
    pub fn push(&mut self, cell: Cell) -> SigId {
        debug_assert!(
            cell.operands().iter().all(|&o| o < self.cells.len()),
            "operands come before their users"
        );
        self.cells.push(cell);
        self.cells.len() - 1
    }

    /// A constant signal.
    pub fn constant(&mut self, value: i128, layer: usize) -> SigId {
        self.push(Cell {
            op: CellOp::Const,
            interval: Interval::point(value),
            layer,
        })
    }

    pub fn cell(&self, id: SigId) -> &Cell {
        &self.cells[id]
    }

    /// Number of users of every cell (graph outputs count as users).
    pub fn fanout(&self) -> Vec<usize> {
        let mut n = vec![0; self.cells.len()];
        for c in &self.cells {
            for o in c.operands() {
                n[o] += 1;
            }
        }
        for o in &self.outputs {
            n[o.sig] += 1;
        }
        n
    }

    /// Evaluates every cell on one input vector (`inputs[lane]`), exactly, with the
    /// same algebra the hardware uses (see [`QuantLane::hardware`]). Returns all values.
    pub fn eval_all(&self, inputs: &[i64]) -> Vec<i128> {
        let mut v: Vec<i128> = Vec::with_capacity(self.cells.len());
        for c in &self.cells {
            let x = match &c.op {
                CellOp::Input { lane } => inputs[*lane] as i128,
                CellOp::Const => c.interval.lo,
                CellOp::Add { a, b } => {
                    let t = |t: &Term| {
                        let x = v[t.sig] << t.shift;
                        if t.neg {
                            -x
                        } else {
                            x
                        }
                    };
                    t(a) + t(b)
                }
                CellOp::Mul { x, factor } => v[*x] * *factor as i128,
                CellOp::Relu { x } => v[*x].max(0),
                CellOp::Quantize { x, shift, lane } => lane.hardware(v[*x] << shift),
            };
            debug_assert!(
                c.interval.contains(x),
                "cell {} ({:?}) computed {x} outside {}",
                v.len(),
                c.op,
                c.interval
            );
            v.push(x);
        }
        v
    }

    /// The output lanes for one input vector.
    pub fn eval(&self, inputs: &[i64]) -> Vec<i128> {
        let v = self.eval_all(inputs);
        self.outputs.iter().map(|o| v[o.sig] << o.shift).collect()
    }

    /// Removes cells no output depends on; keeps the order. Returns how many.
    pub fn remove_dead(&mut self) -> usize {
        let mut live = vec![false; self.cells.len()];
        for o in &self.outputs {
            live[o.sig] = true;
        }
        for i in (0..self.cells.len()).rev() {
            if live[i] || matches!(self.cells[i].op, CellOp::Input { .. }) {
                live[i] = true;
                for o in self.cells[i].operands() {
                    live[o] = true;
                }
            }
        }
        let dead = live.iter().filter(|&&l| !l).count();
        if dead == 0 {
            return 0;
        }
        let mut map = vec![usize::MAX; self.cells.len()];
        let mut kept = Vec::with_capacity(self.cells.len() - dead);
        for (i, c) in std::mem::take(&mut self.cells).into_iter().enumerate() {
            if live[i] {
                map[i] = kept.len();
                kept.push(c);
            }
        }
        for c in &mut kept {
            match &mut c.op {
                CellOp::Input { .. } | CellOp::Const => {}
                CellOp::Add { a, b } => {
                    a.sig = map[a.sig];
                    b.sig = map[b.sig];
                }
                CellOp::Mul { x, .. } | CellOp::Relu { x } | CellOp::Quantize { x, .. } => {
                    *x = map[*x]
                }
            }
        }
        for o in &mut self.outputs {
            o.sig = map[o.sig];
        }
        self.cells = kept;
        dead
    }
}
