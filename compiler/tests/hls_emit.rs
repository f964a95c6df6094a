//! The HLS C++ backend's output: lint-clean C++, deterministic files, types and pragmas
//! as the IR and the options say, clear errors, and golden files for a small design
//! (re-bless with `AECC_BLESS=1 cargo test -p aecc --test hls_emit`).

mod hls_common;

use aecc::backend::hls::{emit, format_vectors, HlsError, HlsFlavor, HlsOptions, HlsProject};
use aecc_ir::{ConstTensor, Dense, Graph, Op, Quantizer, Rounding};
use aecc_sim::Simulator;
use aecc_testbench::hls_csim;
use hls_common::*;
use std::path::{Path, PathBuf};

fn opts(flavor: HlsFlavor) -> HlsOptions {
    HlsOptions::new(flavor, "top")
}

fn designs() -> Vec<Graph> {
    let mut v = vec![
        econt_like(1),
        dense_64_32_16_8(2),
        ops_mix(3),
        special_quantizers(),
        small_dense(),
    ];
    v.extend(Rounding::ALL.map(rounding_bank));
    v
}

/// The designs the lint covers: every layer kind and both quantizer implementations.
fn lint_designs() -> Vec<Graph> {
    vec![
        econt_like(1),
        ops_mix(3),
        special_quantizers(),
        small_dense(),
        rounding_bank(Rounding::Ceil),
        rounding_bank(Rounding::HalfEven),
    ]
}

/// Dense 4 -> 3 with a bias, an unsigned quantizer with a zero point (explicit code),
/// Relu, and a plain quantizer: small enough to read in a golden file.
fn small_dense() -> Graph {
    let mut g = Graph::new("small_dense");
    let q_in = Quantizer::pow2(6, 4, true, Rounding::HalfEven);
    let x = g.add_input("x", vec![1, 4], q_in.out_type(), Some(q_in));
    let d = g
        .add_node(
            "fc",
            Op::Dense(Dense {
                weight: ConstTensor::new(
                    vec![4, 3],
                    vec![3, -2, 0, 1, 5, -4, 0, 7, 2, -1, 0, 6],
                    3,
                ),
                bias: Some(ConstTensor::new(vec![3], vec![-5, 9, 2], 6)),
            }),
            &[x],
            "fc (Gemm)",
        )
        .unwrap();
    let mut zp = Quantizer::pow2(8, 4, false, Rounding::HalfEven);
    zp.channels[0].zero_point = 128;
    let q1 = g
        .add_node(
            "fc_quant",
            Op::Quantize(zp),
            &[d],
            "fc_quant (QuantizeLinear)",
        )
        .unwrap();
    let r = g.add_node("act", Op::Relu, &[q1], "act (Relu)").unwrap();
    let q2 = g
        .add_node(
            "out_quant",
            Op::Quantize(Quantizer::pow2(4, 2, false, Rounding::Floor)),
            &[r],
            "out_quant (Quant)",
        )
        .unwrap();
    g.add_output("y", q2);
    g
}

#[test]
fn generated_cpp_is_warning_free() {
    for flavor in HlsFlavor::ALL {
        let Some(headers) = hls_csim::require_csim(library(flavor)) else {
            return;
        };
        for g in lint_designs() {
            let reuses: &[Option<u32>] = if g.name == "econt_like" {
                &[None, Some(3)]
            } else {
                &[None]
            };
            for &reuse in reuses {
                let project = emit(
                    &g,
                    &HlsOptions {
                        reuse,
                        ..opts(flavor)
                    },
                )
                .unwrap();
                let dir = tempfile::tempdir().unwrap();
                project.write_to(dir.path()).unwrap();
                hls_csim::lint(&sources(&project, dir.path(), headers.clone()))
                    .unwrap_or_else(|e| panic!("{} ({flavor}, reuse {reuse:?}): {e}", g.name));
            }
        }
    }
}

#[test]
fn emission_is_deterministic() {
    for flavor in HlsFlavor::ALL {
        for (a, b) in designs().iter().zip(designs().iter()) {
            let pa = emit(a, &opts(flavor)).unwrap();
            let pb = emit(b, &opts(flavor)).unwrap();
            assert_eq!(pa, pb, "{} ({flavor})", a.name);
            let (da, db) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
            pa.write_to(da.path()).unwrap();
            pb.write_to(db.path()).unwrap();
            assert_eq!(read_tree(da.path()), read_tree(db.path()));
        }
    }
}

fn read_tree(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push((
                    p.strip_prefix(dir).unwrap().to_path_buf(),
                    std::fs::read(&p).unwrap(),
                ));
            }
        }
    }
    out.sort();
    out
}

#[test]
fn types_are_spelled_exactly_as_the_ir_says() {
    let g = econt_like(1);
    let vitis = emit(&g, &opts(HlsFlavor::Vitis)).unwrap();
    let types = vitis.file("firmware/top_types.h").unwrap();
    for line in [
        "typedef ap_fixed<10, 3, AP_RND_CONV, AP_SAT> input_t;",
        "typedef ap_fixed<11, 3, AP_RND_CONV, AP_SAT> l2_conv1_quant_t;",
        "typedef ap_ufixed<9, 1, AP_RND_CONV, AP_SAT> l5_latent_t;",
        "typedef ap_fixed<6, 1, AP_TRN, AP_WRAP> l1_conv1_w_t;",
        "typedef l5_latent_t output_t;",
    ] {
        assert!(types.contains(line), "missing {line} in\n{types}");
    }
    // every other type is an exact accumulator
    let acc = g.node(g.compute_nodes().unwrap()[0]).out.ty;
    assert!(types.contains(&format!(
        "typedef ap_fixed<{}, {}, AP_TRN, AP_WRAP> l1_conv1_t;",
        acc.width,
        acc.int_bits()
    )));
    let catapult = emit(&g, &opts(HlsFlavor::Catapult)).unwrap();
    let types = catapult.file("firmware/top_types.h").unwrap();
    for line in [
        "typedef ac_fixed<10, 3, true, AC_RND_CONV, AC_SAT> input_t;",
        "typedef ac_fixed<9, 1, false, AC_RND_CONV, AC_SAT> l5_latent_t;",
        "typedef ac_fixed<6, 1, true, AC_TRN, AC_WRAP> l1_conv1_w_t;",
    ] {
        assert!(types.contains(line), "missing {line} in\n{types}");
    }
    // narrow signed saturates symmetrically; CEIL has no vendor mode and says so
    let bank = emit(&rounding_bank(Rounding::Ceil), &opts(HlsFlavor::Vitis)).unwrap();
    let types = bank.file("firmware/top_types.h").unwrap();
    assert!(
        types.lines().any(
            |l| l.starts_with("typedef ap_fixed<4, 3, AP_TRN, AP_SAT_SYM> l")
                && l.ends_with("_q2_t;")
        ),
        "{types}"
    );
    assert!(
        types.contains("rounding CEIL has no ap_types mode"),
        "{types}"
    );
    let layers = bank.file("firmware/top_layers.h").unwrap();
    assert!(layers.contains("aecc::quantize_int<"), "{layers}");
}

#[test]
fn pragmas_follow_the_flavour_and_reuse_factor() {
    let g = econt_like(1);
    let p = emit(&g, &opts(HlsFlavor::Vitis)).unwrap();
    let top = p.file("firmware/top.cpp").unwrap();
    let layers = p.file("firmware/top_layers.h").unwrap();
    assert!(top.contains("#pragma HLS PIPELINE II=1"));
    assert!(top.contains("#pragma HLS ARRAY_RESHAPE variable=x complete dim=0"));
    assert!(top.contains("#pragma HLS INTERFACE ap_vld port=y"));
    assert!(top.contains("#pragma HLS ARRAY_PARTITION variable=l1_conv1_out complete dim=0"));
    assert!(!top.contains("ALLOCATION"));
    assert!(layers.contains("#pragma HLS INLINE"));
    assert!(layers.contains("#pragma HLS UNROLL"));
    assert!(layers.contains("#pragma HLS ARRAY_PARTITION variable=w complete dim=0"));
    let tcl = p.file("build_vitis.tcl").unwrap();
    assert!(tcl.contains("set_top top") && tcl.contains("csynth_design"));

    let p = emit(
        &g,
        &HlsOptions {
            reuse: Some(4),
            ..opts(HlsFlavor::Vitis)
        },
    )
    .unwrap();
    let top = p.file("firmware/top.cpp").unwrap();
    assert!(top.contains("#pragma HLS PIPELINE II=4"));
    // 8 filters x 16 positions x taps (zero weights and padding skipped) + dense
    let products: usize = g
        .compute_nodes()
        .unwrap()
        .iter()
        .filter_map(|&id| {
            let operand = g.operands(id)[0];
            g.node(id).op.linear_map(&g.node(operand).out)
        })
        .map(|m| m.nonzero_terms())
        .sum();
    assert!(top.contains(&format!(
        "#pragma HLS ALLOCATION operation instances=mul limit={}",
        products.div_ceil(4)
    )));

    let p = emit(
        &g,
        &HlsOptions {
            reuse: Some(4),
            ..opts(HlsFlavor::Catapult)
        },
    )
    .unwrap();
    let top = p.file("firmware/top.cpp").unwrap();
    let layers = p.file("firmware/top_layers.h").unwrap();
    assert!(top.contains("#pragma hls_design top"));
    assert!(layers.contains("#pragma hls_unroll yes\n  for (int n = 0;"));
    assert!(!layers.contains("#pragma HLS"));
    let tcl = p.file("build_catapult.tcl").unwrap();
    assert!(tcl.contains("-PIPELINE_INIT_INTERVAL 4"));
}

#[test]
fn errors_name_what_is_wrong() {
    let g = econt_like(1);
    let bad_top = emit(&g, &HlsOptions::new(HlsFlavor::Vitis, "my-top")).unwrap_err();
    assert!(
        matches!(bad_top, HlsError::Option(ref m) if m.contains("my-top")),
        "{bad_top}"
    );
    let bad_reuse = emit(
        &g,
        &HlsOptions {
            reuse: Some(0),
            ..opts(HlsFlavor::Vitis)
        },
    )
    .unwrap_err();
    assert!(
        bad_reuse.to_string().contains("reuse factor"),
        "{bad_reuse}"
    );

    let mut two = Graph::new("two_inputs");
    let q = Quantizer::pow2(8, 4, true, Rounding::HalfEven);
    let a = two.add_input("a", vec![1, 4], q.out_type(), None);
    let b = two.add_input("b", vec![1, 4], q.out_type(), None);
    let s = two.add_node("s", Op::Add, &[a, b], "s (Add)").unwrap();
    two.add_output("s", s);
    let e = emit(&two, &opts(HlsFlavor::Vitis)).unwrap_err();
    assert!(e.to_string().contains("2 inputs"), "{e}");
}

#[test]
fn testbench_checks_expected_vectors() {
    let g = small_dense();
    let flavor = HlsFlavor::Vitis;
    let Some(headers) = hls_csim::require_csim(library(flavor)) else {
        return;
    };
    let sim = Simulator::new(&g).unwrap();
    let inputs = random_inputs(&sim, 200, 5);
    let expected: Vec<Vec<i64>> = inputs.iter().map(|x| sim.run_one(x).unwrap()).collect();
    let mut project = emit(&g, &opts(flavor)).unwrap();
    project.add_test_vectors(&inputs, Some(&expected));
    assert_eq!(
        project.file("tb_data/inputs.txt").unwrap(),
        format_vectors(&inputs)
    );
    let dir = tempfile::tempdir().unwrap();
    project.write_to(dir.path()).unwrap();
    let program = hls_csim::build(
        &sources(&project, dir.path(), headers),
        &dir.path().join("csim"),
    )
    .unwrap();
    let data = dir.path().join("tb_data");
    let run = |expected: &Path| {
        std::process::Command::new(program.exe())
            .arg(data.join("inputs.txt"))
            .arg(data.join("out.txt"))
            .arg(expected)
            .output()
            .unwrap()
    };
    let ok = run(&data.join("expected.txt"));
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert!(String::from_utf8_lossy(&ok.stderr).contains("PASS: 200 vectors"));
    let mut wrong = expected.clone();
    wrong[7][1] += 1;
    std::fs::write(data.join("wrong.txt"), format_vectors(&wrong)).unwrap();
    let bad = run(&data.join("wrong.txt"));
    assert_eq!(bad.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("vector 7, output 1"));
}

/// Golden files of `small_dense` for both flavours: any change of the generated C++ is
/// visible in review. Re-bless with `AECC_BLESS=1`.
#[test]
fn golden_files() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/hls");
    let bless = std::env::var("AECC_BLESS").is_ok_and(|v| v == "1");
    for flavor in HlsFlavor::ALL {
        let project: HlsProject = emit(&small_dense(), &opts(flavor)).unwrap();
        let dir = root.join(flavor.name());
        if bless {
            let _ = std::fs::remove_dir_all(&dir);
            project.write_to(&dir).unwrap();
            continue;
        }
        let mut expected_files = read_tree(&dir);
        expected_files.sort();
        let mut got: Vec<(PathBuf, Vec<u8>)> = project
            .files
            .iter()
            .map(|(p, t)| (p.clone(), t.as_bytes().to_vec()))
            .collect();
        got.sort();
        let names = |v: &[(PathBuf, Vec<u8>)]| v.iter().map(|(p, _)| p.clone()).collect::<Vec<_>>();
        assert_eq!(
            names(&got),
            names(&expected_files),
            "file list of {flavor} changed; re-bless with AECC_BLESS=1 if intended"
        );
        for ((path, text), (_, want)) in got.iter().zip(&expected_files) {
            assert!(
                text == want,
                "{} ({flavor}) differs from tests/golden/hls/{}/{}; re-bless with AECC_BLESS=1 if intended",
                path.display(),
                flavor.name(),
                path.display()
            );
        }
    }
}
