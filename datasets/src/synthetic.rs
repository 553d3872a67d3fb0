//! Generated datasets: the embedded defaults that let every binary run with no download.

use crate::rng::rng_for;
use crate::{DataError, InMemory, LabeledVector};
use rand::RngExt;
use rand_distr::{Distribution, Normal};
use serde::{Deserialize, Serialize};

/// Interleaved 2-D spirals, one arm per class: a small problem that a linear model cannot solve
/// (about 1/classes accuracy) and a two-layer perceptron solves almost perfectly.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Spirals {
    /// Number of arms (classes).
    pub classes: usize,
    /// Training points per arm.
    pub points_per_class: usize,
    /// Test points per arm (an independent draw).
    pub test_points_per_class: usize,
    /// Standard deviation of the Gaussian noise added to the angle, in radians.
    pub noise: f32,
    /// Number of half-turns each arm makes.
    pub turns: f32,
    /// Seed of the draw (independent of the training seed, so runs with different training
    /// seeds see the same data).
    pub seed: u64,
}

impl Default for Spirals {
    fn default() -> Self {
        Self {
            classes: 3,
            points_per_class: 200,
            test_points_per_class: 100,
            noise: 0.2,
            turns: 1.5,
            seed: 0,
        }
    }
}

impl Spirals {
    /// Checks the parameters.
    pub fn validate(&self) -> crate::Result<()> {
        if self.classes < 2 || self.points_per_class == 0 || self.test_points_per_class == 0 {
            return Err(DataError::invalid(
                "spirals: need at least 2 classes and 1 point per class in each split",
            ));
        }
        if !(self.noise.is_finite() && self.noise >= 0.0 && self.turns.is_finite()) {
            return Err(DataError::invalid(
                "spirals: noise must be finite and non-negative, turns finite",
            ));
        }
        Ok(())
    }

    /// The training points, arm after arm. Radius grows linearly from 0 to 1 along each arm.
    pub fn generate(&self) -> InMemory<LabeledVector> {
        self.draw(self.points_per_class, self.seed)
    }

    fn draw(&self, points_per_class: usize, seed: u64) -> InMemory<LabeledVector> {
        let mut rng = rng_for(seed, &[0x5B1A]);
        let noise = Normal::new(0.0f32, self.noise.max(0.0)).expect("finite noise");
        let mut items = Vec::with_capacity(self.classes * points_per_class);
        for class in 0..self.classes {
            let offset = class as f32 * std::f32::consts::TAU / self.classes as f32;
            for i in 0..points_per_class {
                let r = (i as f32 + 0.5) / points_per_class as f32;
                let jitter = if self.noise > 0.0 {
                    noise.sample(&mut rng)
                } else {
                    0.0
                };
                let theta = offset + r * self.turns * std::f32::consts::PI + jitter;
                items.push(LabeledVector {
                    features: vec![r * theta.cos(), r * theta.sin()],
                    label: class,
                });
            }
        }
        InMemory::new(items)
    }

    /// Training and test sets drawn from independent streams of the same distribution.
    pub fn split(&self) -> (InMemory<LabeledVector>, InMemory<LabeledVector>) {
        let test_seed = rng_for(self.seed, &[0x7E57]).random();
        (self.generate(), self.draw(self.test_points_per_class, test_seed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Dataset;

    #[test]
    fn spirals_are_deterministic_balanced_and_bounded() {
        let s = Spirals {
            seed: 3,
            ..Default::default()
        };
        let a = s.generate();
        let b = s.generate();
        assert_eq!(a.items(), b.items());
        assert_eq!(a.len(), 600);
        for c in 0..3 {
            assert_eq!(a.items().iter().filter(|i| i.label == c).count(), 200);
        }
        assert!(
            a.items()
                .iter()
                .all(|i| i.features.iter().all(|v| v.abs() <= 1.0))
        );
        assert_ne!(Spirals { seed: 4, ..s }.generate().items(), a.items());
        assert!(s.validate().is_ok());
        assert!(Spirals { classes: 1, ..s }.validate().is_err());
        let (train, test) = Spirals {
            test_points_per_class: 50,
            ..s
        }
        .split();
        assert_eq!(train.items(), a.items());
        assert_eq!(test.len(), 150);
        assert_ne!(test.items()[0], train.items()[0]);
    }
}
