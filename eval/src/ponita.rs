//! Evaluation side of the PONITA family: the task heads around [`zoo_ponita::Ponita`] (N-body
//! position prediction; MD17 energy and direct forces) and their metrics.

use crate::metrics::Regression;
use burn::prelude::*;
use serde::{Deserialize, Serialize};
use zoo_datasets::md17::{ATOM_TYPES, Md17Batch, Md17Batcher, Md17Data, Md17Set};
use zoo_datasets::nbody::{NBody, NBodyBatch, NBodyBatcher, NBodyData};
use zoo_datasets::{Batcher, Dataset};
use zoo_ponita::{Graph, NodeInputs, Ponita, PonitaConfig};

/// Family name written in run.json.
pub const FAMILY: &str = "ponita";

/// Which benchmark a run uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum PonitaDataset {
    /// Charged particles: positions 1000 steps ahead.
    #[default]
    Nbody,
    /// MD17 / rMD17 molecular dynamics: energy and forces.
    Md17,
}

impl std::str::FromStr for PonitaDataset {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "nbody" | "n-body" => Ok(Self::Nbody),
            "md17" | "rmd17" => Ok(Self::Md17),
            _ => Err(format!("unknown dataset `{s}`; expected nbody or md17")),
        }
    }
}

/// The data section of a PONITA run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct PonitaData {
    /// Benchmark.
    pub dataset: PonitaDataset,
    /// N-body settings.
    pub nbody: NBodyData,
    /// MD17 settings.
    pub md17: Md17Data,
}

impl PonitaData {
    /// Sets the inputs and outputs of `model` to what the benchmark needs (N-body: charge and
    /// velocity in, one vector per node out; MD17: one-hot atom types in, a graph energy and one
    /// vector per atom out); the architecture fields are left alone.
    pub fn fit_model(&self, model: &mut PonitaConfig) {
        let task = match self.dataset {
            PonitaDataset::Nbody => PonitaConfig::nbody(),
            PonitaDataset::Md17 => PonitaConfig::md17(ATOM_TYPES),
        };
        model.input_scalars = task.input_scalars;
        model.input_vectors = task.input_vectors;
        model.output_scalars = task.output_scalars;
        model.output_vectors = task.output_vectors;
        model.task = task.task;
    }
}

/// The parts of a PONITA run config that evaluation needs (`train` is accepted and ignored).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct PonitaSetup {
    /// Network.
    pub model: PonitaConfig,
    /// Data.
    pub data: PonitaData,
    /// The training section of a run config, ignored here.
    #[serde(skip_serializing)]
    pub train: Option<serde_json::Value>,
}

/// PONITA on the N-body task: charges (scalar) and velocities (vector) in, a displacement vector
/// out; the prediction is position + displacement (anchor `main_nbody.py`).
#[derive(Module, Debug)]
pub struct NBodyModel {
    /// The network.
    pub net: Ponita,
}

impl NBodyModel {
    /// Checks that `config` fits the task (1 scalar and 1 vector in, 1 vector out) and builds it.
    pub fn init(config: &PonitaConfig, device: &Device) -> anyhow::Result<Self> {
        anyhow::ensure!(
            config.input_scalars == 1 && config.input_vectors == 1 && config.output_vectors == 1,
            "the N-body model takes 1 scalar (charge) and 1 vector (velocity) input and gives 1 vector output; \
             the config has {} scalar, {} vector inputs and {} vector outputs",
            config.input_scalars,
            config.input_vectors,
            config.output_vectors
        );
        Ok(Self {
            net: config.init(device)?,
        })
    }

    fn graph_and_inputs(batch: &NBodyBatch) -> (Graph, NodeInputs) {
        let [b, n, _] = batch.loc.dims();
        let graph = Graph::fully_connected(batch.loc.clone());
        let inputs = NodeInputs {
            scalars: Some(batch.charges.clone().reshape([b * n, 1])),
            vectors: Some(batch.vel.clone().reshape([b * n, 1, 3])),
        };
        (graph, inputs)
    }

    /// Predicted positions `[batch, n, 3]` at the target frame.
    pub fn predict(&self, batch: &NBodyBatch) -> Tensor<3> {
        let [b, n, _] = batch.loc.dims();
        let (graph, inputs) = Self::graph_and_inputs(batch);
        let out = self.net.forward(&graph, &inputs);
        batch.loc.clone() + out.vectors.reshape([b, n, 3])
    }

    /// Mean squared error of the positions (over batch, particles and coordinates).
    pub fn loss(&self, batch: &NBodyBatch) -> Tensor<1> {
        (self.predict(batch) - batch.target.clone()).square().mean()
    }

    /// The data-driven kernel rescaling on one batch (before training).
    pub fn calibrate(self, batch: &NBodyBatch) -> Self {
        let (graph, inputs) = Self::graph_and_inputs(batch);
        Self {
            net: self.net.calibrate(&graph, &inputs),
        }
    }
}

/// Position MSE of `model` on `data`, plus the two sanity baselines of the task.
#[derive(Debug, Clone, Default)]
pub struct NBodyMetrics {
    /// The model's positions.
    pub model: Regression,
    /// Positions left where they are.
    pub no_motion: Regression,
    /// x + v * 1000 dt (constant velocity).
    pub constant_velocity: Regression,
}

/// Runs `model` over `data` in batches of `batch_size`.
pub fn evaluate_nbody(
    model: &NBodyModel,
    data: &NBody,
    batch_size: usize,
    device: &Device,
) -> anyhow::Result<NBodyMetrics> {
    let mut m = NBodyMetrics::default();
    let n = data.len();
    let mut start = 0;
    while start < n {
        let end = (start + batch_size.max(1)).min(n);
        let items = (start..end).map(|i| data.get(i)).collect::<Result<Vec<_>, _>>()?;
        for s in &items {
            let flat = |v: &[[f32; 3]]| v.iter().flatten().copied().collect::<Vec<f32>>();
            let (x, v, t) = (flat(&s.loc), flat(&s.vel), flat(&s.target));
            m.no_motion.update(&x, &t)?;
            let cv: Vec<f32> = x.iter().zip(&v).map(|(a, b)| a + b).collect();
            m.constant_velocity.update(&cv, &t)?;
        }
        let batch = NBodyBatcher.batch(items, device);
        let pred: Vec<f32> = model.predict(&batch).into_data().try_to_vec::<f32>()?;
        let target: Vec<f32> = batch.target.into_data().try_to_vec::<f32>()?;
        m.model.update(&pred, &target)?;
        start = end;
    }
    Ok(m)
}

/// Model and data flags shared by `train-ponita` and `eval-ponita`.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct PonitaArgs {
    /// Benchmark: nbody (charged particles, generated on the fly unless --data-path) or md17.
    #[arg(long, value_name = "NAME")]
    pub dataset: Option<PonitaDataset>,
    /// N-body: directory with {loc,vel,charges}_{train,valid,test}.npy (from `eval-ponita
    /// nbody-generate` or the published *_charged5_initvel1small.npy files). MD17: the .npz file
    /// (rMD17 `nuclear_charges/coords/energies/forces` or MD17 `z/R/E/F`).
    #[arg(long, value_name = "DIR")]
    pub data_path: Option<std::path::PathBuf>,
    /// Orientations on the sphere (0 = PNITA, positions only).
    #[arg(long, value_name = "O")]
    pub num_ori: Option<usize>,
    /// Orientation grid: fibonacci, repulsion or icosahedron (12 orientations).
    #[arg(long, value_name = "KIND")]
    pub grid: Option<zoo_ponita::GridKind>,
    /// Number of ConvNeXt layers.
    #[arg(long, value_name = "N")]
    pub layers: Option<usize>,
    /// Hidden channels (the basis width follows at twice this).
    #[arg(long, value_name = "H")]
    pub hidden: Option<usize>,
    /// Training examples used (the first ones).
    #[arg(long, value_name = "N")]
    pub max_train: Option<usize>,
    /// Validation and test examples used (the first ones).
    #[arg(long, value_name = "N")]
    pub max_eval: Option<usize>,
}

impl PonitaArgs {
    /// Applies the flags.
    pub fn apply(&self, model: &mut PonitaConfig, data: &mut PonitaData) {
        if let Some(d) = self.dataset {
            data.dataset = d;
        }
        if data.dataset == PonitaDataset::Md17 && *model == PonitaConfig::nbody() {
            *model = PonitaConfig::md17(ATOM_TYPES);
        }
        if self.data_path.is_some() {
            match data.dataset {
                PonitaDataset::Nbody => data.nbody.dir = self.data_path.clone(),
                PonitaDataset::Md17 => data.md17.path = self.data_path.clone(),
            }
        }
        if let Some(o) = self.num_ori {
            model.num_ori = o;
        }
        if let Some(g) = self.grid {
            model.grid = g;
        }
        if let Some(l) = self.layers {
            model.layers = l;
        }
        if let Some(h) = self.hidden {
            model.hidden = h;
            model.basis_dim = 2 * h;
        }
        if self.max_train.is_some() {
            data.nbody.max_train = self.max_train;
        }
        if self.max_eval.is_some() {
            data.nbody.max_eval = self.max_eval;
            data.md17.max_test = self.max_eval;
        }
        data.fit_model(model);
    }
}

/// kcal/mol to meV (PONITA reports rMD17 errors in meV and meV/A).
pub const KCAL_PER_MOL_TO_MEV: f64 = 43.3634;

/// Weight of the energy term of the MD17 loss (PONITA: MSE(E)/500 + MSE(F)).
pub const MD17_ENERGY_WEIGHT: f64 = 1.0 / 500.0;

/// PONITA on MD17: one-hot atom types in; energy = scale * sum over atoms of a scalar readout
/// (plus the training mean, removed by the batcher) and forces = scale * a vector readout per atom.
/// Burn has first-order autodiff only, so forces are a direct equivariant head, not -dE/dx: they
/// are rotation equivariant but not conservative.
#[derive(Module, Debug)]
pub struct Md17Model {
    /// The network.
    pub net: Ponita,
    /// Root mean square of the training force components (the output scale).
    #[module(skip)]
    pub scale: f64,
}

impl Md17Model {
    /// Checks that `config` fits the task (atom types in, 1 graph scalar and 1 vector out).
    pub fn init(config: &PonitaConfig, scale: f64, device: &Device) -> anyhow::Result<Self> {
        anyhow::ensure!(
            config.input_scalars == ATOM_TYPES
                && config.input_vectors == 0
                && config.output_scalars == 1
                && config.output_vectors == 1
                && config.task == zoo_ponita::TaskLevel::Graph,
            "the MD17 model takes {ATOM_TYPES} one-hot atom types and gives a graph energy and a force \
             vector per atom (PonitaConfig::md17); the config does not"
        );
        Ok(Self {
            net: config.init(device)?,
            scale,
        })
    }

    fn graph_and_inputs(batch: &Md17Batch) -> (Graph, NodeInputs) {
        let graph = Graph::fully_connected(batch.pos.clone());
        let inputs = NodeInputs {
            scalars: Some(batch.types.clone()),
            vectors: None,
        };
        (graph, inputs)
    }

    /// Energies `[batch]` (relative to the training mean) and forces `[batch, atoms, 3]`.
    pub fn predict(&self, batch: &Md17Batch) -> (Tensor<1>, Tensor<3>) {
        let [b, n, _] = batch.pos.dims();
        let (graph, inputs) = Self::graph_and_inputs(batch);
        let out = self.net.forward(&graph, &inputs);
        (
            out.scalars.reshape([b]) * self.scale,
            out.vectors.reshape([b, n, 3]) * self.scale,
        )
    }

    /// MSE(E)/500 + MSE(F), both in units of the force scale; returns (loss, energy term, force
    /// term).
    pub fn loss(&self, batch: &Md17Batch) -> (Tensor<1>, Tensor<1>, Tensor<1>) {
        let (e, f) = self.predict(batch);
        let le = ((e - batch.energy.clone()) / self.scale).square().mean();
        let lf = ((f - batch.forces.clone()) / self.scale).square().mean();
        (le.clone() * MD17_ENERGY_WEIGHT + lf.clone(), le, lf)
    }

    /// The data-driven kernel rescaling on one batch (before training).
    pub fn calibrate(self, batch: &Md17Batch) -> Self {
        let (graph, inputs) = Self::graph_and_inputs(batch);
        Self {
            net: self.net.calibrate(&graph, &inputs),
            scale: self.scale,
        }
    }
}

/// Energy and force errors on MD17 frames, in the file's units (kcal/mol, kcal/mol/A).
#[derive(Debug, Clone, Default)]
pub struct Md17Metrics {
    /// Energies.
    pub energy: Regression,
    /// Force components.
    pub forces: Regression,
}

/// Runs `model` over `data`; `energy_mean` is the training mean the model's energies are relative to.
pub fn evaluate_md17(
    model: &Md17Model,
    data: &Md17Set,
    energy_mean: f64,
    batch_size: usize,
    device: &Device,
) -> anyhow::Result<Md17Metrics> {
    let batcher = Md17Batcher {
        energy_shift: energy_mean,
    };
    let mut m = Md17Metrics::default();
    let n = data.len();
    let mut start = 0;
    while start < n {
        let end = (start + batch_size.max(1)).min(n);
        let items = (start..end).map(|i| data.get(i)).collect::<Result<Vec<_>, _>>()?;
        let batch = batcher.batch(items, device);
        let (e, f) = model.predict(&batch);
        m.energy.update(
            &e.into_data().try_to_vec::<f32>()?,
            &batch.energy.into_data().try_to_vec::<f32>()?,
        )?;
        m.forces.update(
            &f.into_data().try_to_vec::<f32>()?,
            &batch.forces.into_data().try_to_vec::<f32>()?,
        )?;
        start = end;
    }
    Ok(m)
}

/// The trained network under rotations it was not built for: each system of `data` is rotated
/// by its own random rotation R (seeded by `seed` and its index) with the grid held fixed.
#[derive(Debug, Clone, Default)]
pub struct RotationCheck {
    /// Position MSE on the rotated systems (against the rotated targets).
    pub rotated: Regression,
    /// f(R x) against R f(x): zero for an exactly equivariant network.
    pub equivariance: Regression,
}

/// Runs [`RotationCheck`] over `data`.
pub fn rotation_check(
    model: &NBodyModel,
    data: &NBody,
    batch_size: usize,
    seed: u64,
    device: &Device,
) -> anyhow::Result<RotationCheck> {
    use zoo_datasets::nbody::{NBodySample, random_rotation, rotate};
    let mut out = RotationCheck::default();
    let n = data.len();
    let mut start = 0;
    while start < n {
        let end = (start + batch_size.max(1)).min(n);
        let items = (start..end).map(|i| data.get(i)).collect::<Result<Vec<_>, _>>()?;
        let rs: Vec<[[f32; 3]; 3]> = (start..end)
            .map(|i| random_rotation(&mut zoo_datasets::rng::rng_for(seed, &[i as u64])))
            .collect();
        let rotated: Vec<NBodySample> = items.iter().zip(&rs).map(|(s, r)| s.rotated(r)).collect();
        let plain = model.predict(&NBodyBatcher.batch(items, device));
        let batch_r = NBodyBatcher.batch(rotated, device);
        let pred_r: Vec<f32> = model.predict(&batch_r).into_data().try_to_vec::<f32>()?;
        let target_r: Vec<f32> = batch_r.target.into_data().try_to_vec::<f32>()?;
        out.rotated.update(&pred_r, &target_r)?;
        let plain: Vec<f32> = plain.into_data().try_to_vec::<f32>()?;
        let per = plain.len() / rs.len();
        let plain_r: Vec<f32> = plain
            .chunks(per)
            .zip(&rs)
            .flat_map(|(p, r)| {
                p.chunks(3)
                    .flat_map(|v| rotate(r, &[v[0], v[1], v[2]]))
                    .collect::<Vec<_>>()
            })
            .collect();
        out.equivariance.update(&pred_r, &plain_r)?;
        start = end;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use zoo_datasets::nbody::{ChargedParticles, generate};

    #[test]
    fn rotation_check_rotates_inputs_targets_and_predictions_consistently() {
        // An untrained network with layer scale 1e-6 is, to 1e-6, its embedding and readout: a
        // vector output W (1/O) sum_o (v . o) o + b (1/O) sum_o o, which the icosahedral grid
        // (mean 0, second moment I/3) makes exactly equivariant. Its error on rotated systems then
        // equals its error on the originals; a mistake in the rotations shows in both checks.
        let device = Device::flex();
        let sim = ChargedParticles::default();
        let splits = generate(&sim, 7, 0, 0, 6);
        let data = NBody::from_trajectories(&splits.test, &sim, None).unwrap();
        let cfg = PonitaConfig {
            hidden: 16,
            basis_dim: 16,
            layers: 2,
            num_ori: 12,
            grid: zoo_ponita::GridKind::Icosahedron,
            ..PonitaConfig::nbody()
        };
        let model = NBodyModel::init(&cfg, &device).unwrap();
        let plain = evaluate_nbody(&model, &data, 4, &device).unwrap();
        let r = rotation_check(&model, &data, 4, 3, &device).unwrap();
        assert!(r.equivariance.mse() < 1e-9, "{}", r.equivariance.mse());
        let (a, b) = (r.rotated.mse(), plain.model.mse());
        assert!((a - b).abs() < 1e-4 * b, "{a} vs {b}");
    }
}
