//! Trains a ResNet with a pluggable normalization-activation (BN-ReLU, GN-ReLU, EvoNorm-B0/S0/...).
//!
//! ```text
//! train-evonorm                                        # ResNetV2-18 (width 16), EvoNorm-S0 (8 groups), Shapes-10
//! train-evonorm --norm evonorm-b0 --batch-size 4 --lr 0.003125 --out runs/b0-bs4
//! train-evonorm --arch resnetv2-50 --stem imagenet --width 64 --data ~/imagenette --image-size 160
//! ```

use clap::Parser;
use std::process::ExitCode;
use zoo_eval::cli::{parse_args, run};
use zoo_eval::image_cls::{ImageArgs, ResNetArgs};
use zoo_train::cli::{RunConfig, TrainArgs, prepare_with, report};
use zoo_train::evonorm::{EvoNormRun, train};

/// Train a ResNet-18/26/50 (or pre-activation ResNetV2) whose normalization-activation layers are
/// BN-ReLU, GN-ReLU or an EvoNorm (Liu et al., NeurIPS 2020), on the generated Shapes-10 set or an
/// ImageFolder (--data). Defaults: pre-activation ResNetV2-18 width 16 with a CIFAR stem, EvoNorm-S0 with 8 groups, SGD Nesterov
/// lr 0.1 at batch 128, a 3-epoch linear warmup (EvoNorm-B0 stays at chance without one) and
/// cosine decay, 10 epochs. Scale --lr linearly when changing
/// --batch-size. EvoNorms sit where the TensorFlow reference puts them (affine-only EvoNorm with
/// gamma 0 closing each block and on projection shortcuts).
#[derive(Parser, Debug)]
#[command(version)]
struct Cli {
    #[command(flatten)]
    train: TrainArgs,
    #[command(flatten)]
    model: ResNetArgs,
    #[command(flatten)]
    data: ImageArgs,
}

fn main() -> ExitCode {
    let cli: Cli = parse_args();
    run(|| {
        let (cfg, trainer) = prepare_with::<EvoNormRun>(&cli.train, |cfg| {
            cli.model.apply(&mut cfg.model);
            cli.data.apply(&mut cfg.data);
            cfg.resolve_classes()
        })?;
        let result = train(&cfg, &trainer)?;
        report(EvoNormRun::FAMILY, &result, &trainer, cli.train.common.json);
        Ok(())
    })
}
