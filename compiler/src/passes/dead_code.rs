//! Removes nodes that no graph output depends on.

use super::PassOutcome;
use aecc_ir::{Graph, IrError};

pub fn run(graph: &mut Graph) -> Result<PassOutcome, IrError> {
    Ok(PassOutcome {
        changed: graph.remove_dead_nodes(),
    })
}
