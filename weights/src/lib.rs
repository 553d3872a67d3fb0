//! Weight files for burnzoo.
//!
//! * [`atomic`]: every file burnzoo writes goes through a temporary file, `fsync` and `rename`, so a
//!   crash or a full disk never leaves a half-written file where a good one was.
//! * [`checkpoint`]: the one checkpoint format (a directory per checkpoint, published atomically,
//!   newest-complete discovery, keep-last-N).
//! * [`bpk`]: Burnpack (`.bpk`) save/load of modules with errors that name the file.
#![forbid(unsafe_code)]

pub mod atomic;
pub mod basis;
pub mod bpk;
pub mod checkpoint;
pub mod clip;
pub mod fixture;
pub mod import;
pub mod inspect;
pub mod onnx;
pub mod run;
pub mod tensors;
pub mod yolov9;

pub use atomic::write_atomic;
pub use bpk::{load_module, module_bytes, save_module};
pub use checkpoint::{CheckpointError, CheckpointStore};
