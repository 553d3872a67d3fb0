//! Named float tensors between formats: reading safetensors and PyTorch state dicts into them,
//! writing them back as safetensors.

use crate::import::{ImportError, decode_floats};
use burn::module::Module;
use burn::store::{BurnToPyTorchAdapter, ModuleSnapshot, SafetensorsStore};
use safetensors::{Dtype, SafeTensors, tensor::TensorView};
use std::path::Path;

/// A named float tensor on its way between formats.
#[derive(Debug, Clone, PartialEq)]
pub struct NamedTensor {
    /// Key.
    pub name: String,
    /// Shape.
    pub shape: Vec<usize>,
    /// Values (row-major).
    pub values: Vec<f32>,
}

pub(crate) fn read_err(path: &Path, message: impl Into<String>) -> ImportError {
    ImportError::Read {
        path: path.to_path_buf(),
        message: message.into(),
    }
}

/// The float tensors of a safetensors file, as f32 (f16, bf16 and f64 converted; batch norms'
/// integer `num_batches_tracked` counters skipped, any other integer tensor is an error).
pub fn read_safetensors(bytes: &[u8], path: &Path) -> Result<Vec<NamedTensor>, ImportError> {
    let st = SafeTensors::deserialize(bytes)
        .map_err(|e| read_err(path, format!("not a safetensors file: {e}")))?;
    st.tensors()
        .into_iter()
        .map(|(name, view)| {
            let (width, bf16) = match view.dtype() {
                Dtype::F32 => (4, false),
                Dtype::F64 => (8, false),
                Dtype::F16 => (2, false),
                Dtype::BF16 => (2, true),
                // BN's step counter is not a weight.
                _ if name.ends_with("num_batches_tracked") => return Ok(None),
                other => {
                    return Err(read_err(
                        path,
                        format!("tensor `{name}` has dtype {other:?}; expected a float type"),
                    ));
                }
            };
            Ok(Some(NamedTensor {
                shape: view.shape().to_vec(),
                values: decode_floats(view.data(), width, bf16),
                name,
            }))
        })
        .filter_map(Result::transpose)
        .collect()
}

/// The float tensors of a PyTorch file (`torch.save` of a state dict, or of a checkpoint
/// dictionary with the state dict under `state_dict`; a DDP `module.` prefix is removed).
pub fn read_pytorch(path: &Path) -> Result<Vec<NamedTensor>, ImportError> {
    use burn::store::pytorch_reader::{DType, PytorchReader};
    let reader =
        PytorchReader::new(path).map_err(|e| read_err(path, format!("not a PyTorch state dict: {e}")))?;
    let mut out = Vec::new();
    for (key, t) in reader.tensors() {
        let (width, bf16) = match t.dtype() {
            DType::F32 => (4, false),
            DType::F64 => (8, false),
            DType::F16 => (2, false),
            DType::BF16 => (2, true),
            // Integer buffers (step counters, position ids) are not weights.
            _ => continue,
        };
        let bytes = t.read().map_err(|e| read_err(path, e.to_string()))?;
        let name = key.strip_prefix("state_dict.").unwrap_or(key);
        let name = name.strip_prefix("module.").unwrap_or(name).to_string();
        out.push(NamedTensor {
            name,
            shape: t.shape().to_vec(),
            values: decode_floats(&bytes, width, bf16),
        });
    }
    if out.is_empty() {
        return Err(read_err(path, "no float tensors found (is it a state dict?)"));
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// Encodes tensors as a safetensors file (f32, or f16 when `half`).
pub fn to_safetensors(tensors: &[NamedTensor], half: bool) -> Result<Vec<u8>, safetensors::SafeTensorError> {
    let bytes: Vec<Vec<u8>> = tensors
        .iter()
        .map(|t| {
            if half {
                t.values
                    .iter()
                    .flat_map(|&x| f32_to_f16(x).to_le_bytes())
                    .collect()
            } else {
                t.values.iter().flat_map(|x| x.to_le_bytes()).collect()
            }
        })
        .collect();
    let dtype = if half { Dtype::F16 } else { Dtype::F32 };
    let views = tensors
        .iter()
        .zip(&bytes)
        .map(|(t, b)| TensorView::new(dtype, t.shape.clone(), b).map(|v| (t.name.clone(), v)))
        .collect::<Result<Vec<_>, _>>()?;
    safetensors::serialize(views, None)
}

/// f32 to IEEE half, round to nearest even (overflow to infinity, underflow through subnormals).
pub fn f32_to_f16(x: f32) -> u16 {
    let bits = x.to_bits();
    let sign = ((bits >> 16) & 0x8000) as u16;
    let exp = ((bits >> 23) & 0xff) as i32;
    let man = bits & 0x7f_ffff;
    if exp == 0xff {
        return sign | 0x7c00 | if man != 0 { 0x200 } else { 0 };
    }
    let e = exp - 127 + 15;
    if e >= 0x1f {
        return sign | 0x7c00;
    }
    if e <= 0 {
        if e < -10 {
            return sign;
        }
        let m = man | 0x80_0000;
        let shift = (14 - e) as u32;
        let half = 1u32 << (shift - 1);
        let rest = m & ((1 << shift) - 1);
        let mut v = m >> shift;
        if rest > half || (rest == half && v & 1 == 1) {
            v += 1;
        }
        return sign | v as u16;
    }
    let mut v = ((e as u32) << 10) | (man >> 13);
    let rest = man & 0x1fff;
    if rest > 0x1000 || (rest == 0x1000 && v & 1 == 1) {
        v += 1; // may carry into the exponent, which is the correct rounding
    }
    sign | v as u16
}

/// The tensors of `module` under PyTorch's conventions (Linear weights transposed, norm
/// `gamma`/`beta` as `weight`/`bias`; Burn's module paths otherwise), sorted by name.
pub fn module_tensors<M: Module>(module: &M) -> Result<Vec<NamedTensor>, ImportError> {
    let origin = Path::new("<model>");
    let mut store = SafetensorsStore::from_bytes(None).with_to_adapter(BurnToPyTorchAdapter);
    module
        .save_into(&mut store)
        .map_err(|e| read_err(origin, format!("collecting tensors: {e}")))?;
    let bytes = store
        .get_bytes()
        .map_err(|e| read_err(origin, format!("collecting tensors: {e}")))?;
    let mut tensors = read_safetensors(&bytes, origin)?;
    tensors.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(tensors)
}
