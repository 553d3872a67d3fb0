//! Contrastive training of a small CLIP on the generated captioned shapes (InfoNCE with a
//! learnable temperature, Radford et al. 2021), with zero-shot accuracy on seen and held-apart
//! colour-shape pairs logged at every validation.

use crate::cli::RunConfig;
use crate::optim::{OptimizerConfig, OptimizerKind, ParamGroupConfig};
use crate::schedule::{Decay, ScheduleConfig, Unit};
use crate::trainer::{BestMode, Data, FitResult, Hooks, StepOutput, TrainConfig, TrainModel, Trainer};
use anyhow::Context;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use zoo_clip::{Clip, ClipConfig, Tokenizer};
use zoo_datasets::Dataset;
use zoo_datasets::captions::{Captioned, CaptionedShapes};
use zoo_eval::clip::{CaptionBatch, CaptionBatcher, ClipSetup, FAMILY, evaluate_shapes};

/// A complete CLIP run (what run.json records).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ClipRun {
    /// Architecture.
    pub model: ClipConfig,
    /// Data.
    pub data: CaptionedShapes,
    /// Loop settings.
    pub train: TrainConfig,
}

/// CLIP's recipe scaled down: AdamW (beta2 0.98, eps 1e-6, weight decay 0.1 except gains, biases,
/// the class embedding and the temperature), linear warmup then cosine per step, batch 256.
pub fn default_train() -> TrainConfig {
    TrainConfig {
        epochs: 30,
        batch_size: 256,
        optimizer: OptimizerConfig {
            kind: OptimizerKind::AdamW,
            lr: 1e-3,
            beta1: 0.9,
            beta2: 0.98,
            eps: 1e-6,
            weight_decay: Some(0.1),
            groups: vec![ParamGroupConfig {
                params: r"(\.gamma|\.beta|\.bias|logit_scale|class_embedding)$".into(),
                weight_decay: Some(0.0),
                lr_scale: 1.0,
                warmup_start_lr: None,
            }],
            ..Default::default()
        },
        schedule: ScheduleConfig {
            unit: Unit::Step,
            decay: Decay::Cosine,
            warmup: 200,
            start_factor: 0.01,
            ..Default::default()
        },
        drop_last: true,
        valid_every: 5,
        // Selected on validation (seen pairs only), never on the zero-shot test numbers.
        best_metric: Some("valid_loss".into()),
        best_mode: BestMode::Min,
        ..Default::default()
    }
}

impl Default for ClipRun {
    fn default() -> Self {
        Self {
            model: ClipConfig::shapes(),
            data: CaptionedShapes::default(),
            train: default_train(),
        }
    }
}

impl RunConfig for ClipRun {
    const FAMILY: &'static str = FAMILY;

    fn train(&self) -> &TrainConfig {
        &self.train
    }

    fn train_mut(&mut self) -> &mut TrainConfig {
        &mut self.train
    }

    fn validate(&self) -> anyhow::Result<()> {
        self.model.validate()?;
        self.data.validate()?;
        anyhow::ensure!(
            self.model.vision_cfg.image_size == self.data.size,
            "the image tower takes {}x{} images but the data are {}x{}",
            self.model.vision_cfg.image_size,
            self.model.vision_cfg.image_size,
            self.data.size,
            self.data.size
        );
        Ok(())
    }
}

impl ClipRun {
    /// The evaluation view of this run.
    pub fn setup(&self) -> ClipSetup {
        ClipSetup {
            model: self.model.clone(),
            data: self.data,
            train: None,
        }
    }
}

impl TrainModel for Clip {
    type Batch = CaptionBatch;

    fn train_step(&self, batch: CaptionBatch) -> StepOutput {
        let n = batch.images.dims()[0];
        let loss = self.contrastive_loss(batch.images, batch.tokens);
        let temperature = self.logit_scale_param().reshape([1]);
        StepOutput::new(loss, n).with_scalar("logit_scale", temperature.exp())
    }
}

/// Adds the zero-shot accuracies of the test split whenever validation ran.
struct ZeroShot<'a> {
    test: &'a Captioned,
    tokenizer: &'a Tokenizer,
    device: burn::tensor::Device,
}

impl Hooks<Clip> for ZeroShot<'_> {
    fn on_epoch_end(
        &mut self,
        _epoch: usize,
        model: &Clip,
        metrics: &mut BTreeMap<String, f64>,
    ) -> anyhow::Result<()> {
        if !metrics.contains_key("valid_loss") {
            return Ok(());
        }
        let z = evaluate_shapes(model, self.tokenizer, self.test, 500, &self.device)
            .context("zero-shot evaluation")?;
        metrics.insert("zero_shot_seen".into(), z.seen);
        metrics.insert("zero_shot_held_apart".into(), z.held_apart);
        metrics.insert("zero_shot_held_apart_colour".into(), z.held_apart_colour);
        metrics.insert("zero_shot_held_apart_shape".into(), z.held_apart_shape);
        Ok(())
    }
}

/// Trains the CLIP `run` describes from scratch.
pub fn train(run: &ClipRun, trainer: &Trainer) -> anyhow::Result<FitResult<Clip>> {
    let started = std::time::Instant::now();
    let sets = run.data.split().context("generating the captioned shapes")?;
    if trainer.progress {
        eprintln!(
            "captioned shapes: {} train, {} valid, {} test images ({:.1} s)",
            sets.train.len(),
            sets.valid.len(),
            sets.test.len(),
            started.elapsed().as_secs_f64()
        );
    }
    let device = trainer.devices[0].clone();
    let model = run.model.init(&device)?;
    let batcher = CaptionBatcher::new(&run.model);
    let data = Data {
        train: &sets.train,
        valid: Some(&sets.valid),
        batcher: &batcher,
    };
    let mut hook = ZeroShot {
        test: &sets.test,
        tokenizer: &batcher.tokenizer,
        device,
    };
    Ok(trainer.fit(model, data, &mut hook)?)
}
