//! Evaluates a PONITA model trained with `train-ponita`, and generates N-body data.
//!
//! ```text
//! eval-ponita --checkpoint runs/ponita                     # test MSE on the run's data
//! eval-ponita --checkpoint runs/ponita --data-path data/nbody --json
//! eval-ponita --checkpoint runs/aspirin --max-eval 5000     # MD17: first 5000 test frames
//! eval-ponita nbody-generate --out data/nbody              # nbody_small: seed 43, 10000/2000/2000
//! eval-ponita nbody-generate --seed 1 --num-train 100 --num-valid 10 --num-test 10 --out /tmp/nb
//! ```

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;
use zoo_datasets::Dataset;
use zoo_datasets::nbody::{ChargedParticles, generate, write_splits};
use zoo_eval::cli::{EvalArgs, parse_args, print_metrics, run};
use zoo_eval::ponita::{
    FAMILY, KCAL_PER_MOL_TO_MEV, Md17Model, NBodyModel, PonitaArgs, PonitaDataset, PonitaSetup,
    evaluate_md17, evaluate_nbody, rotation_check,
};

/// Evaluate PONITA (Bekkers et al., ICLR 2024) on the N-body benchmark: position MSE on the test
/// split (1000 integration steps ahead), beside the no-motion and constant-velocity baselines;
/// on MD17 (a run trained with --dataset md17): energy and force MAE in the file's units
/// (kcal/mol, kcal/mol/A) and in meV, meV/A; or, with `nbody-generate`, write the charged-particle data set exactly as the EGNN/PONITA
/// numpy generator does.
#[derive(Parser, Debug)]
#[command(version, args_conflicts_with_subcommands = true)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    eval: EvalArgs,
    #[command(flatten)]
    model: PonitaArgs,
    /// Split to evaluate: test or valid.
    #[arg(long, value_name = "SPLIT", default_value = "test")]
    split: String,
    /// N-body: also evaluate every system under its own random rotation (grid fixed) and report
    /// the MSE there and the equivariance error MSE(f(R x), R f(x)).
    #[arg(long)]
    rotations: bool,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Write {loc,vel,edges,charges}_{train,valid,test}.npy (float64; loc and vel [n, 49, 3, 5],
    /// edges [n, 5, 5], charges [n, 5, 1]) as `generate_dataset.py --seed S --num-train N
    /// --num-valid M --num-test K` would: one numpy MT19937 stream, train then valid then test.
    NbodyGenerate {
        /// Seed of the stream (43 gives the published nbody_small set).
        #[arg(long, default_value_t = 43)]
        seed: u32,
        /// Training trajectories.
        #[arg(long, default_value_t = 10_000)]
        num_train: usize,
        /// Validation trajectories.
        #[arg(long, default_value_t = 2_000)]
        num_valid: usize,
        /// Test trajectories.
        #[arg(long, default_value_t = 2_000)]
        num_test: usize,
        /// Output directory (created).
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
    },
}

fn main() -> ExitCode {
    let cli: Cli = parse_args();
    run(|| {
        if let Some(Command::NbodyGenerate {
            seed,
            num_train,
            num_valid,
            num_test,
            out,
        }) = &cli.command
        {
            let started = std::time::Instant::now();
            let sim = ChargedParticles::default();
            let splits = generate(&sim, *seed, *num_train, *num_valid, *num_test);
            write_splits(out, &sim, &splits).with_context(|| format!("writing {}", out.display()))?;
            eprintln!(
                "eval-ponita: {} trajectories (seed {seed}) in {:.1} s -> {}",
                num_train + num_valid + num_test,
                started.elapsed().as_secs_f64(),
                out.display()
            );
            return Ok(());
        }
        let args = &cli.eval;
        let (mut setup, weights): (PonitaSetup, _) = args.setup(FAMILY)?;
        cli.model.apply(&mut setup.model, &mut setup.data);
        let device = zoo_eval::parse_device(&args.common.device)?;
        if setup.data.dataset == PonitaDataset::Md17 {
            let sets = setup.data.md17.open().context("preparing the MD17 data")?;
            let template = Md17Model::init(&setup.model, sets.force_rms, &device)?;
            let model = zoo_weights::load_module(template, &weights)?;
            let split = match cli.split.as_str() {
                "test" => &sets.test,
                "valid" => &sets.valid,
                other => bail!("unknown split `{other}`; expected test or valid"),
            };
            let m = evaluate_md17(
                &model,
                split,
                sets.energy_mean,
                args.batch_size.unwrap_or(50),
                &device,
            )?;
            let mut metrics = serde_json::Map::new();
            metrics.insert("energy_mae".into(), m.energy.mae().into());
            metrics.insert("force_mae".into(), m.forces.mae().into());
            metrics.insert(
                "energy_mae_mev".into(),
                (m.energy.mae() * KCAL_PER_MOL_TO_MEV).into(),
            );
            metrics.insert(
                "force_mae_mev_per_a".into(),
                (m.forces.mae() * KCAL_PER_MOL_TO_MEV).into(),
            );
            metrics.insert("frames".into(), split.len().into());
            return finish(&cli, &weights, &metrics, "MD17");
        }
        let model = zoo_weights::load_module(NBodyModel::init(&setup.model, &device)?, &weights)?;
        // The training split is not needed: read or generate only what is evaluated.
        let mut data = setup.data.nbody.clone();
        data.max_train = Some(1);
        let sets = data.open().context("preparing the N-body data")?;
        let split = match cli.split.as_str() {
            "test" => &sets.test,
            "valid" => &sets.valid,
            other => bail!("unknown split `{other}`; expected test or valid"),
        };
        let m = evaluate_nbody(&model, split, args.batch_size.unwrap_or(100), &device)?;
        let mut metrics = serde_json::Map::new();
        metrics.insert("mse".into(), m.model.mse().into());
        metrics.insert("mae".into(), m.model.mae().into());
        metrics.insert("mse_no_motion".into(), m.no_motion.mse().into());
        metrics.insert("mse_constant_velocity".into(), m.constant_velocity.mse().into());
        metrics.insert("systems".into(), split.len().into());
        if cli.rotations {
            let seed = args.common.seed.unwrap_or(0);
            let r = rotation_check(&model, split, args.batch_size.unwrap_or(100), seed, &device)?;
            metrics.insert("mse_rotated".into(), r.rotated.mse().into());
            metrics.insert("equivariance_mse".into(), r.equivariance.mse().into());
        }
        finish(&cli, &weights, &metrics, "N-body")
    })
}

fn finish(
    cli: &Cli,
    weights: &std::path::Path,
    metrics: &serde_json::Map<String, serde_json::Value>,
    task: &str,
) -> anyhow::Result<()> {
    if let Some(out) = &cli.eval.common.out {
        std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
        zoo_weights::atomic::write_json_atomic(out.join("metrics.json"), metrics)
            .with_context(|| format!("writing {}", out.join("metrics.json").display()))?;
    }
    print_metrics(
        &format!(
            "eval-ponita: {} on the {task} {} split",
            weights.display(),
            cli.split
        ),
        metrics,
        cli.eval.common.json,
    );
    Ok(())
}
