//! Evaluation for burnzoo: the one [`metrics`] module, the one device-selection function
//! ([`device::parse_device`]), the command-line contract shared by every `train-*` and `eval-*`
//! binary ([`cli`]), and the `eval-*` binaries.

pub mod aranyani;
pub mod bench;
pub mod cli;
pub mod clip;
pub mod device;
pub mod ebv;
pub mod evonorm;
pub mod image_cls;
pub mod metrics;
pub mod mlp;
pub mod plot;
pub mod ponita;
pub mod promptsrc;
pub mod yolov9;

pub use device::{in_thread_pool, parse_device, parse_devices, tune_cpu_allocator};
