//! Training of YOLOv9 / GELAN on the shared loop: the authors' loss (PGI's auxiliary head for
//! yolov9-*), their augmentation (mosaic, random affine, mixup, HSV, flips, close-mosaic), SGD
//! with Nesterov momentum and no weight decay on biases and batch-norm parameters, their warmup
//! (bias rate 0.1 -> lr0, momentum 0.8 -> 0.937) then linear decay to 1 %, gradient-norm
//! clipping at 10, the nominal batch of 64 (accumulation ramped over the warmup), EMA of the
//! weights (0.9999, ramp 2000), COCO mAP of the EMA model on the validation split each epoch.

use crate::cli::RunConfig;
use crate::ema::EmaConfig;
use crate::optim::{OptimizerConfig, OptimizerKind, ParamGroupConfig};
use crate::schedule::{Decay, ScheduleConfig, Unit, Warmup};
use crate::trainer::{BestMode, Data, FitResult, Hooks, StepOutput, TrainConfig, TrainModel, Trainer};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use zoo_datasets::detection::augment::DetectionAugment;
use zoo_datasets::detection::{DetectionBatch, DetectionBatcher, DetectionSet};
use zoo_eval::yolov9::{DetectionData, FAMILY, evaluate_map};
use zoo_yolov9::{LossConfig, Target, YoloConfig, YoloV9};

/// A complete YOLOv9 run (what run.json records).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct YoloRun {
    /// Model name: gelan-{t,s,m,c,e} or yolov9-{t,s,m,c,e} (with PGI).
    pub model: String,
    /// Number of classes.
    pub num_classes: usize,
    /// Square training / validation image size (a multiple of 32).
    pub imgsz: u32,
    /// Images.
    pub data: DetectionData,
    /// Start from these weights (a state dict in the reference's naming): tensors whose name and
    /// shape fit are loaded, the rest (the class branches, for another class count) keep their
    /// initialisation.
    pub pretrained: Option<std::path::PathBuf>,
    /// Training augmentation; `None` picks it by source ([`YoloRun::augmentation`]): the
    /// reference's `hyp.scratch-high.yaml` (mosaic off for the last `close_mosaic` epochs) for
    /// datasets on disk, horizontal flips for the generated shapes.
    pub augment: Option<DetectionAugment>,
    /// Loop settings.
    pub train: TrainConfig,
}

/// The reference's recipe (`hyp.scratch-high.yaml`, `train_dual.py`): SGD lr 0.01, Nesterov
/// momentum 0.937, weight decay 5e-4 on weights only (biases and BN parameters without); a
/// warmup over max(3 epochs, 100 steps) in which biases' rate falls from 0.1 to lr0, every other
/// rate rises from 0 and momentum rises from 0.8; then linear decay to 0.01 x; gradient clipping
/// 10; EMA; the nominal batch 64: gradients summed over `round(64 / batch)` batches per step,
/// that count ramped from 1 over the warmup, weight decay scaled by `batch x accumulation / 64`,
/// and the warmup and rates counted in batches. Deviations, for a run that fits a CPU: 10 epochs
/// at batch 8 instead of 500 at 16-128, decay per batch rather than per epoch, and an epoch's
/// last partial group steps at the epoch's end rather than carrying into the next.
pub fn default_train() -> TrainConfig {
    TrainConfig {
        epochs: 10,
        batch_size: 8,
        optimizer: OptimizerConfig {
            kind: OptimizerKind::Sgd,
            lr: 0.01,
            momentum: 0.937,
            nesterov: true,
            weight_decay: Some(5e-4),
            // The reference's groups: biases (of convolutions and BN) without decay, warmed down
            // from 0.1; BN scales without decay; every other weight with decay.
            groups: vec![
                ParamGroupConfig {
                    params: r"gamma$".into(),
                    weight_decay: Some(0.0),
                    lr_scale: 1.0,
                    warmup_start_lr: None,
                },
                ParamGroupConfig {
                    params: r"(bias|beta)$".into(),
                    weight_decay: Some(0.0),
                    lr_scale: 1.0,
                    warmup_start_lr: Some(0.1),
                },
            ],
            warmup_momentum: Some(0.8),
            ..Default::default()
        },
        schedule: ScheduleConfig {
            unit: Unit::Step,
            decay: Decay::Linear,
            final_factor: 0.01,
            warmup: 100,
            warmup_epochs: 3.0,
            warmup_kind: Warmup::Linear,
            start_factor: 0.0,
            ..Default::default()
        },
        grad_clip_norm: Some(10.0),
        nominal_batch: Some(64),
        ema: Some(EmaConfig::default()),
        valid_every: 1,
        best_metric: Some("map50_95".into()),
        best_mode: BestMode::Max,
        ..Default::default()
    }
}

impl Default for YoloRun {
    fn default() -> Self {
        Self {
            model: "gelan-t".into(),
            num_classes: zoo_datasets::detection::DETECTION_SHAPES.len(),
            imgsz: 256,
            data: DetectionData::default(),
            pretrained: None,
            augment: None,
            train: default_train(),
        }
    }
}

impl YoloRun {
    /// The augmentation used: `augment`, else the reference's for datasets on disk and
    /// horizontal flips for the generated shapes. The 10-epoch shapes run is too short for
    /// mosaics: with them its mAP@0.5:0.95 stays near 0 (README), the batch-norm statistics of
    /// four-image mosaics not fitting single validation images yet.
    pub fn augmentation(&self) -> DetectionAugment {
        self.augment.clone().unwrap_or_else(|| match self.data {
            DetectionData::Shapes { .. } => DetectionAugment::flip_only(),
            _ => DetectionAugment::default(),
        })
    }
}

impl RunConfig for YoloRun {
    const FAMILY: &'static str = FAMILY;

    fn train(&self) -> &TrainConfig {
        &self.train
    }

    fn train_mut(&mut self) -> &mut TrainConfig {
        &mut self.train
    }

    fn validate(&self) -> anyhow::Result<()> {
        let cfg = YoloConfig::from_name(&self.model, self.num_classes)?;
        if cfg.head == zoo_yolov9::HeadStyle::Ultralytics {
            anyhow::bail!(
                "train the authors' gelan-* or yolov9-* models; ultralytics' head has no training recipe here"
            );
        }
        self.augmentation().validate().map_err(anyhow::Error::msg)?;
        if self.imgsz == 0 || !self.imgsz.is_multiple_of(32) {
            anyhow::bail!("imgsz {} is not a positive multiple of 32", self.imgsz);
        }
        if matches!(self.data, DetectionData::Shapes { .. })
            && self.num_classes != zoo_datasets::detection::DETECTION_SHAPES.len()
        {
            anyhow::bail!(
                "the generated shapes have {} classes, not {}",
                zoo_datasets::detection::DETECTION_SHAPES.len(),
                self.num_classes
            );
        }
        Ok(())
    }
}

impl TrainModel for YoloV9 {
    type Batch = DetectionBatch;

    fn train_step(&self, batch: DetectionBatch) -> StepOutput {
        let [b, _, h, w] = batch.images.dims();
        let targets: Vec<Target> = batch
            .targets
            .iter()
            .map(|&(image, bx)| Target {
                image,
                class: bx.class,
                cxcywh: bx.cxcywh,
            })
            .collect();
        let losses = LossConfig::default().loss(&self.forward(batch.images), &targets, b, [h, w]);
        let device = losses.total.device();
        let scalar = |v: f32| burn::tensor::Tensor::<1>::from_floats([v], &device);
        StepOutput::new(losses.total, b)
            .with_scalar("box_loss", scalar(losses.items[0]))
            .with_scalar("cls_loss", scalar(losses.items[1]))
            .with_scalar("dfl_loss", scalar(losses.items[2]))
    }
}

/// COCO mAP of the validated (EMA) model each epoch.
struct Map<'a> {
    valid: &'a DetectionSet,
    batch: usize,
    device: burn::tensor::Device,
}

impl Hooks<YoloV9> for Map<'_> {
    fn on_epoch_end(
        &mut self,
        _epoch: usize,
        model: &YoloV9,
        metrics: &mut BTreeMap<String, f64>,
    ) -> anyhow::Result<()> {
        let e = evaluate_map(model, self.valid, self.batch, &self.device)?.eval;
        metrics.insert("map50_95".into(), e.stats[0].max(0.0));
        metrics.insert("map50".into(), e.stats[1].max(0.0));
        Ok(())
    }
}

/// Trains the model `run` describes.
pub fn train(run: &YoloRun, trainer: &Trainer) -> anyhow::Result<FitResult<YoloV9>> {
    let splits = run.data.open(run.imgsz, run.num_classes)?;
    let (mut train_set, valid_set) = (splits.train, splits.val);
    train_set.augment = run.augmentation();
    train_set.epochs = Some(run.train.epochs);
    let device = trainer.devices[0].clone();
    let mut model = YoloConfig::from_name(&run.model, run.num_classes)?.init(&device)?;
    if let Some(path) = &run.pretrained {
        let (m, loaded, fresh) = zoo_weights::yolov9::load_matching(model, path)?;
        model = m;
        eprintln!(
            "{}: loaded {loaded} tensors; {} re-initialised{}",
            path.display(),
            fresh.len(),
            if fresh.is_empty() {
                String::new()
            } else {
                format!(" ({})", zoo_datasets::error::first_few(&fresh, 4))
            }
        );
    }
    let data = Data {
        train: &train_set,
        valid: Some(&valid_set),
        batcher: &DetectionBatcher,
    };
    let mut hook = Map {
        valid: &valid_set,
        batch: run.train.batch_size,
        device,
    };
    Ok(trainer.fit(model, data, &mut hook)?)
}
