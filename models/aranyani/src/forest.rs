//! The soft oblique forest, its exact gradients and Keras' Adam.

use rand::SeedableRng;
use rand_distr::{Distribution, StandardNormal};
use serde::{Deserialize, Serialize};

/// Shape of a forest (defaults: the reference's sweep configs, K = 3 trees of depth 4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ForestConfig {
    /// Trees K.
    pub trees: usize,
    /// Depth h: 2^h - 1 internal nodes and 2^h leaves per tree.
    pub depth: usize,
    /// Input features d.
    pub features: usize,
    /// Classes C.
    pub classes: usize,
}

impl Default for ForestConfig {
    fn default() -> Self {
        Self {
            trees: 3,
            depth: 4,
            features: 1,
            classes: 2,
        }
    }
}

/// A forest that cannot be built.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ForestError {
    /// Invalid shape.
    #[error("aranyani forest: {0}")]
    Invalid(String),
}

impl ForestConfig {
    /// Internal nodes per tree, 2^h - 1.
    pub fn nodes(&self) -> usize {
        (1 << self.depth) - 1
    }

    /// Leaves per tree, 2^h.
    pub fn leaves(&self) -> usize {
        1 << self.depth
    }

    /// Checks the shape (the reference asserts h > 1).
    pub fn validate(&self) -> Result<(), ForestError> {
        if self.trees == 0 || self.features == 0 || self.classes < 2 || !(2..=16).contains(&self.depth) {
            return Err(ForestError::Invalid(format!(
                "need trees >= 1, features >= 1, classes >= 2 and depth in 2..=16, got {self:?}"
            )));
        }
        Ok(())
    }

    /// A forest with W, b ~ N(0, 1) and leaf values ~ U[0, 1), as the reference initialises them.
    pub fn init(&self, seed: u64) -> Result<Forest, ForestError> {
        self.validate()?;
        let mut rng = rand::rngs::ChaCha8Rng::seed_from_u64(seed);
        let (k, i, l) = (self.trees, self.nodes(), self.leaves());
        let mut normal = |n: usize| -> Vec<f64> { (0..n).map(|_| StandardNormal.sample(&mut rng)).collect() };
        let w = normal(k * i * self.features);
        let b = normal(k * i);
        let theta = (0..k * l * self.classes)
            .map(|_| rand::RngExt::random::<f64>(&mut rng))
            .collect();
        Ok(Forest {
            config: *self,
            w,
            b,
            theta,
        })
    }
}

/// The parameters: `w[t][i][j]` (tree, node, feature), `b[t][i]`, `theta[t][l][c]`, flattened.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Forest {
    /// Shape.
    pub config: ForestConfig,
    /// Node weights, `[K, I, d]`.
    pub w: Vec<f64>,
    /// Node biases, `[K, I]`.
    pub b: Vec<f64>,
    /// Leaf values, `[K, L, C]` (class probabilities are their softmax).
    pub theta: Vec<f64>,
}

/// What one forward pass computes (kept for the backward pass and the fairness statistics).
#[derive(Debug, Clone, PartialEq)]
pub struct Forward {
    /// Node decisions s (probability of going left), `[K, I]`.
    pub s: Vec<f64>,
    /// Leaf probabilities p, `[K, L]`.
    pub p: Vec<f64>,
    /// softmax(theta), `[K, L, C]`.
    pub q: Vec<f64>,
    /// Forest output: mean over trees of sum_l p_l q_l, `[C]`.
    pub f: Vec<f64>,
}

/// Gradients with the layout of [`Forest`]'s parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct Grads {
    /// d/dw, `[K, I, d]`.
    pub w: Vec<f64>,
    /// d/db, `[K, I]`.
    pub b: Vec<f64>,
    /// d/dtheta, `[K, L, C]`.
    pub theta: Vec<f64>,
}

impl Grads {
    /// Zero gradients for `config`.
    pub fn zeros(config: &ForestConfig) -> Self {
        let (k, i, l) = (config.trees, config.nodes(), config.leaves());
        Self {
            w: vec![0.0; k * i * config.features],
            b: vec![0.0; k * i],
            theta: vec![0.0; k * l * config.classes],
        }
    }

    /// `self += scale * other`.
    pub fn add_scaled(&mut self, other: &Self, scale: f64) {
        for (a, b) in [
            (&mut self.w, &other.w),
            (&mut self.b, &other.b),
            (&mut self.theta, &other.theta),
        ] {
            a.iter_mut().zip(b).for_each(|(a, b)| *a += scale * b);
        }
    }
}

const LEAF_EPS: f64 = 1e-8;
const CLIP: f64 = 1e-7;

fn sigmoid(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

/// +1 if leaf `l` lies in node `i`'s left subtree, -1 in its right subtree, 0 otherwise (heap
/// order: node k, 1-based, has children 2k and 2k + 1; leaves are 2^h ..= 2^(h+1) - 1).
fn route(depth: usize, i: usize, l: usize) -> i8 {
    let node = i + 1;
    let leaf = (1usize << depth) + l;
    // The ancestor of `leaf` at node's level, and the child of node on the way.
    let node_level = usize::BITS - 1 - node.leading_zeros();
    let below = depth as u32 - node_level;
    if leaf >> below != node {
        return 0;
    }
    if (leaf >> (below - 1)) & 1 == 0 { 1 } else { -1 }
}

impl Forest {
    /// The forward pass on one instance `x` (`d` values).
    pub fn forward(&self, x: &[f64]) -> Forward {
        let c = self.config;
        let (k, ni, nl, d, nc) = (c.trees, c.nodes(), c.leaves(), c.features, c.classes);
        debug_assert_eq!(x.len(), d);
        let mut s = vec![0.0; k * ni];
        for (n, s) in s.iter_mut().enumerate() {
            let w = &self.w[n * d..(n + 1) * d];
            *s = sigmoid(w.iter().zip(x).map(|(w, x)| w * x).sum::<f64>() + self.b[n]);
        }
        let mut p = vec![1.0; k * nl];
        for t in 0..k {
            for l in 0..nl {
                let mut prod = 1.0;
                for i in 0..ni {
                    let si = s[t * ni + i];
                    let phi = match route(c.depth, i, l) {
                        1 => si,
                        -1 => 1.0 - si,
                        _ => 1.0,
                    };
                    prod *= phi + LEAF_EPS;
                }
                p[t * nl + l] = prod;
            }
        }
        let mut q = vec![0.0; k * nl * nc];
        for (row, out) in self.theta.chunks(nc).zip(q.chunks_mut(nc)) {
            softmax_into(row, out);
        }
        let mut f = vec![0.0; nc];
        for (tl, &pl) in p.iter().enumerate() {
            for cls in 0..nc {
                f[cls] += pl * q[tl * nc + cls] / k as f64;
            }
        }
        Forward { s, p, q, f }
    }

    /// Cross-entropy of the forest output for class `y`: Keras' sparse categorical cross-entropy
    /// on probabilities, `-log(clip(f_y) / sum_c clip(f_c))`.
    pub fn loss(fwd: &Forward, y: usize) -> f64 {
        let clipped: Vec<f64> = fwd.f.iter().map(|v| v.clamp(CLIP, 1.0 - CLIP)).collect();
        -(clipped[y] / clipped.iter().sum::<f64>()).ln()
    }

    /// Loss and exact gradients of the cross-entropy for class `y` at `x`.
    pub fn backward(&self, x: &[f64], fwd: &Forward, y: usize) -> (f64, Grads) {
        let c = self.config;
        let (k, ni, nl, d, nc) = (c.trees, c.nodes(), c.leaves(), c.features, c.classes);
        let loss = Self::loss(fwd, y);
        // dL/df_c through the clip and the renormalisation.
        let clipped: Vec<f64> = fwd.f.iter().map(|v| v.clamp(CLIP, 1.0 - CLIP)).collect();
        let total: f64 = clipped.iter().sum();
        let gf: Vec<f64> = (0..nc)
            .map(|cls| {
                let inside = fwd.f[cls] > CLIP && fwd.f[cls] < 1.0 - CLIP;
                let g = 1.0 / total - if cls == y { 1.0 / clipped[y] } else { 0.0 };
                if inside { g } else { 0.0 }
            })
            .collect();
        let mut grads = Grads::zeros(&c);
        let inv_k = 1.0 / k as f64;
        let mut gp = vec![0.0; k * nl];
        for (tl, gp) in gp.iter_mut().enumerate() {
            let q = &fwd.q[tl * nc..(tl + 1) * nc];
            let gq: f64 = q.iter().zip(&gf).map(|(q, g)| q * g).sum();
            *gp = inv_k * gq;
            for cls in 0..nc {
                grads.theta[tl * nc + cls] = inv_k * fwd.p[tl] * q[cls] * (gf[cls] - gq);
            }
        }
        for t in 0..k {
            for i in 0..ni {
                let si = fwd.s[t * ni + i];
                let mut gs = 0.0;
                for l in 0..nl {
                    let sign = route(c.depth, i, l);
                    if sign == 0 {
                        continue;
                    }
                    let phi = if sign == 1 { si } else { 1.0 - si };
                    gs += gp[t * nl + l] * f64::from(sign) * fwd.p[t * nl + l] / (phi + LEAF_EPS);
                }
                let gz = gs * si * (1.0 - si);
                let n = t * ni + i;
                grads.b[n] = gz;
                for (g, x) in grads.w[n * d..(n + 1) * d].iter_mut().zip(x) {
                    *g = gz * x;
                }
            }
        }
        (loss, grads)
    }

    /// Class with the highest soft forest output.
    pub fn predict(&self, x: &[f64]) -> usize {
        argmax(&self.forward(x).f)
    }

    /// Hard inference: every tree follows its most likely path (left when s >= 0.5) to one leaf;
    /// the class with the highest mean of those leaves' class probabilities.
    pub fn predict_hard(&self, x: &[f64]) -> usize {
        let c = self.config;
        let (ni, d, nc) = (c.nodes(), c.features, c.classes);
        let mut f = vec![0.0; nc];
        for t in 0..c.trees {
            let mut node = 1usize;
            while node <= ni {
                let n = t * ni + node - 1;
                let z = self.w[n * d..(n + 1) * d]
                    .iter()
                    .zip(x)
                    .map(|(w, x)| w * x)
                    .sum::<f64>()
                    + self.b[n];
                node = 2 * node + usize::from(z < 0.0);
            }
            let l = node - (1 << c.depth);
            let row = &self.theta[(t * c.leaves() + l) * nc..(t * c.leaves() + l + 1) * nc];
            let mut q = vec![0.0; nc];
            softmax_into(row, &mut q);
            f.iter_mut().zip(&q).for_each(|(f, q)| *f += q);
        }
        argmax(&f)
    }
}

/// `out = softmax(row)`, shifted by the row's maximum for stability.
fn softmax_into(row: &[f64], out: &mut [f64]) {
    let m = row.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let z: f64 = row.iter().map(|v| (v - m).exp()).sum();
    for (o, v) in out.iter_mut().zip(row) {
        *o = (v - m).exp() / z;
    }
}

/// Index of the largest value (the first on ties).
pub(crate) fn argmax(v: &[f64]) -> usize {
    let mut best = 0;
    for (i, &x) in v.iter().enumerate() {
        if x > v[best] {
            best = i;
        }
    }
    best
}

/// Keras' Adam (`tf.keras.optimizers.Adam`): m and v as usual, step size
/// `lr sqrt(1 - beta2^t) / (1 - beta1^t)`, update `lr_t m / (sqrt(v) + eps)` with eps 1e-7.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Adam {
    /// Learning rate (reference: 2e-3).
    pub lr: f64,
    /// beta1 (0.9).
    pub beta1: f64,
    /// beta2 (0.999).
    pub beta2: f64,
    /// eps (Keras: 1e-7).
    pub eps: f64,
    t: u64,
    m: Vec<f64>,
    v: Vec<f64>,
}

impl Adam {
    /// Keras defaults with learning rate `lr`.
    pub fn new(lr: f64) -> Self {
        Self {
            lr,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-7,
            t: 0,
            m: Vec::new(),
            v: Vec::new(),
        }
    }

    /// Steps taken.
    pub fn steps(&self) -> u64 {
        self.t
    }

    /// One update of `forest` with `grads`.
    pub fn step(&mut self, forest: &mut Forest, grads: &Grads) {
        let n = forest.w.len() + forest.b.len() + forest.theta.len();
        if self.m.len() != n {
            self.m = vec![0.0; n];
            self.v = vec![0.0; n];
        }
        self.t += 1;
        let t = self.t as i32;
        let lr_t = self.lr * (1.0 - self.beta2.powi(t)).sqrt() / (1.0 - self.beta1.powi(t));
        let params = forest
            .w
            .iter_mut()
            .chain(forest.b.iter_mut())
            .chain(forest.theta.iter_mut());
        let gs = grads.w.iter().chain(&grads.b).chain(&grads.theta);
        for (((p, g), m), v) in params.zip(gs).zip(self.m.iter_mut()).zip(self.v.iter_mut()) {
            *m = self.beta1 * *m + (1.0 - self.beta1) * g;
            *v = self.beta2 * *v + (1.0 - self.beta2) * g * g;
            *p -= lr_t * *m / (v.sqrt() + self.eps);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn forest() -> (Forest, Vec<f64>) {
        let cfg = ForestConfig {
            trees: 2,
            depth: 3,
            features: 4,
            classes: 3,
        };
        (cfg.init(7).unwrap(), vec![0.3, -1.2, 0.8, 0.05])
    }

    #[test]
    fn routing_and_leaf_probabilities() {
        // Depth 2: node 0 (root) sends leaves 0, 1 left and 2, 3 right; node 1 splits 0/1.
        assert_eq!((0..4).map(|l| route(2, 0, l)).collect::<Vec<_>>(), [1, 1, -1, -1]);
        assert_eq!((0..4).map(|l| route(2, 1, l)).collect::<Vec<_>>(), [1, -1, 0, 0]);
        assert_eq!((0..4).map(|l| route(2, 2, l)).collect::<Vec<_>>(), [0, 0, 1, -1]);
        let (f, x) = forest();
        let fwd = f.forward(&x);
        // p against the explicit ancestor product (fdt_test.py's check), the 1e-8 included.
        let s = |i: usize| fwd.s[i];
        let e = LEAF_EPS;
        let nonanc = (1.0 + e).powi(4); // 7 nodes, 3 ancestors
        let p5 = (1.0 - s(0) + e) * (s(2) + e) * (1.0 - s(5) + e) * nonanc;
        assert!((fwd.p[5] - p5).abs() < 1e-15);
        for t in 0..2 {
            let sum: f64 = fwd.p[t * 8..(t + 1) * 8].iter().sum();
            assert!((sum - 1.0).abs() < 1e-6);
        }
        assert!((fwd.f.iter().sum::<f64>() - 1.0).abs() < 1e-6);
    }

    #[test]
    fn gradients_match_finite_differences() {
        let (f, x) = forest();
        for y in 0..3 {
            let (_, g) = f.backward(&x, &f.forward(&x), y);
            let h = 1e-6;
            let loss = |f: &Forest| Forest::loss(&f.forward(&x), y);
            let check = |get: &dyn Fn(&mut Forest) -> &mut Vec<f64>, grad: &[f64], name: &str| {
                for (idx, &want) in grad.iter().enumerate() {
                    let (mut a, mut b) = (f.clone(), f.clone());
                    get(&mut a)[idx] += h;
                    get(&mut b)[idx] -= h;
                    let fd = (loss(&a) - loss(&b)) / (2.0 * h);
                    assert!((fd - want).abs() < 1e-7, "{name}[{idx}]: {fd} vs {}", want);
                }
            };
            check(&|f| &mut f.w, &g.w, "w");
            check(&|f| &mut f.b, &g.b, "b");
            check(&|f| &mut f.theta, &g.theta, "theta");
        }
    }

    #[test]
    fn hard_inference_follows_the_argmax_path() {
        let (mut f, x) = forest();
        // Make every node decisive: the soft and the hard forest then agree.
        f.w.iter_mut().for_each(|w| *w *= 200.0);
        f.b.iter_mut().for_each(|b| *b *= 200.0);
        assert_eq!(f.predict(&x), f.predict_hard(&x));
    }

    #[test]
    fn keras_adam_step() {
        let cfg = ForestConfig {
            trees: 1,
            depth: 2,
            features: 1,
            classes: 2,
        };
        let mut f = cfg.init(0).unwrap();
        let before = f.clone();
        let mut g = Grads::zeros(&cfg);
        g.b[0] = 0.5;
        let mut adam = Adam::new(2e-3);
        adam.step(&mut f, &g);
        // First step: m = 0.05, v = 0.00025, lr_t = 2e-3 sqrt(0.001) / 0.1.
        let lr_t = 2e-3 * 0.001f64.sqrt() / 0.1;
        let want = before.b[0] - lr_t * 0.05 / (0.00025f64.sqrt() + 1e-7);
        assert!((f.b[0] - want).abs() < 1e-15);
        assert_eq!(f.b[1], before.b[1]);
    }

    #[test]
    fn bad_shapes_are_errors() {
        let err = ForestConfig {
            depth: 1,
            ..ForestConfig::default()
        }
        .init(0)
        .unwrap_err();
        assert!(err.to_string().contains("depth"));
    }
}
