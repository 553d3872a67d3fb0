//! The pluggable normalization-activation layer.

use crate::config::{NormConfig, NormKind, ResNetError};
use burn::module::Param;
use burn::nn::conv::Conv2d;
use burn::nn::{BatchNorm, BatchNormConfig, GroupNorm, GroupNormConfig};
use burn::prelude::*;
use zoo_evonorm::{EvoNorm, EvoNormConfig};
use zoo_kernels::relu;

/// The normalization layer itself.
#[derive(Module, Debug)]
pub enum Norm {
    /// BatchNorm.
    Batch(BatchNorm),
    /// GroupNorm.
    Group(GroupNorm),
    /// EvoNorm (its activation, if any, is part of the layer).
    Evo(EvoNorm),
    /// A batch norm folded into the preceding convolution by [`crate::ResNet::fuse`]: only the
    /// activation is left, and that runs inside the convolution's pass.
    Folded(Folded),
}

/// The place of a batch norm folded into its convolution (no parameters).
#[derive(Module, Debug, Default)]
pub struct Folded;

/// A normalization followed, where the network wants it, by its activation: ReLU after BN/GN,
/// or an EvoNorm with `apply_act`. Without the activation: BN/GN alone, or an affine-only EvoNorm.
#[derive(Module, Debug)]
pub struct NormAct {
    /// The normalization.
    pub norm: Norm,
    #[module(skip)]
    relu: bool,
}

impl NormAct {
    /// Applies norm (and activation).
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        match &self.norm {
            Norm::Batch(bn) => {
                // Burn's BatchNorm, training through zoo-kernels' fused passes on the CPU.
                let y = zoo_kernels::batch_norm(bn, x);
                if self.relu { relu(y) } else { y }
            }
            Norm::Group(gn) => {
                // Burn's GroupNorm, through zoo-kernels' fused passes on the CPU.
                let y = zoo_kernels::group_norm(gn, x);
                if self.relu { relu(y) } else { y }
            }
            Norm::Evo(evo) => evo.forward(x),
            Norm::Folded(_) => {
                if self.relu {
                    relu(x)
                } else {
                    x
                }
            }
        }
    }

    /// The activation to run inside the preceding convolution when the norm is folded into it.
    pub(crate) fn folded_activation(&self) -> Option<zoo_kernels::Activation> {
        matches!(self.norm, Norm::Folded(_)).then_some(if self.relu {
            zoo_kernels::Activation::Relu
        } else {
            zoo_kernels::Activation::Identity
        })
    }

    /// Folds a batch norm into `conv` (inference form, [`zoo_kernels::fold_batch_norm`]); other
    /// norms are left as they are.
    pub(crate) fn fold_into(self, conv: Conv2d) -> (Conv2d, NormAct) {
        match &self.norm {
            Norm::Batch(bn) => (
                zoo_kernels::fold_batch_norm(conv, bn),
                NormAct {
                    norm: Norm::Folded(Folded),
                    relu: self.relu,
                },
            ),
            _ => (conv, self),
        }
    }
}

/// Largest divisor of `channels` not above `groups`.
fn divisor_groups(channels: usize, groups: usize) -> usize {
    (1..=groups.min(channels).max(1))
        .rev()
        .find(|g| channels.is_multiple_of(*g))
        .unwrap_or(1)
}

impl NormConfig {
    /// A norm-act over `channels`; `act` chooses norm-act or norm only; `zero_gamma` starts the
    /// scale at 0.
    pub fn build(
        &self,
        channels: usize,
        act: bool,
        zero_gamma: bool,
        device: &Device,
    ) -> Result<NormAct, ResNetError> {
        let zeros = |c: usize| Param::from_tensor(Tensor::zeros([c], device));
        let norm = match self.kind {
            NormKind::Bn => {
                let mut bn = BatchNormConfig::new(channels)
                    .with_epsilon(self.bn_eps)
                    .with_momentum(self.bn_momentum)
                    .init(device);
                if zero_gamma {
                    bn.gamma = zeros(channels);
                }
                Norm::Batch(bn)
            }
            NormKind::Gn => {
                let mut gn = GroupNormConfig::new(divisor_groups(channels, self.groups), channels)
                    .with_epsilon(self.gn_eps)
                    .init(device);
                if zero_gamma {
                    gn.gamma = Some(zeros(channels));
                }
                Norm::Group(gn)
            }
            NormKind::Evo(kind) => Norm::Evo(
                EvoNormConfig::new(kind, channels)
                    .with_apply_act(act)
                    .with_groups(self.groups)
                    .with_convention(self.convention)
                    .with_init_zero(zero_gamma)
                    .init(device)?,
            ),
        };
        Ok(NormAct { norm, relu: act })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_counts_divide() {
        assert_eq!(divisor_groups(64, 32), 32);
        assert_eq!(divisor_groups(16, 32), 16);
        assert_eq!(divisor_groups(48, 32), 24);
        assert_eq!(divisor_groups(7, 32), 7);
    }
}
