//! Reconfigurable weights: the register map of a design compiled with
//! `--weights registers`, the configuration image of one weight set, and the check that
//! a new model fits a compiled chip.
//!
//! **Memory map.** The weights and biases of every `Dense`/`Conv` node (in topological
//! order of the live graph: weight tensor, then bias) are stored in configuration words
//! of `word_width` bits, written through the configuration port (`cfg_we`, `cfg_addr`,
//! `cfg_data`). Every tensor starts at a new word. Element `e` (row-major order of the
//! IR tensor: `Conv` weights `[M, C/group, kh, kw]`, `Dense` weights `[K, M]`) holds the
//! two's complement of its integer code (the value is `code * 2^-frac`) in the tensor's
//! register width `w`:
//! - `w <= word_width`: `per_word = word_width / w` elements per word, element `e` in word
//!   `first_word + e / per_word` at bits `[(e % per_word) * w +: w]`; elements never
//!   straddle words, so writing one word updates whole elements;
//! - `w > word_width`: each element takes `ceil(w / word_width)` consecutive words, least
//!   significant word first.
//!
//! Bits a word does not use are ignored when written and are zero in the image.
//!
//! **Register width.** A weight that comes out of a quantizer is stored in the smallest
//! register holding every code its quantizer can produce (the precision the model
//! declares, e.g. 6 bits for a 6-bit `Quant`); any other constant in the smallest
//! register holding its values. The datapath is sized for every value a register can
//! hold, so any image is computed exactly.
//!
//! **Architecture.** A new weight set fits a chip when its model has the same
//! [`Architecture`]: the same ops, connections, shapes, attributes, quantizers and weight
//! precisions (grid and declared range), everything but the weight and bias values.

use crate::backend::verilog::{ReconfigDesign, RegisterKind, Tmr};
use crate::pipeline::Compiled;
use crate::Error;
use aecc_ir::{ConstTensor, FixedType, Graph, NodeId, Op, Unit};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// Version of the `memory_map.json` and image JSON formats.
pub const FORMAT_VERSION: u32 = 1;

/// Largest configuration word width (the harness and the image hold words in `u64`).
pub const MAX_WORD_WIDTH: u32 = 64;

#[derive(Debug, thiserror::Error)]
pub enum WeightsError {
    /// The new model does not have the compiled chip's architecture.
    #[error(
        "the model does not fit the compiled chip: {} difference(s):\n  {}",
        differences.len(),
        differences.join("\n  ")
    )]
    Incompatible { differences: Vec<String> },
    /// A value does not fit its register.
    #[error("{tensor}: element {index} = {value} is outside the register range [{min}, {max}]")]
    OutOfRange {
        tensor: String,
        index: usize,
        value: i64,
        min: i64,
        max: i64,
    },
    #[error("configuration word width {0} is outside 1..={MAX_WORD_WIDTH}")]
    WordWidth(u32),
    #[error("{0}")]
    Invalid(String),
}

/// Which parameter of a layer a tensor is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TensorRole {
    Weight,
    Bias,
}

/// One weight or bias tensor in the memory map.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MappedTensor {
    /// IR node of the layer.
    pub node: String,
    /// The ONNX node(s) the layer came from.
    pub origin: String,
    pub role: TensorRole,
    pub shape: Vec<usize>,
    /// Register type: `width` bits, two's complement when `signed`, value
    /// `code * unit * 2^-frac`.
    pub width: u32,
    pub signed: bool,
    pub frac: i32,
    /// The scale unit of the values (1, not written, for plain fixed point; an exact
    /// non-power-of-two scale otherwise, e.g. `3/5`).
    #[serde(default, skip_serializing_if = "Unit::is_one")]
    pub unit: Unit,
    /// Codes an image may hold (the declared range, or the register's range).
    pub min: i64,
    pub max: i64,
    /// Address of the first word.
    pub first_word: u32,
    /// Number of words.
    pub words: u32,
    /// Elements per word (`width <= word_width`), else 0.
    pub per_word: u32,
    /// Words per element (`width > word_width`), else 0.
    pub words_per_element: u32,
    /// Bit offset of element 0 in the packed bus of all used configuration bits
    /// (the `fields` output of the configuration register file).
    pub bus_offset: u32,
}

impl MappedTensor {
    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn register_type(&self) -> FixedType {
        FixedType::exact(self.width, self.frac, self.signed)
    }

    /// `"<node>.weight"` or `"<node>.bias"`.
    pub fn label(&self) -> String {
        format!(
            "{}.{}",
            self.node,
            match self.role {
                TensorRole::Weight => "weight",
                TensorRole::Bias => "bias",
            }
        )
    }

    /// `(word, bit)` of element `e`'s least significant bit.
    pub fn locate(&self, e: usize) -> (u32, u32) {
        if self.per_word > 0 {
            let per = self.per_word as usize;
            (
                self.first_word + (e / per) as u32,
                (e % per) as u32 * self.width,
            )
        } else {
            (self.first_word + e as u32 * self.words_per_element, 0)
        }
    }
}

/// The configuration memory map of a design.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemoryMap {
    /// `cfg_data` width.
    pub word_width: u32,
    /// `cfg_addr` width (at least 1).
    pub addr_width: u32,
    /// Number of words (addresses `0..words`).
    pub words: u32,
    pub tensors: Vec<MappedTensor>,
}

impl MemoryMap {
    /// The map of the `Dense`/`Conv` layers of `graph` (see the module documentation).
    pub fn new(graph: &Graph, word_width: u32) -> Result<MemoryMap, WeightsError> {
        if word_width == 0 || word_width > MAX_WORD_WIDTH {
            return Err(WeightsError::WordWidth(word_width));
        }
        let mut tensors = Vec::new();
        let mut word = 0u32;
        let mut bus = 0u32;
        for id in weight_nodes(graph) {
            let node = graph.node(id);
            for (role, t) in layer_tensors(&node.op) {
                let iv = t.storage_interval();
                let ty = FixedType::for_interval(iv, t.frac);
                let n = t.data.len() as u32;
                let (per_word, words_per_element, words) = if ty.width <= word_width {
                    let per = word_width / ty.width;
                    (per, 0, n.div_ceil(per))
                } else {
                    let wpe = ty.width.div_ceil(word_width);
                    (0, wpe, n * wpe)
                };
                tensors.push(MappedTensor {
                    node: node.name.clone(),
                    origin: node.origin.clone(),
                    role,
                    shape: t.shape.clone(),
                    width: ty.width,
                    signed: ty.signed,
                    frac: t.frac,
                    unit: t.unit,
                    min: iv.lo as i64,
                    max: iv.hi as i64,
                    first_word: word,
                    words,
                    per_word,
                    words_per_element,
                    bus_offset: bus,
                });
                word += words;
                bus += n * ty.width;
            }
        }
        Ok(MemoryMap {
            word_width,
            addr_width: address_width(word),
            words: word,
            tensors,
        })
    }

    /// Bits of word `a` that hold data (the rest is ignored).
    pub fn used_bits(&self) -> Vec<u32> {
        let mut used = vec![0u32; self.words as usize];
        for t in &self.tensors {
            for e in 0..t.len() {
                let (w, bit) = t.locate(e);
                if t.per_word > 0 {
                    used[w as usize] = used[w as usize].max(bit + t.width);
                } else {
                    let mut rest = t.width;
                    for k in 0..t.words_per_element {
                        used[(w + k) as usize] = rest.min(self.word_width);
                        rest = rest.saturating_sub(self.word_width);
                    }
                }
            }
        }
        used
    }

    /// Total number of configuration register bits (one copy).
    pub fn register_bits(&self) -> u32 {
        self.used_bits().iter().sum()
    }

    /// The tensors of the layer `node`, weight first.
    pub fn layer(&self, node: &str) -> Vec<&MappedTensor> {
        self.tensors.iter().filter(|t| t.node == node).collect()
    }
}

/// `ceil(log2(words))`, at least 1.
fn address_width(words: u32) -> u32 {
    (32 - words.saturating_sub(1).leading_zeros()).max(1)
}

/// The `Dense`/`Conv` nodes of the live graph, in topological order.
pub fn weight_nodes(graph: &Graph) -> Vec<NodeId> {
    graph
        .live_order()
        .unwrap_or_default()
        .into_iter()
        .filter(|&n| !layer_tensors(&graph.node(n).op).is_empty())
        .collect()
}

/// The weight and bias tensors of a layer op (empty for other ops).
pub fn layer_tensors(op: &Op) -> Vec<(TensorRole, &ConstTensor)> {
    let (w, b) = match op {
        Op::Dense(d) => (&d.weight, d.bias.as_ref()),
        Op::Conv(c) => (&c.weight, c.bias.as_ref()),
        _ => return Vec::new(),
    };
    let mut v = vec![(TensorRole::Weight, w)];
    if let Some(b) = b {
        v.push((TensorRole::Bias, b));
    }
    v
}

fn layer_tensors_mut(op: &mut Op) -> Vec<&mut ConstTensor> {
    let (w, b) = match op {
        Op::Dense(d) => (&mut d.weight, d.bias.as_mut()),
        Op::Conv(c) => (&mut c.weight, c.bias.as_mut()),
        _ => return Vec::new(),
    };
    let mut v = vec![w];
    if let Some(b) = b {
        v.push(b);
    }
    v
}

/// The configuration image of one weight set: one word per address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Image {
    pub map: MemoryMap,
    pub words: Vec<u64>,
    /// The values written, per tensor of the map (same order).
    pub values: Vec<Vec<i64>>,
}

impl Image {
    /// The image of `graph`'s weights for `map`. `graph` must have the architecture the
    /// map was made from (checked with [`Architecture::differences`] by callers that take
    /// a new model); every value must fit its register.
    pub fn new(map: &MemoryMap, graph: &Graph) -> Result<Image, WeightsError> {
        let layers = weight_nodes(graph);
        let mut tensors = Vec::new();
        for &id in &layers {
            tensors.extend(
                layer_tensors(&graph.node(id).op)
                    .into_iter()
                    .map(|(_, t)| t),
            );
        }
        if tensors.len() != map.tensors.len() {
            return Err(WeightsError::Invalid(format!(
                "the graph has {} weight/bias tensors, the memory map {}",
                tensors.len(),
                map.tensors.len()
            )));
        }
        let mut words = vec![0u64; map.words as usize];
        let mut values = Vec::with_capacity(tensors.len());
        for (m, t) in map.tensors.iter().zip(tensors) {
            if t.shape != m.shape || t.frac != m.frac || t.unit != m.unit {
                return Err(WeightsError::Invalid(format!(
                    "{}: shape {:?} on grid {}*2^-{} does not match the map's {:?} on {}*2^-{}",
                    m.label(),
                    t.shape,
                    t.unit,
                    t.frac,
                    m.shape,
                    m.unit,
                    m.frac
                )));
            }
            for (e, &v) in t.data.iter().enumerate() {
                if v < m.min || v > m.max {
                    return Err(WeightsError::OutOfRange {
                        tensor: m.label(),
                        index: e,
                        value: v,
                        min: m.min,
                        max: m.max,
                    });
                }
                let code = (v as u64) & low_mask(m.width);
                let (w, bit) = m.locate(e);
                if m.per_word > 0 {
                    words[w as usize] |= code << bit;
                } else {
                    for k in 0..m.words_per_element {
                        let shift = k * map.word_width;
                        words[(w + k) as usize] = (code >> shift) & low_mask(map.word_width);
                    }
                }
            }
            values.push(t.data.clone());
        }
        Ok(Image {
            map: map.clone(),
            words,
            values,
        })
    }

    /// `(address, word)` writes that load the whole image.
    pub fn writes(&self) -> Vec<(u64, u64)> {
        self.words
            .iter()
            .enumerate()
            .map(|(a, &w)| (a as u64, w))
            .collect()
    }

    /// The image as a `$readmemh` file: one word per line, address 0 first, with a comment
    /// line before each tensor.
    pub fn to_mem(&self) -> String {
        let digits = self.map.word_width.div_ceil(4) as usize;
        let mut starts: Vec<(u32, String)> = self
            .map
            .tensors
            .iter()
            .map(|t| {
                (
                    t.first_word,
                    format!(
                        "// @{:x} {} {:?} {}{}.{} ({} words)",
                        t.first_word,
                        t.label(),
                        t.shape,
                        if t.signed { 's' } else { 'u' },
                        t.width,
                        t.frac,
                        t.words
                    ),
                )
            })
            .collect();
        starts.reverse();
        let mut s = format!(
            "// aecc configuration image: {} words of {} bits, address 0 first\n",
            self.words.len(),
            self.map.word_width
        );
        for (a, w) in self.words.iter().enumerate() {
            while starts.last().is_some_and(|(f, _)| *f as usize == a) {
                s.push_str(&starts.pop().unwrap().1);
                s.push('\n');
            }
            s.push_str(&format!("{w:0digits$x}\n"));
        }
        s
    }

    /// The image as JSON: the map, every tensor's values and the words in hex.
    pub fn to_json(&self, model: &str) -> serde_json::Value {
        let digits = self.map.word_width.div_ceil(4) as usize;
        let tensors: Vec<serde_json::Value> = self
            .map
            .tensors
            .iter()
            .zip(&self.values)
            .map(|(t, v)| {
                let mut j = serde_json::to_value(t).expect("serializes");
                j["values"] = serde_json::json!(v);
                j
            })
            .collect();
        serde_json::json!({
            "format_version": FORMAT_VERSION,
            "model": model,
            "word_width": self.map.word_width,
            "addr_width": self.map.addr_width,
            "words": self.words.len(),
            "tensors": tensors,
            "image": self.words.iter().map(|w| format!("{w:0digits$x}")).collect::<Vec<_>>(),
        })
    }
}

fn low_mask(width: u32) -> u64 {
    if width >= 64 {
        u64::MAX
    } else {
        (1u64 << width) - 1
    }
}

/// A new graph: `graph` with the weight and bias values of `source` (same architecture),
/// types re-inferred. The reference model of a chip loaded with `source`'s image.
pub fn substitute(graph: &Graph, source: &Graph) -> Result<Graph, WeightsError> {
    let mut out = graph.clone();
    let targets = weight_nodes(graph);
    let sources = weight_nodes(source);
    if targets.len() != sources.len() {
        return Err(WeightsError::Invalid(format!(
            "{} weight layers vs {}",
            targets.len(),
            sources.len()
        )));
    }
    for (&t, &s) in targets.iter().zip(&sources) {
        let new: Vec<ConstTensor> = layer_tensors(&source.node(s).op)
            .into_iter()
            .map(|(_, c)| c.clone())
            .collect();
        let node = out.node_mut(t);
        let slots = layer_tensors_mut(&mut node.op);
        if slots.len() != new.len() {
            return Err(WeightsError::Invalid(format!(
                "layer {}: {} tensors vs {}",
                node.name,
                slots.len(),
                new.len()
            )));
        }
        for (slot, c) in slots.into_iter().zip(new) {
            if slot.shape != c.shape || slot.frac != c.frac || slot.unit != c.unit {
                return Err(WeightsError::Invalid(format!(
                    "layer {}: tensor {:?} on {}*2^-{} vs {:?} on {}*2^-{}",
                    node.name, slot.shape, slot.unit, slot.frac, c.shape, c.unit, c.frac
                )));
            }
            slot.data = c.data;
        }
    }
    out.reinfer()
        .map_err(|e| WeightsError::Invalid(e.to_string()))?;
    Ok(out)
}

/// A new graph: `graph` with every weight and bias drawn uniformly from its register
/// range in `map` (seeded). A second weight set for tests of the same chip.
pub fn random_weights(graph: &Graph, map: &MemoryMap, seed: u64) -> Result<Graph, WeightsError> {
    use rand::{Rng, SeedableRng};
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let mut out = graph.clone();
    let mut mapped = map.tensors.iter();
    for id in weight_nodes(graph) {
        for slot in layer_tensors_mut(&mut out.node_mut(id).op) {
            let m = mapped
                .next()
                .ok_or_else(|| WeightsError::Invalid("map has fewer tensors".into()))?;
            for v in slot.data.iter_mut() {
                *v = rng.random_range(m.min..=m.max);
            }
        }
    }
    out.reinfer()
        .map_err(|e| WeightsError::Invalid(e.to_string()))?;
    Ok(out)
}

/// One node of an [`Architecture`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ArchNode {
    /// IR node name (for messages; not compared).
    pub name: String,
    /// The op with weight and bias values removed (shapes, grids and declared ranges
    /// stay).
    pub op: Op,
    /// Positions (in this list) of the operands.
    pub operands: Vec<usize>,
    /// Shape of the output tensor.
    pub shape: Vec<usize>,
    /// The declared type of a graph input (other nodes: derived, not compared).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_type: Option<FixedType>,
}

/// Everything about a compiled model except its weight and bias values.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Architecture {
    pub nodes: Vec<ArchNode>,
    /// Positions of the graph outputs.
    pub outputs: Vec<usize>,
}

impl Architecture {
    pub fn of(graph: &Graph) -> Result<Architecture, aecc_ir::IrError> {
        let order = graph.live_order()?;
        let pos = |id: NodeId| order.iter().position(|&n| n == id).expect("live");
        let nodes = order
            .iter()
            .map(|&id| {
                let node = graph.node(id);
                let mut op = node.op.clone();
                for t in layer_tensors_mut(&mut op) {
                    t.data.clear();
                }
                ArchNode {
                    name: node.name.clone(),
                    input_type: matches!(op, Op::Input { .. }).then_some(node.out.ty),
                    op,
                    operands: graph.operands(id).into_iter().map(pos).collect(),
                    shape: node.out.shape.clone(),
                }
            })
            .collect();
        Ok(Architecture {
            nodes,
            outputs: graph.outputs().iter().map(|(_, o)| pos(*o)).collect(),
        })
    }

    /// Every difference between this (the compiled chip's) architecture and `new`'s, one
    /// line each (empty when they match).
    pub fn differences(&self, new: &Architecture) -> Vec<String> {
        let mut out = Vec::new();
        if self.nodes.len() != new.nodes.len() {
            out.push(format!(
                "number of nodes: chip {}, model {} (chip: {}; model: {})",
                self.nodes.len(),
                new.nodes.len(),
                op_list(self),
                op_list(new)
            ));
        }
        for (i, (a, b)) in self.nodes.iter().zip(&new.nodes).enumerate() {
            let label = format!("node {i} ({} {})", a.op.name(), a.name);
            if a.op.name() != b.op.name() {
                out.push(format!(
                    "{label}: op {} in the chip, {} ({}) in the model",
                    a.op.name(),
                    b.op.name(),
                    b.name
                ));
                continue;
            }
            if a.operands != b.operands {
                out.push(format!(
                    "{label}: operands are nodes {:?} in the chip, {:?} in the model",
                    a.operands, b.operands
                ));
            }
            if a.shape != b.shape {
                out.push(format!(
                    "{label}: output shape {:?} in the chip, {:?} in the model",
                    a.shape, b.shape
                ));
            }
            if a.input_type != b.input_type {
                out.push(format!(
                    "{label}: input type {} in the chip, {} in the model",
                    type_text(a.input_type),
                    type_text(b.input_type)
                ));
            }
            let (ja, jb) = (
                serde_json::to_value(&a.op).expect("serializes"),
                serde_json::to_value(&b.op).expect("serializes"),
            );
            json_differences(&label, "", &ja, &jb, &mut out);
        }
        if self.outputs != new.outputs && self.nodes.len() == new.nodes.len() {
            out.push(format!(
                "graph outputs are nodes {:?} in the chip, {:?} in the model",
                self.outputs, new.outputs
            ));
        }
        out
    }
}

fn op_list(a: &Architecture) -> String {
    a.nodes
        .iter()
        .map(|n| n.op.name())
        .collect::<Vec<_>>()
        .join(" -> ")
}

fn type_text(t: Option<FixedType>) -> String {
    t.map_or("none".into(), |t| t.to_string())
}

/// Appends `label: path: chip X, model Y` for every leaf where two JSON values differ.
fn json_differences(
    label: &str,
    path: &str,
    a: &serde_json::Value,
    b: &serde_json::Value,
    out: &mut Vec<String>,
) {
    use serde_json::Value;
    match (a, b) {
        (Value::Object(ma), Value::Object(mb)) => {
            let keys: BTreeSet<&String> = ma.keys().chain(mb.keys()).collect();
            for k in keys {
                let p = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                json_differences(
                    label,
                    &p,
                    ma.get(k).unwrap_or(&Value::Null),
                    mb.get(k).unwrap_or(&Value::Null),
                    out,
                );
            }
        }
        (Value::Array(va), Value::Array(vb))
            if va.len() == vb.len() && va.iter().any(|v| v.is_object() || v.is_array()) =>
        {
            for (i, (x, y)) in va.iter().zip(vb).enumerate() {
                json_differences(label, &format!("{path}[{i}]"), x, y, out);
            }
        }
        _ if a != b => out.push(format!("{label}: {path}: chip {a}, model {b}")),
        _ => {}
    }
}

/// What `aecc weights` needs to know about a compiled chip
/// (`DIR/config/memory_map.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChipDescription {
    pub format_version: u32,
    pub top: String,
    /// The model the chip was compiled from.
    pub model: String,
    /// The passes the compile ran (`None`: the default pipeline).
    pub passes: Option<Vec<String>>,
    pub tmr: Tmr,
    pub initiation_interval: u32,
    pub latency: u32,
    pub multipliers: usize,
    /// Configuration register bits, every copy counted.
    pub config_register_bits: u32,
    /// Pipeline register bits, every copy counted.
    pub pipeline_register_bits: u32,
    pub map: MemoryMap,
    pub architecture: Architecture,
}

/// Folder of the chip files inside a compile output directory.
pub const CONFIG_DIR: &str = "config";

fn write_json(path: &Path, value: &impl Serialize) -> Result<(), Error> {
    let text = serde_json::to_string_pretty(value).expect("serializes") + "\n";
    std::fs::write(path, text).map_err(|e| Error::io(path, e))
}

/// Writes `image` as `stem.mem` and `stem.json` in `dir`. Returns the paths.
pub fn write_image(
    image: &Image,
    model: &str,
    dir: &Path,
    stem: &str,
) -> Result<Vec<PathBuf>, Error> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let mem = dir.join(format!("{stem}.mem"));
    std::fs::write(&mem, image.to_mem()).map_err(|e| Error::io(&mem, e))?;
    let json = dir.join(format!("{stem}.json"));
    write_json(&json, &image.to_json(model))?;
    Ok(vec![mem, json])
}

/// Writes `DIR/config/`: `memory_map.json` (the [`ChipDescription`]), `registers.json`
/// (every register with its fault-injection bit numbers) and the image of the compiled
/// model's own weights (`weights.mem`, `weights.json`).
pub fn write_chip_files(
    compiled: &Compiled,
    design: &ReconfigDesign,
    dir: &Path,
) -> Result<Vec<PathBuf>, Error> {
    let cfg = dir.join(CONFIG_DIR);
    std::fs::create_dir_all(&cfg).map_err(|e| Error::io(&cfg, e))?;
    let model = compiled.model.display().to_string();
    let chip = ChipDescription {
        format_version: FORMAT_VERSION,
        top: compiled.rtl.top.clone(),
        model: model.clone(),
        passes: compiled.passes.clone(),
        tmr: design.tmr,
        initiation_interval: design.design.initiation_interval,
        latency: compiled.rtl.latency,
        multipliers: design.multipliers,
        config_register_bits: design.registers.bits(RegisterKind::Config),
        pipeline_register_bits: design.registers.bits(RegisterKind::Pipeline),
        map: design.map.clone(),
        architecture: Architecture::of(&compiled.graph)?,
    };
    let mut written = Vec::new();
    let p = cfg.join("memory_map.json");
    write_json(&p, &chip)?;
    written.push(p);
    let p = cfg.join("registers.json");
    write_json(&p, &design.registers)?;
    written.push(p);
    let image = Image::new(&design.map, &compiled.graph)?;
    written.extend(write_image(&image, &model, &cfg, "weights")?);
    Ok(written)
}

/// Reads `DIR/config/memory_map.json` of a chip compiled with `--weights registers`.
pub fn read_chip(dir: &Path) -> Result<ChipDescription, Error> {
    let p = dir.join(CONFIG_DIR).join("memory_map.json");
    let text = std::fs::read_to_string(&p).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            Error::Invalid(format!(
                "{} not found: is {} the output of `aecc compile --weights registers`?",
                p.display(),
                dir.display()
            ))
        } else {
            Error::io(&p, e)
        }
    })?;
    let chip: ChipDescription =
        serde_json::from_str(&text).map_err(|e| Error::Invalid(format!("{}: {e}", p.display())))?;
    if chip.format_version != FORMAT_VERSION {
        return Err(Error::Invalid(format!(
            "{}: format version {} (this aecc reads {FORMAT_VERSION})",
            p.display(),
            chip.format_version
        )));
    }
    Ok(chip)
}

/// The image of `graph`'s weights for `chip`, after checking that `graph` has the chip's
/// architecture.
pub fn image_for(chip: &ChipDescription, graph: &Graph) -> Result<Image, Error> {
    let differences = chip.architecture.differences(&Architecture::of(graph)?);
    if !differences.is_empty() {
        return Err(WeightsError::Incompatible { differences }.into());
    }
    Ok(Image::new(&chip.map, graph)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use aecc_ir::{Dense, Interval, Quantizer, Rounding};

    fn dense_graph(weights: Vec<i64>, declared: Option<Interval>) -> Graph {
        let mut g = Graph::new("t");
        let x = g.add_input(
            "x",
            vec![1, 3],
            FixedType::exact(4, 0, true),
            Some(Quantizer::pow2(4, 0, true, Rounding::HalfEven)),
        );
        let d = Dense {
            weight: ConstTensor::new(vec![3, 2], weights, 2).with_declared(declared),
            bias: Some(
                ConstTensor::new(vec![2], vec![5, -7], 2)
                    .with_declared(Some(Interval::new(-512, 511))),
            ),
        };
        let y = g.add_node("y", Op::Dense(d), &[x], "fc (Gemm)").unwrap();
        g.add_output("y", y);
        g
    }

    #[test]
    fn map_packs_elements_without_straddling_words() {
        let g = dense_graph(vec![1, -2, 3, 0, 7, -8], Some(Interval::new(-8, 7)));
        let map = MemoryMap::new(&g, 8).unwrap();
        // weight: 6 elements of 4 bits, 2 per word -> words 0..3; bias: 10 bits > 8 ->
        // 2 words each -> words 3..7
        assert_eq!(map.tensors[0].width, 4);
        assert_eq!((map.tensors[0].per_word, map.tensors[0].words), (2, 3));
        assert_eq!(map.tensors[1].width, 10);
        assert_eq!(
            (map.tensors[1].first_word, map.tensors[1].words_per_element),
            (3, 2)
        );
        assert_eq!((map.words, map.addr_width), (7, 3));
        assert_eq!(map.used_bits(), vec![8, 8, 8, 8, 2, 8, 2]);
        assert_eq!(map.tensors[1].bus_offset, 24);
        let image = Image::new(&map, &g).unwrap();
        // word 0: elements 0 (1) and 1 (-2 = 0xe) -> 0xe1
        assert_eq!(image.words[..3], [0xe1, 0x03, 0x87]);
        // bias 5 = 0x005 -> 0x05, 0x0; -7 = 0x3f9 -> 0xf9, 0x3
        assert_eq!(image.words[3..], [0x05, 0x00, 0xf9, 0x03]);
        let mem = image.to_mem();
        assert!(mem.contains("// @0 y.weight [3, 2] s4.2 (3 words)\ne1\n03\n87\n// @3 y.bias"));
    }

    #[test]
    fn undeclared_weights_use_their_data_range_and_values_must_fit() {
        let g = dense_graph(vec![1, -2, 3, 0, 7, -8], None);
        let map = MemoryMap::new(&g, 32).unwrap();
        assert_eq!((map.tensors[0].min, map.tensors[0].max), (-8, 7));
        let mut g2 = dense_graph(vec![1, -2, 3, 0, 7, -9], None);
        let e = Image::new(&map, &g2).unwrap_err().to_string();
        assert!(e.contains("y.weight: element 5 = -9"), "{e}");
        // substitute keeps the chip's graph and takes the values
        g2 = dense_graph(vec![2, 2, 2, 2, 2, 2], None);
        let s = substitute(&g, &g2).unwrap();
        match &s.node(weight_nodes(&s)[0]).op {
            Op::Dense(d) => assert_eq!(d.weight.data, vec![2; 6]),
            _ => unreachable!(),
        }
    }

    #[test]
    fn architecture_lists_every_difference() {
        let g = dense_graph(vec![1, -2, 3, 0, 7, -8], Some(Interval::new(-8, 7)));
        let same = dense_graph(vec![0, 0, 3, 3, 1, 1], Some(Interval::new(-8, 7)));
        let a = Architecture::of(&g).unwrap();
        assert!(a.differences(&Architecture::of(&same).unwrap()).is_empty());
        let wider = dense_graph(vec![0, 0, 3, 3, 1, 1], Some(Interval::new(-32, 31)));
        let d = a.differences(&Architecture::of(&wider).unwrap());
        assert_eq!(d.len(), 2, "{d:?}");
        assert!(
            d[0].contains("Dense.weight.declared.hi: chip 7, model 31"),
            "{d:?}"
        );
        // round trip through JSON
        let text = serde_json::to_string(&a).unwrap();
        let back: Architecture = serde_json::from_str(&text).unwrap();
        assert_eq!(back, a);
    }
}
