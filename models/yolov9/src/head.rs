//! The detection heads: the authors' DDetect (grouped box branch) and DualDDetect (PGI's
//! auxiliary + main heads), and ultralytics' Detect (ungrouped, narrower class branch).
//! Each level's output is the raw map `[B, 4 * reg_max + nc, H, W]`: 64 box-distribution logits
//! (side-major: left, top, right, bottom, 16 bins each) then the class logits.

use crate::blocks::{Conv, conv2d};
use burn::prelude::*;
use serde::{Deserialize, Serialize};

/// Bins of the distribution focal loss' box representation (distances 0..15 strides).
pub const REG_MAX: usize = 16;

/// Which head layout (the two references differ in the box branch and the class width).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum HeadStyle {
    /// WongKinYiu's DDetect: box branch width make_divisible(max(ch0/4, 64, 16), 4) with groups 4
    /// in its last two convolutions; class width max(ch0, min(2 nc, 128)).
    Grouped,
    /// ultralytics' Detect (legacy, as its YOLOv9 uses): box width max(16, ch0/4, 64) without
    /// groups; class width max(ch0, min(nc, 100)).
    Ultralytics,
}

impl HeadStyle {
    /// (box width, class width) for a head whose first input has `ch0` channels.
    pub fn widths(self, ch0: usize, nc: usize) -> (usize, usize) {
        match self {
            Self::Grouped => (
                (ch0 / 4).max(4 * REG_MAX).max(16).div_ceil(4) * 4,
                ch0.max((2 * nc).min(128)),
            ),
            Self::Ultralytics => (16.max(ch0 / 4).max(4 * REG_MAX), ch0.max(nc.min(100))),
        }
    }
}

/// One element of a branch (`Sequential(Conv, Conv, Conv2d)` in the reference).
#[derive(Module, Debug)]
#[allow(clippy::large_enum_variant)]
pub enum Part {
    /// Conv-BN-SiLU.
    Conv(Conv),
    /// The final 1x1 convolution with bias.
    Out(burn::nn::conv::Conv2d),
}

fn branch(c1: usize, width: usize, out: usize, groups: usize, device: &Device) -> Vec<Part> {
    vec![
        Part::Conv(Conv::new(c1, width, 3, 1, 1, true, device)),
        Part::Conv(Conv::new(width, width, 3, 1, groups, true, device)),
        Part::Out(conv2d(width, out, 1, 1, groups, true, device)),
    ]
}

fn run(parts: &[Part], x: Tensor<4>) -> Tensor<4> {
    parts.iter().fold(x, |y, p| match p {
        Part::Conv(c) => c.forward(y),
        Part::Out(c) => zoo_kernels::conv2d_module(c, y, zoo_kernels::Activation::Identity),
    })
}

fn fuse(branches: Vec<Vec<Part>>) -> Vec<Vec<Part>> {
    branches
        .into_iter()
        .map(|b| {
            b.into_iter()
                .map(|p| match p {
                    Part::Conv(c) => Part::Conv(c.fuse()),
                    out => out,
                })
                .collect()
        })
        .collect()
}

/// A detection head: `cv2`/`cv3` (box/class branches per level), and for the PGI dual head also
/// `cv4`/`cv5`, the main head (then `cv2`/`cv3` are the auxiliary head).
#[derive(Module, Debug)]
pub struct Head {
    /// Box branches (the auxiliary head's, in a dual head).
    pub cv2: Vec<Vec<Part>>,
    /// Class branches.
    pub cv3: Vec<Vec<Part>>,
    /// Main head's box branches (dual head only).
    pub cv4: Option<Vec<Vec<Part>>>,
    /// Main head's class branches (dual head only).
    pub cv5: Option<Vec<Vec<Part>>>,
    #[module(skip)]
    nc: usize,
}

/// Levels of a head's output, per scale `[B, 64 + nc, H, W]`.
pub type Levels = Vec<Tensor<4>>;

fn head_branches(
    style: HeadStyle,
    ch: &[usize],
    nc: usize,
    device: &Device,
) -> (Vec<Vec<Part>>, Vec<Vec<Part>>) {
    let (c2, c3) = style.widths(ch[0], nc);
    let groups = match style {
        HeadStyle::Grouped => 4,
        HeadStyle::Ultralytics => 1,
    };
    let boxes = ch
        .iter()
        .map(|&c| branch(c, c2, 4 * REG_MAX, groups, device))
        .collect();
    let classes = ch.iter().map(|&c| branch(c, c3, nc, 1, device)).collect();
    (boxes, classes)
}

/// Initial biases of the last convolutions (the reference's `bias_init`): 1.0 for the box logits;
/// ln(5 / nc / (640 / stride)^2) for the classes (about 0.01 prior probability per cell at 640).
fn init_biases(boxes: &mut [Vec<Part>], classes: &mut [Vec<Part>], nc: usize) {
    use burn::module::Param;
    for (i, (b, c)) in boxes.iter_mut().zip(classes.iter_mut()).enumerate() {
        let stride = crate::decode::STRIDES[i];
        if let Some(Part::Out(conv)) = b.last_mut()
            && let Some(bias) = conv.bias.as_ref()
        {
            let d = bias.val().dims();
            conv.bias = Some(Param::from_tensor(Tensor::ones(d, &bias.device())));
        }
        if let Some(Part::Out(conv)) = c.last_mut()
            && let Some(bias) = conv.bias.as_ref()
        {
            let v = (5.0 / nc as f64 / (640.0 / stride as f64).powi(2)).ln();
            let d = bias.val().dims();
            conv.bias = Some(Param::from_tensor(Tensor::full(d, v, &bias.device())));
        }
    }
}

impl Head {
    /// A single head over levels with `ch` channels; a dual head when `dual` (then `ch` lists the
    /// auxiliary inputs, then the main ones).
    pub fn new(style: HeadStyle, ch: &[usize], nc: usize, dual: bool, device: &Device) -> Self {
        let nl = if dual { ch.len() / 2 } else { ch.len() };
        let (mut cv2, mut cv3) = head_branches(style, &ch[..nl], nc, device);
        init_biases(&mut cv2, &mut cv3, nc);
        let (cv4, cv5) = if dual {
            let (mut cv4, mut cv5) = head_branches(style, &ch[nl..], nc, device);
            init_biases(&mut cv4, &mut cv5, nc);
            (Some(cv4), Some(cv5))
        } else {
            (None, None)
        };
        Self {
            cv2,
            cv3,
            cv4,
            cv5,
            nc,
        }
    }

    /// Number of classes.
    pub fn num_classes(&self) -> usize {
        self.nc
    }

    /// Whether this is the PGI dual head.
    pub fn is_dual(&self) -> bool {
        self.cv4.is_some()
    }

    /// Raw level outputs: (main, auxiliary). For a single head the auxiliary part is `None`.
    pub fn forward(&self, xs: Vec<Tensor<4>>) -> (Levels, Option<Levels>) {
        let apply = |boxes: &[Vec<Part>], classes: &[Vec<Part>], xs: &[Tensor<4>]| -> Levels {
            xs.iter()
                .zip(boxes.iter().zip(classes))
                .map(|(x, (b, c))| Tensor::cat(vec![run(b, x.clone()), run(c, x.clone())], 1))
                .collect()
        };
        match (&self.cv4, &self.cv5) {
            (Some(cv4), Some(cv5)) => {
                let nl = self.cv2.len();
                let aux = apply(&self.cv2, &self.cv3, &xs[..nl]);
                let main = apply(cv4, cv5, &xs[nl..]);
                (main, Some(aux))
            }
            _ => (apply(&self.cv2, &self.cv3, &xs), None),
        }
    }

    /// The dual head's main part as a single head (PGI removal); a single head is returned as is.
    pub fn into_main(self) -> Self {
        match (self.cv4, self.cv5) {
            (Some(cv4), Some(cv5)) => Self {
                cv2: cv4,
                cv3: cv5,
                cv4: None,
                cv5: None,
                nc: self.nc,
            },
            (cv4, cv5) => Self { cv4, cv5, ..self },
        }
    }

    /// Multiply-accumulates of the head's convolutions for input levels of the given sizes (the
    /// auxiliary levels first for a dual head).
    pub fn macs(&self, sizes: &[[usize; 2]]) -> u64 {
        let nl = self.cv2.len();
        let mut heads = vec![(&self.cv2, &self.cv3, &sizes[..nl])];
        if let (Some(cv4), Some(cv5)) = (&self.cv4, &self.cv5) {
            heads.push((cv4, cv5, &sizes[nl..]));
        }
        heads
            .into_iter()
            .flat_map(|(b, c, s)| b.iter().zip(c).zip(s))
            .map(|((b, c), [h, w])| {
                (crate::model::conv_weights(b) + crate::model::conv_weights(c)) * (h * w) as u64
            })
            .sum()
    }

    /// Deploy form: BNs folded.
    pub fn fuse(self) -> Self {
        Self {
            cv2: fuse(self.cv2),
            cv3: fuse(self.cv3),
            cv4: self.cv4.map(fuse),
            cv5: self.cv5.map(fuse),
            nc: self.nc,
        }
    }
}
