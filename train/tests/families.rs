//! The image-classification families through their binaries on tiny generated data: training
//! writes a run that the matching eval binary reads back with the same numbers; bad inputs are
//! clear errors.

use std::path::Path;
use std::process::{Command, Output};

const TRAIN_EVONORM: &str = env!("CARGO_BIN_EXE_train-evonorm");
const TRAIN_EBV: &str = env!("CARGO_BIN_EXE_train-ebv");
const GENERATE_EBV: &str = env!("CARGO_BIN_EXE_generate-ebv");

fn run(bin: &str, args: &[&str]) -> Output {
    Command::new(bin).args(args).output().unwrap()
}

fn ok(o: &Output) -> serde_json::Value {
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    serde_json::from_str(String::from_utf8_lossy(&o.stdout).lines().last().unwrap()).unwrap()
}

fn tiny_config(dir: &Path) -> String {
    let p = dir.join("tiny.json");
    std::fs::write(
        &p,
        r#"{"data": {"source": {"shapes": {"train": 40, "test": 20}}}, "train": {"epochs": 1, "batch_size": 8}}"#,
    )
    .unwrap();
    p.to_str().unwrap().to_string()
}

#[test]
fn evonorm_trains_every_norm_kind_and_refuses_bad_groups() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = tiny_config(dir.path());
    for norm in ["bn", "gn", "evonorm-b0", "evonorm-s0"] {
        for arch in ["resnet18", "resnetv2-18"] {
            let out = dir.path().join(format!("{norm}-{arch}"));
            let m = ok(&run(
                TRAIN_EVONORM,
                &[
                    "--config",
                    &cfg,
                    "--norm",
                    norm,
                    "--arch",
                    arch,
                    "--width",
                    "4",
                    "--groups",
                    "2",
                    "--quiet",
                    "--json",
                    "--out",
                    out.to_str().unwrap(),
                ],
            ));
            assert_eq!(m["epochs"], 1);
            let manifest: serde_json::Value =
                serde_json::from_slice(&std::fs::read(out.join("run.json")).unwrap()).unwrap();
            assert_eq!(manifest["config"]["model"]["norm"]["kind"], norm);
        }
    }
    // 4 channels in 3 EvoNorm groups under the timm convention: refused before training.
    let o = run(
        TRAIN_EVONORM,
        &[
            "--config",
            &cfg,
            "--norm",
            "evonorm-s0",
            "--width",
            "4",
            "--groups",
            "3",
        ],
    );
    assert_eq!(o.status.code(), Some(1));
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(e.contains("4 channels") && e.contains("3 groups"), "{e}");
    // The TF convention reduces the group count instead.
    ok(&run(
        TRAIN_EVONORM,
        &[
            "--config",
            &cfg,
            "--norm",
            "evonorm-s0",
            "--width",
            "4",
            "--groups",
            "3",
            "--convention",
            "tf",
            "--quiet",
            "--json",
        ],
    ));
}

#[test]
fn ebv_generate_train_and_fc_baseline() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = tiny_config(dir.path());
    let basis = dir.path().join("basis.safetensors");
    let g = ok(&run(
        GENERATE_EBV,
        &[
            "--classes",
            "10",
            "--dim",
            "6",
            "--alpha",
            "0.5",
            "--out",
            basis.to_str().unwrap(),
            "--json",
        ],
    ));
    assert_eq!(g["method"], "sgd");
    assert!(g["max_cos"].as_f64().unwrap() <= 0.5001);
    assert!(g["max_cos"].as_f64().unwrap() >= g["welch_bound"].as_f64().unwrap());
    let o = run(GENERATE_EBV, &["--classes", "10", "--dim", "6", "--alpha", "0.1"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("Welch bound"));

    let out = dir.path().join("ebv");
    let m = ok(&run(
        TRAIN_EBV,
        &[
            "--config",
            &cfg,
            "--width",
            "4",
            "--groups",
            "2",
            "--ebv-dim",
            "6",
            "--basis",
            basis.to_str().unwrap(),
            "--quiet",
            "--json",
            "--out",
            out.to_str().unwrap(),
        ],
    ));
    assert_eq!(m["epochs"], 1);
    let m = ok(&run(
        TRAIN_EBV,
        &[
            "--config", &cfg, "--width", "4", "--groups", "2", "--head", "fc", "--quiet", "--json",
        ],
    ));
    assert_eq!(m["epochs"], 1);
    // A basis of the wrong shape names the file and both shapes.
    let o = run(
        TRAIN_EBV,
        &[
            "--config",
            &cfg,
            "--width",
            "4",
            "--ebv-dim",
            "8",
            "--basis",
            basis.to_str().unwrap(),
        ],
    );
    assert_eq!(o.status.code(), Some(1));
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(
        e.contains("basis.safetensors") && e.contains("10 x 6") && e.contains("10 classes x 8"),
        "{e}"
    );
}

/// What `eval-evonorm --checkpoint DIR` computes, through the same library calls.
fn evaluate_run(dir: &Path, family: &str) -> f64 {
    use zoo_eval::cli::EvalArgs;
    use zoo_eval::image_cls::evaluate_classifier;
    let args = EvalArgs {
        checkpoint: Some(dir.to_path_buf()),
        ..Default::default()
    };
    let device = burn::tensor::Device::flex();
    match family {
        "evonorm" => {
            let (mut setup, weights): (zoo_eval::evonorm::EvoNormSetup, _) = args.setup(family).unwrap();
            setup.resolve().unwrap();
            let model = zoo_weights::load_module(setup.model.init(&device).unwrap(), &weights)
                .unwrap()
                .fuse();
            let splits = setup.data.open().unwrap();
            evaluate_classifier(
                |x| model.forward(x),
                splits.test.as_ref(),
                &setup.data.normalize,
                &device,
                7,
                10,
            )
            .unwrap()
            .accuracy()
        }
        _ => {
            let (mut setup, weights): (zoo_eval::ebv::EbvSetup, _) = args.setup(family).unwrap();
            setup.resolve().unwrap();
            let model = zoo_weights::load_module(setup.template(&device).unwrap(), &weights)
                .unwrap()
                .fuse();
            let splits = setup.data.open().unwrap();
            evaluate_classifier(
                |x| model.scores(x),
                splits.test.as_ref(),
                &setup.data.normalize,
                &device,
                7,
                10,
            )
            .unwrap()
            .accuracy()
        }
    }
}

#[test]
fn evaluation_of_a_run_reproduces_its_final_validation() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("c.json");
    std::fs::write(&p, r#"{"data": {"source": {"shapes": {"train": 60, "test": 30}}}, "train": {"epochs": 2, "batch_size": 16}}"#).unwrap();
    let cfg = p.to_str().unwrap();
    for (bin, family) in [(TRAIN_EVONORM, "evonorm"), (TRAIN_EBV, "ebv")] {
        let out = dir.path().join(family);
        let m = ok(&run(
            bin,
            &[
                "--config",
                cfg,
                "--width",
                "4",
                "--groups",
                "2",
                "--quiet",
                "--json",
                "--out",
                out.to_str().unwrap(),
            ],
        ));
        let trained = m["valid_accuracy"].as_f64().unwrap();
        let evaluated = evaluate_run(&out, family);
        assert!(
            (trained - evaluated).abs() < 1e-9,
            "{family}: training reported {trained}, evaluation of the saved run gives {evaluated}"
        );
    }
}
