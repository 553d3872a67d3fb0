//! Trains a small CLIP contrastively on generated captioned shapes.
//!
//! ```text
//! train-clip --out runs/clip                          # the committed shapes CLIP's recipe
//! train-clip --epochs 5 --out runs/quick
//! train-clip --resume runs/clip                       # continue an interrupted run
//! eval-clip --checkpoint runs/clip                    # zero-shot on seen / held-apart pairs
//! ```

use clap::Parser;
use std::process::ExitCode;
use zoo_eval::cli::{parse_args, run};
use zoo_eval::clip::ClipArgs;
use zoo_train::cli::{RunConfig, TrainArgs, prepare_with, report};
use zoo_train::clip::{ClipRun, train};

/// Train a CLIP (Radford et al., 2021) from scratch with the symmetric InfoNCE loss and a learnable
/// temperature, on the generated captioned-shapes set: 32x32 images of one object (6 colours, 5
/// shapes, 2 sizes, 4 positions, 2 textures) with captions drawn from varied templates, a fresh
/// caption per image at every epoch (`"data": {"fixed_captions": true}` in --config keeps each
/// image's first caption, the one `eval-clip shapes-write` writes). Five colour-shape pairs (red
/// circle, green square, blue triangle, yellow cross, purple ring) never appear in training; at
/// every validation the zero-shot accuracy over the 30 colour-shape classes is logged separately
/// for seen and held-apart pairs. Default architecture: `shapes` (the committed weights/clip_shapes model);
/// default recipe: AdamW 1e-3, weight decay 0.1, 200 warmup steps then cosine, batch 256, 30 epochs.
#[derive(Parser, Debug)]
#[command(version)]
struct Cli {
    #[command(flatten)]
    train: TrainArgs,
    #[command(flatten)]
    model: ClipArgs,
}

fn main() -> ExitCode {
    let cli: Cli = parse_args();
    run(|| {
        let (cfg, trainer) = prepare_with::<ClipRun>(&cli.train, |cfg| cli.model.apply(&mut cfg.model))?;
        report(
            ClipRun::FAMILY,
            &train(&cfg, &trainer)?,
            &trainer,
            cli.train.common.json,
        );
        Ok(())
    })
}
