//! Training of the demo perceptron (`zoo-mlp`) on generated spirals: the loop's reference
//! workload, used by `train-mlp`, the tour and the loop's own tests.

use crate::cli::RunConfig;
use crate::optim::{OptimizerConfig, OptimizerKind};
use crate::schedule::{Decay, ScheduleConfig};
use crate::trainer::{Data, FitResult, NoHooks, StepOutput, TrainConfig, TrainError, TrainModel, Trainer};
use serde::{Deserialize, Serialize};
use zoo_datasets::synthetic::Spirals;
use zoo_datasets::{VectorBatch, VectorBatcher};
use zoo_eval::mlp::{FAMILY, MlpSetup};
use zoo_mlp::{Mlp, MlpConfig};

/// A complete MLP run: model, data and loop settings (what run.json records).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct MlpRun {
    /// Model shape.
    pub model: MlpConfig,
    /// Dataset.
    pub data: Spirals,
    /// Loop settings.
    pub train: TrainConfig,
}

impl Default for MlpRun {
    fn default() -> Self {
        Self {
            model: MlpConfig::new(),
            data: Spirals::default(),
            train: TrainConfig {
                epochs: 30,
                batch_size: 32,
                optimizer: OptimizerConfig {
                    kind: OptimizerKind::Adam,
                    lr: 0.01,
                    ..Default::default()
                },
                schedule: ScheduleConfig {
                    decay: Decay::Cosine,
                    final_factor: 0.01,
                    ..Default::default()
                },
                best_metric: Some("valid_accuracy".into()),
                ..Default::default()
            },
        }
    }
}

impl RunConfig for MlpRun {
    const FAMILY: &'static str = FAMILY;

    fn train(&self) -> &TrainConfig {
        &self.train
    }

    fn train_mut(&mut self) -> &mut TrainConfig {
        &mut self.train
    }

    fn validate(&self) -> anyhow::Result<()> {
        MlpSetup {
            model: self.model.clone(),
            data: self.data,
            train: None,
        }
        .validate()
    }
}

impl TrainModel for Mlp {
    type Batch = VectorBatch;

    fn train_step(&self, batch: VectorBatch) -> StepOutput {
        let n = batch.labels.dims()[0];
        let logits = self.forward(batch.features);
        let loss = self.loss(logits.clone(), batch.labels.clone());
        StepOutput::new(loss, n).with_classification(logits, batch.labels)
    }
}

/// Trains an MLP as `run` describes, with `trainer` (devices, outputs, resume).
pub fn train(run: &MlpRun, trainer: &Trainer) -> Result<FitResult<Mlp>, TrainError> {
    let (train, test) = run.data.split();
    let model = run.model.init(&trainer.devices[0]);
    trainer.fit(
        model,
        Data {
            train: &train,
            valid: Some(&test),
            batcher: &VectorBatcher,
        },
        &mut NoHooks,
    )
}
