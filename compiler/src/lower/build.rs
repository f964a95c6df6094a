//! From the IR graph to the lane graph: one signal per tensor element, exact
//! intervals per lane, constant lanes folded, ReLUs folded into quantizers, rounding
//! constants folded into biases, and constant-weight layers through [`super::cmvm`].

use super::cmvm::{self, Arithmetic, CmvmColumn, CmvmInput, CmvmOutput, CmvmStats};
use super::csd::csd;
use super::dfg::{Cell, CellOp, Dfg, FoldSlot, LayerInfo, OutputLane, SigId, Term};
use super::quant_lane::{floor_plan, relu_fusable, QuantForm, QuantLane};
use super::timing::{Arrival, DelayModel};
use super::LowerError;
use aecc_ir::graph::NodeId;
use aecc_ir::{Graph, Interval, Op, Overflow, Quantizer, TensorInfo};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

/// Which lane-level optimisations the builder applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BuildOptions {
    pub arithmetic: Arithmetic,
    /// Fold ReLUs into quantizer clamps and rounding constants into biases.
    pub fuse: bool,
    /// Non-negative adder operands (see [`super::cmvm::lower`]).
    pub nonneg_adders: bool,
    /// Cycles per input: each linear layer's outputs are split into this many groups
    /// whose adders are bound to shared slots (see [`super::dfg::FoldSlot`]).
    pub reuse: u32,
    /// Pairing rule of the constant-weight layers' adder trees.
    pub tree_order: super::cmvm::TreeOrder,
    /// See [`super::cmvm::CmvmOptions::root_constant_cost`].
    pub root_constant_cost: bool,
}

/// A tensor element: `v_sig` counts units of `2^lsb`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Lane {
    sig: SigId,
    lsb: i32,
}

/// A rounding constant folded into a linear layer's output lane for its quantizer.
#[derive(Debug, Clone, Copy)]
struct Fold {
    /// Units of `2^in_lsb`.
    offset: i128,
    in_lsb: i32,
    tie_even: bool,
}

/// Per-layer numbers for reports.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LayerStats {
    pub cmvm: Option<CmvmStats>,
}

struct Builder<'g> {
    graph: &'g Graph,
    opts: BuildOptions,
    model: DelayModel,
    dfg: Dfg,
    arrival: Vec<Arrival>,
    lanes: HashMap<NodeId, Vec<Lane>>,
    layer_of: HashMap<NodeId, usize>,
    node_of_layer: Vec<NodeId>,
    folds: HashMap<SigId, Fold>,
    stats: Vec<LayerStats>,
    outputs: BTreeSet<NodeId>,
}

/// Verilog-safe version of a node name.
pub fn sanitize(name: &str) -> String {
    let s: String = name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    let s = s.trim_matches('_').to_string();
    if s.is_empty() {
        "node".into()
    } else {
        s
    }
}

/// Builds the lane graph of a one-input, one-output graph.
pub fn build(
    graph: &Graph,
    opts: BuildOptions,
    model: &DelayModel,
) -> Result<(Dfg, Vec<LayerStats>), LowerError> {
    if graph.inputs().len() != 1 || graph.outputs().len() != 1 {
        return Err(LowerError::Graph(format!(
            "needs exactly one graph input and one graph output, graph {} has {} and {}",
            graph.name,
            graph.inputs().len(),
            graph.outputs().len()
        )));
    }
    let output = graph.outputs()[0].1;
    let mut live = BTreeSet::new();
    let mut stack = vec![output];
    while let Some(n) = stack.pop() {
        if live.insert(n) {
            stack.extend(graph.operands(n));
        }
    }
    let order: Vec<NodeId> = graph
        .topo_order()?
        .into_iter()
        .filter(|n| live.contains(n))
        .collect();
    let mut b = Builder {
        graph,
        opts,
        model: *model,
        dfg: Dfg::default(),
        arrival: Vec::new(),
        lanes: HashMap::new(),
        layer_of: HashMap::new(),
        node_of_layer: Vec::new(),
        folds: HashMap::new(),
        stats: Vec::new(),
        outputs: graph.outputs().iter().map(|(_, o)| *o).collect(),
    };
    let mut used = BTreeSet::new();
    for &id in &order {
        let n = graph.node(id);
        let base = sanitize(&n.name);
        let mut name = base.clone();
        let mut k = 1;
        while !used.insert(name.clone()) {
            k += 1;
            name = format!("{base}_{k}");
        }
        b.layer_of.insert(id, b.dfg.layers.len());
        b.node_of_layer.push(id);
        b.dfg.layers.push(LayerInfo {
            name,
            op: n.op.name(),
            origin: n.origin.clone(),
        });
        b.stats.push(LayerStats::default());
    }
    for &id in &order {
        b.node(id)?;
    }
    let out_info = &graph.node(output).out;
    let port_lsb = -out_info.ty.frac;
    b.dfg.outputs = b.lanes[&output]
        .iter()
        .map(|l| {
            debug_assert!(l.lsb >= port_lsb, "output lane finer than the port grid");
            OutputLane {
                sig: l.sig,
                shift: (l.lsb - port_lsb) as u32,
            }
        })
        .collect();
    b.dfg.remove_dead();
    b.dfg.sort_folds();
    Ok((b.dfg, b.stats))
}

impl Builder<'_> {
    fn push(&mut self, layer: usize, op: CellOp, interval: Interval) -> SigId {
        let id = self.dfg.push(Cell {
            op,
            interval,
            layer,
            fold: None,
        });
        let a = self.model.cell_arrival(&self.dfg, id, |s| self.arrival[s]);
        self.arrival.push(a);
        id
    }

    fn constant(&mut self, layer: usize, value: i128) -> SigId {
        self.push(layer, CellOp::Const, Interval::point(value))
    }

    fn interval(&self, lane: Lane) -> Interval {
        self.dfg.cell(lane.sig).interval
    }

    /// The only user of `id`, if it has exactly one and is not a graph output.
    fn sole_user(&self, id: NodeId) -> Option<NodeId> {
        let users = self.graph.users(id);
        (users.len() == 1 && !self.outputs.contains(&id)).then(|| users[0])
    }

    fn node(&mut self, id: NodeId) -> Result<(), LowerError> {
        let graph = self.graph;
        let node = graph.node(id);
        let layer = self.layer_of[&id];
        let operands = graph.operands(id);
        let lanes: Vec<Lane> = match &node.op {
            Op::Input { from_float } => self.input(layer, &node.out, from_float.as_ref()),
            Op::Reshape { .. } => self.lanes[&operands[0]].clone(),
            Op::Transpose { perm } => {
                let x = &graph.node(operands[0]).out;
                let src = &self.lanes[&operands[0]];
                transpose_sources(&x.shape, perm)
                    .into_iter()
                    .map(|i| src[i])
                    .collect()
            }
            Op::Relu => self.relu(id, layer, operands[0]),
            Op::Add => self.add(layer, operands[0], operands[1]),
            Op::Quantize(q) => self.quantize(id, layer, q, operands[0])?,
            Op::Dense(_) | Op::Conv(_) => self.linear(id, layer, operands[0]),
            // `check_lowerable` keeps these graphs in the reference architecture
            other => {
                return Err(LowerError::Unsupported {
                    node: node.name.clone(),
                    op: other.name(),
                    message: "the optimised architecture does not cover this op".into(),
                })
            }
        };
        debug_assert_eq!(lanes.len(), node.out.len());
        self.lanes.insert(id, lanes);
        Ok(())
    }

    fn input(
        &mut self,
        layer: usize,
        info: &TensorInfo,
        from_float: Option<&Quantizer>,
    ) -> Vec<Lane> {
        self.dfg.input_lanes = info.len();
        (0..info.len())
            .map(|lane| {
                let mut interval = info.interval;
                if let Some(q) = from_float.filter(|q| !q.is_bipolar() && q.is_pow2()) {
                    let c = q.channel_of(lane, &info.shape);
                    let (lo, hi) = q.q_bounds();
                    let (a, b) = (q.grid_value(lo, c), q.grid_value(hi, c));
                    // intersect with the tensor's interval (the type the port carries)
                    let (lo, hi) = (a.min(b).max(interval.lo), a.max(b).min(interval.hi));
                    if lo <= hi {
                        interval = Interval::new(lo, hi);
                    }
                }
                let sig = self.push(layer, CellOp::Input { lane }, interval);
                Lane {
                    sig,
                    lsb: -info.ty.frac,
                }
            })
            .collect()
    }

    /// The interval of the value a lane stands for, without a folded rounding constant
    /// (in the units of the fold when there is one: only its signs are used).
    fn true_interval(&self, lane: Lane) -> Interval {
        let iv = self.interval(lane);
        match self.folds.get(&lane.sig) {
            Some(f) => {
                let sh = (lane.lsb - f.in_lsb) as u32;
                Interval::new((iv.lo << sh) - f.offset, (iv.hi << sh) - f.offset)
            }
            None => iv,
        }
    }

    fn relu(&mut self, _id: NodeId, layer: usize, x: NodeId) -> Vec<Lane> {
        let src = self.lanes[&x].clone();
        src.into_iter()
            .map(|l| {
                let t = self.true_interval(l);
                if t.lo >= 0 {
                    l
                } else if t.hi <= 0 {
                    Lane {
                        sig: self.constant(layer, 0),
                        lsb: l.lsb,
                    }
                } else if self.opts.fuse && self.fuse_relu_into_quantizer(x, l.sig) {
                    l
                } else {
                    let interval = self.interval(l).relu();
                    Lane {
                        sig: self.push(layer, CellOp::Relu { x: l.sig }, interval),
                        lsb: l.lsb,
                    }
                }
            })
            .collect()
    }

    /// `max(Q(x), 0)`: when `sig` is a lane of quantizer node whose tensor reaches
    /// only this ReLU (through `operand` and wiring nodes), its clamp takes the ReLU.
    fn fuse_relu_into_quantizer(&mut self, operand: NodeId, sig: SigId) -> bool {
        let cell = &self.dfg.cells[sig];
        let CellOp::Quantize { x, shift, lane } = &cell.op else {
            return false;
        };
        if lane.relu || !relu_fusable(&lane.quantizer, lane.channel) {
            return false;
        }
        let q_node = self.node_of_layer[cell.layer];
        let mut n = operand;
        loop {
            if self.sole_user(n).is_none() {
                return false;
            }
            if n == q_node {
                break;
            }
            match self.graph.node(n).op {
                Op::Reshape { .. } | Op::Transpose { .. } => n = self.graph.operands(n)[0],
                _ => return false,
            }
        }
        let (x, shift) = (*x, *shift);
        let mut lane = lane.clone();
        lane.relu = true;
        let interval = lane.out_interval(self.dfg.cell(x).interval.shl(shift));
        self.dfg.cells[sig].op = CellOp::Quantize { x, shift, lane };
        self.dfg.cells[sig].interval = interval;
        true
    }

    fn add(&mut self, layer: usize, a: NodeId, b: NodeId) -> Vec<Lane> {
        let (la, lb) = (self.lanes[&a].clone(), self.lanes[&b].clone());
        la.into_iter()
            .zip(lb)
            .map(|(x, y)| {
                let lsb = x.lsb.min(y.lsb);
                let (sx, sy) = ((x.lsb - lsb) as u32, (y.lsb - lsb) as u32);
                let interval = self.interval(x).shl(sx).add(self.interval(y).shl(sy));
                let sig = if interval.lo == interval.hi {
                    self.constant(layer, interval.lo)
                } else {
                    self.push(
                        layer,
                        CellOp::Add {
                            a: Term::plus(x.sig, sx),
                            b: Term::plus(y.sig, sy),
                        },
                        interval,
                    )
                };
                Lane { sig, lsb }
            })
            .collect()
    }

    fn quantize(
        &mut self,
        _id: NodeId,
        layer: usize,
        q: &Quantizer,
        x: NodeId,
    ) -> Result<Vec<Lane>, LowerError> {
        if !q.is_pow2() {
            return Err(LowerError::Unsupported {
                node: self.graph.node(_id).name.clone(),
                op: "quantize",
                message: "scale is not a power of two; the Verilog backend supports \
                          power-of-two scales only"
                    .into(),
            });
        }
        let quantizer = Arc::new(q.clone());
        let shape = self.graph.node(x).out.shape.clone();
        let x_is_relu = self.opts.fuse
            && matches!(self.graph.node(x).op, Op::Relu)
            && self.sole_user(x).is_some();
        let src = self.lanes[&x].clone();
        let out_lsb = -q.out_frac();
        let mut out = Vec::with_capacity(src.len());
        for (i, mut l) in src.into_iter().enumerate() {
            let channel = q.channel_of(i, &shape);
            let mut relu = false;
            if x_is_relu && relu_fusable(q, channel) {
                if let CellOp::Relu { x: inner } = self.dfg.cell(l.sig).op {
                    l = Lane {
                        sig: inner,
                        lsb: l.lsb,
                    };
                    relu = true;
                }
            }
            let lane = match self.folds.get(&l.sig).copied() {
                Some(f) => QuantLane {
                    quantizer: quantizer.clone(),
                    channel,
                    in_lsb: f.in_lsb,
                    relu,
                    offset: f.offset,
                    form: QuantForm::Floor {
                        tie_even: f.tie_even,
                    },
                },
                None => {
                    let mut lane = QuantLane {
                        quantizer: quantizer.clone(),
                        channel,
                        in_lsb: l.lsb,
                        relu,
                        offset: 0,
                        form: QuantForm::Generic,
                    };
                    let nonneg = relu || self.interval(l).lo >= 0;
                    if let Some((0, tie_even)) = plan(q, channel, lane.dropped_bits(), nonneg) {
                        lane.form = QuantForm::Floor { tie_even };
                    }
                    lane
                }
            };
            let shift = (l.lsb - lane.in_lsb) as u32;
            let xi = self.interval(l).shl(shift);
            let interval = lane.out_interval(xi);
            let sig = if interval.lo == interval.hi {
                self.constant(layer, interval.lo)
            } else {
                self.push(
                    layer,
                    CellOp::Quantize {
                        x: l.sig,
                        shift,
                        lane: Box::new(lane),
                    },
                    interval,
                )
            };
            out.push(Lane { sig, lsb: out_lsb });
        }
        Ok(out)
    }

    /// The quantizer (and whether a ReLU sits before it) that alone consumes a linear
    /// layer, when its rounding constant can be folded into the layer's constants.
    fn consumer_quantizer(&self, id: NodeId) -> Option<(Quantizer, bool)> {
        if !self.opts.fuse {
            return None;
        }
        let user = self.sole_user(id)?;
        match &self.graph.node(user).op {
            Op::Quantize(q) => Some((q.clone(), false)),
            Op::Relu => {
                let q_node = self.sole_user(user)?;
                match &self.graph.node(q_node).op {
                    Op::Quantize(q) => Some((q.clone(), true)),
                    _ => None,
                }
            }
            _ => None,
        }
        .filter(|(q, _)| q.is_pow2() && !q.is_bipolar())
    }

    fn linear(&mut self, id: NodeId, layer: usize, x: NodeId) -> Vec<Lane> {
        let node = self.graph.node(id);
        let x_info = self.graph.node(x).out.clone();
        let map = node
            .op
            .linear_map(&x_info)
            .expect("dense and conv have a linear map");
        let node_lsb = -x_info.ty.frac;
        let acc_lsb = -map.grid.frac;
        let src = self.lanes[&x].clone();
        // Constant input lanes go into the column constants.
        let mut inputs: Vec<CmvmInput> = Vec::new();
        let mut input_of: BTreeMap<usize, usize> = BTreeMap::new();
        for (i, l) in src.iter().enumerate() {
            if !self.dfg.cell(l.sig).is_const() {
                input_of.insert(i, inputs.len());
                inputs.push(CmvmInput {
                    sig: l.sig,
                    interval: self.interval(*l),
                });
            }
        }
        let consumer = self.consumer_quantizer(id);
        let mut folds: Vec<Option<Fold>> = vec![None; map.rows.len()];
        let columns: Vec<CmvmColumn> = map
            .rows
            .iter()
            .enumerate()
            .map(|(j, row)| {
                let mut col = CmvmColumn {
                    terms: Vec::with_capacity(row.terms.len()),
                    constant: (row.bias as i128) << map.grid.bias_shift,
                };
                let mut true_iv = Interval::point(col.constant);
                for &(i, w) in &row.terms {
                    let l = src[i];
                    debug_assert!(l.lsb >= node_lsb);
                    let e = (l.lsb - node_lsb) as u32 + map.grid.product_shift;
                    let coeff = (w as i128) << e;
                    let iv = self.interval(l);
                    true_iv = true_iv.add(iv.scale(coeff));
                    match input_of.get(&i) {
                        Some(&k) => col.terms.push((k, coeff)),
                        None => col.constant += coeff * iv.lo,
                    }
                }
                if let Some((q, relu_between)) = &consumer {
                    let c = q.channel_of(j, &node.out.shape);
                    let p = q.channels[c].scale.exponent - acc_lsb;
                    let relu_fused = *relu_between && relu_fusable(q, c);
                    let nonneg = true_iv.lo >= 0 || relu_fused;
                    // with a ReLU between that stays a ReLU cell, the quantizer would
                    // not read this lane directly: no fold
                    let direct = !*relu_between || relu_fused || true_iv.lo >= 0;
                    if let Some((offset, tie_even)) = plan(q, c, p, nonneg).filter(|_| direct) {
                        col.constant += offset;
                        folds[j] = Some(Fold {
                            offset,
                            in_lsb: acc_lsb,
                            tie_even,
                        });
                    }
                }
                col
            })
            .collect();
        let (outs, stats) = self.cmvm(layer, &inputs, &columns);
        self.stats[layer].cmvm = Some(stats);
        outs.iter()
            .zip(folds)
            .map(|(o, fold)| {
                if let Some(f) = fold {
                    self.folds.insert(o.sig, f);
                }
                Lane {
                    sig: o.sig,
                    lsb: acc_lsb + o.shift as i32,
                }
            })
            .collect()
    }
}

impl Builder<'_> {
    /// The constant matrix-vector product of one layer, folded over `reuse` groups of
    /// outputs when `reuse > 1`.
    fn cmvm(
        &mut self,
        layer: usize,
        inputs: &[CmvmInput],
        columns: &[CmvmColumn],
    ) -> (Vec<CmvmOutput>, CmvmStats) {
        let groups = (self.opts.reuse as usize).min(columns.len());
        if groups <= 1 {
            return cmvm::lower(
                &mut self.dfg,
                layer,
                inputs,
                columns,
                cmvm::CmvmOptions {
                    arithmetic: self.opts.arithmetic,
                    nonneg: self.opts.nonneg_adders,
                    folded: false,
                    tree_order: self.opts.tree_order,
                    root_constant_cost: self.opts.root_constant_cost,
                },
                &self.model,
                &mut self.arrival,
            );
        }
        // Longest-processing-time partition of the columns by CSD digits.
        let cost: Vec<usize> = columns
            .iter()
            .map(|c| c.terms.iter().map(|&(_, w)| csd(w).len()).sum())
            .collect();
        let mut order: Vec<usize> = (0..columns.len()).collect();
        order.sort_by_key(|&j| (std::cmp::Reverse(cost[j]), j));
        let mut members: Vec<Vec<usize>> = vec![Vec::new(); groups];
        let mut load = vec![0usize; groups];
        for j in order {
            let g = (0..groups).min_by_key(|&g| (load[g], g)).unwrap();
            members[g].push(j);
            load[g] += cost[j];
        }
        let fold = self.dfg.folds.len();
        self.dfg.folds.push((layer, groups as u32));
        let mut outs = vec![None; columns.len()];
        let mut total = CmvmStats::default();
        for (phase, mut group) in members.into_iter().enumerate() {
            group.sort_unstable();
            let cols: Vec<CmvmColumn> = group.iter().map(|&j| columns[j].clone()).collect();
            let before = self.dfg.cells.len();
            let (o, st) = cmvm::lower(
                &mut self.dfg,
                layer,
                inputs,
                &cols,
                cmvm::CmvmOptions {
                    arithmetic: self.opts.arithmetic,
                    nonneg: self.opts.nonneg_adders,
                    folded: true,
                    tree_order: self.opts.tree_order,
                    root_constant_cost: self.opts.root_constant_cost,
                },
                &self.model,
                &mut self.arrival,
            );
            let mut slot = 0;
            for id in before..self.dfg.cells.len() {
                if matches!(self.dfg.cells[id].op, CellOp::Add { .. }) {
                    self.dfg.cells[id].fold = Some(FoldSlot {
                        fold,
                        phase: phase as u32,
                        slot,
                    });
                    slot += 1;
                }
            }
            for (k, &j) in group.iter().enumerate() {
                outs[j] = Some(o[k]);
            }
            total.digits += st.digits;
            total.shared_adders += st.shared_adders;
            total.tree_adders += st.tree_adders;
            total.sharing_skipped |= st.sharing_skipped;
        }
        (outs.into_iter().map(Option::unwrap).collect(), total)
    }
}

/// The floor-form plan of channel `c` of `q` dropping `s` bits, if the lane can use it
/// (wrapping quantizers only with a full power-of-two period and zero point 0).
fn plan(q: &Quantizer, c: usize, s: i32, nonneg: bool) -> Option<(i128, bool)> {
    let wrap = q.overflow == Overflow::Wrap;
    if q.is_bipolar() || (wrap && (q.narrow || q.channels[c].zero_point != 0)) {
        return None;
    }
    floor_plan(q.rounding, s, nonneg, q.channels[c].zero_point)
}

/// For each element of the transposed tensor, the flat index it reads.
pub fn transpose_sources(in_shape: &[usize], perm: &[usize]) -> Vec<usize> {
    let out_shape: Vec<usize> = perm.iter().map(|&p| in_shape[p]).collect();
    let n: usize = in_shape.iter().product();
    (0..n)
        .map(|j| {
            let mut rest = j;
            let mut out_idx = vec![0usize; out_shape.len()];
            for a in (0..out_shape.len()).rev() {
                out_idx[a] = rest % out_shape[a];
                rest /= out_shape[a];
            }
            let mut in_idx = vec![0usize; in_shape.len()];
            for (a, &p) in perm.iter().enumerate() {
                in_idx[p] = out_idx[a];
            }
            in_idx
                .iter()
                .zip(in_shape)
                .fold(0usize, |acc, (&i, &d)| acc * d + i)
        })
        .collect()
}
