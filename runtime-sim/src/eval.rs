//! The reference evaluator.

use crate::error::SimError;
use aecc_ir::ops::{AccumulatorGrid, Conv, Dense};
use aecc_ir::pointwise::channel_index;
use aecc_ir::pool::average_scale;
use aecc_ir::{Graph, NodeId, Op, Overflow, Quantizer, TensorInfo};

/// A tensor of integers on its node's grid (row-major).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tensor {
    pub shape: Vec<usize>,
    pub data: Vec<i64>,
}

/// Evaluates a graph exactly, one sample at a time.
#[derive(Debug, Clone)]
pub struct Simulator {
    graph: Graph,
    /// Compute nodes in topological order.
    order: Vec<NodeId>,
    /// Operands of each compute node (same order as `order`).
    operands: Vec<Vec<NodeId>>,
    /// Size of the slot table (largest node index + 1).
    slots: usize,
}

impl Simulator {
    /// Prepares a graph for evaluation (verifies it first).
    pub fn new(graph: &Graph) -> Result<Simulator, SimError> {
        aecc_ir::verify::verify(graph)?;
        let order = graph.compute_nodes()?;
        let operands = order.iter().map(|&n| graph.operands(n)).collect();
        let slots = graph
            .node_ids()
            .iter()
            .map(|n| n.index() + 1)
            .max()
            .unwrap_or(0);
        Ok(Simulator {
            graph: graph.clone(),
            order,
            operands,
            slots,
        })
    }

    pub fn graph(&self) -> &Graph {
        &self.graph
    }

    /// Number of graph inputs.
    pub fn input_count(&self) -> usize {
        self.graph.inputs().len()
    }

    pub fn input_info(&self, i: usize) -> &TensorInfo {
        &self.graph.node(self.graph.inputs()[i]).out
    }

    pub fn input_name(&self, i: usize) -> &str {
        &self.graph.node(self.graph.inputs()[i]).name
    }

    pub fn output_count(&self) -> usize {
        self.graph.outputs().len()
    }

    pub fn output_info(&self, k: usize) -> &TensorInfo {
        &self.graph.node(self.graph.outputs()[k].1).out
    }

    pub fn output_name(&self, k: usize) -> &str {
        &self.graph.outputs()[k].0
    }

    /// Maps real values onto input `i`'s grid with the model's input quantizer.
    pub fn quantize_input(&self, i: usize, real: &[f64]) -> Result<Vec<i64>, SimError> {
        self.quantize_input_inner(i, real, None)
    }

    /// [`Self::quantize_input`], counting the values the input quantizer saturates.
    pub fn quantize_input_counting(
        &self,
        i: usize,
        real: &[f64],
        counts: &mut OverflowCounts,
    ) -> Result<Vec<i64>, SimError> {
        self.quantize_input_inner(i, real, Some(counts))
    }

    fn quantize_input_inner(
        &self,
        i: usize,
        real: &[f64],
        counts: Option<&mut OverflowCounts>,
    ) -> Result<Vec<i64>, SimError> {
        let id = self.graph.inputs()[i];
        let node = self.graph.node(id);
        let q = match &node.op {
            Op::Input {
                from_float: Some(q),
            } => q,
            _ => {
                return Err(SimError::NoInputQuantizer {
                    name: node.name.clone(),
                })
            }
        };
        let info = &node.out;
        if real.len() != info.len() {
            return Err(SimError::InputSize {
                name: node.name.clone(),
                shape: info.shape.clone(),
                expected: info.len(),
                got: real.len(),
            });
        }
        let mut overflowed = 0u64;
        let values = real
            .iter()
            .enumerate()
            .map(|(idx, &v)| {
                let (x, over) = q
                    .overflowing_quantize_f64(v, q.channel_of(idx, &info.shape))
                    .ok_or_else(|| SimError::NotANumber {
                        name: node.name.clone(),
                        index: idx,
                    })?;
                overflowed += over as u64;
                Ok(x as i64)
            })
            .collect::<Result<Vec<i64>, SimError>>()?;
        if let Some(c) = counts {
            c.record(id, values.len() as u64, overflowed);
        }
        Ok(values)
    }

    /// Real value of output `k`'s integers (exact for types up to 53 bits with a unit
    /// of 1; otherwise the nearest f64 of the exact value, up to one rounding of the
    /// unit).
    pub fn output_real(&self, k: usize, ints: &[i64]) -> Vec<f64> {
        let info = self.output_info(k);
        ints.iter().map(|&x| info.real(x as i128)).collect()
    }

    /// Evaluates one sample: one flat integer vector per graph input, on the inputs'
    /// grids. Returns one flat vector per graph output.
    pub fn run(&self, inputs: &[&[i64]]) -> Result<Vec<Vec<i64>>, SimError> {
        self.run_inner(inputs, None)
    }

    /// [`Self::run`], also counting for every `Quantize` node how many values it
    /// saturated (or wrapped). The outputs are exactly those of [`Self::run`].
    pub fn run_counting(
        &self,
        inputs: &[&[i64]],
        counts: &mut OverflowCounts,
    ) -> Result<Vec<Vec<i64>>, SimError> {
        self.run_inner(inputs, Some(counts))
    }

    fn run_inner(
        &self,
        inputs: &[&[i64]],
        mut counts: Option<&mut OverflowCounts>,
    ) -> Result<Vec<Vec<i64>>, SimError> {
        let ins = self.graph.inputs();
        if inputs.len() != ins.len() {
            return Err(SimError::InputCount {
                expected: ins.len(),
                got: inputs.len(),
            });
        }
        let mut values: Vec<Option<Vec<i64>>> = vec![None; self.slots];
        for (&id, data) in ins.iter().zip(inputs) {
            let node = self.graph.node(id);
            let info = &node.out;
            if data.len() != info.len() {
                return Err(SimError::InputSize {
                    name: node.name.clone(),
                    shape: info.shape.clone(),
                    expected: info.len(),
                    got: data.len(),
                });
            }
            if let Some((index, &value)) = data
                .iter()
                .enumerate()
                .find(|(_, &v)| !info.ty.contains(v as i128))
            {
                return Err(SimError::InputRange {
                    name: node.name.clone(),
                    index,
                    value,
                    ty: info.ty.to_string(),
                    lo: info.ty.min_int(),
                    hi: info.ty.max_int(),
                });
            }
            values[id.index()] = Some(data.to_vec());
        }
        for (&id, operands) in self.order.iter().zip(&self.operands) {
            let node = self.graph.node(id);
            let args: Vec<(&[i64], &TensorInfo)> = operands
                .iter()
                .map(|&o| {
                    (
                        values[o.index()].as_deref().expect("topological order"),
                        &self.graph.node(o).out,
                    )
                })
                .collect();
            let result = match (&node.op, counts.as_deref_mut()) {
                (Op::Quantize(q), Some(c)) => {
                    let (y, overflowed) = quantize_counting(q, args[0].0, args[0].1);
                    c.record(id, y.len() as u64, overflowed);
                    y
                }
                _ => eval_op(&node.op, &args, &node.out),
            };
            values[id.index()] = Some(result);
        }
        Ok(self
            .graph
            .outputs()
            .iter()
            .map(|(_, id)| values[id.index()].clone().expect("outputs are evaluated"))
            .collect())
    }

    /// Convenience for single-input, single-output models.
    pub fn run_one(&self, input: &[i64]) -> Result<Vec<i64>, SimError> {
        Ok(self.run(&[input])?.swap_remove(0))
    }
}

/// Evaluates one op on its operands' values. `out` is the node's inferred tensor.
pub fn eval_op(op: &Op, args: &[(&[i64], &TensorInfo)], out: &TensorInfo) -> Vec<i64> {
    match op {
        Op::Input { .. } => unreachable!("inputs are not evaluated"),
        Op::Quantize(q) => quantize(q, args[0].0, args[0].1),
        Op::Relu => args[0].0.iter().map(|&x| x.max(0)).collect(),
        Op::Dense(d) => dense(d, args[0].0, args[0].1, out),
        Op::Conv(c) => conv(c, args[0].0, args[0].1, out),
        Op::Add => {
            let ((a, ia), (b, ib)) = (args[0], args[1]);
            let frac = out.ty.frac;
            let (sa, sb) = ((frac - ia.ty.frac) as u32, (frac - ib.ty.frac) as u32);
            a.iter()
                .zip(b)
                .map(|(&x, &y)| narrow(((x as i128) << sa) + ((y as i128) << sb)))
                .collect()
        }
        Op::Reshape { .. } => args[0].0.to_vec(),
        Op::Transpose { perm } => transpose(args[0].0, &args[0].1.shape, perm),
        Op::Sub => {
            let ((a, ia), (b, ib)) = (args[0], args[1]);
            let frac = out.ty.frac;
            let (sa, sb) = ((frac - ia.ty.frac) as u32, (frac - ib.ty.frac) as u32);
            a.iter()
                .zip(b)
                .map(|(&x, &y)| narrow(((x as i128) << sa) - ((y as i128) << sb)))
                .collect()
        }
        Op::Affine(a) => {
            let (x, info) = args[0];
            x.iter()
                .enumerate()
                .map(|(i, &v)| narrow(a.apply(v as i128, channel_index(a.axis, i, &info.shape))))
                .collect()
        }
        Op::Clip { lo, hi } => args[0].0.iter().map(|&x| x.clamp(*lo, *hi)).collect(),
        Op::LeakyRelu { pos, neg, .. } => args[0]
            .0
            .iter()
            .map(|&x| narrow(x as i128 * if x >= 0 { *pos } else { *neg } as i128))
            .collect(),
        Op::MaxPool(p) => {
            let (x, info) = args[0];
            p.windows(&info.shape)
                .iter()
                .map(|w| {
                    w.taps
                        .iter()
                        .map(|&t| x[t])
                        .max()
                        .expect("windows have taps")
                })
                .collect()
        }
        Op::AvgPool(p) => {
            let (x, info) = args[0];
            let windows = p.windows(&info.shape);
            let scale = average_scale(&windows, info.unit).expect("checked by inference");
            windows
                .iter()
                .zip(&scale.multipliers)
                .map(|(w, &m)| {
                    let sum: i128 = w.taps.iter().map(|&t| x[t] as i128).sum();
                    narrow(sum * m as i128)
                })
                .collect()
        }
        Op::Select(sel) => {
            let x = args[0].0;
            sel.index
                .iter()
                .map(|i| i.map_or(sel.fill, |i| x[i]))
                .collect()
        }
        Op::Concat { axis, .. } => concat(args, *axis, out),
        Op::Lut(l) => {
            let (x, info) = args[0];
            x.iter()
                .enumerate()
                .map(|(i, &v)| l.lookup(v, channel_index(l.axis, i, &info.shape)))
                .collect()
        }
        Op::Softmax(s) => {
            let (x, info) = args[0];
            let n = *info.shape.last().expect("softmax has an axis");
            x.chunks(n).flat_map(|row| s.row(row)).collect()
        }
    }
}

/// Concatenation along `axis`, every operand shifted onto the output grid.
fn concat(args: &[(&[i64], &TensorInfo)], axis: usize, out: &TensorInfo) -> Vec<i64> {
    let outer: usize = out.shape[..axis].iter().product();
    let mut y = Vec::with_capacity(out.len());
    for o in 0..outer {
        for (x, info) in args {
            let block: usize = info.shape[axis..].iter().product();
            let shift = (out.ty.frac - info.ty.frac) as u32;
            y.extend(
                x[o * block..(o + 1) * block]
                    .iter()
                    .map(|&v| narrow((v as i128) << shift)),
            );
        }
    }
    y
}

/// Every result fits its type (interval analysis guarantees it); this checks it in
/// debug builds and converts.
fn narrow(x: i128) -> i64 {
    debug_assert!(
        x >= i64::MIN as i128 && x <= i64::MAX as i128,
        "value {x} exceeds 64 bits"
    );
    x as i64
}

fn quantize(q: &Quantizer, x: &[i64], info: &TensorInfo) -> Vec<i64> {
    x.iter()
        .enumerate()
        .map(|(i, &v)| {
            narrow(q.quantize_scaled(
                v as i128,
                info.ty.frac,
                info.unit,
                q.channel_of(i, &info.shape),
            ))
        })
        .collect()
}

/// [`quantize`], and how many values were out of range (same results).
fn quantize_counting(q: &Quantizer, x: &[i64], info: &TensorInfo) -> (Vec<i64>, u64) {
    let mut overflowed = 0u64;
    let y = x
        .iter()
        .enumerate()
        .map(|(i, &v)| {
            let (y, over) = q.overflowing_quantize_scaled(
                v as i128,
                info.ty.frac,
                info.unit,
                q.channel_of(i, &info.shape),
            );
            overflowed += over as u64;
            narrow(y)
        })
        .collect();
    (y, overflowed)
}

/// How often each quantizer of a graph saturated (or wrapped) over the samples run
/// through [`Simulator::run_counting`] and [`Simulator::quantize_input_counting`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OverflowCounts {
    /// Per node slot: (values quantized, values out of range, samples, samples with any).
    per_node: Vec<[u64; 4]>,
}

/// One quantizer's line of [`OverflowCounts::layers`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerOverflow {
    pub node: NodeId,
    pub name: String,
    /// The ONNX node(s) the quantizer came from.
    pub origin: String,
    /// `Saturate` or `Wrap`: what happened to the out-of-range values.
    pub mode: Overflow,
    /// Values quantized, and how many of them were out of range.
    pub values: u64,
    pub overflowed: u64,
    /// Samples seen, and how many had at least one out-of-range value here.
    pub samples: u64,
    pub samples_overflowed: u64,
}

impl OverflowCounts {
    pub fn new(sim: &Simulator) -> OverflowCounts {
        OverflowCounts {
            per_node: vec![[0; 4]; sim.slots],
        }
    }

    fn record(&mut self, id: NodeId, values: u64, overflowed: u64) {
        if self.per_node.len() <= id.index() {
            self.per_node.resize(id.index() + 1, [0; 4]);
        }
        let c = &mut self.per_node[id.index()];
        c[0] += values;
        c[1] += overflowed;
        c[2] += 1;
        c[3] += (overflowed > 0) as u64;
    }

    /// Every quantizer of the graph (input quantizers first, then `Quantize` nodes in
    /// topological order), with its counts; quantizers no sample reached have zeros.
    pub fn layers(&self, sim: &Simulator) -> Vec<LayerOverflow> {
        let graph = sim.graph();
        let mut ids: Vec<NodeId> = graph
            .inputs()
            .iter()
            .copied()
            .filter(|&i| {
                matches!(
                    graph.node(i).op,
                    Op::Input {
                        from_float: Some(_)
                    }
                )
            })
            .collect();
        ids.extend(
            sim.order
                .iter()
                .copied()
                .filter(|&i| matches!(graph.node(i).op, Op::Quantize(_))),
        );
        ids.into_iter()
            .map(|id| {
                let n = graph.node(id);
                let mode = match &n.op {
                    Op::Quantize(q)
                    | Op::Input {
                        from_float: Some(q),
                    } => q.overflow,
                    _ => unreachable!("filtered above"),
                };
                let c = self.per_node.get(id.index()).copied().unwrap_or([0; 4]);
                LayerOverflow {
                    node: id,
                    name: n.name.clone(),
                    origin: n.origin.clone(),
                    mode,
                    values: c[0],
                    overflowed: c[1],
                    samples: c[2],
                    samples_overflowed: c[3],
                }
            })
            .collect()
    }
}

fn dense(d: &Dense, x: &[i64], info: &TensorInfo, out: &TensorInfo) -> Vec<i64> {
    let (k, m) = (d.weight.shape[0], d.weight.shape[1]);
    let grid = AccumulatorGrid::new(info.ty.frac, &d.weight, d.bias.as_ref());
    let outer = x.len() / k;
    let mut y = Vec::with_capacity(out.len());
    for o in 0..outer {
        let row = &x[o * k..(o + 1) * k];
        for j in 0..m {
            let mut acc: i128 = 0;
            for (kk, &xv) in row.iter().enumerate() {
                acc += xv as i128 * d.weight.data[kk * m + j] as i128;
            }
            acc <<= grid.product_shift;
            if let Some(b) = &d.bias {
                acc += (b.data[j] as i128) << grid.bias_shift;
            }
            y.push(narrow(acc));
        }
    }
    y
}

fn conv(c: &Conv, x: &[i64], info: &TensorInfo, out: &TensorInfo) -> Vec<i64> {
    let (n, ch, h, w) = (info.shape[0], info.shape[1], info.shape[2], info.shape[3]);
    let (m, cg, kh, kw) = (
        c.weight.shape[0],
        c.weight.shape[1],
        c.weight.shape[2],
        c.weight.shape[3],
    );
    let (oh, ow) = (out.shape[2], out.shape[3]);
    let grid = AccumulatorGrid::new(info.ty.frac, &c.weight, c.bias.as_ref());
    let m_per_group = m / c.group;
    let mut y = Vec::with_capacity(out.len());
    for b in 0..n {
        for mo in 0..m {
            let g = mo / m_per_group;
            for oy in 0..oh {
                for ox in 0..ow {
                    let mut acc: i128 = 0;
                    for ci in 0..cg {
                        let cin = g * cg + ci;
                        for ky in 0..kh {
                            let iy = (oy * c.strides[0] + ky * c.dilations[0]) as isize
                                - c.pads[0] as isize;
                            if iy < 0 || iy >= h as isize {
                                continue;
                            }
                            for kx in 0..kw {
                                let ix = (ox * c.strides[1] + kx * c.dilations[1]) as isize
                                    - c.pads[1] as isize;
                                if ix < 0 || ix >= w as isize {
                                    continue;
                                }
                                let wv = c.weight.data[((mo * cg + ci) * kh + ky) * kw + kx];
                                let xv = x[((b * ch + cin) * h + iy as usize) * w + ix as usize];
                                acc += xv as i128 * wv as i128;
                            }
                        }
                    }
                    acc <<= grid.product_shift;
                    if let Some(bias) = &c.bias {
                        acc += (bias.data[mo] as i128) << grid.bias_shift;
                    }
                    y.push(narrow(acc));
                }
            }
        }
    }
    y
}

fn transpose(x: &[i64], shape: &[usize], perm: &[usize]) -> Vec<i64> {
    let rank = shape.len();
    let mut in_strides = vec![1usize; rank];
    for a in (0..rank.saturating_sub(1)).rev() {
        in_strides[a] = in_strides[a + 1] * shape[a + 1];
    }
    let out_shape: Vec<usize> = perm.iter().map(|&p| shape[p]).collect();
    let mut idx = vec![0usize; rank];
    let mut y = Vec::with_capacity(x.len());
    for _ in 0..x.len() {
        let src: usize = (0..rank).map(|a| idx[a] * in_strides[perm[a]]).sum();
        y.push(x[src]);
        // increment the output multi-index (row-major)
        for a in (0..rank).rev() {
            idx[a] += 1;
            if idx[a] < out_shape[a] {
                break;
            }
            idx[a] = 0;
        }
    }
    y
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transpose_2x3() {
        // [[1,2,3],[4,5,6]] -> [[1,4],[2,5],[3,6]]
        assert_eq!(
            transpose(&[1, 2, 3, 4, 5, 6], &[2, 3], &[1, 0]),
            vec![1, 4, 2, 5, 3, 6]
        );
        // NCHW -> NHWC on 1x2x1x2
        assert_eq!(
            transpose(&[1, 2, 3, 4], &[1, 2, 1, 2], &[0, 2, 3, 1]),
            vec![1, 3, 2, 4]
        );
    }
}
