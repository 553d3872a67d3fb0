//! The training side of the command-line contract: `--epochs`, `--batch-size`, `--lr`,
//! `--resume DIR`, `--devices LIST`, on top of the common flags of `zoo_eval::cli`.

use crate::trainer::{FitResult, TrainConfig, Trainer};
use anyhow::{Context, bail};
use clap::Args;
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::path::PathBuf;
use zoo_eval::cli::{CommonArgs, load_config, print_metrics};
use zoo_weights::run::{RUN_FILE, read_manifest, write_manifest};

/// Flags of every training binary.
#[derive(Args, Debug, Clone, Default)]
pub struct TrainArgs {
    #[command(flatten)]
    pub common: CommonArgs,

    /// Number of epochs (overrides the config; with --resume, may extend the run).
    #[arg(long, value_name = "N")]
    pub epochs: Option<usize>,

    /// Samples per batch and per device (overrides the config).
    #[arg(long, value_name = "N")]
    pub batch_size: Option<usize>,

    /// Base learning rate (overrides the config).
    #[arg(long, value_name = "LR")]
    pub lr: Option<f64>,

    /// Continue the run in DIR (a previous --out) from its newest complete checkpoint, with the
    /// configuration recorded in DIR/run.json. Outputs go to DIR unless --out says otherwise.
    #[arg(long, value_name = "DIR")]
    pub resume: Option<PathBuf>,

    /// Train data-parallel on several devices, e.g. `cpu,cpu` or `cuda:0,cuda:1` (each device gets
    /// its own batch; gradients are averaged). Overrides --device.
    #[arg(long, value_name = "LIST")]
    pub devices: Option<String>,

    /// Also write a checkpoint every N optimizer steps (epochs always end with one).
    #[arg(long, value_name = "N")]
    pub checkpoint_every_steps: Option<usize>,

    /// Stop after N optimizer steps, keeping a checkpoint there (continue with --resume).
    #[arg(long, value_name = "N")]
    pub max_steps: Option<u64>,

    /// No progress bars or per-epoch lines on stderr.
    #[arg(long)]
    pub quiet: bool,
}

/// A family's complete run configuration (model, data, training), as stored in run.json.
pub trait RunConfig: Serialize + DeserializeOwned + Default + Clone {
    /// Family name recorded in run.json.
    const FAMILY: &'static str;
    /// The loop settings.
    fn train(&self) -> &TrainConfig;
    /// The loop settings, mutable.
    fn train_mut(&mut self) -> &mut TrainConfig;
    /// Checks model and data settings (the loop settings are checked by the trainer).
    fn validate(&self) -> anyhow::Result<()> {
        Ok(())
    }
}

/// Resolves the run configuration (run.json of `--resume`, else `--config`, else defaults; then
/// flags), seeds the devices, writes run.json, and returns the configuration and a trainer.
pub fn prepare<C: RunConfig>(args: &TrainArgs) -> anyhow::Result<(C, Trainer)> {
    prepare_with(args, |_| Ok(()))
}

/// [`prepare`] with a family's own flags: `family_flags` applies them to the configuration (on a
/// run being resumed they may not change anything).
pub fn prepare_with<C: RunConfig>(
    args: &TrainArgs,
    family_flags: impl FnOnce(&mut C) -> anyhow::Result<()>,
) -> anyhow::Result<(C, Trainer)> {
    let (mut cfg, out): (C, Option<PathBuf>) = match &args.resume {
        Some(dir) => {
            for (given, flag) in [
                (args.common.config.is_some(), "--config"),
                (args.common.seed.is_some(), "--seed"),
                (args.batch_size.is_some(), "--batch-size"),
                (args.lr.is_some(), "--lr"),
            ] {
                if given {
                    bail!(
                        "{flag} cannot change a run being resumed: the configuration is fixed by {}",
                        dir.join(RUN_FILE).display()
                    );
                }
            }
            let cfg: C = read_manifest(dir, C::FAMILY)?;
            let mut flagged = cfg.clone();
            family_flags(&mut flagged)?;
            if serde_json::to_value(&flagged)? != serde_json::to_value(&cfg)? {
                bail!(
                    "model or data flags cannot change a run being resumed: the configuration is fixed by {}",
                    dir.join(RUN_FILE).display()
                );
            }
            (cfg, Some(args.common.out.clone().unwrap_or_else(|| dir.clone())))
        }
        None => {
            let cfg: C = match &args.common.config {
                Some(path) => load_config(path)?,
                None => C::default(),
            };
            if let Some(out) = &args.common.out
                && out.join(RUN_FILE).exists()
            {
                bail!(
                    "{} already holds a training run; continue it with --resume {} or choose another --out",
                    out.display(),
                    out.display()
                );
            }
            let mut cfg = cfg;
            family_flags(&mut cfg)?;
            (cfg, args.common.out.clone())
        }
    };
    let t = cfg.train_mut();
    if let Some(v) = args.common.seed {
        t.seed = v;
    }
    if let Some(v) = args.epochs {
        t.epochs = v;
    }
    if let Some(v) = args.batch_size {
        t.batch_size = v;
    }
    if let Some(v) = args.lr {
        t.optimizer.lr = v;
    }
    if args.checkpoint_every_steps.is_some() {
        t.checkpoint_every_steps = args.checkpoint_every_steps;
    }
    if args.max_steps.is_some() {
        t.max_steps = args.max_steps;
    }
    cfg.validate()?;
    cfg.train().validate()?;
    let devices = match &args.devices {
        Some(list) => zoo_eval::parse_devices(list)?,
        None => vec![zoo_eval::parse_device(&args.common.device)?],
    };
    if let Some(dir) = &out {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create output directory {}", dir.display()))?;
        let mut recorded = cfg.clone();
        // max_steps limits one invocation, it is not part of the run.
        recorded.train_mut().max_steps = None;
        write_manifest(dir, C::FAMILY, &recorded)
            .with_context(|| format!("cannot write {}", dir.join(RUN_FILE).display()))?;
    }
    let trainer = Trainer {
        config: cfg.train().clone(),
        devices,
        out,
        resume: args.resume.is_some(),
        progress: !args.quiet,
    };
    trainer.seed_devices();
    Ok((cfg, trainer))
}

/// Prints the outcome of a run (last epoch's metrics, steps, best epoch) and, with `--json`, the
/// same as one JSON object on the last line.
pub fn report<M>(family: &str, result: &FitResult<M>, trainer: &Trainer, json: bool) {
    let mut m = serde_json::Map::new();
    for (k, v) in result.last_metrics() {
        m.insert(k, v.into());
    }
    m.insert("epochs".into(), result.history.len().into());
    m.insert("steps".into(), result.steps.into());
    if let Some(b) = &result.best {
        m.insert(format!("best_{}", b.metric), b.value.into());
        m.insert("best_epoch".into(), b.epoch.into());
    }
    if result.stopped_early {
        m.insert("stopped_early".into(), true.into());
    }
    let seconds: f64 = result.history.iter().map(|r| r.seconds).sum();
    m.insert("train_seconds".into(), seconds.into());
    let title = match &trainer.out {
        Some(dir) => format!("train-{family}: done, outputs in {}", dir.display()),
        None => format!("train-{family}: done"),
    };
    print_metrics(&title, &m, json);
}
