//! A readable text form of the IR, used by `aecc inspect` and by snapshot tests.

use crate::graph::Graph;
use crate::ops::{ConstTensor, Op};
use crate::quant::Quantizer;
use std::fmt::Write;

fn shape(s: &[usize]) -> String {
    let parts: Vec<String> = s.iter().map(|d| d.to_string()).collect();
    format!("[{}]", parts.join(","))
}

fn constant(c: &ConstTensor) -> String {
    format!("{}{}", c.ty(), shape(&c.shape))
}

/// One-line description of a quantizer.
pub fn quantizer(q: &Quantizer) -> String {
    let scales: Vec<String> = q
        .channels
        .iter()
        .map(|c| {
            if c.zero_point == 0 {
                c.scale.to_string()
            } else {
                format!("{}@zp{}", c.scale, c.zero_point)
            }
        })
        .collect();
    let scales = if scales.len() > 4 {
        format!(
            "{} per-channel on axis {}",
            scales.len(),
            q.axis.unwrap_or(0)
        )
    } else {
        scales.join(",")
    };
    format!(
        "{}{}b{} scale={} {} {:?}",
        if q.signed { "int" } else { "uint" },
        q.bit_width,
        if q.narrow { " narrow" } else { "" },
        scales,
        q.rounding.qonnx_name(),
        q.overflow
    )
    .to_lowercase()
}

/// Op-specific attributes.
pub fn attributes(op: &Op) -> String {
    match op {
        Op::Input { from_float } => match from_float {
            Some(q) => format!("from_float={}", quantizer(q)),
            None => String::new(),
        },
        Op::Quantize(q) => quantizer(q),
        Op::Relu | Op::Add => String::new(),
        Op::Dense(d) => {
            let mut s = format!("w={}", constant(&d.weight));
            if let Some(b) = &d.bias {
                write!(s, " b={}", constant(b)).unwrap();
            }
            s
        }
        Op::Conv(c) => {
            let mut s = format!(
                "w={} strides={},{} pads={},{},{},{} dilations={},{} group={}",
                constant(&c.weight),
                c.strides[0],
                c.strides[1],
                c.pads[0],
                c.pads[1],
                c.pads[2],
                c.pads[3],
                c.dilations[0],
                c.dilations[1],
                c.group
            );
            if let Some(b) = &c.bias {
                write!(s, " b={}", constant(b)).unwrap();
            }
            s
        }
        Op::Reshape { shape: s } => format!("shape={}", shape(s)),
        Op::Transpose { perm } => format!("perm={}", shape(perm)),
    }
}

/// Prints the whole graph, one node per line, in topological order.
pub fn print(graph: &Graph) -> String {
    let mut s = String::new();
    writeln!(s, "graph {} {{", graph.name).unwrap();
    let order = match graph.topo_order() {
        Ok(o) => o,
        Err(e) => return format!("{s}  <{e}>\n}}\n"),
    };
    for id in order {
        let n = graph.node(id);
        let operands: Vec<String> = graph
            .operands(id)
            .iter()
            .map(|&o| format!("%{}", graph.node(o).name))
            .collect();
        let attrs = attributes(&n.op);
        let head = if matches!(n.op, Op::Input { .. }) {
            format!("  input %{}", n.name)
        } else {
            format!("  %{} = {}({})", n.name, n.op.name(), operands.join(", "))
        };
        let attrs = if attrs.is_empty() {
            String::new()
        } else {
            format!(" {attrs}")
        };
        writeln!(
            s,
            "{head}{attrs} : {} {} {}",
            shape(&n.out.shape),
            n.out.ty,
            n.out.interval
        )
        .unwrap();
    }
    for (name, id) in graph.outputs() {
        writeln!(s, "  output {} = %{}", name, graph.node(*id).name).unwrap();
    }
    s.push_str("}\n");
    s
}
