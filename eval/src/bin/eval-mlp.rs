//! Evaluates a trained demo perceptron on the spiral test set.
//!
//! ```text
//! eval-mlp --checkpoint runs/mlp          # a train-mlp --out directory
//! eval-mlp --weights model.bpk --config run.toml
//! ```

use anyhow::Context;
use clap::Parser;
use std::process::ExitCode;
use zoo_eval::cli::{EvalArgs, parse_args, print_metrics, run};
use zoo_eval::mlp::{FAMILY, MlpSetup, evaluate, metrics_json};

/// Evaluate the demo MLP (the shared loop's reference workload) on the spiral test set: top-1 and
/// top-2 accuracy, per-class accuracy. The test set is regenerated from the run's data config.
#[derive(Parser, Debug)]
#[command(version)]
struct Cli {
    #[command(flatten)]
    eval: EvalArgs,
}

fn main() -> ExitCode {
    let cli: Cli = parse_args();
    run(|| {
        let args = &cli.eval;
        let (setup, weights): (MlpSetup, _) = args.setup(FAMILY)?;
        setup.validate()?;
        let device = zoo_eval::parse_device(&args.common.device)?;
        let model = zoo_weights::load_module(setup.model.init(&device), &weights)?;
        let (_, test) = setup.data.split();
        let m = evaluate(&model, &test, &device, args.batch_size.unwrap_or(256)).context("evaluating")?;
        let metrics = metrics_json(&m);
        if let Some(out) = &args.common.out {
            zoo_weights::atomic::write_json_atomic(out.join("metrics.json"), &metrics)
                .with_context(|| format!("writing {}", out.join("metrics.json").display()))?;
        }
        print_metrics(
            &format!("eval-mlp: {} ({} test points)", weights.display(), m.total()),
            &metrics,
            args.common.json,
        );
        Ok(())
    })
}
