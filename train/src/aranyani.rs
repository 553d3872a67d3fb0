//! Aranyani's online protocol: one prequential pass over a stream (predict, score, then learn),
//! with the fairness metrics of the stream and of a held-out set.

use serde::Serialize;
use zoo_aranyani::{LearnerConfig, OnlineLearner};
use zoo_datasets::tabular::TabularItem;
use zoo_eval::metrics::Fairness;

/// What one pass measured.
#[derive(Debug, Clone, Serialize)]
pub struct PassResult {
    /// Penalty weight.
    pub lambda: f64,
    /// Seed of the forest's initialisation.
    pub seed: u64,
    /// Prequential accuracy over the stream.
    pub stream_accuracy: f64,
    /// Demographic-parity gap of the stream's predictions.
    pub stream_dp: f64,
    /// Equalized-odds gap of the stream's predictions.
    pub stream_eo: f64,
    /// Mean cross-entropy over the stream.
    pub stream_loss: f64,
    /// Held-out accuracy with soft inference (after the pass).
    pub test_accuracy: Option<f64>,
    /// Held-out DP gap, soft inference.
    pub test_dp: Option<f64>,
    /// Held-out EO gap, soft inference.
    pub test_eo: Option<f64>,
    /// Held-out accuracy with hard inference (argmax path).
    pub test_accuracy_hard: Option<f64>,
    /// Held-out DP gap, hard inference.
    pub test_dp_hard: Option<f64>,
    /// Instances learned per second.
    pub instances_per_second: f64,
}

/// One online pass of a fresh learner over `stream` in order, then evaluation on `test`.
pub fn online_pass(
    config: LearnerConfig,
    seed: u64,
    stream: &[TabularItem],
    test: &[TabularItem],
) -> anyhow::Result<(OnlineLearner, PassResult)> {
    let mut learner = OnlineLearner::new(config, seed)?;
    let mut m = Fairness::new();
    let mut loss = 0.0;
    let mut x = Vec::new();
    let t = std::time::Instant::now();
    for item in stream {
        x.clear();
        x.extend(item.features.iter().map(|&v| f64::from(v)));
        let (p, l) = learner.learn_one(&x, item.label, item.group);
        m.add(p.min(1), item.label.min(1), item.group)?;
        loss += l;
    }
    let seconds = t.elapsed().as_secs_f64();
    let (soft, hard) = zoo_eval::aranyani::evaluate(&learner.forest, test)?;
    let has_test = !test.is_empty();
    let result = PassResult {
        lambda: config.lambda,
        seed,
        stream_accuracy: m.accuracy(),
        stream_dp: m.dp_gap(),
        stream_eo: m.eo_gap(),
        stream_loss: loss / stream.len().max(1) as f64,
        test_accuracy: has_test.then(|| soft.accuracy()),
        test_dp: has_test.then(|| soft.dp_gap()),
        test_eo: has_test.then(|| soft.eo_gap()),
        test_accuracy_hard: has_test.then(|| hard.accuracy()),
        test_dp_hard: has_test.then(|| hard.dp_gap()),
        instances_per_second: stream.len() as f64 / seconds.max(1e-9),
    };
    Ok((learner, result))
}
