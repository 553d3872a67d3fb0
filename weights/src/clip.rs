//! open_clip / OpenAI CLIP state dicts (safetensors) into `zoo_clip::Clip`: each packed
//! `attn.in_proj_weight` / `in_proj_bias` is split into q, k, v, the scalar `logit_scale` gets a
//! shape, the `attn_mask` buffer is dropped; then the keys map onto the model name for name.

use crate::import::{ImportError, KeyMap, load_safetensors_bytes};
use safetensors::{Dtype, SafeTensors, tensor::TensorView};
use std::path::Path;
use zoo_clip::Clip;

fn f16_to_f32(bits: u16) -> f32 {
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

fn to_f32(view: &TensorView<'_>, name: &str, path: &Path) -> Result<Vec<f32>, ImportError> {
    let d = view.data();
    Ok(match view.dtype() {
        Dtype::F32 => d
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect(),
        Dtype::F64 => d
            .chunks_exact(8)
            .map(|b| f64::from_le_bytes(b.try_into().expect("8 bytes")) as f32)
            .collect(),
        Dtype::F16 => d
            .chunks_exact(2)
            .map(|b| f16_to_f32(u16::from_le_bytes([b[0], b[1]])))
            .collect(),
        Dtype::BF16 => d
            .chunks_exact(2)
            .map(|b| f32::from_bits(u32::from(u16::from_le_bytes([b[0], b[1]])) << 16))
            .collect(),
        other => {
            return Err(ImportError::Read {
                path: path.to_path_buf(),
                message: format!("tensor `{name}` has dtype {other:?}; expected a float type"),
            });
        }
    })
}

/// Rewrites an open_clip state dict (safetensors bytes) into zoo-clip's layout, as float32.
pub fn open_clip_to_zoo(bytes: &[u8], path: &Path) -> Result<Vec<u8>, ImportError> {
    let st = SafeTensors::deserialize(bytes).map_err(|e| ImportError::Read {
        path: path.to_path_buf(),
        message: format!("not a safetensors file: {e}"),
    })?;
    let mut out: Vec<(String, Vec<usize>, Vec<f32>)> = Vec::new();
    for (name, view) in st.tensors() {
        if name.ends_with("attn_mask") {
            continue;
        }
        let shape = view.shape().to_vec();
        let values = to_f32(&view, &name, path)?;
        if let Some(prefix) = name
            .strip_suffix("in_proj_weight")
            .or_else(|| name.strip_suffix("in_proj_bias"))
        {
            let is_weight = name.ends_with("weight");
            if shape.is_empty() || !shape[0].is_multiple_of(3) {
                return Err(ImportError::Mismatch {
                    path: path.to_path_buf(),
                    details: format!(
                        "`{name}` has shape {shape:?}; a packed q/k/v projection has 3 x width rows"
                    ),
                });
            }
            let rows = shape[0] / 3;
            let per = values.len() / 3;
            for (k, part) in ["q_proj", "k_proj", "v_proj"].iter().enumerate() {
                let mut s = shape.clone();
                s[0] = rows;
                let key = format!("{prefix}{part}.{}", if is_weight { "weight" } else { "bias" });
                out.push((key, s, values[k * per..(k + 1) * per].to_vec()));
            }
            continue;
        }
        let shape = if name == "logit_scale" && shape.is_empty() {
            vec![1]
        } else {
            shape
        };
        out.push((name, shape, values));
    }
    let bytes: Vec<(String, Vec<u8>, Vec<usize>)> = out
        .into_iter()
        .map(|(n, s, v)| (n, v.iter().flat_map(|x| x.to_le_bytes()).collect(), s))
        .collect();
    let views: Vec<(String, TensorView<'_>)> = bytes
        .iter()
        .map(|(n, b, s)| {
            (
                n.clone(),
                TensorView::new(Dtype::F32, s.clone(), b).expect("consistent view"),
            )
        })
        .collect();
    safetensors::serialize(views, None).map_err(|e| ImportError::Read {
        path: path.to_path_buf(),
        message: format!("re-encoding: {e}"),
    })
}

/// Loads an open_clip / OpenAI CLIP state dict saved as safetensors into `model` (built from the
/// matching `ClipConfig`). A missing tensor, an unused one or a wrong shape is an error naming it.
pub fn load_open_clip(model: Clip, path: &Path) -> Result<Clip, ImportError> {
    let bytes = std::fs::read(path).map_err(|e| ImportError::Read {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    let converted = open_clip_to_zoo(&bytes, path)?;
    let map = KeyMap {
        from_pytorch: true,
        ..KeyMap::default()
    };
    load_safetensors_bytes(model, converted, path, &map)
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
    }
}
