//! Reconfigurable weights (`--weights registers`) and triple modular redundancy
//! (`--tmr config|all`).
//!
//! Structure of the output ([`emit_reconfigurable`]):
//! - the top module `<top>` has the ports of [`aecc_testbench::RtlDesign`] plus the
//!   configuration port `cfg_we`, `cfg_addr`, `cfg_data` (see
//!   [`aecc_testbench::ConfiguredDesign`]), and in test builds the fault-injection port
//!   `seu_en`, `seu_bit`;
//! - `<top>_config`: the configuration register file, one register per word of the
//!   [`MemoryMap`], its output `fields` = every used bit, word 0 first;
//! - one purely combinational module per compute node (`<top>_<node>`); `Dense`/`Conv`
//!   take their weights and biases from `fields` and multiply with real multipliers
//!   (see `linear.rs`), folded over `reuse` cycles when asked;
//! - every register of the design (configuration words, input register, one register
//!   stage per compute node, operand delays, accumulators, the valid pipeline) is an
//!   instance of `<top>_reg` (one copy) or `<top>_tmr_reg` (three copies with
//!   `(* keep *)` and a bitwise majority voter): `--tmr config` triplicates the
//!   configuration words, `--tmr all` every register. A triplicated configuration word
//!   is scrubbed: every cycle each copy reloads the voted value (or the port's write),
//!   so an upset lasts at most one cycle and upsets cannot accumulate.
//!
//! With `reuse = R > 1` a layer with `T` taps per output has `ceil(T / R)` multipliers
//! per output and takes `min(R, T)` cycles; a new input may come every `R` cycles
//! (initiation interval `R`; `in_valid` more often is not allowed). The input register
//! then loads only on `in_valid`, so every stage's data stays put for `R` cycles; the
//! valid pipeline's bits are the fold phases.

mod linear;
mod views;

use super::layers::{self, concat_lanes};
use super::netlist::wrap_list;
use super::views::{
    comment_lines, render_file, unused_sink, InputPortView, InstanceView, WireView,
};
use super::{
    check_graph, lanes_of, one_line, shape_text, tensor_text, transpose_lanes, unique_names,
    BackendError, VerilogOptions,
};
use crate::weights::{weight_nodes, MappedTensor, MemoryMap, TensorRole};
use aecc_ir::graph::NodeId;
use aecc_ir::{ConstTensor, FixedType, Graph, Interval, Op, TensorInfo};
use aecc_testbench::{ConfigPort, ConfiguredDesign, Port, RtlDesign, SeuPort};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use views::{
    CombView, ConfigView, OutputPortView, RegView, SeuView, TmrRegView, TopItem, TopView, WordView,
};

/// Which registers are triplicated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Tmr {
    /// No triplication.
    #[default]
    None,
    /// Configuration (weight) registers: three copies, majority vote, scrubbing.
    Config,
    /// Configuration and pipeline registers.
    All,
}

impl std::str::FromStr for Tmr {
    type Err = String;
    fn from_str(s: &str) -> Result<Tmr, String> {
        match s {
            "none" => Ok(Tmr::None),
            "config" => Ok(Tmr::Config),
            "all" => Ok(Tmr::All),
            _ => Err(format!("unknown TMR level {s:?} (none, config, all)")),
        }
    }
}

impl std::fmt::Display for Tmr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Tmr::None => "none",
            Tmr::Config => "config",
            Tmr::All => "all",
        })
    }
}

/// Options of the reconfigurable-weights design.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReconfigOptions {
    pub tmr: Tmr,
    /// Configuration word width (`cfg_data`), 1 to 64.
    pub word_width: u32,
    /// Cycles each multiplier is reused for (1: fully parallel, a new input every clock).
    pub reuse: u32,
    /// Test builds: add the fault-injection port `seu_en`/`seu_bit`.
    pub seu_port: bool,
}

impl Default for ReconfigOptions {
    fn default() -> ReconfigOptions {
        ReconfigOptions {
            tmr: Tmr::None,
            word_width: 32,
            reuse: 1,
            seu_port: false,
        }
    }
}

/// What a register holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RegisterKind {
    Config,
    Pipeline,
}

/// One register instance of the design.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RegisterInfo {
    /// Instance path below the top module (`u_config.u_word3`).
    pub path: String,
    pub kind: RegisterKind,
    /// Bits of one copy.
    pub width: u32,
    /// 1, or 3 when triplicated.
    pub copies: u32,
    /// Fault-injection number (`seu_bit`) of bit 0 of copy 0; copy `k` bit `b` is
    /// `first_bit + k * width + b`.
    pub first_bit: u32,
}

/// Every register of the design, configuration registers first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RegisterReport {
    pub registers: Vec<RegisterInfo>,
}

impl RegisterReport {
    /// Register bits of `kind`, counting every copy.
    pub fn bits(&self, kind: RegisterKind) -> u32 {
        self.registers
            .iter()
            .filter(|r| r.kind == kind)
            .map(|r| r.width * r.copies)
            .sum()
    }

    /// Every register bit, counting every copy (the `seu_bit` range).
    pub fn total_bits(&self) -> u32 {
        self.registers.iter().map(|r| r.width * r.copies).sum()
    }
}

/// A design with reconfigurable weights.
#[derive(Debug, Clone)]
pub struct ReconfigDesign {
    pub design: ConfiguredDesign,
    pub map: MemoryMap,
    pub registers: RegisterReport,
    pub tmr: Tmr,
    /// Multipliers in the datapath.
    pub multipliers: usize,
}

/// Emits the design of `graph` with weights in configuration registers.
pub fn emit_reconfigurable(
    graph: &Graph,
    opts: &VerilogOptions,
    r: &ReconfigOptions,
) -> Result<ReconfigDesign, BackendError> {
    check_graph(graph, opts)?;
    if r.reuse == 0 {
        return Err(BackendError::Graph(
            "needs a reuse factor of at least 1".into(),
        ));
    }
    let map =
        MemoryMap::new(graph, r.word_width).map_err(|e| BackendError::Graph(e.to_string()))?;
    if map.tensors.is_empty() {
        return Err(BackendError::Graph(format!(
            "has no weights to put in registers: graph {} has no Dense or Conv layer",
            graph.name
        )));
    }
    let order = graph.live_order()?;
    let names = unique_names(graph, &order, &["config", "reg", "tmr_reg"]);
    let e = Emitter {
        graph,
        top: opts.top_name.clone(),
        r: r.clone(),
        order,
        names,
        hw: BTreeMap::new(),
        stage: BTreeMap::new(),
        delays: BTreeSet::new(),
        files: Vec::new(),
        items: Vec::new(),
        registers: Vec::new(),
        map,
        multipliers: 0,
        fields_width: 0,
    };
    e.run()
}

struct Emitter<'g> {
    graph: &'g Graph,
    top: String,
    r: ReconfigOptions,
    order: Vec<NodeId>,
    names: BTreeMap<NodeId, String>,
    /// The hardware tensor of each node: types hold any weights the registers can hold.
    hw: BTreeMap<NodeId, TensorInfo>,
    stage: BTreeMap<NodeId, u32>,
    delays: BTreeSet<(NodeId, u32)>,
    files: Vec<(String, String)>,
    items: Vec<TopItem>,
    registers: Vec<RegisterInfo>,
    map: MemoryMap,
    multipliers: usize,
    fields_width: u32,
}

/// `op` with weight `k` replaced by `k + 1` and bias `m` by `m + 1`: its linear map's
/// terms then name the register each product reads.
fn index_op(op: &Op) -> Op {
    let mut op = op.clone();
    let number = |t: &mut ConstTensor| {
        for (k, v) in t.data.iter_mut().enumerate() {
            *v = k as i64 + 1;
        }
    };
    match &mut op {
        Op::Dense(d) => {
            number(&mut d.weight);
            d.bias.as_mut().map(number);
        }
        Op::Conv(c) => {
            number(&mut c.weight);
            c.bias.as_mut().map(number);
        }
        _ => {}
    }
    op
}

/// The lanes of a register tensor as a [`TensorInfo`] (full register range).
fn register_info(t: &MappedTensor) -> TensorInfo {
    let ty = t.register_type();
    TensorInfo {
        shape: vec![t.len()],
        ty,
        interval: ty.range(),
        unit: t.unit,
    }
}

fn range_text(iv: Interval) -> String {
    iv.to_string()
}

impl Emitter<'_> {
    fn signal(&self, id: NodeId) -> String {
        format!("t_{}", self.names[&id])
    }

    fn tmr_for(&self, kind: RegisterKind) -> bool {
        match kind {
            RegisterKind::Config => self.r.tmr != Tmr::None,
            RegisterKind::Pipeline => self.r.tmr == Tmr::All,
        }
    }

    /// An instance of the register primitive, numbered for fault injection.
    #[allow(clippy::too_many_arguments)]
    fn register(
        &mut self,
        kind: RegisterKind,
        path: String,
        instance: &str,
        width: u32,
        en: &str,
        d: &str,
        q: &str,
        flip_bus: &str,
    ) -> InstanceView {
        let tmr = self.tmr_for(kind);
        let copies = if tmr { 3 } else { 1 };
        let first_bit = self
            .registers
            .iter()
            .map(|r| r.width * r.copies)
            .sum::<u32>();
        self.registers.push(RegisterInfo {
            path,
            kind,
            width,
            copies,
            first_bit,
        });
        let mut connections = vec![
            ".clk(clk)".to_string(),
            format!(".en({en})"),
            format!(".d({d})"),
        ];
        if self.r.seu_port {
            let hi = first_bit + width * copies - 1;
            connections.push(format!(".flip({flip_bus}[{hi}:{first_bit}])"));
        }
        connections.push(format!(".q({q})"));
        InstanceView {
            module: format!(
                "{}_{} #(.W({width}))",
                self.top,
                if tmr { "tmr_reg" } else { "reg" }
            ),
            name: instance.to_string(),
            connections: connections.join(", "),
        }
    }

    fn run(mut self) -> Result<ReconfigDesign, BackendError> {
        let graph = self.graph;
        let input = graph.inputs()[0];
        let (out_name, output) = graph.outputs()[0].clone();
        self.config_file()?;
        for id in self.order.clone() {
            self.node(id)?;
        }
        let latency = self.stage[&output];
        let ii = self.r.reuse;
        // the valid pipeline: bit k-1 high when stage k holds a new vector
        let next = if latency == 1 {
            "in_valid".to_string()
        } else {
            format!("{{valid_pipe[{}:0], in_valid}}", latency - 2)
        };
        let d = format!("rst ? {latency}'d0 : {next}");
        let valid = self.register(
            RegisterKind::Pipeline,
            "v_pipe".into(),
            "v_pipe",
            latency,
            "1'b1",
            &d,
            "valid_pipe",
            "seu_flip",
        );
        self.items.insert(
            1,
            TopItem {
                comment: vec![
                    "valid pipeline: bit k-1 is high while stage k holds a new vector; the \
                     only register with a reset (synchronous, active high)"
                        .into(),
                ],
                wires: vec![WireView {
                    comment: Vec::new(),
                    name: "valid_pipe".into(),
                    msb: latency - 1,
                    expr: None,
                }],
                instances: vec![valid],
            },
        );

        let in_info = self.hw[&input].clone();
        let out_info = self.hw[&output].clone();
        let in_w = in_info.ty.width * in_info.len() as u32;
        let out_w = out_info.ty.width * out_info.len() as u32;
        let registers = RegisterReport {
            registers: std::mem::take(&mut self.registers),
        };
        let total_bits = registers.total_bits();
        let seu_index_width = (32 - total_bits.saturating_sub(1).leading_zeros()).max(1);
        let header = self.top_header(&out_name, &in_info, &out_info, latency, &registers);
        let view = TopView {
            header,
            module: self.top.clone(),
            in_msb: in_w - 1,
            out_msb: out_w - 1,
            addr_msb: self.map.addr_width - 1,
            data_msb: self.map.word_width - 1,
            seu: self.r.seu_port.then(|| SeuView {
                index_msb: seu_index_width - 1,
                bits_msb: total_bits - 1,
                one: if total_bits == 1 {
                    "seu_en".into()
                } else {
                    format!("{{{}'d0, seu_en}}", total_bits - 1)
                },
            }),
            items: std::mem::take(&mut self.items),
            out_valid: format!("valid_pipe[{}]", latency - 1),
            output: self.signal(output),
        };
        let mut files = vec![(format!("{}.v", self.top), render_file(&view)?)];
        let used_plain = registers.registers.iter().any(|r| r.copies == 1);
        let used_tmr = registers.registers.iter().any(|r| r.copies == 3);
        if used_plain {
            let module = format!("{}_reg", self.top);
            let view = RegView {
                header: vec![
                    format!("{module}: a register of W bits with enable (no reset), one copy."),
                    format!("Generated by aecc for {}. Do not edit.", self.top),
                ],
                module: module.clone(),
                seu: self.r.seu_port,
            };
            files.push((format!("{module}.v"), render_file(&view)?));
        }
        if used_tmr {
            let module = format!("{}_tmr_reg", self.top);
            let view = TmrRegView {
                header: vec![
                    format!(
                        "{module}: a register of W bits with enable (no reset), triplicated \
                         with a bitwise majority voter (TMR)."
                    ),
                    "A single upset in one copy never reaches q. Configuration words use it \
                     with d = we ? cfg_data : q (scrubbing: each copy reloads the voted value \
                     every cycle)."
                        .into(),
                    format!("Generated by aecc for {}. Do not edit.", self.top),
                ],
                module: module.clone(),
                seu: self.r.seu_port,
            };
            files.push((format!("{module}.v"), render_file(&view)?));
        }
        files.append(&mut self.files);
        let rtl = RtlDesign {
            top: self.top.clone(),
            files,
            inputs: vec![Port {
                name: "in_data".into(),
                lanes: lanes_of(&in_info),
            }],
            outputs: vec![Port {
                name: "out_data".into(),
                lanes: lanes_of(&out_info),
            }],
            latency,
            initiation_interval: ii,
        };
        Ok(ReconfigDesign {
            design: ConfiguredDesign {
                rtl,
                config: ConfigPort {
                    addr_width: self.map.addr_width,
                    data_width: self.map.word_width,
                },
                seu: self.r.seu_port.then_some(SeuPort {
                    bits: total_bits,
                    index_width: seu_index_width,
                }),
                initiation_interval: ii,
            },
            map: self.map,
            registers,
            tmr: self.r.tmr,
            multipliers: self.multipliers,
        })
    }

    fn top_header(
        &self,
        out_name: &str,
        in_info: &TensorInfo,
        out_info: &TensorInfo,
        latency: u32,
        registers: &RegisterReport,
    ) -> Vec<String> {
        let map = &self.map;
        let mut h = vec![
            format!(
                "{}: generated by aecc from graph \"{}\" with reconfigurable weights. Do not edit.",
                self.top,
                one_line(&self.graph.name)
            ),
            if self.r.reuse == 1 {
                format!(
                    "Fully parallel and pipelined: one input per clock (II = 1), latency {latency} cycles."
                )
            } else {
                format!(
                    "Multipliers reused {} times: one input every {} clocks at most (II = {}; \
                     in_valid more often is not allowed), latency {latency} cycles.",
                    self.r.reuse, self.r.reuse, self.r.reuse
                )
            },
            "rst: synchronous, active high; clears the valid pipeline (data and configuration \
             registers have no reset: write the whole image after power-up)."
                .into(),
            format!(
                "in_data : input {:?}, {} lanes of {} ({} row-major): lane i at bits [{}*i +: {}]",
                one_line(&self.graph.node(self.graph.inputs()[0]).name),
                in_info.len(),
                in_info.ty,
                shape_text(&in_info.shape),
                in_info.ty.width,
                in_info.ty.width
            ),
            format!(
                "out_data: output {:?}, {} lanes of {} ({} row-major): lane i at bits [{}*i +: {}]",
                one_line(out_name),
                out_info.len(),
                out_info.ty,
                shape_text(&out_info.shape),
                out_info.ty.width,
                out_info.ty.width
            ),
            format!(
                "Configuration port: at a rising edge with cfg_we high, word cfg_addr \
                 ({} bits) takes cfg_data ({} bits); {} words (addresses 0..{}), others are \
                 ignored. The new weights act from the next cycle.",
                map.addr_width,
                map.word_width,
                map.words,
                map.words.saturating_sub(1)
            ),
            format!(
                "Memory map: see {}_config.v and config/memory_map.json. TMR: {} ({} \
                 configuration register bits, {} pipeline register bits, copies included).",
                self.top,
                self.r.tmr,
                registers.bits(RegisterKind::Config),
                registers.bits(RegisterKind::Pipeline)
            ),
        ];
        if self.r.seu_port {
            h.push(
                "TEST BUILD: has the fault-injection port seu_en/seu_bit; do not synthesize."
                    .into(),
            );
        }
        h
    }

    /// The configuration register file `<top>_config` and its instance.
    fn config_file(&mut self) -> Result<(), BackendError> {
        let map = self.map.clone();
        let module = format!("{}_config", self.top);
        let used = map.used_bits();
        let w = map.word_width;
        let mut starts: BTreeMap<u32, Vec<&MappedTensor>> = BTreeMap::new();
        for t in &map.tensors {
            starts.entry(t.first_word).or_default().push(t);
        }
        let tmr = self.tmr_for(RegisterKind::Config);
        let mut words = Vec::new();
        let mut lanes = Vec::new();
        for (a, &u) in used.iter().enumerate() {
            let a = a as u32;
            let comment = starts
                .get(&a)
                .map(|ts| {
                    ts.iter()
                        .map(|t| {
                            format!(
                                "{} ({}): {} of {}{}.{}, {}, words {}..{}",
                                one_line(&t.label()),
                                one_line(&t.origin),
                                shape_text(&t.shape),
                                if t.signed { 's' } else { 'u' },
                                t.width,
                                t.frac,
                                if t.per_word > 0 {
                                    format!("{} per word", t.per_word)
                                } else {
                                    format!("{} words each", t.words_per_element)
                                },
                                t.first_word,
                                t.first_word + t.words - 1
                            )
                        })
                        .collect()
                })
                .unwrap_or_default();
            let data = if u == w {
                "cfg_data".to_string()
            } else if u == 1 {
                "cfg_data[0]".to_string()
            } else {
                format!("cfg_data[{}:0]", u - 1)
            };
            let (en, d) = if tmr {
                ("1'b1".to_string(), format!("we{a} ? {data} : word{a}"))
            } else {
                (format!("we{a}"), data)
            };
            let instance = self.register(
                RegisterKind::Config,
                format!("u_config.u_word{a}"),
                &format!("u_word{a}"),
                u,
                &en,
                &d,
                &format!("word{a}"),
                "flip",
            );
            words.push(WordView {
                comment,
                address: a,
                address_literal: format!("{}'d{a}", map.addr_width),
                msb: u - 1,
                instance,
            });
            lanes.push(format!("word{a}"));
        }
        let max_used = used.iter().copied().max().unwrap_or(0);
        let config_bits: u32 = self.registers.iter().map(|r| r.width * r.copies).sum();
        self.fields_width = used.iter().sum();
        let mut header = vec![
            format!(
                "{module}: configuration register file of {} ({} words of {} bits, TMR {}).",
                self.top,
                map.words,
                w,
                if tmr { "with scrubbing" } else { "off" }
            ),
            "Memory map: every tensor starts at a new word; element e (row-major order of the \
             IR tensor) holds the two's complement of its integer code in the tensor's width."
                .into(),
            "Narrow elements are packed per_word to a word at bits [(e % per_word)*width +: \
             width] of word first + e / per_word; wide ones take consecutive words, least \
             significant first."
                .into(),
            "fields = every used bit, word 0 first (the packed weight bus of the layers).".into(),
        ];
        for t in &map.tensors {
            header.push(format!(
                "  {:>5}..{:<5} {} {} {}{}.{} range {} (fields [{}+:{}])",
                t.first_word,
                t.first_word + t.words - 1,
                one_line(&t.label()),
                shape_text(&t.shape),
                if t.signed { 's' } else { 'u' },
                t.width,
                t.frac,
                range_text(Interval::new(t.min as i128, t.max as i128)),
                t.bus_offset,
                t.len() as u32 * t.width
            ));
        }
        let view = ConfigView {
            header,
            module: module.clone(),
            addr_msb: map.addr_width - 1,
            data_msb: w - 1,
            flip_msb: self.r.seu_port.then(|| config_bits - 1),
            fields_msb: self.fields_width - 1,
            words,
            unused: (max_used < w).then(|| {
                if max_used + 1 == w {
                    format!("cfg_data[{}]", w - 1)
                } else {
                    format!("cfg_data[{}:{}]", w - 1, max_used)
                }
            }),
            fields_expr: concat_lanes(&lanes),
        };
        self.files
            .push((format!("{module}.v"), render_file(&view)?));
        let mut connections = vec![
            ".clk(clk)".to_string(),
            ".cfg_we(cfg_we)".into(),
            ".cfg_addr(cfg_addr)".into(),
            ".cfg_data(cfg_data)".into(),
        ];
        if self.r.seu_port {
            connections.push(format!(".flip(seu_flip[{}:0])", config_bits - 1));
        }
        connections.push(".fields(cfg_fields)".into());
        self.items.push(TopItem {
            comment: vec![format!(
                "configuration register file: {} words, {} weight and bias bits",
                map.words, self.fields_width
            )],
            wires: vec![WireView {
                comment: Vec::new(),
                name: "cfg_fields".into(),
                msb: self.fields_width - 1,
                expr: None,
            }],
            instances: vec![InstanceView {
                module,
                name: "u_config".into(),
                connections: connections.join(", "),
            }],
        });
        Ok(())
    }

    /// `signal` of `operand` delayed by `cycles` (making the delay registers).
    fn delayed(&mut self, operand: NodeId, cycles: u32, item: &mut TopItem) -> String {
        let base = self.signal(operand);
        let info = &self.hw[&operand];
        let width = info.ty.width * info.len() as u32;
        for k in 1..=cycles {
            if self.delays.insert((operand, k)) {
                let name = format!("dly{k}_{base}");
                let source = if k == 1 {
                    base.clone()
                } else {
                    format!("dly{}_{base}", k - 1)
                };
                item.wires.push(WireView {
                    comment: Vec::new(),
                    name: name.clone(),
                    msb: width - 1,
                    expr: None,
                });
                let inst = self.register(
                    RegisterKind::Pipeline,
                    format!("q_{name}"),
                    &format!("q_{name}"),
                    width,
                    "1'b1",
                    &source,
                    &name,
                    "seu_flip",
                );
                item.instances.push(inst);
            }
        }
        if cycles == 0 {
            base
        } else {
            format!("dly{cycles}_{base}")
        }
    }

    /// The worst-case output tensor of a weight layer on input `x`.
    fn layer_hw(&self, id: NodeId, x: &TensorInfo) -> (TensorInfo, aecc_ir::LinearMap) {
        let node = self.graph.node(id);
        let imap = index_op(&node.op)
            .linear_map(x)
            .expect("dense and conv have a linear map");
        let tensors = self.map.layer(&node.name);
        let w = register_info(tensors[0]).interval;
        let b = tensors.get(1).map(|t| register_info(t).interval);
        let lanes = linear::lane_intervals(&imap, x, w, b);
        let iv = lanes
            .into_iter()
            .reduce(Interval::hull)
            .unwrap_or(Interval::point(0));
        // the scale unit (the product of the input's and the weights') does not depend
        // on the values in the registers
        (
            TensorInfo::exact(node.out.shape.clone(), iv, imap.grid.frac).with_unit(node.out.unit),
            imap,
        )
    }

    fn node(&mut self, id: NodeId) -> Result<(), BackendError> {
        let graph = self.graph;
        let node = graph.node(id);
        let operands = graph.operands(id);
        let name = self.names[&id].clone();
        if let Op::Input { .. } = node.op {
            self.hw.insert(id, node.out.clone());
            self.stage.insert(id, 1);
            let width = node.out.ty.width * node.out.len() as u32;
            let signal = self.signal(id);
            let en = if self.r.reuse > 1 { "in_valid" } else { "1'b1" };
            let inst = self.register(
                RegisterKind::Pipeline,
                format!("q_{name}"),
                &format!("q_{name}"),
                width,
                en,
                "in_data",
                &signal,
                "seu_flip",
            );
            self.items.push(TopItem {
                comment: vec![format!(
                    "stage 1: input register{}",
                    if self.r.reuse > 1 {
                        " (loads on in_valid, holds for the folded layers)"
                    } else {
                        ""
                    }
                )],
                wires: vec![WireView {
                    comment: Vec::new(),
                    name: signal,
                    msb: width - 1,
                    expr: None,
                }],
                instances: vec![inst],
            });
            return Ok(());
        }
        let infos: Vec<TensorInfo> = operands.iter().map(|o| self.hw[o].clone()).collect();
        let info_refs: Vec<&TensorInfo> = infos.iter().collect();
        let is_layer = matches!(node.op, Op::Dense(_) | Op::Conv(_));
        let (out, imap) = if is_layer {
            let (o, m) = self.layer_hw(id, &infos[0]);
            (o, Some(m))
        } else {
            let o = node
                .op
                .infer(&info_refs)
                .map_err(|message| BackendError::Unsupported {
                    node: node.name.clone(),
                    op: node.op.name(),
                    message: format!(
                        "with weights in registers its input holds every value the registers                          allow, not only the compiled weights' ({message})"
                    ),
                })?;
            (o, None)
        };
        self.hw.insert(id, out.clone());
        let msb = out.ty.width * out.len() as u32 - 1;
        let ready = operands.iter().map(|o| self.stage[o]).max().unwrap_or(1);
        let mut comment = vec![format!(
            "{name} ({}), from {}: {}",
            node.op.name(),
            one_line(&node.origin),
            tensor_text(&out)
        )];
        let wiring = match &node.op {
            Op::Reshape { .. } => Some(self.signal(operands[0])),
            Op::Transpose { perm } => {
                Some(transpose_lanes(&self.signal(operands[0]), &infos[0], perm))
            }
            _ => None,
        };
        if let Some(expr) = wiring {
            comment[0].push_str(" (wiring)");
            self.stage.insert(id, ready);
            self.items.push(TopItem {
                comment,
                wires: vec![WireView {
                    comment: Vec::new(),
                    name: self.signal(id),
                    msb,
                    expr: Some(expr),
                }],
                instances: Vec::new(),
            });
            return Ok(());
        }

        let module = format!("{}_{}", self.top, name);
        let mut item = TopItem {
            comment: Vec::new(),
            wires: Vec::new(),
            instances: Vec::new(),
        };
        let port_names: Vec<String> = match (&node.op, operands.len()) {
            (Op::Concat { .. }, n) => (0..n).map(|k| format!("in{k}_data")).collect(),
            (_, 2) => vec!["a_data".into(), "b_data".into()],
            _ => vec!["in_data".into()],
        };
        let mut connections = Vec::new();
        let mut inputs = Vec::new();
        for (k, &o) in operands.iter().enumerate() {
            let signal = self.delayed(o, ready - self.stage[&o], &mut item);
            connections.push(format!(".{}({signal})", port_names[k]));
            inputs.push(InputPortView {
                name: port_names[k].to_string(),
                msb: infos[k].ty.width * infos[k].len() as u32 - 1,
            });
        }
        let mut header = vec![
            format!(
                "{module}: {} layer of {}, from {} (combinational; registered in {})",
                node.op.name(),
                self.top,
                one_line(&node.origin),
                self.top
            ),
            format!("IR node {}", one_line(&node.name)),
        ];
        for (k, info) in infos.iter().enumerate() {
            header.push(format!("{:<8}: {}", port_names[k], tensor_text(info)));
        }
        let comb = format!("c_{name}");
        let mut outputs = Vec::new();
        let (logic, stage, out_en) = if let Some(imap) = imap {
            let tensors: Vec<MappedTensor> =
                self.map.layer(&node.name).into_iter().cloned().collect();
            let taps = imap.rows.iter().map(|r| r.terms.len()).max().unwrap_or(1);
            let fold = (self.r.reuse as usize).min(taps).max(1) as u32;
            let w_info = register_info(&tensors[0]);
            let b_info = tensors.get(1).map(register_info);
            let built = linear::linear(&imap, &infos[0], &w_info, b_info.as_ref(), &out, fold);
            self.multipliers += built.multipliers;
            for t in &tensors {
                let lo = t.bus_offset;
                let hi = lo + t.len() as u32 * t.width - 1;
                let port = match t.role {
                    TensorRole::Weight => "w_data",
                    TensorRole::Bias => "b_data",
                };
                connections.push(format!(".{port}(cfg_fields[{hi}:{lo}])"));
                inputs.push(InputPortView {
                    name: port.into(),
                    msb: hi - lo,
                });
                header.push(format!(
                    "{port:<8}: {} {} {}{}.{} registers (configuration words {}..{})",
                    t.label(),
                    shape_text(&t.shape),
                    if t.signed { 's' } else { 'u' },
                    t.width,
                    t.frac,
                    t.first_word,
                    t.first_word + t.words - 1
                ));
            }
            header.push(format!(
                "{} multipliers{}",
                built.multipliers,
                if fold > 1 {
                    format!(
                        ", each used in {fold} phases (phase = one-hot, from the valid pipeline)"
                    )
                } else {
                    String::new()
                }
            ));
            let stage = ready + fold;
            if let Some((acc_w, acc_iv)) = built.acc {
                let acc_bits = acc_w * out.len() as u32;
                let acc = format!("a_{name}");
                let next = format!("n_{name}");
                connections.push(format!(
                    ".phase(valid_pipe[{}:{}])",
                    ready + fold - 2,
                    ready - 1
                ));
                connections.push(format!(".acc_data({acc})"));
                connections.push(format!(".acc_next({next})"));
                inputs.push(InputPortView {
                    name: "phase".into(),
                    msb: fold - 1,
                });
                inputs.push(InputPortView {
                    name: "acc_data".into(),
                    msb: acc_bits - 1,
                });
                outputs.push(OutputPortView {
                    name: "acc_next".into(),
                    msb: acc_bits - 1,
                    expr: concat_lanes(&built.acc_lanes),
                });
                header.push(format!(
                    "acc_data: accumulators, {} lanes of {} bits {}",
                    out.len(),
                    acc_w,
                    acc_iv
                ));
                item.wires.push(WireView {
                    comment: Vec::new(),
                    name: acc.clone(),
                    msb: acc_bits - 1,
                    expr: None,
                });
                item.wires.push(WireView {
                    comment: Vec::new(),
                    name: next.clone(),
                    msb: acc_bits - 1,
                    expr: None,
                });
                let inst = self.register(
                    RegisterKind::Pipeline,
                    format!("acc_{name}"),
                    &format!("acc_{name}"),
                    acc_bits,
                    "1'b1",
                    &next,
                    &acc,
                    "seu_flip",
                );
                item.instances.push(inst);
                comment.push(format!(
                    "folded over {fold} cycles: phases are valid_pipe[{}..{}]",
                    ready - 1,
                    ready + fold - 2
                ));
                (
                    built.logic,
                    stage,
                    format!("valid_pipe[{}]", ready + fold - 2),
                )
            } else {
                (built.logic, stage, "1'b1".to_string())
            }
        } else {
            let logic = layers::elementwise(&node.op, &module, &info_refs, &out, &node.name)?;
            (logic, ready + 1, "1'b1".to_string())
        };
        self.stage.insert(id, stage);
        comment[0].push_str(&format!(", register stage {stage}"));
        let attrs = aecc_ir::printer::attributes(&node.op);
        if !attrs.is_empty() {
            comment.push(one_line(&attrs));
            header.insert(2, one_line(&attrs));
        }
        header.push(format!(
            "out_data: {}; lane i at bits [{}*i +: {}]",
            tensor_text(&out),
            out.ty.width,
            out.ty.width
        ));
        connections.push(format!(".out_data({comb})"));
        outputs.insert(
            0,
            OutputPortView {
                name: "out_data".into(),
                msb,
                expr: concat_lanes(&logic.lanes),
            },
        );
        let view = CombView {
            header,
            module: module.clone(),
            inputs,
            outputs,
            wires: logic.body.wires.iter().map(WireView::from).collect(),
            instances: logic.instances,
            unused: unused_sink(&logic.body),
        };
        self.files
            .push((format!("{module}.v"), render_file(&view)?));
        for (sub, text) in logic.submodules {
            self.files.push((format!("{sub}.v"), text));
        }
        item.wires.push(WireView {
            comment: Vec::new(),
            name: comb.clone(),
            msb,
            expr: None,
        });
        item.instances.push(InstanceView {
            module,
            name: format!("u_{name}"),
            connections: wrap_list(&connections, ", ", 4, "      "),
        });
        let signal = self.signal(id);
        item.wires.push(WireView {
            comment: Vec::new(),
            name: signal.clone(),
            msb,
            expr: None,
        });
        let inst = self.register(
            RegisterKind::Pipeline,
            format!("q_{name}"),
            &format!("q_{name}"),
            msb + 1,
            &out_en,
            &comb,
            &signal,
            "seu_flip",
        );
        item.instances.push(inst);
        item.comment = comment.iter().flat_map(|c| comment_lines(c)).collect();
        self.items.push(item);
        Ok(())
    }
}

/// The weight layers of `graph` whose weights have no declared precision (they are
/// stored in registers as wide as the compiled values need), for a warning.
pub fn undeclared_weights(graph: &Graph) -> Vec<String> {
    let mut out = Vec::new();
    for id in weight_nodes(graph) {
        let node = graph.node(id);
        for (role, t) in crate::weights::layer_tensors(&node.op) {
            if t.declared.is_none() {
                let ty = FixedType::for_interval(t.storage_interval(), t.frac);
                out.push(format!(
                    "{} {} of {} has no quantizer: its registers are {} (the range of its \
                     values), new weights must fit",
                    node.name,
                    match role {
                        TensorRole::Weight => "weight",
                        TensorRole::Bias => "bias",
                    },
                    node.origin,
                    ty
                ));
            }
        }
    }
    out
}
