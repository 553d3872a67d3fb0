//! Learning-rate schedules: a warmup followed by a decay, evaluated per optimizer step or per
//! epoch. A schedule is a pure function of time, so resuming restores it from one counter.
//!
//! Time `t` counts optimizer steps (`unit = "step"`) or epochs (`unit = "epoch"`, the rate then
//! changes only at epoch boundaries), starting at 0. With base rate `lr`, warmup length `W` and
//! decay length `T` (default: the whole run), the rate at time `t` is:
//!
//! * **linear warmup** (timm/YOLO style), for `t < W`: `lr0 + (d(t) - lr0) * t / W`, where
//!   `lr0 = start_factor * lr` and `d` is the decay curve evaluated at the same `t`;
//! * **constant warmup** (Dassl's `ConstantWarmupScheduler`, used by CoOp/PromptSRC), for `t < W`:
//!   the fixed `constant_lr`; afterwards the decay restarts from its beginning: `d(t - W)`;
//! * **decay** `d(t)`, with `u = min(t, T) / T`: constant `lr`; linear
//!   `lr * (1 - (1 - final_factor) * u)`; cosine `lr * (final_factor + (1 - final_factor) *
//!   (1 + cos(pi * u)) / 2)` (PyTorch's `CosineAnnealingLR` with `eta_min = final_factor * lr`);
//!   step `lr * gamma^floor(t / step_size)`.

use burn::optim::LearningRate;
use burn::optim::lr_scheduler::{LrScheduler, LrSchedulerRecord};
use serde::{Deserialize, Serialize};

/// Time unit of a schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Unit {
    /// One unit per optimizer step.
    #[default]
    Step,
    /// One unit per epoch.
    Epoch,
}

/// Shape of the decay after warmup.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Decay {
    /// Constant rate.
    #[default]
    Constant,
    /// Linear decay to `final_factor * lr` at `T`.
    Linear,
    /// Cosine annealing to `final_factor * lr` at `T`.
    Cosine,
    /// Multiply by `gamma` every `step_size` units.
    Step,
}

/// How the warmup behaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Warmup {
    /// Linear ramp from `start_factor * lr` to the decay curve.
    #[default]
    Linear,
    /// Fixed `constant_lr`, then the decay from its start (Dassl).
    Constant,
}

/// A learning-rate schedule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ScheduleConfig {
    /// Time unit.
    pub unit: Unit,
    /// Decay curve.
    pub decay: Decay,
    /// Length `T` of the decay in units; `None` = the whole run.
    pub decay_length: Option<usize>,
    /// Rate at the end of linear/cosine decay, as a fraction of the base rate.
    pub final_factor: f64,
    /// Step decay: multiply by this...
    pub gamma: f64,
    /// ...every this many units.
    pub step_size: usize,
    /// Warmup length `W` in units (0 = none).
    pub warmup: usize,
    /// Warmup length in epochs (fractions allowed); the warmup lasts the longer of this and
    /// `warmup` (YOLO: max(3 epochs, 100 steps)).
    pub warmup_epochs: f64,
    /// Warmup kind.
    pub warmup_kind: Warmup,
    /// Linear warmup starts at `start_factor * lr`.
    pub start_factor: f64,
    /// Constant warmup rate.
    pub constant_lr: f64,
}

impl Default for ScheduleConfig {
    fn default() -> Self {
        Self {
            unit: Unit::Step,
            decay: Decay::Constant,
            decay_length: None,
            final_factor: 0.0,
            gamma: 0.1,
            step_size: 1,
            warmup: 0,
            warmup_epochs: 0.0,
            warmup_kind: Warmup::Linear,
            start_factor: 0.0,
            constant_lr: 1e-5,
        }
    }
}

impl ScheduleConfig {
    /// Checks the settings.
    pub fn validate(&self) -> Result<(), String> {
        if !non_negative(self.final_factor) {
            return Err(format!(
                "schedule: final_factor must be >= 0, got {}",
                self.final_factor
            ));
        }
        if self.decay == Decay::Step && (self.step_size == 0 || !positive(self.gamma)) {
            return Err("schedule: step decay needs step_size >= 1 and gamma > 0".into());
        }
        if self.decay_length == Some(0) {
            return Err("schedule: decay_length must be at least 1".into());
        }
        if !non_negative(self.warmup_epochs) {
            return Err("schedule: warmup_epochs must be finite and non-negative".into());
        }
        if !(non_negative(self.start_factor) && non_negative(self.constant_lr)) {
            return Err("schedule: warmup rates must be finite and non-negative".into());
        }
        Ok(())
    }
}

fn non_negative(x: f64) -> bool {
    x.is_finite() && x >= 0.0
}

fn positive(x: f64) -> bool {
    x.is_finite() && x > 0.0
}

/// A schedule bound to a base rate and a run length; implements Burn's [`LrScheduler`] so it can
/// drive parameter groups through Burn's `ModuleLrScheduler`.
#[derive(Debug, Clone)]
pub struct Schedule {
    config: ScheduleConfig,
    lr: f64,
    steps_per_epoch: usize,
    total_units: usize,
    warmup_units: usize,
    /// Optimizer steps taken so far.
    step: usize,
}

impl Schedule {
    /// A schedule with base rate `lr` for a run of `epochs` epochs of `steps_per_epoch` steps.
    pub fn new(
        config: ScheduleConfig,
        lr: f64,
        steps_per_epoch: usize,
        epochs: usize,
    ) -> Result<Self, String> {
        config.validate()?;
        let steps_per_epoch = steps_per_epoch.max(1);
        let total_units = match config.unit {
            Unit::Step => steps_per_epoch * epochs,
            Unit::Epoch => epochs,
        };
        let per_epoch = match config.unit {
            Unit::Step => steps_per_epoch,
            Unit::Epoch => 1,
        };
        let warmup_units = config
            .warmup
            .max((config.warmup_epochs * per_epoch as f64).round() as usize);
        Ok(Self {
            config,
            lr,
            steps_per_epoch,
            total_units: total_units.max(1),
            warmup_units,
            step: 0,
        })
    }

    /// The rate for optimizer step `step` (0-based).
    pub fn lr_at(&self, step: usize) -> f64 {
        let t = match self.config.unit {
            Unit::Step => step,
            Unit::Epoch => step / self.steps_per_epoch,
        };
        let c = &self.config;
        let w = self.warmup_units;
        if t < w {
            return match c.warmup_kind {
                Warmup::Constant => c.constant_lr,
                Warmup::Linear => {
                    let lr0 = c.start_factor * self.lr;
                    lr0 + (self.decay_at(t) - lr0) * t as f64 / w as f64
                }
            };
        }
        match c.warmup_kind {
            Warmup::Constant => self.decay_at(t - w),
            Warmup::Linear => self.decay_at(t),
        }
    }

    fn decay_at(&self, t: usize) -> f64 {
        let c = &self.config;
        let length = c.decay_length.unwrap_or(self.total_units) as f64;
        let u = (t as f64).min(length) / length;
        let f = c.final_factor;
        match c.decay {
            Decay::Constant => self.lr,
            Decay::Linear => self.lr * (1.0 - (1.0 - f) * u),
            Decay::Cosine => self.lr * (f + (1.0 - f) * 0.5 * (1.0 + (std::f64::consts::PI * u).cos())),
            Decay::Step => self.lr * c.gamma.powi((t / c.step_size) as i32),
        }
    }

    /// Length of the warmup in optimizer steps.
    pub fn warmup_steps(&self) -> usize {
        match self.config.unit {
            Unit::Step => self.warmup_units,
            Unit::Epoch => self.warmup_units * self.steps_per_epoch,
        }
    }

    /// Steps taken so far.
    pub fn position(&self) -> usize {
        self.step
    }
}

impl LrScheduler for Schedule {
    fn step(&mut self) -> LearningRate {
        let lr = self.lr_at(self.step);
        self.step += 1;
        lr
    }

    fn to_record(&self) -> LrSchedulerRecord {
        LrSchedulerRecord::new().with_scalar("step", self.step as u64)
    }

    fn load_record(&mut self, record: LrSchedulerRecord) {
        if let Some(step) = record.scalar::<u64>("step") {
            self.step = step as usize;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sched(c: ScheduleConfig, lr: f64, spe: usize, epochs: usize) -> Schedule {
        Schedule::new(c, lr, spe, epochs).unwrap()
    }

    fn close(a: f64, b: f64) {
        assert!((a - b).abs() < 1e-12, "{a} != {b}");
    }

    #[test]
    fn cosine_per_step_matches_hand_values() {
        // 2 epochs x 5 steps, lr 0.1, eta_min 0.01: lr(t) = 0.01 + 0.09 * (1 + cos(pi t / 10)) / 2.
        let s = sched(
            ScheduleConfig {
                decay: Decay::Cosine,
                final_factor: 0.1,
                ..Default::default()
            },
            0.1,
            5,
            2,
        );
        close(s.lr_at(0), 0.1);
        close(s.lr_at(5), 0.055);
        close(
            s.lr_at(2),
            0.01 + 0.09 * (1.0 + (0.2 * std::f64::consts::PI).cos()) / 2.0,
        );
        close(s.lr_at(10), 0.01);
        close(s.lr_at(15), 0.01); // clamped after T
    }

    #[test]
    fn linear_warmup_then_linear_decay() {
        // YOLO-like: 10 epochs x 10 steps, lr 0.01 decaying to 0.0001, 20-step warmup from 0.
        let c = ScheduleConfig {
            decay: Decay::Linear,
            final_factor: 0.01,
            warmup: 20,
            ..Default::default()
        };
        let s = sched(c, 0.01, 10, 10);
        close(s.lr_at(0), 0.0);
        // t = 10: decay value 0.01 * (1 - 0.99 * 0.1) = 0.00901, halfway through warmup.
        close(s.lr_at(10), 0.5 * 0.00901);
        close(s.lr_at(20), 0.01 * (1.0 - 0.99 * 0.2));
        close(s.lr_at(100), 0.0001);
    }

    #[test]
    fn dassl_constant_warmup_cosine_per_epoch() {
        // PromptSRC: lr 0.0025, 20 epochs, 1 warmup epoch at 1e-5, cosine with T_max = 20 that
        // starts after the warmup: epoch 0 -> 1e-5, epoch 1 -> 0.0025, epoch e -> cos at e - 1.
        let c = ScheduleConfig {
            unit: Unit::Epoch,
            decay: Decay::Cosine,
            warmup: 1,
            warmup_kind: Warmup::Constant,
            constant_lr: 1e-5,
            ..Default::default()
        };
        let s = sched(c, 0.0025, 7, 20);
        close(s.lr_at(0), 1e-5);
        close(s.lr_at(6), 1e-5);
        close(s.lr_at(7), 0.0025);
        close(s.lr_at(13), 0.0025);
        close(
            s.lr_at(14),
            0.0025 * (1.0 + (std::f64::consts::PI / 20.0).cos()) / 2.0,
        );
        close(
            s.lr_at(19 * 7),
            0.0025 * (1.0 + (18.0 * std::f64::consts::PI / 20.0).cos()) / 2.0,
        );
    }

    #[test]
    fn step_decay_and_record_round_trip() {
        let c = ScheduleConfig {
            decay: Decay::Step,
            gamma: 0.5,
            step_size: 3,
            ..Default::default()
        };
        let mut s = sched(c, 1.0, 4, 5);
        let lrs: Vec<f64> = (0..7).map(|_| s.step()).collect();
        assert_eq!(lrs, vec![1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.25]);
        let record = s.to_record();
        let mut fresh = sched(s.config.clone(), 1.0, 4, 5);
        fresh.load_record(record);
        assert_eq!(fresh.step(), s.step());
    }

    #[test]
    fn bad_settings_are_rejected() {
        let c = ScheduleConfig {
            decay: Decay::Step,
            step_size: 0,
            ..Default::default()
        };
        assert!(Schedule::new(c, 0.1, 1, 1).unwrap_err().contains("step_size"));
    }
}
