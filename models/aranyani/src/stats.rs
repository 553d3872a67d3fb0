//! Per-group running aggregates of node decisions and their gradients, and the fairness gradient
//! they give without storing any instance.

use crate::forest::{ForestConfig, Forward, Grads};
use serde::{Deserialize, Serialize};

/// Which group-fairness constraint the node penalty enforces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum FairnessKind {
    /// Demographic parity of node decisions: E[s | a=1] = E[s | a=0] (the paper's).
    #[default]
    Dp,
    /// Equalized odds of node decisions: E[s | a=1, y] = E[s | a=0, y] for y = 0 and 1, one term
    /// per label (statistics kept per group and label).
    Eo,
}

/// The derivative used for the penalty H(F) of a node's gap F.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum PenaltyGradient {
    /// The reference's shaping: F if |F| < delta, else sign(F - delta / 2).
    #[default]
    Reference,
    /// The exact derivative of the smooth-L1 penalty H(F) = F^2 / (2 delta) for |F| < delta,
    /// |F| - delta / 2 beyond: clamp(F / delta, -1, 1) (continuous at delta, same slope as the
    /// reference beyond it).
    Exact,
}

impl PenaltyGradient {
    /// dH/dF at gap `f`.
    pub fn derivative(self, f: f64, delta: f64) -> f64 {
        match self {
            Self::Reference if f.abs() < delta => f,
            Self::Reference => (f - delta / 2.0).signum(),
            Self::Exact => (f / delta).clamp(-1.0, 1.0),
        }
    }

    /// H(F) for [`Self::Exact`] (the reference's shaping is not the derivative of a function).
    pub fn smooth_penalty(f: f64, delta: f64) -> f64 {
        if f.abs() < delta {
            f * f / (2.0 * delta)
        } else {
            f.abs() - delta / 2.0
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Cell {
    n: u64,
    /// Sum of node decisions, `[K, I]`.
    s_sum: Vec<f64>,
    /// Running mean of s(1-s) x, `[K, I, d]`.
    gw: Vec<f64>,
    /// Running mean of s(1-s), `[K, I]`.
    gb: Vec<f64>,
}

/// Running per-group statistics (O(K I d) memory, independent of the stream length).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupStats {
    kind: FairnessKind,
    d: usize,
    /// DP: cells[a]; EO: cells[2 y + a].
    cells: Vec<Cell>,
}

impl GroupStats {
    /// Empty statistics for a forest of shape `config`.
    pub fn new(config: &ForestConfig, kind: FairnessKind) -> Self {
        let nodes = config.trees * config.nodes();
        let cell = Cell {
            n: 0,
            s_sum: vec![0.0; nodes],
            gw: vec![0.0; nodes * config.features],
            gb: vec![0.0; nodes],
        };
        let count = match kind {
            FairnessKind::Dp => 2,
            FairnessKind::Eo => 4,
        };
        Self {
            kind,
            d: config.features,
            cells: vec![cell; count],
        }
    }

    /// Instances seen in group `a` (and label `y` for EO).
    pub fn count(&self, group: u8, label: usize) -> u64 {
        self.cells[self.index(group, label)].n
    }

    fn index(&self, group: u8, label: usize) -> usize {
        match self.kind {
            FairnessKind::Dp => usize::from(group & 1),
            FairnessKind::Eo => 2 * (label & 1) + usize::from(group & 1),
        }
    }

    /// Adds one instance's node decisions (from `fwd` at `x`) to its group's aggregates.
    pub fn add(&mut self, fwd: &Forward, x: &[f64], group: u8, label: usize) {
        let d = self.d;
        let idx = self.index(group, label);
        let cell = &mut self.cells[idx];
        cell.n += 1;
        let inv = 1.0 / cell.n as f64;
        for (n, &s) in fwd.s.iter().enumerate() {
            let ds = s * (1.0 - s);
            cell.s_sum[n] += s;
            cell.gb[n] += (ds - cell.gb[n]) * inv;
            for (g, x) in cell.gw[n * d..(n + 1) * d].iter_mut().zip(x) {
                *g += (ds * x - *g) * inv;
            }
        }
    }

    /// Node gaps F = E[s | a=1] - E[s | a=0] per label term (one for DP, two for EO), `None` for a
    /// term whose groups have not both been seen.
    pub fn gaps(&self) -> Vec<Option<Vec<f64>>> {
        self.pairs()
            .map(|(one, zero)| {
                (one.n > 0 && zero.n > 0).then(|| {
                    one.s_sum
                        .iter()
                        .zip(&zero.s_sum)
                        .map(|(a, b)| a / one.n as f64 - b / zero.n as f64)
                        .collect()
                })
            })
            .collect()
    }

    fn pairs(&self) -> impl Iterator<Item = (&Cell, &Cell)> {
        self.cells.chunks(2).map(|c| (&c[1], &c[0]))
    }

    /// The fairness gradient `lambda sum_terms sum_nodes H'(F) (G_1 - G_0)` for w and b (theta
    /// has none), added to `grads`. Nothing is added for a term until both its groups are seen.
    pub fn add_penalty_gradient(&self, grads: &mut Grads, lambda: f64, delta: f64, rule: PenaltyGradient) {
        let d = self.d;
        for ((one, zero), gaps) in self.pairs().zip(self.gaps()) {
            let Some(gaps) = gaps else { continue };
            for (n, &f) in gaps.iter().enumerate() {
                let c = lambda * rule.derivative(f, delta);
                grads.b[n] += c * (one.gb[n] - zero.gb[n]);
                for j in 0..d {
                    grads.w[n * d + j] += c * (one.gw[n * d + j] - zero.gw[n * d + j]);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::forest::Forest;

    fn setup() -> (Forest, Vec<(Vec<f64>, u8, usize)>) {
        let cfg = ForestConfig {
            trees: 2,
            depth: 2,
            features: 3,
            classes: 2,
        };
        let f = cfg.init(3).unwrap();
        let data = (0..40)
            .map(|i| {
                let t = i as f64;
                let x = vec![(t * 0.37).sin() * 1.5, (t * 0.11).cos(), (t * 0.73).sin() - 0.2];
                let a = u8::from(i % 3 != 0);
                let y = usize::from((t * 0.29).sin() > 0.0);
                (x, a, y)
            })
            .collect();
        (f, data)
    }

    /// The penalty over a stored batch, computed from scratch (what the aggregates avoid).
    fn batch_penalty(f: &Forest, data: &[(Vec<f64>, u8, usize)], kind: FairnessKind, delta: f64) -> f64 {
        let labels: Vec<Option<usize>> = match kind {
            FairnessKind::Dp => vec![None],
            FairnessKind::Eo => vec![Some(0), Some(1)],
        };
        let mut total = 0.0;
        for y in labels {
            let mean = |a: u8| {
                let rows: Vec<_> = data
                    .iter()
                    .filter(|r| r.1 == a && y.is_none_or(|y| r.2 == y))
                    .collect();
                let mut m = vec![0.0; f.b.len()];
                for r in &rows {
                    for (m, s) in m.iter_mut().zip(f.forward(&r.0).s) {
                        *m += s / rows.len() as f64;
                    }
                }
                m
            };
            let (m1, m0) = (mean(1), mean(0));
            total += m1
                .iter()
                .zip(&m0)
                .map(|(a, b)| PenaltyGradient::smooth_penalty(a - b, delta))
                .sum::<f64>();
        }
        total
    }

    #[test]
    fn aggregate_gradient_equals_the_batch_gradient_of_the_penalty() {
        let (f, data) = setup();
        for kind in [FairnessKind::Dp, FairnessKind::Eo] {
            // A delta small enough that some nodes sit in each regime of H.
            let delta = 0.05;
            let mut stats = GroupStats::new(&f.config, kind);
            for (x, a, y) in &data {
                stats.add(&f.forward(x), x, *a, *y);
            }
            let mut g = Grads::zeros(&f.config);
            stats.add_penalty_gradient(&mut g, 1.0, delta, PenaltyGradient::Exact);
            let h = 1e-6;
            for idx in 0..f.w.len() {
                let (mut a, mut b) = (f.clone(), f.clone());
                a.w[idx] += h;
                b.w[idx] -= h;
                let fd = (batch_penalty(&a, &data, kind, delta) - batch_penalty(&b, &data, kind, delta))
                    / (2.0 * h);
                assert!(
                    (fd - g.w[idx]).abs() < 1e-6,
                    "{kind:?} w[{idx}]: {fd} vs {}",
                    g.w[idx]
                );
            }
            for idx in 0..f.b.len() {
                let (mut a, mut b) = (f.clone(), f.clone());
                a.b[idx] += h;
                b.b[idx] -= h;
                let fd = (batch_penalty(&a, &data, kind, delta) - batch_penalty(&b, &data, kind, delta))
                    / (2.0 * h);
                assert!(
                    (fd - g.b[idx]).abs() < 1e-6,
                    "{kind:?} b[{idx}]: {fd} vs {}",
                    g.b[idx]
                );
            }
            assert!(g.theta.iter().all(|&v| v == 0.0));
        }
    }

    #[test]
    fn reference_shaping_and_first_group() {
        assert_eq!(PenaltyGradient::Reference.derivative(0.004, 0.01), 0.004);
        assert_eq!(PenaltyGradient::Reference.derivative(0.02, 0.01), 1.0);
        assert_eq!(PenaltyGradient::Reference.derivative(-0.02, 0.01), -1.0);
        // The -delta/2 of the reference only acts where |F| >= delta, where it cannot flip the sign.
        assert_eq!(PenaltyGradient::Exact.derivative(0.005, 0.01), 0.5);
        let (f, data) = setup();
        let mut stats = GroupStats::new(&f.config, FairnessKind::Dp);
        let (x, a, y) = data.iter().find(|r| r.1 == 1).unwrap();
        stats.add(&f.forward(x), x, *a, *y);
        let mut g = Grads::zeros(&f.config);
        stats.add_penalty_gradient(&mut g, 10.0, 0.01, PenaltyGradient::Reference);
        // Only one group seen: no fairness term yet.
        assert!(g.w.iter().chain(&g.b).all(|&v| v == 0.0));
        assert_eq!((stats.count(1, 0), stats.count(0, 0)), (1, 0));
    }
}
