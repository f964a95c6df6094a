//! Merges `Reshape(Reshape(x))` into one reshape and removes reshapes that keep the
//! shape: both are pure wiring, so this only simplifies the graph.

use super::PassOutcome;
use aecc_ir::{Graph, IrError, Op};

pub fn run(graph: &mut Graph) -> Result<PassOutcome, IrError> {
    let mut changed = 0;
    for id in graph.topo_order()? {
        if !matches!(graph.node(id).op, Op::Reshape { .. }) {
            continue;
        }
        let src = graph.operands(id)[0];
        if graph.node(src).out.shape == graph.node(id).out.shape {
            // identity reshape
            graph.replace_uses(id, src);
            changed += 1;
            continue;
        }
        if matches!(graph.node(src).op, Op::Reshape { .. }) && graph.users(src).len() == 1 {
            // reshape of a reshape with no other user: reshape the original directly
            let original = graph.operands(src)[0];
            let shape = graph.node(id).out.shape.clone();
            let name = graph.node(id).name.clone();
            let origin = format!("{} + {}", graph.node(src).origin, graph.node(id).origin);
            let merged = graph.add_node(
                format!("{name}.merged"),
                Op::Reshape { shape },
                &[original],
                origin,
            )?;
            graph.replace_uses(id, merged);
            changed += 1;
        }
    }
    graph.remove_dead_nodes();
    Ok(PassOutcome { changed })
}

#[cfg(test)]
mod tests {
    use super::*;
    use aecc_ir::{Quantizer, Rounding};

    #[test]
    fn chains_and_identities_fold() {
        let mut g = Graph::new("t");
        let q = Quantizer::pow2(8, 4, true, Rounding::HalfEven);
        let x = g.add_input("x", vec![1, 2, 3], q.out_type(), None);
        let a = g
            .add_node("a", Op::Reshape { shape: vec![1, 6] }, &[x], "a")
            .unwrap();
        let b = g
            .add_node("b", Op::Reshape { shape: vec![6] }, &[a], "b")
            .unwrap();
        let c = g
            .add_node("c", Op::Reshape { shape: vec![6] }, &[b], "c")
            .unwrap();
        let r = g.add_node("r", Op::Relu, &[c], "r").unwrap();
        g.add_output("y", r);
        let out = run(&mut g).unwrap();
        assert!(out.changed >= 2);
        aecc_ir::verify::verify(&g).unwrap();
        // relu now reads a single reshape of the input
        let src = g.operands(r)[0];
        assert!(matches!(g.node(src).op, Op::Reshape { .. }));
        assert_eq!(g.operands(src)[0], x);
        assert_eq!(g.node_count(), 3);
    }
}
