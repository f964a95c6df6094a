//! The graph walk: checks the ONNX graph as a whole (supported ops, tensor names,
//! cycles, quantized inputs), then visits the nodes in topological order, wiring edges
//! by tensor name and calling each op's builder from the table in [`super::ops`].

use super::attrs::Attrs;
use super::constant::{checked_len, decode_tensor, Constant};
use super::error::{ImportError, UnsupportedNode};
use super::ops;
use super::proto::{tensor_shape_proto::dimension, GraphProto, ModelProto, NodeProto};
use aecc_ir::{Graph, IrError, NodeId, Op, Quantizer};
use std::collections::{BTreeSet, HashMap, HashSet};
use std::rc::Rc;

/// What an ONNX tensor name stands for during the walk.
#[derive(Debug, Clone)]
pub(crate) enum Value {
    /// A tensor computed by the hardware: the output of an IR node.
    Node(NodeId),
    /// A tensor known at compile time (initializer, `Constant`, folded sub-expression).
    Const(Rc<Constant>),
    /// A graph input, materialised as an IR input by the `Quant` node that reads it.
    /// A graph input, materialised as an IR input by the quantizer that reads it;
    /// `shape` is the shape after `moves` (data movement between the input and its
    /// quantizer, e.g. the Transpose of a channels-last export), `declared` its own.
    GraphInput {
        name: String,
        shape: Vec<usize>,
        declared: Vec<usize>,
        moves: Vec<Op>,
    },
    /// An activation zero-padded by a `Pad` node, waiting for the `Conv` that absorbs
    /// the padding into its `pads` (`[top, left, bottom, right]`); any other reader
    /// gets the padding as a `Select` node.
    Padded { node: NodeId, pads: [usize; 4] },
    /// The integer output of an ONNX `QuantizeLinear`: the codes `q` of the quantized
    /// activation `node` (whose IR value is `(q - zp) * scale`). Readers:
    /// `DequantizeLinear` with the same parameters (gives `node` back), `Clip` (QCDQ),
    /// data movement, and the QLinear/Integer ops.
    Codes {
        node: NodeId,
        quantizer: Rc<Quantizer>,
        /// ONNX element type of the codes (`DataType` as i32).
        elem: i32,
    },
    /// An element-wise float function of an activation (Sigmoid, Tanh, ...) that
    /// becomes an exact lookup table together with the quantizer that must read it.
    Lazy {
        node: NodeId,
        func: Rc<super::ops::act::Elementwise>,
        origin: String,
    },
}

impl Value {
    /// The IR node a value is (or wraps), if any.
    pub fn node_id(&self) -> Option<NodeId> {
        match self {
            Value::Node(id)
            | Value::Padded { node: id, .. }
            | Value::Codes { node: id, .. }
            | Value::Lazy { node: id, .. } => Some(*id),
            Value::Const(_) | Value::GraphInput { .. } => None,
        }
    }
}

/// The label of a node in messages: `NAME (OpType)`, or `#INDEX (OpType)` when unnamed.
pub(crate) fn node_label(node: &NodeProto, index: usize) -> String {
    if node.name.is_empty() {
        format!("#{} ({})", index, node.op_type)
    } else {
        format!("{} ({})", node.name, node.op_type)
    }
}

/// State of one import.
pub(crate) struct Importer {
    pub graph: Graph,
    pub warnings: Vec<String>,
    values: HashMap<String, Value>,
    /// Number of readers of each tensor name (node inputs and graph outputs).
    uses: HashMap<String, usize>,
    /// Readers of each IR node's tensors not visited yet (graph outputs never count down):
    /// a node with none left may be rewritten in place (bias folding).
    pending: HashMap<NodeId, usize>,
    /// Every ONNX tensor name, and the names of helper IR nodes: helper nodes get fresh
    /// names so IR node names stay unique.
    names: HashSet<String>,
    /// Names of the graph outputs.
    graph_outputs: HashSet<String>,
    /// Opset version of every domain the model imports (`""` for `ai.onnx`).
    opsets: HashMap<String, i64>,
    pub options: super::ImportOptions,
    /// Elements of all constants held so far (bounded by [`MAX_CONSTANT_ELEMENTS`]).
    constant_elements: usize,
}

use super::constant::MAX_CONSTANT_ELEMENTS;

/// Adds `len` elements to the running total of constants, refusing the model when the
/// total passes [`MAX_CONSTANT_ELEMENTS`]. `what` names the tensor or node.
fn count_constant(total: &mut usize, len: usize, what: &str) -> Result<(), ImportError> {
    *total = total.saturating_add(len);
    if *total > MAX_CONSTANT_ELEMENTS {
        return Err(ImportError::Node {
            node: what.to_string(),
            message: format!(
                "the model's constants (initializers and compile-time results) exceed \
                 {MAX_CONSTANT_ELEMENTS} elements in total"
            ),
        });
    }
    Ok(())
}

impl Importer {
    fn define(&mut self, name: &str, value: Value) {
        if let Some(id) = value.node_id() {
            *self.pending.entry(id).or_default() += self.uses.get(name).copied().unwrap_or(0);
        }
        self.values.insert(name.to_string(), value);
    }

    /// Whether tensor `name` is a graph output that no node reads.
    pub fn is_graph_output_only(&self, name: &str) -> bool {
        self.graph_outputs.contains(name) && self.uses.get(name).copied().unwrap_or(0) == 1
    }

    /// The opset version the model imports for `domain` (`""` or `ai.onnx`: default).
    pub fn opset(&self, domain: &str) -> Option<i64> {
        let d = if domain == "ai.onnx" { "" } else { domain };
        self.opsets.get(d).copied()
    }

    /// Readers of `id` not visited yet (including graph outputs).
    pub fn pending_uses(&self, id: NodeId) -> usize {
        self.pending.get(&id).copied().unwrap_or(0)
    }
}

/// One node being imported: its inputs resolved to [`Value`]s.
pub(crate) struct NodeCtx<'a> {
    pub imp: &'a mut Importer,
    pub node: &'a NodeProto,
    /// `NAME (OpType)`.
    pub label: String,
    inputs: Vec<Option<Value>>,
}

impl<'a> NodeCtx<'a> {
    pub fn attrs(&self) -> Attrs<'_> {
        Attrs::new(self.node, &self.label)
    }

    /// An error about this node.
    pub fn error(&self, message: impl Into<String>) -> ImportError {
        ImportError::Node {
            node: self.label.clone(),
            message: message.into(),
        }
    }

    pub fn input_name(&self, i: usize) -> &str {
        self.node.input.get(i).map_or("", |s| s.as_str())
    }

    /// Replaces input `i` (a wrapper op hands a transformed input to the op it wraps).
    pub fn set_input(&mut self, i: usize, v: Value) {
        self.inputs[i] = Some(v);
    }

    /// Whether optional input `i` is given.
    pub fn has_input(&self, i: usize) -> bool {
        matches!(self.inputs.get(i), Some(Some(_)))
    }

    /// Input `i`, which must be given.
    pub fn value(&self, i: usize) -> Result<&Value, ImportError> {
        match self.inputs.get(i) {
            Some(Some(v)) => Ok(v),
            _ => Err(self.error(format!(
                "input #{} is required but not given ({} input(s))",
                i,
                self.node.input.len()
            ))),
        }
    }

    /// Input `i` as a compile-time constant. `what` names the operand in messages.
    pub fn constant(&self, i: usize, what: &str) -> Result<Rc<Constant>, ImportError> {
        match self.value(i)? {
            Value::Const(c) => Ok(c.clone()),
            _ => Err(self.error(format!(
                "the {} (input #{} '{}') must be a constant known at compile time, \
                 but it is computed from the graph inputs",
                what,
                i,
                self.input_name(i)
            ))),
        }
    }

    /// Optional input `i` as a constant, `None` when not given.
    pub fn opt_constant(&self, i: usize, what: &str) -> Result<Option<Rc<Constant>>, ImportError> {
        if self.has_input(i) {
            self.constant(i, what).map(Some)
        } else {
            Ok(None)
        }
    }

    /// Input `i` as a tensor computed by the hardware (zero padding waiting for a
    /// `Conv` becomes a `Select` node here).
    pub fn activation(&mut self, i: usize) -> Result<NodeId, ImportError> {
        if let Value::Padded { node, pads, .. } = self.value(i)?.clone() {
            let id = self.materialize_padding(node, pads)?;
            self.inputs[i] = Some(Value::Node(id));
        }
        match self.value(i)? {
            Value::Node(id) => Ok(*id),
            Value::Codes { .. } => Err(self.error(format!(
                "input #{i} '{}' is the integer output of a QuantizeLinear; aecc reads it \
                 only through DequantizeLinear, Clip, data movement and the QLinear/Integer \
                 ops",
                self.input_name(i)
            ))),
            Value::Lazy { origin, .. } => Err(self.error(format!(
                "input #{i} '{}' comes from node {origin}, a float function that aecc \
                 computes exactly only as a lookup table with the quantizer that reads it \
                 (put a Quant or QuantizeLinear directly after it)",
                self.input_name(i)
            ))),
            Value::Const(_) => Err(self.error(format!(
                "input #{} '{}' is a constant; {} is only supported on tensors computed from \
                 the graph inputs here",
                i,
                self.input_name(i),
                self.node.op_type
            ))),
            Value::GraphInput { name, .. } => Err(ImportError::InputNotQuantized {
                input: name.clone(),
                reason: format!("it feeds node {}", self.label),
            }),
            Value::Padded { .. } => unreachable!("materialized above"),
        }
    }

    /// The zero padding `pads` (`[top, left, bottom, right]`) of the NCHW activation
    /// `node` as a `Select` node named after this node's input.
    fn materialize_padding(
        &mut self,
        node: NodeId,
        pads: [usize; 4],
    ) -> Result<NodeId, ImportError> {
        let shape = self.imp.graph.node(node).out.shape.clone();
        let (h, w) = (shape[2], shape[3]);
        let out = vec![
            shape[0],
            shape[1],
            h + pads[0] + pads[2],
            w + pads[1] + pads[3],
        ];
        let sel = aecc_ir::Select::from_fn(&shape, out, 0, |o| {
            let y = o[2].checked_sub(pads[0]).filter(|&y| y < h)?;
            let x = o[3].checked_sub(pads[1]).filter(|&x| x < w)?;
            Some(vec![o[0], o[1], y, x])
        });
        self.add_node(Op::Select(sel), &[node], "/pad")
    }

    /// Shape of input `i`, whatever it is.
    pub fn shape_of(&self, i: usize) -> Result<Vec<usize>, ImportError> {
        Ok(match self.value(i)? {
            Value::Node(id) => self.imp.graph.node(*id).out.shape.clone(),
            Value::Const(c) => c.shape.clone(),
            Value::GraphInput { shape, .. } => shape.clone(),
            Value::Padded { node, pads, .. } => {
                let mut s = self.imp.graph.node(*node).out.shape.clone();
                if s.len() == 4 {
                    s[2] += pads[0] + pads[2];
                    s[3] += pads[1] + pads[3];
                }
                s
            }
            Value::Codes { node, .. } | Value::Lazy { node, .. } => {
                self.imp.graph.node(*node).out.shape.clone()
            }
        })
    }

    /// Name of output `i` (the IR node name), or a name derived from the node.
    pub fn out_name(&self, i: usize) -> String {
        match self.node.output.get(i) {
            Some(n) if !n.is_empty() => n.clone(),
            _ => format!("{}:{}", self.label, i),
        }
    }

    /// Adds an IR node named after output 0 (plus `suffix` for helper nodes).
    pub fn add_node(
        &mut self,
        op: Op,
        operands: &[NodeId],
        suffix: &str,
    ) -> Result<NodeId, ImportError> {
        let mut name = format!("{}{}", self.out_name(0), suffix);
        if !suffix.is_empty() {
            let base = name.clone();
            let mut k = 1;
            while self.imp.names.contains(&name) {
                k += 1;
                name = format!("{base}~{k}");
            }
            self.imp.names.insert(name.clone());
        }
        let id = self
            .imp
            .graph
            .add_node(name, op, operands, self.label.clone())?;
        let shape = &self.imp.graph.node(id).out.shape;
        if checked_len(shape).is_none() {
            return Err(self.error(format!(
                "the result {shape:?} has more than {} elements",
                super::constant::MAX_ELEMENTS
            )));
        }
        Ok(id)
    }

    pub fn warn(&mut self, message: String) {
        self.imp.warnings.push(message);
    }
}

/// Checks a decoded model and returns the default-domain opset version.
pub(crate) fn check_model(model: &ModelProto) -> Result<i64, ImportError> {
    if model.ir_version.is_none() {
        return Err(ImportError::NotOnnx(
            "no ir_version (every ONNX model declares one)".into(),
        ));
    }
    if model.graph.is_none() {
        return Err(ImportError::NotOnnx("the model has no graph".into()));
    }
    model
        .opset_import
        .iter()
        .find(|o| o.domain.is_empty() || o.domain == "ai.onnx")
        .map(|o| o.version)
        .ok_or_else(|| {
            ImportError::NotOnnx("no opset_import for the default domain ai.onnx".into())
        })
}

/// Every node whose (domain, op type) is not in the op table.
pub(crate) fn unsupported_nodes(graph: &GraphProto) -> Vec<UnsupportedNode> {
    graph
        .node
        .iter()
        .enumerate()
        .filter(|(_, n)| ops::lookup(&n.domain, &n.op_type).is_none())
        .map(|(i, n)| UnsupportedNode {
            name: if n.name.is_empty() {
                format!("#{i}")
            } else {
                n.name.clone()
            },
            op_type: n.op_type.clone(),
            domain: ops::domain_display(&n.domain).to_string(),
            hint: ops::hint(&n.domain, &n.op_type),
        })
        .collect()
}

/// Imports a checked model into an IR graph.
pub(crate) fn import_graph(
    gp: &GraphProto,
    opsets: HashMap<String, i64>,
    options: super::ImportOptions,
) -> Result<(Graph, Vec<String>), ImportError> {
    import_graph_with(gp, opsets, options, None)
}

/// A problem found by [`collect_problems`]: the index of the node it is about (`None`
/// for the graph as a whole) and the error.
pub(crate) type Problem = (Option<usize>, ImportError);

/// Imports as far as possible, collecting every node that cannot be compiled instead
/// of stopping at the first: unsupported ops, unsupported attributes or operands, graph
/// inputs without a quantizer. Nodes that read the output of a failed node are skipped
/// (their count is returned). Errors about the model file itself are still returned
/// as errors.
pub(crate) fn collect_problems(
    gp: &GraphProto,
    opsets: HashMap<String, i64>,
) -> Result<(Vec<Problem>, usize), ImportError> {
    let mut problems = Vec::new();
    let mut skipped = 0;
    let options = super::ImportOptions::default();
    match import_graph_with(gp, opsets, options, Some((&mut problems, &mut skipped))) {
        Ok(_) => {}
        Err(e) if problems.is_empty() => problems.push((None, e)),
        Err(_) => {}
    }
    problems.sort_by_key(|p| p.0);
    Ok((problems, skipped))
}

fn import_graph_with(
    gp: &GraphProto,
    opsets: HashMap<String, i64>,
    options: super::ImportOptions,
    mut collect: Option<(&mut Vec<Problem>, &mut usize)>,
) -> Result<(Graph, Vec<String>), ImportError> {
    let unsupported = unsupported_nodes(gp);
    if !unsupported.is_empty() {
        match &mut collect {
            None => return Err(ImportError::Unsupported(unsupported)),
            Some((problems, _)) => {
                for (i, n) in gp.node.iter().enumerate() {
                    if ops::lookup(&n.domain, &n.op_type).is_none() {
                        let u = unsupported_nodes(&GraphProto {
                            node: vec![n.clone()],
                            ..Default::default()
                        });
                        let mut u = u.into_iter().next().expect("unsupported");
                        if n.name.is_empty() {
                            u.name = format!("#{i}");
                        }
                        problems.push((Some(i), ImportError::Unsupported(vec![u])));
                    }
                }
            }
        }
    }
    if let Some(s) = gp.sparse_initializer.first() {
        let name = s.values.as_ref().map_or("", |v| v.name.as_str());
        return Err(ImportError::Tensor {
            name: name.to_string(),
            message: "sparse initializers are not supported".into(),
        });
    }

    // --- who defines each tensor name -------------------------------------------------
    let labels: Vec<String> = gp
        .node
        .iter()
        .enumerate()
        .map(|(i, n)| node_label(n, i))
        .collect();
    let mut definer: HashMap<&str, String> = HashMap::new();
    let mut producer: HashMap<&str, usize> = HashMap::new();
    for t in &gp.initializer {
        if let Some(first) = definer.insert(t.name.as_str(), "an initializer".into()) {
            return Err(ImportError::DuplicateTensor {
                name: t.name.clone(),
                first,
                second: "an initializer".into(),
            });
        }
    }
    let initializer_names: BTreeSet<&str> =
        gp.initializer.iter().map(|t| t.name.as_str()).collect();
    for vi in &gp.input {
        if initializer_names.contains(vi.name.as_str()) {
            continue; // an initializer listed as a graph input is a constant
        }
        if let Some(first) = definer.insert(vi.name.as_str(), "a graph input".into()) {
            return Err(ImportError::DuplicateTensor {
                name: vi.name.clone(),
                first,
                second: "a graph input".into(),
            });
        }
    }
    for (i, n) in gp.node.iter().enumerate() {
        for out in n.output.iter().filter(|o| !o.is_empty()) {
            let by = format!("node {}", labels[i]);
            if let Some(first) = definer.insert(out.as_str(), by.clone()) {
                return Err(ImportError::DuplicateTensor {
                    name: out.clone(),
                    first,
                    second: by,
                });
            }
            producer.insert(out.as_str(), i);
        }
    }
    let mut uses: HashMap<String, usize> = HashMap::new();
    for (i, n) in gp.node.iter().enumerate() {
        for inp in n.input.iter().filter(|s| !s.is_empty()) {
            if !definer.contains_key(inp.as_str()) {
                return Err(ImportError::UndefinedTensor {
                    node: labels[i].clone(),
                    tensor: inp.clone(),
                });
            }
            *uses.entry(inp.clone()).or_default() += 1;
        }
    }
    for o in &gp.output {
        if !definer.contains_key(o.name.as_str()) {
            return Err(ImportError::UndefinedOutput(o.name.clone()));
        }
        *uses.entry(o.name.clone()).or_default() += 1;
    }

    // --- graph inputs: each must feed exactly one Quant ---------------------------------
    let mut values: HashMap<String, Value> = HashMap::new();
    for vi in &gp.input {
        if initializer_names.contains(vi.name.as_str()) {
            continue;
        }
        let shape = input_shape(vi)?;
        let readers: Vec<(usize, usize)> = gp
            .node
            .iter()
            .enumerate()
            .flat_map(|(i, n)| {
                n.input
                    .iter()
                    .enumerate()
                    .filter(|(_, s)| **s == vi.name)
                    .map(move |(slot, _)| (i, slot))
            })
            .collect();
        let not_quantized = |reason: String| ImportError::InputNotQuantized {
            input: vi.name.clone(),
            reason,
        };
        let problem = if gp.output.iter().any(|o| o.name == vi.name) {
            Some((None, not_quantized("it is also a graph output".into())))
        } else {
            match readers.as_slice() {
                [] => Some((None, not_quantized("no node reads it".into()))),
                [(i, 0)] if quantized_after_movement(gp, *i) => None,
                [(i, slot)] => Some((
                    Some(*i),
                    not_quantized(format!(
                        "it feeds node {}{}",
                        labels[*i],
                        if *slot == 0 {
                            String::new()
                        } else {
                            format!(" as input #{slot}")
                        }
                    )),
                )),
                many => {
                    let names: Vec<&str> = many.iter().map(|(i, _)| labels[*i].as_str()).collect();
                    Some((
                        Some(many[0].0),
                        not_quantized(format!(
                            "it feeds {} nodes ({})",
                            many.len(),
                            names.join(", ")
                        )),
                    ))
                }
            }
        };
        if let Some((at, e)) = problem {
            match &mut collect {
                None => return Err(e),
                Some((problems, _)) => {
                    problems.push((at, e));
                    continue;
                }
            }
        }
        values.insert(
            vi.name.clone(),
            Value::GraphInput {
                name: vi.name.clone(),
                shape: shape.clone(),
                declared: shape,
                moves: Vec::new(),
            },
        );
    }

    // --- initializers that something reads ----------------------------------------------
    let mut constant_elements = 0usize;
    for t in &gp.initializer {
        if uses.contains_key(&t.name) {
            let c = decode_tensor(t).map_err(|message| ImportError::Tensor {
                name: t.name.clone(),
                message,
            })?;
            count_constant(
                &mut constant_elements,
                c.len(),
                &format!("initializer '{}'", t.name),
            )?;
            values.insert(t.name.clone(), Value::Const(Rc::new(c)));
        }
    }

    // --- topological order ----------------------------------------------------------------
    let order = topological_order(gp, &producer, &labels)?;

    // --- the walk -------------------------------------------------------------------------
    let name = if gp.name.is_empty() {
        "model".to_string()
    } else {
        gp.name.clone()
    };
    let mut imp = Importer {
        graph: Graph::new(name),
        warnings: Vec::new(),
        values: HashMap::new(),
        uses,
        pending: HashMap::new(),
        names: definer.keys().map(|k| k.to_string()).collect(),
        graph_outputs: gp.output.iter().map(|o| o.name.clone()).collect(),
        opsets,
        options,
        constant_elements,
    };
    for (k, v) in values {
        imp.define(&k, v);
    }
    let mut tainted: HashSet<String> = HashSet::new();
    for i in order {
        let node = &gp.node[i];
        let label = labels[i].clone();
        // Collecting: after a failed node, its first input stands in for its outputs
        // ("tainted"), so the nodes after it are still checked; there only attribute
        // problems are recorded (anything else may be a consequence of the stand-in).
        let is_tainted = node.input.iter().any(|n| tainted.contains(n));
        let unsupported_here = ops::lookup(&node.domain, &node.op_type).is_none();
        let blocked = node
            .input
            .iter()
            .any(|n| !n.is_empty() && !imp.values.contains_key(n));
        if let Some((_, skipped)) = &mut collect {
            if blocked || (unsupported_here && is_tainted) {
                **skipped += 1;
                continue;
            }
            if unsupported_here {
                // recorded above; its first activation input stands in for its outputs
                stand_in(&mut imp, &mut tainted, node);
                continue;
            }
        }
        let mut inputs = Vec::with_capacity(node.input.len());
        for name in &node.input {
            if name.is_empty() {
                inputs.push(None);
                continue;
            }
            let v = imp
                .values
                .get(name)
                .cloned()
                .ok_or_else(|| ImportError::Node {
                    node: label.clone(),
                    message: format!(
                        "input '{name}' is an output of {} that aecc does not compute",
                        definer
                            .get(name.as_str())
                            .map_or("another node", |s| s.as_str())
                    ),
                })?;
            if let Some(id) = v.node_id() {
                if let Some(p) = imp.pending.get_mut(&id) {
                    *p = p.saturating_sub(1);
                }
            }
            inputs.push(Some(v));
        }
        let build = ops::lookup(&node.domain, &node.op_type)
            .expect("unsupported nodes were rejected above");
        let mut ctx = NodeCtx {
            imp: &mut imp,
            node,
            label,
            inputs,
        };
        let outs = match (build(&mut ctx), &mut collect) {
            (Ok(outs), _) => outs,
            (Err(e), None) => return Err(e),
            (Err(e), Some((problems, skipped))) => {
                if !is_tainted || matches!(e, ImportError::Attribute { .. }) {
                    problems.push((Some(i), e));
                } else {
                    **skipped += 1;
                }
                stand_in(&mut imp, &mut tainted, node);
                continue;
            }
        };
        if is_tainted {
            for o in &node.output {
                tainted.insert(o.clone());
            }
        }
        for v in &outs {
            if let Value::Const(c) = v {
                count_constant(&mut imp.constant_elements, c.len(), &labels[i])?;
            }
        }
        for (k, out_name) in node.output.iter().enumerate() {
            if out_name.is_empty() {
                continue;
            }
            match outs.get(k) {
                Some(v) => imp.define(out_name, v.clone()),
                None if imp.uses.get(out_name).copied().unwrap_or(0) > 0 => {
                    let e = ImportError::Node {
                        node: labels[i].clone(),
                        message: format!(
                            "output #{k} '{out_name}' is used, but aecc supports only the first \
                             {} output(s) of {}",
                            outs.len(),
                            node.op_type
                        ),
                    };
                    match &mut collect {
                        None => return Err(e),
                        Some((problems, _)) => problems.push((Some(i), e)),
                    }
                }
                None => {}
            }
        }
    }
    if let Some((problems, _)) = &collect {
        if !problems.is_empty() {
            return Err(ImportError::NotOnnx("problems collected".into()));
        }
    }

    // --- graph outputs ----------------------------------------------------------------------
    for o in &gp.output {
        let bad = |message: &str| ImportError::Output {
            output: o.name.clone(),
            message: message.to_string(),
        };
        match imp.values.get(&o.name) {
            Some(Value::Node(id)) => imp.graph.add_output(o.name.clone(), *id),
            Some(Value::Const(_)) => {
                return Err(bad(
                    "it is a constant; aecc needs every output computed from the inputs",
                ))
            }
            Some(Value::Padded { .. }) => {
                return Err(bad(
                    "it comes from a Pad; aecc supports Pad only before a Conv",
                ))
            }
            Some(Value::Codes {
                node, quantizer, ..
            }) => {
                let (node, quantizer) = (*node, quantizer.clone());
                let id = super::ops::qdq::codes_output(&mut imp, &o.name, node, &quantizer)?;
                imp.graph.add_output(o.name.clone(), id)
            }
            Some(Value::Lazy { node, func, origin })
                if **func == super::ops::act::Elementwise::Softmax =>
            {
                let msg = format!(
                    "node {origin} is not compiled; the graph output '{}' is the exact \
                     pre-softmax tensor, the input of that Softmax or LogSoftmax (the arg-max \
                     is unchanged; apply the function and its quantizer in software)",
                    o.name
                );
                imp.warnings.push(msg);
                imp.graph.add_output(o.name.clone(), *node)
            }
            Some(Value::Lazy { origin, .. }) => {
                return Err(bad(&format!(
                    "it comes from node {origin}, a float function that aecc computes exactly \
                     only with a quantizer after it"
                )))
            }
            Some(Value::GraphInput { .. }) => return Err(bad("it is a graph input")),
            None => return Err(ImportError::UndefinedOutput(o.name.clone())),
        }
    }
    if gp.output.is_empty() {
        return Err(ImportError::NotOnnx("the graph has no outputs".into()));
    }
    imp.graph.remove_dead_nodes();
    aecc_ir::verify::verify(&imp.graph).map_err(|e| match e {
        IrError::Verify(m) => ImportError::Ir(IrError::Verify(format!(
            "{m} (a bug in the ONNX importer, please report it)"
        ))),
        other => other.into(),
    })?;
    Ok((imp.graph, imp.warnings))
}

/// The static shape of a graph input: the batch dimension (axis 0, symbolic or 1) is
/// fixed to 1; every other dimension must be a known size.
fn input_shape(vi: &super::proto::ValueInfoProto) -> Result<Vec<usize>, ImportError> {
    let err = |message: String| ImportError::Input {
        input: vi.name.clone(),
        message,
    };
    let tensor = vi
        .r#type
        .as_ref()
        .and_then(|t| t.tensor_type.as_ref())
        .ok_or_else(|| err("it is not declared as a tensor".into()))?;
    let shape = tensor
        .shape
        .as_ref()
        .ok_or_else(|| err("it has no shape; aecc needs static input shapes".into()))?;
    let mut out = Vec::with_capacity(shape.dim.len());
    for (axis, d) in shape.dim.iter().enumerate() {
        let size = match &d.value {
            Some(dimension::Value::DimValue(v)) => {
                if *v < 1 || *v as u64 > super::constant::MAX_DIM as u64 {
                    return Err(err(format!(
                        "dimension {axis} has the size {v}; every dimension must be in 1..={}",
                        super::constant::MAX_DIM
                    )));
                }
                *v as usize
            }
            Some(dimension::Value::DimParam(_)) | None if axis == 0 => 1,
            Some(dimension::Value::DimParam(p)) => {
                return Err(err(format!(
                    "dimension {axis} is the symbol '{p}'; only the batch dimension (0) may be \
                     symbolic"
                )))
            }
            None => {
                return Err(err(format!(
                    "dimension {axis} has no size; only the batch dimension (0) may be unknown"
                )))
            }
        };
        out.push(size);
    }
    if out.len() >= 2 && out[0] != 1 {
        return Err(err(format!(
            "the batch dimension is {}; aecc compiles one sample per clock: export with batch 1 \
             or a symbolic batch",
            out[0]
        )));
    }
    if checked_len(&out).is_none() {
        return Err(err(format!("shape {out:?} is too large")));
    }
    Ok(out)
}

/// Kahn's algorithm over node indices, smallest index first (stable for graphs that are
/// already sorted, as ONNX requires). A cycle is reported through a node on it.
fn topological_order(
    gp: &GraphProto,
    producer: &HashMap<&str, usize>,
    labels: &[String],
) -> Result<Vec<usize>, ImportError> {
    let n = gp.node.len();
    let deps: Vec<BTreeSet<usize>> = gp
        .node
        .iter()
        .map(|node| {
            node.input
                .iter()
                .filter_map(|i| producer.get(i.as_str()).copied())
                .collect()
        })
        .collect();
    let mut users: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (i, d) in deps.iter().enumerate() {
        for &p in d {
            users[p].push(i);
        }
    }
    let mut missing: Vec<usize> = deps.iter().map(|d| d.len()).collect();
    let mut ready: BTreeSet<usize> = (0..n).filter(|&i| missing[i] == 0).collect();
    let mut order = Vec::with_capacity(n);
    while let Some(i) = ready.pop_first() {
        order.push(i);
        for &u in &users[i] {
            missing[u] -= 1;
            if missing[u] == 0 {
                ready.insert(u);
            }
        }
    }
    if order.len() < n {
        // Every node left has an unvisited dependency: follow them until one repeats.
        let mut seen = vec![false; n];
        let mut cur = (0..n).find(|&i| missing[i] > 0).unwrap_or(0);
        while !seen[cur] {
            seen[cur] = true;
            cur = deps[cur]
                .iter()
                .copied()
                .find(|&d| missing[d] > 0)
                .unwrap_or(cur);
        }
        return Err(ImportError::Cycle {
            node: labels[cur].clone(),
        });
    }
    Ok(order)
}

/// Collecting problems: the first input of the failed `node` (when it has a value)
/// stands in for every output, marked as tainted.
fn stand_in(imp: &mut Importer, tainted: &mut HashSet<String>, node: &NodeProto) {
    let v = node
        .input
        .first()
        .and_then(|n| imp.values.get(n))
        .filter(|v| !matches!(v, Value::Const(_)))
        .cloned();
    for o in node.output.iter().filter(|o| !o.is_empty()) {
        if let Some(v) = &v {
            imp.values.insert(o.clone(), v.clone());
        }
        tainted.insert(o.clone());
    }
}

/// Whether node `i` is an input quantizer, or data movement (Transpose, Reshape,
/// Flatten, Squeeze, Unsqueeze, Identity) whose output only feeds, through more data
/// movement, an input quantizer.
fn quantized_after_movement(gp: &GraphProto, i: usize) -> bool {
    let mut at = i;
    for _ in 0..gp.node.len() {
        let n = &gp.node[at];
        if ops::is_input_quantizer(n) {
            return true;
        }
        let movement = n.domain.is_empty()
            && matches!(
                n.op_type.as_str(),
                "Transpose" | "Reshape" | "Flatten" | "Squeeze" | "Unsqueeze" | "Identity"
            );
        let Some(out) = n.output.first().filter(|_| movement) else {
            return false;
        };
        let readers: Vec<usize> = gp
            .node
            .iter()
            .enumerate()
            .filter(|(_, m)| m.input.iter().any(|x| x == out))
            .map(|(k, _)| k)
            .collect();
        match readers.as_slice() {
            [k] if gp.node[*k].input.first() == Some(out) => at = *k,
            _ => return false,
        }
    }
    false
}
