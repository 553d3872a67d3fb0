//! Evaluation side of the EvoNorm family: ResNet classifiers with a chosen norm-act on an image
//! classification set.

use serde::{Deserialize, Serialize};
use zoo_datasets::image::ImageData;
use zoo_evonorm::EvoNormKind;
use zoo_resnet::{Depth, NormConfig, NormKind, ResNetConfig, Stem};

/// Family name written in run.json.
pub const FAMILY: &str = "evonorm";

/// The default backbone: pre-activation ResNet-18 (ResNetV2, as timm's EvoNorm models) with a
/// CIFAR stem, base width 16, EvoNorm-S0 with 8 groups (32 would not divide the 16 channels of the
/// first stage), 10 classes. (The post-activation V1 with EvoNorms placed as in the TF reference
/// trained much more slowly at this scale; see the README.)
pub fn default_model() -> ResNetConfig {
    ResNetConfig {
        depth: Depth::R18,
        preact: true,
        stem: Stem::Cifar,
        base_width: 16,
        classes: 10,
        norm: NormConfig {
            kind: NormKind::Evo(EvoNormKind::S0),
            groups: 8,
            ..NormConfig::default()
        },
        ..ResNetConfig::default()
    }
}

/// The parts of an EvoNorm run config that evaluation needs (`train` is accepted and ignored).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct EvoNormSetup {
    /// Backbone.
    pub model: ResNetConfig,
    /// Data.
    pub data: ImageData,
    /// The training section of a run config, ignored here.
    #[serde(skip_serializing)]
    pub train: Option<serde_json::Value>,
}

impl Default for EvoNormSetup {
    fn default() -> Self {
        Self {
            model: default_model(),
            data: ImageData::default(),
            train: None,
        }
    }
}

impl EvoNormSetup {
    /// Sets the classifier width to the dataset's class count and checks the model builds.
    pub fn resolve(&mut self) -> anyhow::Result<()> {
        self.model.classes = self.data.num_classes()?;
        self.model
            .init(&burn::tensor::Device::flex())
            .map(|_| ())
            .map_err(Into::into)
    }
}
