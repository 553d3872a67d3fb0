//! Trains PONITA on the N-body benchmark.
//!
//! ```text
//! train-ponita --out runs/ponita                       # nbody_small generated in memory, 10 epochs
//! train-ponita --epochs 1000 --out runs/long           # towards the paper's 10,000-epoch schedule
//! train-ponita --data-path data/nbody --num-ori 16 --layers 5 --hidden 128
//! train-ponita --num-ori 12 --grid icosahedron --hidden 64 --layers 3 --max-train 300
//! train-ponita --dataset md17 --data-path rmd17_aspirin.npz --out runs/aspirin
//! ```

use clap::Parser;
use std::process::ExitCode;
use zoo_eval::cli::{parse_args, run};
use zoo_eval::ponita::PonitaArgs;
use zoo_eval::ponita::PonitaDataset;
use zoo_train::cli::{RunConfig, TrainArgs, prepare_with, report};
use zoo_train::ponita::{PonitaRun, default_train, md17_train, train, train_md17};

/// Train PONITA (Bekkers et al., ICLR 2024), an SE(3)-equivariant network on position-orientation
/// space R3xS2, to predict where 5 charged particles are 1000 integration steps ahead (the
/// EGNN/SEGNN/PONITA `nbody_small` benchmark: 3,000 training, 2,000 validation and 2,000 test
/// systems, generated exactly as numpy's generator does with seed 43 unless --data-path is given).
/// Inputs: charges and velocities; output: a displacement vector per particle; loss: position MSE.
/// Paper architecture by default (16 orientations, 5 layers, 128 channels); the recipe is the
/// paper's except the length (10 epochs; the paper trains 10,000). Test MSE is logged at every
/// validation (every 5 epochs and at the end) beside the no-motion and constant-velocity
/// baselines. With --dataset md17: energy and forces of one molecule from an rMD17/MD17 .npz
/// (950/50 frames train/valid), 20 orientations, forces from a direct equivariant head (Burn
/// cannot train -dE/dx: that needs second-order gradients).
#[derive(Parser, Debug)]
#[command(version)]
struct Cli {
    #[command(flatten)]
    train: TrainArgs,
    #[command(flatten)]
    model: PonitaArgs,
}

fn main() -> ExitCode {
    let cli: Cli = parse_args();
    run(|| {
        let (cfg, trainer) = prepare_with::<PonitaRun>(&cli.train, |cfg| {
            cli.model.apply(&mut cfg.model, &mut cfg.data);
            if cfg.data.dataset == PonitaDataset::Md17 && cfg.train == default_train() {
                cfg.train = md17_train();
            }
            Ok(())
        })?;
        match cfg.data.dataset {
            PonitaDataset::Nbody => report(
                PonitaRun::FAMILY,
                &train(&cfg, &trainer)?,
                &trainer,
                cli.train.common.json,
            ),
            PonitaDataset::Md17 => report(
                PonitaRun::FAMILY,
                &train_md17(&cfg, &trainer)?,
                &trainer,
                cli.train.common.json,
            ),
        }
        Ok(())
    })
}
