//! PONITA through `train-ponita` on tiny data: the N-body run logs test MSE beside the baselines
//! and its weights evaluate to the same number; the MD17 run learns on the committed fixture;
//! bad inputs are clear errors.

use burn::prelude::*;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use zoo_eval::ponita::{NBodyModel, evaluate_nbody};

const TRAIN_PONITA: &str = env!("CARGO_BIN_EXE_train-ponita");

fn run(args: &[&str]) -> Output {
    Command::new(TRAIN_PONITA).args(args).output().unwrap()
}

fn ok(o: &Output) -> serde_json::Value {
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    serde_json::from_str(String::from_utf8_lossy(&o.stdout).lines().last().unwrap()).unwrap()
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p.to_str().unwrap().to_string()
}

fn fixture(name: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../weights/fixtures")
        .join(name)
        .to_str()
        .unwrap()
        .to_string()
}

#[test]
fn nbody_run_beats_no_motion_and_evaluates_back() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = write(
        dir.path(),
        "tiny.json",
        r#"{"model": {"hidden": 16, "basis_dim": 16, "layers": 2, "num_ori": 8},
            "data": {"nbody": {"num_train": 100, "num_valid": 20, "num_test": 30, "max_train": 100}},
            "train": {"epochs": 4, "batch_size": 10, "valid_every": 2, "optimizer": {"lr": 0.003}}}"#,
    );
    let out = dir.path().join("run");
    let m = ok(&run(&[
        "--config",
        &cfg,
        "--out",
        out.to_str().unwrap(),
        "--json",
        "--quiet",
    ]));
    let test_mse = m["test_mse"].as_f64().unwrap();
    let no_motion = m["test_mse_no_motion"].as_f64().unwrap();
    assert!(
        test_mse < 0.8 * no_motion,
        "test MSE {test_mse} vs no motion {no_motion}"
    );
    // The logged history holds test MSE at each validation (epochs 2 and 4).
    let log = std::fs::read_to_string(out.join("log.jsonl")).unwrap();
    assert_eq!(log.matches("\"test_mse\"").count(), 2, "{log}");

    // The saved final weights give the same test MSE through the evaluation library.
    let device = Device::flex();
    let setup: zoo_eval::ponita::PonitaSetup = zoo_weights::run::read_manifest(&out, "ponita").unwrap();
    let model = zoo_weights::load_module(
        NBodyModel::init(&setup.model, &device).unwrap(),
        out.join("model.bpk"),
    )
    .unwrap();
    let sets = setup.data.nbody.open().unwrap();
    let e = evaluate_nbody(&model, &sets.test, 7, &device).unwrap();
    assert!(
        (e.model.mse() - test_mse).abs() < 1e-5 * test_mse,
        "{} vs {test_mse}",
        e.model.mse()
    );
    assert!((e.no_motion.mse() - no_motion).abs() < 1e-9);
}

#[test]
fn md17_run_learns_forces_on_the_fixture() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = write(
        dir.path(),
        "md17.json",
        r#"{"model": {"hidden": 32, "basis_dim": 32, "layers": 3, "num_ori": 12, "layer_scale": 1.0},
            "data": {"dataset": "md17", "md17": {"stride": 2, "valid_every": 5}},
            "train": {"epochs": 8, "batch_size": 8, "optimizer": {"lr": 0.003}}}"#,
    );
    let out = dir.path().join("md17");
    let fx = fixture("md17_md17.npz");
    ok(&run(&[
        "--config",
        &cfg,
        "--data-path",
        &fx,
        "--out",
        out.to_str().unwrap(),
        "--json",
        "--quiet",
    ]));
    let metrics: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("metrics.json")).unwrap()).unwrap();
    let history = metrics["history"].as_array().unwrap();
    let force = |e: &serde_json::Value| e["metrics"]["train_force_mse"].as_f64().unwrap();
    let (first, last) = (force(&history[0]), force(history.last().unwrap()));
    assert!(last < 0.85 * first, "train force MSE {first} -> {last}");
}

#[test]
fn bad_inputs_are_clear_errors() {
    let o = run(&["--dataset", "md17"]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("--data-path"));
    let o = run(&["--data-path", "/nonexistent/dir", "--epochs", "1"]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("/nonexistent/dir/loc_train.npy"));
    let o = run(&["--num-ori", "7", "--grid", "icosahedron"]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("12 orientations"));
    let o = run(&["--dataset", "qm9"]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("expected nbody or md17"));
}
