//! The contract between a hardware backend and the co-simulation: an RTL design and the
//! layout of its data ports.

/// One integer element of a port: `width` bits, two's complement when `signed`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Lane {
    pub width: u32,
    pub signed: bool,
}

/// A data port: a flat packed bus made of lanes.
///
/// Lane order: lane 0 occupies the least significant bits, bits `[0 +: width_0]`; lane
/// `i` occupies `[offset_i +: width_i]` with `offset_i = width_0 + ... + width_{i-1}`.
/// For a tensor, lane `i` is the element at flat index `i` in row-major (C) order, so
/// for an NCHW tensor the last axis (W) varies fastest.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Port {
    pub name: String,
    pub lanes: Vec<Lane>,
}

impl Port {
    /// A port of `count` identical lanes.
    pub fn uniform(name: impl Into<String>, count: usize, lane: Lane) -> Port {
        Port {
            name: name.into(),
            lanes: vec![lane; count],
        }
    }

    /// Total width of the packed bus in bits.
    pub fn width(&self) -> u32 {
        self.lanes.iter().map(|l| l.width).sum()
    }

    /// Bit offset of each lane (lane 0 at bit 0).
    pub fn offsets(&self) -> Vec<u32> {
        let mut at = 0;
        self.lanes
            .iter()
            .map(|l| {
                let o = at;
                at += l.width;
                o
            })
            .collect()
    }
}

/// A synthesizable design with one input and one output stream.
///
/// The top module `top` has the ports
///
/// ```text
/// input  wire               clk,
/// input  wire               rst,       // synchronous, active high; clears the valid bits
/// input  wire               in_valid,
/// input  wire [IN_W-1:0]    in_data,   // inputs[0], packed as documented on `Port`
/// output wire               out_valid,
/// output wire [OUT_W-1:0]   out_data   // outputs[0]
/// ```
///
/// It accepts one vector per clock (initiation interval 1) and presents the result
/// `latency` rising edges after the edge that captured the input: an input sampled at
/// edge `k` is visible on `out_data` (with `out_valid` high) right after edge
/// `k + latency - 1`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RtlDesign {
    /// Name of the top module.
    pub top: String,
    /// `(file name, Verilog text)`, one module per file, in a deterministic order.
    pub files: Vec<(String, String)>,
    /// Exactly one input port (`in_data`) for now.
    pub inputs: Vec<Port>,
    /// Exactly one output port (`out_data`) for now.
    pub outputs: Vec<Port>,
    /// Pipeline depth in clock cycles (number of register stages), at least 1.
    pub latency: u32,
}

impl RtlDesign {
    /// The single input port.
    pub fn input(&self) -> &Port {
        &self.inputs[0]
    }

    /// The single output port.
    pub fn output(&self) -> &Port {
        &self.outputs[0]
    }

    /// Writes every design file into `dir` (which must exist); returns their paths.
    pub fn write_files(&self, dir: &std::path::Path) -> std::io::Result<Vec<std::path::PathBuf>> {
        self.files
            .iter()
            .map(|(name, text)| {
                let path = dir.join(name);
                std::fs::write(&path, text)?;
                Ok(path)
            })
            .collect()
    }
}
