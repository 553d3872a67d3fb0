//! Evaluation of the demo perceptron (`zoo-mlp`) on the spiral dataset.

use crate::metrics::Classification;
use serde::{Deserialize, Serialize};
use zoo_datasets::synthetic::Spirals;
use zoo_datasets::{Batcher, Dataset, LabeledVector, VectorBatcher};
use zoo_mlp::{Mlp, MlpConfig};

/// Family name written in run.json.
pub const FAMILY: &str = "mlp";

/// The parts of an MLP run config that evaluation needs (run.json's `train` section is ignored).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct MlpSetup {
    /// Model shape.
    pub model: MlpConfig,
    /// Dataset.
    pub data: Spirals,
    /// The training section of a run config, accepted so that the same file serves training and
    /// evaluation; evaluation does not use it.
    #[serde(skip_serializing)]
    pub train: Option<serde_json::Value>,
}

impl Default for MlpSetup {
    fn default() -> Self {
        Self {
            model: MlpConfig::new(),
            data: Spirals::default(),
            train: None,
        }
    }
}

impl MlpSetup {
    /// Checks that model and data fit together.
    pub fn validate(&self) -> anyhow::Result<()> {
        self.data.validate()?;
        anyhow::ensure!(
            self.model.inputs == 2 && self.model.classes == self.data.classes,
            "model.inputs must be 2 and model.classes must equal data.classes ({}), got inputs {} and classes {}",
            self.data.classes,
            self.model.inputs,
            self.model.classes
        );
        anyhow::ensure!(self.model.hidden > 0, "model.hidden must be at least 1");
        Ok(())
    }
}

/// Top-1/top-k accuracy, per-class accuracy and confusion of `model` on `data`.
pub fn evaluate(
    model: &Mlp,
    data: &dyn Dataset<LabeledVector>,
    device: &burn::tensor::Device,
    batch_size: usize,
) -> anyhow::Result<Classification> {
    let classes = model.classes();
    let mut metrics = Classification::new(classes, &[2.min(classes)]);
    let indices: Vec<usize> = (0..data.len()).collect();
    for chunk in indices.chunks(batch_size.max(1)) {
        let items = chunk
            .iter()
            .map(|&i| data.get(i))
            .collect::<Result<Vec<_>, _>>()?;
        let batch = VectorBatcher.batch(items, device);
        metrics.update_tensors(model.forward(batch.features), batch.labels)?;
    }
    Ok(metrics)
}

/// Metrics as a JSON object (accuracy, top-2, mean per-class accuracy, per-class accuracies).
pub fn metrics_json(m: &Classification) -> serde_json::Map<String, serde_json::Value> {
    let mut out = serde_json::Map::new();
    out.insert("accuracy".into(), m.accuracy().into());
    for &k in m.ks().iter().filter(|&&k| k > 1) {
        out.insert(format!("top{k}"), m.topk(k).unwrap_or(0.0).into());
    }
    out.insert("mean_class_accuracy".into(), m.mean_class_accuracy().into());
    out.insert("samples".into(), m.total().into());
    let per_class: Vec<serde_json::Value> = m
        .per_class_accuracy()
        .into_iter()
        .map(|a| a.map_or(serde_json::Value::Null, Into::into))
        .collect();
    out.insert("per_class_accuracy".into(), per_class.into());
    out
}
