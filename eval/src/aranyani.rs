//! Aranyani's run configuration, data loading and evaluation (shared by `train-aranyani` and
//! `eval-aranyani`).

use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use zoo_aranyani::{Forest, LearnerConfig};
use zoo_datasets::tabular::{
    BiasedStream, CsvOptions, Encoder, Table, TabularItem, TabularSpec, adult_csv, census_csv,
};

use crate::metrics::Fairness;

/// Family name in run.json.
pub const FAMILY: &str = "aranyani";

/// Where the data comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum, Default)]
#[serde(rename_all = "lowercase")]
pub enum DatasetKind {
    /// The generated biased stream (the embedded default).
    #[default]
    Synthetic,
    /// UCI Adult: --data-path is the folder with adult.data (and adult.test) or the adult.data file.
    Adult,
    /// ProPublica COMPAS: --data-path is compas-scores-two-years.csv.
    Compas,
    /// KDD Census-Income: --data-path is the folder with census-income.data (and .test) or the file.
    Census,
    /// Any CSV with a header: needs --label and --sensitive COL=VALUE.
    Csv,
}

/// A complete run (what run.json records).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AranyaniRun {
    /// Where the data comes from.
    pub dataset: DatasetKind,
    /// File or folder of the data.
    pub data_path: Option<PathBuf>,
    /// Held-out file (default for adult/census: the test file next to the training file).
    pub test_path: Option<PathBuf>,
    /// Column roles and encoding (presets fill it for adult/compas/census).
    pub spec: TabularSpec,
    /// The generated stream (dataset synthetic).
    pub synthetic: BiasedStream,
    /// Model and update settings (lambda is taken from `sweep`).
    pub learner: LearnerConfig,
    /// Lambdas to run (one pass each per seed).
    pub sweep: Vec<f64>,
    /// Seeds of the forest's initialisation (one pass each per lambda).
    pub seeds: Vec<u64>,
    /// Shuffle the stream (deterministically per seed) instead of the file order.
    pub shuffle: bool,
}

impl Default for AranyaniRun {
    fn default() -> Self {
        Self {
            dataset: DatasetKind::Synthetic,
            data_path: None,
            test_path: None,
            spec: TabularSpec::default(),
            synthetic: BiasedStream::default(),
            learner: LearnerConfig::default(),
            sweep: vec![0.0],
            seeds: vec![0],
            shuffle: false,
        }
    }
}

/// The file inside `path` when it is a folder, else `path`.
fn in_folder(path: &Path, name: &str) -> PathBuf {
    if path.is_dir() {
        path.join(name)
    } else {
        path.to_path_buf()
    }
}

/// The data of a run: the encoder (None for the generated stream), the stream, the held-out set
/// and a one-line description.
pub struct RunData {
    /// Encoder fitted on the training file.
    pub encoder: Option<Encoder>,
    /// The stream, in file order.
    pub train: Vec<TabularItem>,
    /// Held-out instances (empty without a test file).
    pub test: Vec<TabularItem>,
    /// Feature width.
    pub dim: usize,
    /// What was read.
    pub what: String,
}

/// The CSV options of `cfg.dataset` for its training file and for a test file.
pub fn csv_options(kind: DatasetKind) -> (CsvOptions, CsvOptions) {
    match kind {
        DatasetKind::Adult => (adult_csv(false), adult_csv(true)),
        DatasetKind::Census => (census_csv(), census_csv()),
        _ => (CsvOptions::default(), CsvOptions::default()),
    }
}

/// Reads (or generates) the data `cfg` names.
pub fn load(cfg: &AranyaniRun) -> anyhow::Result<RunData> {
    if cfg.dataset == DatasetKind::Synthetic {
        let (train, test) = cfg.synthetic.generate()?;
        let what = format!(
            "generated biased stream ({} + {} held out)",
            train.len(),
            test.len()
        );
        return Ok(RunData {
            encoder: None,
            train,
            test,
            dim: cfg.synthetic.dim,
            what,
        });
    }
    let path = cfg
        .data_path
        .as_deref()
        .with_context(|| format!("--dataset {:?} needs --data-path", cfg.dataset).to_lowercase())?;
    let (train_file, test_file, options, test_options) = match cfg.dataset {
        DatasetKind::Adult => {
            let test = path
                .is_dir()
                .then(|| path.join("adult.test"))
                .filter(|p| p.is_file());
            (
                in_folder(path, "adult.data"),
                test,
                adult_csv(false),
                adult_csv(true),
            )
        }
        DatasetKind::Census => {
            let test = path
                .is_dir()
                .then(|| path.join("census-income.test"))
                .filter(|p| p.is_file());
            (
                in_folder(path, "census-income.data"),
                test,
                census_csv(),
                census_csv(),
            )
        }
        _ => (
            path.to_path_buf(),
            None,
            CsvOptions::default(),
            CsvOptions::default(),
        ),
    };
    if cfg.dataset == DatasetKind::Csv && (cfg.spec.label.is_empty() || cfg.spec.sensitive.is_empty()) {
        bail!("--dataset csv needs --label COL and --sensitive COL=VALUE");
    }
    let test_file = cfg.test_path.clone().or(test_file);
    let table = Table::read(&train_file, &options)?;
    let enc = Encoder::fit(&table, &cfg.spec)?;
    let train = enc.encode(&table)?;
    let test = match &test_file {
        Some(p) => enc.encode(&Table::read(p, &test_options)?)?,
        None => Vec::new(),
    };
    let what = format!(
        "{} ({} rows{}, {} features)",
        train_file.display(),
        train.len(),
        test_file.as_ref().map_or(String::new(), |p| format!(
            "; held out: {} rows of {}",
            test.len(),
            p.display()
        )),
        enc.dim()
    );
    Ok(RunData {
        dim: enc.dim(),
        encoder: Some(enc),
        train,
        test,
        what,
    })
}

/// Soft and hard predictions of `forest` on `items`: (soft metrics, hard metrics).
pub fn evaluate(forest: &Forest, items: &[TabularItem]) -> anyhow::Result<(Fairness, Fairness)> {
    let (mut soft, mut hard) = (Fairness::new(), Fairness::new());
    let mut x = Vec::new();
    for item in items {
        x.clear();
        x.extend(item.features.iter().map(|&v| f64::from(v)));
        soft.add(forest.predict(&x).min(1), item.label.min(1), item.group)?;
        hard.add(forest.predict_hard(&x).min(1), item.label.min(1), item.group)?;
    }
    Ok((soft, hard))
}

/// File name of the forest learned with `lambda` and `seed` in a run's `--out`.
pub fn forest_file(lambda: f64, seed: u64) -> String {
    format!("forest-lambda{lambda}-seed{seed}.json")
}
