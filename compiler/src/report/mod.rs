//! Reports about a compiled design: per-layer types, operation counts, latency.
//!
//! `report.json` is the machine-readable form (schema in the README); the CLI prints a
//! short human summary from the same data.

use aecc_ir::{Graph, Op};
use serde::Serialize;

/// One tensor's fixed-point type as it appears in reports.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct TypeReport {
    pub width: u32,
    pub frac: i32,
    pub int_bits: i32,
    pub signed: bool,
    /// `s10.7` notation.
    pub text: String,
    pub min: String,
    pub max: String,
}

impl TypeReport {
    pub fn new(t: &aecc_ir::TensorInfo) -> TypeReport {
        TypeReport {
            width: t.ty.width,
            frac: t.ty.frac,
            int_bits: t.ty.int_bits(),
            signed: t.ty.signed,
            text: t.ty.to_string(),
            min: t.interval.lo.to_string(),
            max: t.interval.hi.to_string(),
        }
    }
}

/// One IR node.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct LayerReport {
    pub name: String,
    /// The ONNX node(s) it came from.
    pub origin: String,
    pub op: String,
    pub shape: Vec<usize>,
    #[serde(rename = "type")]
    pub ty: TypeReport,
    /// Multiplications by non-zero constants (Dense/Conv).
    pub const_multiplications: usize,
    /// Two-input additions of a naive sum-of-products implementation.
    pub additions: usize,
    /// Elements rounded/saturated (Quantize).
    pub quantized_elements: usize,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct PortReport {
    pub name: String,
    pub shape: Vec<usize>,
    #[serde(rename = "type")]
    pub ty: TypeReport,
    pub bus_bits: usize,
}

/// The whole compile report.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct DesignReport {
    pub aecc_version: String,
    pub model: String,
    pub top: String,
    pub latency_cycles: u32,
    pub initiation_interval: u32,
    pub inputs: Vec<PortReport>,
    pub outputs: Vec<PortReport>,
    pub layers: Vec<LayerReport>,
    pub total_const_multiplications: usize,
    pub total_additions: usize,
    pub warnings: Vec<String>,
}

fn port(graph: &Graph, name: &str, id: aecc_ir::NodeId) -> PortReport {
    let t = &graph.node(id).out;
    PortReport {
        name: name.to_string(),
        shape: t.shape.clone(),
        ty: TypeReport::new(t),
        bus_bits: t.len() * t.ty.width as usize,
    }
}

/// Per-layer report of a graph.
pub fn layers(graph: &Graph) -> Result<Vec<LayerReport>, aecc_ir::IrError> {
    let mut out = Vec::new();
    for id in graph.compute_nodes()? {
        let n = graph.node(id);
        let input = graph
            .operands(id)
            .first()
            .map(|&o| graph.node(o).out.clone());
        let (mut mults, mut adds, mut quant) = (0, 0, 0);
        match (&n.op, &input) {
            (Op::Dense(_) | Op::Conv(_), Some(x)) => {
                let map = n.op.linear_map(x).expect("dense/conv lower");
                for r in &map.rows {
                    mults += r.terms.len();
                    let operands = r.terms.len() + usize::from(r.bias != 0);
                    adds += operands.saturating_sub(1);
                }
            }
            (Op::Add, _) => adds = n.out.len(),
            (Op::Quantize(_), _) => quant = n.out.len(),
            _ => {}
        }
        out.push(LayerReport {
            name: n.name.clone(),
            origin: n.origin.clone(),
            op: n.op.name().to_string(),
            shape: n.out.shape.clone(),
            ty: TypeReport::new(&n.out),
            const_multiplications: mults,
            additions: adds,
            quantized_elements: quant,
        });
    }
    Ok(out)
}

/// Builds the compile report.
pub fn design_report(
    graph: &Graph,
    model: &str,
    top: &str,
    latency: u32,
    warnings: &[String],
) -> Result<DesignReport, aecc_ir::IrError> {
    let layers = layers(graph)?;
    Ok(DesignReport {
        aecc_version: env!("CARGO_PKG_VERSION").to_string(),
        model: model.to_string(),
        top: top.to_string(),
        latency_cycles: latency,
        initiation_interval: 1,
        inputs: graph
            .inputs()
            .iter()
            .map(|&i| port(graph, &graph.node(i).name, i))
            .collect(),
        outputs: graph
            .outputs()
            .iter()
            .map(|(n, i)| port(graph, n, *i))
            .collect(),
        total_const_multiplications: layers.iter().map(|l| l.const_multiplications).sum(),
        total_additions: layers.iter().map(|l| l.additions).sum(),
        layers,
        warnings: warnings.to_vec(),
    })
}

impl DesignReport {
    /// A short human summary for the terminal.
    pub fn summary(&self) -> String {
        use std::fmt::Write;
        let mut s = String::new();
        writeln!(
            s,
            "{} -> module {}: latency {} cycles, II {}",
            self.model, self.top, self.latency_cycles, self.initiation_interval
        )
        .unwrap();
        for p in &self.inputs {
            writeln!(
                s,
                "  input  {} {:?} {} ({} bus bits)",
                p.name, p.shape, p.ty.text, p.bus_bits
            )
            .unwrap();
        }
        for p in &self.outputs {
            writeln!(
                s,
                "  output {} {:?} {} ({} bus bits)",
                p.name, p.shape, p.ty.text, p.bus_bits
            )
            .unwrap();
        }
        for l in &self.layers {
            let ops = if l.const_multiplications > 0 {
                format!(
                    "  {} const-mults, {} adds",
                    l.const_multiplications, l.additions
                )
            } else {
                String::new()
            };
            writeln!(
                s,
                "  {:<10} {:<24} {:?} {}{}",
                l.op, l.name, l.shape, l.ty.text, ops
            )
            .unwrap();
        }
        writeln!(
            s,
            "  total: {} constant multiplications, {} additions",
            self.total_const_multiplications, self.total_additions
        )
        .unwrap();
        for w in &self.warnings {
            writeln!(s, "  warning: {w}").unwrap();
        }
        s
    }
}
