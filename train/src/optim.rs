//! Optimizers from configuration, with PyTorch's defaults and semantics.
//!
//! Burn's defaults differ from PyTorch's in ways that change results (SGD dampening 0.1, Adam
//! epsilon 1e-5, AdamW weight decay 1e-4); every field here defaults to PyTorch's value and is
//! passed explicitly. Parameter groups select parameters by a regular expression on their path
//! (e.g. `bias$`) and override weight decay or scale the learning rate; as in Burn, when several
//! groups match a parameter the last one wins.

use crate::schedule::{Schedule, ScheduleConfig};
use burn::module::ParamGroup;
use burn::optim::decay::WeightDecayConfig;
use burn::optim::lr_scheduler::module_lr_scheduler::ModuleLrScheduler;
use burn::optim::momentum::MomentumConfig;
use burn::optim::{AdamConfig, AdamWConfig, ModuleOptimizer, SgdConfig};
use serde::{Deserialize, Serialize};

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
        for g in &self.groups {
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

    /// The rule for one parameter group with weight decay `wd`.
    fn rule(&self, wd: f64) -> Rule {
        let decay = (wd > 0.0).then(|| WeightDecayConfig::new(wd as f32));
        match self.kind {
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

    /// Builds the module optimizer (base rule plus one rule per group).
    pub fn init(&self) -> Result<ModuleOptimizer, OptimError> {
        self.validate()?;
        let base_wd = self.effective_weight_decay();
        let mut optim = self.rule(base_wd).init();
        for g in &self.groups {
            let group = regex_group(&g.params)?;
            optim = self.rule(g.weight_decay.unwrap_or(base_wd)).add_to(optim, group);
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
        let make = |scale: f64| Schedule::new(schedule.clone(), self.lr * scale, steps_per_epoch, epochs);
        let base = make(1.0).map_err(OptimError::Invalid)?;
        let mut sched = ModuleLrScheduler::new(base);
        for g in &self.groups {
            // Every group gets its own entry, so that a later group with scale 1 still overrides an
            // earlier one with another scale (last match wins, as for the optimizer rules).
            sched = sched.with_group(
                regex_group(&g.params)?,
                make(g.lr_scale).map_err(OptimError::Invalid)?,
            );
        }
        Ok(sched)
    }
}

enum Rule {
    Sgd(SgdConfig),
    Adam(AdamConfig),
    AdamW(AdamWConfig),
}

impl Rule {
    fn init(&self) -> ModuleOptimizer {
        match self {
            Rule::Sgd(c) => c.init(),
            Rule::Adam(c) => c.init(),
            Rule::AdamW(c) => c.init(),
        }
    }

    fn add_to(&self, optim: ModuleOptimizer, group: ParamGroup) -> ModuleOptimizer {
        match self {
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
