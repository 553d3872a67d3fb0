//! The command-line contract every burnzoo binary follows, implemented once.
//!
//! * Common flags ([`CommonArgs`]): `--device`, `--seed`, `--out DIR`, `--config FILE`, `--json`.
//! * `--config FILE` is JSON or TOML with the same fields as the binary's run config; unknown
//!   fields and wrong types are errors that name the field. Flags given on the command line
//!   override the file.
//! * `--json` prints the final metrics as one JSON object on the last line of stdout.
//! * Exit code 0 on success; any error prints one paragraph to stderr and exits with 1 (usage
//!   errors included; `--help` and `--version` exit with 0).

use anyhow::Context;
use clap::{Args, Parser};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Flags shared by every `train-*` and `eval-*` binary.
#[derive(Args, Debug, Clone, Default)]
pub struct CommonArgs {
    /// Where to run: cpu (always available), wgpu (best GPU via Vulkan/Metal/DX12), wgpu:N (N-th
    /// discrete GPU), wgpu:cpu (software Vulkan), cuda or cuda:N. GPU backends need a binary built
    /// with `--features wgpu` or `--features cuda`.
    #[arg(long, value_name = "DEVICE", default_value = "cpu")]
    pub device: String,

    /// Seed for every random draw (weights, data order, augmentation). Overrides the config file;
    /// the default is the config's seed (42 unless set).
    #[arg(long, value_name = "N")]
    pub seed: Option<u64>,

    /// Output directory: checkpoints, final weights, run.json, metrics.json, log.jsonl, plots.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,

    /// Run configuration as JSON or TOML (same fields as the run config printed in run.json).
    /// Flags on the command line override values from the file.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Print the final metrics as a single JSON object on the last line of stdout.
    #[arg(long)]
    pub json: bool,
}

/// Flags of every evaluation binary.
#[derive(Args, Debug, Clone, Default)]
pub struct EvalArgs {
    #[command(flatten)]
    pub common: CommonArgs,

    /// A training run to evaluate: the `--out` directory of a `train-*` binary. Its run.json gives
    /// the model configuration, its model.bpk (or newest checkpoint) the weights.
    #[arg(long, value_name = "DIR", conflicts_with = "weights")]
    pub checkpoint: Option<PathBuf>,

    /// A weight file (.bpk) to evaluate; the model is then described by the model flags or
    /// `--config`.
    #[arg(long, value_name = "FILE")]
    pub weights: Option<PathBuf>,

    /// Evaluation batch size.
    #[arg(long, value_name = "N")]
    pub batch_size: Option<usize>,
}

impl EvalArgs {
    /// The setup and weights to evaluate: from `--checkpoint DIR` (its run.json and final or newest
    /// weights), or from `--weights FILE` with `--config` (or the defaults).
    pub fn setup<S: Serialize + DeserializeOwned + Default>(
        &self,
        family: &str,
    ) -> anyhow::Result<(S, PathBuf)> {
        match (&self.checkpoint, &self.weights) {
            (Some(dir), _) => Ok((
                zoo_weights::run::read_manifest(dir, family)?,
                zoo_weights::run::weights_path(dir)?,
            )),
            (None, Some(w)) => {
                let setup = match &self.common.config {
                    Some(path) => load_config(path)?,
                    None => S::default(),
                };
                Ok((setup, w.clone()))
            }
            (None, None) => {
                anyhow::bail!("give --checkpoint DIR (the --out of a train-{family} run) or --weights FILE")
            }
        }
    }
}

/// A configuration file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// Unreadable file.
    #[error("config file {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// Not valid JSON/TOML, or a field with the wrong type or value.
    #[error("config file {}: {message}", path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// What is wrong, naming the field.
        message: String,
    },
    /// Fields the run config does not have.
    #[error("config file {}: unknown field{} {} (check the spelling against run.json of a run, or --help)", path.display(), if fields.len() > 1 { "s" } else { "" }, fields.iter().map(|f| format!("`{f}`")).collect::<Vec<_>>().join(", "))]
    Unknown {
        /// The file.
        path: PathBuf,
        /// Dotted paths of the unknown fields.
        fields: Vec<String>,
    },
}

/// Reads a run config from JSON (`.json`) or TOML (`.toml`; other extensions: tried as JSON, then
/// TOML). Fields absent from the file keep their default; every field of the file must exist in
/// `T`; errors name the field.
pub fn load_config<T: Serialize + DeserializeOwned + Default>(path: &Path) -> Result<T, ConfigError> {
    load_config_over(path, &T::default())
}

/// [`load_config`] with the file laid over `base` instead of the default: a table in the file
/// replaces only the keys it names, at any depth (so `[train] epochs = 5` keeps the base
/// optimizer).
pub fn load_config_over<T: Serialize + DeserializeOwned>(path: &Path, base: &T) -> Result<T, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    parse_config_over(&text, path, base)
}

/// [`load_config_over`] on text already read from `path` (used in messages and to pick the format).
pub fn parse_config_over<T: Serialize + DeserializeOwned>(
    text: &str,
    path: &Path,
    base: &T,
) -> Result<T, ConfigError> {
    let parse_err = |message: String| ConfigError::Parse {
        path: path.to_path_buf(),
        message,
    };
    let json = |t: &str| serde_json::from_str::<serde_json::Value>(t).map_err(|e| parse_err(e.to_string()));
    let toml =
        |t: &str| toml::from_str::<serde_json::Value>(t).map_err(|e| parse_err(one_line(&e.to_string())));
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    let overlay = match ext.as_deref() {
        Some("toml") => toml(text)?,
        Some("json") => json(text)?,
        _ => json(text).or_else(|json_err| toml(text).map_err(|_| json_err))?,
    };
    if !overlay.is_object() {
        return Err(parse_err("the top level must be a table/object of fields".into()));
    }
    let mut merged = serde_json::to_value(base).map_err(|e| parse_err(e.to_string()))?;
    merge(&mut merged, overlay);
    let mut unknown = Vec::new();
    let mut record = |p: serde_ignored::Path<'_>| unknown.push(p.to_string());
    let value = {
        let ignoring = serde_ignored::Deserializer::new(merged, &mut record);
        serde_path_to_error::deserialize(ignoring).map_err(|e| field_error(e, path))?
    };
    if unknown.is_empty() {
        Ok(value)
    } else {
        Err(ConfigError::Unknown {
            path: path.to_path_buf(),
            fields: unknown,
        })
    }
}

/// Key of the internally tagged enums in run configs (`{"source": "dassl", ...}`).
const TAG: &str = "source";

/// Lays `overlay` over `base`: objects merge key by key, anything else replaces. An object that
/// names another variant of a tagged enum than the base (`source`) replaces it whole: the
/// variants' fields do not mix.
fn merge(base: &mut serde_json::Value, overlay: serde_json::Value) {
    match (base, overlay) {
        (serde_json::Value::Object(b), serde_json::Value::Object(o))
            if o.get(TAG).is_some_and(|t| b.get(TAG) != Some(t)) =>
        {
            *b = o;
        }
        (serde_json::Value::Object(b), serde_json::Value::Object(o)) => {
            for (k, v) in o {
                match b.get_mut(&k) {
                    Some(slot) if slot.is_object() && v.is_object() => merge(slot, v),
                    _ => {
                        b.insert(k, v);
                    }
                }
            }
        }
        (b, o) => *b = o,
    }
}

fn one_line(text: &str) -> String {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.chars().all(|c| c == '|' || c == '^' || c == ' '))
        .collect::<Vec<_>>()
        .join(" ")
}

fn field_error<E: std::fmt::Display>(e: serde_path_to_error::Error<E>, path: &Path) -> ConfigError {
    let field = e.path().to_string();
    let inner = one_line(&e.inner().to_string());
    let message = if field == "." || field.is_empty() {
        inner
    } else {
        format!("field `{field}`: {inner}")
    };
    ConfigError::Parse {
        path: path.to_path_buf(),
        message,
    }
}

/// Parses the command line of a binary. Usage errors print clap's message and exit with 1;
/// `--help`/`--version` print and exit with 0.
pub fn parse_args<T: Parser>() -> T {
    match T::try_parse() {
        Ok(args) => args,
        Err(e) => {
            let code = if e.use_stderr() { 1 } else { 0 };
            let _ = e.print();
            std::process::exit(code);
        }
    }
}

/// Runs a binary's body: on error prints `error: ...` (the whole cause chain, one paragraph) and
/// returns exit code 1.
pub fn run(body: impl FnOnce() -> anyhow::Result<()> + Send) -> ExitCode {
    match crate::device::in_thread_pool(body) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", error_paragraph(&e));
            ExitCode::from(1)
        }
    }
}

/// An error and its causes on one line, without repeating a cause already in the message.
pub fn error_paragraph(e: &anyhow::Error) -> String {
    let mut text = e.to_string();
    for cause in e.chain().skip(1) {
        let c = cause.to_string();
        if !text.contains(&c) {
            text.push_str(": ");
            text.push_str(&c);
        }
    }
    text
}

/// Writes `metrics` to `out/metrics.json` (atomically) when `out` is given, then prints them
/// ([`print_metrics`]).
pub fn report_metrics(
    out: Option<&Path>,
    title: &str,
    metrics: &serde_json::Map<String, serde_json::Value>,
    json: bool,
) -> anyhow::Result<()> {
    if let Some(out) = out {
        std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
        let file = out.join("metrics.json");
        zoo_weights::atomic::write_json_atomic(&file, metrics)
            .with_context(|| format!("writing {}", file.display()))?;
    }
    print_metrics(title, metrics, json);
    Ok(())
}

/// Prints final metrics: a human-readable table, then, with `json`, one JSON object as the last
/// line of stdout. A reader that closes the pipe early (`| head`) ends the output quietly.
pub fn print_metrics(title: &str, metrics: &serde_json::Map<String, serde_json::Value>, json: bool) {
    use std::io::Write;
    let width = metrics.keys().map(String::len).max().unwrap_or(0);
    let mut text = format!("{title}\n");
    for (k, v) in metrics {
        let shown = match v {
            serde_json::Value::Number(n) if n.is_f64() => format!("{:.6}", n.as_f64().unwrap_or(f64::NAN)),
            other => other.to_string(),
        };
        text.push_str(&format!("  {k:<width$}  {shown}\n"));
    }
    if json {
        text.push_str(&format!("{}\n", serde_json::Value::Object(metrics.clone())));
    }
    // println! would panic on a closed pipe; the metrics are also in metrics.json when --out is set.
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Serialize, Deserialize, PartialEq)]
    #[serde(default)]
    struct Inner {
        width: usize,
        rate: f64,
    }
    impl Default for Inner {
        fn default() -> Self {
            Self { width: 8, rate: 0.5 }
        }
    }
    #[derive(Debug, Serialize, Deserialize, PartialEq, Default)]
    #[serde(default)]
    struct Run {
        model: Inner,
        epochs: usize,
    }

    fn parse_config<T: Serialize + DeserializeOwned + Default>(
        text: &str,
        path: &Path,
    ) -> Result<T, ConfigError> {
        parse_config_over(text, path, &T::default())
    }

    fn json(text: &str) -> Result<Run, ConfigError> {
        parse_config(text, Path::new("run.json"))
    }

    #[test]
    fn json_and_toml_fill_defaults() {
        assert_eq!(
            json(r#"{"model": {"width": 3}}"#).unwrap(),
            Run {
                model: Inner { width: 3, rate: 0.5 },
                epochs: 0
            }
        );
        let t: Run = parse_config("epochs = 4\n[model]\nrate = 0.25\n", Path::new("r.toml")).unwrap();
        assert_eq!(
            t,
            Run {
                model: Inner { width: 8, rate: 0.25 },
                epochs: 4
            }
        );
    }

    #[test]
    fn a_partial_table_keeps_the_other_base_values() {
        let base = Run {
            model: Inner { width: 99, rate: 0.1 },
            epochs: 7,
        };
        let t: Run = parse_config_over("[model]\nrate = 0.25\n", Path::new("r.toml"), &base).unwrap();
        assert_eq!(
            t,
            Run {
                model: Inner {
                    width: 99,
                    rate: 0.25
                },
                epochs: 7
            }
        );
        let e = parse_config_over::<Run>("[1, 2]", Path::new("r.json"), &base)
            .unwrap_err()
            .to_string();
        assert!(e.contains("top level"), "{e}");
    }

    #[test]
    fn another_tagged_variant_replaces_the_base_one() {
        let mut base = serde_json::json!({"data": {"source": "shapes", "seed": 0}, "k": 1});
        merge(
            &mut base,
            serde_json::json!({"data": {"source": "dassl", "name": "EuroSAT"}}),
        );
        assert_eq!(
            base,
            serde_json::json!({"data": {"source": "dassl", "name": "EuroSAT"}, "k": 1})
        );
        // The same variant merges field by field.
        merge(
            &mut base,
            serde_json::json!({"data": {"source": "dassl", "root": "d"}}),
        );
        assert_eq!(
            base["data"],
            serde_json::json!({"source": "dassl", "name": "EuroSAT", "root": "d"})
        );
    }

    #[test]
    fn unknown_fields_are_named() {
        let e = json(r#"{"model": {"widht": 3}, "epochz": 1}"#)
            .unwrap_err()
            .to_string();
        assert!(e.contains("run.json"), "{e}");
        assert!(e.contains("`model.widht`") && e.contains("`epochz`"), "{e}");
        let e = parse_config::<Run>("[model]\nwidht = 3\n", Path::new("r.toml"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("`model.widht`"), "{e}");
    }

    #[test]
    fn wrong_types_name_the_field() {
        let e = json(r#"{"model": {"width": "wide"}}"#).unwrap_err().to_string();
        assert!(
            e.contains("field `model.width`") && e.contains("invalid type"),
            "{e}"
        );
        let e = parse_config::<Run>("epochs = -2\n", Path::new("r.toml"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("`epochs`"), "{e}");
        let e = json("{\"epochs\": 1,").unwrap_err().to_string();
        assert!(e.contains("run.json"), "{e}");
    }

    #[test]
    fn missing_file_names_the_path() {
        let e = load_config::<Run>(Path::new("/nonexistent/cfg.toml"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("/nonexistent/cfg.toml"), "{e}");
    }
}
