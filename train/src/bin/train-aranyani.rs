//! Online group-fair oblique decision forests (Aranyani): one prequential pass per lambda and seed.
//!
//! ```text
//! train-aranyani                                            # generated biased stream, lambda 0
//! train-aranyani --dataset adult --data-path ~/data/adult --sweep 0,0.1,1,10,100 --seeds 0,1,2 --out runs/adult
//! train-aranyani --dataset csv --data-path loans.csv --label default --sensitive gender=F --lambda 1
//! ```

use anyhow::{Context, bail};
use clap::Parser;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use zoo_aranyani::{FairnessKind, Forest, ForestConfig, LearnerConfig, PenaltyGradient};
use zoo_datasets::tabular::{Categorical, UnknownCategory, adult_spec, census_spec, compas_spec};
use zoo_eval::aranyani::{AranyaniRun, DatasetKind, RunData, forest_file, load};
use zoo_eval::cli::{CommonArgs, load_config, parse_args, print_metrics, run};
use zoo_train::aranyani::{Checkpointing, PassResult, online_pass};

use zoo_train::plot::{Series, line_plot};

/// What --resume needs, kept beside the checkpoints: the configuration with its floats as bits
/// (run.json's decimal text may read back an ulp off, and the generated data and z-scores would
/// follow) and the checkpoint interval.
const RESUME_FILE: &str = "resume.json";

#[derive(serde::Serialize, serde::Deserialize)]
struct Resume {
    every: usize,
    config: AranyaniRun,
}

fn parse_list<T: std::str::FromStr>(s: &str) -> Result<Vec<T>, String> {
    s.split(',')
        .map(|v| {
            v.trim()
                .parse()
                .map_err(|_| format!("`{v}` in `{s}` is not a number"))
        })
        .collect()
}

/// Train Aranyani (Chowdhury et al., ICLR 2024): K soft oblique trees learned online, one instance
/// at a time (predict, score, then update with Adam), with a node-level group-fairness penalty
/// lambda sum_nodes H(E[s|a=1] - E[s|a=0]) whose gradient comes from per-group running
/// aggregates (no stored data). Reports the prequential accuracy and demographic-parity /
/// equalized-odds gaps over the stream and, when a test file is given, on it (soft and hard
/// inference). --sweep runs several lambdas (and --seeds several seeds) and writes sweep.csv and
/// tradeoff.png (accuracy against DP gap) to --out. Defaults: K = 3, depth 4, Adam lr 2e-3,
/// batch 1, delta 0.01, z-scored label-encoded features, one pass in file order.
#[derive(Parser, Debug)]
#[command(version)]
struct Cli {
    #[command(flatten)]
    common: CommonArgs,
    /// Data: synthetic, adult, compas, census or csv.
    #[arg(long, value_enum)]
    dataset: Option<DatasetKind>,
    /// File or folder of the data (see --dataset).
    #[arg(long, value_name = "PATH")]
    data_path: Option<PathBuf>,
    /// Held-out file, encoded with the training file's categories and statistics.
    #[arg(long, value_name = "FILE")]
    test_path: Option<PathBuf>,
    /// csv: the label column (0/1, or binarised with --positive).
    #[arg(long, value_name = "COL")]
    label: Option<String>,
    /// csv: a label value that is class 1 (repeat for several).
    #[arg(long, value_name = "VALUE")]
    positive: Vec<String>,
    /// csv: the protected attribute and its value for group 1, as COL=VALUE.
    #[arg(long, value_name = "COL=VALUE")]
    sensitive: Option<String>,
    /// Categorical encoding: label (codes in sorted order, the reference's) or onehot.
    #[arg(long, value_name = "KIND", value_parser = ["label", "onehot"])]
    encoding: Option<String>,
    /// Do not z-score the features.
    #[arg(long)]
    no_zscore: bool,
    /// Map categories unseen in the training file to an extra "other" code instead of failing.
    #[arg(long)]
    unknown_as_other: bool,
    /// Fairness penalty weight lambda (0: off).
    #[arg(long, value_name = "L")]
    lambda: Option<f64>,
    /// Several lambdas, e.g. 0,0.1,1,10,100 (overrides --lambda).
    #[arg(long, value_name = "LIST")]
    sweep: Option<String>,
    /// Several seeds, e.g. 0,1,2 (overrides --seed).
    #[arg(long, value_name = "LIST")]
    seeds: Option<String>,
    /// Constraint: dp (demographic parity of node decisions) or eo (equalized odds).
    #[arg(long, value_name = "KIND", value_parser = ["dp", "eo"])]
    fairness: Option<String>,
    /// Penalty derivative: reference (F if |F| < delta else sign) or exact (smooth L1).
    #[arg(long, value_name = "KIND", value_parser = ["reference", "exact"])]
    penalty: Option<String>,
    /// Trees K.
    #[arg(long)]
    trees: Option<usize>,
    /// Tree depth h.
    #[arg(long)]
    depth: Option<usize>,
    /// Adam learning rate.
    #[arg(long)]
    lr: Option<f64>,
    /// Instances per update (1: the reference's online setting).
    #[arg(long)]
    batch_size: Option<usize>,
    /// Shuffle the stream (per seed) instead of using the file order.
    #[arg(long)]
    shuffle: bool,
    /// Checkpoint each pass every N instances (and at its end) under --out/checkpoints, so that
    /// --resume continues a killed run exactly.
    #[arg(long, value_name = "N", requires = "out")]
    checkpoint_every: Option<usize>,
    /// Continue the run in DIR (a previous --out) from its checkpoints, with the configuration
    /// recorded in DIR/run.json; finished passes are re-evaluated, not re-learned.
    #[arg(long, value_name = "DIR", conflicts_with_all = ["config", "dataset", "data_path", "sweep", "seeds", "lambda"])]
    resume: Option<PathBuf>,
    /// No per-run lines on stderr.
    #[arg(long)]
    quiet: bool,
}

/// The run's configuration and checkpoint interval: those of --resume's directory, else from the
/// flags and --config.
fn resolve(cli: &Cli) -> anyhow::Result<(AranyaniRun, Option<usize>)> {
    if let Some(dir) = &cli.resume {
        let path = dir.join("checkpoints").join(RESUME_FILE);
        let text = std::fs::read_to_string(&path).with_context(|| {
            format!(
                "{}: no checkpoints to resume from (was it run with --checkpoint-every?)",
                dir.display()
            )
        })?;
        let value = zoo_train::aranyani::floats_from_bits(serde_json::from_str(&text)?)?;
        let r: Resume = serde_json::from_value(value)
            .with_context(|| format!("{}: not a train-aranyani resume file", path.display()))?;
        return Ok((r.config, Some(r.every)));
    }
    let mut cfg: AranyaniRun = match &cli.common.config {
        Some(p) => load_config(p)?,
        None => AranyaniRun::default(),
    };
    if let Some(d) = cli.dataset {
        cfg.dataset = d;
        cfg.spec = match d {
            DatasetKind::Adult => adult_spec(),
            DatasetKind::Compas => compas_spec(),
            DatasetKind::Census => census_spec(),
            DatasetKind::Csv | DatasetKind::Synthetic => cfg.spec,
        };
    }
    if cli.data_path.is_some() {
        cfg.data_path = cli.data_path.clone();
    }
    if cli.test_path.is_some() {
        cfg.test_path = cli.test_path.clone();
    }
    if let Some(l) = &cli.label {
        cfg.spec.label = l.clone();
    }
    if !cli.positive.is_empty() {
        cfg.spec.positive = cli.positive.clone();
    }
    if let Some(s) = &cli.sensitive {
        let (col, val) = s
            .split_once('=')
            .with_context(|| format!("--sensitive `{s}`: expected COL=VALUE, e.g. sex=Male"))?;
        cfg.spec.sensitive = col.to_string();
        cfg.spec.sensitive_value = val.to_string();
    }
    if let Some(e) = &cli.encoding {
        cfg.spec.encoding = if e == "onehot" {
            Categorical::OneHot
        } else {
            Categorical::Label
        };
    }
    if cli.no_zscore {
        cfg.spec.zscore = false;
    }
    if cli.unknown_as_other {
        cfg.spec.unknown = UnknownCategory::Other;
    }
    if let Some(l) = cli.lambda {
        cfg.sweep = vec![l];
    }
    if let Some(s) = &cli.sweep {
        cfg.sweep = parse_list(s).map_err(|e| anyhow::anyhow!("--sweep: {e}"))?;
    }
    if let Some(s) = cli.common.seed {
        cfg.seeds = vec![s];
    }
    if let Some(s) = &cli.seeds {
        cfg.seeds = parse_list(s).map_err(|e| anyhow::anyhow!("--seeds: {e}"))?;
    }
    if let Some(f) = &cli.fairness {
        cfg.learner.fairness = if f == "eo" {
            FairnessKind::Eo
        } else {
            FairnessKind::Dp
        };
    }
    if let Some(p) = &cli.penalty {
        cfg.learner.penalty = if p == "exact" {
            PenaltyGradient::Exact
        } else {
            PenaltyGradient::Reference
        };
    }
    if let Some(t) = cli.trees {
        cfg.learner.forest.trees = t;
    }
    if let Some(d) = cli.depth {
        cfg.learner.forest.depth = d;
    }
    if let Some(lr) = cli.lr {
        cfg.learner.lr = lr;
    }
    if let Some(b) = cli.batch_size {
        cfg.learner.batch = b;
    }
    if cli.shuffle {
        cfg.shuffle = true;
    }
    if cfg.sweep.is_empty() || cfg.seeds.is_empty() {
        bail!("--sweep and --seeds need at least one value");
    }
    if let Some(bad) = cfg.sweep.iter().find(|l| !(l.is_finite() && **l >= 0.0)) {
        bail!("lambda must be finite and non-negative, got {bad}");
    }
    Ok((cfg, cli.checkpoint_every))
}

fn write_outputs(
    out: &Path,
    cfg: &AranyaniRun,
    data: &RunData,
    results: &[(PassResult, Forest)],
) -> anyhow::Result<()> {
    if let Some(enc) = &data.encoder {
        zoo_weights::atomic::write_json_atomic(out.join("encoder.json"), enc)?;
    }
    for (r, forest) in results {
        zoo_weights::atomic::write_json_atomic(out.join(forest_file(r.lambda, r.seed)), forest)?;
    }
    let results: Vec<&PassResult> = results.iter().map(|(r, _)| r).collect();
    let opt = |v: Option<f64>| v.map_or(String::new(), |v| format!("{v:.6}"));
    let mut csv = String::from(
        "lambda,seed,stream_accuracy,stream_dp,stream_eo,stream_loss,test_accuracy,test_dp,test_eo,test_accuracy_hard,test_dp_hard,instances_per_second\n",
    );
    for r in &results {
        csv.push_str(&format!(
            "{},{},{:.6},{:.6},{:.6},{:.6},{},{},{},{},{},{:.0}\n",
            r.lambda,
            r.seed,
            r.stream_accuracy,
            r.stream_dp,
            r.stream_eo,
            r.stream_loss,
            opt(r.test_accuracy),
            opt(r.test_dp),
            opt(r.test_eo),
            opt(r.test_accuracy_hard),
            opt(r.test_dp_hard),
            r.instances_per_second
        ));
    }
    zoo_weights::atomic::write_atomic(out.join("sweep.csv"), csv.as_bytes())?;
    // Accuracy against DP gap, one point per lambda (mean over seeds), in lambda order.
    let mean = |f: &dyn Fn(&PassResult) -> f64, l: f64| {
        let v: Vec<f64> = results.iter().filter(|r| r.lambda == l).map(|r| f(r)).collect();
        v.iter().sum::<f64>() / v.len() as f64
    };
    let mut series = vec![Series {
        name: "stream (prequential)".into(),
        points: cfg
            .sweep
            .iter()
            .map(|&l| (mean(&|r| r.stream_dp, l), mean(&|r| r.stream_accuracy, l)))
            .collect(),
    }];
    if results.iter().all(|r| r.test_accuracy.is_some()) {
        series.push(Series {
            name: "held out".into(),
            points: cfg
                .sweep
                .iter()
                .map(|&l| {
                    (
                        mean(&|r| r.test_dp.unwrap_or(f64::NAN), l),
                        mean(&|r| r.test_accuracy.unwrap_or(f64::NAN), l),
                    )
                })
                .collect(),
        });
    }
    line_plot(
        &out.join("tradeoff.png"),
        "accuracy against demographic-parity gap (one point per lambda)",
        "DP gap",
        &series,
    )
    .map_err(|e| anyhow::anyhow!("writing tradeoff.png: {e}"))?;
    Ok(())
}

fn main() -> ExitCode {
    let cli: Cli = parse_args();
    run(|| {
        if zoo_eval::device::DeviceSpec::parse(&cli.common.device)? != zoo_eval::device::DeviceSpec::Cpu {
            bail!(
                "train-aranyani runs on the CPU only (--device cpu): its per-instance updates of a few \
                 hundred parameters are far faster there than on any accelerator"
            );
        }
        let (cfg, every) = resolve(&cli)?;
        let out = cli.resume.as_ref().or(cli.common.out.as_ref());
        let checkpoints = out.map(|o| o.join("checkpoints"));
        // run.json (and, with checkpoints, the resume file) are written first: an --out that
        // cannot be written fails before the learning rather than after it, and --resume finds
        // them (during a resume they are already there).
        if let (Some(o), None) = (out, &cli.resume) {
            zoo_weights::run::write_manifest(o, zoo_eval::aranyani::FAMILY, &cfg)
                .with_context(|| format!("writing {}", o.join("run.json").display()))?;
        }
        if let (Some(o), Some(every), None) = (out, every, &cli.resume) {
            let resume = Resume {
                every,
                config: cfg.clone(),
            };
            let path = o.join("checkpoints").join(RESUME_FILE);
            zoo_weights::atomic::write_json_atomic(
                &path,
                &zoo_train::aranyani::floats_to_bits(serde_json::to_value(&resume)?),
            )
            .with_context(|| format!("writing {}", path.display()))?;
        }
        let data = load(&cfg)?;
        let (train, test, dim, what) = (&data.train, &data.test, data.dim, &data.what);
        let mut results = Vec::new();
        for &lambda in &cfg.sweep {
            for &seed in &cfg.seeds {
                let learner = LearnerConfig {
                    forest: ForestConfig {
                        features: dim,
                        ..cfg.learner.forest
                    },
                    lambda,
                    ..cfg.learner
                };
                let mut stream = train.clone();
                if cfg.shuffle {
                    let order = zoo_datasets::rng::permutation(
                        stream.len(),
                        &mut zoo_datasets::rng::rng_for(seed, &[0xA4A]),
                    );
                    stream = order.iter().map(|&i| train[i].clone()).collect();
                }
                let file = checkpoints
                    .as_ref()
                    .map(|d| d.join(forest_file(lambda, seed).replace(".json", ".state.json")));
                let ckpt = match (&file, every) {
                    (Some(path), Some(every)) => Some(Checkpointing { path, every }),
                    _ => None,
                };
                let (learned, r) = online_pass(learner, seed, &stream, test, ckpt)?;
                if !cli.quiet {
                    eprintln!(
                        "lambda {lambda:>7} seed {seed}: stream accuracy {:.4} DP {:.4} EO {:.4}{}",
                        r.stream_accuracy,
                        r.stream_dp,
                        r.stream_eo,
                        r.test_accuracy.map_or(String::new(), |a| format!(
                            " | held out accuracy {a:.4} DP {:.4}",
                            r.test_dp.unwrap_or(0.0)
                        ))
                    );
                }
                results.push((r, learned.forest));
            }
        }
        if let Some(out) = out {
            write_outputs(out, &cfg, &data, &results)?;
        }
        let (last, _) = results.last().context("no run")?;
        let mut m = serde_json::Map::new();
        m.insert("data".into(), what.clone().into());
        m.insert("runs".into(), results.len().into());
        let v = serde_json::to_value(last)?;
        if let serde_json::Value::Object(o) = v {
            m.extend(o);
        }
        let title = match out {
            Some(out) => format!(
                "train-aranyani: {what}; wrote {}/sweep.csv and tradeoff.png (last run below)",
                out.display()
            ),
            None => format!("train-aranyani: {what} (last run below)"),
        };
        print_metrics(&title, &m, cli.common.json);
        Ok(())
    })
}
