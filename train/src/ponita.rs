//! Training of the PONITA family: N-body position prediction (the paper's `main_nbody.py`
//! recipe) on generated or published `nbody_small` data.

use crate::cli::RunConfig;
use crate::optim::{OptimizerConfig, OptimizerKind};
use crate::schedule::{Decay, ScheduleConfig, Unit};
use crate::trainer::{BestMode, Data, FitResult, Hooks, StepOutput, TrainConfig, TrainModel, Trainer};
use anyhow::Context;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use zoo_datasets::md17::{Md17Batch, Md17Batcher};
use zoo_datasets::nbody::{NBody, NBodyBatch, NBodyBatcher};
use zoo_datasets::{Batcher, Dataset};
use zoo_eval::ponita::{FAMILY, Md17Model, NBodyModel, PonitaData, PonitaSetup, evaluate_nbody};
use zoo_ponita::PonitaConfig;

/// A complete PONITA run (what run.json records).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PonitaRun {
    /// Network.
    pub model: PonitaConfig,
    /// Data.
    pub data: PonitaData,
    /// Loop settings.
    pub train: TrainConfig,
}

/// The paper's N-body recipe (batch 100, Adam 1e-3, weight decay 1e-10, per-epoch cosine with
/// gradient clipping 0.5, validation every 5 epochs, best validation MSE kept) over 10 epochs
/// instead of 10,000 and without the 10 warm-up epochs (the anchor's first epoch runs at lr ~ 0).
pub fn default_train() -> TrainConfig {
    TrainConfig {
        epochs: 10,
        batch_size: 100,
        optimizer: OptimizerConfig {
            kind: OptimizerKind::Adam,
            lr: 1e-3,
            weight_decay: Some(1e-10),
            ..Default::default()
        },
        schedule: ScheduleConfig {
            unit: Unit::Epoch,
            decay: Decay::Cosine,
            ..Default::default()
        },
        grad_clip_norm: Some(0.5),
        valid_every: 5,
        best_metric: Some("valid_loss".into()),
        best_mode: BestMode::Min,
        ..Default::default()
    }
}

impl Default for PonitaRun {
    fn default() -> Self {
        Self {
            model: PonitaConfig::nbody(),
            data: PonitaData::default(),
            train: default_train(),
        }
    }
}

impl RunConfig for PonitaRun {
    const FAMILY: &'static str = FAMILY;

    fn train(&self) -> &TrainConfig {
        &self.train
    }

    fn train_mut(&mut self) -> &mut TrainConfig {
        &mut self.train
    }

    fn validate(&self) -> anyhow::Result<()> {
        self.model.validate()?;
        Ok(())
    }
}

impl PonitaRun {
    /// The evaluation view of this run.
    pub fn setup(&self) -> PonitaSetup {
        PonitaSetup {
            model: self.model.clone(),
            data: self.data.clone(),
            train: None,
        }
    }
}

impl TrainModel for NBodyModel {
    type Batch = NBodyBatch;

    fn train_step(&self, batch: NBodyBatch) -> StepOutput {
        let n = batch.loc.dims()[0];
        StepOutput::new(self.loss(&batch), n)
    }
}

/// The paper's rMD17 recipe (batch 5, Adam 5e-4, per-epoch cosine, gradient clipping 0.5,
/// validation every epoch, best validation loss kept), 10 epochs instead of 5,000, without EMA.
pub fn md17_train() -> TrainConfig {
    TrainConfig {
        batch_size: 5,
        optimizer: OptimizerConfig {
            lr: 5e-4,
            weight_decay: None,
            ..default_train().optimizer
        },
        valid_every: 1,
        ..default_train()
    }
}

impl TrainModel for Md17Model {
    type Batch = Md17Batch;

    fn train_step(&self, batch: Md17Batch) -> StepOutput {
        let n = batch.pos.dims()[0];
        let (loss, le, lf) = self.loss(&batch);
        StepOutput::new(loss, n)
            .with_scalar("energy_mse", le)
            .with_scalar("force_mse", lf)
    }
}

/// Adds the test-set MSE (and the two baselines, once) whenever validation ran, so the log holds
/// test MSE against epochs.
struct TestMse<'a> {
    test: &'a NBody,
    batch_size: usize,
    device: burn::tensor::Device,
}

impl Hooks<NBodyModel> for TestMse<'_> {
    fn on_epoch_end(
        &mut self,
        _epoch: usize,
        model: &NBodyModel,
        metrics: &mut BTreeMap<String, f64>,
    ) -> anyhow::Result<()> {
        if !metrics.contains_key("valid_loss") || self.test.is_empty() {
            return Ok(());
        }
        let m =
            evaluate_nbody(model, self.test, self.batch_size, &self.device).context("test-set evaluation")?;
        metrics.insert("test_mse".into(), m.model.mse());
        metrics.insert("test_mse_no_motion".into(), m.no_motion.mse());
        metrics.insert("test_mse_constant_velocity".into(), m.constant_velocity.mse());
        Ok(())
    }
}

/// Trains the N-body model `run` describes.
pub fn train(run: &PonitaRun, trainer: &Trainer) -> anyhow::Result<FitResult<NBodyModel>> {
    let started = std::time::Instant::now();
    let sets = run.data.nbody.open().context("preparing the N-body data")?;
    if trainer.progress {
        eprintln!(
            "N-body data: {} train, {} valid, {} test examples ({:.1} s)",
            sets.train.len(),
            sets.valid.len(),
            sets.test.len(),
            started.elapsed().as_secs_f64()
        );
    }
    let device = trainer.devices[0].clone();
    let model = NBodyModel::init(&run.model, &device)?;
    // Kernel calibration on the first training batch, as the anchor does at its first step.
    let first = (0..run.train.batch_size.min(sets.train.len()))
        .map(|i| sets.train.get(i))
        .collect::<Result<Vec<_>, _>>()?;
    let model = model.calibrate(&NBodyBatcher.batch(first, &device));
    let data = Data {
        train: &sets.train,
        valid: Some(&sets.valid),
        batcher: &NBodyBatcher,
    };
    let mut hook = TestMse {
        test: &sets.test,
        batch_size: run.train.batch_size,
        device,
    };
    Ok(trainer.fit(model, data, &mut hook)?)
}

/// Trains the MD17 model `run` describes (energy and direct forces).
pub fn train_md17(run: &PonitaRun, trainer: &Trainer) -> anyhow::Result<FitResult<Md17Model>> {
    let sets = run.data.md17.open().context("preparing the MD17 data")?;
    if trainer.progress {
        eprintln!(
            "MD17 data: {} train, {} valid, {} test frames; energy mean {:.3}, force RMS {:.3}",
            sets.train.len(),
            sets.valid.len(),
            sets.test.len(),
            sets.energy_mean,
            sets.force_rms
        );
    }
    let device = trainer.devices[0].clone();
    let batcher = Md17Batcher {
        energy_shift: sets.energy_mean,
    };
    let model = Md17Model::init(&run.model, sets.force_rms, &device)?;
    let first = (0..run.train.batch_size.min(sets.train.len()))
        .map(|i| sets.train.get(i))
        .collect::<Result<Vec<_>, _>>()?;
    let model = model.calibrate(&batcher.batch(first, &device));
    let data = Data {
        train: &sets.train,
        valid: Some(&sets.valid),
        batcher: &batcher,
    };
    Ok(trainer.fit(model, data, &mut crate::trainer::NoHooks)?)
}
