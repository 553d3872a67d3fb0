//! CLIP evaluation: zero-shot classification with prompt ensembles on an ImageFolder, and on the
//! generated captioned shapes (seen against held-apart colour-shape pairs); the caption batcher
//! that training shares.

use crate::metrics::Classification;
use anyhow::Context;
use burn::prelude::*;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use zoo_clip::zeroshot::{IMAGENET_TEMPLATES, classifier, scores, tokenize_batch};
use zoo_clip::{Clip, ClipConfig, IMAGE_MEAN, IMAGE_STD, Tokenizer};
use zoo_datasets::captions::{COLOURS, Captioned, CaptionedItem, CaptionedShapes, SHAPES, pair_name};
use zoo_datasets::image::{ImageBatcher, ImageItem};
use zoo_datasets::{Batcher, Dataset};

/// Family name in run.json.
pub const FAMILY: &str = "clip";

/// Templates of the captioned-shapes zero-shot task: phrasings the captions use.
pub const SHAPES_TEMPLATES: [&str; 3] = ["a {}.", "a photo of a {}.", "a drawing of a {}."];

/// The parts of a CLIP run config that evaluation needs (`train` is accepted and ignored).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ClipSetup {
    /// Architecture.
    pub model: ClipConfig,
    /// The generated captioned-shapes data.
    pub data: CaptionedShapes,
    /// The training section of a run config, ignored here.
    #[serde(skip_serializing)]
    pub train: Option<serde_json::Value>,
}

impl Default for ClipSetup {
    fn default() -> Self {
        Self {
            model: ClipConfig::shapes(),
            data: CaptionedShapes::default(),
            train: None,
        }
    }
}

/// Images (CLIP-normalised) with their caption tokens and colour-shape classes.
#[derive(Debug, Clone)]
pub struct CaptionBatch {
    /// `[n, 3, S, S]`.
    pub images: Tensor<4>,
    /// `[n, context]` token ids.
    pub tokens: Tensor<2, Int>,
    /// Colour-shape classes `[n]`.
    pub pairs: Tensor<1, Int>,
}

/// Tokenizes captions (open_clip's rules, the model's context) and normalises images with CLIP's
/// mean and std.
#[derive(Debug, Clone)]
pub struct CaptionBatcher {
    /// The BPE tokenizer (shared).
    pub tokenizer: Arc<Tokenizer>,
    /// Context length of the text tower.
    pub context: usize,
}

impl CaptionBatcher {
    /// A batcher for `model`'s context length.
    pub fn new(config: &ClipConfig) -> Self {
        Self {
            tokenizer: Arc::new(Tokenizer::new()),
            context: config.text_cfg.context_length,
        }
    }
}

/// CLIP's normalisation as a batcher of images.
pub fn image_batcher() -> ImageBatcher {
    ImageBatcher {
        mean: IMAGE_MEAN,
        std: IMAGE_STD,
    }
}

impl Batcher<CaptionedItem, CaptionBatch> for CaptionBatcher {
    fn batch(&self, items: Vec<CaptionedItem>, device: &Device) -> CaptionBatch {
        let captions: Vec<String> = items.iter().map(|i| i.caption.clone()).collect();
        let images: Vec<ImageItem> = items.into_iter().map(|i| i.image).collect();
        let b = image_batcher().batch(images, device);
        CaptionBatch {
            images: b.images,
            tokens: tokenize_batch(&self.tokenizer, &captions, self.context, device),
            pairs: b.labels,
        }
    }
}

/// Zero-shot accuracy on the captioned shapes' test split (30 colour-shape classes, the
/// [`SHAPES_TEMPLATES`] ensemble), split by seen and held-apart pairs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ShapesZeroShot {
    /// 30-way accuracy on pairs seen in training.
    pub seen: f64,
    /// 30-way accuracy on the five held-apart pairs.
    pub held_apart: f64,
    /// On held-apart images: the predicted pair has the right colour.
    pub held_apart_colour: f64,
    /// On held-apart images: the predicted pair has the right shape.
    pub held_apart_shape: f64,
    /// Images of seen pairs.
    pub n_seen: usize,
    /// Images of held-apart pairs.
    pub n_held_apart: usize,
}

/// Runs the zero-shot evaluation of `model` on `test` (see [`ShapesZeroShot`]).
pub fn evaluate_shapes(
    model: &Clip,
    tokenizer: &Tokenizer,
    test: &Captioned,
    batch_size: usize,
    device: &Device,
) -> anyhow::Result<ShapesZeroShot> {
    let classes: Vec<String> = (0..COLOURS.len() * SHAPES.len()).map(pair_name).collect();
    let templates: Vec<String> = SHAPES_TEMPLATES.iter().map(|s| s.to_string()).collect();
    let head = classifier(model, tokenizer, &classes, &templates, 256, device);
    let (mut hit, mut count) = ([0usize; 2], [0usize; 2]);
    let (mut colour, mut shape) = (0usize, 0usize);
    let items = test.items();
    for chunk in items.chunks(batch_size.max(1)) {
        let images: Vec<ImageItem> = chunk.iter().map(|i| i.image.clone()).collect();
        let x = image_batcher().batch(images, device).images;
        let pred = scores(model, &head, x).argmax(1).into_data().convert::<i64>();
        let pred = pred
            .try_to_vec::<i64>()
            .map_err(|e| anyhow::anyhow!("reading predictions: {e:?}"))?;
        for (item, &p) in chunk.iter().zip(&pred) {
            let a = item.attributes;
            let (p, held) = (p as usize, usize::from(a.held_apart()));
            count[held] += 1;
            hit[held] += usize::from(p == a.pair());
            if held == 1 {
                colour += usize::from(p / SHAPES.len() == a.colour);
                shape += usize::from(p % SHAPES.len() == a.shape);
            }
        }
    }
    let frac = |a: usize, b: usize| if b == 0 { 0.0 } else { a as f64 / b as f64 };
    Ok(ShapesZeroShot {
        seen: frac(hit[0], count[0]),
        held_apart: frac(hit[1], count[1]),
        held_apart_colour: frac(colour, count[1]),
        held_apart_shape: frac(shape, count[1]),
        n_seen: count[0],
        n_held_apart: count[1],
    })
}

/// Prompt templates: `imagenet` (CLIP's 80), `simple` ("a photo of a {}."), or a file with one
/// template per line (`{}` marks the class name; blank lines and `#` comments skipped).
pub fn read_templates(spec: &str) -> anyhow::Result<Vec<String>> {
    match spec {
        "imagenet" => Ok(IMAGENET_TEMPLATES.iter().map(|s| s.to_string()).collect()),
        "simple" => Ok(vec!["a photo of a {}.".to_string()]),
        file => read_lines(Path::new(file), "template"),
    }
}

/// Non-empty, non-comment lines of `path` (`what` names them in errors).
pub fn read_lines(path: &Path, what: &str) -> anyhow::Result<Vec<String>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading the {what} file {}", path.display()))?;
    let lines: Vec<String> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_string)
        .collect();
    anyhow::ensure!(!lines.is_empty(), "{}: no {what} in the file", path.display());
    Ok(lines)
}

/// Zero-shot classification of labelled images (an ImageFolder split with
/// `Resize::PilBicubic`, or a Dassl split as `DasslImages`: both preprocess as open_clip does);
/// `class_names[label]` goes into the prompts.
pub fn evaluate_folder(
    model: &Clip,
    tokenizer: &Tokenizer,
    folder: &dyn Dataset<ImageItem>,
    class_names: &[String],
    templates: &[String],
    batch_size: usize,
    device: &Device,
) -> anyhow::Result<Classification> {
    let head = classifier(model, tokenizer, class_names, templates, 256, device);
    let mut m = Classification::new(class_names.len(), &[5.min(class_names.len())]);
    let batcher = image_batcher();
    for start in (0..folder.len()).step_by(batch_size.max(1)) {
        let items = (start..(start + batch_size).min(folder.len()))
            .map(|i| folder.get(i))
            .collect::<Result<Vec<_>, _>>()?;
        let b = batcher.batch(items, device);
        m.update_tensors(scores(model, &head, b.images), b.labels)?;
    }
    Ok(m)
}

/// Which architecture: a preset name or an open_clip model-config JSON file.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct ClipArgs {
    /// Architecture preset: ViT-B-32, ViT-B-16, ViT-L-14 (OpenAI layout, QuickGELU), tiny, shapes.
    #[arg(long, value_name = "NAME", conflicts_with = "model_config")]
    pub model: Option<String>,
    /// An open_clip model-config JSON (`embed_dim`, `vision_cfg`, `text_cfg`, `quick_gelu`), as in
    /// open_clip's `model_configs/*.json`.
    #[arg(long, value_name = "FILE.json")]
    pub model_config: Option<PathBuf>,
}

impl ClipArgs {
    /// Applies the flags to `config`.
    pub fn apply(&self, config: &mut ClipConfig) -> anyhow::Result<()> {
        if let Some(name) = &self.model {
            *config = ClipConfig::preset(name).with_context(|| {
                format!("unknown CLIP preset `{name}`; expected ViT-B-32, ViT-B-16, ViT-L-14, tiny or shapes")
            })?;
        }
        if let Some(path) = &self.model_config {
            *config = zoo_weights::clip::read_model_config(path)?;
        }
        config.validate()?;
        Ok(())
    }
}
