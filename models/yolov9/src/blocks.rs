//! GELAN's building blocks (paper Sec. 4.2, Fig. 4), with the reference's module layout so that
//! state-dict keys map name for name (`cv1.conv.weight`, `cv1.bn.running_mean`, ...).
//!
//! Every block can be *fused* for deployment: batch norms folded into the convolutions and
//! RepConvN's two branches merged into one 3x3 convolution (RepVGG-style re-parameterisation).

use burn::module::Param;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, PaddingConfig2d};
use burn::prelude::*;

/// SiLU: one vectorised pass for inference on the CPU backend (Burn's flex evaluates `sigmoid`
/// with scalar `expf` calls, about 40 % of GELAN's inference time); Burn's `silu` otherwise.
pub use zoo_kernels::silu;
use zoo_kernels::{Activation, Pool, conv2d_module, pool2d};

/// Batch-norm epsilon of every YOLOv9 BN (set by the reference's `initialize_weights`).
pub const BN_EPS: f64 = 1e-3;
/// Batch-norm momentum (PyTorch convention: running <- 0.97 running + 0.03 batch).
pub const BN_MOMENTUM: f64 = 0.03;

/// A plain 2D convolution with "same" padding for odd `k` (the reference's `autopad`).
pub fn conv2d(
    c1: usize,
    c2: usize,
    k: usize,
    s: usize,
    groups: usize,
    bias: bool,
    device: &Device,
) -> Conv2d {
    let p = k / 2;
    Conv2dConfig::new([c1, c2], [k, k])
        .with_stride([s, s])
        .with_padding(PaddingConfig2d::Explicit(p, p, p, p))
        .with_groups(groups)
        .with_bias(bias)
        .init(device)
}

/// Conv2d (no bias) -> BatchNorm2d (eps 1e-3, momentum 0.03) -> SiLU (or no activation). After
/// [`Conv::fuse`] the BN is gone and the convolution carries its bias.
#[derive(Module, Debug)]
pub struct Conv {
    /// The convolution.
    pub conv: Conv2d,
    /// The batch norm (`None` once fused).
    pub bn: Option<BatchNorm>,
    #[module(skip)]
    act: bool,
}

impl Conv {
    /// A Conv block; `act` false leaves out the SiLU (RepConvN's branches).
    pub fn new(c1: usize, c2: usize, k: usize, s: usize, groups: usize, act: bool, device: &Device) -> Self {
        Self {
            conv: conv2d(c1, c2, k, s, groups, false, device),
            bn: Some(
                BatchNormConfig::new(c2)
                    .with_epsilon(BN_EPS)
                    .with_momentum(BN_MOMENTUM)
                    .init(device),
            ),
            act,
        }
    }

    /// SiLU(BN(conv(x))); once fused, the convolution, its bias and the SiLU are one pass on
    /// the CPU ([`zoo_kernels::conv2d`]).
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let act = if self.act {
            Activation::Silu
        } else {
            Activation::Identity
        };
        match &self.bn {
            None => conv2d_module(&self.conv, x, act),
            Some(bn) => {
                let y = zoo_kernels::batch_norm(bn, conv2d_module(&self.conv, x, Activation::Identity));
                if self.act { silu(y) } else { y }
            }
        }
    }

    /// The convolution with the BN folded in ([`zoo_kernels::fold_batch_norm`]), as (weight
    /// `[c2, c1/g, k, k]`, bias `[c2]`, zeros without one).
    pub fn folded(&self) -> (Tensor<4>, Tensor<1>) {
        let conv = match &self.bn {
            Some(bn) => zoo_kernels::fold_batch_norm(self.conv.clone(), bn),
            None => self.conv.clone(),
        };
        let w = conv.weight.val();
        let [c2, ..] = w.dims();
        let b = conv
            .bias
            .map_or_else(|| Tensor::zeros([c2], &w.device()), |b| b.val());
        (w, b)
    }

    /// Folds the BN into the convolution (deploy form); a no-op once fused.
    pub fn fuse(self) -> Self {
        let conv = match &self.bn {
            Some(bn) => zoo_kernels::fold_batch_norm(self.conv, bn),
            None => self.conv,
        };
        Self {
            conv,
            bn: None,
            act: self.act,
        }
    }
}

/// RepConvN: SiLU(conv3x3(x) + conv1x1(x)) without RepVGG's identity branch; fused into one 3x3
/// convolution (the 1x1 kernel zero-padded to the centre).
#[derive(Module, Debug)]
pub struct RepConvN {
    /// The 3x3 branch (`None` once fused).
    pub conv1: Option<Conv>,
    /// The 1x1 branch (`None` once fused).
    pub conv2: Option<Conv>,
    /// The fused 3x3 convolution with bias.
    pub conv: Option<Conv2d>,
}

impl RepConvN {
    fn new(c1: usize, c2: usize, device: &Device) -> Self {
        Self {
            conv1: Some(Conv::new(c1, c2, 3, 1, 1, false, device)),
            conv2: Some(Conv::new(c1, c2, 1, 1, 1, false, device)),
            conv: None,
        }
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        match (&self.conv, &self.conv1, &self.conv2) {
            (Some(conv), _, _) => conv2d_module(conv, x, Activation::Silu),
            (None, Some(a), Some(b)) => silu(a.forward(x.clone()) + b.forward(x)),
            _ => unreachable!("RepConvN has either its two branches or the fused conv"),
        }
    }

    fn fuse(self) -> Self {
        let (Some(a), Some(b)) = (&self.conv1, &self.conv2) else {
            return self;
        };
        let (w3, b3) = a.folded();
        let (w1, b1) = b.folded();
        let w1 = w1.pad((1, 1, 1, 1), 0.0);
        let [c2, c1, ..] = w3.dims();
        let mut conv = conv2d(c1, c2, 3, 1, 1, true, &w3.device());
        conv.weight = Param::from_tensor((w3 + w1).detach());
        conv.bias = Some(Param::from_tensor((b3 + b1).detach()));
        Self {
            conv1: None,
            conv2: None,
            conv: Some(conv),
        }
    }
}

/// RepNBottleneck: x + Conv3x3(RepConvN(x)) (residual when widths match).
#[derive(Module, Debug)]
pub struct RepNBottleneck {
    cv1: RepConvN,
    cv2: Conv,
    #[module(skip)]
    add: bool,
}

impl RepNBottleneck {
    fn new(c1: usize, c2: usize, device: &Device) -> Self {
        Self {
            cv1: RepConvN::new(c1, c2, device),
            cv2: Conv::new(c2, c2, 3, 1, 1, true, device),
            add: c1 == c2,
        }
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let y = self.cv2.forward(self.cv1.forward(x.clone()));
        if self.add { x + y } else { y }
    }

    fn fuse(self) -> Self {
        Self {
            cv1: self.cv1.fuse(),
            cv2: self.cv2.fuse(),
            add: self.add,
        }
    }
}

/// RepNCSP: CSP split with `n` RepNBottlenecks on one half (hidden width c2/2).
#[derive(Module, Debug)]
pub struct RepNCsp {
    cv1: Conv,
    cv2: Conv,
    cv3: Conv,
    m: Vec<RepNBottleneck>,
}

impl RepNCsp {
    fn new(c1: usize, c2: usize, n: usize, device: &Device) -> Self {
        let h = c2 / 2;
        Self {
            cv1: Conv::new(c1, h, 1, 1, 1, true, device),
            cv2: Conv::new(c1, h, 1, 1, 1, true, device),
            cv3: Conv::new(2 * h, c2, 1, 1, 1, true, device),
            m: (0..n).map(|_| RepNBottleneck::new(h, h, device)).collect(),
        }
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let a = self
            .m
            .iter()
            .fold(self.cv1.forward(x.clone()), |y, b| b.forward(y));
        self.cv3.forward(Tensor::cat(vec![a, self.cv2.forward(x)], 1))
    }

    fn fuse(self) -> Self {
        Self {
            cv1: self.cv1.fuse(),
            cv2: self.cv2.fuse(),
            cv3: self.cv3.fuse(),
            m: self.m.into_iter().map(RepNBottleneck::fuse).collect(),
        }
    }
}

/// One stage of a sequential container in the reference (`cv2 = Sequential(RepNCSP, Conv)`):
/// kept as a `Vec` of this enum so that the keys read `cv2.0.cv1...`, `cv2.1.conv...`.
#[derive(Module, Debug)]
#[allow(clippy::large_enum_variant)]
pub enum Stage {
    /// A RepNCSP block.
    Csp(RepNCsp),
    /// A Conv block.
    Conv(Conv),
}

impl Stage {
    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        match self {
            Self::Csp(m) => m.forward(x),
            Self::Conv(m) => m.forward(x),
        }
    }

    fn fuse(self) -> Self {
        match self {
            Self::Csp(m) => Self::Csp(m.fuse()),
            Self::Conv(m) => Self::Conv(m.fuse()),
        }
    }
}

fn run(stages: &[Stage], x: Tensor<4>) -> Tensor<4> {
    stages.iter().fold(x, |y, s| s.forward(y))
}

fn fuse_all(stages: Vec<Stage>) -> Vec<Stage> {
    stages.into_iter().map(Stage::fuse).collect()
}

/// The generalised ELAN (paper Fig. 4c): a 1x1 Conv split in two halves; two computational
/// blocks chained on the second half; a 1x1 Conv over all four. With `RepNCSP + Conv` blocks this
/// is RepNCSPELAN4; with single 3x3 Convs it is ELAN1.
#[derive(Module, Debug)]
pub struct Elan {
    cv1: Conv,
    cv2: Vec<Stage>,
    cv3: Vec<Stage>,
    cv4: Conv,
}

impl Elan {
    /// RepNCSPELAN4(c1, c2, c3, c4, n).
    pub fn rep(c1: usize, c2: usize, c3: usize, c4: usize, n: usize, device: &Device) -> Self {
        Self {
            cv1: Conv::new(c1, c3, 1, 1, 1, true, device),
            cv2: vec![
                Stage::Csp(RepNCsp::new(c3 / 2, c4, n, device)),
                Stage::Conv(Conv::new(c4, c4, 3, 1, 1, true, device)),
            ],
            cv3: vec![
                Stage::Csp(RepNCsp::new(c4, c4, n, device)),
                Stage::Conv(Conv::new(c4, c4, 3, 1, 1, true, device)),
            ],
            cv4: Conv::new(c3 + 2 * c4, c2, 1, 1, 1, true, device),
        }
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let y = self.cv1.forward(x);
        let [a, b] = halves(y);
        let c = run(&self.cv2, b.clone());
        let d = run(&self.cv3, c.clone());
        self.cv4.forward(Tensor::cat(vec![a, b, c, d], 1))
    }

    fn fuse(self) -> Self {
        Self {
            cv1: self.cv1.fuse(),
            cv2: fuse_all(self.cv2),
            cv3: fuse_all(self.cv3),
            cv4: self.cv4.fuse(),
        }
    }
}

/// The two channel halves of `x` (the reference's `chunk(2, 1)`).
fn halves(x: Tensor<4>) -> [Tensor<4>; 2] {
    let [_, c, _, _] = x.dims();
    let h = c.div_ceil(2);
    [x.clone().narrow(1, 0, h), x.narrow(1, h, c - h)]
}

/// ELAN1: GELAN whose computational blocks are single 3x3 Convs (`cv2`, `cv3`).
#[derive(Module, Debug)]
pub struct Elan1 {
    cv1: Conv,
    cv2: Conv,
    cv3: Conv,
    cv4: Conv,
}

impl Elan1 {
    /// ELAN1(c1, c2, c3, c4).
    pub fn new(c1: usize, c2: usize, c3: usize, c4: usize, device: &Device) -> Self {
        Self {
            cv1: Conv::new(c1, c3, 1, 1, 1, true, device),
            cv2: Conv::new(c3 / 2, c4, 3, 1, 1, true, device),
            cv3: Conv::new(c4, c4, 3, 1, 1, true, device),
            cv4: Conv::new(c3 + 2 * c4, c2, 1, 1, 1, true, device),
        }
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let [a, b] = halves(self.cv1.forward(x));
        let c = self.cv2.forward(b.clone());
        let d = self.cv3.forward(c.clone());
        self.cv4.forward(Tensor::cat(vec![a, b, c, d], 1))
    }

    fn fuse(self) -> Self {
        Self {
            cv1: self.cv1.fuse(),
            cv2: self.cv2.fuse(),
            cv3: self.cv3.fuse(),
            cv4: self.cv4.fuse(),
        }
    }
}

/// 2x2 average pool with stride 1 (H -> H - 1), the first step of AConv and ADown.
fn avg_pool_s1(x: Tensor<4>) -> Tensor<4> {
    pool2d(x, Pool::Avg, [2, 2], [1, 1], [0, 0])
}

/// AConv: 3x3 stride-2 Conv after a 2x2 stride-1 average pool.
#[derive(Module, Debug)]
pub struct AConv {
    cv1: Conv,
}

impl AConv {
    /// AConv(c1, c2).
    pub fn new(c1: usize, c2: usize, device: &Device) -> Self {
        Self {
            cv1: Conv::new(c1, c2, 3, 2, 1, true, device),
        }
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        self.cv1.forward(avg_pool_s1(x))
    }
}

/// ADown: average pool; one channel half through a 3x3 stride-2 Conv, the other through a 3x3
/// stride-2 max-pool and a 1x1 Conv.
#[derive(Module, Debug)]
pub struct ADown {
    cv1: Conv,
    cv2: Conv,
}

impl ADown {
    /// ADown(c1, c2).
    pub fn new(c1: usize, c2: usize, device: &Device) -> Self {
        Self {
            cv1: Conv::new(c1 / 2, c2 / 2, 3, 2, 1, true, device),
            cv2: Conv::new(c1 / 2, c2 / 2, 1, 1, 1, true, device),
        }
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let [a, b] = halves(avg_pool_s1(x));
        let b = pool2d(b, Pool::Max, [3, 3], [2, 2], [1, 1]);
        Tensor::cat(vec![self.cv1.forward(a), self.cv2.forward(b)], 1)
    }
}

/// SPP-ELAN: 1x1 Conv, three chained 5x5 stride-1 max-pools, 1x1 Conv over the four maps.
#[derive(Module, Debug)]
pub struct Sppelan {
    cv1: Conv,
    cv5: Conv,
}

impl Sppelan {
    /// SPPELAN(c1, c2, c3).
    pub fn new(c1: usize, c2: usize, c3: usize, device: &Device) -> Self {
        Self {
            cv1: Conv::new(c1, c3, 1, 1, 1, true, device),
            cv5: Conv::new(4 * c3, c2, 1, 1, 1, true, device),
        }
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let pool = |x: Tensor<4>| pool2d(x, Pool::Max, [5, 5], [1, 1], [2, 2]);
        let a = self.cv1.forward(x);
        let b = pool(a.clone());
        let c = pool(b.clone());
        let d = pool(c.clone());
        self.cv5.forward(Tensor::cat(vec![a, b, c, d], 1))
    }
}

/// CBLinear (PGI's reversible-branch link): a 1x1 convolution with bias, its output split into
/// channel groups of the given widths.
#[derive(Module, Debug)]
pub struct CbLinear {
    conv: Conv2d,
    #[module(skip)]
    splits: Vec<usize>,
}

impl CbLinear {
    /// CBLinear(c1, c2s).
    pub fn new(c1: usize, c2s: &[usize], device: &Device) -> Self {
        Self {
            conv: conv2d(c1, c2s.iter().sum(), 1, 1, 1, true, device),
            splits: c2s.to_vec(),
        }
    }

    /// The channel groups.
    pub fn forward(&self, x: Tensor<4>) -> Vec<Tensor<4>> {
        let y = conv2d_module(&self.conv, x, Activation::Identity);
        let mut start = 0;
        self.splits
            .iter()
            .map(|&w| {
                let part = y.clone().narrow(1, start, w);
                start += w;
                part
            })
            .collect()
    }
}

/// Nearest resize to `[h, w]` with PyTorch's `F.interpolate(mode='nearest')` rule: source index
/// floor(dst * in / out), clamped.
pub fn resize_nearest(x: Tensor<4>, size: [usize; 2]) -> Tensor<4> {
    let [_, _, h, w] = x.dims();
    if [h, w] == size {
        return x;
    }
    let device = x.device();
    let index = |n_in: usize, n_out: usize| {
        let scale = n_in as f32 / n_out as f32;
        let idx: Vec<i64> = (0..n_out)
            .map(|d| (((d as f32) * scale).floor() as usize).min(n_in - 1) as i64)
            .collect();
        Tensor::<1, Int>::from_data(TensorData::new(idx, [n_out]), &device)
    };
    x.select(2, index(h, size[0])).select(3, index(w, size[1]))
}

/// Nearest upsampling by exactly 2 (`nn.Upsample(scale_factor=2)`).
pub fn upsample2(x: Tensor<4>) -> Tensor<4> {
    let [b, c, h, w] = x.dims();
    x.reshape([b, c, h, 1, w, 1])
        .expand([b, c, h, 2, w, 2])
        .reshape([b, c, 2 * h, 2 * w])
}

macro_rules! fuse_convs {
    ($($t:ident { $($f:ident),* }),*) => {$(
        impl $t {
            fn fuse(self) -> Self {
                Self { $($f: self.$f.fuse()),* }
            }
        }
    )*};
}
fuse_convs!(AConv { cv1 }, ADown { cv1, cv2 }, Sppelan { cv1, cv5 });

/// One parameterised layer of the network (parameter-free layers have no module).
#[derive(Module, Debug)]
#[allow(clippy::large_enum_variant)]
pub enum Block {
    /// Conv.
    Conv(Conv),
    /// AConv.
    AConv(AConv),
    /// ADown.
    ADown(ADown),
    /// ELAN1.
    Elan1(Elan1),
    /// RepNCSPELAN4.
    RepElan(Elan),
    /// SPPELAN.
    Sppelan(Sppelan),
    /// CBLinear.
    CbLinear(CbLinear),
    /// A detection head (single or dual).
    Head(crate::head::Head),
}

impl Block {
    /// Runs a single-input block (everything but the head and CBLinear).
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        match self {
            Self::Conv(m) => m.forward(x),
            Self::AConv(m) => m.forward(x),
            Self::ADown(m) => m.forward(x),
            Self::Elan1(m) => m.forward(x),
            Self::RepElan(m) => m.forward(x),
            Self::Sppelan(m) => m.forward(x),
            Self::CbLinear(_) | Self::Head(_) => unreachable!("multi-output blocks run elsewhere"),
        }
    }

    /// The deploy form (see the module docs).
    pub fn fuse(self) -> Self {
        match self {
            Self::Conv(m) => Self::Conv(m.fuse()),
            Self::AConv(m) => Self::AConv(m.fuse()),
            Self::ADown(m) => Self::ADown(m.fuse()),
            Self::Elan1(m) => Self::Elan1(m.fuse()),
            Self::RepElan(m) => Self::RepElan(m.fuse()),
            Self::Sppelan(m) => Self::Sppelan(m.fuse()),
            Self::CbLinear(m) => Self::CbLinear(m),
            Self::Head(m) => Self::Head(m.fuse()),
        }
    }
}
