//! The N-body port against trajectories written by numpy (weights/reference/nbody_reference.py,
//! seed 43, 10 train, 3 valid, 3 test: the start of the `nbody_small` stream).

use std::path::PathBuf;
use zoo_datasets::nbody::{ChargedParticles, SPLITS, generate, write_splits};
use zoo_datasets::npy::read_npy;

fn fixture_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../weights/fixtures/nbody")
}

#[test]
fn generator_matches_numpy() {
    let sim = ChargedParticles::default();
    let ours = generate(&sim, 43, 10, 3, 3);
    let tmp = tempfile::tempdir().unwrap();
    write_splits(tmp.path(), &sim, &ours).unwrap();
    let (mut identical, mut total, mut worst) = (0, 0, 0.0f64);
    for split in SPLITS {
        for what in ["charges", "edges", "loc", "vel"] {
            let name = format!("{what}_{split}.npy");
            let theirs = read_npy(fixture_dir().join(&name)).unwrap();
            let mine = read_npy(tmp.path().join(&name)).unwrap();
            assert_eq!(mine.shape, theirs.shape, "{name}");
            let (a, b) = (mine.to_f64(), theirs.to_f64());
            if what == "charges" || what == "edges" {
                assert_eq!(a, b, "{name}: charges and edges must be identical");
                continue;
            }
            let per = a.len() / mine.shape[0];
            for (ta, tb) in a.chunks(per).zip(b.chunks(per)) {
                let d = ta.iter().zip(tb).map(|(x, y)| (x - y).abs()).fold(0.0, f64::max);
                worst = worst.max(d);
                total += 1;
                identical += usize::from(d == 0.0);
            }
        }
    }
    eprintln!("N-body vs numpy: {identical}/{total} loc/vel arrays bit-identical, max |diff| {worst:e}");
    assert!(worst <= 1e-5, "max |diff| {worst:e} above 1e-5");
}
