//! Burnpack (`.bpk`) files of whole modules, with errors that say which file failed and why.

use crate::atomic::write_atomic;
use burn::module::Module;
use burn::store::ModuleRecord;
use burn::tensor::Bytes;
use std::path::{Path, PathBuf};

/// A module file could not be written or read.
#[derive(Debug, thiserror::Error)]
pub enum BpkError {
    /// The record could not be encoded.
    #[error("cannot encode the weights for {}: {message}", path.display())]
    Encode {
        /// The target file.
        path: PathBuf,
        /// Why.
        message: String,
    },
    /// I/O failure.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not a Burnpack file, or is truncated or corrupt.
    #[error("{}: not a readable Burnpack weight file ({message})", path.display())]
    Decode {
        /// The file.
        path: PathBuf,
        /// Why.
        message: String,
    },
    /// The file is readable but its tensors do not fit the module (wrong model, wrong shapes).
    #[error("{}: the weights do not fit this model: {message}", path.display())]
    Mismatch {
        /// The file.
        path: PathBuf,
        /// Which tensors differ.
        message: String,
    },
}

/// The Burnpack encoding of `module`'s parameters.
pub fn module_bytes<M: Module>(module: &M) -> Result<Bytes, String> {
    module
        .clone()
        .into_record()
        .into_bytes()
        .map_err(|e| e.to_string())
}

/// Writes `module` to `path` atomically.
pub fn save_module<M: Module>(module: &M, path: impl AsRef<Path>) -> Result<(), BpkError> {
    let path = path.as_ref();
    let bytes = module_bytes(module).map_err(|message| BpkError::Encode {
        path: path.to_path_buf(),
        message,
    })?;
    write_atomic(path, &bytes).map_err(|source| BpkError::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// Loads the parameters in `path` into `module` (which fixes the architecture).
pub fn load_module<M: Module>(module: M, path: impl AsRef<Path>) -> Result<M, BpkError> {
    let path = path.as_ref();
    let bytes = std::fs::read(path).map_err(|source| BpkError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    load_module_bytes(module, bytes, path)
}

/// Loads Burnpack `bytes` (read from `origin`, used in messages) into `module`. Each tensor is
/// converted to its parameter's dtype (a half-precision file loads into a float32 model): Burn
/// keeps the stored dtype otherwise, and panics building a float parameter from integer data
/// (found by the `bpk` fuzz target, `fuzz/regressions/bpk/`).
pub fn load_module_bytes<M: Module>(module: M, bytes: Vec<u8>, origin: &Path) -> Result<M, BpkError> {
    let record = ModuleRecord::from_bytes(Bytes::from_bytes_vec(bytes)).map_err(|e| BpkError::Decode {
        path: origin.to_path_buf(),
        message: e.to_string(),
    })?;
    module
        .try_load_record(record.cast_to_module_dtype())
        .map_err(|e| BpkError::Mismatch {
            path: origin.to_path_buf(),
            message: e.to_string(),
        })
}
