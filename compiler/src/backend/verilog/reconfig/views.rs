//! Typed views of the reconfigurable design's modules, printed by the templates in
//! `hdl-templates/verilog/reconfig/`.

use super::super::views::{InputPortView, InstanceView, WireView};
use askama::Template;

/// A register of `W` bits with enable (`reconfig/reg.v`).
#[derive(Template)]
#[template(path = "verilog/reconfig/reg.v", escape = "none")]
pub struct RegView {
    pub header: Vec<String>,
    pub module: String,
    pub seu: bool,
}

/// A triplicated register with a majority voter (`reconfig/tmr_reg.v`).
#[derive(Template)]
#[template(path = "verilog/reconfig/tmr_reg.v", escape = "none")]
pub struct TmrRegView {
    pub header: Vec<String>,
    pub module: String,
    pub seu: bool,
}

pub struct OutputPortView {
    pub name: String,
    pub msb: u32,
    pub expr: String,
}

/// A combinational layer (`reconfig/comb.v`).
#[derive(Template)]
#[template(path = "verilog/reconfig/comb.v", escape = "none")]
pub struct CombView {
    pub header: Vec<String>,
    pub module: String,
    pub inputs: Vec<InputPortView>,
    pub outputs: Vec<OutputPortView>,
    pub wires: Vec<WireView>,
    pub instances: Vec<InstanceView>,
    pub unused: Option<String>,
}

/// One configuration word.
pub struct WordView {
    pub comment: Vec<String>,
    pub address: u32,
    pub address_literal: String,
    pub msb: u32,
    pub instance: InstanceView,
}

/// The configuration register file (`reconfig/config.v`).
#[derive(Template)]
#[template(path = "verilog/reconfig/config.v", escape = "none")]
pub struct ConfigView {
    pub header: Vec<String>,
    pub module: String,
    pub addr_msb: u32,
    pub data_msb: u32,
    pub flip_msb: Option<u32>,
    pub fields_msb: u32,
    pub words: Vec<WordView>,
    pub unused: Option<String>,
    pub fields_expr: String,
}

pub struct SeuView {
    pub index_msb: u32,
    pub bits_msb: u32,
    /// `{N-1'd0, seu_en}`.
    pub one: String,
}

/// A group of declarations and instances of the top module, under a comment.
pub struct TopItem {
    pub comment: Vec<String>,
    pub wires: Vec<WireView>,
    pub instances: Vec<InstanceView>,
}

/// The top module (`reconfig/top.v`).
#[derive(Template)]
#[template(path = "verilog/reconfig/top.v", escape = "none")]
pub struct TopView {
    pub header: Vec<String>,
    pub module: String,
    pub in_msb: u32,
    pub out_msb: u32,
    pub addr_msb: u32,
    pub data_msb: u32,
    pub seu: Option<SeuView>,
    pub items: Vec<TopItem>,
    pub out_valid: String,
    pub output: String,
}
