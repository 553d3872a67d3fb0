//! `eval-mlp` against a run directory and a bare weight file, and its errors.

use burn::tensor::Device;
use std::process::{Command, Output};
use zoo_eval::mlp::MlpSetup;
use zoo_mlp::MlpConfig;

const BIN: &str = env!("CARGO_BIN_EXE_eval-mlp");

fn run(args: &[&str]) -> Output {
    Command::new(BIN).args(args).output().unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn last_json(o: &Output) -> serde_json::Value {
    let stdout = String::from_utf8_lossy(&o.stdout);
    serde_json::from_str(stdout.lines().last().unwrap()).unwrap()
}

#[test]
fn evaluates_a_run_directory_and_a_weight_file() {
    let dir = tempfile::tempdir().unwrap();
    let device = Device::flex();
    let model = MlpConfig::new().with_hidden(8).init(&device);
    let setup = MlpSetup {
        model: MlpConfig::new().with_hidden(8),
        ..Default::default()
    };
    zoo_weights::run::write_manifest(dir.path(), "mlp", &setup).unwrap();
    zoo_weights::save_module(&model, dir.path().join("model.bpk")).unwrap();

    let o = run(&["--checkpoint", dir.path().to_str().unwrap(), "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let m = last_json(&o);
    // An untrained 3-class model: accuracy is a probability, top-2 at least top-1.
    let acc = m["accuracy"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&acc));
    assert!(m["top2"].as_f64().unwrap() >= acc);
    assert_eq!(m["samples"], 300);
    assert_eq!(m["per_class_accuracy"].as_array().unwrap().len(), 3);

    // The same weights through --weights and a config file give the same numbers.
    let cfg = dir.path().join("setup.toml");
    std::fs::write(&cfg, "[model]\nhidden = 8\n").unwrap();
    let w = dir.path().join("model.bpk");
    let o2 = run(&[
        "--weights",
        w.to_str().unwrap(),
        "--config",
        cfg.to_str().unwrap(),
        "--json",
    ]);
    assert!(o2.status.success(), "{}", stderr(&o2));
    assert_eq!(last_json(&o2)["accuracy"], m["accuracy"]);
}

#[test]
fn wrong_inputs_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    // Nothing given.
    let o = run(&[]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("--checkpoint"), "{}", stderr(&o));
    // Not a run directory.
    let o = run(&["--checkpoint", dir.path().to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("run.json"), "{}", stderr(&o));
    // Weights of another shape.
    let device = Device::flex();
    let w = dir.path().join("wide.bpk");
    zoo_weights::save_module(&MlpConfig::new().with_hidden(16).init(&device), &w).unwrap();
    let o = run(&["--weights", w.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    let e = stderr(&o);
    assert!(e.contains("wide.bpk") && e.contains("do not fit"), "{e}");
    // A file that is not a weight file.
    let junk = dir.path().join("junk.bpk");
    std::fs::write(&junk, b"not a burnpack file").unwrap();
    let o = run(&["--weights", junk.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("junk.bpk"), "{}", stderr(&o));
    // A run of another family.
    let other = dir.path().join("other");
    zoo_weights::run::write_manifest(&other, "yolov9", &serde_json::json!({})).unwrap();
    let o = run(&["--checkpoint", other.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("`yolov9` run"), "{}", stderr(&o));
}

#[test]
fn eval_aranyani_scores_a_saved_forest() {
    use zoo_eval::aranyani::{AranyaniRun, evaluate, forest_file, load};
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = AranyaniRun::default();
    cfg.synthetic.train = 50;
    cfg.synthetic.test = 400;
    zoo_weights::run::write_manifest(dir.path(), "aranyani", &cfg).unwrap();
    let forest = zoo_aranyani::ForestConfig {
        features: cfg.synthetic.dim,
        ..Default::default()
    }
    .init(3)
    .unwrap();
    std::fs::write(
        dir.path().join(forest_file(0.0, 0)),
        serde_json::to_string(&forest).unwrap(),
    )
    .unwrap();
    let bin = env!("CARGO_BIN_EXE_eval-aranyani");
    let d = dir.path().to_str().unwrap();
    let o = Command::new(bin)
        .args(["--checkpoint", d, "--json"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let m = last_json(&o);
    let (soft, hard) = evaluate(&forest, &load(&cfg).unwrap().test).unwrap();
    assert_eq!(m["instances"], 400);
    assert!((m["accuracy"].as_f64().unwrap() - soft.accuracy()).abs() < 1e-12);
    assert!((m["dp_gap_hard"].as_f64().unwrap() - hard.dp_gap()).abs() < 1e-12);
    // A lambda the run does not have: the error lists what it has.
    let o = Command::new(bin)
        .args(["--checkpoint", d, "--lambda", "3"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("forest-lambda3-seed0.json") && stderr(&o).contains("lambdas [0.0]"),
        "{}",
        stderr(&o)
    );
}
