//! Evaluates a classifier trained with `train-ebv` (EBV or FC head).
//!
//! ```text
//! eval-ebv --checkpoint runs/ebv
//! ```

use anyhow::Context;
use clap::Parser;
use std::process::ExitCode;
use zoo_eval::cli::{EvalArgs, parse_args, print_metrics, run};
use zoo_eval::ebv::{EbvSetup, FAMILY};
use zoo_eval::image_cls::{ImageArgs, classification_json, evaluate_classifier};

/// Evaluate an image classifier with an Equiangular-Basis-Vectors head (Shen et al., CVPR 2023) or
/// its linear baseline: top-1/top-5 accuracy (prediction = the class whose basis vector has the
/// largest cosine with the feature), per-class accuracy. The basis is part of the weights.
#[derive(Parser, Debug)]
#[command(version)]
struct Cli {
    #[command(flatten)]
    eval: EvalArgs,
    #[command(flatten)]
    data: ImageArgs,
}

fn main() -> ExitCode {
    let cli: Cli = parse_args();
    run(|| {
        let args = &cli.eval;
        let (mut setup, weights): (EbvSetup, _) = args.setup(FAMILY)?;
        cli.data.apply(&mut setup.data);
        setup.resolve()?;
        let device = zoo_eval::parse_device(&args.common.device)?;
        // The inference form: batch norms folded into their convolutions.
        let model = zoo_weights::load_module(setup.template(&device)?, &weights)?.fuse();
        let splits = setup.data.open()?;
        let m = evaluate_classifier(
            |x| model.scores(x),
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
        let head = match setup.model.head {
            zoo_ebv::HeadKind::Ebv => format!("EBV d={}", setup.model.ebv_dim),
            zoo_ebv::HeadKind::Fc => "FC".to_string(),
        };
        print_metrics(
            &format!(
                "eval-ebv: {} ({head}, {} test images)",
                weights.display(),
                m.total()
            ),
            &metrics,
            args.common.json,
        );
        Ok(())
    })
}
