//! Weighted averaging of a chosen subset of parameters across epochs: after epoch `e` the loop
//! adds `w_e * theta_e`; the result is `sum_e w_e theta_e / sum_e w_e` for the chosen parameters and
//! the current value for the others. PromptSRC's Gaussian prompt aggregation (GPA) is this with
//! Gaussian weights over epochs and only the prompt vectors chosen.

use crate::params::{combine_params, snapshot};
use burn::module::{Module, ParamGroup, ParamId};
use burn::tensor::Tensor;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// Which parameters to average and with what weight per epoch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AverageConfig {
    /// Regular expressions on parameter paths; a parameter matching any is averaged. Empty = all.
    #[serde(default)]
    pub params: Vec<String>,
    /// Weight of each epoch, epoch 1 first; epochs beyond the list get weight 0.
    pub weights: Vec<f64>,
}

impl AverageConfig {
    /// Gaussian weights `N(e; mu, sigma)` for epochs `e = 1..=epochs`, normalised to sum 1
    /// (PromptSRC GPA).
    pub fn gaussian(params: Vec<String>, epochs: usize, mu: f64, sigma: f64) -> Self {
        let raw: Vec<f64> = (1..=epochs)
            .map(|e| {
                let z = (e as f64 - mu) / sigma;
                (-0.5 * z * z).exp() / (sigma * (2.0 * std::f64::consts::PI).sqrt())
            })
            .collect();
        let total: f64 = raw.iter().sum();
        Self {
            params,
            weights: raw.into_iter().map(|w| w / total).collect(),
        }
    }

    /// The parameter group to average.
    pub fn group(&self) -> Result<ParamGroup, String> {
        if self.params.is_empty() {
            return Ok(ParamGroup::all());
        }
        ParamGroup::from_any_regexes(self.params.clone()).map_err(|e| format!("average params: {e:?}"))
    }

    /// Weight of epoch `epoch` (1-based).
    pub fn weight(&self, epoch: usize) -> f64 {
        epoch
            .checked_sub(1)
            .and_then(|i| self.weights.get(i))
            .copied()
            .unwrap_or(0.0)
    }
}

/// Running weighted sum of the chosen parameters.
#[derive(Debug, Clone)]
pub struct WeightedAverage {
    group: ParamGroup,
    sum: HashMap<ParamId, Tensor<1>>,
    total_weight: f64,
}

impl WeightedAverage {
    /// An empty average over `group`.
    pub fn new(group: ParamGroup) -> Self {
        Self {
            group,
            sum: HashMap::new(),
            total_weight: 0.0,
        }
    }

    /// Adds `weight * theta` for the chosen parameters of `model`.
    pub fn add<M: Module>(&mut self, model: &M, weight: f64) {
        if weight == 0.0 {
            return;
        }
        for (id, value) in snapshot(model, Some(&self.group)) {
            let term = value.mul_scalar(weight);
            let entry = match self.sum.remove(&id) {
                Some(s) => s + term,
                None => term,
            };
            self.sum.insert(id, entry);
        }
        self.total_weight += weight;
    }

    /// Sum of weights added so far.
    pub fn total_weight(&self) -> f64 {
        self.total_weight
    }

    /// `model` with the chosen parameters replaced by their weighted mean (unchanged if nothing
    /// was added yet).
    pub fn apply<M: Module>(&self, model: M) -> M {
        if self.total_weight == 0.0 {
            return model;
        }
        let inv = 1.0 / self.total_weight;
        combine_params(model, &self.sum, |_, avg| avg.mul_scalar(inv))
    }

    /// The running sums as a module of the same architecture (for checkpoints): `template` with
    /// the chosen parameters replaced by the sums.
    pub fn sums_as_module<M: Module>(&self, template: M) -> M {
        combine_params(template, &self.sum, |_, s| s)
    }

    /// Restores sums saved with [`Self::sums_as_module`].
    pub fn restore<M: Module>(group: ParamGroup, saved: &M, total_weight: f64) -> Self {
        let sum = if total_weight == 0.0 {
            HashMap::new()
        } else {
            snapshot(saved, Some(&group))
        };
        Self {
            group,
            sum,
            total_weight,
        }
    }
}
