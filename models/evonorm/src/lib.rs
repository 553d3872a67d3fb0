//! EvoNorm normalization-activation layers.
//!
//! Liu, Brock, Simonyan, Le, *Evolving Normalization-Activation Layers*, NeurIPS 2020
//! (arXiv 2004.02967). Every variant of timm's `timm/layers/evo_norm.py` (B0, B1, B2, S0, S0a, S1,
//! S1a, S2, S2a), with both conventions in use: timm's (the default) and the TensorFlow reference
//! (`tensorflow/tpu models/official/resnet/resnet_model.py`). See [`EvoNormConfig`] for the
//! formulas and [`Convention`] for where the two differ.
//!
//! ```
//! use burn::prelude::*;
//! use zoo_evonorm::{EvoNormConfig, EvoNormKind};
//!
//! let device = Device::flex();
//! let norm = EvoNormConfig::new(EvoNormKind::S0, 64).init(&device).unwrap();
//! let x = Tensor::<4>::ones([2, 64, 8, 8], &device);
//! assert_eq!(norm.forward(x).dims(), [2, 64, 8, 8]);
//! ```
#![forbid(unsafe_code)]

mod config;
mod layer;

pub use config::{Activation, Convention, EvoNormConfig, EvoNormError, EvoNormKind};
pub use layer::EvoNorm;
