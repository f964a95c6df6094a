//! A readable text form of the IR, used by `aecc inspect` and by snapshot tests.

use crate::fixed::Unit;
use crate::graph::Graph;
use crate::ops::{ConstTensor, Op};
use crate::quant::Quantizer;
use std::fmt::Write;

fn shape(s: &[usize]) -> String {
    let parts: Vec<String> = s.iter().map(|d| d.to_string()).collect();
    format!("[{}]", parts.join(","))
}

fn constant(c: &ConstTensor) -> String {
    if c.unit.is_one() {
        format!("{}{}", c.ty(), shape(&c.shape))
    } else {
        format!("{}{} unit={}", c.ty(), shape(&c.shape), c.unit)
    }
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
        Op::Sub => String::new(),
        Op::Affine(a) => format!(
            "mul={} add={}{} out={}",
            values(&a.mul, a.axis),
            values(&a.add, a.axis),
            a.axis.map_or(String::new(), |x| format!(" axis={x}")),
            grid(a.out_unit, a.out_frac)
        ),
        Op::Clip { lo, hi } => format!("lo={lo} hi={hi}"),
        Op::LeakyRelu {
            pos,
            neg,
            frac_shift,
        } => format!("pos={pos} neg={neg} shift={frac_shift}"),
        Op::MaxPool(p) | Op::AvgPool(p) => {
            let mut s = format!(
                "kernel={},{} strides={},{} pads={},{},{},{} dilations={},{}",
                p.kernel[0],
                p.kernel[1],
                p.strides[0],
                p.strides[1],
                p.pads[0],
                p.pads[1],
                p.pads[2],
                p.pads[3],
                p.dilations[0],
                p.dilations[1]
            );
            if p.ceil_mode {
                s.push_str(" ceil_mode");
            }
            if matches!(op, Op::AvgPool(_)) && p.count_include_pad {
                s.push_str(" count_include_pad");
            }
            s
        }
        Op::Select(sel) => {
            let filled = sel.index.iter().filter(|i| i.is_none()).count();
            let mut s = format!("shape={}", shape(&sel.shape));
            if filled > 0 {
                write!(s, " fill={} ({filled} lanes)", sel.fill).unwrap();
            }
            s
        }
        Op::Concat { axis, .. } => format!("axis={axis}"),
        Op::Lut(l) => format!(
            "{} entries from {}{} out={}",
            l.tables.first().map_or(0, |t| t.len()),
            l.in_lo,
            if l.tables.len() > 1 {
                format!(
                    " x {} channels on axis {}",
                    l.tables.len(),
                    l.axis.unwrap_or(0)
                )
            } else {
                String::new()
            },
            grid(l.out_unit, l.out_frac)
        ),
        Op::Softmax(s) => format!(
            "exp table of {} entries on 2^-{}, out u2^-{} max {}",
            s.table.len(),
            s.table_frac,
            s.out_frac,
            s.out_max
        ),
    }
}

/// `[1,2,3]`, or `N per-channel` for long lists.
fn values(v: &[i64], axis: Option<usize>) -> String {
    if v.len() > 4 {
        format!("{} per-channel", v.len())
    } else if axis.is_none() && v.len() == 1 {
        v[0].to_string()
    } else {
        let parts: Vec<String> = v.iter().map(|x| x.to_string()).collect();
        format!("[{}]", parts.join(","))
    }
}

/// `2^-4`, or `3/5*2^-4` with a unit.
fn grid(unit: Unit, frac: i32) -> String {
    if unit.is_one() {
        format!("2^{}", -frac)
    } else {
        format!("{unit}*2^{}", -frac)
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
        let unit = if n.out.unit.is_one() {
            String::new()
        } else {
            format!(" unit={}", n.out.unit)
        };
        writeln!(
            s,
            "{head}{attrs} : {} {}{unit} {}",
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
