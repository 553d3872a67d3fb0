//! ResNet modules and forward pass.

use crate::config::{ResNetConfig, ResNetError, Stem};
use crate::norm::NormAct;
use burn::module::Param;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::nn::{Initializer, Linear, LinearConfig, PaddingConfig2d};
use burn::prelude::*;
use zoo_kernels::relu;

/// `k x k` convolution without bias, "same" padding, He-normal (fan-out) initialisation as in
/// torchvision/timm ResNets.
fn conv(cin: usize, cout: usize, k: usize, stride: usize, device: &Device) -> Conv2d {
    Conv2dConfig::new([cin, cout], [k, k])
        .with_stride([stride, stride])
        .with_padding(PaddingConfig2d::Explicit(k / 2, k / 2, k / 2, k / 2))
        .with_bias(false)
        .with_initializer(Initializer::KaimingNormal {
            gain: 2f64.sqrt(),
            fan_out_only: true,
        })
        .init(device)
}

/// A convolution's forward pass; on the CPU at inference, one pass per band of output rows
/// without flex's layout conversions ([`zoo_kernels::conv2d`]).
fn conv_forward(conv: &Conv2d, x: Tensor<4>) -> Tensor<4> {
    zoo_kernels::conv2d_module(conv, x, zoo_kernels::Activation::Identity)
}

/// `norm(conv(x))`; with the norm folded into the convolution ([`ResNet::fuse`]), one pass with
/// the bias and the ReLU fused.
fn conv_norm(conv: &Conv2d, norm: &NormAct, x: Tensor<4>) -> Tensor<4> {
    match norm.folded_activation() {
        Some(act) => zoo_kernels::conv2d_module(conv, x, act),
        None => norm.forward(conv_forward(conv, x)),
    }
}

fn zero_weight(mut c: Conv2d) -> Conv2d {
    let dims = c.weight.dims();
    let device = c.weight.device();
    c.weight = Param::from_tensor(Tensor::zeros(dims, &device));
    c
}

/// Projection shortcut: 1x1 strided conv, plus an affine norm in V1 (none in V2).
#[derive(Module, Debug)]
pub struct Downsample {
    conv: Conv2d,
    norm: Option<NormAct>,
}

impl Downsample {
    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        match &self.norm {
            Some(n) => conv_norm(&self.conv, n, x),
            None => conv_forward(&self.conv, x),
        }
    }

    fn fuse(self) -> Self {
        match self.norm {
            Some(n) => {
                let (conv, norm) = n.fold_into(self.conv);
                Self {
                    conv,
                    norm: Some(norm),
                }
            }
            None => self,
        }
    }
}

/// A residual block (basic or bottleneck, post- or pre-activation).
#[derive(Module, Debug)]
pub struct Block {
    conv1: Conv2d,
    bn1: NormAct,
    conv2: Conv2d,
    bn2: NormAct,
    conv3: Option<Conv2d>,
    bn3: Option<NormAct>,
    downsample: Option<Downsample>,
    #[module(skip)]
    preact: bool,
}

impl Block {
    #[allow(clippy::too_many_arguments)]
    fn new(
        cfg: &ResNetConfig,
        cin: usize,
        width: usize,
        stride: usize,
        device: &Device,
    ) -> Result<(Self, usize), ResNetError> {
        let n = &cfg.norm;
        let bottleneck = cfg.depth.bottleneck();
        let cout = if bottleneck { width * 4 } else { width };
        let zero = cfg.zero_init_last;
        let needs_proj = stride != 1 || cin != cout;
        let block = if !cfg.preact {
            // V1: conv-norm-act ..., last norm without act (gamma 0), ReLU after the sum.
            let (conv1, bn1, conv2, bn2, conv3, bn3) = if bottleneck {
                (
                    conv(cin, width, 1, 1, device),
                    n.build(width, true, false, device)?,
                    conv(width, width, 3, stride, device),
                    n.build(width, true, false, device)?,
                    Some(conv(width, cout, 1, 1, device)),
                    Some(n.build(cout, false, zero, device)?),
                )
            } else {
                (
                    conv(cin, width, 3, stride, device),
                    n.build(width, true, false, device)?,
                    conv(width, cout, 3, 1, device),
                    n.build(cout, false, zero, device)?,
                    None,
                    None,
                )
            };
            let downsample = needs_proj
                .then(|| -> Result<Downsample, ResNetError> {
                    Ok(Downsample {
                        conv: conv(cin, cout, 1, stride, device),
                        norm: Some(n.build(cout, false, false, device)?),
                    })
                })
                .transpose()?;
            Block {
                conv1,
                bn1,
                conv2,
                bn2,
                conv3,
                bn3,
                downsample,
                preact: false,
            }
        } else {
            // V2: norm-act before each conv; the projection sees the pre-activated input.
            let last = |c: Conv2d| if zero { zero_weight(c) } else { c };
            let (conv1, bn1, conv2, bn2, conv3, bn3) = if bottleneck {
                (
                    conv(cin, width, 1, 1, device),
                    n.build(cin, true, false, device)?,
                    conv(width, width, 3, stride, device),
                    n.build(width, true, false, device)?,
                    Some(last(conv(width, cout, 1, 1, device))),
                    Some(n.build(width, true, false, device)?),
                )
            } else {
                (
                    conv(cin, width, 3, stride, device),
                    n.build(cin, true, false, device)?,
                    last(conv(width, cout, 3, 1, device)),
                    n.build(width, true, false, device)?,
                    None,
                    None,
                )
            };
            let downsample = needs_proj.then(|| Downsample {
                conv: conv(cin, cout, 1, stride, device),
                norm: None,
            });
            Block {
                conv1,
                bn1,
                conv2,
                bn2,
                conv3,
                bn3,
                downsample,
                preact: true,
            }
        };
        Ok((block, cout))
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        if self.preact {
            let pre = self.bn1.forward(x.clone());
            let shortcut = match &self.downsample {
                Some(d) => d.forward(pre.clone()),
                None => x,
            };
            let h = conv_forward(&self.conv1, pre);
            let h = conv_forward(&self.conv2, self.bn2.forward(h));
            let h = match (&self.bn3, &self.conv3) {
                (Some(bn3), Some(conv3)) => conv_forward(conv3, bn3.forward(h)),
                _ => h,
            };
            h + shortcut
        } else {
            let shortcut = match &self.downsample {
                Some(d) => d.forward(x.clone()),
                None => x.clone(),
            };
            let h = conv_norm(&self.conv1, &self.bn1, x);
            let h = conv_norm(&self.conv2, &self.bn2, h);
            let h = match (&self.conv3, &self.bn3) {
                (Some(conv3), Some(bn3)) => conv_norm(conv3, bn3, h),
                _ => h,
            };
            relu(h + shortcut)
        }
    }

    /// Folds each batch norm that follows a convolution into it (post-activation blocks; the
    /// pre-activation ones normalise before their convolutions and stay as they are).
    fn fuse(self) -> Self {
        if self.preact {
            return self;
        }
        let (conv1, bn1) = self.bn1.fold_into(self.conv1);
        let (conv2, bn2) = self.bn2.fold_into(self.conv2);
        let (conv3, bn3) = match (self.conv3, self.bn3) {
            (Some(c), Some(n)) => {
                let (c, n) = n.fold_into(c);
                (Some(c), Some(n))
            }
            other => other,
        };
        Self {
            conv1,
            bn1,
            conv2,
            bn2,
            conv3,
            bn3,
            downsample: self.downsample.map(Downsample::fuse),
            preact: false,
        }
    }
}

/// A ResNet (V1 or pre-activation V2) with a linear classifier.
#[derive(Module, Debug)]
pub struct ResNet {
    conv1: Conv2d,
    bn1: Option<NormAct>,
    maxpool: Option<MaxPool2d>,
    layer1: Vec<Block>,
    layer2: Vec<Block>,
    layer3: Vec<Block>,
    layer4: Vec<Block>,
    norm: Option<NormAct>,
    fc: Option<Linear>,
}

impl ResNetConfig {
    /// Builds the network on `device`.
    pub fn init(&self, device: &Device) -> Result<ResNet, ResNetError> {
        if self.base_width == 0 || self.in_channels == 0 {
            return Err(ResNetError::Invalid(
                "base_width and in_channels must be at least 1".into(),
            ));
        }
        let w = self.base_width;
        let (conv1, maxpool) = match self.stem {
            Stem::Imagenet => (
                conv(self.in_channels, w, 7, 2, device),
                Some(
                    MaxPool2dConfig::new([3, 3])
                        .with_strides([2, 2])
                        .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                        .init(),
                ),
            ),
            Stem::Cifar => (conv(self.in_channels, w, 3, 1, device), None),
        };
        let bn1 = (!self.preact)
            .then(|| self.norm.build(w, true, false, device))
            .transpose()?;
        let mut cin = w;
        let mut stages = Vec::with_capacity(4);
        for (i, &blocks) in self.depth.layers().iter().enumerate() {
            let width = w << i;
            let mut stage = Vec::with_capacity(blocks);
            for b in 0..blocks {
                let stride = if b == 0 && i > 0 { 2 } else { 1 };
                let (block, cout) = Block::new(self, cin, width, stride, device)?;
                stage.push(block);
                cin = cout;
            }
            stages.push(stage);
        }
        let norm = self
            .preact
            .then(|| self.norm.build(cin, true, false, device))
            .transpose()?;
        let fc = (self.classes > 0).then(|| LinearConfig::new(cin, self.classes).init(device));
        let mut stages = stages.into_iter();
        let mut next = || stages.next().expect("four stages");
        Ok(ResNet {
            conv1,
            bn1,
            maxpool,
            layer1: next(),
            layer2: next(),
            layer3: next(),
            layer4: next(),
            norm,
            fc,
        })
    }
}

impl ResNet {
    /// Globally average-pooled features `[N, feature_dim]`.
    pub fn features(&self, x: Tensor<4>) -> Tensor<2> {
        let mut x = match &self.bn1 {
            Some(bn1) => conv_norm(&self.conv1, bn1, x),
            None => conv_forward(&self.conv1, x),
        };
        if self.maxpool.is_some() {
            // The ImageNet stem's 3x3 / 2 max pool (padding 1) as zoo-kernels' pool: row and
            // column passes where flex compares one window element at a time.
            x = zoo_kernels::pool2d(x, zoo_kernels::Pool::Max, [3, 3], [2, 2], [1, 1]);
        }
        for block in self
            .layer1
            .iter()
            .chain(&self.layer2)
            .chain(&self.layer3)
            .chain(&self.layer4)
        {
            x = block.forward(x);
        }
        if let Some(norm) = &self.norm {
            x = norm.forward(x);
        }
        let [n, c, h, w] = x.dims();
        x.reshape([n, c, h * w]).mean_dim(2).reshape([n, c])
    }

    /// The inference form: every batch norm that follows a convolution folded into it
    /// ([`zoo_kernels::fold_batch_norm`], as timm's and ultralytics' `fuse`), so that on the CPU
    /// the convolution, the folded norm's shift and its ReLU are one pass. The folded norms use
    /// their running statistics: the result is for evaluation only (not for training, and its
    /// record no longer matches the unfused network's). Other norms are left as they are.
    pub fn fuse(self) -> Self {
        let (conv1, bn1) = match self.bn1 {
            Some(n) => {
                let (c, n) = n.fold_into(self.conv1);
                (c, Some(n))
            }
            None => (self.conv1, None),
        };
        let stage = |blocks: Vec<Block>| blocks.into_iter().map(Block::fuse).collect();
        ResNet {
            conv1,
            bn1,
            maxpool: self.maxpool,
            layer1: stage(self.layer1),
            layer2: stage(self.layer2),
            layer3: stage(self.layer3),
            layer4: stage(self.layer4),
            norm: self.norm,
            fc: self.fc,
        }
    }

    /// Class logits `[N, classes]` (pooled features when built with `classes = 0`).
    pub fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        let f = self.features(x);
        match &self.fc {
            Some(fc) => fc.forward(f),
            None => f,
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::config::{Depth, NormKind, ResNetConfig, Stem};
    use burn::prelude::*;
    use zoo_evonorm::EvoNormKind;

    fn count(cfg: &ResNetConfig) -> usize {
        cfg.init(&Device::flex()).unwrap().num_params()
    }

    #[test]
    fn parameter_counts_match_timm() {
        // timm resnet18/26/50 state dicts (parameters + BN running mean/var, which Burn keeps in
        // the module tree too): 11,699,112 / 16,026,024 / 25,610,152 values.
        let mut cfg = ResNetConfig::default();
        assert_eq!(count(&cfg), 11_699_112);
        cfg.depth = Depth::R26;
        assert_eq!(count(&cfg), 16_026_024);
        cfg.depth = Depth::R50;
        assert_eq!(count(&cfg), 25_610_152);
    }

    #[test]
    fn every_norm_runs_on_both_stems_and_variants() {
        let device = Device::flex();
        for kind in NormKind::all() {
            for preact in [false, true] {
                let cfg = ResNetConfig {
                    depth: Depth::R18,
                    preact,
                    stem: Stem::Cifar,
                    base_width: 8,
                    classes: 10,
                    norm: crate::NormConfig {
                        kind,
                        groups: 4,
                        ..Default::default()
                    },
                    ..Default::default()
                };
                let y = cfg
                    .init(&device)
                    .unwrap()
                    .forward(Tensor::ones([2, 3, 32, 32], &device));
                assert_eq!(y.dims(), [2, 10], "{kind:?}");
            }
        }
        let cfg = ResNetConfig {
            base_width: 8,
            classes: 5,
            ..Default::default()
        };
        let y = cfg
            .init(&device)
            .unwrap()
            .forward(Tensor::ones([1, 3, 64, 64], &device));
        assert_eq!(y.dims(), [1, 5]);
    }

    #[test]
    fn timm_convention_group_errors_surface() {
        // 24 channels cannot take 32 EvoNorm-S0 groups under the timm convention.
        let cfg = ResNetConfig {
            base_width: 24,
            norm: crate::NormConfig {
                kind: NormKind::Evo(EvoNormKind::S0),
                ..Default::default()
            },
            ..Default::default()
        };
        let err = cfg.init(&Device::flex()).unwrap_err().to_string();
        assert!(err.contains("24 channels") && err.contains("32 groups"), "{err}");
    }
}
