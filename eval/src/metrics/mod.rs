//! The one metrics module of burnzoo. Metrics accumulate over batches on the host (they are cheap
//! next to the forward pass) and are exact: counts are integers, sums are `f64`.

pub mod coco;

use burn::tensor::{Int, Tensor};

/// A metric update that does not fit the metric.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum MetricError {
    /// Inputs with inconsistent sizes.
    #[error("metric inputs disagree: {0}")]
    Shape(String),
    /// A class label outside `0..classes`.
    #[error("label {label} is outside 0..{classes}")]
    Label {
        /// The label.
        label: usize,
        /// Number of classes.
        classes: usize,
    },
}

/// Classification metrics: top-k accuracy, per-class accuracy and the confusion matrix.
///
/// Ranks break ties towards the lower class index, as `argmax` does, so top-1 accuracy always
/// equals the trace of the confusion matrix over the total.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Classification {
    classes: usize,
    ks: Vec<usize>,
    topk_correct: Vec<u64>,
    /// Row = true class, column = predicted class.
    confusion: Vec<u64>,
    total: u64,
}

impl Classification {
    /// Metrics for `classes` classes, tracking top-k accuracy for each k in `ks` (top-1 always).
    pub fn new(classes: usize, ks: &[usize]) -> Self {
        let mut ks: Vec<usize> = ks.iter().copied().chain([1]).filter(|&k| k >= 1).collect();
        ks.sort_unstable();
        ks.dedup();
        Self {
            classes,
            topk_correct: vec![0; ks.len()],
            ks,
            confusion: vec![0; classes * classes],
            total: 0,
        }
    }

    /// Number of classes.
    pub fn classes(&self) -> usize {
        self.classes
    }

    /// Adds a batch: `scores` row-major `[targets.len(), classes]` (logits or probabilities).
    pub fn update(&mut self, scores: &[f32], targets: &[usize]) -> Result<(), MetricError> {
        let c = self.classes;
        if scores.len() != targets.len() * c {
            return Err(MetricError::Shape(format!(
                "{} scores for {} targets x {c} classes",
                scores.len(),
                targets.len()
            )));
        }
        if let Some(&label) = targets.iter().find(|&&t| t >= c) {
            return Err(MetricError::Label { label, classes: c });
        }
        for (row, &t) in scores.chunks_exact(c).zip(targets) {
            let target_score = row[t];
            // Rank of the target: classes scoring higher, plus equal ones with a lower index.
            let rank = row
                .iter()
                .enumerate()
                .filter(|&(j, &s)| s > target_score || (s == target_score && j < t))
                .count();
            for (k, correct) in self.ks.iter().zip(&mut self.topk_correct) {
                if rank < *k {
                    *correct += 1;
                }
            }
            self.confusion[t * c + argmax(row)] += 1;
            self.total += 1;
        }
        Ok(())
    }

    /// Adds a batch from tensors: `scores` `[batch, classes]`, `targets` `[batch]`.
    pub fn update_tensors(&mut self, scores: Tensor<2>, targets: Tensor<1, Int>) -> Result<(), MetricError> {
        let scores: Vec<f32> = scores
            .into_data()
            .convert::<f32>()
            .try_into_vec::<f32>()
            .map_err(|e| MetricError::Shape(format!("{e:?}")))?;
        let targets: Vec<i64> = targets
            .into_data()
            .convert::<i64>()
            .try_into_vec::<i64>()
            .map_err(|e| MetricError::Shape(format!("{e:?}")))?;
        let targets: Vec<usize> = targets.into_iter().map(|t| t.max(0) as usize).collect();
        self.update(&scores, &targets)
    }

    /// Number of samples seen.
    pub fn total(&self) -> u64 {
        self.total
    }

    /// Top-1 accuracy in [0, 1] (0 when empty).
    pub fn accuracy(&self) -> f64 {
        self.topk(1).unwrap_or(0.0)
    }

    /// Top-k accuracy, if `k` was requested at construction.
    pub fn topk(&self, k: usize) -> Option<f64> {
        let i = self.ks.iter().position(|&x| x == k)?;
        Some(ratio(self.topk_correct[i], self.total))
    }

    /// The k values tracked.
    pub fn ks(&self) -> &[usize] {
        &self.ks
    }

    /// Accuracy of each class (recall); `None` for classes with no sample.
    pub fn per_class_accuracy(&self) -> Vec<Option<f64>> {
        (0..self.classes)
            .map(|t| {
                let row = &self.confusion[t * self.classes..(t + 1) * self.classes];
                let n: u64 = row.iter().sum();
                (n > 0).then(|| ratio(row[t], n))
            })
            .collect()
    }

    /// Mean of the per-class accuracies over classes that have samples (balanced accuracy).
    pub fn mean_class_accuracy(&self) -> f64 {
        let accs: Vec<f64> = self.per_class_accuracy().into_iter().flatten().collect();
        if accs.is_empty() {
            0.0
        } else {
            accs.iter().sum::<f64>() / accs.len() as f64
        }
    }

    /// Confusion matrix, row-major `[classes, classes]`, row = true class, column = prediction.
    pub fn confusion(&self) -> &[u64] {
        &self.confusion
    }

    /// Merges counts from another accumulator of the same shape.
    pub fn merge(&mut self, other: &Self) -> Result<(), MetricError> {
        if other.classes != self.classes || other.ks != self.ks {
            return Err(MetricError::Shape(
                "merging accumulators of different shapes".into(),
            ));
        }
        self.total += other.total;
        self.topk_correct
            .iter_mut()
            .zip(&other.topk_correct)
            .for_each(|(a, b)| *a += b);
        self.confusion
            .iter_mut()
            .zip(&other.confusion)
            .for_each(|(a, b)| *a += b);
        Ok(())
    }
}

/// Index of the first maximum (NaN never wins).
pub fn argmax(row: &[f32]) -> usize {
    let mut best = 0;
    for (j, &s) in row.iter().enumerate() {
        if s > row[best] || (row[best].is_nan() && !s.is_nan()) {
            best = j;
        }
    }
    best
}

/// Regression metrics: mean squared error and mean absolute error over all elements.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Regression {
    sum_sq: f64,
    sum_abs: f64,
    count: u64,
}

impl Regression {
    /// An empty accumulator.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds predictions and targets of equal length.
    pub fn update(&mut self, predictions: &[f32], targets: &[f32]) -> Result<(), MetricError> {
        if predictions.len() != targets.len() {
            return Err(MetricError::Shape(format!(
                "{} predictions for {} targets",
                predictions.len(),
                targets.len()
            )));
        }
        for (&p, &t) in predictions.iter().zip(targets) {
            let d = p as f64 - t as f64;
            self.sum_sq += d * d;
            self.sum_abs += d.abs();
        }
        self.count += predictions.len() as u64;
        Ok(())
    }

    /// Number of elements seen.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// Mean squared error (0 when empty).
    pub fn mse(&self) -> f64 {
        if self.count == 0 {
            0.0
        } else {
            self.sum_sq / self.count as f64
        }
    }

    /// Mean absolute error (0 when empty).
    pub fn mae(&self) -> f64 {
        if self.count == 0 {
            0.0
        } else {
            self.sum_abs / self.count as f64
        }
    }
}

/// A weighted running mean, for losses averaged over batches of different sizes.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Mean {
    sum: f64,
    weight: f64,
}

impl Mean {
    /// Adds `value` with weight `weight` (e.g. the batch size).
    pub fn add(&mut self, value: f64, weight: f64) {
        self.sum += value * weight;
        self.weight += weight;
    }

    /// An accumulator holding `sum` (of value x weight) and total `weight`.
    pub fn from_parts(sum: f64, weight: f64) -> Self {
        Self { sum, weight }
    }

    /// Sum of value x weight.
    pub fn sum(&self) -> f64 {
        self.sum
    }

    /// The mean so far (NaN when empty).
    pub fn value(&self) -> f64 {
        if self.weight == 0.0 {
            f64::NAN
        } else {
            self.sum / self.weight
        }
    }

    /// Total weight added.
    pub fn weight(&self) -> f64 {
        self.weight
    }
}

/// Group-fairness metrics of binary predictions over a stream, for a binary protected attribute a:
/// accuracy, the demographic-parity gap |P(yhat=1 | a=1) - P(yhat=1 | a=0)| and the
/// equalized-odds gap max(|TPR_1 - TPR_0|, |FPR_1 - FPR_0|). Counts are exact; a rate whose
/// group (or group and label) has not been seen counts as 0, as the reference's running DP does.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Fairness {
    /// `counts[a][y][yhat]`.
    counts: [[[u64; 2]; 2]; 2],
}

impl Fairness {
    /// An empty accumulator.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds one instance: prediction, label and group, each 0 or 1.
    pub fn add(&mut self, prediction: usize, label: usize, group: u8) -> Result<(), MetricError> {
        if prediction > 1 || label > 1 || group > 1 {
            return Err(MetricError::Shape(format!(
                "fairness metrics take binary prediction, label and group, got {prediction}, {label}, {group}"
            )));
        }
        self.counts[group as usize][label][prediction] += 1;
        Ok(())
    }

    /// Instances seen.
    pub fn total(&self) -> u64 {
        self.counts.iter().flatten().flatten().sum()
    }

    /// Fraction predicted correctly.
    pub fn accuracy(&self) -> f64 {
        let correct: u64 = (0..2).map(|a| self.counts[a][0][0] + self.counts[a][1][1]).sum();
        ratio(correct, self.total())
    }

    /// P(yhat = 1 | a).
    pub fn positive_rate(&self, group: u8) -> f64 {
        let c = &self.counts[group as usize & 1];
        ratio(c[0][1] + c[1][1], c[0].iter().chain(&c[1]).sum())
    }

    /// P(yhat = 1 | a, y): the true-positive rate for y = 1, the false-positive rate for y = 0.
    pub fn rate_given_label(&self, group: u8, label: usize) -> f64 {
        let c = &self.counts[group as usize & 1][label & 1];
        ratio(c[1], c[0] + c[1])
    }

    /// |P(yhat=1 | a=1) - P(yhat=1 | a=0)|.
    pub fn dp_gap(&self) -> f64 {
        (self.positive_rate(1) - self.positive_rate(0)).abs()
    }

    /// max over y of |P(yhat=1 | a=1, y) - P(yhat=1 | a=0, y)|.
    pub fn eo_gap(&self) -> f64 {
        (0..2)
            .map(|y| (self.rate_given_label(1, y) - self.rate_given_label(0, y)).abs())
            .fold(0.0, f64::max)
    }
}

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 { 0.0 } else { a as f64 / b as f64 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topk_confusion_and_per_class() {
        let mut m = Classification::new(3, &[2]);
        #[rustfmt::skip]
        let scores = [
            0.1, 0.7, 0.2,   // true 1: rank 0
            0.5, 0.3, 0.2,   // true 2: rank 2
            0.3, 0.3, 0.4,   // true 1: rank 2 (0.4 higher, tie with class 0 which has a lower index)
            0.9, 0.05, 0.05, // true 0: rank 0
        ];
        m.update(&scores, &[1, 2, 1, 0]).unwrap();
        assert_eq!(m.total(), 4);
        assert_eq!(m.accuracy(), 0.5);
        assert_eq!(m.topk(2), Some(0.5));
        assert_eq!(m.topk(5), None);
        #[rustfmt::skip]
        assert_eq!(m.confusion(), &[
            1, 0, 0,
            0, 1, 1,
            1, 0, 0,
        ]);
        assert_eq!(m.per_class_accuracy(), vec![Some(1.0), Some(0.5), Some(0.0)]);
        assert!((m.mean_class_accuracy() - 0.5).abs() < 1e-12);
        let trace: u64 = (0..3).map(|i| m.confusion()[i * 3 + i]).sum();
        assert_eq!(trace as f64 / 4.0, m.accuracy());
    }

    #[test]
    fn ties_rank_like_argmax() {
        let mut m = Classification::new(2, &[]);
        m.update(&[1.0, 1.0, 1.0, 1.0], &[0, 1]).unwrap();
        assert_eq!(m.accuracy(), 0.5);
        assert_eq!(argmax(&[1.0, 1.0]), 0);
        assert_eq!(argmax(&[f32::NAN, 0.5]), 1);
    }

    #[test]
    fn bad_inputs_are_errors() {
        let mut m = Classification::new(2, &[]);
        assert_eq!(
            m.update(&[0.0, 1.0], &[2]),
            Err(MetricError::Label { label: 2, classes: 2 })
        );
        assert!(matches!(m.update(&[0.0], &[0]), Err(MetricError::Shape(_))));
        assert_eq!(m.total(), 0);
    }

    #[test]
    fn regression_and_mean() {
        let mut r = Regression::new();
        r.update(&[1.0, 2.0, 4.0], &[1.0, 3.0, 2.0]).unwrap();
        assert!((r.mse() - 5.0 / 3.0).abs() < 1e-12);
        assert!((r.mae() - 1.0).abs() < 1e-12);
        let mut m = Mean::default();
        m.add(1.0, 3.0);
        m.add(3.0, 1.0);
        assert_eq!(m.value(), 1.5);
    }

    #[test]
    fn tensor_update_matches_slices() {
        let device = burn::tensor::Device::flex();
        let scores = Tensor::<2>::from_floats([[0.1, 0.9], [0.8, 0.2], [0.3, 0.7]], &device);
        let targets = Tensor::<1, Int>::from_ints([1, 1, 1], &device);
        let mut m = Classification::new(2, &[]);
        m.update_tensors(scores, targets).unwrap();
        assert!((m.accuracy() - 2.0 / 3.0).abs() < 1e-12);
    }

    #[test]
    fn fairness_gaps_by_hand() {
        let mut f = Fairness::new();
        // group 1: 4 instances, labels 1,1,0,0, predictions 1,1,1,0 -> P(yhat=1)=3/4, TPR 1, FPR 1/2
        // group 0: 4 instances, labels 1,1,0,0, predictions 1,0,0,0 -> P(yhat=1)=1/4, TPR 1/2, FPR 0
        for (p, y, a) in [
            (1, 1, 1),
            (1, 1, 1),
            (1, 0, 1),
            (0, 0, 1),
            (1, 1, 0),
            (0, 1, 0),
            (0, 0, 0),
            (0, 0, 0),
        ] {
            f.add(p, y, a).unwrap();
        }
        assert_eq!(f.total(), 8);
        assert!((f.accuracy() - 6.0 / 8.0).abs() < 1e-12);
        assert!((f.dp_gap() - 0.5).abs() < 1e-12);
        assert!((f.eo_gap() - 0.5).abs() < 1e-12);
        assert!((f.rate_given_label(1, 0) - 0.5).abs() < 1e-12);
        assert!(f.add(2, 0, 0).is_err());
        // An unseen group has rate 0.
        let mut g = Fairness::new();
        g.add(1, 1, 1).unwrap();
        assert_eq!(g.dp_gap(), 1.0);
    }
}
