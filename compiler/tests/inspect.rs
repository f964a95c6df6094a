//! `aecc inspect`: every node that cannot be compiled is listed at once, with its op,
//! the attribute at fault and the closest supported alternative; nodes after a failed
//! one are still checked.

mod support;

use support::*;

fn bad_model() -> ModelBuilder {
    let mut b = ModelBuilder::new();
    b.input("x", &[-1, 2, 4, 4]).output("c").output("y");
    b.quant("qin", "x", "xq", 8, 3, true);
    b.i64("pads", &[8], &[0, 0, 1, 1, 0, 0, 1, 1]);
    b.node(
        "Pad",
        "pad",
        &["xq", "pads"],
        &["xp"],
        vec![a_str("mode", "antireflect")],
    );
    b.f32("w", &[2, 2, 3, 3], &[0.25; 36]);
    b.node(
        "Conv",
        "conv",
        &["xp", "w"],
        &["c"],
        vec![a_ints("kernel_shape", &[3, 3]), a_str("auto_pad", "SAME")],
    );
    b.f32("slope", &[1], &[0.1]);
    b.node("PRelu", "prelu", &["xq", "slope"], &["pr"], vec![]);
    b.node("Relu", "relu", &["pr"], &["r"], vec![]);
    b.node(
        "MaxPool",
        "pool",
        &["r"],
        &["y"],
        vec![a_ints("kernel_shape", &[2, 2]), a_int("storage_order", 1)],
    );
    b
}

#[test]
fn every_problem_is_listed_at_once() {
    let found = aecc::onnx::inspect(&bad_model().bytes()).unwrap();
    let lines: Vec<String> = found.issues.iter().map(|i| i.to_string()).collect();
    assert_eq!(
        lines,
        vec![
            "node pad (Pad, domain ai.onnx), attribute 'mode': 'antireflect': expected \
             constant, edge, reflect or wrap",
            "node conv (Conv, domain ai.onnx), attribute 'auto_pad': unknown value 'SAME'; \
             expected NOTSET, VALID, SAME_UPPER or SAME_LOWER",
            "node prelu (PRelu, domain ai.onnx): this op is not supported; closest supported: \
             LeakyRelu (one constant slope) is supported; PRelu is not yet",
            "node pool (MaxPool, domain ai.onnx), attribute 'storage_order': only row-major \
             (0) is supported",
        ],
        "{lines:#?}"
    );
    assert_eq!(found.issues[1].attribute.as_deref(), Some("auto_pad"));
    assert_eq!(found.skipped, 0);
}

#[test]
fn a_clean_model_has_no_issues() {
    let mut b = ModelBuilder::new();
    b.input("x", &[-1, 4]).output("y");
    b.quant("qin", "x", "xq", 8, 3, true);
    b.node("Relu", "relu", &["xq"], &["y"], vec![]);
    let found = aecc::onnx::inspect(&b.bytes()).unwrap();
    assert!(found.issues.is_empty(), "{:?}", found.issues);
}

#[test]
fn inputs_without_a_quantizer_are_listed_with_the_rest() {
    let mut b = ModelBuilder::new();
    b.input("x", &[-1, 4]).output("y");
    b.node("Relu", "relu", &["x"], &["r"], vec![]);
    b.node("Hardmax", "hm", &["r"], &["y"], vec![]);
    let found = aecc::onnx::inspect(&b.bytes()).unwrap();
    let text: Vec<String> = found.issues.iter().map(|i| i.to_string()).collect();
    assert_eq!(found.issues.len(), 2, "{text:#?}");
    assert!(
        text[0].contains("graph input 'x' is not quantized"),
        "{text:#?}"
    );
    assert!(text[1].starts_with("node hm (Hardmax"), "{text:#?}");
}
