//! Import of weights saved by other frameworks (safetensors state dicts), with key remapping and
//! errors that list what did not match.

use burn::module::Module;
use burn::store::{ModuleSnapshot, PyTorchToBurnAdapter, SafetensorsStore};
use std::path::{Path, PathBuf};
use zoo_datasets::error::first_few;

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
    /// Our tensors (module paths matching this regex) that the file may lack (e.g. the other
    /// tower when one CLIP tower is imported); the rest must still all be there.
    pub optional: Option<String>,
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

/// An IEEE half float's bits as f32.
pub fn f16_to_f32(bits: u16) -> f32 {
    let sign = u32::from(bits >> 15) << 31;
    let exp = (bits >> 10) & 0x1f;
    let frac = u32::from(bits & 0x3ff);
    let v = match exp {
        0 if frac == 0 => sign,
        0 => {
            // Subnormal: renormalise.
            let mut e = 127 - 15 + 1;
            let mut f = frac;
            while f & 0x400 == 0 {
                f <<= 1;
                e -= 1;
            }
            sign | ((e as u32) << 23) | ((f & 0x3ff) << 13)
        }
        0x1f => sign | 0x7f80_0000 | (frac << 13),
        e => sign | ((u32::from(e) + 127 - 15) << 23) | (frac << 13),
    };
    f32::from_bits(v)
}

/// Floats of a width in bytes (4: f32, 8: f64, 2 with `bf16` false: f16, 2 with true: bf16),
/// little-endian.
pub fn decode_floats(bytes: &[u8], width: usize, bf16: bool) -> Vec<f32> {
    match width {
        8 => bytes
            .chunks_exact(8)
            .map(|b| f64::from_le_bytes(b.try_into().expect("8 bytes")) as f32)
            .collect(),
        2 if bf16 => bytes
            .chunks_exact(2)
            .map(|b| f32::from_bits(u32::from(u16::from_le_bytes([b[0], b[1]])) << 16))
            .collect(),
        2 => bytes
            .chunks_exact(2)
            .map(|b| f16_to_f32(u16::from_le_bytes([b[0], b[1]])))
            .collect(),
        _ => bytes
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect(),
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
    let compile = |re: &Option<String>| -> Result<Option<regex::Regex>, ImportError> {
        re.as_ref()
            .map(|re| regex::Regex::new(re))
            .transpose()
            .map_err(|e| ImportError::Read {
                path: path.to_path_buf(),
                message: format!("key filter: {e}"),
            })
    };
    let only = compile(&map.only)?;
    let optional = compile(&map.optional)?;
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
        problems.push(format!("errors: {}", first_few(&errs, 5)));
    }
    if !map.allow_partial {
        let missing: Vec<String> = result
            .missing
            .iter()
            .map(|(p, _)| p.clone())
            .filter(|p| optional.as_ref().is_none_or(|re| !re.is_match(p)))
            .collect();
        if !missing.is_empty() {
            problems.push(format!("missing in the file: {}", first_few(&missing, 8)));
        }
    }
    let unused: Vec<String> = result
        .unused
        .iter()
        .filter(|k| only.as_ref().is_none_or(|re| re.is_match(k)))
        .cloned()
        .collect();
    if !unused.is_empty() {
        problems.push(format!("not used by the model: {}", first_few(&unused, 8)));
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn half_floats_decode() {
        assert_eq!(f16_to_f32(0x3c00), 1.0);
        assert_eq!(f16_to_f32(0xc000), -2.0);
        assert_eq!(f16_to_f32(0x0001), 2f32.powi(-24));
        assert!(f16_to_f32(0x7c00).is_infinite());
        assert_eq!(decode_floats(&[0x80, 0x3f], 2, true), vec![1.0]);
    }
}
