//! Reference fixtures: small safetensors files written by the scripts in `weights/reference/`
//! from the reference implementations, read by tests that compare our numbers with theirs.

use burn::prelude::*;
use burn::tensor::TensorData;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Path of a committed fixture file (`weights/fixtures/<name>`).
pub fn path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures").join(name)
}

/// The tensors of one fixture file, as f32.
#[derive(Debug, Clone)]
pub struct Fixture {
    source: PathBuf,
    tensors: HashMap<String, (Vec<usize>, Vec<f32>)>,
}

impl Fixture {
    /// Reads a safetensors file of f32 (or f64 or u8, converted) tensors.
    pub fn load(path: impl AsRef<Path>) -> Result<Self, String> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let st =
            safetensors::SafeTensors::deserialize(&bytes).map_err(|e| format!("{}: {e}", path.display()))?;
        let mut tensors = HashMap::new();
        for (name, view) in st.tensors() {
            let data = view.data();
            let values: Vec<f32> = match view.dtype() {
                safetensors::Dtype::F32 => crate::import::decode_floats(data, 4, false),
                safetensors::Dtype::F64 => crate::import::decode_floats(data, 8, false),
                safetensors::Dtype::U8 => data.iter().map(|&b| f32::from(b)).collect(),
                other => return Err(format!("{}: tensor `{name}` has dtype {other:?}", path.display())),
            };
            tensors.insert(name, (view.shape().to_vec(), values));
        }
        Ok(Self {
            source: path.to_path_buf(),
            tensors,
        })
    }

    /// Loads a committed fixture by file name.
    pub fn committed(name: &str) -> Result<Self, String> {
        Self::load(path(name))
    }

    /// Whether `name` exists.
    pub fn has(&self, name: &str) -> bool {
        self.tensors.contains_key(name)
    }

    /// Shape and values of `name` (panics with the fixture's path when missing: a test bug).
    pub fn get(&self, name: &str) -> (&[usize], &[f32]) {
        let (shape, values) = self
            .tensors
            .get(name)
            .unwrap_or_else(|| panic!("{}: no tensor `{name}`", self.source.display()));
        (shape, values)
    }

    /// Tensor `name` on `device`, with rank `D`.
    pub fn tensor<const D: usize>(&self, name: &str, device: &Device) -> Tensor<D> {
        let (shape, values) = self.get(name);
        assert_eq!(
            shape.len(),
            D,
            "{}: `{name}` has rank {}",
            self.source.display(),
            shape.len()
        );
        Tensor::from_data(TensorData::new(values.to_vec(), shape.to_vec()), device)
    }
}

/// `n` uniforms in [0, 1) from a key: splitmix64 of FNV-1a(key) + i (i = 1..=n), top 53 bits.
/// The fixture scripts compute the same numbers (`weights/reference/yolov9_fixture.py`).
pub fn uniforms(key: &str, n: usize) -> Vec<f64> {
    let seed = key.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    });
    (1..=n as u64)
        .map(|i| {
            let mut z = seed.wrapping_add(0x9e37_79b9_7f4a_7c15u64.wrapping_mul(i));
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^= z >> 31;
            (z >> 11) as f64 * 2f64.powi(-53)
        })
        .collect()
}

/// Deterministic stand-in weights for the state-dict tensor `key` of `shape`, identical to the
/// fixture scripts' `hashed_values`: BN scales and variances 0.5 + u; BN shifts, means and biases
/// 0.2 (u - 0.5); 4-D convolution weights (2u - 1) sqrt(3 / fan_in); anything else u.
pub fn hashed_values(key: &str, shape: &[usize]) -> Vec<f32> {
    let n = shape.iter().product();
    let u = uniforms(key, n);
    let ends = |s: &str| key.ends_with(s);
    let f: Box<dyn Fn(f64) -> f64> = if ends("bn.weight") || ends("running_var") {
        Box::new(|u| 0.5 + u)
    } else if ends("bn.bias") || ends("running_mean") || ends(".bias") {
        Box::new(|u| 0.2 * (u - 0.5))
    } else if shape.len() == 4 {
        let fan_in = (n / shape[0]) as f64;
        let scale = (3.0 / fan_in).sqrt();
        Box::new(move |u| (2.0 * u - 1.0) * scale)
    } else {
        Box::new(|u| u)
    };
    u.into_iter().map(|u| f(u) as f32).collect()
}

/// The state dict `model` listed in the committed key list `keys_file` (`{model: [[key, shape,
/// dtype], ...]}`, written by a fixture script) filled by [`hashed_values`]; integer tensors
/// are left out and DFL kernels (`*.dfl*.conv.weight`) hold their fixed 0..15.
pub fn hashed_state_dict(keys_file: &str, model: &str) -> Result<Vec<crate::tensors::NamedTensor>, String> {
    let file = path(keys_file);
    let text = std::fs::read_to_string(&file).map_err(|e| format!("{}: {e}", file.display()))?;
    let json: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| format!("{}: {e}", file.display()))?;
    let entries = json[model]
        .as_array()
        .ok_or_else(|| format!("{}: no `{model}`", file.display()))?;
    let mut out = Vec::with_capacity(entries.len());
    for e in entries {
        let (Some(key), Some(dims), Some(dtype)) = (e[0].as_str(), e[1].as_array(), e[2].as_str()) else {
            return Err(format!("{}: bad entry {e}", file.display()));
        };
        if dtype.starts_with("int") {
            continue;
        }
        let shape: Vec<usize> = dims
            .iter()
            .filter_map(|d| d.as_u64())
            .map(|d| d as usize)
            .collect();
        let values = if key.contains(".dfl") {
            (0..shape.iter().product::<usize>()).map(|i| i as f32).collect()
        } else {
            hashed_values(key, &shape)
        };
        out.push(crate::tensors::NamedTensor {
            name: key.to_string(),
            shape,
            values,
        });
    }
    Ok(out)
}
