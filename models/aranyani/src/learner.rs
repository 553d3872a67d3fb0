//! The online learner: Aranyani's per-instance update (`train_online` in `src/aranyani.py`).

use crate::forest::{Adam, Forest, ForestConfig, ForestError, Grads, argmax};
use crate::stats::{FairnessKind, GroupStats, PenaltyGradient};
use serde::{Deserialize, Serialize};

/// Settings of the online learner (defaults: the reference's sweep configs).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LearnerConfig {
    /// Forest shape (`features` is set from the data).
    pub forest: ForestConfig,
    /// Weight lambda of the fairness penalty (0: off).
    pub lambda: f64,
    /// Huber threshold delta of the node gaps (reference: 0.01).
    pub delta: f64,
    /// Constraint: node-level demographic parity or equalized odds.
    pub fairness: FairnessKind,
    /// Derivative of the penalty: the reference's shaping or the exact smooth-L1 one.
    pub penalty: PenaltyGradient,
    /// Adam learning rate (reference: 2e-3).
    pub lr: f64,
    /// Instances per update (reference: 1); gradients are averaged over the batch.
    pub batch: usize,
}

impl Default for LearnerConfig {
    fn default() -> Self {
        Self {
            forest: ForestConfig::default(),
            lambda: 0.0,
            delta: 0.01,
            fairness: FairnessKind::Dp,
            penalty: PenaltyGradient::Reference,
            lr: 2e-3,
            batch: 1,
        }
    }
}

/// A forest that learns from a stream, one instance at a time, keeping only O(K I d) statistics.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OnlineLearner {
    /// Settings.
    pub config: LearnerConfig,
    /// The model.
    pub forest: Forest,
    /// Optimiser state.
    pub adam: Adam,
    /// Per-group aggregates.
    pub stats: GroupStats,
    #[serde(skip)]
    pending: Option<(Grads, usize)>,
}

impl OnlineLearner {
    /// A fresh learner; the forest is initialised from `seed`.
    pub fn new(config: LearnerConfig, seed: u64) -> Result<Self, ForestError> {
        if config.batch == 0 || !(config.lambda >= 0.0 && config.delta > 0.0 && config.lr > 0.0) {
            return Err(ForestError::Invalid(format!(
                "need batch >= 1, lambda >= 0, delta > 0 and lr > 0, got {config:?}"
            )));
        }
        let forest = config.forest.init(seed)?;
        Ok(Self {
            stats: GroupStats::new(&config.forest, config.fairness),
            adam: Adam::new(config.lr),
            forest,
            config,
            pending: None,
        })
    }

    /// One prequential step on instance `x` with label `y` and group `a`: predicts first (the
    /// returned class, scored by the caller before anything is learned), then adds the instance
    /// to the group statistics (when lambda > 0), forms the cross-entropy gradient plus the
    /// fairness gradient and updates the forest (every `batch` instances). Returns the prediction
    /// and the instance's loss.
    pub fn learn_one(&mut self, x: &[f64], y: usize, group: u8) -> (usize, f64) {
        let fwd = self.forest.forward(x);
        let prediction = argmax(&fwd.f);
        let (loss, mut grads) = self.forest.backward(x, &fwd, y);
        if self.config.lambda > 0.0 {
            // The reference adds the current instance to the aggregates before forming F.
            self.stats.add(&fwd, x, group, y);
            self.stats.add_penalty_gradient(
                &mut grads,
                self.config.lambda,
                self.config.delta,
                self.config.penalty,
            );
        }
        let (sum, n) = match self.pending.take() {
            Some((mut sum, n)) => {
                sum.add_scaled(&grads, 1.0);
                (sum, n + 1)
            }
            None => (grads, 1),
        };
        if n == self.config.batch {
            let mut mean = Grads::zeros(&self.config.forest);
            mean.add_scaled(&sum, 1.0 / n as f64);
            self.adam.step(&mut self.forest, &mean);
        } else {
            self.pending = Some((sum, n));
        }
        (prediction, loss)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A stream where the label follows the group: the unconstrained learner copies that into
    /// its predictions, a large lambda pulls the node decisions, and so the predictions, together.
    fn stream() -> Vec<(Vec<f64>, usize, u8)> {
        (0..6000)
            .map(|i| {
                let t = i as f64;
                let a = u8::from((t * 0.618).fract() < 0.5);
                let x = vec![
                    (t * 1.3).sin(),
                    (t * 0.7).cos(),
                    f64::from(a) * 1.5 - 0.75 + 0.3 * (t * 2.1).sin(),
                ];
                let y = usize::from(x[0] + 1.2 * x[2] > 0.0);
                (x, y, a)
            })
            .collect()
    }

    fn run(lambda: f64, fairness: FairnessKind) -> (f64, f64) {
        let cfg = LearnerConfig {
            forest: ForestConfig {
                features: 3,
                ..ForestConfig::default()
            },
            lambda,
            fairness,
            ..LearnerConfig::default()
        };
        let mut learner = OnlineLearner::new(cfg, 0).unwrap();
        let (mut correct, mut pos) = (0.0, [[0.0; 2]; 2]);
        for (x, y, a) in stream() {
            let (p, _) = learner.learn_one(&x, y, a);
            correct += f64::from(u8::from(p == y));
            pos[a as usize][0] += p as f64;
            pos[a as usize][1] += 1.0;
        }
        let dp = (pos[1][0] / pos[1][1] - pos[0][0] / pos[0][1]).abs();
        (correct / 6000.0, dp)
    }

    #[test]
    fn fairness_trades_accuracy_for_parity() {
        let (acc0, dp0) = run(0.0, FairnessKind::Dp);
        let (acc1, dp1) = run(10.0, FairnessKind::Dp);
        assert!(acc0 > 0.8, "the unconstrained forest learns the stream: {acc0}");
        assert!(dp0 > 0.3, "and inherits its group gap: {dp0}");
        assert!(
            dp1 < 0.5 * dp0,
            "lambda 10 at least halves the gap: {dp0} -> {dp1}"
        );
        assert!(acc1 < acc0, "at a cost in accuracy: {acc0} -> {acc1}");
        let (_, dp_eo) = run(10.0, FairnessKind::Eo);
        assert!(dp_eo < dp0);
    }

    #[test]
    fn batch_one_and_batch_n_agree_on_their_first_update() {
        let cfg = LearnerConfig {
            forest: ForestConfig {
                features: 3,
                ..ForestConfig::default()
            },
            ..LearnerConfig::default()
        };
        let data = stream();
        let mut one = OnlineLearner::new(cfg, 1).unwrap();
        let mut two = OnlineLearner::new(LearnerConfig { batch: 2, ..cfg }, 1).unwrap();
        // Batch 2 averages the gradients of two instances taken at the same parameters.
        let (x0, y0, a0) = &data[0];
        let (x1, y1, a1) = &data[1];
        two.learn_one(x0, *y0, *a0);
        assert_eq!(two.adam.steps(), 0);
        two.learn_one(x1, *y1, *a1);
        assert_eq!(two.adam.steps(), 1);
        let f = one.forest.clone();
        let (_, g0) = f.backward(x0, &f.forward(x0), *y0);
        let (_, g1) = f.backward(x1, &f.forward(x1), *y1);
        let mut mean = Grads::zeros(&cfg.forest);
        mean.add_scaled(&g0, 0.5);
        mean.add_scaled(&g1, 0.5);
        one.adam.step(&mut one.forest, &mean);
        assert_eq!(one.forest, two.forest);
    }
}
