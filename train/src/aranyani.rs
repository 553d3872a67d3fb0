//! Aranyani's online protocol: one prequential pass over a stream (predict, score, then learn),
//! with the fairness metrics of the stream and of a held-out set. A pass can checkpoint its whole
//! state (learner, position, running metrics) every N instances and continue from it after a
//! crash, ending exactly where an uninterrupted pass ends.

use anyhow::Context;
use serde::{Deserialize, Serialize};
use std::path::Path;
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

/// Where a pass keeps its checkpoint and how often it writes it.
#[derive(Debug, Clone, Copy)]
pub struct Checkpointing<'a> {
    /// The checkpoint file (JSON; written atomically). If it exists, the pass continues from it.
    pub path: &'a Path,
    /// Write it every this many instances (rounded up to whole updates of `batch` instances),
    /// and at the end of the pass.
    pub every: usize,
}

/// Everything a pass needs to continue: the learner (forest, Adam, group aggregates), how far
/// into the stream it is, and the running metrics. Written only between updates, when no
/// gradient is pending.
#[derive(Serialize, Deserialize)]
struct PassState {
    lambda: f64,
    seed: u64,
    stream_len: usize,
    position: usize,
    learner: OnlineLearner,
    metrics: Fairness,
    loss: f64,
}

/// Marks a float stored as its IEEE-754 bits: JSON text does not read every f64 back exactly
/// (serde_json rounds some by an ulp without its `float_roundtrip` feature), and resuming must.
const BITS: &str = "f64:";

/// `v` with every float replaced by a string of its bits (see [`floats_from_bits`]).
pub fn floats_to_bits(v: serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match v {
        Value::Number(n) if n.is_f64() => {
            Value::String(format!("{BITS}{:016x}", n.as_f64().unwrap_or(0.0).to_bits()))
        }
        Value::Array(a) => Value::Array(a.into_iter().map(floats_to_bits).collect()),
        Value::Object(o) => Value::Object(o.into_iter().map(|(k, v)| (k, floats_to_bits(v))).collect()),
        other => other,
    }
}

/// Undoes [`floats_to_bits`].
pub fn floats_from_bits(v: serde_json::Value) -> anyhow::Result<serde_json::Value> {
    use serde_json::Value;
    Ok(match v {
        Value::String(s) if s.starts_with(BITS) => {
            let bits =
                u64::from_str_radix(&s[BITS.len()..], 16).with_context(|| format!("bad float `{s}`"))?;
            let x = f64::from_bits(bits);
            Value::Number(serde_json::Number::from_f64(x).with_context(|| format!("non-finite float `{s}`"))?)
        }
        Value::Array(a) => Value::Array(
            a.into_iter()
                .map(floats_from_bits)
                .collect::<anyhow::Result<_>>()?,
        ),
        Value::Object(o) => Value::Object(
            o.into_iter()
                .map(|(k, v)| Ok((k, floats_from_bits(v)?)))
                .collect::<anyhow::Result<_>>()?,
        ),
        other => other,
    })
}

/// One online pass of a fresh learner (or the one `checkpoint` holds) over `stream` in order,
/// then evaluation on `test`.
pub fn online_pass(
    config: LearnerConfig,
    seed: u64,
    stream: &[TabularItem],
    test: &[TabularItem],
    checkpoint: Option<Checkpointing<'_>>,
) -> anyhow::Result<(OnlineLearner, PassResult)> {
    let mut state = match checkpoint.filter(|c| c.path.exists()) {
        Some(c) => {
            let text =
                std::fs::read_to_string(c.path).with_context(|| format!("reading {}", c.path.display()))?;
            let s: PassState = serde_json::from_str(&text)
                .map_err(anyhow::Error::from)
                .and_then(|v| Ok(serde_json::from_value(floats_from_bits(v)?)?))
                .with_context(|| format!("{}: not a pass checkpoint", c.path.display()))?;
            anyhow::ensure!(
                s.lambda == config.lambda
                    && s.seed == seed
                    && s.stream_len == stream.len()
                    && s.learner.config == config,
                "{}: a checkpoint of another run (lambda {}, seed {}, {} instances)",
                c.path.display(),
                s.lambda,
                s.seed,
                s.stream_len
            );
            s
        }
        None => PassState {
            lambda: config.lambda,
            seed,
            stream_len: stream.len(),
            position: 0,
            learner: OnlineLearner::new(config, seed)?,
            metrics: Fairness::new(),
            loss: 0.0,
        },
    };
    let save = |state: &PassState, c: &Checkpointing<'_>| -> anyhow::Result<()> {
        let value = floats_to_bits(serde_json::to_value(state)?);
        zoo_weights::atomic::write_json_atomic(c.path, &value)
            .with_context(|| format!("writing {}", c.path.display()))
    };
    // Checkpoints fall on update boundaries, where the learner has no pending gradient.
    let every = checkpoint.map(|c| c.every.max(1).next_multiple_of(config.batch.max(1)));
    let mut x = Vec::new();
    let start = state.position;
    let t = std::time::Instant::now();
    for item in &stream[start..] {
        x.clear();
        x.extend(item.features.iter().map(|&v| f64::from(v)));
        let (p, l) = state.learner.learn_one(&x, item.label, item.group);
        state.metrics.add(p.min(1), item.label.min(1), item.group)?;
        state.loss += l;
        state.position += 1;
        if let (Some(c), Some(n)) = (checkpoint, every)
            && state.position.is_multiple_of(n)
            && state.position < stream.len()
        {
            save(&state, &c)?;
        }
    }
    let seconds = t.elapsed().as_secs_f64();
    if let Some(c) = checkpoint {
        save(&state, &c)?;
    }
    let PassState {
        learner,
        metrics: m,
        loss,
        ..
    } = state;
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
        instances_per_second: (stream.len() - start) as f64 / seconds.max(1e-9),
    };
    Ok((learner, result))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checkpoint_floats_read_back_exactly() {
        let config = LearnerConfig {
            forest: zoo_aranyani::ForestConfig {
                features: 3,
                ..Default::default()
            },
            lambda: 1.0,
            ..Default::default()
        };
        let mut learner = OnlineLearner::new(config, 3).unwrap();
        for i in 0..200 {
            let t = f64::from(i);
            learner.learn_one(
                &[t.sin(), (t * 0.3).cos(), 0.1 * t],
                i as usize % 2,
                (i % 3 == 0) as u8,
            );
        }
        let text = serde_json::to_string(&floats_to_bits(serde_json::to_value(&learner).unwrap())).unwrap();
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        let back: OnlineLearner = serde_json::from_value(floats_from_bits(v).unwrap()).unwrap();
        assert!(back == learner, "round trip changed the learner");
    }
}
