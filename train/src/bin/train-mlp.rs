//! Trains the demo perceptron on generated spirals with the shared loop.
//!
//! ```text
//! train-mlp                                   # defaults: 30 epochs, Adam, cosine schedule
//! train-mlp --out runs/mlp --epochs 50
//! train-mlp --resume runs/mlp                 # continue from the newest checkpoint
//! train-mlp --devices cpu,cpu --out runs/dp   # data-parallel on two devices
//! train-mlp --config run.toml --lr 0.003      # file first, flags override
//! ```

use clap::Parser;
use std::process::ExitCode;
use zoo_eval::cli::{parse_args, run};
use zoo_train::cli::{TrainArgs, prepare, report};
use zoo_train::mlp::{MlpRun, train};

/// Train the demo MLP (two hidden GELU layers) on interleaved 2-D spirals: the reference workload
/// of burnzoo's training loop. With no arguments it trains on the embedded default and prints the
/// test accuracy; --out keeps checkpoints, final weights (model.bpk), run.json, metrics.json,
/// log.jsonl and loss/metrics plots; eval-mlp --checkpoint DIR evaluates them.
#[derive(Parser, Debug)]
#[command(version)]
struct Cli {
    #[command(flatten)]
    train: TrainArgs,
}

fn main() -> ExitCode {
    let cli: Cli = parse_args();
    run(|| {
        let (cfg, trainer) = prepare::<MlpRun>(&cli.train)?;
        let result = train(&cfg, &trainer)?;
        report("mlp", &result, &trainer, cli.train.common.json);
        Ok(())
    })
}
