//! Optimizers from configuration, with PyTorch's defaults and semantics.
//!
//! Burn's defaults differ from PyTorch's in ways that change results (SGD dampening 0.1, Adam
//! epsilon 1e-5, AdamW weight decay 1e-4); every field here defaults to PyTorch's value and is
//! passed explicitly. Parameter groups select parameters by a regular expression on their path
//! (e.g. `bias$`) and override weight decay or scale the learning rate; as in Burn, when several
//! groups match a parameter the last one wins.
//!
//! YOLO's warmup (WongKinYiu/yolov9 `train_dual.py`) needs two things Burn's SGD lacks: a group
//! whose warmup starts above its rate (biases fall from 0.1 to lr0) and a momentum that rises
//! during the warmup (0.8 -> 0.937): [`ParamGroupConfig::warmup_start_lr`] and
//! [`OptimizerConfig::warmup_momentum`] ([`WarmupSgd`]).

use crate::schedule::{Schedule, ScheduleConfig};
use burn::module::ParamGroup;
use burn::optim::decay::WeightDecayConfig;
use burn::optim::lr_scheduler::module_lr_scheduler::ModuleLrScheduler;
use burn::optim::momentum::MomentumConfig;
use burn::optim::{AdamConfig, AdamWConfig, ModuleOptimizer, RecordState, SgdConfig, StateSink, StateSource};
use burn::tensor::Tensor;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// Which update rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum OptimizerKind {
    /// `torch.optim.SGD`.
    #[default]
    Sgd,
    /// `torch.optim.Adam` (L2 weight decay added to the gradient).
    Adam,
    /// `torch.optim.AdamW` (decoupled weight decay).
    AdamW,
}

/// Optimizer settings. Defaults are PyTorch's (`lr` excepted, which has none there).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OptimizerConfig {
    /// Update rule.
    pub kind: OptimizerKind,
    /// Base learning rate (the schedule multiplies or replaces it over time).
    pub lr: f64,
    /// SGD momentum (0 = plain SGD).
    pub momentum: f64,
    /// SGD dampening (PyTorch: 0).
    pub dampening: f64,
    /// SGD Nesterov momentum.
    pub nesterov: bool,
    /// Adam/AdamW beta1.
    pub beta1: f64,
    /// Adam/AdamW beta2.
    pub beta2: f64,
    /// Adam/AdamW epsilon (PyTorch: 1e-8).
    pub eps: f64,
    /// Weight decay (PyTorch: 0 for SGD/Adam, 0.01 for AdamW; `None` picks that default).
    pub weight_decay: Option<f64>,
    /// Parameter groups, matched in order (last match wins).
    pub groups: Vec<ParamGroupConfig>,
    /// SGD: momentum at the first step; it rises linearly to `momentum` over the schedule's
    /// warmup (YOLO: 0.8). `None`: constant momentum.
    pub warmup_momentum: Option<f64>,
}

impl Default for OptimizerConfig {
    fn default() -> Self {
        Self {
            kind: OptimizerKind::Sgd,
            lr: 0.01,
            momentum: 0.0,
            dampening: 0.0,
            nesterov: false,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: None,
            groups: Vec::new(),
            warmup_momentum: None,
        }
    }
}

/// Settings for the parameters whose path matches `params`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ParamGroupConfig {
    /// Regular expression searched in the parameter path (e.g. `bias$`, `norm`, `^head\.`).
    pub params: String,
    /// Weight decay for this group (e.g. 0 for biases and norms); `None` keeps the base value.
    #[serde(default)]
    pub weight_decay: Option<f64>,
    /// Learning-rate multiplier for this group.
    #[serde(default = "one")]
    pub lr_scale: f64,
    /// Rate at the start of a linear warmup for this group, instead of the schedule's
    /// `start_factor x lr` (YOLO: 0.1 for biases, which fall to lr0 while the rest rise from 0).
    #[serde(default)]
    pub warmup_start_lr: Option<f64>,
}

fn one() -> f64 {
    1.0
}

/// A configuration that cannot be turned into an optimizer.
#[derive(Debug, thiserror::Error)]
pub enum OptimError {
    /// Bad numeric setting.
    #[error("optimizer: {0}")]
    Invalid(String),
    /// Bad group pattern.
    #[error("optimizer group `{pattern}`: {message}")]
    Pattern {
        /// The regex.
        pattern: String,
        /// Why.
        message: String,
    },
}

impl OptimizerConfig {
    /// The weight decay actually used by the base group.
    pub fn effective_weight_decay(&self) -> f64 {
        self.weight_decay.unwrap_or(match self.kind {
            OptimizerKind::AdamW => 0.01,
            _ => 0.0,
        })
    }

    /// Checks values a user could get wrong.
    pub fn validate(&self) -> Result<(), OptimError> {
        let bad = |m: String| Err(OptimError::Invalid(m));
        if !(self.lr.is_finite() && self.lr >= 0.0) {
            return bad(format!(
                "lr must be a finite non-negative number, got {}",
                self.lr
            ));
        }
        if !(0.0..1.0).contains(&self.momentum) {
            return bad(format!("momentum must be in [0, 1), got {}", self.momentum));
        }
        if self.nesterov && (self.momentum <= 0.0 || self.dampening != 0.0) {
            return bad("Nesterov momentum requires momentum > 0 and dampening 0 (as in PyTorch)".into());
        }
        if !(0.0..1.0).contains(&self.beta1) || !(0.0..1.0).contains(&self.beta2) {
            return bad(format!(
                "betas must be in [0, 1), got ({}, {})",
                self.beta1, self.beta2
            ));
        }
        if self.eps.is_nan() || self.eps <= 0.0 {
            return bad(format!("eps must be positive, got {}", self.eps));
        }
        let decays = std::iter::once(self.weight_decay).chain(self.groups.iter().map(|g| g.weight_decay));
        if decays.flatten().any(|wd| !(wd.is_finite() && wd >= 0.0)) {
            return bad("weight decay must be finite and non-negative".into());
        }
        if let Some(m) = self.warmup_momentum {
            if self.kind != OptimizerKind::Sgd || self.momentum <= 0.0 {
                return bad("warmup_momentum needs SGD with momentum > 0".into());
            }
            if !(0.0..1.0).contains(&m) {
                return bad(format!("warmup_momentum must be in [0, 1), got {m}"));
            }
        }
        for g in &self.groups {
            if g.warmup_start_lr.is_some_and(|v| !(v.is_finite() && v >= 0.0)) {
                return bad(format!(
                    "group `{}`: warmup_start_lr must be finite and non-negative",
                    g.params
                ));
            }
            if !(g.lr_scale.is_finite() && g.lr_scale >= 0.0) {
                return bad(format!(
                    "group `{}`: lr_scale must be finite and non-negative",
                    g.params
                ));
            }
            regex_group(&g.params)?;
        }
        Ok(())
    }

    /// The rule for one parameter group with weight decay `wd`; a momentum warmup lasts
    /// `warmup_steps` optimizer steps.
    fn rule(&self, wd: f64, warmup_steps: usize, step_ticks: Option<Arc<[usize]>>) -> Rule {
        let decay = (wd > 0.0).then(|| WeightDecayConfig::new(wd as f32));
        match self.kind {
            OptimizerKind::Sgd if self.warmup_momentum.is_some() => Rule::WarmupSgd(WarmupSgd {
                momentum: self.momentum,
                warmup_momentum: self.warmup_momentum.unwrap_or(self.momentum),
                warmup_steps,
                step_ticks,
                nesterov: self.nesterov,
                dampening: self.dampening,
                weight_decay: wd,
            }),
            OptimizerKind::Sgd => {
                let momentum = (self.momentum > 0.0).then(|| {
                    MomentumConfig::new()
                        .with_momentum(self.momentum)
                        .with_dampening(self.dampening)
                        .with_nesterov(self.nesterov)
                });
                Rule::Sgd(SgdConfig::new().with_momentum(momentum).with_weight_decay(decay))
            }
            OptimizerKind::Adam => Rule::Adam(
                AdamConfig::new()
                    .with_beta_1(self.beta1 as f32)
                    .with_beta_2(self.beta2 as f32)
                    .with_epsilon(self.eps as f32)
                    .with_weight_decay(decay),
            ),
            OptimizerKind::AdamW => Rule::AdamW(
                AdamWConfig::new()
                    .with_beta_1(self.beta1 as f32)
                    .with_beta_2(self.beta2 as f32)
                    .with_epsilon(self.eps as f32)
                    .with_weight_decay(wd as f32),
            ),
        }
    }

    /// Builds the module optimizer (base rule plus one rule per group); `warmup_steps` is the
    /// schedule's warmup ([`Schedule::warmup_steps`]), over which `warmup_momentum` rises.
    pub fn init(&self, warmup_steps: usize) -> Result<ModuleOptimizer, OptimError> {
        self.init_ticked(warmup_steps, None)
    }

    /// [`OptimizerConfig::init`] for a schedule that counts ticks rather than steps: the warmup
    /// lasts `warmup_ticks`, and `step_ticks[k]` is the tick of update `k` during it
    /// ([`crate::trainer::TrainConfig::warmup_step_ticks`]); `None` makes both count updates.
    pub fn init_ticked(
        &self,
        warmup_ticks: usize,
        step_ticks: Option<Arc<[usize]>>,
    ) -> Result<ModuleOptimizer, OptimError> {
        self.validate()?;
        let base_wd = self.effective_weight_decay();
        let mut optim = self.rule(base_wd, warmup_ticks, step_ticks.clone()).init();
        for g in &self.groups {
            let group = regex_group(&g.params)?;
            optim = self
                .rule(
                    g.weight_decay.unwrap_or(base_wd),
                    warmup_ticks,
                    step_ticks.clone(),
                )
                .add_to(optim, group);
        }
        Ok(optim)
    }

    /// Builds the learning-rate scheduler: `schedule` for the base group, scaled copies for
    /// groups with `lr_scale != 1`.
    pub fn scheduler(
        &self,
        schedule: &ScheduleConfig,
        steps_per_epoch: usize,
        epochs: usize,
    ) -> Result<ModuleLrScheduler, OptimError> {
        let make = |scale: f64, start: Option<f64>| {
            let lr = self.lr * scale;
            let mut config = schedule.clone();
            if let Some(start) = start {
                // An absolute starting rate, as a fraction of this group's rate (0 for a zero rate).
                config.start_factor = if lr > 0.0 { start / lr } else { 0.0 };
            }
            Schedule::new(config, lr, steps_per_epoch, epochs)
        };
        let base = make(1.0, None).map_err(OptimError::Invalid)?;
        let mut sched = ModuleLrScheduler::new(base);
        for g in &self.groups {
            // Every group gets its own entry, so that a later group with scale 1 still overrides an
            // earlier one with another scale (last match wins, as for the optimizer rules).
            sched = sched.with_group(
                regex_group(&g.params)?,
                make(g.lr_scale, g.warmup_start_lr).map_err(OptimError::Invalid)?,
            );
        }
        Ok(sched)
    }
}

enum Rule {
    WarmupSgd(WarmupSgd),
    Sgd(SgdConfig),
    Adam(AdamConfig),
    AdamW(AdamWConfig),
}

impl Rule {
    fn init(&self) -> ModuleOptimizer {
        match self {
            Rule::WarmupSgd(o) => ModuleOptimizer::from(o.clone()),
            Rule::Sgd(c) => c.init(),
            Rule::Adam(c) => c.init(),
            Rule::AdamW(c) => c.init(),
        }
    }

    fn add_to(&self, optim: ModuleOptimizer, group: ParamGroup) -> ModuleOptimizer {
        match self {
            Rule::WarmupSgd(o) => optim.with_group(group, o.clone(), None),
            Rule::Sgd(c) => optim.with_group(group, c.build(), None),
            Rule::Adam(c) => optim.with_group(group, c.build(), None),
            Rule::AdamW(c) => optim.with_group(group, c.build(), None),
        }
    }
}

fn regex_group(pattern: &str) -> Result<ParamGroup, OptimError> {
    ParamGroup::from_regex(pattern).map_err(|e| OptimError::Pattern {
        pattern: pattern.to_string(),
        message: format!("{e:?}"),
    })
}

/// `torch.optim.SGD` (L2 weight decay, momentum with dampening, Nesterov) whose momentum rises
/// linearly from `warmup_momentum` to `momentum` over the first `warmup_steps` updates, as YOLO's
/// warmup sets `param_group['momentum'] = interp(step, [0, nw], [0.8, 0.937])` before each step.
/// The update count lives in each parameter's state, so a resumed run continues the ramp.
#[derive(Debug, Clone)]
pub struct WarmupSgd {
    /// Momentum after the warmup.
    pub momentum: f64,
    /// Momentum of the first update.
    pub warmup_momentum: f64,
    /// Updates (or ticks, with `step_ticks`) over which the momentum rises.
    pub warmup_steps: usize,
    /// The tick of each update during the warmup, when updates cover a varying number of
    /// batches (YOLO's ramped nominal batch); `None`: update `k` is at tick `k`.
    pub step_ticks: Option<Arc<[usize]>>,
    /// Nesterov momentum.
    pub nesterov: bool,
    /// Dampening (PyTorch: 0).
    pub dampening: f64,
    /// L2 weight decay added to the gradient.
    pub weight_decay: f64,
}

/// State of [`WarmupSgd`] for one parameter.
#[derive(Clone)]
pub struct WarmupSgdState<const D: usize> {
    /// Updates taken.
    pub time: usize,
    /// Momentum buffer.
    pub velocity: Tensor<D>,
}

// Written by hand: the derive names paths of Burn's own crates.
impl<const D: usize> RecordState for WarmupSgdState<D> {
    fn state_flatten(&self, prefix: &str, out: &mut StateSink) {
        out.push_scalar(prefix, "time", burn_pack::Scalar::UInt(self.time as u64));
        out.push_tensor(prefix, "velocity", self.velocity.to_data());
    }

    fn state_unflatten(prefix: &str, src: &mut StateSource, device: &burn::tensor::Device) -> Option<Self> {
        let time = match src.take_scalar(prefix, "time")? {
            burn_pack::Scalar::UInt(t) => usize::try_from(t).ok()?,
            _ => return None,
        };
        let velocity = Tensor::from_data(src.take_tensor(prefix, "velocity")?, device);
        Some(Self { time, velocity })
    }
}

impl WarmupSgd {
    /// Momentum of update `time` (0-based).
    pub fn momentum_at(&self, time: usize) -> f64 {
        let time = match &self.step_ticks {
            Some(ticks) => match ticks.get(time) {
                Some(&t) => t,
                None => return self.momentum,
            },
            None => time,
        };
        if time >= self.warmup_steps {
            return self.momentum;
        }
        let t = time as f64 / self.warmup_steps as f64;
        self.warmup_momentum + (self.momentum - self.warmup_momentum) * t
    }
}

impl burn::optim::Optimizer for WarmupSgd {
    type State<const D: usize> = WarmupSgdState<D>;

    fn step<const D: usize>(
        &self,
        lr: f64,
        tensor: Tensor<D>,
        mut grad: Tensor<D>,
        state: Option<Self::State<D>>,
    ) -> (Tensor<D>, Option<Self::State<D>>) {
        if self.weight_decay > 0.0 {
            grad = grad.add(tensor.clone().mul_scalar(self.weight_decay));
        }
        let time = state.as_ref().map_or(0, |s| s.time);
        let m = self.momentum_at(time);
        // PyTorch: the first update's buffer is the gradient itself (no dampening).
        let velocity = match state {
            Some(s) => s
                .velocity
                .mul_scalar(m)
                .add(grad.clone().mul_scalar(1.0 - self.dampening)),
            None => grad.clone(),
        };
        let update = if self.nesterov {
            grad.add(velocity.clone().mul_scalar(m))
        } else {
            velocity.clone()
        };
        let state = WarmupSgdState {
            time: time + 1,
            velocity,
        };
        (tensor - update.mul_scalar(lr), Some(state))
    }

    fn to_device<const D: usize>(mut state: Self::State<D>, device: &burn::tensor::Device) -> Self::State<D> {
        state.velocity = state.velocity.to_device(device);
        state
    }
}
