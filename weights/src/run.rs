//! A training run directory (the `--out` of a `train-*` binary), as evaluation reads it back:
//!
//! ```text
//! run.json        family name and the full run config it was trained with
//! model.bpk       final weights (written at the end of training)
//! checkpoints/    resumable checkpoints (see `checkpoint`)
//! metrics.json, log.jsonl, *.png
//! ```

use crate::atomic::write_json_atomic;
use crate::checkpoint::CheckpointStore;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Name of the run description file.
pub const RUN_FILE: &str = "run.json";
/// Name of the final weights file.
pub const MODEL_FILE: &str = "model.bpk";
/// Name of the checkpoint folder.
pub const CHECKPOINT_DIR: &str = "checkpoints";
/// Name of the model part inside a checkpoint.
pub const MODEL_PART: &str = "model.bpk";

/// `run.json`: what was trained and how.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunManifest {
    /// The model family (`mlp`, `evonorm`, ...): evaluation refuses a run of another family.
    pub family: String,
    /// burnzoo version that wrote it.
    pub version: String,
    /// The complete run configuration (model + training + data).
    pub config: serde_json::Value,
}

/// A run directory could not be used.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// Missing or unreadable file.
    #[error("{}: {message}", path.display())]
    Unreadable {
        /// The file.
        path: PathBuf,
        /// Why.
        message: String,
    },
    /// A run of another model family.
    #[error("{}: this is a `{found}` run, not a `{expected}` run", path.display())]
    WrongFamily {
        /// The run.json.
        path: PathBuf,
        /// Family asked for.
        expected: String,
        /// Family found.
        found: String,
    },
}

/// Writes `run.json` into `dir`.
pub fn write_manifest(dir: &Path, family: &str, config: &impl Serialize) -> std::io::Result<()> {
    let manifest = RunManifest {
        family: family.to_string(),
        version: env!("CARGO_PKG_VERSION").to_string(),
        config: serde_json::to_value(config).map_err(std::io::Error::other)?,
    };
    write_json_atomic(dir.join(RUN_FILE), &manifest)
}

/// Reads `run.json` of `dir`, checks the family and decodes the config as `C`.
pub fn read_manifest<C: DeserializeOwned>(dir: &Path, family: &str) -> Result<C, RunError> {
    let path = dir.join(RUN_FILE);
    let text = std::fs::read_to_string(&path).map_err(|e| RunError::Unreadable {
        path: path.clone(),
        message: format!("{e} (is {} the --out of a training run?)", dir.display()),
    })?;
    let manifest: RunManifest = serde_json::from_str(&text).map_err(|e| RunError::Unreadable {
        path: path.clone(),
        message: e.to_string(),
    })?;
    if manifest.family != family {
        return Err(RunError::WrongFamily {
            path,
            expected: family.into(),
            found: manifest.family,
        });
    }
    serde_json::from_value(manifest.config).map_err(|e| RunError::Unreadable {
        path,
        message: format!("field `config`: {e}"),
    })
}

/// The weights to evaluate in run `dir`: the final `model.bpk`, or, for a run that has not
/// finished, the model of its newest complete checkpoint.
pub fn weights_path(dir: &Path) -> Result<PathBuf, RunError> {
    let final_weights = dir.join(MODEL_FILE);
    if final_weights.is_file() {
        return Ok(final_weights);
    }
    let store = CheckpointStore::new(dir.join(CHECKPOINT_DIR));
    let ckpt = store.latest().map_err(|e| RunError::Unreadable {
        path: final_weights.clone(),
        message: format!("no final weights and no usable checkpoint ({e})"),
    })?;
    ckpt.part_path(MODEL_PART).ok_or_else(|| RunError::Unreadable {
        path: ckpt.dir.clone(),
        message: "checkpoint has no model part".into(),
    })
}
