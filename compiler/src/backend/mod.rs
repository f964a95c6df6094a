pub mod hls;
