//! The one training loop of burnzoo and everything around it.
//!
//! * [`trainer`]: the loop ([`Trainer::fit`]) and the [`TrainModel`] trait a family implements;
//! * [`optim`], [`schedule`]: optimizers (PyTorch semantics) and learning-rate schedules;
//! * [`params`]: global-norm gradient clipping and whole-model parameter operations;
//! * [`ema`], [`average`]: parameter EMA and weighted averaging across epochs;
//! * [`report`], [`plot`]: progress, `log.jsonl`, `metrics.json`, PNG plots;
//! * [`cli`]: the training flags and run-config resolution shared by every `train-*` binary;
//! * [`tour`]: the families the `tour` binary runs.
#![forbid(unsafe_code)]

pub mod aranyani;
pub mod average;
pub mod cli;
pub mod clip;
pub mod ebv;
pub mod ema;
pub mod evonorm;
pub mod mlp;
pub mod optim;
pub mod params;
pub use zoo_eval::plot;
pub mod ponita;
pub mod promptsrc;
pub mod report;
pub mod schedule;
pub mod tour;
pub mod trainer;
pub mod yolov9;

pub use trainer::{
    Data, FitResult, Hooks, NoHooks, StepOutput, TrainConfig, TrainError, TrainModel, Trainer,
};
