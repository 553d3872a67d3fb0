//! Aranyani: soft oblique decision forests with a node-level group-fairness penalty whose gradient
//! is formed from per-group running aggregates, so no instance is stored.
//!
//! Chowdhury et al., *Enhancing Group Fairness in Online Settings Using Oblique Decision Forests*,
//! ICLR 2024 (reference code brcsomnath/Aranyani, `src/fdt.py`, `src/forest.py`,
//! `src/aranyani.py`). This crate holds the model and its gradients in `f64`, written out by hand:
//! the method updates on one instance at a time, where a tensor framework's per-operation
//! overhead dominates a model this small.
//!
//! * [`Forest`]: K trees of depth h; node i of a tree routes left with `s_i = sigmoid(w_i . x + b_i)`,
//!   leaf l is reached with `p_l = prod_i (phi_il + 1e-8)` (phi = s_i, 1 - s_i or 1 for nodes that
//!   are not ancestors, the 1e-8 on every factor as in the reference), the tree outputs
//!   `sum_l p_l softmax(theta_l)` and the forest the mean of its trees; the loss is the
//!   cross-entropy of that probability vector (Keras' sparse categorical cross-entropy on
//!   probabilities: clipped to [1e-7, 1 - 1e-7] and renormalised).
//! * [`GroupStats`]: per protected group (and, for equalized odds, per label) the count, the sum of
//!   every node decision and the running means of `ds/dw = s(1-s) x` and `ds/db = s(1-s)`; their
//!   differences give the gradient of `lambda sum_nodes H(E[s | a=1] - E[s | a=0])`.
//! * [`Adam`]: Keras' Adam (eps 1e-7, bias correction folded into the step size).
//! * [`OnlineLearner`]: the prequential update, predict then learn, one instance (or a small
//!   batch) at a time.
#![forbid(unsafe_code)]

mod forest;
mod learner;
mod stats;

pub use forest::{Adam, Forest, ForestConfig, ForestError, Forward, Grads};
pub use learner::{LearnerConfig, OnlineLearner};
pub use stats::{FairnessKind, GroupStats, PenaltyGradient};
