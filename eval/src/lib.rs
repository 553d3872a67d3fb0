//! Evaluation for burnzoo: the one [`metrics`] module, the one device-selection function
//! ([`device::parse_device`]), the command-line contract shared by every `train-*` and `eval-*`
//! binary ([`cli`]), and the `eval-*` binaries.

pub mod cli;
pub mod device;
pub mod metrics;
pub mod mlp;

pub use device::{parse_device, parse_devices};
