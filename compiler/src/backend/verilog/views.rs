//! Typed views of the generated modules, printed by the askama templates in
//! `hdl-templates/verilog/`. Everything is decided here; the templates only print.

use super::netlist::{ModuleBody, Wire};
use askama::Template;

/// Renders a view as the text of one Verilog file (ending in a newline).
pub fn render_file<T: Template>(view: &T) -> Result<String, askama::Error> {
    let mut text = view.render()?;
    if !text.ends_with('\n') {
        text.push('\n');
    }
    Ok(text)
}

/// A declared wire: `wire [msb:0] name = expr;` (no `expr`: driven by an instance).
pub struct WireView {
    pub comment: Vec<String>,
    pub name: String,
    pub msb: u32,
    pub expr: Option<String>,
}

impl From<&Wire> for WireView {
    fn from(w: &Wire) -> WireView {
        WireView {
            comment: w.comment.as_deref().map(comment_lines).unwrap_or_default(),
            name: w.name.clone(),
            msb: w.width - 1,
            expr: w.expr.clone(),
        }
    }
}

/// Splits a comment into lines (a comment never spans a line break of the source).
pub fn comment_lines(text: &str) -> Vec<String> {
    text.lines().map(|l| l.trim_end().to_string()).collect()
}

/// `{1'b0, <parts>, 1'b0}` contents for the unused-bit sink, or `None`.
pub fn unused_sink(body: &ModuleBody) -> Option<String> {
    let parts = body.unused_parts();
    (!parts.is_empty()).then(|| super::netlist::wrap_list(&parts, ", ", 8, "      "))
}

pub struct InputPortView {
    pub name: String,
    pub msb: u32,
}

pub struct InstanceView {
    pub module: String,
    pub name: String,
    /// `.port(signal), ...`
    pub connections: String,
}

/// A registered layer (`hdl-templates/verilog/layer.v`).
#[derive(Template)]
#[template(path = "verilog/layer.v", escape = "none")]
pub struct LayerView {
    pub header: Vec<String>,
    pub module: String,
    pub inputs: Vec<InputPortView>,
    pub out_msb: u32,
    pub wires: Vec<WireView>,
    pub instances: Vec<InstanceView>,
    pub unused: Option<String>,
    /// The concatenation of the output lanes, most significant lane first.
    pub out_expr: String,
}

/// A purely combinational per-lane function (`hdl-templates/verilog/lane.v`).
#[derive(Template)]
#[template(path = "verilog/lane.v", escape = "none")]
pub struct LaneView {
    pub header: Vec<String>,
    pub module: String,
    pub x_msb: u32,
    pub y_msb: u32,
    pub wires: Vec<LaneWireView>,
    pub unused: Option<String>,
    pub y_expr: String,
}

pub struct LaneWireView {
    pub comment: Vec<String>,
    pub name: String,
    pub msb: u32,
    pub expr: String,
}

/// A delay register that aligns an operand with a later pipeline stage.
pub struct DelayView {
    pub name: String,
    pub msb: u32,
    pub source: String,
}

/// One tensor of the top module: produced by a layer instance or by wiring.
pub struct NodeView {
    pub comment: Vec<String>,
    pub name: String,
    pub msb: u32,
    pub delays: Vec<DelayView>,
    pub wiring: Option<String>,
    pub instance: Option<InstanceView>,
}

/// The top module (`hdl-templates/verilog/top.v`).
#[derive(Template)]
#[template(path = "verilog/top.v", escape = "none")]
pub struct TopView {
    pub header: Vec<String>,
    pub module: String,
    pub in_msb: u32,
    pub out_msb: u32,
    pub latency: u32,
    pub latency_msb: u32,
    /// Next value of the valid pipeline.
    pub valid_next: String,
    pub input_reg: String,
    pub nodes: Vec<NodeView>,
    pub output: String,
}

/// A lookup table lane (`hdl-templates/verilog/lut.v`): `case (x)` over the reachable
/// inputs.
#[derive(Template)]
#[template(path = "verilog/lut.v", escape = "none")]
pub struct LutView {
    pub header: Vec<String>,
    pub module: String,
    pub x_msb: u32,
    pub y_msb: u32,
    pub entries: Vec<LutEntryView>,
    pub default: String,
}

/// One `key: y = value;` arm of a lookup table.
pub struct LutEntryView {
    pub key: String,
    pub value: String,
}
