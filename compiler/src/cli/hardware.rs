//! The hardware flags shared by `aecc compile` and `aecc verify` (README "Hardware
//! optimisation").

use crate::lower::{Arithmetic, HardwareOptions};

#[derive(clap::Args, Debug, Clone)]
pub struct HardwareArgs {
    /// Target clock period in ns; registers are placed by the delay model so the
    /// latency is the fewest cycles that meet it
    #[arg(long, default_value_t = 25.0, value_name = "NS")]
    pub clock_ns: f64,
    /// Accept one input every N clocks (II = N) and share each layer's adders over the N
    /// cycles
    #[arg(long, default_value_t = 1, value_name = "N")]
    pub reuse: u32,
    /// Every hardware optimisation off: `*` operators, one register stage per IR node
    /// (the QoR baseline)
    #[arg(long)]
    pub no_opt: bool,
    /// Keep constant multiplications as `*` operators (optimised architecture otherwise)
    #[arg(long)]
    pub multipliers: bool,
    /// CSD shift-and-add without sharing sub-expressions between outputs
    #[arg(long)]
    pub no_cse: bool,
    /// Do not fold ReLUs into quantizers nor rounding constants into biases
    #[arg(long)]
    pub no_fuse: bool,
    /// Make every adder operand non-negative (sign-bit flip, ones' complement) so narrow
    /// operands are zero-extended: fewer gates for an ASIC, more inverters on an FPGA
    #[arg(long)]
    pub unsigned_adders: bool,
}

impl HardwareArgs {
    pub fn options(&self) -> HardwareOptions {
        let mut o = if self.no_opt {
            HardwareOptions::baseline()
        } else {
            HardwareOptions::default()
        };
        o.clock_ns = self.clock_ns;
        o.reuse = self.reuse;
        if self.optimised() {
            if self.multipliers {
                o.arithmetic = Arithmetic::Multipliers;
            } else if self.no_cse {
                o.arithmetic = Arithmetic::ShiftAdd;
            }
            o.fuse = !self.no_fuse;
            o.nonneg_adders = self.unsigned_adders;
        }
        o
    }

    fn optimised(&self) -> bool {
        !self.no_opt
    }
}
