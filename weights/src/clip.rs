//! CLIP weights into `zoo_clip::Clip`, from open_clip / OpenAI state dicts (safetensors, or
//! PyTorch `.pt`/`.pth`/`.bin` files that are state dicts or checkpoints holding one), from the
//! initializers of towers exported to ONNX, and from our own Burnpack files; and back out to an
//! open_clip state dict.
//!
//! On the way in, each packed `attn.in_proj_weight` / `in_proj_bias` is split into q, k, v, the
//! scalar `logit_scale` gets a shape and the `attn_mask` buffer is dropped; then the keys map onto
//! the model name for name (Linear weights transposed, LayerNorm weight/bias to gamma/beta).

use crate::import::{ImportError, KeyMap, load_safetensors_bytes};
use crate::tensors::read_err;
pub use crate::tensors::{NamedTensor, f32_to_f16, read_pytorch, read_safetensors, to_safetensors};
use std::path::Path;
use zoo_clip::{Clip, ClipConfig};

/// Rewrites open_clip keys and layouts into zoo-clip's (see the module docs).
pub fn open_clip_to_zoo(tensors: Vec<NamedTensor>, path: &Path) -> Result<Vec<NamedTensor>, ImportError> {
    let mut out = Vec::with_capacity(tensors.len() + 32);
    for t in tensors {
        if t.name.ends_with("attn_mask") {
            continue;
        }
        if let Some(prefix) = t
            .name
            .strip_suffix("in_proj_weight")
            .or_else(|| t.name.strip_suffix("in_proj_bias"))
        {
            let kind = if t.name.ends_with("weight") {
                "weight"
            } else {
                "bias"
            };
            if t.shape.is_empty() || !t.shape[0].is_multiple_of(3) {
                return Err(ImportError::Mismatch {
                    path: path.to_path_buf(),
                    details: format!(
                        "`{}` has shape {:?}; a packed q/k/v projection has 3 x width rows",
                        t.name, t.shape
                    ),
                });
            }
            let per = t.values.len() / 3;
            let mut shape = t.shape.clone();
            shape[0] /= 3;
            for (k, part) in ["q_proj", "k_proj", "v_proj"].iter().enumerate() {
                out.push(NamedTensor {
                    name: format!("{prefix}{part}.{kind}"),
                    shape: shape.clone(),
                    values: t.values[k * per..(k + 1) * per].to_vec(),
                });
            }
            continue;
        }
        let shape = if t.name == "logit_scale" && t.shape.is_empty() {
            vec![1]
        } else {
            t.shape
        };
        out.push(NamedTensor { shape, ..t });
    }
    Ok(out)
}

fn load_converted(
    model: Clip,
    tensors: Vec<NamedTensor>,
    path: &Path,
    optional: Option<String>,
) -> Result<Clip, ImportError> {
    let converted = open_clip_to_zoo(tensors, path)?;
    let bytes = to_safetensors(&converted, false).map_err(|e| read_err(path, format!("re-encoding: {e}")))?;
    let map = KeyMap {
        from_pytorch: true,
        optional,
        ..KeyMap::default()
    };
    load_safetensors_bytes(model, bytes, path, &map).map_err(|e| match e {
        ImportError::Mismatch { path, details } => ImportError::Mismatch {
            path,
            details: format!(
                "{details} [names are zoo-clip's: a LayerNorm's gamma/beta is open_clip's weight/bias, \
                 q_proj/k_proj/v_proj are the thirds of its in_proj_weight/in_proj_bias]"
            ),
        },
        other => other,
    })
}

/// Loads an open_clip / OpenAI CLIP state dict saved as safetensors into `model` (built from the
/// matching `ClipConfig`). A missing tensor, an unused one or a wrong shape is an error naming it.
pub fn load_open_clip(model: Clip, path: &Path) -> Result<Clip, ImportError> {
    let bytes = std::fs::read(path).map_err(|e| read_err(path, e.to_string()))?;
    load_converted(model, read_safetensors(&bytes, path)?, path, None)
}

/// [`load_open_clip`] from a safetensors state dict held in memory (`origin` names it in errors).
pub fn load_open_clip_bytes(model: Clip, bytes: &[u8], origin: &Path) -> Result<Clip, ImportError> {
    load_converted(model, read_safetensors(bytes, origin)?, origin, None)
}

/// Loads an open_clip state dict saved by `torch.save` (`.pt`, `.pth`, `.bin`; see
/// [`read_pytorch`]). TorchScript archives (OpenAI's original `ViT-B-16.pt`) are not state
/// dicts: load them in Python and save `model.state_dict()`.
pub fn load_open_clip_pt(model: Clip, path: &Path) -> Result<Clip, ImportError> {
    load_converted(model, read_pytorch(path)?, path, None)
}

/// A CLIP tower.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tower {
    /// `encode_image`.
    Image,
    /// `encode_text`.
    Text,
}

/// Loads one tower of `model` from the initializers of an ONNX export of it (open_clip's
/// `encode_image` or `encode_text` through `torch.onnx.export`, parameters kept, i.e. without
/// constant folding of the weights). A wrapper's prefix on the names (`m.visual...`) is removed;
/// every parameter of the tower must be present, the other tower is left as it was.
pub fn load_onnx_tower(model: Clip, path: &Path, tower: Tower) -> Result<Clip, ImportError> {
    const ROOTS: [&str; 7] = [
        "visual.",
        "token_embedding.",
        "positional_embedding",
        "transformer.",
        "ln_final.",
        "text_projection",
        "logit_scale",
    ];
    let mut tensors = Vec::new();
    for t in crate::onnx::read_initializers(path)? {
        // Keep the name from the first open_clip root on (drops wrapper prefixes); skip
        // initializers that are not parameters (exporter constants like `onnx::MatMul_123`).
        let start = ROOTS
            .iter()
            .filter_map(|r| {
                t.name
                    .match_indices(r)
                    .find(|(i, _)| *i == 0 || t.name.as_bytes()[i - 1] == b'.')
                    .map(|(i, _)| i)
            })
            .min();
        if let Some(i) = start {
            tensors.push(NamedTensor {
                name: t.name[i..].to_string(),
                shape: t.dims,
                values: t.values,
            });
        }
    }
    if tensors.is_empty() {
        return Err(read_err(
            path,
            "no CLIP parameter among the initializers (was the model exported with do_constant_folding=True?)",
        ));
    }
    let other = match tower {
        Tower::Image => {
            r"^(token_embedding|positional_embedding|transformer|ln_final|text_projection|logit_scale)"
        }
        Tower::Text => r"^(visual|logit_scale)",
    };
    load_converted(model, tensors, path, Some(other.to_string())).map_err(|e| match e {
        ImportError::Mismatch { path, details } if details.contains("missing") => ImportError::Mismatch {
            path,
            details: format!(
                "{details} (ONNX exporters also merge identical tensors, e.g. untrained zero biases, \
                 into one initializer that only one name keeps)"
            ),
        },
        other => other,
    })
}

/// Reads an open_clip model-config JSON file ([`ClipConfig::from_json`]: unsupported fields are
/// refused by name).
pub fn read_model_config(path: &Path) -> Result<ClipConfig, ImportError> {
    let text = std::fs::read_to_string(path).map_err(|e| read_err(path, e.to_string()))?;
    ClipConfig::from_json(&text).map_err(|e| read_err(path, e.to_string()))
}

/// Loads CLIP weights from `path` by its extension: `.bpk` (a zoo checkpoint), `.safetensors`
/// (open_clip state dict), `.pt`/`.pth`/`.bin` (PyTorch state dict).
pub fn load_clip(model: Clip, path: &Path) -> Result<Clip, ImportError> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    match ext.as_str() {
        "bpk" => crate::bpk::load_module(model, path).map_err(|e| read_err(path, e.to_string())),
        "safetensors" => load_open_clip(model, path),
        "pt" | "pth" | "bin" => load_open_clip_pt(model, path),
        "onnx" => Err(read_err(
            path,
            "an ONNX file holds one tower: use `load_onnx_tower` (zoo-weights verify --model clip-image|clip-text)",
        )),
        _ => Err(read_err(
            path,
            "unknown weight format; expected .bpk, .safetensors, .pt, .pth or .bin",
        )),
    }
}

/// The state dict of `model` in open_clip's naming and layouts (q, k, v packed back into
/// `in_proj_weight` / `in_proj_bias`, `logit_scale` a scalar), loadable by
/// `open_clip.model.CLIP(**config).load_state_dict`.
pub fn to_open_clip(model: &Clip) -> Result<Vec<NamedTensor>, ImportError> {
    let origin = Path::new("<model>");
    let tensors = crate::tensors::module_tensors(model)?;
    let mut out: Vec<NamedTensor> = Vec::with_capacity(tensors.len());
    let mut pending: std::collections::BTreeMap<String, [Option<NamedTensor>; 3]> = Default::default();
    for t in tensors {
        let split = ["q_proj.", "k_proj.", "v_proj."]
            .iter()
            .enumerate()
            .find_map(|(k, p)| t.name.find(p).map(|i| (k, i, p.len())));
        match split {
            Some((k, i, len)) => {
                let kind = &t.name[i + len..];
                let key = format!("{}in_proj_{kind}", &t.name[..i]);
                pending.entry(key).or_default()[k] = Some(t);
            }
            None if t.name == "logit_scale" => out.push(NamedTensor { shape: vec![], ..t }),
            None => out.push(t),
        }
    }
    for (key, parts) in pending {
        let parts: Vec<NamedTensor> = parts.into_iter().flatten().collect();
        if parts.len() != 3 {
            return Err(read_err(origin, format!("incomplete q/k/v for `{key}`")));
        }
        let mut shape = parts[0].shape.clone();
        shape[0] *= 3;
        out.push(NamedTensor {
            name: key,
            shape,
            values: parts.into_iter().flat_map(|p| p.values).collect(),
        });
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// The committed shapes CLIP (`weights/clip_shapes.safetensors`, trained by `train-clip`; an
/// open_clip state dict in half precision) on `device`.
pub fn shapes_clip(device: &burn::tensor::Device) -> Result<Clip, ImportError> {
    const BYTES: &[u8] = include_bytes!("../clip_shapes.safetensors");
    let model = ClipConfig::shapes()
        .init(device)
        .map_err(|e| read_err(Path::new("clip_shapes.safetensors"), e.to_string()))?;
    load_open_clip_bytes(
        model,
        BYTES,
        Path::new("weights/clip_shapes.safetensors (embedded)"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::import::f16_to_f32;

    #[test]
    fn half_rounding_round_trips() {
        for x in [0.0f32, 1.0, -2.5, 65504.0, 6.1e-5, 3.0e-7, 0.1, -1234.567] {
            let back = f16_to_f32(f32_to_f16(x));
            assert!((back - x).abs() <= x.abs() * 1e-3 + 6e-8, "{x} -> {back}");
        }
        assert_eq!(f32_to_f16(1e6), 0x7c00);
        // Every half value survives f16 -> f32 -> f16.
        for bits in (0u16..0x7c00).step_by(7) {
            assert_eq!(f32_to_f16(f16_to_f32(bits)), bits);
        }
    }
}
