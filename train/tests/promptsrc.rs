//! PromptSRC through `train-promptsrc` on a small base-to-novel draw of the captioned shapes with
//! the committed shapes CLIP: the objective falls, the run reports base / novel / HM, the saved
//! (Gaussian-aggregated) prompts give those numbers back, and an interrupted run resumed from
//! its checkpoint ends exactly where an uninterrupted one does.

mod common;

use burn::prelude::*;
use std::path::Path;
use std::process::{Command, Output};
use zoo_clip::Tokenizer;
use zoo_eval::promptsrc::{FAMILY, PromptSrcSetup, RunFile, evaluate_task, harmonic_mean};

const TRAIN: &str = env!("CARGO_BIN_EXE_train-promptsrc");

const CONFIG: &str = r#"{"setup": {"data": {"source": "shapes", "seed": 7, "train_per_class": 12,
                                           "val_per_class": 2, "test_per_class": 6},
                                  "shots": 4, "gpa": {"mu": 3.0, "sigma": 1.0}},
                         "train": {"epochs": 4, "valid_every": 2}}"#;

fn ok(o: &Output) -> serde_json::Value {
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    serde_json::from_str(String::from_utf8_lossy(&o.stdout).lines().last().unwrap()).unwrap()
}

fn train(cfg: &Path, out: &Path, extra: &[&str]) -> Output {
    Command::new(TRAIN)
        .args([
            "--config",
            cfg.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--json",
            "--quiet",
        ])
        .args(extra)
        .output()
        .unwrap()
}

#[test]
fn base_to_novel_run_learns_reports_and_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("small.json");
    std::fs::write(&cfg, CONFIG).unwrap();
    let out = dir.path().join("run");
    let m = ok(&train(&cfg, &out, &[]));
    // 15 base classes x 4 shots, batch 4: 15 steps per epoch.
    assert_eq!(m["steps"].as_u64(), Some(60));
    let (base, novel) = (
        m["test_base_accuracy"].as_f64().unwrap(),
        m["test_novel_accuracy"].as_f64().unwrap(),
    );
    assert_eq!(m["test_base_classes"].as_u64(), Some(15));
    assert!((m["test_hm"].as_f64().unwrap() - harmonic_mean(base, novel)).abs() < 1e-12);
    // The objective falls from the first epoch (warmup at 1e-5) to the last.
    let log: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("metrics.json")).unwrap()).unwrap();
    // Dassl's schedule, per epoch: a constant warmup epoch at 1e-5, then cosine from 0.0025 with
    // T_max = the run's epochs, starting after the warmup.
    let lrs: Vec<f64> = (0..4)
        .map(|e| log["history"][e]["lr"].as_f64().unwrap())
        .collect();
    let cos = |e: f64| 0.0025 * (1.0 + (std::f64::consts::PI * e / 4.0).cos()) / 2.0;
    for (got, want) in lrs.iter().zip([1e-5, cos(0.0), cos(1.0), cos(2.0)]) {
        assert!((got - want).abs() < 1e-12, "lr per epoch {lrs:?}");
    }
    let first = log["history"][0]["metrics"]["train_loss"].as_f64().unwrap();
    let last = m["train_loss"].as_f64().unwrap();
    assert!(last < 0.9 * first, "train loss {first} -> {last}");
    // The prompts train: the cross-entropy part halves and the accuracy on the (augmented)
    // shots rises (measured: 1.228 -> 0.587, 0.700 -> 0.833 from the warmup epoch, where the
    // prompts are still at their random initial values, to the last); prompts that receive no
    // gradient leave both where they start. (The self-regulating terms alone also pull the
    // prompts from their initial values towards zero-shot CLIP: with the cross-entropy
    // detached this run still passes, 1.679 -> 0.658. At 60 steps nothing measurable here
    // separates the two; the 20-epoch experiment on the PromptSRC page does.)
    let at = |e: usize, key: &str| log["history"][e]["metrics"][key].as_f64().unwrap();
    let (ce0, ce3) = (at(0, "train_ce"), at(3, "train_ce"));
    let (acc0, acc3) = (at(0, "train_accuracy"), at(3, "train_accuracy"));
    assert!(ce3 < 0.6 * ce0, "training cross-entropy {ce0} -> {ce3}");
    assert!(acc3 >= acc0 + 0.1, "training accuracy {acc0} -> {acc3}");

    // The saved prompts give the reported numbers back (what `eval-promptsrc --checkpoint` runs).
    let setup: PromptSrcSetup = zoo_weights::run::read_manifest::<RunFile>(&out, FAMILY)
        .unwrap()
        .setup;
    let device = Device::flex();
    let clip = setup.load_clip(&device).unwrap();
    let tokenizer = Tokenizer::new();
    let model = setup.prompts.init(clip.clone(), &tokenizer, &device).unwrap();
    let model = zoo_weights::bpk::load_module(model, zoo_weights::run::weights_path(&out).unwrap()).unwrap();
    let task = setup.task(1).unwrap();
    let again = evaluate_task(Some(&model), &clip, &tokenizer, "", &task, 100, &device).unwrap();
    assert_eq!(again["base_accuracy"], m["test_base_accuracy"]);
    assert_eq!(again["novel_accuracy"], m["test_novel_accuracy"]);

    // Against zero-shot CLIP with its hand-written prompt on the same test images: this short
    // run (60 steps, the aggregate centred on epoch 3) keeps base where zero-shot has it and
    // loses a few novel points (measured: base 0.815 against 0.815, novel 0.807 against 0.864;
    // the 20-epoch default gains 3 base points and loses 3 novel ones, see the PromptSRC
    // page). A model that breaks CLIP's features falls far below both.
    let template = setup.zero_shot_template();
    let zs = evaluate_task(None, &clip, &tokenizer, &template, &task, 100, &device).unwrap();
    let (zs_base, zs_novel) = (
        zs["base_accuracy"].as_f64().unwrap(),
        zs["novel_accuracy"].as_f64().unwrap(),
    );
    eprintln!("base {base} (zero-shot {zs_base}), novel {novel} (zero-shot {zs_novel})");
    assert!(base >= zs_base - 0.03, "base {base} vs zero-shot {zs_base}");
    assert!(novel >= zs_novel - 0.08, "novel {novel} vs zero-shot {zs_novel}");

    // Interrupted after 25 steps, then resumed: the same final prompts and accuracies.
    let out2 = dir.path().join("resumed");
    let o = train(&cfg, &out2, &["--max-steps", "25"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let r = ok(&Command::new(TRAIN)
        .args(["--resume", out2.to_str().unwrap(), "--json", "--quiet"])
        .output()
        .unwrap());
    assert_eq!(r["steps"].as_u64(), Some(60));
    assert_eq!(r["test_base_accuracy"], m["test_base_accuracy"]);
    assert_eq!(r["test_novel_accuracy"], m["test_novel_accuracy"]);
    assert_eq!(r["train_loss"], m["train_loss"]);
}

#[test]
fn bad_settings_are_refused_with_the_field_named() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("bad.json");
    std::fs::write(&cfg, r#"{"setup": {"prompts": {"text_depth": 9}}}"#).unwrap();
    let o = train(&cfg, &dir.path().join("a"), &[]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success() && err.contains("text_depth is 9"), "{err}");
    std::fs::write(&cfg, r#"{"train": {"average": {"weights": [1.0]}}}"#).unwrap();
    let o = train(&cfg, &dir.path().join("b"), &[]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success() && err.contains("set `setup.gpa`"), "{err}");
    // An unknown field is named.
    std::fs::write(&cfg, r#"{"setup": {"shot": 4}}"#).unwrap();
    let o = train(&cfg, &dir.path().join("c"), &[]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success() && err.contains("setup.shot"), "{err}");
    // An output directory that cannot be created.
    let o = Command::new(TRAIN)
        .args(["--out", "/proc/burnzoo/run", "--quiet"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success() && err.contains("/proc/burnzoo/run"), "{err}");
    // A Dassl dataset whose split file names a missing image.
    let root = dir.path().join("data");
    std::fs::create_dir_all(root.join("oxford_pets/images")).unwrap();
    std::fs::write(
        root.join("oxford_pets/split_zhou_OxfordPets.json"),
        r#"{"train": [["abyssinian_1.jpg", 0, "abyssinian"]], "val": [], "test": []}"#,
    )
    .unwrap();
    let o = Command::new(TRAIN)
        .args([
            "--dassl",
            "OxfordPets",
            "--data-root",
            root.to_str().unwrap(),
            "--quiet",
        ])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        !o.status.success() && err.contains("split_zhou_OxfordPets.json") && err.contains("abyssinian_1.jpg"),
        "{err}"
    );
}

#[test]
fn a_set_smaller_than_the_batch_still_trains() {
    // Dassl's rule: the last incomplete batch is dropped only when there is a full one.
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("small.json");
    std::fs::write(&cfg, CONFIG).unwrap();
    let m = ok(&train(
        &cfg,
        &dir.path().join("run"),
        &["--shots", "1", "--batch-size", "32", "--epochs", "1"],
    ));
    assert_eq!(m["steps"].as_u64(), Some(1));
}

#[cfg(unix)]
#[test]
fn sigkill_then_resume_matches_the_uninterrupted_run() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("small.json");
    std::fs::write(&cfg, CONFIG).unwrap();
    let (reference, killed) = common::kill::kill_resume_compare(
        TRAIN,
        dir.path(),
        &["--config", cfg.to_str().unwrap(), "--checkpoint-every-steps", "3"],
        common::kill::Marks::default(),
    );
    // The final metrics (test accuracies, loss, steps) agree; so do the aggregated prompts.
    let setup: PromptSrcSetup = zoo_weights::run::read_manifest::<RunFile>(&killed, FAMILY)
        .unwrap()
        .setup;
    let device = Device::flex();
    let clip = setup.load_clip(&device).unwrap();
    let tokenizer = Tokenizer::new();
    let load = |dir: &Path| {
        let model = setup.prompts.init(clip.clone(), &tokenizer, &device).unwrap();
        zoo_weights::bpk::load_module(model, dir.join("model.bpk")).unwrap()
    };
    let d = zoo_train::params::max_abs_diff(&load(&killed), &load(&reference));
    assert_eq!(d, 0.0, "the resumed run's aggregated prompts differ by {d}");
}
