//! zoo-ponita against the PyTorch fixture (weights/reference/ponita_fixtures.py): invariants,
//! network outputs, and outputs after the data-driven kernel calibration, to 1e-5.

use burn::prelude::*;
use zoo_check::max_abs_diff;
use zoo_ponita::geometry::spatial_invariants;
use zoo_ponita::{Graph, NodeInputs, Ponita, PonitaConfig};
use zoo_weights::fixture::Fixture;
use zoo_weights::import::{KeyMap, load_safetensors};

fn config() -> PonitaConfig {
    PonitaConfig {
        output_scalars: 1,
        hidden: 16,
        basis_dim: 12,
        layers: 2,
        num_ori: 8,
        layer_scale: Some(1.0),
        radius: Some(3.0),
        ..PonitaConfig::default()
    }
}

fn load(device: &Device) -> (Ponita, Fixture, Graph, NodeInputs) {
    let model = config().init(device).unwrap();
    let map = KeyMap {
        from_pytorch: true,
        ..KeyMap::default()
    };
    let model = load_safetensors(
        model,
        &zoo_weights::fixture::path("ponita_weights.safetensors"),
        &map,
    )
    .unwrap();
    let io = Fixture::committed("ponita_io.safetensors").unwrap();
    let idx = |name: &str| -> Vec<usize> { io.get(name).1.iter().map(|&v| v as usize).collect() };
    let graph = Graph::from_edges(
        io.tensor::<2>("in.pos", device),
        &idx("in.src"),
        &idx("in.dst"),
        &idx("in.batch"),
    );
    let inputs = NodeInputs {
        scalars: Some(io.tensor::<2>("in.scalars", device)),
        vectors: Some(io.tensor::<3>("in.vectors", device)),
    };
    (model, io, graph, inputs)
}

fn check(name: &str, actual: Vec<f32>, io: &Fixture, tol: f32) {
    let (diff, scale) = max_abs_diff(&actual, io.get(name).1);
    eprintln!("{name}: max abs diff {diff:e} (max abs value {scale})");
    assert!(
        diff <= tol * scale.max(1.0),
        "{name}: max abs diff {diff:e} (scale {scale})"
    );
}

#[test]
fn matches_pytorch_fixture() {
    let device = Device::flex();
    let (model, io, graph, inputs) = load(&device);
    let grid = io.tensor::<2>("in.grid", &device);
    let rel = graph.edges.relative_positions(graph.pos.clone());
    let inv = spatial_invariants(rel, grid.clone());
    check(
        "out.invariants",
        inv.into_data().try_to_vec::<f32>().unwrap(),
        &io,
        1e-5,
    );
    // The network's own Fibonacci grid equals the reference's.
    let ours: Vec<f32> = model.grid().iter().flat_map(|p| p.map(|v| v as f32)).collect();
    check("in.grid", ours, &io, 1e-6);

    let out = model.forward(&graph, &inputs);
    check(
        "out.scalars",
        out.scalars.into_data().try_to_vec::<f32>().unwrap(),
        &io,
        1e-5,
    );
    check(
        "out.vectors",
        out.vectors.into_data().try_to_vec::<f32>().unwrap(),
        &io,
        1e-5,
    );

    let calibrated = model.calibrate(&graph, &inputs);
    let out = calibrated.forward(&graph, &inputs);
    check(
        "out.scalars_calibrated",
        out.scalars.into_data().try_to_vec::<f32>().unwrap(),
        &io,
        1e-5,
    );
    check(
        "out.vectors_calibrated",
        out.vectors.into_data().try_to_vec::<f32>().unwrap(),
        &io,
        1e-5,
    );
}

#[test]
fn dense_and_sparse_graphs_agree() {
    let device = Device::flex();
    let (model, io, _, _) = load(&device);
    // The fixture's second graph (nodes 4..9) as a batch of one, in both forms.
    let pos = io.tensor::<2>("in.pos", &device).narrow(0, 4, 5);
    let inputs = NodeInputs {
        scalars: Some(io.tensor::<2>("in.scalars", &device).narrow(0, 4, 5)),
        vectors: Some(io.tensor::<3>("in.vectors", &device).narrow(0, 4, 5)),
    };
    let dense = Graph::fully_connected(pos.clone().reshape([1, 5, 3]));
    let (src, dst): (Vec<usize>, Vec<usize>) = (0..5).flat_map(|i| (0..5).map(move |j| (j, i))).unzip();
    let sparse = Graph::from_edges(pos, &src, &dst, &[0; 5]);
    let a: Vec<f32> = model
        .forward(&dense, &inputs)
        .vectors
        .into_data()
        .try_to_vec::<f32>()
        .unwrap();
    let b: Vec<f32> = model
        .forward(&sparse, &inputs)
        .vectors
        .into_data()
        .try_to_vec::<f32>()
        .unwrap();
    let (diff, _) = max_abs_diff(&a, &b);
    assert!(diff < 1e-6, "{diff:e}");
    // And both equal the fixture rows of that graph.
    let want = &io.get("out.vectors").1[4 * 3..];
    let (diff, _) = max_abs_diff(&a, want);
    assert!(diff < 1e-5, "{diff:e}");
}

/// The gradient of the summed outputs with respect to the positions, through every edge of the
/// fixture's graphs including the self-loops (rel = 0: the invariants' norm there has a zero
/// gradient in PyTorch, not NaN), against PyTorch's autograd in float64.
#[test]
fn position_gradients_through_self_loops_match_pytorch() {
    let device = Device::flex().autodiff();
    let (model, io, graph, inputs) = load(&device);
    let idx = |name: &str| -> Vec<usize> { io.get(name).1.iter().map(|&v| v as usize).collect() };
    let (src, dst) = (idx("in.src"), idx("in.dst"));
    assert!(
        src.iter().zip(&dst).any(|(s, d)| s == d),
        "the fixture has self-loops"
    );
    let pos = graph.pos.clone().require_grad();
    let graph = Graph::from_edges(pos.clone(), &src, &dst, &idx("in.batch"));
    let out = model.forward(&graph, &inputs);
    let grads = (out.scalars.sum() + out.vectors.sum()).backward();
    let got = zoo_check::values(pos.grad(&grads).expect("position gradient"));
    let (diff, scale) = max_abs_diff(&got, io.get("out.pos_grad").1);
    eprintln!("position gradient: max abs diff {diff:e} (largest {scale:e})");
    // Relative to the largest component (the gradients are ~1e-3 here, so an absolute floor
    // of 1 would accept anything).
    // Measured: 9e-9 against 3.3e-3 (f32 against float64).
    assert!(
        scale > 1e-5 && diff <= 1e-4 * scale,
        "max abs diff {diff:e} (scale {scale:e})"
    );
}
