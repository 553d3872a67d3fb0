//! The families the `tour` binary runs: each trains on its embedded default and evaluates the
//! result. Families register here as they land.

use crate::mlp::{MlpRun, train};
use crate::trainer::Trainer;
use burn::tensor::Device;
use std::path::PathBuf;
use std::time::Instant;

/// How the tour runs.
#[derive(Debug, Clone)]
pub struct TourOptions {
    /// Device for every family.
    pub device: Device,
    /// Where each family writes its run (`<out>/<family>`); `None` writes nothing.
    pub out: Option<PathBuf>,
    /// Show training progress.
    pub progress: bool,
}

/// One line of the tour's table.
#[derive(Debug, Clone, serde::Serialize)]
pub struct TourRow {
    /// Family name.
    pub family: &'static str,
    /// What was trained and evaluated.
    pub task: String,
    /// Headline metric name.
    pub metric: String,
    /// Its value.
    pub value: f64,
    /// Training wall-clock seconds.
    pub train_seconds: f64,
    /// Evaluation wall-clock seconds.
    pub eval_seconds: f64,
}

/// A family's tour entry.
pub type TourFn = fn(&TourOptions) -> anyhow::Result<TourRow>;

/// Every registered family, in tour order.
pub fn families() -> Vec<(&'static str, TourFn)> {
    vec![("mlp", mlp)]
}

fn mlp(opts: &TourOptions) -> anyhow::Result<TourRow> {
    let run = MlpRun::default();
    let trainer = Trainer {
        config: run.train.clone(),
        devices: vec![opts.device.clone()],
        out: opts.out.as_ref().map(|o| o.join("mlp")),
        resume: false,
        progress: opts.progress,
    };
    trainer.seed_devices();
    let t0 = Instant::now();
    let result = train(&run, &trainer)?;
    let train_seconds = t0.elapsed().as_secs_f64();
    let t1 = Instant::now();
    let (_, test) = run.data.split();
    let m = zoo_eval::mlp::evaluate(&result.model, &test, &opts.device, 256)?;
    Ok(TourRow {
        family: "mlp",
        task: format!("{}-arm spirals, {} epochs", run.data.classes, run.train.epochs),
        metric: "test accuracy".into(),
        value: m.accuracy(),
        train_seconds,
        eval_seconds: t1.elapsed().as_secs_f64(),
    })
}
