//! ResNet backbones with a pluggable normalization-activation layer.
//!
//! * ResNet-18 (basic blocks, [2, 2, 2, 2]), ResNet-26 and ResNet-50 (bottlenecks, [2, 2, 2, 2] and
//!   [3, 4, 6, 3]); He et al., *Deep Residual Learning for Image Recognition*, CVPR 2016.
//! * The pre-activation variant (ResNetV2; He et al., *Identity Mappings in Deep Residual
//!   Networks*, ECCV 2016): norm-act before each convolution, projection from the pre-activated
//!   input, final norm-act before pooling.
//! * Norm-act: BN-ReLU, GN-ReLU or any EvoNorm. EvoNorms are placed as the TensorFlow reference
//!   places them: a norm-act where BN-ReLU would be, and affine-only EvoNorm where BN without ReLU
//!   would be, that is, at the end of every (V1) block with gamma initialised to 0 and on
//!   projection shortcuts with gamma 1; the residual sum is followed by ReLU as with BN.
//! * An ImageNet stem (7x7/2 conv + 3x3/2 max-pool) or a CIFAR stem (3x3/1 conv) for 32x32 inputs,
//!   and a width multiplier (`base_width`, 64 in the papers).
//!
//! Module names follow timm's `resnet.py` (`conv1`, `bn1`, `layer1`..`layer4`, `downsample`, `fc`).
#![forbid(unsafe_code)]

mod config;
mod model;
mod norm;

pub use config::{Depth, NormConfig, NormKind, ResNetConfig, ResNetError, Stem};
pub use model::ResNet;
pub use norm::NormAct;
