use thiserror::Error;

#[derive(Debug, Error)]
pub enum SimError {
    #[error(transparent)]
    Ir(#[from] aecc_ir::IrError),
    #[error("the model has {expected} input(s), {got} given")]
    InputCount { expected: usize, got: usize },
    #[error("input '{name}': expected {expected} values per sample (shape {shape:?}), got {got}")]
    InputSize {
        name: String,
        shape: Vec<usize>,
        expected: usize,
        got: usize,
    },
    #[error("input '{name}': value {value} at index {index} is outside the input range [{lo}, {hi}] (type {ty})")]
    InputRange {
        name: String,
        index: usize,
        value: i64,
        ty: String,
        lo: i128,
        hi: i128,
    },
    #[error("input '{name}': element {index} is NaN")]
    NotANumber { name: String, index: usize },
    #[error("input '{name}' has no quantizer to map real values onto its grid")]
    NoInputQuantizer { name: String },
    #[error("batch evaluation needs a model with one input and one output; this one has {inputs} input(s) and {outputs} output(s)")]
    NotSingleInputOutput { inputs: usize, outputs: usize },
    #[error(
        "a batch of {samples} sample(s) of {per_sample} values needs {expected} values, got {got}"
    )]
    BatchLength {
        samples: usize,
        per_sample: usize,
        expected: usize,
        got: usize,
    },
    #[error("sample {sample}: {source}")]
    InSample {
        sample: usize,
        source: Box<SimError>,
    },
    #[error("{path}: {message}")]
    Io { path: String, message: String },
}
