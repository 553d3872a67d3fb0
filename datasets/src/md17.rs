//! MD17 and revised MD17 (rMD17) molecular-dynamics trajectories from `.npz` files, and the
//! splits PONITA/NequIP use.
//!
//! rMD17 files (`rmd17_<molecule>.npz`) hold `nuclear_charges` `[atoms]`, `coords`
//! `[frames, atoms, 3]` (Angstrom), `energies` `[frames]` and `forces` `[frames, atoms, 3]`
//! (kcal/mol, kcal/mol/A); the original MD17 files spell them `z`, `R`, `E` (`[frames, 1]`),
//! `F`. Both are read.

use crate::error::{DataError, Result};
use crate::nbody::{random_rotation, rotate};
use crate::npy::{NpyArray, read_npz};
use crate::{Batcher, Dataset, Rng};
use burn::tensor::{Device, Tensor, TensorData};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Atom types are one-hot encodings of the nuclear charge 1..=`ATOM_TYPES` (H..F), as in PONITA.
pub const ATOM_TYPES: usize = 9;

/// One molecule's trajectory.
#[derive(Debug, Clone, PartialEq)]
pub struct Md17 {
    /// Nuclear charge of each atom.
    pub nuclear_charges: Vec<u8>,
    /// Positions `[frames][atoms][3]`, flattened.
    pub coords: Vec<f32>,
    /// Total energy per frame.
    pub energies: Vec<f64>,
    /// Forces `[frames][atoms][3]`, flattened.
    pub forces: Vec<f32>,
}

fn take<'a>(arrays: &'a BTreeMap<String, NpyArray>, path: &Path, names: &[&str]) -> Result<&'a NpyArray> {
    names.iter().find_map(|n| arrays.get(*n)).ok_or_else(|| {
        DataError::format(
            path,
            format!(
                "no array named {} (the file has: {})",
                names
                    .iter()
                    .map(|n| format!("`{n}`"))
                    .collect::<Vec<_>>()
                    .join(" or "),
                arrays.keys().cloned().collect::<Vec<_>>().join(", ")
            ),
        )
    })
}

impl Md17 {
    /// Reads an MD17 or rMD17 `.npz`.
    pub fn load(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let arrays = read_npz(path)?;
        let z = take(&arrays, path, &["nuclear_charges", "z"])?;
        let r = take(&arrays, path, &["coords", "R"])?;
        let e = take(&arrays, path, &["energies", "E"])?;
        let f = take(&arrays, path, &["forces", "F"])?;
        let atoms = z.len();
        let charges = z
            .to_i64()
            .ok_or_else(|| DataError::format(path, "nuclear charges must be integers"))?;
        let nuclear_charges = charges
            .iter()
            .map(|&c| {
                if (1..=ATOM_TYPES as i64).contains(&c) {
                    Ok(c as u8)
                } else {
                    Err(DataError::format(
                        path,
                        format!(
                            "nuclear charge {c} is outside 1..={ATOM_TYPES} (H..F), the types PONITA encodes"
                        ),
                    ))
                }
            })
            .collect::<Result<Vec<_>>>()?;
        if r.shape.len() != 3 || r.shape[1] != atoms || r.shape[2] != 3 {
            return Err(DataError::format(
                path,
                format!(
                    "coordinates have shape {:?}; expected [frames, {atoms}, 3]",
                    r.shape
                ),
            ));
        }
        let frames = r.shape[0];
        if f.shape != r.shape {
            return Err(DataError::format(
                path,
                format!("forces have shape {:?}, coordinates {:?}", f.shape, r.shape),
            ));
        }
        if e.len() != frames {
            return Err(DataError::format(
                path,
                format!("{} energies for {frames} frames (shape {:?})", e.len(), e.shape),
            ));
        }
        let out = Self {
            nuclear_charges,
            coords: r.to_f32(),
            energies: e.to_f64(),
            forces: f.to_f32(),
        };
        if let Some(i) = out.energies.iter().position(|v| !v.is_finite()) {
            return Err(DataError::format(
                path,
                format!("energy of frame {i} is not finite"),
            ));
        }
        if out.coords.iter().chain(&out.forces).any(|v| !v.is_finite()) {
            return Err(DataError::format(
                path,
                "coordinates or forces hold NaN or infinity",
            ));
        }
        Ok(out)
    }

    /// Number of frames.
    pub fn frames(&self) -> usize {
        self.energies.len()
    }

    /// Number of atoms.
    pub fn atoms(&self) -> usize {
        self.nuclear_charges.len()
    }
}

/// Frame indices of the three splits.
#[derive(Debug, Clone, PartialEq)]
pub struct Md17Split {
    /// Training frames.
    pub train: Vec<usize>,
    /// Validation frames.
    pub valid: Vec<usize>,
    /// Test frames.
    pub test: Vec<usize>,
}

/// PONITA's rMD17 split: every `stride`-th frame is a candidate (1,000 of 100,000 for stride
/// 100); every `valid_every`-th candidate validates (50), the others train (950); all other frames
/// test (99,000).
pub fn standard_split(frames: usize, stride: usize, valid_every: usize) -> Md17Split {
    let (stride, valid_every) = (stride.max(1), valid_every.max(1));
    let candidates: Vec<usize> = (0..frames).step_by(stride).collect();
    let (mut train, mut valid) = (Vec::new(), Vec::new());
    for (k, &i) in candidates.iter().enumerate() {
        if k % valid_every == 0 {
            valid.push(i)
        } else {
            train.push(i)
        }
    }
    let test = (0..frames).filter(|i| i % stride != 0).collect();
    Md17Split { train, valid, test }
}

/// One frame.
#[derive(Debug, Clone, PartialEq)]
pub struct Md17Sample {
    /// Atom type index (nuclear charge - 1) per atom.
    pub types: Vec<u8>,
    /// Positions `[atoms][3]`.
    pub pos: Vec<[f32; 3]>,
    /// Energy.
    pub energy: f64,
    /// Forces `[atoms][3]`.
    pub forces: Vec<[f32; 3]>,
}

/// A split of one molecule's frames as a dataset.
#[derive(Debug, Clone)]
pub struct Md17Set {
    data: std::sync::Arc<Md17>,
    frames: Vec<usize>,
    rotate: bool,
}

impl Md17Set {
    /// The frames `frames` of `data`; `rotate` rotates every training view randomly.
    pub fn new(data: std::sync::Arc<Md17>, frames: Vec<usize>, rotate: bool) -> Self {
        Self { data, frames, rotate }
    }
}

impl Dataset<Md17Sample> for Md17Set {
    fn len(&self) -> usize {
        self.frames.len()
    }

    fn get(&self, index: usize) -> Result<Md17Sample> {
        let &f = self.frames.get(index).ok_or_else(|| {
            DataError::invalid(format!(
                "index {index} out of range ({} frames)",
                self.frames.len()
            ))
        })?;
        let n = self.data.atoms();
        let at = |v: &[f32]| -> Vec<[f32; 3]> {
            (0..n)
                .map(|a| std::array::from_fn(|k| v[(f * n + a) * 3 + k]))
                .collect()
        };
        Ok(Md17Sample {
            types: self.data.nuclear_charges.iter().map(|z| z - 1).collect(),
            pos: at(&self.data.coords),
            energy: self.data.energies[f],
            forces: at(&self.data.forces),
        })
    }

    fn get_train(&self, index: usize, rng: &mut Rng) -> Result<Md17Sample> {
        let mut s = self.get(index)?;
        if self.rotate {
            let r = random_rotation(rng);
            for v in s.pos.iter_mut().chain(s.forces.iter_mut()) {
                *v = rotate(&r, v);
            }
        }
        Ok(s)
    }
}

/// A batch of frames of one molecule.
#[derive(Debug, Clone)]
pub struct Md17Batch {
    /// Positions `[batch, atoms, 3]`.
    pub pos: Tensor<3>,
    /// One-hot atom types `[batch * atoms, ATOM_TYPES]`.
    pub types: Tensor<2>,
    /// Energies `[batch]` (float32 after subtracting `energy_shift`).
    pub energy: Tensor<1>,
    /// Forces `[batch, atoms, 3]`.
    pub forces: Tensor<3>,
}

/// Stacks [`Md17Sample`]s; energies are shifted by `energy_shift` first (total energies of
/// ~-10^5 kcal/mol do not survive float32 otherwise).
#[derive(Debug, Clone, Copy, Default)]
pub struct Md17Batcher {
    /// Subtracted from every energy before conversion to float32.
    pub energy_shift: f64,
}

impl Batcher<Md17Sample, Md17Batch> for Md17Batcher {
    fn batch(&self, items: Vec<Md17Sample>, device: &Device) -> Md17Batch {
        let (b, n) = (items.len(), items[0].pos.len());
        let mut onehot = vec![0.0f32; b * n * ATOM_TYPES];
        for (k, t) in items.iter().flat_map(|s| s.types.iter()).enumerate() {
            onehot[k * ATOM_TYPES + *t as usize] = 1.0;
        }
        let vecs = |f: &dyn Fn(&Md17Sample) -> &Vec<[f32; 3]>| -> Tensor<3> {
            let v: Vec<f32> = items
                .iter()
                .flat_map(|s| f(s).iter().flatten().copied())
                .collect();
            Tensor::from_data(TensorData::new(v, [b, n, 3]), device)
        };
        let e: Vec<f32> = items
            .iter()
            .map(|s| (s.energy - self.energy_shift) as f32)
            .collect();
        Md17Batch {
            pos: vecs(&|s| &s.pos),
            types: Tensor::from_data(TensorData::new(onehot, [b * n, ATOM_TYPES]), device),
            energy: Tensor::from_data(TensorData::new(e, [b]), device),
            forces: vecs(&|s| &s.forces),
        }
    }
}

/// Where the MD17 data come from (the `data.md17` section of a PONITA run).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Md17Data {
    /// The `.npz` file (rMD17 or MD17 layout).
    pub path: Option<PathBuf>,
    /// Candidate stride of the split (100: 1,000 of 100,000 frames).
    pub stride: usize,
    /// Every this many candidates validates (20: 50 of 1,000).
    pub valid_every: usize,
    /// Test frames used (the first ones; all when unset; rMD17 has 99,000).
    pub max_test: Option<usize>,
    /// Rotate each training frame randomly.
    pub rotate: bool,
}

impl Default for Md17Data {
    fn default() -> Self {
        Self {
            path: None,
            stride: 100,
            valid_every: 20,
            max_test: None,
            rotate: true,
        }
    }
}

/// The three MD17 splits and the training statistics.
#[derive(Debug, Clone)]
pub struct Md17Sets {
    /// Training frames.
    pub train: Md17Set,
    /// Validation frames.
    pub valid: Md17Set,
    /// Test frames.
    pub test: Md17Set,
    /// Mean training energy (PONITA's shift).
    pub energy_mean: f64,
    /// Root mean square of the training force components (PONITA's scale).
    pub force_rms: f64,
}

impl Md17Data {
    /// Reads the file and splits it.
    pub fn open(&self) -> Result<Md17Sets> {
        let path = self
            .path
            .as_ref()
            .ok_or_else(|| DataError::invalid("MD17 needs a data file: give --data-path FILE.npz"))?;
        let data = std::sync::Arc::new(Md17::load(path)?);
        let mut split = standard_split(data.frames(), self.stride, self.valid_every);
        if split.train.is_empty() || split.valid.is_empty() {
            return Err(DataError::format(
                path,
                format!(
                    "{} frames give {} training and {} validation frames with stride {} and valid_every {}",
                    data.frames(),
                    split.train.len(),
                    split.valid.len(),
                    self.stride,
                    self.valid_every
                ),
            ));
        }
        if let Some(m) = self.max_test {
            split.test.truncate(m);
        }
        let n = data.atoms();
        let energy_mean =
            split.train.iter().map(|&f| data.energies[f]).sum::<f64>() / split.train.len() as f64;
        let sq: f64 = split
            .train
            .iter()
            .flat_map(|&f| data.forces[f * n * 3..(f + 1) * n * 3].iter())
            .map(|&v| (v as f64) * (v as f64))
            .sum();
        let force_rms = (sq / (split.train.len() * n * 3) as f64).sqrt().max(1e-12);
        Ok(Md17Sets {
            train: Md17Set::new(data.clone(), split.train, self.rotate),
            valid: Md17Set::new(data.clone(), split.valid, false),
            test: Md17Set::new(data, split.test, false),
            energy_mean,
            force_rms,
        })
    }
}
