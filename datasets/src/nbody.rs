//! The charged-particle N-body benchmark of EGNN, SEGNN and PONITA.
//!
//! [`LegacyRandomState`] reproduces numpy's legacy `np.random` stream (MT19937, `random_sample`,
//! the polar-method Gaussian with its cached second value, `choice` with probabilities), and
//! [`ChargedParticles::simulate`] ports `ChargedParticlesSim.sample_trajectory` (EGNN `n_body_system/dataset`)
//! operation by operation, so that `generate(seed 43, 10000, 2000, 2000)` gives the published
//! `nbody_small` set: identical charges and random draws, positions and velocities equal to numpy's
//! to rounding (numpy's SIMD `pow` may differ from libm's in the last bit; see the README).
//!
//! [`NBody`] is the PONITA/EGNN task on these files: input frame 30 (positions, velocities,
//! charges), target positions at frame 40 (1000 integration steps later).

use crate::error::{DataError, Result};
use crate::npy::{NpyArray, read_npy, write_npy};
use crate::{Batcher, Dataset, Rng};
use burn::tensor::{Device, Tensor, TensorData};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// numpy's legacy `RandomState` (MT19937) with the draws the generator uses.
#[derive(Clone)]
pub struct LegacyRandomState {
    mt: [u32; 624],
    pos: usize,
    gauss: Option<f64>,
}

impl LegacyRandomState {
    /// `np.random.seed(seed)` for an integer seed (`init_genrand`).
    pub fn new(seed: u32) -> Self {
        let mut mt = [0u32; 624];
        mt[0] = seed;
        for i in 1..624 {
            mt[i] = 1_812_433_253u32
                .wrapping_mul(mt[i - 1] ^ (mt[i - 1] >> 30))
                .wrapping_add(i as u32);
        }
        Self {
            mt,
            pos: 624,
            gauss: None,
        }
    }

    fn twist(&mut self) {
        const UPPER: u32 = 0x8000_0000;
        const LOWER: u32 = 0x7fff_ffff;
        for i in 0..624 {
            let y = (self.mt[i] & UPPER) | (self.mt[(i + 1) % 624] & LOWER);
            let mag = if y & 1 == 1 { 0x9908_b0df } else { 0 };
            self.mt[i] = self.mt[(i + 397) % 624] ^ (y >> 1) ^ mag;
        }
        self.pos = 0;
    }

    /// The next tempered 32-bit output.
    pub fn next_u32(&mut self) -> u32 {
        if self.pos >= 624 {
            self.twist();
        }
        let mut y = self.mt[self.pos];
        self.pos += 1;
        y ^= y >> 11;
        y ^= (y << 7) & 0x9d2c_5680;
        y ^= (y << 15) & 0xefc6_0000;
        y ^ (y >> 18)
    }

    /// `random_sample()`: a double in [0, 1) with 53 random bits.
    pub fn random_sample(&mut self) -> f64 {
        let a = (self.next_u32() >> 5) as f64;
        let b = (self.next_u32() >> 6) as f64;
        (a * 67_108_864.0 + b) / 9_007_199_254_740_992.0
    }

    /// `randn()`: the legacy polar (Marsaglia) Gaussian; every second value comes from the cache.
    pub fn gauss(&mut self) -> f64 {
        if let Some(g) = self.gauss.take() {
            return g;
        }
        loop {
            let x1 = 2.0 * self.random_sample() - 1.0;
            let x2 = 2.0 * self.random_sample() - 1.0;
            let r2 = x1 * x1 + x2 * x2;
            if r2 < 1.0 && r2 != 0.0 {
                let f = (-2.0 * r2.ln() / r2).sqrt();
                self.gauss = Some(f * x1);
                return f * x2;
            }
        }
    }

    /// `choice(len(p), p=p)`: index of the first cumulative probability above a uniform draw
    /// (`searchsorted(cdf, u, side='right')`).
    pub fn choice(&mut self, p: &[f64]) -> usize {
        let mut cdf: Vec<f64> = p
            .iter()
            .scan(0.0, |s, &x| {
                *s += x;
                Some(*s)
            })
            .collect();
        let last = *cdf.last().expect("choice from an empty list");
        cdf.iter_mut().for_each(|c| *c /= last);
        let u = self.random_sample();
        cdf.iter().position(|&c| c > u).unwrap_or(cdf.len() - 1)
    }
}

/// Settings of `ChargedParticlesSim` and `generate_dataset.py` (defaults: the `nbody_small` set).
#[derive(Debug, Clone, PartialEq)]
pub struct ChargedParticles {
    /// Number of particles.
    pub n_balls: usize,
    /// Half-width of the box used by the initial clamp.
    pub box_size: f64,
    /// Standard deviation of the initial positions (before the `(n/5)^(1/3)` scaling).
    pub loc_std: f64,
    /// Norm of each initial velocity (0.5; `--initial_vel 0` gives 1e-16).
    pub vel_norm: f64,
    /// Coulomb constant.
    pub interaction_strength: f64,
    /// Integration step.
    pub dt: f64,
    /// Integration steps per trajectory.
    pub length: usize,
    /// Steps between stored frames.
    pub sample_freq: usize,
}

impl Default for ChargedParticles {
    fn default() -> Self {
        Self {
            n_balls: 5,
            box_size: 5.0,
            loc_std: 1.0,
            vel_norm: 0.5,
            interaction_strength: 1.0,
            dt: 0.001,
            length: 5000,
            sample_freq: 100,
        }
    }
}

/// One simulated trajectory, in the generator's layout.
#[derive(Debug, Clone, PartialEq)]
pub struct Trajectory {
    /// Positions `[frames][3][n_balls]`.
    pub loc: Vec<f64>,
    /// Velocities `[frames][3][n_balls]`.
    pub vel: Vec<f64>,
    /// Charges, +-1.
    pub charges: Vec<f64>,
}

/// The random draws of one trajectory, taken from the stream in the generator's order.
struct Draws {
    charges: Vec<f64>,
    loc: Vec<f64>,
    vel: Vec<f64>,
}

impl ChargedParticles {
    /// Stored frames per trajectory (`T / sample_freq - 1` = 49).
    pub fn frames(&self) -> usize {
        self.length / self.sample_freq - 1
    }

    fn draw(&self, rng: &mut LegacyRandomState) -> Draws {
        let n = self.n_balls;
        let charges = (0..n)
            .map(|_| [-1.0, 0.0, 1.0][rng.choice(&[0.5, 0.0, 0.5])])
            .collect();
        let loc_std = self.loc_std * (n as f64 / 5.0).powf(1.0 / 3.0);
        let loc = (0..3 * n).map(|_| rng.gauss() * loc_std).collect();
        let vel = (0..3 * n).map(|_| rng.gauss()).collect();
        // The observation noise (variance 0) still consumes two [frames, 3, n] Gaussian blocks.
        for _ in 0..2 * self.frames() * 3 * n {
            rng.gauss();
        }
        Draws { charges, loc, vel }
    }

    /// Forces `[3][n]` at positions `x` `[3][n]`, written as numpy evaluates them: squared
    /// distances `(|x_i|^2 + |x_j|^2) - 2 x_i.x_j` with the dot product fused as OpenBLAS does,
    /// magnitudes `q_i q_j / r^3` (via `pow`, self-terms zero), sums over j in order, clipping.
    fn forces(&self, x: &[f64], q: &[f64], f: &mut [f64]) {
        let n = self.n_balls;
        let max_f = 0.1 / self.dt;
        let sq: Vec<f64> = (0..n)
            .map(|i| x[i] * x[i] + x[n + i] * x[n + i] + x[2 * n + i] * x[2 * n + i])
            .collect();
        let mut m = vec![0.0; n * n];
        for i in 0..n {
            for j in 0..n {
                if i != j {
                    let dot = x[2 * n + i].mul_add(x[2 * n + j], x[n + i].mul_add(x[n + j], x[i] * x[j]));
                    let r2 = (sq[i] + sq[j]) - 2.0 * dot;
                    m[i * n + j] = (self.interaction_strength * (q[i] * q[j])) / r2.powf(1.5);
                }
            }
        }
        for d in 0..3 {
            for i in 0..n {
                let xi = x[d * n + i];
                let mut s = m[i * n] * (xi - x[d * n]);
                for j in 1..n {
                    s += m[i * n + j] * (xi - x[d * n + j]);
                }
                f[d * n + i] = s.clamp(-max_f, max_f);
            }
        }
    }

    fn integrate(&self, draws: Draws) -> Trajectory {
        let n = self.n_balls;
        let frames = self.frames();
        let Draws {
            charges,
            mut loc,
            mut vel,
        } = draws;
        for i in 0..n {
            let norm = (vel[i] * vel[i] + vel[n + i] * vel[n + i] + vel[2 * n + i] * vel[2 * n + i]).sqrt();
            for d in 0..3 {
                vel[d * n + i] = vel[d * n + i] * self.vel_norm / norm;
            }
        }
        // `_clamp`: reflect off the box walls (only the initial state, as in the generator).
        for k in 0..3 * n {
            if loc[k] > self.box_size {
                loc[k] = 2.0 * self.box_size - loc[k];
                vel[k] = -vel[k].abs();
            }
            if loc[k] < -self.box_size {
                loc[k] = -2.0 * self.box_size - loc[k];
                vel[k] = vel[k].abs();
            }
        }
        let stride = 3 * n;
        let mut out_loc = vec![0.0; frames * stride];
        let mut out_vel = vec![0.0; frames * stride];
        out_loc[..stride].copy_from_slice(&loc);
        out_vel[..stride].copy_from_slice(&vel);
        let mut f = vec![0.0; stride];
        self.forces(&loc, &charges, &mut f);
        for k in 0..stride {
            vel[k] += self.dt * f[k];
        }
        let mut counter = 0;
        for step in 1..self.length {
            for k in 0..stride {
                loc[k] += self.dt * vel[k];
            }
            if step % self.sample_freq == 0 {
                out_loc[counter * stride..(counter + 1) * stride].copy_from_slice(&loc);
                out_vel[counter * stride..(counter + 1) * stride].copy_from_slice(&vel);
                counter += 1;
            }
            self.forces(&loc, &charges, &mut f);
            for k in 0..stride {
                vel[k] += self.dt * f[k];
            }
        }
        Trajectory {
            loc: out_loc,
            vel: out_vel,
            charges,
        }
    }

    /// The next `count` trajectories of the stream `rng` (draws in order, integration in parallel).
    pub fn simulate(&self, rng: &mut LegacyRandomState, count: usize) -> Vec<Trajectory> {
        let draws: Vec<Draws> = (0..count).map(|_| self.draw(rng)).collect();
        draws.into_par_iter().map(|d| self.integrate(d)).collect()
    }
}

/// The three splits of a generated set.
#[derive(Debug, Clone)]
pub struct NBodySplits {
    /// Training trajectories.
    pub train: Vec<Trajectory>,
    /// Validation trajectories.
    pub valid: Vec<Trajectory>,
    /// Test trajectories.
    pub test: Vec<Trajectory>,
}

/// `generate_dataset.py --seed S --num-train N --num-valid M --num-test K`: one stream seeded
/// once, then train, valid and test in that order.
pub fn generate(sim: &ChargedParticles, seed: u32, train: usize, valid: usize, test: usize) -> NBodySplits {
    generate_prefix(sim, seed, [train, valid, test], [None; 3])
}

/// [`generate`] keeping only the first `keep[s]` trajectories of split `s` (train, valid, test):
/// the stream still advances past the others (their initial draws are made, their integration
/// skipped), so the kept ones equal the first trajectories of the full generation.
pub fn generate_prefix(
    sim: &ChargedParticles,
    seed: u32,
    counts: [usize; 3],
    keep: [Option<usize>; 3],
) -> NBodySplits {
    let mut rng = LegacyRandomState::new(seed);
    let mut split = |count: usize, keep: Option<usize>| {
        let kept = keep.map_or(count, |k| k.min(count));
        let out = sim.simulate(&mut rng, kept);
        for _ in kept..count {
            sim.draw(&mut rng);
        }
        out
    };
    let train = split(counts[0], keep[0]);
    let valid = split(counts[1], keep[1]);
    let test = split(counts[2], keep[2]);
    NBodySplits { train, valid, test }
}

/// The split names, in generation order.
pub const SPLITS: [&str; 3] = ["train", "valid", "test"];

/// Suffix of the published file names (`loc_train_charged5_initvel1small.npy`).
pub const PUBLISHED_SUFFIX: &str = "_charged5_initvel1small";

/// Writes `{loc,vel,edges,charges}_{split}.npy` into `dir` with the generator's shapes and dtypes:
/// loc, vel `[n, frames, 3, balls]`, edges `[n, balls, balls]` (q qᵀ), charges `[n, balls, 1]`,
/// all float64.
pub fn write_splits(dir: &Path, sim: &ChargedParticles, splits: &NBodySplits) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| DataError::io(dir, e))?;
    let (frames, n) = (sim.frames(), sim.n_balls);
    for (name, trajs) in SPLITS.iter().zip([&splits.train, &splits.valid, &splits.test]) {
        let s = trajs.len();
        let cat = |f: &dyn Fn(&Trajectory) -> Vec<f64>| trajs.iter().flat_map(f).collect::<Vec<f64>>();
        let arrays = [
            ("loc", vec![s, frames, 3, n], cat(&|t| t.loc.clone())),
            ("vel", vec![s, frames, 3, n], cat(&|t| t.vel.clone())),
            (
                "edges",
                vec![s, n, n],
                cat(&|t| {
                    t.charges
                        .iter()
                        .flat_map(|a| t.charges.iter().map(move |b| a * b))
                        .collect()
                }),
            ),
            ("charges", vec![s, n, 1], cat(&|t| t.charges.clone())),
        ];
        for (what, shape, values) in arrays {
            write_npy(
                dir.join(format!("{what}_{name}.npy")),
                &NpyArray::f64(shape, values),
            )?;
        }
    }
    Ok(())
}

/// One N-body example: the state at the input frame and the positions at the target frame.
#[derive(Debug, Clone, PartialEq)]
pub struct NBodySample {
    /// Positions `[balls][3]`.
    pub loc: Vec<[f32; 3]>,
    /// Velocities `[balls][3]`.
    pub vel: Vec<[f32; 3]>,
    /// Charges.
    pub charges: Vec<f32>,
    /// Positions at the target frame `[balls][3]`.
    pub target: Vec<[f32; 3]>,
}

/// A batch of N-body examples with the same particle count.
#[derive(Debug, Clone)]
pub struct NBodyBatch {
    /// Positions `[batch, balls, 3]`.
    pub loc: Tensor<3>,
    /// Velocities `[batch, balls, 3]`.
    pub vel: Tensor<3>,
    /// Charges `[batch, balls]`.
    pub charges: Tensor<2>,
    /// Target positions `[batch, balls, 3]`.
    pub target: Tensor<3>,
}

/// Stacks [`NBodySample`]s.
#[derive(Debug, Clone, Copy, Default)]
pub struct NBodyBatcher;

impl Batcher<NBodySample, NBodyBatch> for NBodyBatcher {
    fn batch(&self, items: Vec<NBodySample>, device: &Device) -> NBodyBatch {
        let (b, n) = (items.len(), items[0].charges.len());
        let flat = |f: &dyn Fn(&NBodySample) -> &Vec<[f32; 3]>| -> Tensor<3> {
            let v: Vec<f32> = items
                .iter()
                .flat_map(|s| f(s).iter().flatten().copied())
                .collect();
            Tensor::from_data(TensorData::new(v, [b, n, 3]), device)
        };
        let charges: Vec<f32> = items.iter().flat_map(|s| s.charges.iter().copied()).collect();
        NBodyBatch {
            loc: flat(&|s| &s.loc),
            vel: flat(&|s| &s.vel),
            charges: Tensor::from_data(TensorData::new(charges, [b, n]), device),
            target: flat(&|s| &s.target),
        }
    }
}

/// The N-body regression task on generated or published files.
#[derive(Debug, Clone)]
pub struct NBody {
    samples: Vec<NBodySample>,
    rotate: bool,
}

/// Frames of the `nbody_small` task: input 30, target 40.
pub const INPUT_FRAME: usize = 30;
/// Target frame of the `nbody_small` task.
pub const TARGET_FRAME: usize = 40;

impl NBody {
    /// The task on in-memory trajectories (at most `max` of them).
    pub fn from_trajectories(
        trajs: &[Trajectory],
        sim: &ChargedParticles,
        max: Option<usize>,
    ) -> Result<Self> {
        let frames = sim.frames();
        if frames <= TARGET_FRAME {
            return Err(DataError::invalid(format!(
                "trajectories have {frames} frames; the task needs frame {TARGET_FRAME}"
            )));
        }
        let n = sim.n_balls;
        let take = max.unwrap_or(trajs.len()).min(trajs.len());
        let samples = trajs[..take]
            .iter()
            .map(|t| sample(&t.loc, &t.vel, &t.charges, frames, n))
            .collect();
        Ok(Self {
            samples,
            rotate: false,
        })
    }

    /// Reads split `split` (`train`, `valid`, `test`) from `dir`: `loc_<split>.npy` etc., or the
    /// published names with the `_charged5_initvel1small` suffix. Keeps the first `max` examples
    /// (PONITA trains on the first 3,000 of 10,000).
    pub fn load(dir: &Path, split: &str, max: Option<usize>) -> Result<Self> {
        let file = |what: &str| -> PathBuf {
            let plain = dir.join(format!("{what}_{split}.npy"));
            let published = dir.join(format!("{what}_{split}{PUBLISHED_SUFFIX}.npy"));
            if !plain.exists() && published.exists() {
                published
            } else {
                plain
            }
        };
        let (loc_path, vel_path, charges_path) = (file("loc"), file("vel"), file("charges"));
        let loc = read_npy(&loc_path)?;
        let vel = read_npy(&vel_path)?;
        let charges = read_npy(&charges_path)?;
        if loc.shape.len() != 4 || loc.shape[2] != 3 {
            return Err(DataError::format(
                &loc_path,
                format!("expected shape [sims, frames, 3, balls], found {:?}", loc.shape),
            ));
        }
        let (s, frames, n) = (loc.shape[0], loc.shape[1], loc.shape[3]);
        if vel.shape != loc.shape {
            return Err(DataError::format(
                &vel_path,
                format!(
                    "shape {:?} differs from {} {:?}",
                    vel.shape,
                    loc_path.display(),
                    loc.shape
                ),
            ));
        }
        if charges.len() != s * n || charges.shape.first() != Some(&s) {
            return Err(DataError::format(
                &charges_path,
                format!("expected shape [{s}, {n}, 1], found {:?}", charges.shape),
            ));
        }
        if frames <= TARGET_FRAME {
            return Err(DataError::format(
                &loc_path,
                format!("{frames} frames; the task needs frame {TARGET_FRAME}"),
            ));
        }
        let (loc, vel, charges) = (loc.to_f64(), vel.to_f64(), charges.to_f64());
        let per = frames * 3 * n;
        let take = max.unwrap_or(s).min(s);
        let samples = (0..take)
            .map(|k| {
                sample(
                    &loc[k * per..(k + 1) * per],
                    &vel[k * per..(k + 1) * per],
                    &charges[k * n..(k + 1) * n],
                    frames,
                    n,
                )
            })
            .collect();
        Ok(Self {
            samples,
            rotate: false,
        })
    }

    /// With `rotate`, every training view is rotated by its own uniformly random rotation
    /// (positions, velocities and target together), the anchor's `RandomRotate` augmentation.
    pub fn with_rotations(mut self, rotate: bool) -> Self {
        self.rotate = rotate;
        self
    }

    /// The examples.
    pub fn samples(&self) -> &[NBodySample] {
        &self.samples
    }
}

/// Transposes frames `[3][n]` to `[n][3]` float32, as the EGNN loader does.
fn sample(loc: &[f64], vel: &[f64], charges: &[f64], frames: usize, n: usize) -> NBodySample {
    debug_assert_eq!(loc.len(), frames * 3 * n);
    let frame = |a: &[f64], f: usize| -> Vec<[f32; 3]> {
        (0..n)
            .map(|i| std::array::from_fn(|d| a[f * 3 * n + d * n + i] as f32))
            .collect()
    };
    NBodySample {
        loc: frame(loc, INPUT_FRAME),
        vel: frame(vel, INPUT_FRAME),
        charges: charges.iter().map(|&c| c as f32).collect(),
        target: frame(loc, TARGET_FRAME),
    }
}

impl Dataset<NBodySample> for NBody {
    fn len(&self) -> usize {
        self.samples.len()
    }

    fn get(&self, index: usize) -> Result<NBodySample> {
        self.samples.get(index).cloned().ok_or_else(|| {
            DataError::invalid(format!(
                "index {index} out of range ({} examples)",
                self.samples.len()
            ))
        })
    }

    fn get_train(&self, index: usize, rng: &mut Rng) -> Result<NBodySample> {
        let s = self.get(index)?;
        Ok(if self.rotate {
            s.rotated(&random_rotation(rng))
        } else {
            s
        })
    }
}

/// `r v` for a 3x3 matrix `r`.
pub fn rotate(r: &[[f32; 3]; 3], v: &[f32; 3]) -> [f32; 3] {
    std::array::from_fn(|i| r[i][0] * v[0] + r[i][1] * v[1] + r[i][2] * v[2])
}

impl NBodySample {
    /// The sample with positions, velocities and target rotated by `r` (charges unchanged).
    pub fn rotated(&self, r: &[[f32; 3]; 3]) -> Self {
        let all = |vs: &[[f32; 3]]| vs.iter().map(|v| rotate(r, v)).collect();
        Self {
            loc: all(&self.loc),
            vel: all(&self.vel),
            charges: self.charges.clone(),
            target: all(&self.target),
        }
    }
}

/// A uniformly random rotation matrix (normalised Gaussian quaternion).
pub fn random_rotation(rng: &mut Rng) -> [[f32; 3]; 3] {
    use rand_distr::{Distribution, StandardNormal};
    let q: [f64; 4] = std::array::from_fn(|_| StandardNormal.sample(rng));
    let n = q.iter().map(|v| v * v).sum::<f64>().sqrt();
    let [w, x, y, z] = q.map(|v| v / n);
    [
        [
            1.0 - 2.0 * (y * y + z * z),
            2.0 * (x * y - w * z),
            2.0 * (x * z + w * y),
        ],
        [
            2.0 * (x * y + w * z),
            1.0 - 2.0 * (x * x + z * z),
            2.0 * (y * z - w * x),
        ],
        [
            2.0 * (x * z - w * y),
            2.0 * (y * z + w * x),
            1.0 - 2.0 * (x * x + y * y),
        ],
    ]
    .map(|row| row.map(|v| v as f32))
}

/// Where the N-body data come from (the `data.nbody` section of a PONITA run).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NBodyData {
    /// Directory with `{loc,vel,charges}_{train,valid,test}.npy` (written by
    /// `eval-ponita nbody-generate` or the published `..._charged5_initvel1small.npy`); `None`
    /// generates the set in memory from `seed` and the counts below.
    pub dir: Option<PathBuf>,
    /// Seed of the numpy stream (43 for `nbody_small`).
    pub seed: u32,
    /// Training trajectories generated (all are drawn, to keep the stream aligned).
    pub num_train: usize,
    /// Validation trajectories generated.
    pub num_valid: usize,
    /// Test trajectories generated.
    pub num_test: usize,
    /// Training examples used (the first ones; PONITA uses 3,000 of 10,000).
    pub max_train: Option<usize>,
    /// Validation and test examples used (the first ones; all when unset).
    pub max_eval: Option<usize>,
    /// Rotate each training example randomly (every epoch anew).
    pub rotate: bool,
}

impl Default for NBodyData {
    fn default() -> Self {
        Self {
            dir: None,
            seed: 43,
            num_train: 10_000,
            num_valid: 2_000,
            num_test: 2_000,
            max_train: Some(3_000),
            max_eval: None,
            rotate: true,
        }
    }
}

/// The three N-body splits, ready for training.
#[derive(Debug, Clone)]
pub struct NBodySets {
    /// Training examples (with the rotation setting applied).
    pub train: NBody,
    /// Validation examples.
    pub valid: NBody,
    /// Test examples.
    pub test: NBody,
}

impl NBodyData {
    /// Reads or generates the splits.
    pub fn open(&self) -> Result<NBodySets> {
        let (train, valid, test) = match &self.dir {
            Some(dir) => (
                NBody::load(dir, "train", self.max_train)?,
                NBody::load(dir, "valid", self.max_eval)?,
                NBody::load(dir, "test", self.max_eval)?,
            ),
            None => {
                let sim = ChargedParticles::default();
                // Integrate only what is kept (3,000 of the 10,000 training trajectories by
                // default); the stream still passes over the rest.
                let splits = generate_prefix(
                    &sim,
                    self.seed,
                    [self.num_train, self.num_valid, self.num_test],
                    [self.max_train, self.max_eval, self.max_eval],
                );
                (
                    NBody::from_trajectories(&splits.train, &sim, self.max_train)?,
                    NBody::from_trajectories(&splits.valid, &sim, self.max_eval)?,
                    NBody::from_trajectories(&splits.test, &sim, self.max_eval)?,
                )
            }
        };
        if train.is_empty() {
            return Err(DataError::invalid("the N-body training set is empty"));
        }
        Ok(NBodySets {
            train: train.with_rotations(self.rotate),
            valid,
            test,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_prefix_equals_the_full_generation_cut() {
        let sim = ChargedParticles::default();
        let full = generate(&sim, 43, 5, 3, 4);
        let part = generate_prefix(&sim, 43, [5, 3, 4], [Some(2), None, Some(1)]);
        assert_eq!(part.train, full.train[..2]);
        assert_eq!(part.valid, full.valid);
        assert_eq!(part.test, full.test[..1]);
    }

    #[test]
    fn mt19937_matches_the_reference_outputs() {
        // First outputs of init_genrand(5489), the reference implementation's default seed.
        let mut r = LegacyRandomState::new(5489);
        let first: Vec<u32> = (0..3).map(|_| r.next_u32()).collect();
        assert_eq!(first, [3_499_211_612, 581_869_302, 3_890_346_734]);
        let mut r = LegacyRandomState::new(5489);
        for _ in 0..9999 {
            r.next_u32();
        }
        assert_eq!(r.next_u32(), 4_123_659_995); // the 10000th output (C++ std::mt19937 check)
    }

    #[test]
    fn golden_values_of_the_published_stream() {
        // From ../shared/reference/ponita.md (numpy, seed 43, train trajectory 0 and 1).
        let sim = ChargedParticles::default();
        let mut rng = LegacyRandomState::new(43);
        let t = sim.simulate(&mut rng, 2);
        assert_eq!(t[0].charges, [-1.0, 1.0, -1.0, -1.0, -1.0]);
        assert_eq!(t[1].charges, [1.0, -1.0, 1.0, 1.0, 1.0]);
        let mut rng = LegacyRandomState::new(43);
        for _ in 0..5 {
            rng.random_sample();
        }
        let g: Vec<f64> = (0..5).map(|_| rng.gauss()).collect();
        let want = [0.40609421, 0.87809903, -0.47138332, 0.04119692, -0.67025794];
        for (a, b) in g.iter().zip(want) {
            assert!((a - b).abs() < 1e-8, "{g:?}");
        }
        let n = 5;
        let at = |a: &[f64], f: usize| [a[f * 15], a[f * 15 + n], a[f * 15 + 2 * n]];
        let close = |a: [f64; 3], b: [f64; 3]| a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-9);
        assert!(close(
            at(&t[0].loc, 0),
            [0.445278278029731, 1.4597731517517143, -0.5162393922514775]
        ));
        assert!(close(
            at(&t[0].loc, 30),
            [2.989116317166655, 1.769370120446526, -1.1712942795381607]
        ));
        assert!(close(
            at(&t[0].vel, 30),
            [1.1338110406668451, 0.39568061256371995, -0.2266065730886864]
        ));
        assert!(close(
            at(&t[0].loc, 40),
            [4.1654998367653935, 2.191309138415654, -1.3826188023600456]
        ));
    }
}
