//! Online, group-fair learning with Aranyani (ICLR 2024) as a library: a stream whose labels
//! depend on a protected group, learned one instance at a time (predict, then learn) with and
//! without the fairness penalty; prequential accuracy and the demographic-parity gap of the
//! predictions on held-out data. The learner itself serialises with serde (a checkpoint is its
//! JSON), so a service can persist it between instances.
//!
//! ```text
//! cargo run --release -p zoo-aranyani --example stream [LAMBDA]
//! ```

use zoo_aranyani::{ForestConfig, LearnerConfig, OnlineLearner};
use zoo_datasets::tabular::BiasedStream;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let lambda: f64 = std::env::args().nth(1).map_or(Ok(1.0), |s| s.parse())?;
    let (stream, held_out) = BiasedStream::default().generate()?;
    let features = stream[0].features.len();
    for lambda in [0.0, lambda] {
        let config = LearnerConfig {
            forest: ForestConfig {
                features,
                ..ForestConfig::default()
            },
            lambda,
            ..LearnerConfig::default()
        };
        let mut learner = OnlineLearner::new(config, 0)?;
        let mut correct = 0usize;
        for item in &stream {
            let x: Vec<f64> = item.features.iter().map(|&v| f64::from(v)).collect();
            // The prediction comes before the instance is learned (prequential evaluation).
            let (prediction, _loss) = learner.learn_one(&x, item.label, item.group);
            correct += usize::from(prediction == item.label);
        }
        // Demographic parity: P(y_hat = 1 | a = 1) - P(y_hat = 1 | a = 0) on held-out data.
        let mut positive = [[0usize; 2]; 2];
        for item in &held_out {
            let x: Vec<f64> = item.features.iter().map(|&v| f64::from(v)).collect();
            positive[usize::from(item.group)][learner.forest.predict(&x)] += 1;
        }
        let rate = |g: usize| positive[g][1] as f64 / (positive[g][0] + positive[g][1]).max(1) as f64;
        let checkpoint = serde_json::to_string(&learner)?;
        println!(
            "lambda {lambda}: prequential accuracy {:.3} over {} instances, DP gap {:+.3}, checkpoint {} bytes",
            correct as f64 / stream.len() as f64,
            stream.len(),
            rate(1) - rate(0),
            checkpoint.len()
        );
    }
    Ok(())
}
