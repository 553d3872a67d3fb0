//! Evaluates a forest learned by `train-aranyani` on a held-out file.
//!
//! ```text
//! eval-aranyani --checkpoint runs/adult --lambda 10 --seed 0
//! eval-aranyani --checkpoint runs/adult --lambda 10 --data-path ~/data/adult/adult.test --json
//! ```

use anyhow::{Context, bail};
use clap::Parser;
use std::path::PathBuf;
use std::process::ExitCode;
use zoo_aranyani::Forest;
use zoo_datasets::tabular::{Encoder, Table};
use zoo_eval::aranyani::{AranyaniRun, DatasetKind, FAMILY, csv_options, evaluate, forest_file, load};
use zoo_eval::cli::{EvalArgs, parse_args, print_metrics, run};

/// Evaluate an Aranyani forest (Chowdhury et al., ICLR 2024) from a `train-aranyani --out` folder:
/// accuracy, demographic-parity gap |P(yhat=1|a=1) - P(yhat=1|a=0)| and equalized-odds gap (max of
/// the TPR and FPR gaps), with soft inference (the reference's) and hard inference (each tree
/// follows its most likely path). The file is encoded with the training file's categories and
/// statistics (encoder.json); default data: the run's held-out set.
#[derive(Parser, Debug)]
#[command(version)]
struct Cli {
    #[command(flatten)]
    eval: EvalArgs,
    /// Which forest of a sweep: its lambda (default: the run's first).
    #[arg(long, value_name = "L")]
    lambda: Option<f64>,
    /// A CSV file to evaluate on, in the training file's format (default: the run's held-out set).
    #[arg(long, value_name = "FILE")]
    data_path: Option<PathBuf>,
}

fn main() -> ExitCode {
    let cli: Cli = parse_args();
    run(|| {
        let args = &cli.eval;
        if zoo_eval::device::DeviceSpec::parse(&args.common.device)? != zoo_eval::device::DeviceSpec::Cpu {
            bail!("eval-aranyani runs on the CPU only (--device cpu)");
        }
        let dir = args
            .checkpoint
            .as_ref()
            .context("give --checkpoint DIR (the --out of a train-aranyani run)")?;
        let cfg: AranyaniRun = zoo_weights::run::read_manifest(dir, FAMILY)?;
        let lambda = cli.lambda.unwrap_or(cfg.sweep[0]);
        let seed = args.common.seed.unwrap_or(cfg.seeds[0]);
        let forest_path = match &args.weights {
            Some(w) => w.clone(),
            None => dir.join(forest_file(lambda, seed)),
        };
        let text = std::fs::read_to_string(&forest_path).with_context(|| {
            format!(
                "reading {} (the run has lambdas {:?} and seeds {:?})",
                forest_path.display(),
                cfg.sweep,
                cfg.seeds
            )
        })?;
        let forest: Forest = serde_json::from_str(&text)
            .with_context(|| format!("{}: not a forest", forest_path.display()))?;
        let (items, what) = match &cli.data_path {
            Some(path) => {
                let enc_path = dir.join("encoder.json");
                let enc: Encoder = serde_json::from_str(
                    &std::fs::read_to_string(&enc_path)
                        .with_context(|| format!("reading {}", enc_path.display()))?,
                )
                .with_context(|| format!("{}: not an encoder", enc_path.display()))?;
                let (_, test_options) = csv_options(cfg.dataset);
                let options = if cfg.dataset == DatasetKind::Adult && !path.ends_with("adult.test") {
                    csv_options(cfg.dataset).0
                } else {
                    test_options
                };
                let items = enc.encode(&Table::read(path, &options)?)?;
                (items, path.display().to_string())
            }
            None => {
                let data = load(&cfg)?;
                if data.test.is_empty() {
                    bail!("the run has no held-out set; give --data-path FILE");
                }
                let what = format!("held-out set of {}", data.what);
                (data.test, what)
            }
        };
        anyhow::ensure!(
            forest.config.features == items.first().map_or(0, |i| i.features.len()),
            "{} has {} features but the forest takes {}",
            what,
            items.first().map_or(0, |i| i.features.len()),
            forest.config.features
        );
        let (soft, hard) = evaluate(&forest, &items)?;
        let mut m = serde_json::Map::new();
        m.insert("instances".into(), soft.total().into());
        m.insert("lambda".into(), lambda.into());
        m.insert("seed".into(), seed.into());
        m.insert("accuracy".into(), soft.accuracy().into());
        m.insert("dp_gap".into(), soft.dp_gap().into());
        m.insert("eo_gap".into(), soft.eo_gap().into());
        m.insert("accuracy_hard".into(), hard.accuracy().into());
        m.insert("dp_gap_hard".into(), hard.dp_gap().into());
        m.insert("eo_gap_hard".into(), hard.eo_gap().into());
        if let Some(out) = &args.common.out {
            zoo_weights::atomic::write_json_atomic(out.join("metrics.json"), &m)
                .with_context(|| format!("writing {}", out.join("metrics.json").display()))?;
        }
        print_metrics(
            &format!("eval-aranyani: {} on {what}", forest_path.display()),
            &m,
            args.common.json,
        );
        Ok(())
    })
}
