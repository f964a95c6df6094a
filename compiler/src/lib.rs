pub use aecc_ir as ir;
