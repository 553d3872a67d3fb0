//! The EBV classifier head and the image classifier (ResNet backbone + EBV or linear head).

use crate::generator::normalize_rows;
use burn::module::Param;
use burn::prelude::*;
use serde::{Deserialize, Serialize};
use zoo_resnet::{ResNet, ResNetConfig, ResNetError};

/// Which classifier head.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum HeadKind {
    /// A learned linear layer to the N classes (the baseline).
    Fc,
    /// A learned projection to d dimensions, L2-normalised, against a fixed basis (EBV).
    #[default]
    Ebv,
}

/// The fixed equiangular basis as a classifier: `logits = normalize(f) E^T / tau` (paper, Eq. 3 with
/// the temperature of `EBV_ImageNet.py`); prediction is the argmax cosine (tau does not change it).
/// The basis is a parameter without gradient: saved with the weights, never trained.
#[derive(Module, Debug)]
pub struct EbvHead {
    /// Unit rows `[N, d]`.
    pub basis: Param<Tensor<2>>,
    #[module(skip)]
    tau: f64,
}

impl EbvHead {
    /// A head over `basis` `[N, d]` (rows are normalised here) with temperature `tau`.
    pub fn new(basis: Tensor<2>, tau: f64) -> Self {
        Self {
            basis: Param::from_tensor(normalize_rows(basis.without_autodiff())).set_require_grad(false),
            tau,
        }
    }

    /// Temperature.
    pub fn tau(&self) -> f64 {
        self.tau
    }

    /// Cosine of each feature `[B, d]` with each basis vector: `[B, N]`.
    pub fn cosine(&self, features: Tensor<2>) -> Tensor<2> {
        normalize_rows(features).matmul(self.basis.val().transpose())
    }

    /// Logits `cosine / tau`.
    pub fn logits(&self, features: Tensor<2>) -> Tensor<2> {
        self.cosine(features).div_scalar(self.tau)
    }
}

/// An image classifier: ResNet backbone and an EBV or linear head.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ImageClassifierConfig {
    /// Backbone; its `classes` is set by [`Self::init`] (N for FC, d for EBV).
    pub backbone: ResNetConfig,
    /// Head.
    pub head: HeadKind,
    /// Number of classes N.
    pub classes: usize,
    /// EBV dimension d.
    pub ebv_dim: usize,
    /// EBV temperature (0.07 in the paper).
    pub tau: f64,
    /// Label smoothing of the training cross-entropy (0.1 in the paper; used for both heads).
    pub label_smoothing: f64,
}

impl Default for ImageClassifierConfig {
    fn default() -> Self {
        Self {
            backbone: ResNetConfig::default(),
            head: HeadKind::Ebv,
            classes: 1000,
            ebv_dim: 1000,
            tau: 0.07,
            label_smoothing: 0.1,
        }
    }
}

impl ImageClassifierConfig {
    /// Builds the classifier; `basis` (`[classes, ebv_dim]`) is required for the EBV head.
    pub fn init(&self, basis: Option<Tensor<2>>, device: &Device) -> Result<ImageClassifier, ResNetError> {
        let mut backbone = self.backbone.clone();
        let head = match self.head {
            HeadKind::Fc => {
                backbone.classes = self.classes;
                None
            }
            HeadKind::Ebv => {
                let basis = basis.ok_or_else(|| ResNetError::Invalid("the EBV head needs a basis".into()))?;
                let [n, d] = basis.dims();
                if n != self.classes || d != self.ebv_dim {
                    return Err(ResNetError::Invalid(format!(
                        "basis is {n} x {d} but the classifier has {} classes and ebv_dim {}",
                        self.classes, self.ebv_dim
                    )));
                }
                if !(self.tau.is_finite() && self.tau > 0.0) {
                    return Err(ResNetError::Invalid(format!(
                        "tau must be positive, got {}",
                        self.tau
                    )));
                }
                backbone.classes = self.ebv_dim;
                Some(EbvHead::new(basis.to_device(device), self.tau))
            }
        };
        if !(0.0..1.0).contains(&self.label_smoothing) {
            return Err(ResNetError::Invalid(format!(
                "label_smoothing must be in [0, 1), got {}",
                self.label_smoothing
            )));
        }
        Ok(ImageClassifier {
            backbone: backbone.init(device)?,
            head,
            label_smoothing: self.label_smoothing,
        })
    }
}

/// ResNet + EBV head (or its own linear classifier).
#[derive(Module, Debug)]
pub struct ImageClassifier {
    /// Backbone, ending in a linear layer to N (FC) or d (EBV) outputs.
    pub backbone: ResNet,
    /// The EBV head, if any.
    pub head: Option<EbvHead>,
    #[module(skip)]
    label_smoothing: f64,
}

impl ImageClassifier {
    /// Training logits `[B, N]`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        let f = self.backbone.forward(x);
        match &self.head {
            Some(h) => h.logits(f),
            None => f,
        }
    }

    /// The training loss: cross-entropy of the logits with label smoothing (`EBV_ImageNet.py`:
    /// `CrossEntropyLoss(label_smoothing=0.1)` on `normalize(f) E^T / 0.07`).
    pub fn loss(&self, logits: Tensor<2>, targets: Tensor<1, Int>) -> Tensor<1> {
        zoo_kernels::cross_entropy(logits, targets, self.label_smoothing)
    }

    /// The inference form: the backbone's batch norms folded into its convolutions
    /// ([`ResNet::fuse`]; evaluation only).
    pub fn fuse(self) -> Self {
        Self {
            backbone: self.backbone.fuse(),
            ..self
        }
    }

    /// Scores whose argmax is the prediction: cosines for EBV, logits for FC.
    pub fn scores(&self, x: Tensor<4>) -> Tensor<2> {
        let f = self.backbone.forward(x);
        match &self.head {
            Some(h) => h.cosine(f),
            None => f,
        }
    }
}
