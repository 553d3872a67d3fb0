//! Files of fixed basis vectors (EBV): safetensors (`.safetensors`, one tensor named `basis`) or
//! Burnpack (`.bpk`), chosen by extension. A basis generated once is reused by every run.
//!
//! The reference repository ships its bases as Python pickles of torch tensors (`eq_d_N.pkl`);
//! convert one with
//! `python -c "import pickle; from safetensors.torch import save_file;
//! save_file({'basis': pickle.load(open('eq_1000_1000.pkl','rb')).float().contiguous()}, 'eq_1000_1000.safetensors')"`.

use crate::atomic::write_atomic;
use crate::bpk::{load_module, save_module};
use burn::module::{Module, Param};
use burn::prelude::*;
use burn::tensor::TensorData;
use std::path::{Path, PathBuf};

/// A basis file that cannot be written or read.
#[derive(Debug, thiserror::Error)]
pub enum BasisError {
    /// I/O or format failure.
    #[error("{}: {message}", path.display())]
    File {
        /// The file.
        path: PathBuf,
        /// Why.
        message: String,
    },
    /// The basis has another shape than the run needs.
    #[error("{}: the basis is {found_n} x {found_d} but this run needs {n} classes x {d} dimensions", path.display())]
    Shape {
        /// The file.
        path: PathBuf,
        /// Rows found.
        found_n: usize,
        /// Columns found.
        found_d: usize,
        /// Rows needed.
        n: usize,
        /// Columns needed.
        d: usize,
    },
}

/// The one-tensor module stored in `.bpk` basis files.
#[derive(Module, Debug)]
struct BasisFile {
    basis: Param<Tensor<2>>,
}

fn err(path: &Path, message: impl Into<String>) -> BasisError {
    BasisError::File {
        path: path.to_path_buf(),
        message: message.into(),
    }
}

fn is_safetensors(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("safetensors"))
}

/// Writes `basis` `[N, d]` to `path` (`.safetensors` or `.bpk`) atomically.
pub fn save_basis(basis: &Tensor<2>, path: &Path) -> Result<(), BasisError> {
    if is_safetensors(path) {
        let [n, d] = basis.dims();
        let values: Vec<f32> = basis
            .clone()
            .without_autodiff()
            .into_data()
            .convert::<f32>()
            .try_to_vec::<f32>()
            .map_err(|e| err(path, format!("{e:?}")))?;
        let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        let view = safetensors::tensor::TensorView::new(safetensors::Dtype::F32, vec![n, d], &bytes)
            .map_err(|e| err(path, e.to_string()))?;
        let file = safetensors::serialize([("basis", view)], None).map_err(|e| err(path, e.to_string()))?;
        write_atomic(path, &file).map_err(|e| err(path, e.to_string()))
    } else {
        let module = BasisFile {
            basis: Param::from_tensor(basis.clone().without_autodiff()),
        };
        save_module(&module, path).map_err(|e| err(path, e.to_string()))
    }
}

/// Reads a basis of shape `[n, d]` from `path`.
pub fn load_basis(path: &Path, n: usize, d: usize, device: &Device) -> Result<Tensor<2>, BasisError> {
    if is_safetensors(path) {
        let bytes = std::fs::read(path).map_err(|e| err(path, e.to_string()))?;
        let st = safetensors::SafeTensors::deserialize(&bytes).map_err(|e| err(path, e.to_string()))?;
        let names = st.names();
        let name = if names.contains(&"basis") {
            "basis"
        } else if names.len() == 1 {
            names[0]
        } else {
            return Err(err(
                path,
                format!("no tensor named `basis` (found: {})", names.join(", ")),
            ));
        };
        let view = st.tensor(name).map_err(|e| err(path, e.to_string()))?;
        let shape = view.shape();
        if shape.len() != 2 {
            return Err(err(
                path,
                format!("`{name}` has shape {shape:?}, expected [N, d]"),
            ));
        }
        if (shape[0], shape[1]) != (n, d) {
            return Err(BasisError::Shape {
                path: path.to_path_buf(),
                found_n: shape[0],
                found_d: shape[1],
                n,
                d,
            });
        }
        let values: Vec<f32> = match view.dtype() {
            safetensors::Dtype::F32 => view
                .data()
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect(),
            safetensors::Dtype::F64 => view
                .data()
                .chunks_exact(8)
                .map(|b| f64::from_le_bytes(b.try_into().expect("8 bytes")) as f32)
                .collect(),
            other => {
                return Err(err(
                    path,
                    format!("`{name}` has dtype {other:?}, expected F32 or F64"),
                ));
            }
        };
        Ok(Tensor::from_data(TensorData::new(values, [n, d]), device))
    } else {
        let template = BasisFile {
            basis: Param::from_tensor(Tensor::zeros([n, d], device)),
        };
        let loaded = load_module(template, path).map_err(|e| match e {
            crate::bpk::BpkError::Mismatch { .. } => err(path, format!("not an {n} x {d} basis ({e})")),
            other => err(path, other.to_string()),
        })?;
        Ok(loaded.basis.val())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_shape_errors() {
        let dir = tempfile::tempdir().unwrap();
        let device = Device::flex();
        let b = Tensor::<2>::from_floats([[1.0, 0.0, 0.0], [0.0, 0.6, 0.8]], &device);
        for name in ["b.safetensors", "b.bpk"] {
            let path = dir.path().join(name);
            save_basis(&b, &path).unwrap();
            let back = load_basis(&path, 2, 3, &device).unwrap();
            assert_eq!(
                back.into_data().convert::<f32>(),
                b.clone().into_data().convert::<f32>()
            );
            let e = load_basis(&path, 3, 3, &device).unwrap_err().to_string();
            assert!(e.contains(name) && e.contains('3'), "{e}");
        }
        let e = load_basis(&dir.path().join("missing.safetensors"), 2, 3, &device)
            .unwrap_err()
            .to_string();
        assert!(e.contains("missing.safetensors"), "{e}");
    }
}
