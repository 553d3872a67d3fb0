//! `eval-ponita nbody-generate` writes the generator's files; evaluation errors are clear.

use std::process::Command;
use zoo_datasets::nbody::{ChargedParticles, generate};
use zoo_datasets::npy::{NpyData, read_npy};

const BIN: &str = env!("CARGO_BIN_EXE_eval-ponita");

#[test]
fn nbody_generate_writes_numpy_files_of_the_generator_shapes() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("nb");
    let o = Command::new(BIN)
        .args([
            "nbody-generate",
            "--seed",
            "43",
            "--num-train",
            "3",
            "--num-valid",
            "1",
            "--num-test",
            "2",
        ])
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let expect = generate(&ChargedParticles::default(), 43, 3, 1, 2);
    for (split, n, trajs) in [
        ("train", 3, &expect.train),
        ("valid", 1, &expect.valid),
        ("test", 2, &expect.test),
    ] {
        let loc = read_npy(out.join(format!("loc_{split}.npy"))).unwrap();
        assert_eq!(loc.shape, [n, 49, 3, 5]);
        assert!(matches!(loc.data, NpyData::F64(_)));
        assert_eq!(
            read_npy(out.join(format!("vel_{split}.npy"))).unwrap().shape,
            [n, 49, 3, 5]
        );
        assert_eq!(
            read_npy(out.join(format!("edges_{split}.npy"))).unwrap().shape,
            [n, 5, 5]
        );
        let charges = read_npy(out.join(format!("charges_{split}.npy"))).unwrap();
        assert_eq!(charges.shape, [n, 5, 1]);
        let want: Vec<f64> = trajs.iter().flat_map(|t| t.charges.clone()).collect();
        assert_eq!(charges.to_f64(), want);
        assert_eq!(&loc.to_f64()[..49 * 15], &trajs[0].loc[..]);
    }
}

#[test]
fn evaluation_without_a_run_says_what_to_give() {
    let o = Command::new(BIN).output().unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--checkpoint"));
}
