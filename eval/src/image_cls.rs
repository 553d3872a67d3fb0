//! Shared parts of the image-classification families (EvoNorm, EBV): the data and backbone
//! flags, and evaluation of a classifier on a split.

use crate::metrics::Classification;
use clap::Args;
use std::path::PathBuf;
use zoo_datasets::image::{ImageBatcher, ImageData, ImageItem};
use zoo_datasets::{Batcher, Dataset};
use zoo_evonorm::Convention;
use zoo_resnet::{Depth, NormKind, ResNetConfig, Stem};

fn parse_norm(s: &str) -> Result<NormKind, String> {
    NormKind::parse(s).ok_or_else(|| {
        let names: Vec<String> = NormKind::all().into_iter().map(NormKind::name).collect();
        format!("unknown norm `{s}`; expected one of {}", names.join(", "))
    })
}

fn parse_arch(s: &str) -> Result<(Depth, bool), String> {
    let lower = s.to_ascii_lowercase();
    let (preact, depth) = match lower.strip_prefix("resnetv2") {
        Some(rest) => (true, rest),
        None => (false, lower.as_str()),
    };
    Depth::parse(depth)
        .map(|d| (d, preact))
        .ok_or_else(|| format!("unknown architecture `{s}`; expected resnet18, resnet26, resnet50, resnetv2-18, resnetv2-26 or resnetv2-50"))
}

fn parse_stem(s: &str) -> Result<Stem, String> {
    match s.to_ascii_lowercase().as_str() {
        "cifar" => Ok(Stem::Cifar),
        "imagenet" => Ok(Stem::Imagenet),
        _ => Err(format!("unknown stem `{s}`; expected cifar or imagenet")),
    }
}

fn parse_convention(s: &str) -> Result<Convention, String> {
    match s.to_ascii_lowercase().as_str() {
        "timm" => Ok(Convention::Timm),
        "tf" | "tensorflow" => Ok(Convention::Tf),
        _ => Err(format!("unknown convention `{s}`; expected timm or tf")),
    }
}

/// Backbone flags (override the config file's `model`).
#[derive(Args, Debug, Clone, Default)]
pub struct ResNetArgs {
    /// Backbone: resnet18, resnet26, resnet50, or the pre-activation resnetv2-18/-26/-50.
    #[arg(long, value_name = "NAME", value_parser = parse_arch)]
    pub arch: Option<(Depth, bool)>,

    /// Normalization-activation: bn (BN-ReLU), gn (GN-ReLU), evonorm-b0, evonorm-b1, evonorm-b2,
    /// evonorm-s0, evonorm-s0a, evonorm-s1, evonorm-s1a, evonorm-s2, evonorm-s2a.
    #[arg(long, value_name = "NAME", value_parser = parse_norm)]
    pub norm: Option<NormKind>,

    /// Channels of the first stage (64 in the paper; smaller trains faster on a CPU).
    #[arg(long, value_name = "N")]
    pub width: Option<usize>,

    /// Stem: cifar (3x3 conv, for 32x32 images) or imagenet (7x7/2 conv + max-pool).
    #[arg(long, value_name = "NAME", value_parser = parse_stem)]
    pub stem: Option<Stem>,

    /// EvoNorm convention: timm (default) or tf.
    #[arg(long, value_name = "NAME", value_parser = parse_convention)]
    pub convention: Option<Convention>,

    /// Groups of GroupNorm and of the EvoNorm S variants.
    #[arg(long, value_name = "N")]
    pub groups: Option<usize>,
}

impl ResNetArgs {
    /// Applies the flags given.
    pub fn apply(&self, m: &mut ResNetConfig) {
        if let Some((depth, preact)) = self.arch {
            m.depth = depth;
            m.preact = preact;
        }
        if let Some(n) = self.norm {
            m.norm.kind = n;
        }
        if let Some(w) = self.width {
            m.base_width = w;
        }
        if let Some(s) = self.stem {
            m.stem = s;
        }
        if let Some(c) = self.convention {
            m.norm.convention = c;
        }
        if let Some(g) = self.groups {
            m.norm.groups = g;
        }
    }
}

/// Data flags (override the config file's `data`).
#[derive(Args, Debug, Clone, Default)]
pub struct ImageArgs {
    /// An ImageFolder root: `DIR/train/<class>/*.png|jpg` and `DIR/test/<class>/...` (or `DIR/val`).
    /// Default: the generated Shapes-10 set.
    #[arg(long, value_name = "DIR")]
    pub data: Option<PathBuf>,

    /// With --data: images are resized (shorter side) and center-cropped to N x N.
    #[arg(long, value_name = "N", default_value_t = 32)]
    pub image_size: usize,
}

impl ImageArgs {
    /// Applies the flags given.
    pub fn apply(&self, data: &mut ImageData) {
        if let Some(path) = &self.data {
            *data = ImageData {
                augment: data.augment,
                ..ImageData::folder(path.clone(), self.image_size)
            };
        }
    }
}

/// Accuracy (top-1, top-5 where there are more than 5 classes), per-class accuracy and confusion
/// of `forward` (images to class scores) on `data`.
pub fn evaluate_classifier(
    forward: impl Fn(burn::tensor::Tensor<4>) -> burn::tensor::Tensor<2>,
    data: &dyn Dataset<ImageItem>,
    batcher: &ImageBatcher,
    device: &burn::tensor::Device,
    batch_size: usize,
    classes: usize,
) -> anyhow::Result<Classification> {
    let ks: &[usize] = if classes > 5 { &[5] } else { &[] };
    let mut m = Classification::new(classes, ks);
    let indices: Vec<usize> = (0..data.len()).collect();
    for chunk in indices.chunks(batch_size.max(1)) {
        let items = chunk
            .iter()
            .map(|&i| data.get(i))
            .collect::<Result<Vec<_>, _>>()?;
        let batch = batcher.batch(items, device);
        m.update_tensors(forward(batch.images), batch.labels)?;
    }
    Ok(m)
}

/// Classification metrics as a JSON object (accuracy, top-5, mean per-class accuracy, per-class
/// accuracy by class name).
pub fn classification_json(
    m: &Classification,
    class_names: &[String],
) -> serde_json::Map<String, serde_json::Value> {
    let mut out = serde_json::Map::new();
    out.insert("accuracy".into(), m.accuracy().into());
    for &k in m.ks().iter().filter(|&&k| k > 1) {
        out.insert(format!("top{k}"), m.topk(k).unwrap_or(0.0).into());
    }
    out.insert("mean_class_accuracy".into(), m.mean_class_accuracy().into());
    out.insert("samples".into(), m.total().into());
    let per_class: serde_json::Map<String, serde_json::Value> = m
        .per_class_accuracy()
        .into_iter()
        .enumerate()
        .map(|(i, a)| {
            let name = class_names.get(i).cloned().unwrap_or_else(|| i.to_string());
            (name, a.map_or(serde_json::Value::Null, Into::into))
        })
        .collect();
    out.insert("per_class_accuracy".into(), per_class.into());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_parse() {
        assert_eq!(parse_arch("resnet50"), Ok((Depth::R50, false)));
        assert_eq!(parse_arch("resnetv2-26"), Ok((Depth::R26, true)));
        assert_eq!(parse_arch("ResNetV2_18"), Ok((Depth::R18, true)));
        assert!(parse_arch("vgg16").unwrap_err().contains("resnet18"));
        assert_eq!(
            parse_norm("evonorm-s0"),
            Ok(NormKind::Evo(zoo_evonorm::EvoNormKind::S0))
        );
        assert!(parse_norm("ln").unwrap_err().contains("evonorm-b0"));
    }
}
