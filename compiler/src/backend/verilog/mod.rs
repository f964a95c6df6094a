//! The Verilog backend: a fully parallel, pipelined (II = 1) Verilog-2005 design of a
//! fixed-point IR graph.
//!
//! Structure of the output ([`emit`]):
//! - one top module `<top_name>` with the ports of [`aecc_testbench::RtlDesign`], an
//!   input register (stage 1) and a valid shift register (`valid_pipe`) of `latency`
//!   bits, the only registers with a reset;
//! - one module per compute node (`<top_name>_<node>`: Dense, Conv, Quantize, Relu,
//!   Add), which computes every output element combinationally and registers the
//!   result: one pipeline stage per compute node; operands of an `Add` that arrive
//!   early are delayed in the top module;
//! - `Reshape` and `Transpose` are wiring in the top module;
//! - quantizers instantiate a small lane module per channel (`<layer>_lane` or
//!   `<layer>_ch<c>`).
//!
//! Every file holds one module named like the file. Widths are exact from the IR types
//! (see `netlist.rs` for the arithmetic convention), except with every optimisation off
//! (`--no-opt`), where the weight layers are as wide as their operands' types make them
//! (`widths.rs`); the output is deterministic and lint-clean under
//! `verilator --lint-only -Wall`.

mod folded;
mod layers;
mod lowered;
mod movement;
mod netlist;
mod pointwise;
mod pool;
mod quantize;
mod reconfig;
mod requantize;
mod softmax;
mod views;
mod widths;

pub use crate::lower::HardwareOptions;
use aecc_ir::graph::NodeId;
use aecc_ir::{Graph, IrError, Op, TensorInfo};
use aecc_testbench::{Lane, Port, RtlDesign};

use layers::{concat_lanes, LayerLogic};
pub use reconfig::{
    emit_reconfigurable, undeclared_weights, ReconfigDesign, ReconfigOptions, RegisterInfo,
    RegisterKind, RegisterReport, Tmr,
};
use std::collections::{BTreeMap, BTreeSet};
use thiserror::Error;
use views::{
    comment_lines, render_file, unused_sink, DelayView, InputPortView, InstanceView, LayerView,
    NodeView, TopView, WireView,
};

/// Options of the Verilog backend.
#[derive(Debug, Clone, PartialEq)]
pub struct VerilogOptions {
    /// Name of the top module; every other module name starts with it.
    pub top_name: String,
    /// Architecture and optimisations (README "Hardware optimisation"); the default is
    /// the optimised architecture, [`HardwareOptions::baseline`] the reference one.
    pub hardware: HardwareOptions,
}

impl VerilogOptions {
    /// The default (optimised) architecture.
    pub fn new(top_name: impl Into<String>) -> VerilogOptions {
        VerilogOptions {
            top_name: top_name.into(),
            hardware: HardwareOptions::default(),
        }
    }

    /// The reference architecture: one register stage per IR node, `*` operators.
    pub fn baseline(top_name: impl Into<String>) -> VerilogOptions {
        VerilogOptions {
            top_name: top_name.into(),
            hardware: HardwareOptions::baseline(),
        }
    }

    pub fn with_hardware(mut self, hardware: HardwareOptions) -> VerilogOptions {
        self.hardware = hardware;
        self
    }
}

#[derive(Debug, Error)]
pub enum BackendError {
    /// A node the backend cannot build (yet).
    #[error("node {node} ({op}): {message}")]
    Unsupported {
        node: String,
        op: &'static str,
        message: String,
    },
    /// The graph does not have the shape the backend needs.
    #[error("the Verilog backend {0}")]
    Graph(String),
    #[error("invalid top module name {name:?}: {reason}")]
    InvalidName { name: String, reason: String },
    #[error(transparent)]
    Ir(#[from] IrError),
    #[error("rendering a Verilog template: {0}")]
    Template(#[from] askama::Error),
    #[error(transparent)]
    Lower(#[from] crate::lower::LowerError),
    #[error("{0}")]
    Options(String),
}

/// Verilog-2005 and SystemVerilog keywords a module name must avoid.
const KEYWORDS: &[&str] = &[
    "always",
    "and",
    "assign",
    "begin",
    "buf",
    "case",
    "casex",
    "casez",
    "cell",
    "config",
    "default",
    "defparam",
    "design",
    "disable",
    "edge",
    "else",
    "end",
    "endcase",
    "endconfig",
    "endfunction",
    "endgenerate",
    "endmodule",
    "endprimitive",
    "endspecify",
    "endtable",
    "endtask",
    "event",
    "for",
    "force",
    "forever",
    "fork",
    "function",
    "generate",
    "genvar",
    "if",
    "initial",
    "inout",
    "input",
    "integer",
    "join",
    "library",
    "localparam",
    "macromodule",
    "module",
    "nand",
    "negedge",
    "nor",
    "not",
    "or",
    "output",
    "parameter",
    "posedge",
    "reg",
    "release",
    "repeat",
    "signed",
    "specify",
    "table",
    "task",
    "time",
    "tri",
    "unsigned",
    "wait",
    "while",
    "wire",
    "xor",
    "xnor",
    "logic",
    "bit",
    "byte",
    "int",
    "class",
    "interface",
    "package",
    "program",
    "property",
];

fn check_top_name(name: &str) -> Result<(), BackendError> {
    let fail = |reason: &str| {
        Err(BackendError::InvalidName {
            name: name.to_string(),
            reason: reason.to_string(),
        })
    };
    let mut chars = name.chars();
    match chars.next() {
        None => return fail("it is empty"),
        Some(c) if !(c.is_ascii_alphabetic() || c == '_') => {
            return fail("a Verilog identifier starts with a letter or '_'")
        }
        _ => {}
    }
    if !chars.all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return fail("use only letters, digits and '_'");
    }
    if KEYWORDS.contains(&name) {
        return fail("it is a Verilog keyword");
    }
    Ok(())
}

// A Verilog-safe version of an IR node name (letters, digits, `_`): the lowering's.
use crate::lower::build::sanitize;

/// One line of text, safe inside a `//` comment.
fn one_line(text: &str) -> String {
    text.replace(['\n', '\r'], " ")
}

fn lanes_of(info: &TensorInfo) -> Vec<Lane> {
    vec![
        Lane {
            width: info.ty.width,
            signed: info.ty.signed,
        };
        info.len()
    ]
}

fn shape_text(shape: &[usize]) -> String {
    let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    format!("[{}]", dims.join(","))
}

fn tensor_text(info: &TensorInfo) -> String {
    format!("{} {} {}", shape_text(&info.shape), info.ty, info.interval)
}

/// Emits the Verilog design of `graph`: one graph input, one graph output.
pub fn emit(graph: &Graph, opts: &VerilogOptions) -> Result<RtlDesign, BackendError> {
    check_graph(graph, opts)?;
    opts.hardware.validate().map_err(BackendError::Options)?;
    if opts.hardware.optimize {
        match crate::lower::check_lowerable(graph) {
            Ok(()) => {
                let low = crate::lower::lower(graph, &opts.hardware)?;
                return lowered::emit(graph, &low, &opts.top_name);
            }
            // the reference architecture covers every op; folding needs the lowering
            Err(e) if opts.hardware.reuse > 1 => return Err(e.into()),
            Err(_) => {}
        }
    }
    Emitter::new(graph, &opts.top_name, !opts.hardware.optimize).run()
}

/// The checks every design starts with: a valid top name, a verified graph with one
/// input and one output.
fn check_graph(graph: &Graph, opts: &VerilogOptions) -> Result<(), BackendError> {
    check_top_name(&opts.top_name)?;
    aecc_ir::verify::verify(graph)?;
    if graph.inputs().len() != 1 || graph.outputs().len() != 1 {
        return Err(BackendError::Graph(format!(
            "needs exactly one graph input and one graph output, graph {} has {} and {}",
            graph.name,
            graph.inputs().len(),
            graph.outputs().len()
        )));
    }
    Ok(())
}

/// Unique Verilog base names of `order`'s nodes, none equal to a `reserved` name.
fn unique_names(graph: &Graph, order: &[NodeId], reserved: &[&str]) -> BTreeMap<NodeId, String> {
    let mut used: BTreeSet<String> = reserved.iter().map(|r| r.to_string()).collect();
    let mut names = BTreeMap::new();
    for &id in order {
        let base = sanitize(&graph.node(id).name);
        let mut name = base.clone();
        let mut k = 1;
        while !used.insert(name.clone()) {
            k += 1;
            name = format!("{base}_{k}");
        }
        names.insert(id, name);
    }
    names
}

/// Emits the optimised design from an already lowered graph (reports use the same
/// lowering).
pub fn emit_lowered(
    graph: &Graph,
    low: &crate::lower::Lowered,
    opts: &VerilogOptions,
) -> Result<RtlDesign, BackendError> {
    check_graph(graph, opts)?;
    lowered::emit(graph, low, &opts.top_name)
}

struct Emitter<'g> {
    graph: &'g Graph,
    top: String,
    /// Live nodes (the output depends on them), in topological order.
    order: Vec<NodeId>,
    /// Verilog base name of each node (unique).
    names: BTreeMap<NodeId, String>,
    /// Pipeline stage after which each node's tensor is valid (the input: 1).
    stage: BTreeMap<NodeId, u32>,
    /// Delay registers made so far: (node, cycles of delay).
    delays: BTreeSet<(NodeId, u32)>,
    files: Vec<(String, String)>,
    nodes: Vec<NodeView>,
    /// The type each node is built with (`widths`: the IR's, or hls4ml's type bounds).
    infos: BTreeMap<NodeId, TensorInfo>,
}

impl<'g> Emitter<'g> {
    /// `type_bound`: size the weight layers by their operands' types, not by the values
    /// the weights produce (`--no-opt`, see `widths`).
    fn new(graph: &'g Graph, top: &str, type_bound: bool) -> Emitter<'g> {
        let order = graph.live_order().expect("verified graphs are acyclic");
        let names = unique_names(graph, &order, &[]);
        let infos = widths::built_infos(graph, &order, type_bound);
        Emitter {
            infos,
            graph,
            top: top.to_string(),
            order,
            names,
            stage: BTreeMap::new(),
            delays: BTreeSet::new(),
            files: Vec::new(),
            nodes: Vec::new(),
        }
    }

    fn signal(&self, id: NodeId) -> String {
        format!("t_{}", self.names[&id])
    }

    fn run(mut self) -> Result<RtlDesign, BackendError> {
        let graph = self.graph;
        let input = graph.inputs()[0];
        let (out_name, output) = graph.outputs()[0].clone();
        for id in self.order.clone() {
            self.node(id)?;
        }
        let latency = self.stage[&output];
        let in_info = &graph.node(input).out;
        let out_info = &graph.node(output).out;
        let in_w = in_info.ty.width * in_info.len() as u32;
        let out_w = out_info.ty.width * out_info.len() as u32;
        let header = vec![
            format!(
                "{}: generated by aecc from graph \"{}\". Do not edit.",
                self.top,
                one_line(&graph.name)
            ),
            format!(
                "Fully parallel and pipelined: one input per clock (II = 1), latency {latency} cycles."
            ),
            "rst: synchronous, active high; clears the valid pipeline (data registers have no reset)."
                .into(),
            format!(
                "in_data : input {:?}, {} lanes of {} ({} row-major): lane i at bits [{}*i +: {}]",
                one_line(&graph.node(input).name),
                in_info.len(),
                in_info.ty,
                shape_text(&in_info.shape),
                in_info.ty.width,
                in_info.ty.width
            ),
            format!(
                "out_data: output {:?}, {} lanes of {} ({} row-major): lane i at bits [{}*i +: {}]",
                one_line(&out_name),
                out_info.len(),
                out_info.ty,
                shape_text(&out_info.shape),
                out_info.ty.width,
                out_info.ty.width
            ),
        ];
        let view = TopView {
            header,
            module: self.top.clone(),
            in_msb: in_w - 1,
            out_msb: out_w - 1,
            latency,
            latency_msb: latency - 1,
            valid_next: if latency == 1 {
                "in_valid".into()
            } else {
                format!("{{valid_pipe[{}:0], in_valid}}", latency - 2)
            },
            input_reg: self.signal(input),
            nodes: std::mem::take(&mut self.nodes),
            output: self.signal(output),
        };
        let mut files = vec![(format!("{}.v", self.top), render_file(&view)?)];
        files.append(&mut self.files);
        Ok(RtlDesign {
            top: self.top.clone(),
            files,
            inputs: vec![Port {
                name: "in_data".into(),
                lanes: lanes_of(in_info),
            }],
            outputs: vec![Port {
                name: "out_data".into(),
                lanes: lanes_of(out_info),
            }],
            latency,
            initiation_interval: 1,
        })
    }

    /// `signal` of `operand` delayed by `cycles` (making the delay registers).
    fn delayed(&mut self, operand: NodeId, cycles: u32, out: &mut Vec<DelayView>) -> String {
        let base = self.signal(operand);
        let info = &self.infos[&operand];
        let msb = info.ty.width * info.len() as u32 - 1;
        for k in 1..=cycles {
            if self.delays.insert((operand, k)) {
                out.push(DelayView {
                    name: format!("{base}_d{k}"),
                    msb,
                    source: if k == 1 {
                        base.clone()
                    } else {
                        format!("{base}_d{}", k - 1)
                    },
                });
            }
        }
        if cycles == 0 {
            base
        } else {
            format!("{base}_d{cycles}")
        }
    }

    fn node(&mut self, id: NodeId) -> Result<(), BackendError> {
        let graph = self.graph;
        let node = graph.node(id);
        let operands = graph.operands(id);
        if let Op::Input { .. } = node.op {
            self.stage.insert(id, 1);
            return Ok(());
        }
        let operand_infos: Vec<TensorInfo> =
            operands.iter().map(|o| self.infos[o].clone()).collect();
        let infos: Vec<&TensorInfo> = operand_infos.iter().collect();
        let out = &self.infos[&id].clone();
        let msb = out.ty.width * out.len() as u32 - 1;
        let ready = operands.iter().map(|o| self.stage[o]).max().unwrap_or(1);
        let mut comment = vec![format!(
            "{} ({}), from {}: {}",
            self.names[&id],
            node.op.name(),
            one_line(&node.origin),
            tensor_text(out)
        )];
        let attrs = aecc_ir::printer::attributes(&node.op);
        if !attrs.is_empty() {
            comment.push(one_line(&attrs));
        }
        // Wiring: same stage as the operand.
        let wiring = match &node.op {
            Op::Reshape { .. } => Some(self.signal(operands[0])),
            Op::Transpose { perm } => Some(self.transpose(operands[0], infos[0], perm)),
            Op::Select(sel) if movement::reads_every_lane(sel, infos[0].len()) => {
                Some(concat_lanes(&movement::select_lanes(
                    &self.signal(operands[0]),
                    infos[0],
                    sel,
                    out,
                )))
            }
            // (only when no input bit is dropped: the top module has no unused sink)
            Op::Affine(a)
                if a.mul.iter().all(|&m| m == 1)
                    && a.add.iter().all(|&k| k == 0)
                    && out.ty.width >= infos[0].ty.width =>
            {
                Some(concat_lanes(&movement::retyped_lanes(
                    &self.signal(operands[0]),
                    infos[0],
                    out,
                )))
            }
            _ => None,
        };
        if let Some(expr) = wiring {
            comment[0].push_str(" (wiring)");
            self.stage.insert(id, ready);
            self.nodes.push(NodeView {
                comment,
                name: self.signal(id),
                msb,
                delays: Vec::new(),
                wiring: Some(expr),
                instance: None,
            });
            return Ok(());
        }

        let stage = ready + 1;
        self.stage.insert(id, stage);
        comment[0].push_str(&format!(", register stage {stage}"));
        let module = format!("{}_{}", self.top, self.names[&id]);
        let logic = match &node.op {
            Op::Dense(_) | Op::Conv(_) => {
                let map = node
                    .op
                    .linear_map(infos[0])
                    .expect("dense and conv have a linear map");
                layers::linear(&map, infos[0], out)
            }
            op => layers::elementwise(op, &module, &infos, out, &node.name)?,
        };
        let port_names: Vec<String> = match (&node.op, operands.len()) {
            (Op::Concat { .. }, n) => (0..n).map(|k| format!("in{k}_data")).collect(),
            (_, 2) => vec!["a_data".into(), "b_data".into()],
            _ => vec!["in_data".into()],
        };
        let mut delays = Vec::new();
        let mut connections = vec![".clk(clk)".to_string()];
        for (k, &o) in operands.iter().enumerate() {
            let signal = self.delayed(o, ready - self.stage[&o], &mut delays);
            connections.push(format!(".{}({signal})", port_names[k]));
        }
        connections.push(format!(".out_data({})", self.signal(id)));

        let mut header = vec![
            format!(
                "{module}: {} layer of {}, from {}",
                node.op.name(),
                self.top,
                one_line(&node.origin)
            ),
            format!("IR node {}", one_line(&node.name)),
        ];
        if !attrs.is_empty() {
            header.push(one_line(&attrs));
        }
        for (k, info) in infos.iter().enumerate() {
            header.push(format!("{:<8}: {}", port_names[k], tensor_text(info)));
        }
        header.push(format!(
            "out_data: {} (registered); lane i at bits [{}*i +: {}]",
            tensor_text(out),
            out.ty.width,
            out.ty.width
        ));
        let LayerLogic {
            body,
            instances,
            lanes,
            submodules,
        } = logic;
        let view = LayerView {
            header,
            module: module.clone(),
            inputs: infos
                .iter()
                .enumerate()
                .map(|(k, info)| InputPortView {
                    name: port_names[k].to_string(),
                    msb: info.ty.width * info.len() as u32 - 1,
                })
                .collect(),
            out_msb: msb,
            wires: body.wires.iter().map(WireView::from).collect(),
            instances,
            unused: unused_sink(&body),
            out_expr: concat_lanes(&lanes),
        };
        self.files
            .push((format!("{module}.v"), render_file(&view)?));
        for (name, text) in submodules {
            self.files.push((format!("{name}.v"), text));
        }
        self.nodes.push(NodeView {
            comment: comment.iter().flat_map(|c| comment_lines(c)).collect(),
            name: self.signal(id),
            msb,
            delays,
            wiring: None,
            instance: Some(InstanceView {
                module,
                name: format!("u_{}", self.names[&id]),
                connections: connections.join(", "),
            }),
        });
        Ok(())
    }

    /// The lane permutation of a transpose, as a concatenation of operand lanes.
    fn transpose(&self, operand: NodeId, x: &TensorInfo, perm: &[usize]) -> String {
        transpose_lanes(&self.signal(operand), x, perm)
    }
}

/// The lanes of `src` (tensor `x`) permuted by a transpose, as a concatenation.
fn transpose_lanes(src: &str, x: &TensorInfo, perm: &[usize]) -> String {
    let w = x.ty.width as usize;
    let lanes: Vec<String> = crate::lower::build::transpose_sources(&x.shape, perm)
        .into_iter()
        .map(|flat| {
            if w == 1 {
                format!("{src}[{flat}]")
            } else {
                format!("{src}[{}:{}]", (flat + 1) * w - 1, flat * w)
            }
        })
        .collect();
    concat_lanes(&lanes)
}
