//! Import of weights saved by other frameworks (safetensors state dicts), with key remapping and
//! errors that list what did not match.

use burn::module::Module;
use burn::store::{ModuleSnapshot, PyTorchToBurnAdapter, SafetensorsStore};
use std::path::{Path, PathBuf};

/// How the keys of a state dict become our module paths.
#[derive(Debug, Clone, Default)]
pub struct KeyMap {
    /// Source keys (after remapping) that belong to the model: only these must all be used; the
    /// others are ignored (`None`: every key of the file must be used).
    pub only: Option<String>,
    /// `(regex, replacement)` pairs applied in order (`$1`... capture groups).
    pub remaps: Vec<(String, String)>,
    /// Convert PyTorch layouts (Linear weights transposed; norm `weight`/`bias` to
    /// `gamma`/`beta`).
    pub from_pytorch: bool,
    /// Ignore enum variant names in our paths (`norm.Evo.weight` matches `norm.weight`).
    pub skip_enum_variants: bool,
    /// Accept a state dict that lacks some of our tensors.
    pub allow_partial: bool,
}

/// An import that failed.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The file could not be read or parsed.
    #[error("{}: {message}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        message: String,
    },
    /// The file does not fit the model.
    #[error("{}: the weights do not fit this model: {details}", path.display())]
    Mismatch {
        /// The file.
        path: PathBuf,
        /// Missing, unused and mis-shaped tensors.
        details: String,
    },
}

fn list(items: &[String], max: usize) -> String {
    let shown: Vec<&str> = items.iter().take(max).map(String::as_str).collect();
    let more = items.len().saturating_sub(max);
    if more > 0 {
        format!("{} (and {more} more)", shown.join(", "))
    } else {
        shown.join(", ")
    }
}

/// Loads the safetensors state dict at `path` into `model` through `map`. Fails when a tensor of
/// the model has no source (unless `allow_partial`), when a source tensor matched by the filter is
/// not used, or when shapes differ.
pub fn load_safetensors<M: Module>(model: M, path: &Path, map: &KeyMap) -> Result<M, ImportError> {
    if !path.is_file() {
        return Err(ImportError::Read {
            path: path.to_path_buf(),
            message: "no such file".into(),
        });
    }
    load_from_store(model, SafetensorsStore::from_file(path), path, map)
}

/// [`load_safetensors`] on a state dict held in memory (`bytes`, a safetensors file; `path` names
/// where it came from, for errors).
pub fn load_safetensors_bytes<M: Module>(
    model: M,
    bytes: Vec<u8>,
    path: &Path,
    map: &KeyMap,
) -> Result<M, ImportError> {
    load_from_store(model, SafetensorsStore::from_bytes(Some(bytes)), path, map)
}

fn load_from_store<M: Module>(
    mut model: M,
    store: SafetensorsStore,
    path: &Path,
    map: &KeyMap,
) -> Result<M, ImportError> {
    let mut store = store
        .allow_partial(true)
        .skip_enum_variants(map.skip_enum_variants);
    let only = match &map.only {
        Some(re) => Some(regex::Regex::new(re).map_err(|e| ImportError::Read {
            path: path.to_path_buf(),
            message: format!("key filter: {e}"),
        })?),
        None => None,
    };
    for (from, to) in &map.remaps {
        store = store.with_key_remapping(from, to);
    }
    if map.from_pytorch {
        store = store.with_from_adapter(PyTorchToBurnAdapter);
    }
    let result = model.load_from(&mut store).map_err(|e| {
        let message = e.to_string();
        // Burn reports wrong shapes as a failed validation; that is a misfit, not a bad file.
        if message.contains("Mismatch") || message.contains("Validation") {
            ImportError::Mismatch {
                path: path.to_path_buf(),
                details: message,
            }
        } else {
            ImportError::Read {
                path: path.to_path_buf(),
                message,
            }
        }
    })?;
    let mut problems = Vec::new();
    if !result.errors.is_empty() {
        let errs: Vec<String> = result.errors.iter().map(|e| format!("{e:?}")).collect();
        problems.push(format!("errors: {}", list(&errs, 5)));
    }
    if !map.allow_partial && !result.missing.is_empty() {
        let missing: Vec<String> = result.missing.iter().map(|(p, _)| p.clone()).collect();
        problems.push(format!("missing in the file: {}", list(&missing, 8)));
    }
    let unused: Vec<String> = result
        .unused
        .iter()
        .filter(|k| only.as_ref().is_none_or(|re| re.is_match(k)))
        .cloned()
        .collect();
    if !unused.is_empty() {
        problems.push(format!("not used by the model: {}", list(&unused, 8)));
    }
    if problems.is_empty() {
        Ok(model)
    } else {
        Err(ImportError::Mismatch {
            path: path.to_path_buf(),
            details: problems.join("; "),
        })
    }
}

/// Loads one EvoNorm layer saved by timm (`<prefix>weight`, `<prefix>bias`, `<prefix>v`,
/// `<prefix>running_var`, as in a timm model's state dict; `prefix` like `stages.0.norm.`).
pub fn load_timm_evonorm(
    layer: zoo_evonorm::EvoNorm,
    path: &Path,
    prefix: &str,
) -> Result<zoo_evonorm::EvoNorm, ImportError> {
    let escaped = regex_escape(prefix);
    let map = KeyMap {
        only: Some("^(weight|bias|v|running_var)$".to_string()),
        remaps: vec![(format!("^{escaped}"), String::new())],
        ..KeyMap::default()
    };
    load_safetensors(layer, path, &map)
}

fn regex_escape(s: &str) -> String {
    s.chars()
        .flat_map(|c| {
            let special = "\\.+*?()|[]{}^$#&-~".contains(c);
            special.then_some('\\').into_iter().chain(std::iter::once(c))
        })
        .collect()
}
