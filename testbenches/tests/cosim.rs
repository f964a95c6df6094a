//! The co-simulation harness on a hand-written design: a 2-stage pipeline with a
//! 100-bit input and a 70-bit output (both wider than 64 bits).

use aecc_testbench::{
    compare_outputs, iverilog_check, lint, require_tools, yosys_elaborate, Cosim, CosimError, Lane,
    Port, RtlDesign,
};
use rand::{Rng, SeedableRng};
use std::path::PathBuf;

fn cache_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/cosim-cache")
}

fn lane_adder(text: &str, latency: u32) -> RtlDesign {
    let s20 = Lane {
        width: 20,
        signed: true,
    };
    let s21 = Lane {
        width: 21,
        signed: true,
    };
    let u7 = Lane {
        width: 7,
        signed: false,
    };
    RtlDesign {
        top: "lane_adder".into(),
        files: vec![("lane_adder.v".into(), text.to_string())],
        inputs: vec![Port::uniform("in_data", 5, s20)],
        outputs: vec![Port {
            name: "out_data".into(),
            lanes: vec![s21, s21, s21, u7],
        }],
        latency,
    }
}

const LANE_ADDER: &str = include_str!("fixtures/lane_adder.v");

fn reference(a: &[i64]) -> Vec<i64> {
    vec![a[0] + a[1], a[2] + a[3], a[4] - a[0], a[3] & 0x7f]
}

fn random_vectors(n: usize, seed: u64) -> Vec<Vec<i64>> {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    (0..n)
        .map(|i| {
            (0..5)
                .map(|_| match i % 7 {
                    0 => -(1 << 19),
                    1 => (1 << 19) - 1,
                    _ => rng.random_range(-(1i64 << 19)..(1i64 << 19)),
                })
                .collect()
        })
        .collect()
}

#[test]
fn lane_adder_is_lint_clean_and_elaborates() {
    if !require_tools(&["verilator", "yosys", "iverilog"]) {
        return;
    }
    let d = lane_adder(LANE_ADDER, 2);
    lint(&d).unwrap();
    yosys_elaborate(&d).unwrap();
    iverilog_check(&d).unwrap();
}

#[test]
fn streams_vectors_with_and_without_bubbles() {
    if !require_tools(&["verilator"]) {
        return;
    }
    let sim = Cosim::build(&lane_adder(LANE_ADDER, 2), &cache_dir()).unwrap();
    let vectors = random_vectors(3000, 1);
    let expected: Vec<Vec<i64>> = vectors.iter().map(|v| reference(v)).collect();
    let plain = sim.run(&vectors, None).unwrap();
    compare_outputs(&expected, &plain).unwrap();
    for seed in [1, 2] {
        let bubbly = sim.run(&vectors, Some(seed)).unwrap();
        compare_outputs(&expected, &bubbly).unwrap();
    }
    assert!(sim.run(&[], None).unwrap().is_empty());
    // The second build of the same design comes from the cache.
    let again = Cosim::build(&lane_adder(LANE_ADDER, 2), &cache_dir()).unwrap();
    assert!(again.cached);
    assert_eq!(again.executable(), sim.executable());
}

#[test]
fn comparison_reports_the_first_differing_lane() {
    let expected = vec![vec![1, 2], vec![3, 4], vec![5, 6]];
    let mut actual = expected.clone();
    actual[1][1] = 40;
    actual[2][0] = 0;
    let m = compare_outputs(&expected, &actual).unwrap_err();
    assert_eq!(
        (m.vector, m.lane, m.expected, m.actual, m.total),
        (1, 1, 4, 40, 2)
    );
    let text = m.to_string();
    assert!(
        text.contains("vector 1, lane 1: expected 4, got 40"),
        "{text}"
    );
}

#[test]
fn wrong_rtl_is_caught() {
    if !require_tools(&["verilator"]) {
        return;
    }
    // a4 - a0 computed as a4 + a0
    let broken = LANE_ADDER.replace("{a4[19], a4} - {a0[19], a0}", "{a4[19], a4} + {a0[19], a0}");
    assert_ne!(broken, LANE_ADDER);
    let sim = Cosim::build(&lane_adder(&broken, 2), &cache_dir()).unwrap();
    let vectors = random_vectors(100, 2);
    let expected: Vec<Vec<i64>> = vectors.iter().map(|v| reference(v)).collect();
    let got = sim.run(&vectors, Some(3)).unwrap();
    let m = compare_outputs(&expected, &got).unwrap_err();
    assert_eq!(m.lane, 2);
}

#[test]
fn a_design_that_never_answers_times_out() {
    if !require_tools(&["verilator"]) {
        return;
    }
    let silent = LANE_ADDER.replace("assign out_valid = valid[1];", "assign out_valid = 1'b0;");
    // The now unused valid bit would be a lint warning, not a build error.
    let sim = Cosim::build(&lane_adder(&silent, 2), &cache_dir()).unwrap();
    match sim.run(&random_vectors(5, 3), None) {
        Err(CosimError::Simulation { stderr, .. }) => {
            assert!(stderr.contains("timeout: 0 of 5 outputs"), "{stderr}")
        }
        other => panic!("expected a timeout, got {other:?}"),
    }
}

#[test]
fn a_wrong_latency_or_valid_pipeline_is_caught() {
    if !require_tools(&["verilator"]) {
        return;
    }
    // out_valid one cycle early: the first valid cycle shows the reset-less data register.
    let early = LANE_ADDER.replace(
        "assign out_valid = valid[1];",
        "assign out_valid = valid[0];",
    );
    let sim = Cosim::build(&lane_adder(&early, 2), &cache_dir()).unwrap();
    let vectors = random_vectors(200, 4);
    let expected: Vec<Vec<i64>> = vectors.iter().map(|v| reference(v)).collect();
    let got = sim.run(&vectors, Some(5)).unwrap();
    assert!(compare_outputs(&expected, &got).is_err());
}

#[test]
fn build_errors_show_verilator_output() {
    if !require_tools(&["verilator"]) {
        return;
    }
    let bad = LANE_ADDER.replace("assign out_data = out_reg;", "assign out_data = out_regg;");
    match Cosim::build(&lane_adder(&bad, 2), &cache_dir()) {
        Err(e @ CosimError::Build { .. }) => {
            let text = e.to_string();
            assert!(text.contains("out_regg"), "{text}");
        }
        other => panic!("expected a build error, got {other:?}"),
    }
}

#[test]
fn bad_vectors_are_rejected() {
    if !require_tools(&["verilator"]) {
        return;
    }
    let sim = Cosim::build(&lane_adder(LANE_ADDER, 2), &cache_dir()).unwrap();
    let e = sim.run(&[vec![0, 0, 0, 0, 1 << 19]], None).unwrap_err();
    assert!(matches!(e, CosimError::BadVector { index: 0, .. }), "{e}");
    assert!(sim.run(&[vec![0; 4]], None).is_err());
}
