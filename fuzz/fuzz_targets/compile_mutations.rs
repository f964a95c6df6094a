//! The whole compile pipeline on structure-aware mutations of valid models: the
//! fuzzer's bytes choose a seed model and edits to its shapes, attributes, bit widths,
//! scales, weights and edges (`aecc_fuzz::mutated_model`); the result must be refused
//! with an error or compiled, never panic, and satisfy the oracle in `aecc_fuzz::check`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let model = aecc_fuzz::mutated_model(data);
    aecc_fuzz::dump("compile_mutations.onnx", &model);
    aecc_fuzz::check::check_model_bytes(&model, aecc_fuzz::data_seed(data));
});
