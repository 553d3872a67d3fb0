//! The N-body port against trajectories written by numpy (weights/reference/nbody_reference.py,
//! seed 43: the start of the `nbody_small` stream).

use std::path::{Path, PathBuf};
use zoo_datasets::nbody::{ChargedParticles, SPLITS, generate, write_splits};
use zoo_datasets::npy::read_npy;

fn fixture_dir(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../weights/fixtures")
        .join(name)
}

/// Generates `counts` trajectories with seed 43 and compares them with the numpy files in `dir`:
/// charges and edges must be identical; returns (bit-identical trajectories, trajectories,
/// max |diff| of positions and velocities over all frames).
fn compare(dir: &Path, counts: [usize; 3]) -> (usize, usize, f64) {
    let sim = ChargedParticles::default();
    let ours = generate(&sim, 43, counts[0], counts[1], counts[2]);
    let tmp = tempfile::tempdir().unwrap();
    write_splits(tmp.path(), &sim, &ours).unwrap();
    let (mut identical, mut total, mut worst) = (0, 0, 0.0f64);
    for split in SPLITS {
        let mut per_traj: Vec<f64> = Vec::new();
        for what in ["charges", "edges", "loc", "vel"] {
            let name = format!("{what}_{split}.npy");
            let theirs = read_npy(dir.join(&name)).unwrap();
            let mine = read_npy(tmp.path().join(&name)).unwrap();
            assert_eq!(mine.shape, theirs.shape, "{name}");
            let (a, b) = (mine.to_f64(), theirs.to_f64());
            if what == "charges" || what == "edges" {
                assert_eq!(a, b, "{name}: charges and edges must be identical");
                continue;
            }
            let per = a.len() / mine.shape[0];
            per_traj.resize(mine.shape[0], 0.0);
            for (k, (ta, tb)) in a.chunks(per).zip(b.chunks(per)).enumerate() {
                let d = zoo_check::diff(ta, tb).unwrap_or_else(|m| panic!("{name}, trajectory {k}: {m}"));
                per_traj[k] = per_traj[k].max(d.max_abs);
            }
        }
        total += per_traj.len();
        identical += per_traj.iter().filter(|&&d| d == 0.0).count();
        worst = per_traj.iter().copied().fold(worst, f64::max);
    }
    (identical, total, worst)
}

#[test]
fn generator_matches_numpy() {
    let (identical, total, worst) = compare(&fixture_dir("nbody"), [10, 3, 3]);
    eprintln!(
        "N-body vs numpy: {identical}/{total} trajectories bit-identical (positions and velocities, all frames), max |diff| {worst:e}"
    );
    assert!(worst <= 1e-5, "max |diff| {worst:e} above 1e-5");
}

#[test]
fn generator_is_bit_identical_to_numpy_with_the_same_pow() {
    // The reference run with C's pow in place of numpy's SIMD pow: every other operation of the
    // port (stream, Gaussians, fused dot, sums, clipping, integration) is then exact.
    let (identical, total, worst) = compare(&fixture_dir("nbody_libm"), [4, 1, 1]);
    assert_eq!(identical, total, "max |diff| {worst:e}");
}
