pub mod hls_csim;
