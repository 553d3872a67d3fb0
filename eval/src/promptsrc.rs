//! PromptSRC's tasks and evaluation: the data of a run (the generated captioned shapes, a
//! CoOp/Dassl benchmark or an ImageFolder), the base-to-novel and few-shot protocols, the batches
//! training uses, and accuracy of a prompted or a zero-shot CLIP on each test set.

use crate::clip::{evaluate_folder, image_batcher};
use crate::metrics::Classification;
use anyhow::{Context, bail};
use burn::prelude::*;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use zoo_clip::zeroshot::normalize;
use zoo_clip::{Clip, ClipConfig, Tokenizer};
use zoo_datasets::captions::{COLOURS, CaptionedShapes, SHAPES, Split, pair_name};
use zoo_datasets::dassl::{self, DasslImages, Item};
use zoo_datasets::image::{Augment, GeneratedImages, ImageItem};
use zoo_datasets::{Batcher, Dataset};
use zoo_promptsrc::{ClassPrompts, PromptSrc, PromptSrcConfig};

/// Family name in run.json.
pub const FAMILY: &str = "promptsrc";

/// Where the images come from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "source", rename_all = "kebab-case", deny_unknown_fields)]
pub enum PromptData {
    /// The generated captioned shapes: 30 colour-shape classes ("red circle", ...), drawn
    /// uniformly; `*_per_class` images per class on average in each split's pool.
    Shapes {
        /// Seed of the draw (the pools; the few-shot subset follows the training seed).
        seed: u64,
        /// Training pool per class (the K shots are drawn from it).
        train_per_class: usize,
        /// Validation pool per class.
        val_per_class: usize,
        /// Test images per class.
        test_per_class: usize,
    },
    /// A CoOp/Dassl benchmark (`zoo_datasets::dassl::DATASETS` or an ImageNet variant) under
    /// `root` in CoOp's layout.
    Dassl {
        /// Dataset name (OxfordPets, ImageNet, ...).
        name: String,
        /// Folder holding the datasets (`root/oxford_pets/...`).
        root: PathBuf,
    },
    /// An ImageFolder dataset: `root/{train,val,test}/<class>/*` (val optional).
    Folder {
        /// The dataset folder.
        root: PathBuf,
    },
}

impl Default for PromptData {
    fn default() -> Self {
        Self::Shapes {
            seed: 0,
            train_per_class: 50,
            val_per_class: 10,
            test_per_class: 100,
        }
    }
}

/// Which classes are trained on and tested.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Protocol {
    /// Train on the base half of the classes (K shots each), test on base and on novel classes.
    #[default]
    BaseToNovel,
    /// Train on all classes (K shots each), test on all (few-shot; also the source side of
    /// cross-dataset transfer).
    FewShot,
}

/// Gaussian prompt aggregation (the paper's GPA): epoch weights N(e; mu, sigma), normalised.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Gpa {
    /// Mean epoch.
    pub mu: f64,
    /// Standard deviation in epochs.
    pub sigma: f64,
}

/// Everything but the loop settings of a PromptSRC run (what evaluation needs from run.json).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PromptSrcSetup {
    /// The CLIP architecture.
    pub clip: ClipConfig,
    /// Its weights (open_clip safetensors / .pt, ONNX, .bpk); none = the committed shapes CLIP.
    pub clip_weights: Option<PathBuf>,
    /// Prompts and losses.
    pub prompts: PromptSrcConfig,
    /// Images.
    pub data: PromptData,
    /// Base-to-novel or few-shot.
    pub protocol: Protocol,
    /// Training images per class (K); 0 = all.
    pub shots: usize,
    /// Gaussian prompt aggregation; none = the last epoch's prompts (ablation).
    pub gpa: Option<Gpa>,
    /// Frozen text features averaged over PromptSRC's 60 templates; off = "a photo of a {}."
    /// only (ablation).
    pub textual_diversity: bool,
}

impl Default for PromptSrcSetup {
    /// The embedded default: base-to-novel on the captioned shapes with the committed shapes
    /// CLIP (3 layers per tower, so prompts in all 3: J = 3), the paper's base-to-novel recipe
    /// otherwise (4+4 prompts, 16 shots, GPA mu 15 sigma 1 over 20 epochs).
    fn default() -> Self {
        Self {
            clip: ClipConfig::shapes(),
            clip_weights: None,
            prompts: PromptSrcConfig {
                text_depth: 3,
                vision_depth: 3,
                ..Default::default()
            },
            data: PromptData::default(),
            protocol: Protocol::BaseToNovel,
            shots: 16,
            gpa: Some(Gpa { mu: 15.0, sigma: 1.0 }),
            textual_diversity: true,
        }
    }
}

/// Flags that choose the CLIP and the data, shared by `train-promptsrc` and `eval-promptsrc`.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct PromptArgs {
    #[command(flatten)]
    pub model: crate::clip::ClipArgs,
    /// CLIP weights to prompt: open_clip/OpenAI state dict (.safetensors, .pt), ONNX or .bpk.
    /// Needed for any architecture but the committed `shapes` CLIP.
    #[arg(long, value_name = "FILE")]
    pub clip_weights: Option<PathBuf>,
    /// A CoOp/Dassl benchmark (ImageNet, Caltech101, OxfordPets, StanfordCars, OxfordFlowers,
    /// Food101, FGVCAircraft, SUN397, DescribableTextures, EuroSAT, UCF101; for evaluation also
    /// ImageNetV2, ImageNetSketch, ImageNetA, ImageNetR), in CoOp's layout under --data-root.
    #[arg(long, value_name = "NAME", requires = "data_root", conflicts_with = "folder")]
    pub dassl: Option<String>,
    /// Root folder of the Dassl datasets (`DIR/oxford_pets/{images,split_zhou_OxfordPets.json}`).
    #[arg(long, value_name = "DIR")]
    pub data_root: Option<PathBuf>,
    /// An ImageFolder dataset: `DIR/{train,val,test}/<class>/*` (val optional).
    #[arg(long, value_name = "DIR")]
    pub folder: Option<PathBuf>,
    /// base-to-novel (train on the first half of the classes, test base and novel) or few-shot
    /// (all classes).
    #[arg(long, value_name = "NAME")]
    pub protocol: Option<String>,
    /// Training images per class (K; 0 = all).
    #[arg(long, value_name = "K")]
    pub shots: Option<usize>,
}

impl PromptArgs {
    /// True when a flag changed the CLIP architecture.
    pub fn changes_model(&self) -> bool {
        self.model.model.is_some() || self.model.model_config.is_some()
    }

    /// Applies the flags to `setup`.
    pub fn apply(&self, setup: &mut PromptSrcSetup) -> anyhow::Result<()> {
        self.model.apply(&mut setup.clip)?;
        if let Some(w) = &self.clip_weights {
            setup.clip_weights = Some(w.clone());
        }
        if let Some(name) = &self.dassl {
            let root = self.data_root.clone().context("--dassl needs --data-root")?;
            setup.data = PromptData::Dassl {
                name: name.clone(),
                root,
            };
        }
        if let Some(root) = &self.folder {
            setup.data = PromptData::Folder { root: root.clone() };
        }
        self.apply_protocol_and_shots(setup)
    }

    /// Applies `--protocol` and `--shots` only (again after a preset, so that they win).
    pub fn apply_protocol_and_shots(&self, setup: &mut PromptSrcSetup) -> anyhow::Result<()> {
        if let Some(p) = &self.protocol {
            setup.protocol = match p.as_str() {
                "base-to-novel" => Protocol::BaseToNovel,
                "few-shot" => Protocol::FewShot,
                other => bail!("--protocol must be base-to-novel or few-shot, not `{other}`"),
            };
        }
        if let Some(k) = self.shots {
            setup.shots = k;
        }
        Ok(())
    }
}

/// A PromptSRC run.json as evaluation reads it: the setup, the loop settings ignored.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct RunFile {
    /// Everything evaluation needs.
    pub setup: PromptSrcSetup,
    /// The loop settings, ignored here.
    #[serde(skip_serializing)]
    pub train: Option<serde_json::Value>,
}

/// One test set of a task.
pub struct TestSet {
    /// "base", "novel" or "all".
    pub name: String,
    /// The images, labelled within this set.
    pub images: Box<dyn Dataset<ImageItem>>,
    /// Class names in label order.
    pub names: Vec<String>,
}

/// A task: the few-shot training set over the training classes, its validation set and the
/// test sets.
pub struct Task {
    /// K shots per training class, with the training view augmented.
    pub train: Box<dyn Dataset<ImageItem>>,
    /// min(K, 4) shots per training class from the validation split (none when it is empty).
    pub val: Option<Box<dyn Dataset<ImageItem>>>,
    /// The training classes' names.
    pub train_names: Vec<String>,
    /// Base and novel (base-to-novel) or all classes (few-shot).
    pub tests: Vec<TestSet>,
}

/// Labelled images before they become datasets: files (Dassl, ImageFolder) or generated.
#[derive(Clone)]
enum Pool {
    Files(Vec<Item>),
    Memory(Vec<ImageItem>),
}

impl Pool {
    fn labels(&self) -> Vec<usize> {
        match self {
            Pool::Files(v) => v.iter().map(|i| i.label).collect(),
            Pool::Memory(v) => v.iter().map(|i| i.label).collect(),
        }
    }

    fn is_empty(&self) -> bool {
        match self {
            Pool::Files(v) => v.is_empty(),
            Pool::Memory(v) => v.is_empty(),
        }
    }

    /// The entries at `idx`.
    fn select(&self, idx: &[usize]) -> Pool {
        match self {
            Pool::Files(v) => Pool::Files(idx.iter().map(|&i| v[i].clone()).collect()),
            Pool::Memory(v) => Pool::Memory(idx.iter().map(|&i| v[i].clone()).collect()),
        }
    }

    /// The entries of `classes`, relabelled by position in `classes`.
    fn keep(&self, classes: &[usize]) -> Pool {
        let new = |l: usize| classes.iter().position(|&c| c == l);
        match self {
            Pool::Files(v) => Pool::Files(
                v.iter()
                    .filter_map(|i| new(i.label).map(|label| Item { label, ..i.clone() }))
                    .collect(),
            ),
            Pool::Memory(v) => Pool::Memory(
                v.iter()
                    .filter_map(|i| new(i.label).map(|label| ImageItem { label, ..i.clone() }))
                    .collect(),
            ),
        }
    }

    /// K per class (all when `k` is 0), drawn with `seed`.
    fn shots(&self, k: usize, seed: u64) -> Pool {
        if k == 0 {
            return self.clone();
        }
        self.select(&dassl::few_shot_indices(&self.labels(), k, seed))
    }

    fn into_dataset(self, size: usize, augment: bool) -> Box<dyn Dataset<ImageItem>> {
        match self {
            // Dassl's train transform: RandomResizedCrop(scale 0.08-1, bicubic) + flip.
            Pool::Files(v) => Box::new(DasslImages::new(v, size, augment)),
            // Generated 32x32 shapes: a crop of 8% would often cut the object out; the
            // generator's own variation (position, size, noise) stands in for augmentation.
            Pool::Memory(v) => Box::new(GeneratedImages::new(v, Augment::none())),
        }
    }
}

impl PromptSrcSetup {
    /// Checks the settings.
    pub fn validate(&self) -> anyhow::Result<()> {
        self.clip.validate()?;
        self.prompts.validate(&self.clip)?;
        if let Some(g) = self.gpa
            && !(g.mu.is_finite() && g.sigma.is_finite() && g.sigma > 0.0)
        {
            bail!("gpa: mu must be finite and sigma positive");
        }
        if self.clip_weights.is_none() && self.clip != ClipConfig::shapes() {
            bail!(
                "clip_weights (--clip-weights) must name a weight file for any CLIP but the committed `shapes` one"
            );
        }
        if let PromptData::Shapes {
            train_per_class,
            test_per_class,
            ..
        } = self.data
        {
            if self.clip.vision_cfg.image_size != 32 {
                bail!(
                    "the captioned shapes are 32x32 images; the CLIP takes {}",
                    self.clip.vision_cfg.image_size
                );
            }
            if train_per_class == 0 || test_per_class == 0 {
                bail!("data.train_per_class and data.test_per_class must be at least 1");
            }
        }
        Ok(())
    }

    /// The frozen CLIP: the committed shapes CLIP, or `clip` with `clip_weights`.
    pub fn load_clip(&self, device: &Device) -> anyhow::Result<Clip> {
        match &self.clip_weights {
            None => Ok(zoo_weights::clip::shapes_clip(device)?),
            Some(path) => Ok(zoo_weights::clip::load_clip(self.clip.init(device)?, path)?),
        }
    }

    /// The templates of the frozen text features (textual diversity or the single prompt).
    pub fn templates(&self) -> Vec<String> {
        if self.textual_diversity {
            zoo_clip::zeroshot::promptsrc_templates()
                .iter()
                .map(|s| s.to_string())
                .collect()
        } else {
            vec!["a photo of a {}.".to_string()]
        }
    }

    /// The hand-written prompt zero-shot CLIP is evaluated with (CoOp's per-dataset template).
    pub fn zero_shot_template(&self) -> String {
        match &self.data {
            PromptData::Dassl { name, .. } => dassl::zero_shot_template(name).to_string(),
            _ => "a photo of a {}.".to_string(),
        }
    }

    /// The splits and class names.
    fn pools(&self) -> anyhow::Result<(Pool, Pool, Pool, Vec<String>)> {
        Ok(match &self.data {
            PromptData::Shapes {
                seed,
                train_per_class,
                val_per_class,
                test_per_class,
            } => {
                let classes = COLOURS.len() * SHAPES.len();
                let draw = |n: usize, stream: u64| -> anyhow::Result<Pool> {
                    let shapes = CaptionedShapes {
                        test: n * classes,
                        seed: seed.wrapping_mul(1000).wrapping_add(stream),
                        ..Default::default()
                    };
                    Ok(Pool::Memory(
                        shapes
                            .generate(Split::Test)?
                            .items()
                            .iter()
                            .map(|i| i.image.clone())
                            .collect(),
                    ))
                };
                (
                    draw(*train_per_class, 101)?,
                    draw(*val_per_class, 102)?,
                    draw(*test_per_class, 103)?,
                    (0..classes).map(pair_name).collect(),
                )
            }
            PromptData::Dassl { name, root } => {
                let s = dassl::open(root, name)?;
                let all: Vec<Item> = s.train.iter().chain(&s.test).cloned().collect();
                let names = dassl::classnames(&all);
                (
                    Pool::Files(s.train),
                    Pool::Files(s.val),
                    Pool::Files(s.test),
                    names,
                )
            }
            PromptData::Folder { root } => {
                let s = dassl::read_folder_splits(root)?;
                let names = dassl::classnames(&s.train);
                (
                    Pool::Files(s.train),
                    Pool::Files(s.val),
                    Pool::Files(s.test),
                    names,
                )
            }
        })
    }

    /// The task for training seed `seed`: K shots per class drawn with it (before the class
    /// split, as Dassl does), then the protocol's classes, relabelled from 0. A test-only
    /// dataset (an ImageNet variant) gives an empty training set.
    pub fn task(&self, seed: u64) -> anyhow::Result<Task> {
        let size = self.clip.vision_cfg.image_size;
        let (train, val, test, names) = self.pools()?;
        if test.is_empty() {
            bail!("the test split is empty");
        }
        let train = train.shots(self.shots, seed);
        let val = val.shots(self.shots.clamp(1, 4), seed);
        let all: Vec<usize> = (0..names.len()).collect();
        // The class split follows the training labels (the test labels for a test-only set).
        let labelled = if train.is_empty() { &test } else { &train };
        let (base, novel) = match self.protocol {
            Protocol::BaseToNovel => dassl::base_and_novel(&labelled.labels()),
            Protocol::FewShot => (all, Vec::new()),
        };
        let named = |cls: &[usize]| {
            cls.iter()
                .map(|&c| names[c].replace('_', " "))
                .collect::<Vec<_>>()
        };
        let mut tests = vec![TestSet {
            name: if novel.is_empty() { "all" } else { "base" }.into(),
            images: test.keep(&base).into_dataset(size, false),
            names: named(&base),
        }];
        if !novel.is_empty() {
            tests.push(TestSet {
                name: "novel".into(),
                images: test.keep(&novel).into_dataset(size, false),
                names: named(&novel),
            });
        }
        let val = val.keep(&base);
        Ok(Task {
            train: train.keep(&base).into_dataset(size, true),
            val: (!val.is_empty()).then(|| val.into_dataset(size, false)),
            train_names: named(&base),
            tests,
        })
    }
}

/// A training batch: images, labels, and the class prompts and frozen class features of the
/// training classes (the text tower sees every class at every step).
#[derive(Debug, Clone)]
pub struct PromptBatch {
    /// `[n, 3, S, S]`, CLIP-normalised.
    pub images: Tensor<4>,
    /// `[n]`.
    pub labels: Tensor<1, Int>,
    /// Class prompt token ids `[classes, context]`.
    pub tokens: Tensor<2, Int>,
    /// The frozen CLIP's class features `[classes, embed_dim]`, unnormalised template means.
    pub frozen_text: Tensor<2>,
}

/// Builds [`PromptBatch`]es; holds the class data on the host so that every device gets its copy.
#[derive(Debug, Clone)]
pub struct PromptBatcher {
    tokens: TensorData,
    frozen_text: TensorData,
}

impl PromptBatcher {
    /// From the class prompts and frozen features of the training classes.
    pub fn new(prompts: &ClassPrompts, frozen_text: Tensor<2>) -> Self {
        Self {
            tokens: prompts.tokens.to_data(),
            frozen_text: frozen_text.into_data(),
        }
    }
}

impl Batcher<ImageItem, PromptBatch> for PromptBatcher {
    fn batch(&self, items: Vec<ImageItem>, device: &Device) -> PromptBatch {
        let b = image_batcher().batch(items, device);
        PromptBatch {
            images: b.images,
            labels: b.labels,
            tokens: Tensor::from_data(self.tokens.clone(), device),
            frozen_text: Tensor::from_data(self.frozen_text.clone(), device),
        }
    }
}

/// Normalised prompted class features of `names` `[classes, embed_dim]`, 256 classes at a time.
pub fn class_features(
    model: &PromptSrc,
    tokenizer: &Tokenizer,
    names: &[String],
    device: &Device,
) -> Tensor<2> {
    let parts: Vec<Tensor<2>> = names
        .chunks(256)
        .map(|chunk| normalize(model.text_features(&ClassPrompts::new(model, tokenizer, chunk, device))))
        .collect();
    Tensor::cat(parts, 0)
}

/// Accuracy of the prompted model on `images` over the classes `names`.
pub fn evaluate(
    model: &PromptSrc,
    tokenizer: &Tokenizer,
    images: &dyn Dataset<ImageItem>,
    names: &[String],
    batch_size: usize,
    device: &Device,
) -> anyhow::Result<Classification> {
    let classes = class_features(model, tokenizer, names, device);
    let mut m = Classification::new(names.len(), &[5.min(names.len())]);
    let batcher = image_batcher();
    for start in (0..images.len()).step_by(batch_size.max(1)) {
        let items = (start..(start + batch_size).min(images.len()))
            .map(|i| images.get(i))
            .collect::<Result<Vec<_>, _>>()
            .context("loading test images")?;
        let b = batcher.batch(items, device);
        m.update_tensors(model.scores(b.images, &classes), b.labels)?;
    }
    Ok(m)
}

/// The harmonic mean of base and novel accuracy, 2BN / (B + N) (the protocol's summary).
pub fn harmonic_mean(base: f64, novel: f64) -> f64 {
    if base + novel == 0.0 {
        0.0
    } else {
        2.0 * base * novel / (base + novel)
    }
}

/// Accuracy per test set of `task` (`<set>_accuracy`, plus `hm` for base-to-novel), of the
/// prompted `model` or, when `model` is `None`, of the zero-shot `clip` with `template`.
pub fn evaluate_task(
    model: Option<&PromptSrc>,
    clip: &Clip,
    tokenizer: &Tokenizer,
    template: &str,
    task: &Task,
    batch_size: usize,
    device: &Device,
) -> anyhow::Result<serde_json::Map<String, serde_json::Value>> {
    let mut out = serde_json::Map::new();
    let mut acc = std::collections::BTreeMap::new();
    for set in &task.tests {
        let m = match model {
            Some(model) => evaluate(
                model,
                tokenizer,
                set.images.as_ref(),
                &set.names,
                batch_size,
                device,
            )?,
            None => evaluate_folder(
                clip,
                tokenizer,
                set.images.as_ref(),
                &set.names,
                &[template.to_string()],
                batch_size,
                device,
            )?,
        };
        acc.insert(set.name.clone(), m.accuracy());
        out.insert(format!("{}_accuracy", set.name), m.accuracy().into());
        out.insert(format!("{}_images", set.name), set.images.len().into());
        out.insert(format!("{}_classes", set.name), set.names.len().into());
    }
    if let (Some(b), Some(n)) = (acc.get("base"), acc.get("novel")) {
        out.insert("hm".into(), harmonic_mean(*b, *n).into());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_base_to_novel_task() {
        let setup = PromptSrcSetup {
            data: PromptData::Shapes {
                seed: 3,
                train_per_class: 30,
                val_per_class: 6,
                test_per_class: 4,
            },
            ..Default::default()
        };
        setup.validate().unwrap();
        let task = setup.task(1).unwrap();
        // 30 classes: base = the first 15 (red, green, blue), novel = the other 15.
        assert_eq!(task.train_names.len(), 15);
        assert_eq!(task.train_names[0], "red circle");
        assert_eq!(task.tests[1].names[0], "yellow circle");
        // 16 shots of each base class (the pool has ~30 per class).
        assert_eq!(task.train.len(), 15 * 16);
        let labels: Vec<usize> = (0..task.train.len())
            .map(|i| task.train.get(i).unwrap().label)
            .collect();
        assert!(labels.iter().all(|&l| l < 15));
        assert!(task.val.as_ref().unwrap().len() <= 15 * 4);
        let novel = &task.tests[1].images;
        assert!((0..novel.len()).all(|i| novel.get(i).unwrap().label < 15));
        // Another seed draws other shots.
        let other = setup.task(2).unwrap();
        let sums = |t: &Task| -> Vec<u64> {
            (0..t.train.len())
                .map(|i| t.train.get(i).unwrap().pixels.iter().map(|&p| p as u64).sum())
                .collect()
        };
        assert!(sums(&task) != sums(&other), "seeds 1 and 2 drew the same shots");
        assert!((harmonic_mean(0.8, 0.6) - 2.0 * 0.48 / 1.4).abs() < 1e-12);
    }
}
