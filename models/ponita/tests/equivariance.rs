//! Symmetry checks: rotating inputs and grid together, icosahedral rotations of the icosahedral
//! grid, translations and permutations leave scalars unchanged and move vectors with the input;
//! self-loops give finite position gradients; the error of a fixed grid under arbitrary rotations
//! is measured.

use burn::prelude::*;
use burn::tensor::TensorData;
use rand::SeedableRng;
use rand_distr::{Distribution, StandardNormal};
use zoo_ponita::grid::icosahedron;
use zoo_ponita::{Graph, GridKind, NodeInputs, Ponita, PonitaConfig, TaskLevel};

type Mat = [[f64; 3]; 3];

fn rotation_from_quaternion(q: [f64; 4]) -> Mat {
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
}

fn random_rotation(seed: u64) -> Mat {
    let mut rng = rand::rngs::ChaCha8Rng::seed_from_u64(seed);
    rotation_from_quaternion(std::array::from_fn(|_| StandardNormal.sample(&mut rng)))
}

fn axis_angle(axis: [f64; 3], angle: f64) -> Mat {
    let n = (axis[0] * axis[0] + axis[1] * axis[1] + axis[2] * axis[2]).sqrt();
    let (s, c) = (angle / 2.0).sin_cos();
    rotation_from_quaternion([c, s * axis[0] / n, s * axis[1] / n, s * axis[2] / n])
}

fn rotate_points(r: &Mat, p: &[[f64; 3]]) -> Vec<[f64; 3]> {
    p.iter()
        .map(|v| std::array::from_fn(|i| (0..3).map(|k| r[i][k] * v[k]).sum()))
        .collect()
}

/// Applies R to the last axis of a `[.., 3]` tensor.
fn rotate<const D: usize>(r: &Mat, t: Tensor<D>) -> Tensor<D> {
    let flat: Vec<f32> = (0..3).flat_map(|k| (0..3).map(move |i| r[i][k] as f32)).collect(); // R^T
    let rt = Tensor::<2>::from_data(TensorData::new(flat, [3, 3]), &t.device());
    let dims = t.dims();
    let lead: usize = dims[..D - 1].iter().product();
    t.reshape([lead, 3]).matmul(rt).reshape(dims)
}

fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data().try_to_vec::<f32>().unwrap()
}

/// Max |a - b| / max |b| (a NaN or an infinity on either side fails the test).
fn rel_err(a: &[f32], b: &[f32]) -> f32 {
    zoo_check::diff(a, b).unwrap_or_else(|m| panic!("{m}")).relative() as f32
}

struct Case {
    pos: Tensor<3>,
    scalars: Tensor<2>,
    vectors: Tensor<3>,
}

fn case(device: &Device, graphs: usize, nodes: usize, seed: u64) -> Case {
    let mut rng = rand::rngs::ChaCha8Rng::seed_from_u64(seed);
    let mut draw = |n: usize, s: f64| -> Vec<f32> {
        (0..n)
            .map(|_| {
                let z: f64 = StandardNormal.sample(&mut rng);
                (z * s) as f32
            })
            .collect()
    };
    let m = graphs * nodes;
    Case {
        pos: Tensor::from_data(TensorData::new(draw(m * 3, 1.0), [graphs, nodes, 3]), device),
        scalars: Tensor::from_data(TensorData::new(draw(m, 1.0), [m, 1]), device),
        vectors: Tensor::from_data(TensorData::new(draw(m * 3, 0.5), [m, 1, 3]), device),
    }
}

fn run(model: &Ponita, c: &Case) -> (Vec<f32>, Vec<f32>) {
    let out = model.forward(
        &Graph::fully_connected(c.pos.clone()),
        &NodeInputs {
            scalars: Some(c.scalars.clone()),
            vectors: Some(c.vectors.clone()),
        },
    );
    (values(out.scalars), values(out.vectors))
}

/// Burn's CPU backend has one process-wide RNG: models initialised concurrently by parallel tests
/// draw from the same stream. Every model of this file is built here, seeded, one at a time, its
/// parameters drawn before the lock is released, so that each test's weights (and the fixed-grid
/// errors measured on them) do not depend on what else runs.
fn build(config: &PonitaConfig, device: &Device) -> Ponita {
    /// Reads every parameter: Burn initialises them lazily, on first use, so the draws happen
    /// here, under the lock, not at the first forward pass.
    struct Touch;
    impl burn::module::ModuleVisitor for Touch {
        fn visit_float<const D: usize>(&mut self, param: &burn::module::Param<Tensor<D>>) {
            let _ = param.val();
        }
    }
    static INIT: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _one_at_a_time = INIT.lock().unwrap_or_else(|e| e.into_inner());
    device.seed(17);
    let model = config.init(device).unwrap();
    model.visit(&mut Touch);
    model
}

fn small(grid: GridKind, num_ori: usize) -> PonitaConfig {
    PonitaConfig {
        output_scalars: 2,
        output_vectors: 2,
        hidden: 32,
        basis_dim: 32,
        layers: 3,
        num_ori,
        grid,
        layer_scale: Some(1.0),
        ..PonitaConfig::default()
    }
}

#[test]
fn rotating_inputs_and_grid_together_is_exact() {
    let device = Device::flex();
    let model = build(&small(GridKind::Fibonacci, 16), &device);
    let c = case(&device, 2, 5, 1);
    let (s0, v0) = run(&model, &c);
    for seed in 0..3 {
        let r = random_rotation(seed);
        let rotated = model.clone().with_grid(rotate_points(&r, model.grid()));
        let rc = Case {
            pos: rotate(&r, c.pos.clone()),
            scalars: c.scalars.clone(),
            vectors: rotate(&r, c.vectors.clone()),
        };
        let (s1, v1) = run(&rotated, &rc);
        let v0r = values(rotate(
            &r,
            Tensor::<3>::from_data(TensorData::new(v0.clone(), [10, 2, 3]), &device),
        ));
        let (es, ev) = (rel_err(&s1, &s0), rel_err(&v1, &v0r));
        assert!(
            es < 1e-5 && ev < 1e-5,
            "rotation {seed}: scalar {es:e}, vector {ev:e}"
        );
    }
}

#[test]
fn icosahedral_grid_is_exact_under_icosahedral_rotations() {
    let device = Device::flex();
    let model = build(&small(GridKind::Icosahedron, 12), &device);
    let c = case(&device, 1, 6, 2);
    let (s0, v0) = run(&model, &c);
    let ico = icosahedron();
    // 72 degrees about a vertex and 120 degrees about a face centre map the grid onto itself.
    // Vertices 0, 1, 2 form a face (pairwise at the edge length).
    let face = [0, 1, 2].map(|k| ico[0][k] + ico[1][k] + ico[2][k]);
    let rotations = [
        axis_angle(ico[0], 2.0 * std::f64::consts::PI / 5.0),
        axis_angle(face, 2.0 * std::f64::consts::PI / 3.0),
    ];
    for r in rotations {
        // The grid is permuted by r, not moved.
        let moved = rotate_points(&r, &ico);
        assert!(
            moved
                .iter()
                .all(|m| ico.iter().any(|g| (0..3).all(|k| (g[k] - m[k]).abs() < 1e-12)))
        );
        let rc = Case {
            pos: rotate(&r, c.pos.clone()),
            scalars: c.scalars.clone(),
            vectors: rotate(&r, c.vectors.clone()),
        };
        let (s1, v1) = run(&model, &rc);
        let v0r = values(rotate(
            &r,
            Tensor::<3>::from_data(TensorData::new(v0.clone(), [6, 2, 3]), &device),
        ));
        let (es, ev) = (rel_err(&s1, &s0), rel_err(&v1, &v0r));
        assert!(es < 1e-5 && ev < 1e-5, "scalar {es:e}, vector {ev:e}");
    }
}

#[test]
fn translation_and_permutation() {
    let device = Device::flex();
    let model = build(&small(GridKind::Fibonacci, 8), &device);
    let c = case(&device, 1, 5, 3);
    let (s0, v0) = run(&model, &c);
    let shifted = Case {
        pos: c.pos.clone()
            + Tensor::<3>::from_data(TensorData::new(vec![3.0f32, -1.5, 0.25], [1, 1, 3]), &device),
        scalars: c.scalars.clone(),
        vectors: c.vectors.clone(),
    };
    let (s1, v1) = run(&model, &shifted);
    assert!(rel_err(&s1, &s0) < 1e-5 && rel_err(&v1, &v0) < 1e-5);
    let perm = [3i64, 0, 4, 1, 2];
    let idx = Tensor::<1, Int>::from_data(TensorData::new(perm.to_vec(), [5]), &device);
    let permuted = Case {
        pos: c.pos.clone().select(1, idx.clone()),
        scalars: c.scalars.clone().select(0, idx.clone()),
        vectors: c.vectors.clone().select(0, idx),
    };
    let (s2, v2) = run(&model, &permuted);
    let s0p: Vec<f32> = perm
        .iter()
        .flat_map(|&p| s0[p as usize * 2..p as usize * 2 + 2].to_vec())
        .collect();
    let v0p: Vec<f32> = perm
        .iter()
        .flat_map(|&p| v0[p as usize * 6..p as usize * 6 + 6].to_vec())
        .collect();
    assert!(rel_err(&s2, &s0p) < 1e-5 && rel_err(&v2, &v0p) < 1e-5);
}

#[test]
fn pnita_is_invariant_and_pools_per_graph() {
    let device = Device::flex();
    let cfg = PonitaConfig {
        input_vectors: 0,
        output_scalars: 1,
        output_vectors: 0,
        num_ori: 0,
        task: TaskLevel::Graph,
        radius: Some(4.0),
        ..small(GridKind::Fibonacci, 0)
    };
    let model = build(&cfg, &device);
    let c = case(&device, 3, 4, 4);
    let go = |pos: Tensor<3>| {
        values(
            model
                .forward(
                    &Graph::fully_connected(pos),
                    &NodeInputs {
                        scalars: Some(c.scalars.clone()),
                        vectors: None,
                    },
                )
                .scalars,
        )
    };
    let e0 = go(c.pos.clone());
    assert_eq!(e0.len(), 3, "one energy per graph");
    let e1 = go(rotate(&random_rotation(9), c.pos.clone()));
    assert!(rel_err(&e1, &e0) < 1e-5);
    let bad = PonitaConfig {
        num_ori: 0,
        ..small(GridKind::Fibonacci, 0)
    };
    assert!(bad.init(&device).unwrap_err().to_string().contains("vector"));
}

/// The fixed-grid approximation: rotate the input but not the grid. The mean relative error over
/// five rotations, measured ([`build`]'s seed): scalars 0.338, 0.097, 0.067, 0.018 and vectors
/// 0.490, 0.202, 0.099, 0.028 at O = 8, 16, 32, 64 (other seeds: 0.35-0.65 at 8, 0.02-0.04
/// scalar and 0.02-0.10 vector at 64). Asserted: eight orientations are visibly not
/// equivariant (above 0.2: the test measures something), the scalar error falls at every
/// doubling, and 64 orientations bring both below 0.05. An implementation exact without the
/// grid (orientations ignored) or that rotates its grid with the input fails the first; one
/// whose grid does not cover the sphere the others.
#[test]
fn fixed_grid_error_shrinks_with_more_orientations() {
    let device = Device::flex();
    let mut errors = Vec::new();
    for o in [8, 16, 32, 64] {
        let config = PonitaConfig {
            input_scalars: 1,
            ..small(GridKind::Fibonacci, o)
        };
        let model = build(&config, &device);
        let c = case(&device, 1, 5, 6);
        let (s0, v0) = run(&model, &c);
        let (mut es, mut ev) = (0.0, 0.0);
        for seed in 0..5 {
            let r = random_rotation(100 + seed);
            let rc = Case {
                pos: rotate(&r, c.pos.clone()),
                scalars: c.scalars.clone(),
                vectors: rotate(&r, c.vectors.clone()),
            };
            let (s1, v1) = run(&model, &rc);
            let v0r = values(rotate(
                &r,
                Tensor::<3>::from_data(TensorData::new(v0.clone(), [5, 2, 3]), &device),
            ));
            es += rel_err(&s1, &s0) / 5.0;
            ev += rel_err(&v1, &v0r) / 5.0;
        }
        eprintln!("fixed Fibonacci grid, O = {o}: relative error scalar {es:.3}, vector {ev:.3}");
        errors.push((es, ev));
    }
    assert!(errors[0].0 > 0.2 && errors[0].1 > 0.2, "{errors:?}");
    assert!(errors.windows(2).all(|w| w[1].0 < w[0].0), "{errors:?}");
    assert!(errors[3].0 < 0.05 && errors[3].1 < 0.05, "{errors:?}");
}
