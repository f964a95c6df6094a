//! ONNX import: models built in Rust with aecc's prost messages, checked through the IR
//! text, the IR nodes and the error messages.

mod support;

use aecc::ir::{printer, Op, Rounding};
use aecc::onnx::{import_bytes, ImportError, ImportedModel};
use support::*;

fn import(b: &ModelBuilder) -> ImportedModel {
    match import_bytes(&b.bytes()) {
        Ok(m) => m,
        Err(e) => panic!("import failed: {e}"),
    }
}

fn import_err(b: &ModelBuilder) -> ImportError {
    match import_bytes(&b.bytes()) {
        Ok(m) => panic!(
            "import succeeded but should fail:\n{}",
            printer::print(&m.graph)
        ),
        Err(e) => e,
    }
}

/// Deterministic small weights: multiples of 2^-5 in [-1, 1).
fn weights(n: usize, seed: usize) -> Vec<f32> {
    (0..n)
        .map(|i| (((i * 37 + seed * 11) % 64) as f32 - 32.0) / 32.0 * 0.9)
        .collect()
}

/// The ECON-T encoder shape: Quant -> Conv 3x3/2 (pads 0,0,1,1) -> Relu -> Quant ->
/// Flatten -> Gemm (transB) -> Relu -> Quant.
pub fn econt_like() -> ModelBuilder {
    let mut b = ModelBuilder::new();
    b.input("x", &[-1, 1, 8, 8]).output("latent");
    b.quant("q_in", "x", "xq", 10, 7, true);
    b.f32("w1", &[8, 1, 3, 3], &weights(72, 1));
    b.quant("q_w1", "w1", "w1q", 6, 5, true);
    b.f32("b1", &[8], &weights(8, 2));
    b.quant("q_b1", "b1", "b1q", 16, 12, true);
    b.node(
        "Conv",
        "conv",
        &["xq", "w1q", "b1q"],
        &["c1"],
        vec![
            a_ints("kernel_shape", &[3, 3]),
            a_ints("strides", &[2, 2]),
            a_ints("pads", &[0, 0, 1, 1]),
        ],
    );
    b.node("Relu", "relu1", &["c1"], &["r1"], vec![]);
    b.quant("q_a1", "r1", "a1", 11, 8, true);
    b.node(
        "Flatten",
        "flatten",
        &["a1"],
        &["f"],
        vec![a_int("axis", 1)],
    );
    b.f32("w2", &[16, 128], &weights(2048, 3));
    b.quant("q_w2", "w2", "w2q", 6, 5, true);
    b.f32("b2", &[16], &weights(16, 4));
    b.quant("q_b2", "b2", "b2q", 16, 13, true);
    b.node(
        "Gemm",
        "dense",
        &["f", "w2q", "b2q"],
        &["d"],
        vec![
            a_float("alpha", 1.0),
            a_float("beta", 1.0),
            a_int("transB", 1),
        ],
    );
    b.node("Relu", "relu2", &["d"], &["r2"], vec![]);
    b.quant("q_out", "r2", "latent", 9, 8, false);
    b
}

#[test]
fn econt_like_model_ir_text() {
    let m = import(&econt_like());
    assert!(m.warnings.is_empty(), "{:?}", m.warnings);
    assert_eq!((m.opset, m.ir_version), (17, 8));
    assert_eq!(m.producer, "aecc-tests 0");
    let text = printer::print(&m.graph);
    let expected = "\
graph test {
  input %x from_float=int10b scale=2^-7 round saturate : [1,1,8,8] s10.7 [-512, 511]
  %c1 = conv(%x) w=s6.5[8,1,3,3] strides=2,2 pads=0,0,1,1 dilations=1,1 group=1 b=s13.12[8] : [1,8,4,4] s18.12 [-69476, 72171]
  %r1 = relu(%c1) : [1,8,4,4] u17.12 [0, 72171]
  %a1 = quantize(%r1) int11b scale=2^-8 round saturate : [1,8,4,4] s11.8 [-1024, 1023]
  %f = reshape(%a1) shape=[1,128] : [1,128] s11.8 [-1024, 1023]
  %d = dense(%f) w=s6.5[128,16] b=s14.13[16] : [1,16] s22.13 [-1892631, 1891076]
  %r2 = relu(%d) : [1,16] u21.13 [0, 1891076]
  %latent = quantize(%r2) uint9b scale=2^-8 round saturate : [1,16] u9.8 [0, 511]
  output latent = %latent
}
";
    assert_eq!(text, expected, "got:\n{text}");
    // Origins name the ONNX nodes; the input absorbed its quantizer.
    let input = m.graph.node(m.graph.inputs()[0]);
    assert_eq!(input.origin, "x + q_in (Quant)");
    let Op::Input {
        from_float: Some(q),
    } = &input.op
    else {
        panic!("input has no quantizer")
    };
    assert_eq!((q.bit_width, q.out_frac(), q.signed), (10, 7, true));
}

#[test]
fn quantized_weights_are_exact_integers() {
    let m = import(&econt_like());
    let conv = m
        .graph
        .node_ids()
        .into_iter()
        .find_map(|id| match &m.graph.node(id).op {
            Op::Conv(c) => Some(c.clone()),
            _ => None,
        })
        .unwrap();
    let w = weights(72, 1);
    assert_eq!(conv.weight.frac, 5);
    for (i, (&q, &f)) in conv.weight.data.iter().zip(&w).enumerate() {
        // round half to even of f * 32, saturated to [-32, 31]
        let want = ((f as f64) * 32.0).round_ties_even().clamp(-32.0, 31.0) as i64;
        assert_eq!(q, want, "weight {i} = {f}");
    }
    let bias = conv.bias.unwrap();
    assert_eq!(bias.frac, 12);
    let b = weights(8, 2);
    for (&q, &f) in bias.data.iter().zip(&b) {
        assert_eq!(q, ((f as f64) * 4096.0).round_ties_even() as i64);
    }
}

#[test]
fn per_channel_weight_scales() {
    let mut b = ModelBuilder::new();
    b.input("x", &[1, 2, 4, 4]).output("y");
    b.quant("qi", "x", "xq", 8, 4, true);
    // 3 output channels with scales 2^-2, 2^-4 and 0.375 (= 3 * 2^-3)
    b.f32("w", &[3, 2, 1, 1], &[0.3, -0.6, 0.3, -0.6, 0.3, -0.6]);
    b.quant_full(
        "qw",
        "w",
        "wq",
        &[0.25, 0.0625, 0.375],
        &[3, 1, 1, 1],
        0.0,
        4.0,
        true,
        false,
        "ROUND",
    );
    b.node("Conv", "c", &["xq", "wq"], &["y"], vec![]);
    let m = import(&b);
    let id = m.graph.outputs()[0].1;
    let Op::Conv(c) = &m.graph.node(id).op else {
        panic!()
    };
    // finest grid 2^-4; channel 0: round(0.3/0.25)=1 -> 0.25 = 4/16, round(-0.6/0.25)=-2 -> -8/16
    // channel 1: round(0.3*16)=5, round(-0.6*16)=-10 ; channel 2: round(0.3/0.375)=1 -> 0.375 = 6/16,
    // round(-0.6/0.375) = round(-1.6) = -2 -> -0.75 = -12/16
    assert_eq!(c.weight.frac, 4);
    assert_eq!(c.weight.data, vec![4, -8, 5, -8, 6, -12]);
}

#[test]
fn per_channel_activation_quantizer_axis() {
    let mut b = ModelBuilder::new();
    b.input("x", &[1, 3, 2, 2]).output("y");
    b.quant_full(
        "qi",
        "x",
        "y",
        &[0.5, 0.25, 0.125],
        &[1, 3, 1, 1],
        0.0,
        8.0,
        true,
        false,
        "ROUND",
    );
    let m = import(&b);
    let input = m.graph.node(m.graph.inputs()[0]);
    let Op::Input {
        from_float: Some(q),
    } = &input.op
    else {
        panic!()
    };
    assert_eq!(q.axis, Some(1));
    assert_eq!(q.channels.len(), 3);
    assert_eq!(input.out.ty.frac, 3);
}

#[test]
fn every_rounding_mode_parses() {
    let cases = [
        ("ROUND", Rounding::HalfEven),
        ("HALF_EVEN", Rounding::HalfEven),
        ("CEIL", Rounding::Ceil),
        ("FLOOR", Rounding::Floor),
        ("UP", Rounding::AwayFromZero),
        ("DOWN", Rounding::TowardZero),
        ("ROUND_TO_ZERO", Rounding::TowardZero),
        ("HALF_UP", Rounding::HalfAwayFromZero),
        ("HALF_DOWN", Rounding::HalfTowardZero),
        ("round", Rounding::HalfEven),
    ];
    for (name, mode) in cases {
        let mut b = ModelBuilder::new();
        b.input("x", &[1, 4]).output("y");
        b.quant("qi", "x", "xq", 8, 4, true);
        b.quant_full("q", "xq", "y", &[0.5], &[], 0.0, 4.0, true, false, name);
        let m = import(&b);
        let Op::Quantize(q) = &m.graph.node(m.graph.outputs()[0].1).op else {
            panic!()
        };
        assert_eq!(q.rounding, mode, "{name}");
    }
    let mut b = ModelBuilder::new();
    b.input("x", &[1, 4]).output("y");
    b.quant_full(
        "qi",
        "x",
        "y",
        &[0.5],
        &[],
        0.0,
        4.0,
        true,
        false,
        "STOCHASTIC",
    );
    let e = import_err(&b).to_string();
    assert!(
        e.starts_with("node qi (Quant), attribute 'rounding_mode': unknown mode 'STOCHASTIC'"),
        "{e}"
    );
}

fn conv_model(attrs: Vec<aecc::onnx::proto::AttributeProto>, hw: i64) -> ModelBuilder {
    let mut b = ModelBuilder::new();
    b.input("x", &[-1, 1, hw, hw]).output("y");
    b.quant("qi", "x", "xq", 8, 4, true);
    b.f32("w", &[2, 1, 3, 3], &weights(18, 5));
    b.quant("qw", "w", "wq", 4, 3, true);
    b.node("Conv", "conv", &["xq", "wq"], &["y"], attrs);
    b
}

fn conv_of(m: &ImportedModel) -> (aecc::ir::Conv, Vec<usize>) {
    let n = m.graph.node(m.graph.outputs()[0].1);
    let Op::Conv(c) = &n.op else { panic!() };
    (c.clone(), n.out.shape.clone())
}

#[test]
fn asymmetric_pads() {
    let m = import(&conv_model(
        vec![a_ints("pads", &[0, 1, 2, 0]), a_ints("strides", &[1, 2])],
        5,
    ));
    let (c, shape) = conv_of(&m);
    assert_eq!(c.pads, [0, 1, 2, 0]);
    assert_eq!(c.strides, [1, 2]);
    // H: 5 + 0 + 2 - 3 + 1 = 5 ; W: (5 + 1 + 0 - 3) / 2 + 1 = 2
    assert_eq!(shape, vec![1, 2, 5, 2]);
}

#[test]
fn auto_pad_same_upper_and_lower() {
    let m = import(&conv_model(
        vec![a_str("auto_pad", "SAME_UPPER"), a_ints("strides", &[2, 2])],
        8,
    ));
    let (c, shape) = conv_of(&m);
    // out = ceil(8 / 2) = 4, total = 3 * 2 + 3 - 8 = 1: the extra pixel at the end
    assert_eq!(c.pads, [0, 0, 1, 1]);
    assert_eq!(shape, vec![1, 2, 4, 4]);
    let m = import(&conv_model(
        vec![a_str("auto_pad", "SAME_LOWER"), a_ints("strides", &[2, 2])],
        8,
    ));
    assert_eq!(conv_of(&m).0.pads, [1, 1, 0, 0]);
    let m = import(&conv_model(vec![a_str("auto_pad", "SAME_UPPER")], 7));
    assert_eq!(conv_of(&m).0.pads, [1, 1, 1, 1]);
    let m = import(&conv_model(vec![a_str("auto_pad", "VALID")], 7));
    let (c, shape) = conv_of(&m);
    assert_eq!((c.pads, shape), ([0; 4], vec![1, 2, 5, 5]));
    let e = import_err(&conv_model(vec![a_str("auto_pad", "SAME")], 7)).to_string();
    assert!(
        e.contains("attribute 'auto_pad': unknown value 'SAME'"),
        "{e}"
    );
}

#[test]
fn pad_node_folds_into_conv() {
    let mut b = conv_model(vec![a_ints("strides", &[2, 2])], 8);
    // insert a Pad between the input quantizer and the conv
    b.i64("pads", &[8], &[0, 0, 0, 0, 0, 0, 1, 1]);
    b.node("Pad", "pad", &["xq", "pads"], &["xp"], vec![]);
    let conv = b
        .graph
        .node
        .iter_mut()
        .find(|n| n.op_type == "Conv")
        .unwrap();
    conv.input[0] = "xp".into();
    // Pad must come before Conv in the node list? No: the importer sorts topologically.
    let m = import(&b);
    let (c, shape) = conv_of(&m);
    assert_eq!(c.pads, [0, 0, 1, 1]);
    assert_eq!(shape, vec![1, 2, 4, 4]);
    assert_eq!(m.graph.node_count(), 2);
}

#[test]
fn conv_group_and_attribute_errors() {
    let e = import_err(&conv_model(vec![a_int("group", 3)], 8)).to_string();
    assert!(
        e.starts_with("node conv (Conv), attribute 'group': 3 does not divide the"),
        "{e}"
    );
    let e = import_err(&conv_model(vec![a_ints("strides", &[1, 2, 3])], 8)).to_string();
    assert_eq!(
        e,
        "node conv (Conv), attribute 'strides': expected 2 values, got 3"
    );
    let e = import_err(&conv_model(vec![a_ints("kernel_shape", &[5, 5])], 8)).to_string();
    assert!(
        e.contains("attribute 'kernel_shape': [5, 5] does not match"),
        "{e}"
    );
}

#[test]
fn matmul_add_folds_into_dense_bias() {
    let mut b = ModelBuilder::new();
    b.input("x", &[-1, 4]).output("y");
    b.quant("qi", "x", "xq", 8, 4, true);
    b.f32("w", &[4, 3], &weights(12, 6));
    b.quant("qw", "w", "wq", 6, 5, true);
    b.node("MatMul", "mm", &["xq", "wq"], &["h"], vec![]);
    b.f32("bias", &[3], &[0.5, -0.25, 1.0]);
    b.quant("qb", "bias", "bq", 12, 9, true);
    b.node("Add", "add", &["h", "bq"], &["y"], vec![]);
    let m = import(&b);
    assert_eq!(m.graph.node_count(), 2, "{}", printer::print(&m.graph));
    let n = m.graph.node(m.graph.outputs()[0].1);
    assert_eq!(n.name, "y");
    assert_eq!(n.origin, "mm (MatMul) + add (Add)");
    let Op::Dense(d) = &n.op else { panic!() };
    assert_eq!(d.weight.shape, vec![4, 3]);
    let bias = d.bias.as_ref().unwrap();
    assert_eq!((bias.data.clone(), bias.frac), (vec![256, -128, 512], 9));
    // The constant may also come first, and a float constant is exact when it can be.
    let add = b
        .graph
        .node
        .iter_mut()
        .find(|n| n.op_type == "Add")
        .unwrap();
    add.input = vec!["bias".into(), "h".into()];
    let m = import(&b);
    assert!(m.warnings.is_empty());
    let Op::Dense(d) = &m.graph.node(m.graph.outputs()[0].1).op else {
        panic!()
    };
    let bias = d.bias.as_ref().unwrap();
    assert_eq!((bias.data.clone(), bias.frac), (vec![2, -1, 4], 2));
}

#[test]
fn add_after_a_shared_dense_is_an_affine_map() {
    let mut b = ModelBuilder::new();
    b.input("x", &[-1, 4]).output("y").output("h");
    b.quant("qi", "x", "xq", 8, 4, true);
    b.f32("w", &[4, 3], &weights(12, 6));
    b.quant("qw", "w", "wq", 6, 5, true);
    b.node("MatMul", "mm", &["xq", "wq"], &["h"], vec![]);
    b.f32("bias", &[3], &[0.5, -0.25, 1.0]);
    b.node("Add", "add", &["h", "bias"], &["y"], vec![]);
    // the bias cannot fold into the shared MatMul: an exact affine map adds it
    let m = import(&b);
    let y = m.graph.node(m.graph.outputs()[0].1);
    let Op::Affine(a) = &y.op else {
        panic!("{:?}", y.op)
    };
    assert!(a.mul.iter().all(|&m| m == 1), "{a:?}");
    assert!(matches!(
        m.graph.node(m.graph.outputs()[1].1).op,
        Op::Dense(_)
    ));
}

#[test]
fn add_of_two_activations() {
    let mut b = ModelBuilder::new();
    b.input("x", &[-1, 4]).output("y");
    b.quant("qi", "x", "xq", 8, 4, true);
    b.quant("qa", "xq", "a", 6, 2, true);
    b.node("Relu", "r", &["xq"], &["r"], vec![]);
    b.node("Add", "add", &["a", "r"], &["y"], vec![]);
    let m = import(&b);
    let n = m.graph.node(m.graph.outputs()[0].1);
    assert!(matches!(n.op, Op::Add));
    assert_eq!(n.out.ty.frac, 4);
}

#[test]
fn gemm_alpha_beta_and_float_bias_warning() {
    let mut b = ModelBuilder::new();
    b.input("x", &[-1, 2]).output("y");
    b.quant("qi", "x", "xq", 8, 4, true);
    b.f32("w", &[2, 2], &[0.5, -0.25, 0.75, 1.0]);
    b.quant("qw", "w", "wq", 8, 4, true);
    b.f32("c", &[1, 2], &[0.1, 0.5]);
    b.node(
        "Gemm",
        "g",
        &["xq", "wq", "c"],
        &["y"],
        vec![a_float("alpha", -3.0), a_float("beta", 0.5)],
    );
    let m = import(&b);
    let Op::Dense(d) = &m.graph.node(m.graph.outputs()[0].1).op else {
        panic!()
    };
    // alpha = -3: integers times -3, grid unchanged ([8, -4, 12, 16] on 2^-4)
    assert_eq!(
        (d.weight.data.clone(), d.weight.frac),
        (vec![-24, 12, -36, -48], 4)
    );
    // beta * c = [0.05, 0.25]; 0.05 is not dyadic: rounded onto 2^-(4 + 4 + 8)
    let bias = d.bias.as_ref().unwrap();
    assert_eq!(bias.frac, 16);
    assert_eq!(bias.data, vec![(0.05f64 * 65536.0).round() as i64, 16384]);
    assert_eq!(m.warnings.len(), 1, "{:?}", m.warnings);
    assert!(
        m.warnings[0].starts_with(
            "node g (Gemm): bias 'c' is an unquantized float (no Quant node); rounded \
             half-to-even to grid 2^-16 (accumulator grid 2^-8 + 8 bits), max abs error"
        ),
        "{}",
        m.warnings[0]
    );
}

#[test]
fn unquantized_float_weight_is_rounded_with_warning() {
    let mut b = ModelBuilder::new();
    b.input("x", &[-1, 2]).output("y");
    b.quant("qi", "x", "xq", 8, 4, true);
    b.f32("w", &[2, 2], &[0.1, -0.5, 0.25, 0.75]);
    b.node("MatMul", "mm", &["xq", "w"], &["y"], vec![]);
    let m = import(&b);
    let Op::Dense(d) = &m.graph.node(m.graph.outputs()[0].1).op else {
        panic!()
    };
    // largest magnitude 0.75 < 2^0: 16-bit signed grid 2^-15
    assert_eq!(d.weight.frac, 15);
    assert_eq!(d.weight.data[1], -16384);
    assert_eq!(m.warnings.len(), 1);
    assert!(m.warnings[0].contains("weight 'w' is an unquantized float"));
}

#[test]
fn reshape_with_minus_one_and_shape_chain() {
    let mut b = ModelBuilder::new();
    b.input("x", &[-1, 2, 3, 4]).output("y").output("z");
    b.quant("qi", "x", "xq", 8, 4, true);
    b.i64("target", &[2], &[0, -1]);
    b.node("Reshape", "r", &["xq", "target"], &["y"], vec![]);
    // x.view(x.size(0), -1) as the TorchScript exporter writes it
    b.node("Shape", "shape", &["xq"], &["s"], vec![]);
    b.i64("zero", &[], &[0]);
    b.node(
        "Gather",
        "gather",
        &["s", "zero"],
        &["n"],
        vec![a_int("axis", 0)],
    );
    b.i64("axes0", &[1], &[0]);
    b.node("Unsqueeze", "unsq", &["n", "axes0"], &["n1"], vec![]);
    b.node(
        "Constant",
        "minus_one",
        &[],
        &["m1"],
        vec![aecc::onnx::proto::AttributeProto {
            name: "value".into(),
            r#type: aecc::onnx::proto::AttributeType::Tensor as i32,
            t: Some(tensor_i64("", &[1], &[-1])),
            ..Default::default()
        }],
    );
    b.node(
        "Concat",
        "cat",
        &["n1", "m1"],
        &["shape2"],
        vec![a_int("axis", 0)],
    );
    b.node("Reshape", "r2", &["xq", "shape2"], &["z"], vec![]);
    let m = import(&b);
    for (name, id) in m.graph.outputs() {
        let n = m.graph.node(*id);
        assert_eq!(n.op, Op::Reshape { shape: vec![1, 24] }, "{name}");
    }
    let text = printer::print(&m.graph);
    assert!(text.contains("%y = reshape(%x) shape=[1,24]"), "{text}");
}

#[test]
fn transpose_squeeze_unsqueeze_identity() {
    let mut b = ModelBuilder::new();
    b.input("x", &[-1, 2, 3]).output("y");
    b.quant("qi", "x", "xq", 8, 4, true);
    b.node(
        "Transpose",
        "t",
        &["xq"],
        &["t"],
        vec![a_ints("perm", &[0, 2, 1])],
    );
    b.i64("ax", &[1], &[1]);
    b.node("Unsqueeze", "u", &["t", "ax"], &["u"], vec![]);
    b.node("Identity", "i", &["u"], &["i"], vec![]);
    b.node("Squeeze", "s", &["i", "ax"], &["y"], vec![]);
    let m = import(&b);
    let text = printer::print(&m.graph);
    assert!(
        text.contains("%t = transpose(%x) perm=[0,2,1] : [1,3,2]"),
        "{text}"
    );
    assert!(text.contains("%u = reshape(%t) shape=[1,1,3,2]"), "{text}");
    assert!(text.contains("%y = reshape(%u) shape=[1,3,2]"), "{text}");
}

#[test]
fn initializers_listed_as_graph_inputs_are_constants() {
    let mut b = econt_like();
    for name in ["w1", "b1", "w2", "b2"] {
        b.graph.input.push(value_info(name, &[]));
    }
    let m = import(&b);
    assert_eq!(m.graph.inputs().len(), 1);
}

#[test]
fn nodes_out_of_order_are_sorted() {
    let mut b = econt_like();
    b.graph.node.reverse();
    let m = import(&b);
    assert_eq!(
        printer::print(&m.graph),
        printer::print(&import(&econt_like()).graph)
    );
}

// ---------------------------------------------------------------------------------------
// Bad inputs
// ---------------------------------------------------------------------------------------

#[test]
fn empty_bytes() {
    let e = import_bytes(&[]).unwrap_err();
    assert_eq!(e, ImportError::Empty);
    assert_eq!(e.to_string(), "empty input: 0 bytes is not an ONNX model");
}

#[test]
fn truncated_protobuf() {
    let bytes = econt_like().bytes();
    for cut in [bytes.len() / 2, bytes.len() - 1, 3] {
        match import_bytes(&bytes[..cut]) {
            Err(ImportError::Protobuf(m)) => assert!(!m.is_empty()),
            Err(ImportError::NotOnnx(_)) => {} // cut at a field boundary
            other => panic!("cut at {cut}: {other:?}"),
        }
    }
    let e = import_bytes(&bytes[..bytes.len() / 2]).unwrap_err();
    assert!(
        e.to_string()
            .starts_with("not an ONNX model: invalid or truncated protobuf ("),
        "{e}"
    );
}

#[test]
fn random_bytes_are_not_onnx() {
    // a deterministic pseudo-random stream and some text
    let mut state = 0x2545f4914f6cdd1du64;
    let noise: Vec<u8> = (0..4096)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect();
    for bytes in [&noise[..], b"hello, this is not a model\n", &[0x08, 0x07]] {
        match import_bytes(bytes) {
            Err(ImportError::Protobuf(_)) | Err(ImportError::NotOnnx(_)) => {}
            other => panic!("{other:?}"),
        }
    }
    // a valid protobuf with an ir_version but no graph
    assert_eq!(
        import_bytes(&[0x08, 0x07]).unwrap_err().to_string(),
        "not an ONNX model: the model has no graph"
    );
}

#[test]
fn every_prefix_and_corruption_is_handled_without_panic() {
    let bytes = econt_like().bytes();
    for cut in 0..bytes.len() {
        let _ = import_bytes(&bytes[..cut]);
    }
    let mut state = 7u64;
    for i in 0..2000 {
        let mut b = bytes.clone();
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let pos = (state >> 33) as usize % b.len();
        b[pos] ^= 1 << (i % 8);
        let _ = import_bytes(&b);
    }
}

#[test]
fn unsupported_ops_are_all_reported() {
    let mut b = econt_like();
    b.node("PRelu", "prelu", &["r2"], &["lr"], vec![]);
    b.node("LpPool", "", &["lr"], &["mp"], vec![]);
    let e = import_err(&b);
    let ImportError::Unsupported(nodes) = &e else {
        panic!("{e}")
    };
    assert_eq!(nodes.len(), 2);
    let text = e.to_string();
    assert!(
        text.starts_with(
            "2 unsupported node(s): node prelu (PRelu, domain ai.onnx): not supported \
             (LeakyRelu (one constant slope) is supported; PRelu is not yet); node #13 \
             (LpPool, domain ai.onnx): not supported (supported pools: MaxPool, AveragePool, \
             GlobalAveragePool, GlobalMaxPool); supported ops: Quant \
             (qonnx.custom_op.general | finn.custom_op.general | onnx.brevitas), BipolarQuant"
        ),
        "{text}"
    );
    assert_eq!(
        aecc::onnx::list_unsupported(&b.bytes()).unwrap(),
        nodes.clone()
    );
    assert!(aecc::onnx::list_unsupported(&econt_like().bytes())
        .unwrap()
        .is_empty());
}

#[test]
fn quant_in_unknown_domain_names_the_right_domains() {
    let mut b = econt_like();
    b.graph.node[0].domain = "com.example".into();
    let e = import_err(&b).to_string();
    assert!(
        e.contains(
            "node q_in (Quant, domain com.example): not supported (Quant is supported in \
             domain qonnx.custom_op.general, finn.custom_op.general, onnx.brevitas, not \
             com.example)"
        ),
        "{e}"
    );
    for domain in ["finn.custom_op.general", "onnx.brevitas"] {
        let mut b = econt_like();
        for n in &mut b.graph.node {
            if n.op_type == "Quant" {
                n.domain = domain.into();
            }
        }
        import(&b);
    }
}

#[test]
fn missing_initializer() {
    let mut b = econt_like();
    b.graph.initializer.retain(|t| t.name != "w2");
    let e = import_err(&b);
    assert_eq!(
        e,
        ImportError::UndefinedTensor {
            node: "q_w2 (Quant)".into(),
            tensor: "w2".into()
        }
    );
    assert_eq!(
        e.to_string(),
        "node q_w2 (Quant): input 'w2' is not defined (no initializer, graph input or node \
         output has that name)"
    );
}

#[test]
fn shape_mismatch_names_node_and_shapes() {
    let mut b = econt_like();
    let w2 = b
        .graph
        .initializer
        .iter_mut()
        .find(|t| t.name == "w2")
        .unwrap();
    *w2 = tensor_f32("w2", &[16, 100], &weights(1600, 3));
    let e = import_err(&b);
    assert!(matches!(e, ImportError::Shape { .. }), "{e:?}");
    assert_eq!(
        e.to_string(),
        "node dense (Gemm): input shape [1, 128] does not end in K = 100 of weight [100, 16]"
    );
}

#[test]
fn quantizer_parameter_errors() {
    // non-integer zero point
    let mut b = ModelBuilder::new();
    b.input("x", &[1, 4]).output("y");
    b.quant_full("q", "x", "y", &[0.5], &[], 0.5, 8.0, true, false, "ROUND");
    let e = import_err(&b);
    assert_eq!(
        e.to_string(),
        "node q (Quant): zero point 0.5 is not an integer"
    );
    // bad bit widths
    for bits in [0.0, 65.0, 4.5, -1.0] {
        let mut b = ModelBuilder::new();
        b.input("x", &[1, 4]).output("y");
        b.quant_full("q", "x", "y", &[0.5], &[], 0.0, bits, true, false, "ROUND");
        let e = import_err(&b);
        assert_eq!(
            e.to_string(),
            format!("node q (Quant): bit width {bits} is not an integer in 1..=64")
        );
    }
    // bad scales
    for scale in [0.0f32, -0.5, f32::NAN, f32::INFINITY] {
        let mut b = ModelBuilder::new();
        b.input("x", &[1, 4]).output("y");
        b.quant_full("q", "x", "y", &[scale], &[], 0.0, 8.0, true, false, "ROUND");
        let e = import_err(&b);
        assert!(matches!(e, ImportError::BadScale { .. }), "{e:?}");
        assert!(
            e.to_string().ends_with("must be finite and positive"),
            "{e}"
        );
    }
    // a non-power-of-two scale is fine and exact
    let mut b = ModelBuilder::new();
    b.input("x", &[1, 4]).output("y");
    b.quant_full("q", "x", "y", &[0.1], &[], 3.0, 8.0, false, false, "ROUND");
    let m = import(&b);
    let Op::Input {
        from_float: Some(q),
    } = &m.graph.node(m.graph.inputs()[0]).op
    else {
        panic!()
    };
    assert_eq!(q.channels[0].scale.to_f64(), 0.1f32 as f64);
    assert_eq!(q.channels[0].zero_point, 3);
    // scale that varies along two axes
    let mut b = ModelBuilder::new();
    b.input("x", &[1, 2, 2]).output("y");
    b.quant_full(
        "q",
        "x",
        "y",
        &[0.5; 4],
        &[2, 2],
        0.0,
        8.0,
        true,
        false,
        "ROUND",
    );
    assert!(import_err(&b).to_string().contains("only one channel axis"));
}

#[test]
fn graph_inputs_must_be_quantized() {
    let mut b = ModelBuilder::new();
    b.input("x", &[-1, 4]).output("y");
    b.node("Relu", "r", &["x"], &["y"], vec![]);
    let e = import_err(&b);
    assert_eq!(
        e.to_string(),
        "graph input 'x' is not quantized: it feeds node r (Relu); aecc needs every graph \
         input to feed exactly one QONNX Quant node"
    );
    let mut b = ModelBuilder::new();
    b.input("x", &[-1, 4]).output("y").output("z");
    b.quant("q1", "x", "y", 8, 4, true);
    b.quant("q2", "x", "z", 8, 4, true);
    let e = import_err(&b).to_string();
    assert!(
        e.contains("it feeds 2 nodes (q1 (Quant), q2 (Quant))"),
        "{e}"
    );
    // symbolic non-batch dimension and fixed batch > 1
    let mut b = ModelBuilder::new();
    b.input("x", &[1, -1]).output("y");
    b.quant("q", "x", "y", 8, 4, true);
    assert!(import_err(&b)
        .to_string()
        .contains("dimension 1 is the symbol 'batch'"));
    let mut b = ModelBuilder::new();
    b.input("x", &[4, 3]).output("y");
    b.quant("q", "x", "y", 8, 4, true);
    assert!(import_err(&b)
        .to_string()
        .contains("the batch dimension is 4"));
}

#[test]
fn cyclic_graph() {
    let mut b = ModelBuilder::new();
    b.input("x", &[-1, 4]).output("y");
    b.quant("q", "x", "xq", 8, 4, true);
    b.node("Add", "a", &["xq", "c"], &["y"], vec![]);
    b.node("Relu", "r1", &["y"], &["b"], vec![]);
    b.node("Relu", "r2", &["b"], &["c"], vec![]);
    let e = import_err(&b);
    assert!(matches!(e, ImportError::Cycle { .. }), "{e:?}");
    assert!(e
        .to_string()
        .starts_with("the graph has a cycle through node "));
}

#[test]
fn duplicate_tensor_names() {
    let mut b = econt_like();
    b.node("Relu", "again", &["c1"], &["r1"], vec![]);
    let e = import_err(&b);
    assert_eq!(
        e.to_string(),
        "tensor name 'r1' is defined twice: by node relu1 (Relu) and by node again (Relu)"
    );
    let mut b = econt_like();
    b.f32("w1", &[1], &[0.0]);
    assert!(matches!(
        import_err(&b),
        ImportError::DuplicateTensor { .. }
    ));
}

#[test]
fn bad_tensor_data() {
    let mut b = econt_like();
    let w1 = b
        .graph
        .initializer
        .iter_mut()
        .find(|t| t.name == "w1")
        .unwrap();
    w1.raw_data.truncate(10);
    assert_eq!(
        import_err(&b).to_string(),
        "tensor 'w1': raw_data has 10 bytes, expected 288 (72 FLOAT values of 4 bytes for \
         shape [8, 1, 3, 3])"
    );
    let mut b = econt_like();
    let w1 = b
        .graph
        .initializer
        .iter_mut()
        .find(|t| t.name == "w1")
        .unwrap();
    w1.dims = vec![1 << 20, 1 << 20, 1 << 20];
    assert!(import_err(&b)
        .to_string()
        .contains(&format!("more than {} elements", aecc::onnx::MAX_ELEMENTS)));
}

#[test]
fn outputs_must_be_computed() {
    let mut b = econt_like();
    b.output("w1");
    assert_eq!(
        import_err(&b).to_string(),
        "graph output 'w1': it is a constant; aecc needs every output computed from the inputs"
    );
    let mut b = econt_like();
    b.output("nothing");
    assert_eq!(
        import_err(&b).to_string(),
        "graph output 'nothing' is not defined (no initializer, graph input or node output \
         has that name)"
    );
}

#[test]
fn import_file_reports_io_errors() {
    let e = aecc::onnx::import_file(std::path::Path::new("/nonexistent/model.onnx")).unwrap_err();
    assert!(
        e.to_string()
            .starts_with("cannot read /nonexistent/model.onnx: "),
        "{e}"
    );
}

#[test]
fn imported_graph_evaluates_like_the_float_model() {
    // The econt-like model on a few inputs: the IR result equals the QONNX float
    // semantics computed here directly in f64 (all values are dyadic, so f64 is exact).
    let m = import(&econt_like());
    let w1: Vec<f64> = weights(72, 1)
        .iter()
        .map(|&w| ((w as f64) * 32.0).round_ties_even().clamp(-32.0, 31.0) / 32.0)
        .collect();
    let b1: Vec<f64> = weights(8, 2)
        .iter()
        .map(|&w| ((w as f64) * 4096.0).round_ties_even() / 4096.0)
        .collect();
    let w2: Vec<f64> = weights(2048, 3)
        .iter()
        .map(|&w| ((w as f64) * 32.0).round_ties_even().clamp(-32.0, 31.0) / 32.0)
        .collect();
    let b2: Vec<f64> = weights(16, 4)
        .iter()
        .map(|&w| ((w as f64) * 8192.0).round_ties_even() / 8192.0)
        .collect();
    let q = |x: f64, frac: i32, lo: f64, hi: f64| {
        let s = (2.0f64).powi(frac);
        (x * s).round_ties_even().clamp(lo, hi) / s
    };
    for sample in 0..8 {
        let x: Vec<f64> = (0..64)
            .map(|i| ((i * 13 + sample * 29) % 97) as f64 / 17.0 - 2.5)
            .collect();
        let got = eval_real(&m.graph, &[&x]);
        let xq: Vec<f64> = x.iter().map(|&v| q(v, 7, -512.0, 511.0)).collect();
        let mut a1 = vec![0.0; 128];
        for oc in 0..8 {
            for oy in 0..4 {
                for ox in 0..4 {
                    let mut s = b1[oc];
                    for ky in 0..3 {
                        for kx in 0..3 {
                            let (iy, ix) = (oy * 2 + ky, ox * 2 + kx);
                            if iy < 8 && ix < 8 {
                                s += xq[iy * 8 + ix] * w1[oc * 9 + ky * 3 + kx];
                            }
                        }
                    }
                    a1[oc * 16 + oy * 4 + ox] = q(s.max(0.0), 8, -1024.0, 1023.0);
                }
            }
        }
        let want: Vec<f64> = (0..16)
            .map(|j| {
                let s: f64 = b2[j] + (0..128).map(|k| a1[k] * w2[j * 128 + k]).sum::<f64>();
                q(s.max(0.0), 8, 0.0, 511.0)
            })
            .collect();
        assert_eq!(got[0], want, "sample {sample}");
    }
}

/// Structural fuzzing: random rewiring, op swaps, attribute values, shapes and quantizer
/// parameters on the ECON-T-like model and a dense model; the importer must return
/// (Ok or Err) and never panic. A failing model is written to the temp directory.
#[test]
fn structural_mutations_never_panic() {
    use aecc::onnx::proto::{AttributeProto, AttributeType};
    let mut state = 0x9e3779b97f4a7c15u64;
    let mut next = move |n: usize| -> usize {
        state ^= state << 7;
        state ^= state >> 9;
        (state % n as u64) as usize
    };
    let ops = [
        "Quant",
        "Gemm",
        "MatMul",
        "Add",
        "Conv",
        "Pad",
        "Relu",
        "Flatten",
        "Reshape",
        "Transpose",
        "Identity",
        "Squeeze",
        "Unsqueeze",
        "Shape",
        "Gather",
        "Concat",
        "Cast",
        "Constant",
    ];
    let ints = [
        -1i64,
        0,
        1,
        2,
        3,
        7,
        -7,
        64,
        65,
        1 << 20,
        1 << 40,
        i64::MAX,
        i64::MIN,
    ];
    let floats = [
        0.0f32,
        -0.5,
        0.5,
        0.1,
        1.0,
        3.0,
        64.0,
        65.0,
        1e-30,
        1e30,
        1e-45,
        f32::NAN,
        f32::INFINITY,
        -1.0,
        0.375,
    ];
    let attr_names = [
        "strides",
        "pads",
        "dilations",
        "group",
        "kernel_shape",
        "auto_pad",
        "axis",
        "perm",
        "transA",
        "transB",
        "alpha",
        "beta",
        "signed",
        "narrow",
        "rounding_mode",
        "allowzero",
        "axes",
        "to",
        "value_ints",
        "value_int",
    ];
    let mut bases = vec![econt_like().graph, {
        let mut b = ModelBuilder::new();
        b.input("x", &[-1, 8]).output("y");
        b.quant("qi", "x", "xq", 8, 4, true);
        b.f32("w", &[8, 4], &weights(32, 9));
        b.quant("qw", "w", "wq", 6, 5, true);
        b.node("MatMul", "mm", &["xq", "wq"], &["h"], vec![]);
        b.f32("c", &[4], &[0.5, 0.25, -1.0, 0.0]);
        b.node("Add", "add", &["h", "c"], &["y"], vec![]);
        b.graph
    }];
    for fixture in ["qonnx_ops", "same_lower_gemm"] {
        use prost::Message;
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join(format!("tests/data/{fixture}.onnx"));
        let bytes = std::fs::read(path).unwrap();
        let model = aecc::onnx::proto::ModelProto::decode(&bytes[..]).unwrap();
        bases.push(model.graph.unwrap());
    }
    // AECC_FUZZ_ITERS=100000 for a longer run
    let iters: usize = std::env::var("AECC_FUZZ_ITERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3000);
    for iter in 0..iters {
        let mut b = ModelBuilder::new();
        b.graph = bases[iter % bases.len()].clone();
        let g = &mut b.graph;
        for _ in 0..1 + next(3) {
            let nn = g.node.len();
            let ni = g.initializer.len();
            match next(6) {
                0 => {
                    let i = next(nn);
                    g.node[i].op_type = ops[next(ops.len())].into();
                    if g.node[i].op_type == "Quant" {
                        g.node[i].domain = QONNX.into();
                    } else {
                        g.node[i].domain.clear();
                    }
                }
                1 => {
                    // rewire an input to another tensor
                    let i = next(nn);
                    let j = next(nn);
                    if !g.node[i].input.is_empty() {
                        let k = next(g.node[i].input.len());
                        g.node[i].input[k] = g.node[j].output[0].clone();
                    }
                }
                2 => {
                    let i = next(nn);
                    let name = attr_names[next(attr_names.len())];
                    let a = match next(4) {
                        0 => AttributeProto {
                            name: name.into(),
                            r#type: AttributeType::Int as i32,
                            i: ints[next(ints.len())],
                            ..Default::default()
                        },
                        1 => AttributeProto {
                            name: name.into(),
                            r#type: AttributeType::Ints as i32,
                            ints: (0..next(9)).map(|_| ints[next(ints.len())]).collect(),
                            ..Default::default()
                        },
                        2 => AttributeProto {
                            name: name.into(),
                            r#type: AttributeType::Float as i32,
                            f: floats[next(floats.len())],
                            ..Default::default()
                        },
                        _ => AttributeProto {
                            name: name.into(),
                            r#type: AttributeType::String as i32,
                            s: ["SAME_UPPER", "VALID", "CEIL", "x", ""][next(5)].into(),
                            ..Default::default()
                        },
                    };
                    g.node[i].attribute.retain(|x| x.name != name);
                    g.node[i].attribute.push(a);
                }
                3 => {
                    // new scalar or small tensor data for an initializer
                    let i = next(ni);
                    let len = [1usize, 1, 2, 3, 4, 8, 16][next(7)];
                    let data: Vec<f32> = (0..len).map(|_| floats[next(floats.len())]).collect();
                    let dims: Vec<i64> = match next(4) {
                        0 => vec![],
                        1 => vec![len as i64],
                        2 => vec![len as i64, 1, 1, 1],
                        _ => vec![1, len as i64],
                    };
                    if dims.is_empty() && len != 1 {
                        continue;
                    }
                    let name = g.initializer[i].name.clone();
                    g.initializer[i] = tensor_f32(&name, &dims, &data);
                }
                4 => {
                    // integer initializer (shapes, axes, indices)
                    let i = next(ni);
                    let len = 1 + next(4);
                    let data: Vec<i64> = (0..len).map(|_| ints[next(ints.len())]).collect();
                    let name = g.initializer[i].name.clone();
                    g.initializer[i] = tensor_i64(&name, &[len as i64], &data);
                }
                _ => {
                    // change an input dimension
                    let d = [-1i64, 0, 1, 2, 3, 8, 1 << 30][next(7)];
                    if let Some(t) = g.input[0]
                        .r#type
                        .as_mut()
                        .and_then(|t| t.tensor_type.as_mut())
                        .and_then(|t| t.shape.as_mut())
                    {
                        let k = next(t.dim.len());
                        t.dim[k] = value_info("", &[d])
                            .r#type
                            .unwrap()
                            .tensor_type
                            .unwrap()
                            .shape
                            .unwrap()
                            .dim[0]
                            .clone();
                    }
                }
            }
        }
        let bytes = b.bytes();
        let result = std::panic::catch_unwind(|| import_bytes(&bytes));
        if result.is_err() {
            let _ = std::fs::write(std::env::temp_dir().join("aecc_fuzz_fail.onnx"), &bytes);
        }
        assert!(result.is_ok(), "iteration {iter} panicked");
    }
}
