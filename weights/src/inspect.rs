//! What a weight file holds: tensor names, element types and shapes of safetensors, ONNX
//! (initializers), PyTorch state-dict and Burnpack files (`zoo-weights inspect`).

use crate::import::ImportError;
use crate::tensors::read_err;
use std::path::Path;

/// One stored tensor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TensorInfo {
    /// Name (key) in the file.
    pub name: String,
    /// Element type as the format names it (`F32`, `float32`, ...).
    pub dtype: String,
    /// Shape.
    pub shape: Vec<usize>,
}

/// The tensors of `path`, by extension: `.safetensors`, `.onnx`, `.pt`/`.pth`/`.bin` (float
/// tensors of a state dict), `.bpk`; sorted by name.
pub fn list_tensors(path: &Path) -> Result<Vec<TensorInfo>, ImportError> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .unwrap_or_default();
    let mut out: Vec<TensorInfo> = match ext.as_str() {
        "onnx" => crate::onnx::read_initializers(path)?
            .into_iter()
            .map(|t| TensorInfo {
                name: t.name,
                dtype: "float32".into(),
                shape: t.dims,
            })
            .collect(),
        "pt" | "pth" | "bin" => crate::tensors::read_pytorch(path)?
            .into_iter()
            .map(|t| TensorInfo {
                name: t.name,
                dtype: "float32".into(),
                shape: t.shape,
            })
            .collect(),
        "bpk" => {
            let reader = burn_pack::Reader::from_file(path)
                .map_err(|e| read_err(path, format!("not a Burnpack file: {e}")))?;
            reader
                .into_tensors()
                .map_err(|e| read_err(path, format!("not a Burnpack file: {e}")))?
                .into_iter()
                .map(|t| TensorInfo {
                    dtype: format!("{:?}", t.dtype),
                    shape: t.shape.to_vec(),
                    name: t.name,
                })
                .collect()
        }
        "safetensors" => {
            let bytes = std::fs::read(path).map_err(|e| read_err(path, e.to_string()))?;
            let st = safetensors::SafeTensors::deserialize(&bytes)
                .map_err(|e| read_err(path, format!("not a safetensors file: {e}")))?;
            st.tensors()
                .into_iter()
                .map(|(name, view)| TensorInfo {
                    name,
                    dtype: format!("{:?}", view.dtype()),
                    shape: view.shape().to_vec(),
                })
                .collect()
        }
        _ => {
            return Err(read_err(
                path,
                "unknown weight format; expected .safetensors, .onnx, .pt/.pth/.bin or .bpk",
            ));
        }
    };
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}
