//! What a training run shows and leaves behind: progress bars on stderr, `log.jsonl` (one JSON
//! object per logged step and per epoch), `metrics.json` (history, last and best epoch) and PNG
//! plots of the curves, all in the output directory.

use crate::plot::{Series, line_plot};
use crate::trainer::{Best, EpochRecord};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Serialize;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::PathBuf;
use zoo_weights::atomic::write_json_atomic;

/// One logged optimizer step.
#[derive(Debug, Clone, Serialize)]
pub struct StepLog {
    /// Epoch (1-based).
    pub epoch: usize,
    /// Optimizer step.
    pub step: u64,
    /// Running mean training loss of the epoch.
    pub loss: f64,
    /// Base learning rate of the step.
    pub lr: f64,
    /// Gradient norm before clipping (when clipping is on).
    pub grad_norm: Option<f64>,
}

/// Writes the run's outputs.
pub struct Reporter {
    out: Option<PathBuf>,
    progress: bool,
    log: Option<File>,
}

impl Reporter {
    /// Opens (appending) `log.jsonl` in `out`.
    pub fn new(out: Option<PathBuf>, progress: bool, resumed_from: Option<u64>) -> io::Result<Self> {
        let log = match &out {
            Some(dir) => {
                std::fs::create_dir_all(dir)?;
                Some(
                    OpenOptions::new()
                        .create(true)
                        .append(true)
                        .open(dir.join("log.jsonl"))?,
                )
            }
            None => None,
        };
        let mut r = Self { out, progress, log };
        if let Some(step) = resumed_from {
            r.line(&serde_json::json!({ "event": "resume", "step": step }));
            if progress {
                eprintln!("resuming from the checkpoint at step {step}");
            }
        }
        Ok(r)
    }

    fn line(&mut self, value: &serde_json::Value) {
        if let Some(f) = &mut self.log {
            // The log is a convenience; a failed write must not stop training (checkpoints and
            // metrics.json are written atomically and do report errors).
            let _ = writeln!(f, "{value}");
            let _ = f.flush();
        }
    }

    /// A progress bar for one epoch (hidden when progress is off or stderr is not a terminal).
    pub fn epoch_bar(&self, epoch: usize, epochs: usize, len: u64, pos: u64) -> ProgressBar {
        if !self.progress {
            return ProgressBar::hidden();
        }
        let bar = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr());
        bar.set_style(
            ProgressStyle::with_template(
                "epoch {prefix} [{bar:30}] {pos}/{len} batches {elapsed_precise} {msg}",
            )
            .expect("valid template")
            .progress_chars("=> "),
        );
        bar.set_prefix(format!("{epoch}/{epochs}"));
        bar.set_position(pos);
        bar
    }

    /// Logs one step.
    pub fn log_step(&mut self, s: &StepLog) {
        let mut v = serde_json::to_value(s).expect("serialisable");
        v["event"] = "step".into();
        self.line(&v);
    }

    /// Logs an epoch and prints its one-line summary.
    pub fn epoch_done(&mut self, r: &EpochRecord) {
        let mut v = serde_json::to_value(r).expect("serialisable");
        v["event"] = "epoch".into();
        self.line(&v);
        if self.progress {
            let shown: Vec<String> = r
                .metrics
                .iter()
                .filter(|(k, _)| k.as_str() != "lr")
                .map(|(k, v)| format!("{k} {v:.4}"))
                .collect();
            eprintln!("epoch {:>3}  {}  ({:.1} s)", r.epoch, shown.join("  "), r.seconds);
        }
    }

    /// Rewrites `metrics.json` and the plots from the whole history.
    pub fn write_summary(&self, history: &[EpochRecord], best: Option<&Best>) -> io::Result<()> {
        let Some(dir) = &self.out else { return Ok(()) };
        let summary = serde_json::json!({
            "epochs": history.len(),
            "step": history.last().map_or(0, |r| r.step),
            "final": history.last().map(|r| &r.metrics),
            "best": best,
            "history": history,
        });
        write_json_atomic(dir.join("metrics.json"), &summary)?;
        let series = |pred: &dyn Fn(&str) -> bool| -> Vec<Series> {
            let mut names: Vec<&String> = history
                .iter()
                .flat_map(|r| r.metrics.keys())
                .filter(|k| pred(k))
                .collect();
            names.sort();
            names.dedup();
            names
                .into_iter()
                .map(|name| Series {
                    name: name.clone(),
                    points: history
                        .iter()
                        .filter_map(|r| r.metrics.get(name).map(|&v| (r.epoch as f64, v)))
                        .collect(),
                })
                .collect()
        };
        let losses = series(&|k: &str| k.ends_with("loss"));
        let others = series(&|k: &str| !k.contains("loss") && k != "lr");
        // Plots are a convenience: a failure to draw is reported but does not stop training.
        if let Err(e) = line_plot(&dir.join("loss.png"), "loss", "epoch", &losses) {
            eprintln!("warning: could not draw loss.png: {e}");
        }
        if !others.is_empty()
            && let Err(e) = line_plot(&dir.join("metrics.png"), "metrics", "epoch", &others)
        {
            eprintln!("warning: could not draw metrics.png: {e}");
        }
        Ok(())
    }
}
