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

/// The prefix of every Verilog signal of layer `layer` in the optimised architecture
/// (`l<k>_`); the report's analytic reader groups a flat design's logic by it.
pub fn signal_prefix(layer: usize) -> String {
    format!("l{layer}_")
}

/// One operand of an adder: `±(o << shift)` where `o` is `v_sig`, or with
/// `complement = Some(w)` the `w`-bit ones' complement `2^w - 1 - v_sig` (`~v` on `w`
/// bits, zero-extended: free in hardware, and it keeps every adder operand
/// non-negative, see [`super::cmvm`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Term {
    pub sig: SigId,
    pub shift: u32,
    pub neg: bool,
    pub complement: Option<u32>,
}

impl Term {
    pub fn plus(sig: SigId, shift: u32) -> Term {
        Term {
            sig,
            shift,
            neg: false,
            complement: None,
        }
    }

    /// The value this operand contributes, given `v_sig`.
    pub fn value(&self, v: i128) -> i128 {
        let o = match self.complement {
            Some(w) => (1i128 << w) - 1 - v,
            None => v,
        } << self.shift;
        if self.neg {
            -o
        } else {
            o
        }
    }

    /// The interval of [`Term::value`] for `v` in `iv`.
    pub fn interval(&self, iv: Interval) -> Interval {
        let (a, b) = (self.value(iv.lo), self.value(iv.hi));
        Interval::new(a.min(b), a.max(b))
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
    /// `v_x + 2^(width - 1)` for a signed `v_x` of `width` bits: the most significant
    /// bit inverted, read as unsigned (a signed value made non-negative for free).
    FlipSign { x: SigId, width: u32 },
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
    /// With `reuse > 1`: the shared adder this cell is bound to.
    pub fold: Option<FoldSlot>,
}

/// A cell of a folded layer: computed by shared adder `slot` of fold `fold` in cycle
/// `phase` of the layer's `reuse` cycles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FoldSlot {
    pub fold: usize,
    pub phase: u32,
    pub slot: u32,
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
            CellOp::Mul { x, .. }
            | CellOp::FlipSign { x, .. }
            | CellOp::Relu { x }
            | CellOp::Quantize { x, .. } => vec![*x],
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
    /// Folded layers (`reuse > 1`): the layer and its number of phases.
    pub folds: Vec<(usize, u32)>,
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
            fold: None,
        })
    }

    pub fn cell(&self, id: SigId) -> &Cell {
        &self.cells[id]
    }

    /// The cells bound to fold `f`, in order.
    pub fn fold_cells(&self, f: usize) -> Vec<SigId> {
        (0..self.cells.len())
            .filter(|&i| self.cells[i].fold.is_some_and(|s| s.fold == f))
            .collect()
    }

    /// The signals a fold reads from outside (neither bound to it nor constant).
    pub fn fold_inputs(&self, f: usize) -> Vec<SigId> {
        let mut v: Vec<SigId> = self
            .fold_cells(f)
            .into_iter()
            .flat_map(|c| self.cells[c].operands())
            .filter(|&o| {
                self.cells[o].fold.is_none_or(|s| s.fold != f) && !self.cells[o].is_const()
            })
            .collect();
        v.sort_unstable();
        v.dedup();
        v
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
                CellOp::Add { a, b } => a.value(v[a.sig]) + b.value(v[b.sig]),
                CellOp::Mul { x, factor } => v[*x] * *factor as i128,
                CellOp::FlipSign { x, width } => v[*x] + (1i128 << (width - 1)),
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

    /// Reorders the cells so that every cell of a folded layer comes after every input
    /// of that fold (the fold is printed, and scheduled, as one block), keeping the
    /// original order otherwise (a topological sort by original index).
    pub fn sort_folds(&mut self) {
        if self.folds.is_empty() {
            return;
        }
        let n = self.cells.len();
        let mut deps: Vec<Vec<SigId>> = self.cells.iter().map(|c| c.operands()).collect();
        for f in 0..self.folds.len() {
            let inputs = self.fold_inputs(f);
            for c in self.fold_cells(f) {
                deps[c].extend(inputs.iter().copied());
            }
        }
        let mut users: Vec<Vec<SigId>> = vec![Vec::new(); n];
        let mut waiting = vec![0usize; n];
        for (c, d) in deps.iter_mut().enumerate() {
            d.sort_unstable();
            d.dedup();
            waiting[c] = d.len();
            for &o in d.iter() {
                users[o].push(c);
            }
        }
        let mut ready: std::collections::BinaryHeap<std::cmp::Reverse<SigId>> = (0..n)
            .filter(|&c| waiting[c] == 0)
            .map(std::cmp::Reverse)
            .collect();
        let mut order = Vec::with_capacity(n);
        while let Some(std::cmp::Reverse(c)) = ready.pop() {
            order.push(c);
            for &u in &users[c] {
                waiting[u] -= 1;
                if waiting[u] == 0 {
                    ready.push(std::cmp::Reverse(u));
                }
            }
        }
        assert_eq!(order.len(), n, "the lane graph is acyclic");
        let mut map = vec![0; n];
        for (new, &old) in order.iter().enumerate() {
            map[old] = new;
        }
        let mut cells: Vec<Option<Cell>> = std::mem::take(&mut self.cells)
            .into_iter()
            .map(Some)
            .collect();
        self.cells = order
            .iter()
            .map(|&old| cells[old].take().unwrap())
            .collect();
        self.remap(&map);
    }

    fn remap(&mut self, map: &[usize]) {
        for c in &mut self.cells {
            match &mut c.op {
                CellOp::Input { .. } | CellOp::Const => {}
                CellOp::Add { a, b } => {
                    a.sig = map[a.sig];
                    b.sig = map[b.sig];
                }
                CellOp::Mul { x, .. }
                | CellOp::FlipSign { x, .. }
                | CellOp::Relu { x }
                | CellOp::Quantize { x, .. } => *x = map[*x],
            }
        }
        for o in &mut self.outputs {
            o.sig = map[o.sig];
        }
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
        self.cells = kept;
        self.remap(&map);
        dead
    }
}
