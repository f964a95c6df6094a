//! The ONNX loader on raw bytes: whatever the bytes, `aecc compile` must refuse them with
//! an error or compile them, never panic, and everything it accepts must satisfy the
//! oracle in `aecc_fuzz::check` (verifier, sound intervals, a Verilog top module).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    aecc_fuzz::dump("onnx_bytes.onnx", data);
    aecc_fuzz::check::check_model_bytes(data, aecc_fuzz::data_seed(data));
});
