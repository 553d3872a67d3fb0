//! The fuzz targets' harness (one function per target in [`harness`]), shared with the
//! workspace's regression test, which includes `harness.rs` by path.
#![forbid(unsafe_code)]
pub mod harness;
