pub use aecc_ir as ir;

pub mod backend;
