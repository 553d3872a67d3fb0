//! The PONITA network (anchor `ponita/models/ponita.py`, `ponita/nn/conv.py`, `convnext.py`): lift the inputs
//! onto the orientation grid, compute the pair invariants once, embed them with two basis MLPs,
//! then `layers` ConvNeXt blocks of separable (spatial, then fiber) depthwise convolutions, and
//! read scalars and vectors out of the fiber.

use crate::geometry::{
    fiber_invariants, polynomial_cutoff, polynomial_features, polynomial_width, safe_norm, spatial_invariants,
};
use crate::graph::{Edges, Graph};
use crate::grid::{GridKind, orientation_grid};
use burn::module::Param;
use burn::nn::{LayerNorm, LayerNormConfig, Linear, LinearConfig};
use burn::prelude::*;
use burn::tensor::TensorData;
use serde::{Deserialize, Serialize};
use zoo_kernels::gelu;

/// Whether scalar outputs are per node or summed per graph.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum TaskLevel {
    /// One output per node.
    #[default]
    Node,
    /// Scalars summed over the nodes of each graph (global add pool); vectors stay per node
    /// (a direct force head beside a graph energy).
    Graph,
}

/// Architecture; the defaults are the paper's N-body model (`main_nbody.py`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PonitaConfig {
    /// Scalar input features per node (N-body: the charge).
    pub input_scalars: usize,
    /// Vector input features per node, lifted as v . o (N-body: the velocity).
    pub input_vectors: usize,
    /// Scalar outputs.
    pub output_scalars: usize,
    /// Vector outputs, read out as (1/O) sum_o r(o) o.
    pub output_vectors: usize,
    /// Channels H.
    pub hidden: usize,
    /// Width of the kernel basis.
    pub basis_dim: usize,
    /// Number of ConvNeXt blocks.
    pub layers: usize,
    /// Orientations O of the grid; 0 gives PNITA (positions only, distance invariant).
    pub num_ori: usize,
    /// How the grid is built.
    pub grid: GridKind,
    /// Seed of the `repulsion` grid.
    pub grid_seed: u64,
    /// Degree of the polynomial embedding of the invariants.
    pub degree: usize,
    /// Width factor of the pointwise MLP.
    pub widening: usize,
    /// Initial layer-scale value (None: no layer scale).
    pub layer_scale: Option<f64>,
    /// Average the readouts of every layer (else read out the last only).
    pub multiple_readouts: bool,
    /// Radius of the smooth cutoff window (None: no window).
    pub radius: Option<f64>,
    /// Per-node or per-graph scalar outputs.
    pub task: TaskLevel,
}

impl Default for PonitaConfig {
    fn default() -> Self {
        Self {
            input_scalars: 1,
            input_vectors: 1,
            output_scalars: 0,
            output_vectors: 1,
            hidden: 128,
            basis_dim: 256,
            layers: 5,
            num_ori: 16,
            grid: GridKind::Fibonacci,
            grid_seed: 0,
            degree: 3,
            widening: 4,
            layer_scale: Some(1e-6),
            multiple_readouts: true,
            radius: None,
            task: TaskLevel::Node,
        }
    }
}

/// A configuration that cannot be built.
#[derive(Debug, thiserror::Error)]
#[error("invalid PONITA configuration: {0}")]
pub struct ConfigError(pub String);

impl PonitaConfig {
    /// The paper's N-body model: charges and velocities in, one vector (the displacement) out.
    pub fn nbody() -> Self {
        Self::default()
    }

    /// The paper's rMD17 model: one-hot atom types in, graph energy and (direct) per-atom force
    /// out, 20 orientations, no layer scale.
    pub fn md17(atom_types: usize) -> Self {
        Self {
            input_scalars: atom_types,
            input_vectors: 0,
            output_scalars: 1,
            output_vectors: 1,
            num_ori: 20,
            layer_scale: None,
            task: TaskLevel::Graph,
            ..Self::default()
        }
    }

    /// Whether this is PNITA (no orientation axis).
    pub fn is_pnita(&self) -> bool {
        self.num_ori == 0
    }

    /// Checks that the configuration can be built.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let bad = |m: String| Err(ConfigError(m));
        if self.hidden == 0
            || self.basis_dim == 0
            || self.layers == 0
            || self.degree == 0
            || self.widening == 0
        {
            return bad("hidden, basis_dim, layers, degree and widening must be positive".into());
        }
        if self.input_scalars + self.input_vectors == 0 {
            return bad("the model needs at least one input feature".into());
        }
        if self.output_scalars + self.output_vectors == 0 {
            return bad("the model needs at least one output".into());
        }
        if self.is_pnita() && (self.input_vectors > 0 || self.output_vectors > 0) {
            return bad(
                "PNITA (num_ori = 0) has no orientations: vector inputs and outputs need num_ori > 0".into(),
            );
        }
        if self.grid == GridKind::Icosahedron && self.num_ori != 12 && !self.is_pnita() {
            return bad(format!(
                "the icosahedral grid has 12 orientations, not {}",
                self.num_ori
            ));
        }
        if let Some(r) = self.radius
            && (r.is_nan() || r <= 0.0)
        {
            return bad(format!("radius must be positive, got {r}"));
        }
        Ok(())
    }

    /// The orientation grid `[O][3]` (empty for PNITA).
    pub fn grid_points(&self) -> Result<Vec<[f64; 3]>, ConfigError> {
        if self.is_pnita() {
            return Ok(Vec::new());
        }
        orientation_grid(self.grid, self.num_ori, self.grid_seed).map_err(ConfigError)
    }

    /// Builds the network with freshly initialised weights (PyTorch's Linear initialisation).
    pub fn init(&self, device: &Device) -> Result<Ponita, ConfigError> {
        self.validate()?;
        let grid = self.grid_points()?;
        let (h, b) = (self.hidden, self.basis_dim);
        let inputs = self.input_scalars + self.input_vectors;
        let spatial_k = if self.is_pnita() { 1 } else { 2 };
        let basis = |k: usize| BasisMlp {
            l1: LinearConfig::new(polynomial_width(k, self.degree), h).init(device),
            l2: LinearConfig::new(h, b).init(device),
        };
        let layers = (0..self.layers)
            .map(|_| ConvNextBlock {
                conv: SeparableConv {
                    kernel: LinearConfig::new(b, h).with_bias(false).init(device),
                    fiber_kernel: (!self.is_pnita())
                        .then(|| LinearConfig::new(b, h).with_bias(false).init(device)),
                    bias: Param::from_tensor(Tensor::zeros([h], device)),
                },
                norm: LayerNormConfig::new(h).init(device),
                lin1: LinearConfig::new(h, self.widening * h).init(device),
                lin2: LinearConfig::new(self.widening * h, h).init(device),
                layer_scale: self
                    .layer_scale
                    .map(|s| Param::from_tensor(Tensor::ones([h], device) * s)),
            })
            .collect();
        let readouts = if self.multiple_readouts { self.layers } else { 1 };
        Ok(Ponita {
            embed: LinearConfig::new(inputs, h).with_bias(false).init(device),
            spatial_basis: basis(spatial_k),
            fiber_basis: (!self.is_pnita()).then(|| basis(1)),
            layers,
            readouts: (0..readouts)
                .map(|_| LinearConfig::new(h, self.output_scalars + self.output_vectors).init(device))
                .collect(),
            grid,
            config: self.clone(),
        })
    }
}

/// Polynomial embedding of the invariants, then Linear, GELU, Linear, GELU (the kernel basis).
#[derive(Module, Debug)]
pub struct BasisMlp {
    l1: Linear,
    l2: Linear,
}

/// Depthwise separable convolution on R^3 x S^2: spatial kernel K(a1, a2) per orientation, sum
/// over neighbours; then fiber kernel Kf(o_p . o_q), mean over the grid, plus bias
/// (anchor `SeparableFiberBundleConv`).
#[derive(Module, Debug)]
pub struct SeparableConv {
    kernel: Linear,
    fiber_kernel: Option<Linear>,
    bias: Param<Tensor<1>>,
}

/// ConvNeXt block: separable conv, LayerNorm, Linear to 4H, GELU, Linear back, layer scale,
/// residual.
#[derive(Module, Debug)]
pub struct ConvNextBlock {
    conv: SeparableConv,
    norm: LayerNorm,
    lin1: Linear,
    lin2: Linear,
    layer_scale: Option<Param<Tensor<1>>>,
}

/// PONITA / PNITA.
#[derive(Module, Debug)]
pub struct Ponita {
    embed: Linear,
    spatial_basis: BasisMlp,
    fiber_basis: Option<BasisMlp>,
    layers: Vec<ConvNextBlock>,
    readouts: Vec<Linear>,
    #[module(skip)]
    grid: Vec<[f64; 3]>,
    #[module(skip)]
    config: PonitaConfig,
}

/// Node inputs: scalars `[N, S]` and vectors `[N, V, 3]` (either may be absent when S or V is 0).
#[derive(Debug, Clone)]
pub struct NodeInputs {
    /// Scalar features.
    pub scalars: Option<Tensor<2>>,
    /// Vector features.
    pub vectors: Option<Tensor<3>>,
}

/// Network outputs.
#[derive(Debug, Clone)]
pub struct PonitaOutput {
    /// Scalars `[N, S_out]`, or `[graphs, S_out]` for graph-level tasks.
    pub scalars: Tensor<2>,
    /// Vectors `[N, V_out, 3]`.
    pub vectors: Tensor<3>,
}

/// The kernel bases and grid of one forward pass (computed once, shared by all layers).
struct Bases {
    spatial: Tensor<3>,
    fiber: Option<Tensor<3>>,
}

/// `linear` applied to the last axis of a rank-3 tensor as one `[rows, in] x [in, out]` product
/// (a rank-3 input would be a batched product with the weight broadcast, several times slower in
/// backward on the CPU backend).
fn linear3(linear: &Linear, x: Tensor<3>) -> Tensor<3> {
    let [a, b, c] = x.dims();
    let y = linear.forward(x.reshape([a * b, c]));
    let out = y.dims()[1];
    y.reshape([a, b, out])
}

impl BasisMlp {
    fn forward(&self, invariants: Tensor<3>, degree: usize) -> Tensor<3> {
        let p = polynomial_features(invariants, degree);
        gelu(linear3(&self.l2, gelu(linear3(&self.l1, p))))
    }
}

/// Per-layer activations recorded for the data-driven kernel rescaling.
struct ConvStats {
    x: Tensor<3>,
    x1: Tensor<3>,
    x2: Tensor<3>,
}

impl SeparableConv {
    fn forward(
        &self,
        x: Tensor<3>,
        bases: &Bases,
        edges: &Edges,
        stats: Option<&mut Vec<ConvStats>>,
    ) -> Tensor<3> {
        let k = linear3(&self.kernel, bases.spatial.clone()); // [E, O, H]
        let x1 = edges.aggregate(x.clone(), k);
        let x2 = match (&self.fiber_kernel, &bases.fiber) {
            (Some(fk), Some(fb)) => {
                let kf = linear3(fk, fb.clone()); // [O, O, H]
                let [n, o, c] = x1.dims();
                // x2[n, p, c] = (1/O) sum_o x1[n, o, c] kf[o, p, c]: a matmul per channel.
                let a = x1.clone().permute([2, 0, 1]); // [C, N, O]
                let b = kf.permute([2, 0, 1]); // [C, O, P]
                a.matmul(b).permute([1, 2, 0]).reshape([n, o, c]) / o as f64
            }
            _ => x1.clone(),
        };
        if let Some(s) = stats {
            s.push(ConvStats {
                x,
                x1,
                x2: x2.clone(),
            });
        }
        let h = self.bias.dims()[0];
        x2 + self.bias.val().reshape([1, 1, h])
    }
}

impl ConvNextBlock {
    fn forward(
        &self,
        x: Tensor<3>,
        bases: &Bases,
        edges: &Edges,
        stats: Option<&mut Vec<ConvStats>>,
    ) -> Tensor<3> {
        let y = self.conv.forward(x.clone(), bases, edges, stats);
        let y = linear3(&self.lin2, gelu(linear3(&self.lin1, self.norm.forward(y))));
        let y = match &self.layer_scale {
            Some(g) => {
                let h = g.dims()[0];
                y * g.val().reshape([1, 1, h])
            }
            None => y,
        };
        x + y
    }
}

fn std_all<const D: usize>(t: Tensor<D>) -> f64 {
    // Unbiased, over every element (torch.Tensor.std()).
    let n = t.shape().num_elements() as f64;
    let flat = t.flatten::<1>(0, D - 1);
    let mean = flat.clone().mean();
    let var = (flat - mean).square().sum() / (n - 1.0).max(1.0);
    var.sqrt().into_scalar::<f64>()
}

impl Ponita {
    /// The configuration the network was built from.
    pub fn config(&self) -> &PonitaConfig {
        &self.config
    }

    /// The orientation grid `[O][3]`.
    pub fn grid(&self) -> &[[f64; 3]] {
        &self.grid
    }

    /// The same network on another grid of the same size (e.g. the rotated grid R o).
    pub fn with_grid(mut self, grid: Vec<[f64; 3]>) -> Self {
        assert_eq!(
            grid.len(),
            self.grid.len(),
            "grid size differs from the network's"
        );
        self.grid = grid;
        self
    }

    fn grid_tensor(&self, device: &Device) -> Tensor<2> {
        let o = self.grid.len();
        let flat: Vec<f32> = self.grid.iter().flat_map(|p| p.map(|v| v as f32)).collect();
        Tensor::from_data(TensorData::new(flat, [o, 3]), device)
    }

    /// Runs the network on `graph` (positions and edges) with node inputs `inputs`.
    pub fn forward(&self, graph: &Graph, inputs: &NodeInputs) -> PonitaOutput {
        self.forward_inner(graph, inputs, None)
    }

    fn forward_inner(
        &self,
        graph: &Graph,
        inputs: &NodeInputs,
        mut stats: Option<&mut Vec<ConvStats>>,
    ) -> PonitaOutput {
        let cfg = &self.config;
        let device = graph.pos.device();
        let n = graph.pos.dims()[0];
        let rel = graph.edges.relative_positions(graph.pos.clone()); // [E, 3]
        let e = rel.dims()[0];
        let (bases, x, grid) = if cfg.is_pnita() {
            let d = safe_norm(rel).reshape([e, 1, 1]);
            let mut spatial = self.spatial_basis.forward(d.clone(), cfg.degree);
            if let Some(r) = cfg.radius {
                spatial = spatial * polynomial_cutoff(d, r);
            }
            let x = inputs
                .scalars
                .clone()
                .expect("PNITA needs scalar inputs")
                .reshape([n, 1, cfg.input_scalars]);
            (Bases { spatial, fiber: None }, x, None)
        } else {
            let grid = self.grid_tensor(&device);
            let o = grid.dims()[0];
            let dist = cfg.radius.map(|_| safe_norm(rel.clone()).reshape([e, 1, 1]));
            let mut spatial = self
                .spatial_basis
                .forward(spatial_invariants(rel, grid.clone()), cfg.degree);
            if let (Some(r), Some(d)) = (cfg.radius, dist) {
                spatial = spatial * polynomial_cutoff(d, r);
            }
            let fiber = self
                .fiber_basis
                .as_ref()
                .map(|f| f.forward(fiber_invariants(grid.clone()), cfg.degree));
            let mut parts = Vec::new();
            if let Some(s) = &inputs.scalars {
                let width = s.dims()[1];
                parts.push(s.clone().reshape([n, 1, width]).repeat_dim(1, o));
            }
            if let Some(v) = &inputs.vectors {
                // v . o for every orientation: [N, V, 3] x [3, O] -> [N, V, O] -> [N, O, V].
                parts.push(
                    v.clone()
                        .matmul(grid.clone().transpose().unsqueeze())
                        .swap_dims(1, 2),
                );
            }
            (Bases { spatial, fiber }, Tensor::cat(parts, 2), Some(grid))
        };
        let mut h = linear3(&self.embed, x);
        let mut readout: Option<Tensor<3>> = None;
        let first_readout = self.layers.len() - self.readouts.len();
        for (i, layer) in self.layers.iter().enumerate() {
            h = layer.forward(h, &bases, &graph.edges, stats.as_deref_mut());
            if i >= first_readout {
                let r = linear3(&self.readouts[i - first_readout], h.clone());
                readout = Some(match readout {
                    Some(acc) => acc + r,
                    None => r,
                });
            }
        }
        let readout = readout.expect("at least one readout") / self.readouts.len() as f64;
        let [_, o, _] = readout.dims();
        let (ns, nv) = (cfg.output_scalars, cfg.output_vectors);
        let mut scalars = if ns > 0 {
            readout.clone().narrow(2, 0, ns).mean_dim(1).reshape([n, ns])
        } else {
            Tensor::zeros([n, 0], &device)
        };
        let vectors = match grid {
            Some(grid) if nv > 0 => {
                let rv = readout.narrow(2, ns, nv).swap_dims(1, 2); // [N, V, O]
                rv.matmul(grid.unsqueeze()) / o as f64
            }
            _ => Tensor::zeros([n, nv, 3], &device),
        };
        if cfg.task == TaskLevel::Graph {
            scalars = graph.sum_per_graph(scalars);
        }
        PonitaOutput { scalars, vectors }
    }

    /// Data-driven rescaling of the kernels (anchor `conv.py::callibrate`), done once before
    /// training on a first batch: K <- K std(x)/std(x1), Kf <- Kf std(x1)/std(x2), so each
    /// convolution starts out roughly variance preserving.
    pub fn calibrate(mut self, graph: &Graph, inputs: &NodeInputs) -> Self {
        let mut stats = Vec::new();
        let _ = self.forward_inner(graph, inputs, Some(&mut stats));
        for (layer, s) in self.layers.iter_mut().zip(stats) {
            let (sx, s1, s2) = (std_all(s.x), std_all(s.x1), std_all(s.x2));
            if !(s1 > 0.0 && s2 > 0.0 && sx.is_finite()) {
                continue;
            }
            let conv = &mut layer.conv;
            conv.kernel.weight = conv.kernel.weight.clone().map(|w| w * (sx / s1));
            if let Some(fk) = conv.fiber_kernel.as_mut() {
                fk.weight = fk.weight.clone().map(|w| w * (s1 / s2));
            }
        }
        self
    }
}
