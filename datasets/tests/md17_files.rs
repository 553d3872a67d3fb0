//! The MD17 loader on the committed fixtures (weights/reference/md17_fixture.py): both key
//! spellings, the split, statistics and clear errors.

use std::path::PathBuf;
use zoo_datasets::Dataset;
use zoo_datasets::md17::{Md17, Md17Data, standard_split};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../weights/fixtures")
        .join(name)
}

#[test]
fn both_layouts_read_the_same_molecule() {
    let a = Md17::load(fixture("md17_rmd17.npz")).unwrap();
    let b = Md17::load(fixture("md17_md17.npz")).unwrap(); // z/R/E/F, deflated, E as [frames, 1]
    assert_eq!(a, b);
    assert_eq!((a.frames(), a.atoms()), (300, 6));
    assert_eq!(a.nuclear_charges, [6, 6, 8, 1, 1, 1]);
    assert!(a.energies.iter().all(|e| (-97_000.0..-96_900.0).contains(e)));
}

#[test]
fn standard_split_matches_ponita() {
    let s = standard_split(100_000, 100, 20);
    assert_eq!((s.train.len(), s.valid.len(), s.test.len()), (950, 50, 99_000));
    assert_eq!(&s.valid[..3], &[0, 2000, 4000]);
    assert_eq!(&s.train[..2], &[100, 200]);
    let d = Md17Data {
        path: Some(fixture("md17_rmd17.npz")),
        stride: 10,
        valid_every: 5,
        ..Md17Data::default()
    };
    let sets = d.open().unwrap();
    assert_eq!(
        (sets.train.len(), sets.valid.len(), sets.test.len()),
        (24, 6, 270)
    );
    assert!(sets.force_rms > 1.0 && sets.energy_mean < -96_900.0);
    let first = sets.train.get(0).unwrap();
    assert_eq!(first.types, [5, 5, 7, 0, 0, 0]);
}

#[test]
fn bad_files_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("x.npz");
    std::fs::write(&p, b"not a zip").unwrap();
    let e = Md17::load(&p).unwrap_err().to_string();
    assert!(e.contains("x.npz") && e.contains("zip"), "{e}");
    let e = Md17::load(fixture("nbody/loc_train.npy"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("loc_train.npy"), "{e}");
    let e = Md17Data::default().open().unwrap_err().to_string();
    assert!(e.contains("--data-path"), "{e}");
}
