//! Evaluation side of the EBV family: a ResNet with an EBV (or linear) head on an image
//! classification set; the basis lives in the weights.

use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use zoo_datasets::image::ImageData;
use zoo_ebv::{
    Construction, GeneratorConfig, HeadKind, ImageClassifier, ImageClassifierConfig, Optimizer, welch_bound,
};

/// Family name written in run.json.
pub const FAMILY: &str = "ebv";

/// Where the basis comes from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BasisConfig {
    /// A basis file (`.safetensors` or `.bpk`, N x d) to use instead of generating one.
    pub file: Option<PathBuf>,
    /// Target max |cos|; `None`: the paper's 0.002 when N <= d + 1... see [`BasisConfig::alpha_for`].
    pub alpha: Option<f64>,
    /// Construction (auto: exact when N <= d + 1, else the reference's iterative optimisation).
    pub construction: Construction,
    /// Update rule of the iterative optimisation.
    pub optimizer: Optimizer,
    /// Step cap.
    pub max_steps: usize,
    /// Seed of the initial draw.
    pub seed: u64,
}

impl Default for BasisConfig {
    fn default() -> Self {
        Self {
            file: None,
            alpha: None,
            construction: Construction::Auto,
            optimizer: Optimizer::default(),
            max_steps: 100_000,
            seed: 42,
        }
    }
}

impl BasisConfig {
    /// The alpha used for N vectors in R^d: the configured one, else the paper's 0.002 when
    /// N <= d, else 1.25 times the Welch bound (iterative runs with d < N end 1.1-1.4x above it).
    pub fn alpha_for(&self, n: usize, d: usize) -> f64 {
        self.alpha
            .unwrap_or_else(|| if n <= d { 0.002 } else { 1.25 * welch_bound(n, d) })
    }

    /// The generator settings for N vectors in R^d.
    pub fn generator(&self, n: usize, d: usize) -> GeneratorConfig {
        GeneratorConfig {
            n,
            d,
            alpha: self.alpha_for(n, d),
            max_steps: self.max_steps,
            optimizer: self.optimizer,
            construction: self.construction,
            seed: self.seed,
            ..GeneratorConfig::default()
        }
    }
}

/// The default classifier: ResNet-18 (CIFAR stem, width 16, BN-ReLU) with an EBV head of
/// d = 10 = N on Shapes-10, tau 0.07.
pub fn default_model() -> ImageClassifierConfig {
    let mut backbone = crate::evonorm::default_model();
    backbone.norm.kind = zoo_resnet::NormKind::Bn;
    ImageClassifierConfig {
        backbone,
        head: HeadKind::Ebv,
        classes: 10,
        ebv_dim: 10,
        tau: 0.07,
        label_smoothing: 0.1,
    }
}

/// The parts of an EBV run config that evaluation needs (`train` is accepted and ignored).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct EbvSetup {
    /// Classifier.
    pub model: ImageClassifierConfig,
    /// Basis source (used by training; evaluation reads the basis from the weights).
    pub basis: BasisConfig,
    /// Data.
    pub data: ImageData,
    /// The training section of a run config, ignored here.
    #[serde(skip_serializing)]
    pub train: Option<serde_json::Value>,
}

impl Default for EbvSetup {
    fn default() -> Self {
        Self {
            model: default_model(),
            basis: BasisConfig::default(),
            data: ImageData::default(),
            train: None,
        }
    }
}

impl EbvSetup {
    /// Sets the class count from the data.
    pub fn resolve(&mut self) -> anyhow::Result<()> {
        self.model.classes = self.data.num_classes()?;
        anyhow::ensure!(self.model.ebv_dim > 0, "model.ebv_dim must be at least 1");
        Ok(())
    }

    /// The classifier with a placeholder basis (zeros), to be overwritten by loaded weights.
    pub fn template(&self, device: &burn::tensor::Device) -> anyhow::Result<ImageClassifier> {
        let basis = (self.model.head == HeadKind::Ebv)
            .then(|| burn::tensor::Tensor::zeros([self.model.classes, self.model.ebv_dim], device));
        Ok(self.model.init(basis, device)?)
    }
}
