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
        initiation_interval: 1,
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

/// `Cosim::stream`: blocks of every size (empty, one vector, more than the queue holds)
/// come back in order with their payloads, with and without bubbles.
#[test]
fn stream_delivers_every_block_in_order() {
    if !require_tools(&["verilator"]) {
        return;
    }
    let sim = Cosim::build(&lane_adder(LANE_ADDER, 2), &cache_dir()).unwrap();
    let vectors = random_vectors(20_000, 11);
    for bubbles in [None, Some(9)] {
        let sizes = [0usize, 1, 7, 0, 4096, 3, 15_000];
        let mut at = 0;
        let mut block = 0;
        let next = || {
            let Some(&n) = sizes.get(block) else {
                return Ok(None);
            };
            let n = n.min(vectors.len() - at);
            let chunk = &vectors[at..at + n];
            let expected: Vec<i64> = chunk.iter().flat_map(|v| reference(v)).collect();
            let flat: Vec<i64> = chunk.concat();
            let payload = (block, at, expected);
            at += n;
            block += 1;
            Ok(Some((flat, payload)))
        };
        let mut seen = Vec::new();
        let stats = sim
            .stream(bubbles, next, |d| {
                let (index, first, expected) = d.payload;
                assert_eq!(d.first, first);
                assert_eq!(d.outputs.len(), d.vectors * 4);
                assert_eq!(d.outputs, &expected[..], "block {index}");
                seen.push((index, d.vectors));
                Ok(())
            })
            .unwrap();
        let total: usize = sizes.iter().sum();
        assert_eq!(seen.len(), sizes.len());
        assert!(seen
            .iter()
            .enumerate()
            .all(|(i, &(b, n))| b == i && n == sizes[i]));
        assert_eq!((stats.inputs, stats.outputs), (total as u64, total as u64));
        // every vector is one record of 4 + 16 bytes (100 bits), every output 12 (70 bits)
        assert_eq!(stats.bytes_in, 8 + 20 * total as u64);
        assert_eq!(stats.bytes_out, 12 * total as u64);
        assert!(stats.cycles >= total as u64 + 4);
        if bubbles.is_some() {
            assert!(stats.cycles > total as u64 + 1000, "{}", stats.cycles);
        }
    }
}

/// An error of the producer or of the check stops the stream, whatever it is doing.
#[test]
fn stream_errors_stop_the_run() {
    if !require_tools(&["verilator"]) {
        return;
    }
    let sim = Cosim::build(&lane_adder(LANE_ADDER, 2), &cache_dir()).unwrap();
    let vectors = random_vectors(4000, 12);
    let flat = vectors.concat();
    // a bad lane in the third block: named by its index in the whole stream
    let mut block = 0;
    let e = sim
        .stream(
            None,
            || {
                block += 1;
                let mut x = flat.clone();
                if block == 3 {
                    x[5 * 17 + 2] = 1 << 19;
                }
                Ok((block <= 5).then_some((x, ())))
            },
            |_| Ok(()),
        )
        .unwrap_err();
    assert!(
        matches!(&e, CosimError::BadVector { index, .. } if *index == 2 * 4000 + 17),
        "{e}"
    );
    // a block that is not whole vectors
    let e = sim
        .stream(None, || Ok(Some((vec![0i64; 7], ()))), |_| Ok(()))
        .unwrap_err();
    assert!(matches!(e, CosimError::BadVector { .. }), "{e}");
    // the check fails on the first block of an endless stream: the run stops
    let mut checked = 0;
    let e = sim
        .stream(
            None,
            || Ok(Some((flat.clone(), ()))),
            |_| {
                checked += 1;
                Err(CosimError::Protocol {
                    top: "lane_adder".into(),
                    message: "stop here".into(),
                })
            },
        )
        .unwrap_err();
    assert!(e.to_string().contains("stop here"), "{e}");
    assert_eq!(checked, 1);
    // the producer fails after two blocks
    let mut n = 0;
    let e = sim
        .stream(
            None,
            || {
                n += 1;
                if n == 3 {
                    return Err(CosimError::BadVector {
                        index: 0,
                        message: "producer".into(),
                    });
                }
                Ok(Some((flat.clone(), ())))
            },
            |_| Ok(()),
        )
        .unwrap_err();
    assert!(e.to_string().contains("producer"), "{e}");
}

/// The harness checks what it reads: the protocol's magic, whole records, no bits above
/// the port's width.
#[test]
fn the_harness_rejects_malformed_input() {
    use std::io::Write;
    use std::process::{Command, Stdio};
    if !require_tools(&["verilator"]) {
        return;
    }
    let sim = Cosim::build(&lane_adder(LANE_ADDER, 2), &cache_dir()).unwrap();
    let run = |bytes: Vec<u8>| {
        let mut child = Command::new(sim.executable())
            .arg("20")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        let _ = stdin.write_all(&bytes);
        drop(stdin);
        child.wait_with_output().unwrap()
    };
    let magic = b"AECCTB2\n".to_vec();
    // a record: u32 idle, then 100 bits in 4 words
    let record = |top: u32| {
        let mut r = vec![0u8; 4];
        r.extend_from_slice(&[1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0]);
        r.extend_from_slice(&top.to_le_bytes());
        r
    };
    let ok = run([magic.clone(), record(0xf), record(0)].concat());
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert_eq!(ok.stdout.len(), 2 * 12);
    let cases = [
        (b"00000\n".to_vec(), "magic"),
        ([magic.clone(), record(0x10)].concat(), "bits above bit 99"),
        (
            [magic.clone(), record(0), vec![0; 5]].concat(),
            "inside a record",
        ),
    ];
    for (bytes, needle) in cases {
        let o = run(bytes);
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains(needle), "{needle}: {stderr}");
    }
}
