//! Exponential moving average of a model's parameters and running statistics, as YOLO's
//! `ModelEMA`: after update `n` (1-based), `d_n = decay * (1 - exp(-n / tau))` and
//! `ema <- d_n * ema + (1 - d_n) * model`. Without `tau` the decay is constant.

use crate::params::{combine_params, snapshot};
use burn::module::Module;
use serde::{Deserialize, Serialize};

/// EMA settings (YOLO: decay 0.9999, tau 2000).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EmaConfig {
    /// Asymptotic decay.
    pub decay: f64,
    /// Ramp time constant in updates; `None` = constant decay.
    pub tau: Option<f64>,
}

impl Default for EmaConfig {
    fn default() -> Self {
        Self {
            decay: 0.9999,
            tau: Some(2000.0),
        }
    }
}

impl EmaConfig {
    /// Decay used at update `n` (1-based).
    pub fn decay_at(&self, n: u64) -> f64 {
        match self.tau {
            Some(tau) => self.decay * (1.0 - (-(n as f64) / tau).exp()),
            None => self.decay,
        }
    }
}

/// The averaged copy of a model (inference mode, no autodiff).
#[derive(Debug, Clone)]
pub struct ModelEma<M> {
    /// The averaged model.
    pub model: M,
    /// Number of updates applied.
    pub updates: u64,
    config: EmaConfig,
}

impl<M: Module> ModelEma<M> {
    /// Starts the average at the current weights of `model`.
    pub fn new(model: &M, config: EmaConfig) -> Self {
        Self {
            model: model.valid(),
            updates: 0,
            config,
        }
    }

    /// Restores an average saved after `updates` updates.
    pub fn restore(model: M, updates: u64, config: EmaConfig) -> Self {
        Self {
            model,
            updates,
            config,
        }
    }

    /// Folds in the current weights of `model`.
    pub fn update(&mut self, model: &M) {
        self.updates += 1;
        let d = self.config.decay_at(self.updates);
        let current = snapshot(model, None);
        self.model = combine_params(self.model.clone(), &current, |ema, new| {
            ema.mul_scalar(d) + new.mul_scalar(1.0 - d)
        });
    }
}
