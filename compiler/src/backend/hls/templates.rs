//! Typed views of the generated files, printed by the askama templates in
//! `hdl-templates/hls/`. The templates only print; every decision is made in Rust.

use askama::Template;

#[derive(Template)]
#[template(path = "hls/vitis/aecc_support.h", escape = "none")]
pub struct VitisSupport;

#[derive(Template)]
#[template(path = "hls/catapult/aecc_support.h", escape = "none")]
pub struct CatapultSupport;

/// One `typedef` with its comment lines.
pub struct TypeDecl {
    pub comment: Vec<String>,
    pub name: String,
    pub spelled: String,
}

#[derive(Template)]
#[template(path = "hls/types.h", escape = "none")]
pub struct TypesHeader<'a> {
    pub top: &'a str,
    pub graph: &'a str,
    pub guard: String,
    pub types: Vec<TypeDecl>,
    pub input_len: usize,
    pub output_len: usize,
}

#[derive(Template)]
#[template(path = "hls/top.h", escape = "none")]
pub struct TopHeader<'a> {
    pub top: &'a str,
    pub graph: &'a str,
    pub guard: String,
    pub types_header: String,
    pub input_name: &'a str,
    pub input_shape: &'a str,
    pub input_doc: &'a str,
    pub output_name: &'a str,
    pub output_shape: &'a str,
    pub output_doc: &'a str,
}

/// A constant array (weights, biases).
pub struct ConstArray {
    pub doc: String,
    /// The C integer type of the stored integers (`int8_t` ... `int64_t`).
    pub c_type: &'static str,
    pub name: String,
    pub len: usize,
    /// Comma-terminated lines of integers.
    pub rows: Vec<String>,
}

#[derive(Template)]
#[template(path = "hls/weights.h", escape = "none")]
pub struct WeightsHeader<'a> {
    pub layer: &'a str,
    pub origin: &'a str,
    pub guard: String,
    pub types_header: String,
    pub arrays: Vec<ConstArray>,
}

pub struct DenseBody {
    /// Fixed-point types of the weight and bias (the arrays hold their integers).
    pub w_type: String,
    pub b_type: String,
    pub outer: usize,
    pub k: usize,
    pub m: usize,
    pub bias: bool,
}

pub struct ConvBody {
    pub w_type: String,
    pub b_type: String,
    pub n: usize,
    pub c: usize,
    pub h: usize,
    pub w: usize,
    pub m: usize,
    pub cg: usize,
    pub m_per_group: usize,
    pub kh: usize,
    pub kw: usize,
    pub oh: usize,
    pub ow: usize,
    pub stride_h: usize,
    pub stride_w: usize,
    pub dilation_h: usize,
    pub dilation_w: usize,
    pub pad_top: usize,
    pub pad_left: usize,
    pub bias: bool,
}

pub struct TransposeBody {
    /// Comma-terminated lines of source indices.
    pub rows: Vec<String>,
}

pub struct QuantBody {
    pub work_width: u32,
    pub mode: &'static str,
    pub saturate: bool,
    pub bipolar: bool,
    /// `{shift, numeratorLL, divisorLL, zero_pointLL, multiplierLL, out_shift}`
    /// initializers.
    pub channels: Vec<String>,
    /// `{bits, signed, narrow}` initializer.
    pub range: String,
    /// Expression of the channel index of element `i`.
    pub channel_index: String,
}

pub enum LayerBody {
    Dense(DenseBody),
    Conv(ConvBody),
    Relu,
    Add,
    Sub,
    Transpose(TransposeBody),
    QuantCast,
    QuantExplicit(QuantBody),
    IntMap(IntMapBody),
    Select(SelectBody),
    Pool(PoolBody),
    Concat(ConcatBody),
    Softmax(SoftmaxBody),
}

/// The LUT softmax of each row of `n` values (see `aecc_ir::SoftmaxLut`).
pub struct SoftmaxBody {
    pub work_width: u32,
    pub rows: usize,
    pub n: usize,
    /// Comma-terminated lines of the exp table.
    pub table: Vec<String>,
    pub table_len: usize,
    pub out_frac: i32,
    pub out_max: String,
}

/// An element-wise integer function (`Affine`, `Clip`, `LeakyRelu`, lookup tables):
/// `y = expr(v, c)` with `v` the input's integer and `c` its channel.
pub struct IntMapBody {
    pub work_width: u32,
    /// Lines declaring the static constant arrays `expr` reads.
    pub statics: Vec<String>,
    /// C expression of `v` (the integer, `aecc::wide_t<work_width>`) and `c`.
    pub expr: String,
    /// Expression of the channel index of element `i`.
    pub channel_index: String,
}

/// Data movement with constant fill: `y[i] = source[i] < 0 ? fill : x[source[i]]`.
pub struct SelectBody {
    /// Comma-terminated lines of source indices (`-1`: the fill value).
    pub rows: Vec<String>,
    /// `aecc::from_raw<...>(fill)`, when some output is the fill value.
    pub fill: Option<String>,
}

/// A pool over explicit windows: output `o` reads `x[taps[t]]` for `t` in
/// `starts[o]..starts[o + 1]`; a maximum, or a sum times `mult[o]`.
pub struct PoolBody {
    pub work_width: u32,
    pub max: bool,
    pub starts: Vec<String>,
    pub taps: Vec<String>,
    /// Multiplier of each output (averages only).
    pub mult: Vec<String>,
    pub outputs: usize,
}

/// Concatenation: operand `k` (array `x{k}`) fills blocks of `block` values at
/// `offset` in each of `outer` output blocks of `total` values.
pub struct ConcatBody {
    pub outer: usize,
    pub total: usize,
    pub parts: Vec<ConcatPart>,
}

pub struct ConcatPart {
    pub array: String,
    pub block: usize,
    pub offset: usize,
}

pub struct LayerView {
    pub name: String,
    pub doc: Vec<String>,
    pub params: Vec<String>,
    pub pragmas: Vec<String>,
    pub out_type: String,
    /// Elements of the output.
    pub len: usize,
    pub body: LayerBody,
}

#[derive(Template)]
#[template(path = "hls/layers.h", escape = "none")]
pub struct LayersHeader<'a> {
    pub top: &'a str,
    pub graph: &'a str,
    pub guard: String,
    pub types_header: String,
    pub layers: Vec<LayerView>,
    /// Pragma lines before every loop, and at the start of every loop body.
    pub loop_head: Vec<String>,
    pub loop_body: Vec<String>,
}

/// A local array of the top function.
pub struct LocalArray {
    pub type_name: String,
    pub name: String,
    pub len: usize,
    pub pragmas: Vec<String>,
}

#[derive(Template)]
#[template(path = "hls/top.cpp", escape = "none")]
pub struct TopSource<'a> {
    pub top: &'a str,
    pub graph: &'a str,
    pub tool: &'static str,
    pub schedule: String,
    pub top_header: String,
    pub layers_header: String,
    pub weight_headers: Vec<String>,
    pub before_top: Vec<String>,
    pub top_pragmas: Vec<String>,
    pub arrays: Vec<LocalArray>,
    pub calls: Vec<String>,
    pub loop_head: Vec<String>,
    pub loop_body: Vec<String>,
    /// The array holding the graph output.
    pub result: String,
}

#[derive(Template)]
#[template(path = "hls/tb.cpp", escape = "none")]
pub struct Testbench<'a> {
    pub top: &'a str,
    pub graph: &'a str,
    pub top_header: String,
    pub input_doc: &'a str,
    pub input_frac: i32,
    pub output_doc: &'a str,
    pub output_frac: i32,
}

#[derive(Template)]
#[template(path = "hls/vitis/build.tcl", escape = "none")]
pub struct VitisScript<'a> {
    pub top: &'a str,
    pub graph: &'a str,
    pub part: &'static str,
    pub clock_ns: &'static str,
}

#[derive(Template)]
#[template(path = "hls/catapult/build.tcl", escape = "none")]
pub struct CatapultScript<'a> {
    pub top: &'a str,
    pub graph: &'a str,
    pub clock_ns: &'static str,
    pub tech_lib: &'static str,
    pub ii: u32,
}

#[derive(Template)]
#[template(path = "hls/README.md", escape = "none")]
pub struct ProjectReadme<'a> {
    pub top: &'a str,
    pub graph: &'a str,
    pub tool: &'static str,
    pub library: &'static str,
    pub script: &'static str,
    pub synth_command: &'static str,
    pub schedule: &'a str,
    pub input_doc: &'a str,
    pub input_shape: &'a str,
    pub input_frac: i32,
    pub input_len: usize,
    pub output_doc: &'a str,
    pub output_shape: &'a str,
    pub output_frac: i32,
    pub output_len: usize,
}
