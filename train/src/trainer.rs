//! The one training loop of burnzoo.
//!
//! A model family implements [`TrainModel`] (forward + loss on a batch, and a validation step);
//! the loop does everything else, the same way for every family:
//!
//! * optimizers and parameter groups ([`crate::optim`]), schedules ([`crate::schedule`]), global-norm
//!   clipping, gradient accumulation, parameter EMA ([`crate::ema`]) and weighted averaging of a
//!   parameter subset across epochs ([`crate::average`]);
//! * data-parallel training on several devices through burn-train's `MultiDevicesTrainStep`
//!   (one worker thread per device, gradients moved to the first device and averaged);
//! * determinism: data order, augmentation and the backend RNG (dropout) are drawn from streams
//!   named by (seed, epoch, index) or (seed, step), so a run resumed from any checkpoint continues
//!   exactly as an uninterrupted one (bit for bit on one CPU device);
//! * checkpoints (model, optimizer, scheduler, EMA, average, loop state) written atomically every
//!   epoch and optionally every N steps, keep-last-N, `resume` from the newest complete one;
//! * a NaN/inf loss stops the run with an error before any update, so the last checkpoint is the
//!   last good state;
//! * progress bars on stderr, `log.jsonl`, `metrics.json` and PNG plots in the output directory.
//!
//! Extension points that burn-train's `Learner` cannot express (fairness gradients of online
//! learners, custom metrics at epoch end) are the [`Hooks`].

use crate::average::{AverageConfig, WeightedAverage};
use crate::ema::{EmaConfig, ModelEma};
use crate::optim::{OptimError, OptimizerConfig};
use crate::params::{clip_grad_norm, scale_grads};
use crate::report::{Reporter, StepLog};
use crate::schedule::{Schedule, ScheduleConfig};
use burn::data::dataloader::{DataLoaderIterator, Progress};
use burn::data::dataset::DatasetError;
use burn::module::Module;
use burn::optim::lr_scheduler::LrSchedulerRecord;
use burn::optim::{GradientsAccumulator, GradientsParams, OptimizerRecord};
use burn::tensor::{Bytes, Device, Int, Tensor};
use burn::train::train::MultiDevicesTrainStep;
use burn::train::{InferenceStep, ItemLazy, TrainOutput, TrainStep};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Instant;
use zoo_datasets::rng::{derive_seed, permutation, rng_for};
use zoo_datasets::{Batcher, Dataset};
use zoo_eval::metrics::{Classification, Mean};
use zoo_weights::checkpoint::{CheckpointError, CheckpointStore};
use zoo_weights::run::{CHECKPOINT_DIR, MODEL_FILE, MODEL_PART};

const EPOCH_STREAM: u64 = 0xE90C;
const ITEM_STREAM: u64 = 0x17E3;
const STEP_STREAM: u64 = 0x57E9;

/// Output of one forward pass on a batch, training or validation.
#[derive(Debug, Clone)]
pub struct StepOutput {
    /// Scalar loss (shape `[1]`), the one that is minimised.
    pub loss: Tensor<1>,
    /// Number of samples in the batch (weights the epoch means).
    pub batch_size: usize,
    /// Other scalars to report (loss components...), each shape `[1]`.
    pub scalars: Vec<(&'static str, Tensor<1>)>,
    /// Class scores `[batch, classes]` and targets `[batch]`, for accuracy metrics.
    pub classification: Option<(Tensor<2>, Tensor<1, Int>)>,
}

impl StepOutput {
    /// An output with just a loss.
    pub fn new(loss: Tensor<1>, batch_size: usize) -> Self {
        Self {
            loss,
            batch_size,
            scalars: Vec::new(),
            classification: None,
        }
    }

    /// Adds class scores and targets.
    pub fn with_classification(mut self, scores: Tensor<2>, targets: Tensor<1, Int>) -> Self {
        self.classification = Some((scores, targets));
        self
    }

    /// Adds a named scalar.
    pub fn with_scalar(mut self, name: &'static str, value: Tensor<1>) -> Self {
        self.scalars.push((name, value));
        self
    }
}

impl ItemLazy for StepOutput {
    fn sync(self) -> Result<Self, burn::tensor::ExecutionError> {
        Ok(self)
    }
}

/// What a model family implements to be trained by the loop.
pub trait TrainModel: Module + burn::module::ModuleDisplay + 'static {
    /// One batch of training or validation data.
    type Batch: Send + 'static;

    /// Forward pass and loss on a training batch (autodiff device, training mode).
    fn train_step(&self, batch: Self::Batch) -> StepOutput;

    /// Forward pass on a validation batch (inference mode, no autodiff). Default: the training
    /// step's forward on the inference-mode model.
    fn valid_step(&self, batch: Self::Batch) -> StepOutput {
        self.train_step(batch)
    }
}

/// Optional extension points of the loop.
pub trait Hooks<M> {
    /// Called with the gradients of each optimizer step, before clipping and the update: a hook
    /// may add terms (e.g. fairness gradients) or update statistics.
    fn before_update(&mut self, _model: &M, _output: &StepOutput, _grads: &mut GradientsParams) {}

    /// Called at the end of every epoch with the inference-mode model that will be validated;
    /// may add metrics (e.g. mAP) to `metrics`.
    fn on_epoch_end(
        &mut self,
        _epoch: usize,
        _model: &M,
        _metrics: &mut BTreeMap<String, f64>,
    ) -> anyhow::Result<()> {
        Ok(())
    }
}

/// No hooks.
pub struct NoHooks;
impl<M> Hooks<M> for NoHooks {}

/// Which direction of `best_metric` is better.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum BestMode {
    /// Higher is better (accuracy, mAP).
    #[default]
    Max,
    /// Lower is better (loss, error).
    Min,
}

/// Settings of the loop.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrainConfig {
    /// Number of epochs.
    pub epochs: usize,
    /// Samples per batch (per device).
    pub batch_size: usize,
    /// Seed of every random draw.
    pub seed: u64,
    /// Optimizer.
    pub optimizer: OptimizerConfig,
    /// Learning-rate schedule.
    pub schedule: ScheduleConfig,
    /// Clip gradients to this global L2 norm.
    pub grad_clip_norm: Option<f64>,
    /// Batches whose gradients are averaged into one update.
    pub grad_accumulation: usize,
    /// YOLO's nominal batch (`nbs`, 64 in WongKinYiu/yolov9 `train_dual.py`): accumulate
    /// `max(round(nbs / (batch_size x devices)), 1)` batches and *sum* their gradients (the
    /// reference's loss is already multiplied by the batch size), and scale weight decay by
    /// `batch_size x devices x accumulation / nbs`. Replaces `grad_accumulation` when set. An
    /// incomplete group at the end of an epoch still takes its step (the reference carries it
    /// over into the next epoch).
    pub nominal_batch: Option<usize>,
    /// Parameter EMA; when set, the EMA model is the one validated and saved.
    pub ema: Option<EmaConfig>,
    /// Weighted average of parameters across epochs; when set (and no EMA), the averaged model is
    /// the one saved.
    pub average: Option<AverageConfig>,
    /// Shuffle the training set every epoch.
    pub shuffle: bool,
    /// Drop the last incomplete batch of each epoch.
    pub drop_last: bool,
    /// Validate every this many epochs (0 = only after the last).
    pub valid_every: usize,
    /// Also checkpoint every this many optimizer steps.
    pub checkpoint_every_steps: Option<usize>,
    /// Checkpoints kept on disk.
    pub keep_checkpoints: usize,
    /// Write a `log.jsonl` line every this many steps.
    pub log_every_steps: usize,
    /// Metric that selects the best epoch (e.g. `valid_accuracy`); its weights go to `best.bpk`.
    pub best_metric: Option<String>,
    /// Whether higher or lower `best_metric` is better.
    pub best_mode: BestMode,
    /// Stop after this many optimizer steps in this process, leaving the checkpoint of the
    /// step reached (for tests and time-boxed jobs; `resume` continues).
    pub max_steps: Option<u64>,
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            epochs: 10,
            batch_size: 32,
            seed: 42,
            optimizer: OptimizerConfig::default(),
            schedule: ScheduleConfig::default(),
            grad_clip_norm: None,
            grad_accumulation: 1,
            nominal_batch: None,
            ema: None,
            average: None,
            shuffle: true,
            drop_last: false,
            valid_every: 1,
            checkpoint_every_steps: None,
            keep_checkpoints: 2,
            log_every_steps: 10,
            best_metric: None,
            best_mode: BestMode::Max,
            max_steps: None,
        }
    }
}

impl TrainConfig {
    /// Batches per optimizer step and device: `grad_accumulation`, or what `nominal_batch` asks
    /// for with `devices` devices.
    pub fn accumulation(&self, devices: usize) -> usize {
        match self.nominal_batch {
            // Python's round(): ties to even (nbs 40 at batch 16 accumulates 2 batches, not 3).
            Some(nbs) => {
                ((nbs as f64 / (self.batch_size * devices.max(1)) as f64).round_ties_even() as usize).max(1)
            }
            None => self.grad_accumulation,
        }
    }

    /// Batches per device in the optimizer step that ends at global tick `tick` (a tick is one
    /// batch per device), with a warmup of `warmup_ticks` ticks. `nominal_batch` ramps the
    /// accumulation during the warmup as `train_dual.py` does: `max(1, round(interp(tick, [0,
    /// nw], [1, nbs / (batch x devices)])))`, then holds [`TrainConfig::accumulation`]. Without
    /// it, `grad_accumulation` throughout.
    pub fn accumulation_at(&self, tick: usize, warmup_ticks: usize, devices: usize) -> usize {
        match self.nominal_batch {
            Some(nbs) if tick <= warmup_ticks && warmup_ticks > 0 => {
                let full = nbs as f64 / (self.batch_size * devices.max(1)) as f64;
                let x = 1.0 + (full - 1.0) * tick as f64 / warmup_ticks as f64;
                (x.round_ties_even() as usize).max(1)
            }
            _ => self.accumulation(devices),
        }
    }

    /// Ticks in the optimizer step that starts at global tick `start` with `left` ticks left in
    /// the epoch: the reference steps at tick `t` once `t - last_step >= accumulate(t)`; an
    /// epoch's last group steps whatever its size (the reference carries it into the next epoch).
    pub fn group_ticks(&self, start: usize, left: usize, warmup_ticks: usize, devices: usize) -> usize {
        let mut k = 1;
        while k < left && k < self.accumulation_at(start + k - 1, warmup_ticks, devices) {
            k += 1;
        }
        k
    }

    /// The last tick of each optimizer step that starts within the warmup, for a run of
    /// `ticks_per_epoch` ticks per epoch: where [`crate::optim::WarmupSgd`]'s momentum ramp reads
    /// its position when steps cover a varying number of batches.
    pub fn warmup_step_ticks(
        &self,
        ticks_per_epoch: usize,
        warmup_ticks: usize,
        devices: usize,
    ) -> Vec<usize> {
        let (mut out, mut t) = (Vec::new(), 0);
        let total = ticks_per_epoch * self.epochs;
        while t <= warmup_ticks && t < total {
            let left = ticks_per_epoch - t % ticks_per_epoch;
            t += self.group_ticks(t, left, warmup_ticks, devices);
            out.push(t - 1);
        }
        out
    }

    /// The optimizer settings with `nominal_batch`'s weight-decay scaling applied.
    pub fn optimizer_for(&self, devices: usize) -> OptimizerConfig {
        let mut o = self.optimizer.clone();
        if let Some(nbs) = self.nominal_batch {
            let f = (self.batch_size * devices.max(1) * self.accumulation(devices)) as f64 / nbs as f64;
            o.weight_decay = Some(o.effective_weight_decay() * f);
            for g in &mut o.groups {
                g.weight_decay = g.weight_decay.map(|wd| wd * f);
            }
        }
        o
    }

    /// Checks values a user could get wrong, with messages naming the field.
    pub fn validate(&self) -> Result<(), TrainError> {
        let bad = |m: &str| Err(TrainError::Config(m.to_string()));
        if self.epochs == 0 {
            return bad("train.epochs must be at least 1");
        }
        if self.batch_size == 0 {
            return bad("train.batch_size must be at least 1");
        }
        if self.grad_accumulation == 0 {
            return bad("train.grad_accumulation must be at least 1");
        }
        if self.nominal_batch == Some(0) {
            return bad("train.nominal_batch must be at least 1");
        }
        if self.grad_clip_norm.is_some_and(|c| !(c.is_finite() && c > 0.0)) {
            return bad("train.grad_clip_norm must be a positive number");
        }
        if self.checkpoint_every_steps == Some(0) {
            return bad("train.checkpoint_every_steps must be at least 1");
        }
        if let Some(e) = &self.ema
            && (!(0.0..1.0).contains(&e.decay) || e.tau.is_some_and(|t| !(t.is_finite() && t > 0.0)))
        {
            return bad("train.ema: decay must be in [0, 1) and tau positive");
        }
        if let Some(a) = &self.average {
            a.group().map_err(TrainError::Config)?;
            if a.weights.iter().any(|w| !(w.is_finite() && *w >= 0.0)) {
                return bad("train.average.weights must be finite and non-negative");
            }
        }
        self.optimizer.validate()?;
        self.schedule.validate().map_err(TrainError::Config)?;
        Ok(())
    }
}

/// Why training stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// Invalid settings.
    #[error("{0}")]
    Config(String),
    /// Optimizer settings.
    #[error(transparent)]
    Optim(#[from] OptimError),
    /// A data item could not be loaded.
    #[error("loading training data: {0}")]
    Data(#[from] zoo_datasets::DataError),
    /// The loss stopped being finite.
    #[error(
        "the loss became {value} at epoch {epoch}, step {step}; training stopped before applying \
         that update. {where_}. Lower the learning rate (--lr), enable gradient clipping \
         (train.grad_clip_norm) or check the data for NaN/inf"
    )]
    NonFinite {
        /// The loss value.
        value: f64,
        /// Epoch (1-based).
        epoch: usize,
        /// Optimizer step.
        step: u64,
        /// Where the last good state is.
        where_: String,
    },
    /// Checkpoint I/O.
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    /// A checkpoint part could not be decoded or does not fit the model.
    #[error("checkpoint {path}: {message}")]
    Restore {
        /// The checkpoint.
        path: PathBuf,
        /// Why.
        message: String,
    },
    /// Writing outputs.
    #[error("{path}: {message}")]
    Output {
        /// The file.
        path: PathBuf,
        /// Why.
        message: String,
    },
    /// A data-parallel worker failed.
    #[error("data-parallel step failed: {0}")]
    Worker(String),
    /// A hook failed.
    #[error("{0}")]
    Hook(String),
}

/// Summary of one epoch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochRecord {
    /// Epoch number, 1-based.
    pub epoch: usize,
    /// Optimizer steps done at the end of the epoch.
    pub step: u64,
    /// Learning rate of the last step.
    pub lr: f64,
    /// Wall-clock seconds of the epoch (training + validation).
    pub seconds: f64,
    /// `train_*` and `valid_*` metrics.
    pub metrics: BTreeMap<String, f64>,
}

/// The best epoch by `best_metric`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Best {
    /// Metric name.
    pub metric: String,
    /// Its value.
    pub value: f64,
    /// The epoch (1-based).
    pub epoch: usize,
}

/// Loop state saved in every checkpoint.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct LoopState {
    /// Epochs fully completed.
    epoch: usize,
    /// Micro-batches of the current epoch already consumed.
    batch_cursor: usize,
    /// Optimizer steps taken.
    step: u64,
    seed: u64,
    ema_updates: u64,
    average_weight: f64,
    best: Option<Best>,
    history: Vec<EpochRecord>,
    /// Running training means of the current, incomplete epoch: name -> (sum, weight).
    partial: BTreeMap<String, (f64, f64)>,
    /// Training classification counts of the current, incomplete epoch.
    partial_classification: Option<Classification>,
}

/// Data of a run.
pub struct Data<'a, I, B> {
    /// Training set.
    pub train: &'a dyn Dataset<I>,
    /// Validation set.
    pub valid: Option<&'a dyn Dataset<I>>,
    /// Turns items into batches.
    pub batcher: &'a dyn Batcher<I, B>,
}

/// What a finished run returns.
#[derive(Debug)]
pub struct FitResult<M> {
    /// The final model in inference mode: EMA if configured, else the weighted average if
    /// configured, else the last weights.
    pub model: M,
    /// One record per epoch (including epochs from before a resume).
    pub history: Vec<EpochRecord>,
    /// Best epoch, if `best_metric` was set and validation ran.
    pub best: Option<Best>,
    /// Optimizer steps in total.
    pub steps: u64,
    /// Step of the checkpoint the run resumed from.
    pub resumed_from: Option<u64>,
    /// True when the run stopped early at `max_steps`.
    pub stopped_early: bool,
}

impl<M> FitResult<M> {
    /// Metrics of the last epoch.
    pub fn last_metrics(&self) -> BTreeMap<String, f64> {
        self.history.last().map(|r| r.metrics.clone()).unwrap_or_default()
    }
}

/// Runs training.
#[derive(Debug, Clone)]
pub struct Trainer {
    /// Loop settings.
    pub config: TrainConfig,
    /// Devices; the first is the main one (optimizer, validation). More than one trains
    /// data-parallel.
    pub devices: Vec<Device>,
    /// Output directory (checkpoints, logs, plots, final weights); `None` writes nothing.
    pub out: Option<PathBuf>,
    /// Continue from the newest checkpoint in `out`.
    pub resume: bool,
    /// Show progress bars on stderr.
    pub progress: bool,
}

/// burn-train view of a [`TrainModel`], so that burn-train's multi-device step can run it.
#[derive(Module, Debug)]
pub struct Replica<M: TrainModel> {
    inner: M,
}

impl<M: TrainModel> TrainStep for Replica<M> {
    type Input = M::Batch;
    type Output = StepOutput;

    fn step(&self, batch: M::Batch) -> TrainOutput<StepOutput> {
        let out = self.inner.train_step(batch);
        let grads = out.loss.backward();
        TrainOutput::new(&self.inner, grads, out)
    }
}

impl<M: TrainModel> InferenceStep for Replica<M> {
    type Input = M::Batch;
    type Output = StepOutput;

    fn step(&self, batch: M::Batch) -> StepOutput {
        self.inner.valid_step(batch)
    }
}

/// A one-item "data loader" handing a prepared batch to burn-train's multi-device step.
struct OneBatch<B>(Option<B>);

impl<B> Iterator for OneBatch<B> {
    type Item = Result<B, DatasetError>;
    fn next(&mut self) -> Option<Self::Item> {
        self.0.take().map(Ok)
    }
}

impl<B> DataLoaderIterator<B> for OneBatch<B> {
    fn progress(&self) -> Progress {
        Progress::new(0, 1, None)
    }
}

/// Batches of one epoch: item indices, in order.
fn epoch_batches(n: usize, config: &TrainConfig, epoch: usize) -> Vec<Vec<usize>> {
    let order = if config.shuffle {
        permutation(n, &mut rng_for(config.seed, &[EPOCH_STREAM, epoch as u64]))
    } else {
        (0..n).collect()
    };
    order
        .chunks(config.batch_size)
        .filter(|c| !config.drop_last || c.len() == config.batch_size)
        .map(<[usize]>::to_vec)
        .collect()
}

/// Loads the training items of one batch in parallel, each with its own augmentation stream.
fn load_train_items<I: Send>(
    data: &dyn Dataset<I>,
    indices: &[usize],
    seed: u64,
    epoch: usize,
) -> Result<Vec<I>, zoo_datasets::DataError> {
    indices
        .par_iter()
        .map(|&i| {
            data.get_train_at(
                i,
                epoch,
                &mut rng_for(seed, &[ITEM_STREAM, epoch as u64, i as u64]),
            )
        })
        .collect()
}

fn scalar(t: Tensor<1>) -> f64 {
    t.into_scalar::<f64>()
}

/// Accumulates the per-batch numbers of an epoch.
#[derive(Default)]
struct EpochMeans {
    means: BTreeMap<String, Mean>,
    classification: Option<Classification>,
}

impl EpochMeans {
    fn from_partial(state: &LoopState) -> Self {
        let means = state
            .partial
            .iter()
            .map(|(k, &(sum, weight))| (k.clone(), Mean::from_parts(sum, weight)))
            .collect();
        Self {
            means,
            classification: state.partial_classification.clone(),
        }
    }

    fn add(&mut self, name: &str, value: f64, weight: f64) {
        self.means.entry(name.to_string()).or_default().add(value, weight);
    }

    fn add_output(&mut self, out: StepOutput, loss: f64) -> Result<(), TrainError> {
        let w = out.batch_size as f64;
        self.add("loss", loss, w);
        for (name, v) in out.scalars {
            self.add(name, scalar(v), w);
        }
        if let Some((scores, targets)) = out.classification {
            let classes = scores.dims()[1];
            let m = self
                .classification
                .get_or_insert_with(|| Classification::new(classes, if classes > 5 { &[5] } else { &[] }));
            m.update_tensors(scores.without_autodiff(), targets)
                .map_err(|e| TrainError::Hook(format!("metrics: {e}")))?;
        }
        Ok(())
    }

    fn save_partial(&self, state: &mut LoopState) {
        state.partial = self
            .means
            .iter()
            .map(|(k, m)| (k.clone(), (m.sum(), m.weight())))
            .collect();
        state.partial_classification = self.classification.clone();
    }

    fn finish(self, prefix: &str, into: &mut BTreeMap<String, f64>) {
        for (k, m) in self.means {
            if m.weight() > 0.0 {
                into.insert(format!("{prefix}_{k}"), m.value());
            }
        }
        if let Some(c) = self.classification {
            into.insert(format!("{prefix}_accuracy"), c.accuracy());
            for &k in c.ks() {
                if k > 1 {
                    into.insert(format!("{prefix}_top{k}"), c.topk(k).unwrap_or(0.0));
                }
            }
        }
    }
}

impl Trainer {
    /// A trainer on `device` without outputs.
    pub fn new(config: TrainConfig, device: Device) -> Self {
        Self {
            config,
            devices: vec![device],
            out: None,
            resume: false,
            progress: true,
        }
    }

    /// Seeds every device with the run seed; call before creating the model so that its
    /// initialisation is reproducible.
    pub fn seed_devices(&self) {
        for d in &self.devices {
            d.seed(self.config.seed);
        }
    }

    fn store(&self) -> Option<CheckpointStore> {
        self.out
            .as_ref()
            .map(|o| CheckpointStore::new(o.join(CHECKPOINT_DIR)))
    }

    /// Batches per epoch for a training set of `n` items (what [`epoch_batches`] yields).
    fn batches_per_epoch(&self, n: usize) -> usize {
        let c = &self.config;
        if c.drop_last {
            n / c.batch_size
        } else {
            n.div_ceil(c.batch_size)
        }
    }

    /// Optimizer steps per epoch for a training set of `n` items.
    pub fn steps_per_epoch(&self, n: usize) -> usize {
        let n_dev = self.devices.len().max(1);
        self.batches_per_epoch(n)
            .div_ceil(self.config.accumulation(n_dev) * n_dev)
    }

    /// Schedule ticks per epoch for `n` training items: optimizer steps, or with
    /// `nominal_batch` batches per device, as the reference's warmup and rates count them.
    fn ticks_per_epoch(&self, n: usize) -> usize {
        match self.config.nominal_batch {
            None => self.steps_per_epoch(n),
            Some(_) => self.batches_per_epoch(n).div_ceil(self.devices.len().max(1)),
        }
    }

    /// Trains `model` (created on any device; it is moved to the main device with autodiff).
    pub fn fit<M: TrainModel, I: Send>(
        &self,
        model: M,
        data: Data<'_, I, M::Batch>,
        hooks: &mut dyn Hooks<M>,
    ) -> Result<FitResult<M>, TrainError> {
        let c = &self.config;
        c.validate()?;
        if self.devices.is_empty() {
            return Err(TrainError::Config("no training device".into()));
        }
        if data.train.is_empty() {
            return Err(TrainError::Config("the training set is empty".into()));
        }
        let devices: Vec<Device> = self.devices.iter().map(|d| d.clone().autodiff()).collect();
        let main = devices[0].clone();
        let main_inner = main.clone().inner();
        let n_dev = devices.len();
        let spe = self.steps_per_epoch(data.train.len());
        if spe == 0 {
            return Err(TrainError::Config(format!(
                "drop_last with batch_size {} leaves no batch from {} training items",
                c.batch_size,
                data.train.len()
            )));
        }

        let optimizer = c.optimizer_for(n_dev);
        let ticks_per_epoch = self.ticks_per_epoch(data.train.len());
        let warmup = Schedule::new(c.schedule.clone(), optimizer.lr, ticks_per_epoch, c.epochs)
            .map_err(TrainError::Config)?
            .warmup_steps();
        // With a nominal batch the schedule, the warmup and the accumulation ramp count ticks
        // (batches per device); the momentum ramp then needs the tick of each warmup step.
        let mut optim = match c.nominal_batch {
            Some(_) => optimizer.init_ticked(
                warmup,
                Some(c.warmup_step_ticks(ticks_per_epoch, warmup, n_dev).into()),
            )?,
            None => optimizer.init(warmup)?,
        };
        let mut sched = optimizer.scheduler(&c.schedule, ticks_per_epoch, c.epochs)?;
        let avg_group = c
            .average
            .as_ref()
            .map(|a| a.group())
            .transpose()
            .map_err(TrainError::Config)?;
        let mut model = model;
        let mut state = LoopState {
            seed: c.seed,
            ..Default::default()
        };
        let mut ema = None;
        let mut average = avg_group.clone().map(WeightedAverage::new);
        let mut resumed_from = None;
        let latest = if self.resume {
            let store = self
                .store()
                .ok_or_else(|| TrainError::Config("resume needs an output directory".into()))?;
            match store.latest() {
                // Killed before its first checkpoint: nothing was trained that a checkpoint kept,
                // so the run starts over from its run.json (the same seed gives the same run).
                Err(CheckpointError::Missing { .. }) if store.never_written() => {
                    resumed_from = Some(0);
                    None
                }
                other => Some(other?),
            }
        } else {
            None
        };
        if let Some(ckpt) = latest {
            let restore_err = |message: String| TrainError::Restore {
                path: ckpt.dir.clone(),
                message,
            };
            state =
                serde_json::from_value(ckpt.state.clone()).map_err(|e| restore_err(format!("state: {e}")))?;
            if state.seed != c.seed {
                return Err(restore_err(format!(
                    "the checkpoint was trained with seed {} but this run asks for seed {}; resume with the same seed",
                    state.seed, c.seed
                )));
            }
            let part = |name: &str| -> Result<Bytes, TrainError> {
                Ok(Bytes::from_bytes_vec(ckpt.read_part(name)?))
            };
            let module_part = |m: M, name: &str| -> Result<M, TrainError> {
                let path = ckpt.dir.join(name);
                zoo_weights::bpk::load_module_bytes(m, ckpt.read_part(name)?, &path)
                    .map_err(|e| restore_err(e.to_string()))
            };
            model = module_part(model, MODEL_PART)?;
            let record = OptimizerRecord::from_bytes(part("optim.bpk")?)
                .map_err(|e| restore_err(format!("optimizer: {e}")))?;
            optim = optim.load_record(record);
            let record = LrSchedulerRecord::from_bytes(part("sched.bpk")?)
                .map_err(|e| restore_err(format!("scheduler: {e}")))?;
            sched = sched.load_record(record);
            if let Some(cfg) = &c.ema {
                let m = module_part(model.valid(), "ema.bpk")?;
                ema = Some(ModelEma::restore(m, state.ema_updates, cfg.clone()));
            }
            if let Some(group) = &avg_group {
                let m = module_part(model.valid(), "avg.bpk")?;
                average = Some(WeightedAverage::restore(group.clone(), &m, state.average_weight));
            }
            resumed_from = Some(ckpt.step);
        }
        let mut model = model.fork(&main).train();
        if ema.is_none() {
            ema = c.ema.as_ref().map(|cfg| ModelEma::new(&model, cfg.clone()));
        }

        let mut reporter =
            Reporter::new(self.out.clone(), self.progress, resumed_from).map_err(|e| TrainError::Output {
                path: self.out.clone().unwrap_or_default(),
                message: e.to_string(),
            })?;
        let multi = (n_dev > 1).then(|| MultiDevicesTrainStep::<Replica<M>>::new(&devices));
        let mut steps_this_process = 0u64;
        let mut stopped_early = false;
        let mut last_lr = 0.0;

        'epochs: for epoch in state.epoch..c.epochs {
            let started = Instant::now();
            let batches = epoch_batches(data.train.len(), c, epoch);
            let mut train_means = EpochMeans::from_partial(&state);
            let bar = reporter.epoch_bar(
                epoch + 1,
                c.epochs,
                batches.len() as u64,
                state.batch_cursor as u64,
            );
            let mut accumulator = GradientsAccumulator::<M>::new();
            let mut last_output: Option<StepOutput> = None;
            let mut cursor = state.batch_cursor;

            while cursor < batches.len() {
                // One optimizer step: a group of ticks of one batch per device (fewer at the end
                // of the epoch). Groups start on tick boundaries: cursor is a multiple of n_dev.
                let ticks_left = (batches.len() - cursor).div_ceil(n_dev);
                let start_tick = epoch * ticks_per_epoch + cursor / n_dev;
                let ticks = c.group_ticks(start_tick, ticks_left, warmup, n_dev);
                let group_end = (cursor + ticks * n_dev).min(batches.len());
                let mut micro = 0;
                for chunk_start in (cursor..group_end).step_by(n_dev) {
                    let chunk_end = (chunk_start + n_dev).min(group_end);
                    let mut loaded = Vec::with_capacity(chunk_end - chunk_start);
                    for (k, b) in (chunk_start..chunk_end).enumerate() {
                        let items = load_train_items(data.train, &batches[b], c.seed, epoch)?;
                        loaded.push(data.batcher.batch(items, &devices[k]));
                    }
                    let outputs: Vec<TrainOutput<StepOutput>> = match &multi {
                        None => {
                            let batch = loaded.pop().expect("one batch");
                            main.seed(derive_seed(c.seed, &[STEP_STREAM, state.step, micro as u64]));
                            let out = model.train_step(batch);
                            let loss = scalar(out.loss.clone());
                            if !loss.is_finite() {
                                return Err(self.non_finite(loss, epoch, state.step));
                            }
                            let grads = out.loss.clone().backward();
                            vec![TrainOutput::new(&model, grads, out)]
                        }
                        Some(step) => {
                            // One iterator per worker; workers without a batch (end of epoch) get none.
                            let mut loaded = loaded.into_iter();
                            let mut iters: Vec<Box<dyn DataLoaderIterator<M::Batch>>> = (0..n_dev)
                                .map(|_| {
                                    Box::new(OneBatch(loaded.next())) as Box<dyn DataLoaderIterator<M::Batch>>
                                })
                                .collect();
                            let replica = Replica { inner: model.clone() };
                            let (outs, _) = step
                                .step(&mut iters, &replica)
                                .map_err(|e| TrainError::Worker(e.to_string()))?;
                            outs.into_iter().map(|o| o.output).collect()
                        }
                    };
                    for out in outputs {
                        let loss = scalar(out.item.loss.clone());
                        if !loss.is_finite() {
                            return Err(self.non_finite(loss, epoch, state.step));
                        }
                        accumulator.accumulate(&model, out.grads.to_device(&main, &model));
                        let item = out.item;
                        train_means.add_output(item.clone(), loss)?;
                        last_output = Some(item);
                        micro += 1;
                        bar.inc(1);
                    }
                }
                cursor = group_end;
                let mut grads = accumulator.grads();
                if micro > 1 && c.nominal_batch.is_none() {
                    // Each micro-batch loss is a mean over its samples: average, as one big batch would.
                    scale_grads(&model, &mut grads, 1.0 / micro as f64);
                }
                if let Some(out) = &last_output {
                    hooks.before_update(&model, out, &mut grads);
                }
                let grad_norm = c
                    .grad_clip_norm
                    .map(|max| clip_grad_norm(&model, &mut grads, max));
                // The schedule advances once per tick when it counts ticks (the rate of the
                // group's last tick applies, as the reference sets it before every batch).
                let mut lr = sched.step();
                if c.nominal_batch.is_some() {
                    for _ in 1..ticks {
                        lr = sched.step();
                    }
                }
                last_lr = lr.base();
                model = optim.step(lr, model, grads);
                state.step += 1;
                steps_this_process += 1;
                if let Some(e) = &mut ema {
                    e.update(&model);
                }
                let loss_now = train_means.means.get("loss").map_or(f64::NAN, Mean::value);
                bar.set_message(format!("loss {loss_now:.4} lr {last_lr:.2e}"));
                if c.log_every_steps > 0 && state.step.is_multiple_of(c.log_every_steps as u64) {
                    reporter.log_step(&StepLog {
                        epoch: epoch + 1,
                        step: state.step,
                        loss: loss_now,
                        lr: last_lr,
                        grad_norm,
                    });
                }
                let at_step_checkpoint = c
                    .checkpoint_every_steps
                    .is_some_and(|n| state.step.is_multiple_of(n as u64));
                let at_limit = c.max_steps.is_some_and(|m| steps_this_process >= m);
                if (at_step_checkpoint || at_limit) && cursor < batches.len() {
                    state.batch_cursor = cursor;
                    train_means.save_partial(&mut state);
                    self.save_checkpoint(&model, &optim, &sched, ema.as_ref(), average.as_ref(), &mut state)?;
                }
                if at_limit {
                    stopped_early = true;
                    bar.abandon();
                    if cursor < batches.len() {
                        break 'epochs;
                    }
                }
            }
            bar.finish_and_clear();

            // End of epoch: averaging, validation, hooks, history, checkpoint.
            if let (Some(avg), Some(cfg)) = (&mut average, &c.average) {
                avg.add(&model, cfg.weight(epoch + 1));
            }
            let mut metrics = BTreeMap::new();
            train_means.finish("train", &mut metrics);
            let eval_model = self.current_model(&model, ema.as_ref(), average.as_ref(), c);
            let is_last = epoch + 1 == c.epochs;
            let validate = is_last || (c.valid_every > 0 && (epoch + 1) % c.valid_every == 0);
            if let (true, Some(valid)) = (validate, data.valid) {
                let mut vm = EpochMeans::default();
                let indices: Vec<usize> = (0..valid.len()).collect();
                for chunk in indices.chunks(c.batch_size) {
                    let items = chunk
                        .par_iter()
                        .map(|&i| valid.get(i))
                        .collect::<Result<Vec<_>, _>>()?;
                    let out = eval_model.valid_step(data.batcher.batch(items, &main_inner));
                    let loss = scalar(out.loss.clone());
                    vm.add_output(out, loss)?;
                }
                vm.finish("valid", &mut metrics);
            }
            hooks
                .on_epoch_end(epoch + 1, &eval_model, &mut metrics)
                .map_err(|e| TrainError::Hook(format!("{e:#}")))?;
            metrics.insert("lr".into(), last_lr);
            let record = EpochRecord {
                epoch: epoch + 1,
                step: state.step,
                lr: last_lr,
                seconds: started.elapsed().as_secs_f64(),
                metrics,
            };
            reporter.epoch_done(&record);
            let improved = self.update_best(&mut state, &record);
            state.history.push(record);
            state.epoch = epoch + 1;
            state.batch_cursor = 0;
            state.partial.clear();
            state.partial_classification = None;
            self.save_checkpoint(&model, &optim, &sched, ema.as_ref(), average.as_ref(), &mut state)?;
            if let (true, Some(out)) = (improved, &self.out) {
                self.write_weights(&eval_model, &out.join("best.bpk"))?;
            }
            reporter
                .write_summary(&state.history, state.best.as_ref())
                .map_err(|e| TrainError::Output {
                    path: self.out.clone().unwrap_or_default(),
                    message: e.to_string(),
                })?;
            if stopped_early {
                break;
            }
        }

        let final_model = self.current_model(&model, ema.as_ref(), average.as_ref(), c);
        if let (Some(out), false) = (&self.out, stopped_early) {
            self.write_weights(&final_model, &out.join(MODEL_FILE))?;
        }
        Ok(FitResult {
            model: final_model,
            history: state.history,
            best: state.best,
            steps: state.step,
            resumed_from,
            stopped_early,
        })
    }

    /// The model to validate and save: EMA, else the weighted average, else the current weights.
    fn current_model<M: TrainModel>(
        &self,
        model: &M,
        ema: Option<&ModelEma<M>>,
        average: Option<&WeightedAverage>,
        c: &TrainConfig,
    ) -> M {
        match (ema, average) {
            (Some(e), _) => e.model.clone(),
            (None, Some(a)) if c.ema.is_none() => a.apply(model.valid()),
            _ => model.valid(),
        }
    }

    fn update_best(&self, state: &mut LoopState, record: &EpochRecord) -> bool {
        let Some(name) = &self.config.best_metric else {
            return false;
        };
        let Some(&value) = record.metrics.get(name) else {
            return false;
        };
        let better = match &state.best {
            None => true,
            Some(b) => match self.config.best_mode {
                BestMode::Max => value > b.value,
                BestMode::Min => value < b.value,
            },
        };
        if better {
            state.best = Some(Best {
                metric: name.clone(),
                value,
                epoch: record.epoch,
            });
        }
        better
    }

    fn non_finite(&self, value: f64, epoch: usize, step: u64) -> TrainError {
        let where_ = match self.store().map(|s| s.latest()) {
            Some(Ok(ckpt)) => format!(
                "The last good checkpoint is {} (step {})",
                ckpt.dir.display(),
                ckpt.step
            ),
            Some(Err(_)) => "No checkpoint had been written yet".to_string(),
            None => "No output directory was given, so nothing was saved".to_string(),
        };
        TrainError::NonFinite {
            value,
            epoch: epoch + 1,
            step,
            where_,
        }
    }

    fn write_weights<M: Module>(&self, model: &M, path: &std::path::Path) -> Result<(), TrainError> {
        zoo_weights::save_module(model, path).map_err(|e| TrainError::Output {
            path: path.to_path_buf(),
            message: e.to_string(),
        })
    }

    #[allow(clippy::too_many_arguments)]
    fn save_checkpoint<M: TrainModel>(
        &self,
        model: &M,
        optim: &burn::optim::ModuleOptimizer,
        sched: &burn::optim::lr_scheduler::module_lr_scheduler::ModuleLrScheduler,
        ema: Option<&ModelEma<M>>,
        average: Option<&WeightedAverage>,
        state: &mut LoopState,
    ) -> Result<(), TrainError> {
        let Some(store) = self.store() else { return Ok(()) };
        // Burn's RunningState (batch-norm statistics) keeps each thread's last update pending
        // until the next update reads it; a record holds only the folded value. `valid()` folds
        // the pending updates into the shared state (the next step reads the same numbers), so
        // the checkpoint holds the statistics the next step would use and resume stays exact.
        drop(model.valid());
        let enc = |what: &str, r: Result<Bytes, burn::store::RecordError>| {
            r.map_err(|e| TrainError::Output {
                path: store.root().to_path_buf(),
                message: format!("encoding {what}: {e}"),
            })
        };
        let model_bytes = enc("model", model.clone().into_record().into_bytes())?;
        let optim_bytes = enc("optimizer", optim.to_record().into_bytes())?;
        let sched_bytes = enc("scheduler", sched.to_record().into_bytes())?;
        let mut parts: Vec<(&str, Bytes)> = vec![
            (MODEL_PART, model_bytes),
            ("optim.bpk", optim_bytes),
            ("sched.bpk", sched_bytes),
        ];
        if let Some(e) = ema {
            state.ema_updates = e.updates;
            parts.push(("ema.bpk", enc("ema", e.model.clone().into_record().into_bytes())?));
        }
        if let Some(a) = average {
            state.average_weight = a.total_weight();
            parts.push((
                "avg.bpk",
                enc(
                    "average",
                    a.sums_as_module(model.valid()).into_record().into_bytes(),
                )?,
            ));
        }
        let state_json = serde_json::to_value(&*state).expect("loop state serialises");
        let refs: Vec<(&str, &[u8])> = parts.iter().map(|(n, b)| (*n, &b[..])).collect();
        store.save(state.step, &refs, &state_json, self.config.keep_checkpoints)?;
        Ok(())
    }
}
