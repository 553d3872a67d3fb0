//! Evaluates a ResNet trained with `train-evonorm` (or any weights of the same architecture).
//!
//! ```text
//! eval-evonorm --checkpoint runs/evonorm-s0
//! eval-evonorm --weights model.bpk --norm evonorm-b0 --arch resnet18 --width 16 --data DIR
//! ```

use anyhow::Context;
use clap::Parser;
use std::process::ExitCode;
use zoo_eval::cli::{EvalArgs, parse_args, print_metrics, run};
use zoo_eval::evonorm::{EvoNormSetup, FAMILY};
use zoo_eval::image_cls::{ImageArgs, ResNetArgs, classification_json, evaluate_classifier};

/// Evaluate a ResNet classifier with a pluggable normalization-activation (BN-ReLU, GN-ReLU or an
/// EvoNorm) on the test split: top-1/top-5 accuracy, per-class accuracy.
#[derive(Parser, Debug)]
#[command(version)]
struct Cli {
    #[command(flatten)]
    eval: EvalArgs,
    #[command(flatten)]
    model: ResNetArgs,
    #[command(flatten)]
    data: ImageArgs,
}

fn main() -> ExitCode {
    let cli: Cli = parse_args();
    run(|| {
        let args = &cli.eval;
        let (mut setup, weights): (EvoNormSetup, _) = args.setup(FAMILY)?;
        cli.model.apply(&mut setup.model);
        cli.data.apply(&mut setup.data);
        setup.resolve()?;
        let device = zoo_eval::parse_device(&args.common.device)?;
        // The inference form: batch norms folded into their convolutions (a no-op for others).
        let model = zoo_weights::load_module(setup.model.init(&device)?, &weights)?.fuse();
        let splits = setup.data.open()?;
        let m = evaluate_classifier(
            |x| model.forward(x),
            splits.test.as_ref(),
            &setup.data.normalize,
            &device,
            args.batch_size.unwrap_or(128),
            splits.classes.len(),
        )
        .context("evaluating")?;
        let metrics = classification_json(&m, &splits.classes);
        if let Some(out) = &args.common.out {
            zoo_weights::atomic::write_json_atomic(out.join("metrics.json"), &metrics)
                .with_context(|| format!("writing {}", out.join("metrics.json").display()))?;
        }
        let title = format!(
            "eval-evonorm: {} ({}, {} test images)",
            weights.display(),
            setup.model.norm.kind.name(),
            m.total()
        );
        print_metrics(&title, &metrics, args.common.json);
        Ok(())
    })
}
