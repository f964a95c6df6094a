//! Replays every committed fuzz/adversarial regression input
//! (`tests/fuzz_regressions/*.onnx`) through the fuzz targets' oracle
//! (`fuzz/src/check.rs`, included by path so both check the same invariants), and checks
//! each model's expected outcome (`NAME.expect`).

#[path = "../../fuzz/src/check.rs"]
#[allow(dead_code)]
mod check;

use std::path::Path;

#[test]
fn every_regression_input_passes_the_oracle() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz_regressions");
    let mut models: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "onnx"))
        .collect();
    models.sort();
    assert!(
        !models.is_empty(),
        "no regression inputs in {}",
        dir.display()
    );
    for model in models {
        let bytes = std::fs::read(&model).unwrap();
        let started = std::time::Instant::now();
        let outcome = check::check_model_bytes(&bytes, 1);
        let elapsed = started.elapsed();
        assert!(
            elapsed.as_secs() < 60,
            "{}: took {elapsed:?}",
            model.display()
        );
        let expect = model.with_extension("expect");
        if let Ok(text) = std::fs::read_to_string(&expect) {
            let want = text.lines().next().unwrap_or("").trim();
            match &outcome {
                check::Outcome::Compiled => {
                    assert_eq!(want, "compiled", "{}: compiled", model.display())
                }
                check::Outcome::Refused { message, .. } => assert!(
                    message.contains(want),
                    "{}: refused with '{message}', expected '{want}'",
                    model.display()
                ),
            }
        }
    }
}
