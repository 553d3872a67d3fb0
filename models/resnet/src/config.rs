//! ResNet and norm-act configuration.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use zoo_evonorm::{Convention, EvoNormError, EvoNormKind};

/// Which normalization-activation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NormKind {
    /// BatchNorm + ReLU.
    Bn,
    /// GroupNorm + ReLU.
    Gn,
    /// An EvoNorm variant (normalization and activation in one layer).
    Evo(EvoNormKind),
}

impl NormKind {
    /// `bn`, `gn`, `evonorm-b0`, `evonorm-s0a`, ...
    pub fn name(self) -> String {
        match self {
            Self::Bn => "bn".into(),
            Self::Gn => "gn".into(),
            Self::Evo(k) => format!("evonorm-{}", k.name()),
        }
    }

    /// Parses [`Self::name`]'s forms (also `bn-relu`, `gn-relu`, `b0`, `s0`).
    pub fn parse(s: &str) -> Option<Self> {
        match s.to_ascii_lowercase().as_str() {
            "bn" | "bn-relu" | "batchnorm" => Some(Self::Bn),
            "gn" | "gn-relu" | "groupnorm" => Some(Self::Gn),
            other => EvoNormKind::parse(other).map(Self::Evo),
        }
    }

    /// Every choice, for help texts.
    pub fn all() -> Vec<NormKind> {
        let mut v = vec![Self::Bn, Self::Gn];
        v.extend(EvoNormKind::ALL.into_iter().map(Self::Evo));
        v
    }
}

impl Serialize for NormKind {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.name())
    }
}

impl<'de> Deserialize<'de> for NormKind {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        NormKind::parse(&s).ok_or_else(|| {
            let names: Vec<String> = NormKind::all().into_iter().map(NormKind::name).collect();
            serde::de::Error::custom(format!(
                "unknown norm `{s}`, expected one of {}",
                names.join(", ")
            ))
        })
    }
}

/// Norm-act settings shared by every layer of a network.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NormConfig {
    /// The layer type.
    pub kind: NormKind,
    /// Groups of GroupNorm and of the EvoNorm S variants (reduced to a divisor of the channel
    /// count for GroupNorm and for EvoNorm under the TF convention).
    pub groups: usize,
    /// EvoNorm convention.
    pub convention: Convention,
    /// BatchNorm epsilon.
    pub bn_eps: f64,
    /// BatchNorm momentum.
    pub bn_momentum: f64,
    /// GroupNorm epsilon.
    pub gn_eps: f64,
}

impl Default for NormConfig {
    fn default() -> Self {
        Self {
            kind: NormKind::Bn,
            groups: 32,
            convention: Convention::Timm,
            bn_eps: 1e-5,
            bn_momentum: 0.1,
            gn_eps: 1e-5,
        }
    }
}

/// Depth.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Depth {
    /// Basic blocks [2, 2, 2, 2].
    #[serde(rename = "18")]
    R18,
    /// Bottlenecks [2, 2, 2, 2].
    #[serde(rename = "26")]
    R26,
    /// Bottlenecks [3, 4, 6, 3].
    #[serde(rename = "50")]
    R50,
}

impl Depth {
    /// Blocks per stage.
    pub fn layers(self) -> [usize; 4] {
        match self {
            Self::R18 | Self::R26 => [2, 2, 2, 2],
            Self::R50 => [3, 4, 6, 3],
        }
    }

    /// Bottleneck blocks (expansion 4) rather than basic blocks.
    pub fn bottleneck(self) -> bool {
        !matches!(self, Self::R18)
    }

    /// Parses 18, 26, 50, resnet18, ...
    pub fn parse(s: &str) -> Option<Self> {
        match s
            .to_ascii_lowercase()
            .trim_start_matches("resnet")
            .trim_start_matches(['-', '_'])
        {
            "18" => Some(Self::R18),
            "26" => Some(Self::R26),
            "50" => Some(Self::R50),
            _ => None,
        }
    }
}

/// Input stem.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Stem {
    /// 7x7 stride-2 convolution, norm-act, 3x3 stride-2 max-pool (224x224 inputs).
    Imagenet,
    /// 3x3 stride-1 convolution and norm-act, no pooling (32x32 inputs).
    Cifar,
}

/// A ResNet.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ResNetConfig {
    /// 18, 26 or 50.
    pub depth: Depth,
    /// Pre-activation ResNetV2.
    pub preact: bool,
    /// Input stem.
    pub stem: Stem,
    /// Channels of the stem and the first stage (64 in the paper).
    pub base_width: usize,
    /// Input channels.
    pub in_channels: usize,
    /// Classes (0: no classifier, `forward` returns pooled features).
    pub classes: usize,
    /// Norm-act.
    pub norm: NormConfig,
    /// Zero-initialise the last norm's gamma in each V1 block (the last conv in V2), so that
    /// every residual branch starts as identity (TF reference, timm `zero_init_last`).
    pub zero_init_last: bool,
}

impl Default for ResNetConfig {
    fn default() -> Self {
        Self {
            depth: Depth::R18,
            preact: false,
            stem: Stem::Imagenet,
            base_width: 64,
            in_channels: 3,
            classes: 1000,
            norm: NormConfig::default(),
            zero_init_last: true,
        }
    }
}

/// A ResNet configuration that cannot be built.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ResNetError {
    /// Invalid value.
    #[error("resnet: {0}")]
    Invalid(String),
    /// A norm layer cannot be built for some width.
    #[error("resnet: {0}")]
    Norm(#[from] EvoNormError),
}

impl ResNetConfig {
    /// Channels of the pooled features.
    pub fn feature_dim(&self) -> usize {
        self.base_width * 8 * if self.depth.bottleneck() { 4 } else { 1 }
    }
}
