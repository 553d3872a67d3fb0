//! The command-line contract of the training binaries: exit codes, errors naming the field,
//! `--json`, refusing to overwrite a run.

#[path = "common/run.rs"]
mod final_metrics;

use final_metrics::metrics;
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_train-mlp");
const TOUR: &str = env!("CARGO_BIN_EXE_tour");

fn run(args: &[&str]) -> Output {
    Command::new(BIN).args(args).output().unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Runs `bin args --quiet` and asserts it fails with exit code 1 and an error containing `needle`.
fn fails_with(bin: &str, args: &[&str], needle: &str) {
    let o = Command::new(bin).args(args).arg("--quiet").output().unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains(needle), "{}", stderr(&o));
}

fn write(dir: &std::path::Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p.to_str().unwrap().to_string()
}

const TINY: &str =
    r#"{"data": {"points_per_class": 40, "test_points_per_class": 20}, "train": {"epochs": 2}}"#;

#[test]
fn bad_config_files_name_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let unknown = write(
        dir.path(),
        "u.json",
        r#"{"train": {"epochs": 2, "bacth_size": 4}}"#,
    );
    let o = run(&["--config", &unknown]);
    assert_eq!(o.status.code(), Some(1));
    let e = stderr(&o);
    assert!(e.contains("u.json") && e.contains("bacth_size"), "{e}");

    let nested = write(dir.path(), "n.toml", "[model]\nhiden = 3\n");
    let o = run(&["--config", &nested]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("`model.hiden`"), "{}", stderr(&o));

    let wrong = write(dir.path(), "w.toml", "[train.optimizer]\nlr = \"fast\"\n");
    let o = run(&["--config", &wrong]);
    assert_eq!(o.status.code(), Some(1));
    let e = stderr(&o);
    assert!(
        e.contains("w.toml") && e.contains("train.optimizer.lr") && e.contains("invalid type"),
        "{e}"
    );

    let bad_value = write(dir.path(), "v.json", r#"{"train": {"epochs": 0}}"#);
    let o = run(&["--config", &bad_value]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("train.epochs"), "{}", stderr(&o));

    let o = run(&["--config", "/nonexistent/x.json"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("/nonexistent/x.json"), "{}", stderr(&o));
}

#[test]
fn usage_errors_exit_1_and_help_exits_0() {
    let o = run(&["--no-such-flag"]);
    assert_eq!(o.status.code(), Some(1));
    let o = run(&["--help"]);
    assert_eq!(o.status.code(), Some(0));
    let help = String::from_utf8_lossy(&o.stdout);
    for flag in [
        "--device",
        "--seed",
        "--out",
        "--config",
        "--json",
        "--epochs",
        "--resume",
        "--devices",
    ] {
        assert!(help.contains(flag), "--help lacks {flag}");
    }
    #[cfg(not(feature = "cuda"))]
    {
        let o = run(&["--device", "cuda"]);
        assert_eq!(o.status.code(), Some(1));
        assert!(stderr(&o).contains("--features cuda"), "{}", stderr(&o));
    }
}

#[test]
fn json_output_resume_guard_and_data_parallel_flag() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = write(dir.path(), "tiny.json", TINY);
    let out = dir.path().join("run");
    let o = run(&[
        "--config",
        &cfg,
        "--out",
        out.to_str().unwrap(),
        "--json",
        "--quiet",
        "--devices",
        "cpu,cpu",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let stdout = String::from_utf8_lossy(&o.stdout);
    let last: serde_json::Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    assert_eq!(last["epochs"], 2);
    assert!(last["valid_accuracy"].as_f64().unwrap() >= 0.0);
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("run.json")).unwrap()).unwrap();
    assert_eq!(manifest["family"], "mlp");
    assert_eq!(manifest["config"]["data"]["points_per_class"], 40);

    // A second fresh run into the same directory would mix runs: refused.
    let o = run(&["--config", &cfg, "--out", out.to_str().unwrap(), "--quiet"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("--resume"), "{}", stderr(&o));
    // Resuming may extend the run but not change its configuration.
    let o = run(&["--resume", out.to_str().unwrap(), "--lr", "0.5"]);
    assert_eq!(o.status.code(), Some(1));
    let o = run(&[
        "--resume",
        out.to_str().unwrap(),
        "--epochs",
        "3",
        "--quiet",
        "--json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let last: serde_json::Value =
        serde_json::from_str(String::from_utf8_lossy(&o.stdout).lines().last().unwrap()).unwrap();
    assert_eq!(last["epochs"], 3);
}

#[test]
fn tour_runs_the_loop_end_to_end() {
    // The MLP, and YOLOv9's entry (it evaluates the embedded detector, no training): the image
    // families' tour entries train for minutes; their binaries are exercised on tiny data in
    // tests/families.rs.
    let o = Command::new(TOUR)
        .args(["--quiet", "--json", "--only", "mlp,yolov9"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let stdout = String::from_utf8_lossy(&o.stdout);
    let rows: serde_json::Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    let row = |family: &str| {
        let found = rows.as_array().unwrap().iter().find(|r| r["family"] == family);
        found.unwrap_or_else(|| panic!("no {family} row in {rows}"))
    };
    let mlp = row("mlp");
    assert!(mlp["value"].as_f64().unwrap() > 0.9, "{mlp}");
    // The committed detector on 64 unseen images: mAP@.5:.95 0.785 (2026-12-07); chance is 0.
    let yolo = row("yolov9");
    let map = yolo["value"].as_f64().unwrap();
    assert!(map.is_finite() && map > 0.7, "{yolo}");
    let o = Command::new(TOUR).args(["--only", "nope"]).output().unwrap();
    assert_eq!(o.status.code(), Some(1));
}

const ARANYANI: &str = env!("CARGO_BIN_EXE_train-aranyani");

#[test]
fn aranyani_sweeps_csv_files_and_refuses_bad_rows() {
    let dir = tempfile::tempdir().unwrap();
    let small = write(
        dir.path(),
        "s.json",
        r#"{"synthetic": {"train": 3000, "test": 500}}"#,
    );
    let out = dir.path().join("sweep");
    let o = Command::new(ARANYANI)
        .args([
            "--config",
            &small,
            "--sweep",
            "0,10",
            "--out",
            out.to_str().unwrap(),
            "--json",
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let csv = std::fs::read_to_string(out.join("sweep.csv")).unwrap();
    let rows: Vec<Vec<&str>> = csv.lines().skip(1).map(|l| l.split(',').collect()).collect();
    assert_eq!(rows.len(), 2, "{csv}");
    // Column 3 is the stream's DP gap: lambda 10 must close much of lambda 0's gap.
    let dp: Vec<f64> = rows.iter().map(|r| r[3].parse().unwrap()).collect();
    assert!(dp[0] > 0.2 && dp[1] < 0.5 * dp[0], "{csv}");
    assert!(out.join("tradeoff.png").is_file() && out.join("run.json").is_file());

    // A CSV of the user's own, then the same file with a short row.
    let mut text = String::from("income,age,sex\n");
    for i in 0..200 {
        text.push_str(&format!(
            "{},{},{}\n",
            i % 2,
            20 + i % 50,
            if i % 3 == 0 { "F" } else { "M" }
        ));
    }
    let good = write(dir.path(), "good.csv", &text);
    let args = [
        "--dataset",
        "csv",
        "--data-path",
        &good,
        "--label",
        "income",
        "--sensitive",
        "sex=F",
    ];
    let o = Command::new(ARANYANI).args(args).output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    text.push_str("1,33\n");
    let bad = write(dir.path(), "bad.csv", &text);
    let o = Command::new(ARANYANI)
        .args([
            "--dataset",
            "csv",
            "--data-path",
            &bad,
            "--label",
            "income",
            "--sensitive",
            "sex=F",
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("bad.csv, line 202"), "{}", stderr(&o));
    let o = Command::new(ARANYANI)
        .args([
            "--dataset",
            "csv",
            "--data-path",
            &good,
            "--label",
            "y",
            "--sensitive",
            "sex=F",
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("no column `y`"), "{}", stderr(&o));
    // NaN and infinities in a numeric column are errors naming the file, line and field.
    for (bad_value, name) in [("NaN", "nan.csv"), ("inf", "inf.csv"), ("-Infinity", "ninf.csv")] {
        let clean = text.strip_suffix("1,33\n").unwrap();
        let with = clean.replacen("\n1,21,M\n", &format!("\n1,{bad_value},M\n"), 1);
        assert_ne!(with, clean);
        let path = write(dir.path(), name, &with);
        let o = Command::new(ARANYANI)
            .args([
                "--dataset",
                "csv",
                "--data-path",
                &path,
                "--label",
                "income",
                "--sensitive",
                "sex=F",
            ])
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(1), "{bad_value}");
        let e = stderr(&o);
        assert!(
            e.contains(&format!(
                "{name}, line 3, field `age`: not a finite number: `{bad_value}`"
            )),
            "{e}"
        );
    }
}

/// An --out that cannot be created (a path under a file: root ignores permissions) is an error
/// naming it, with exit code 1, from every trainer before any training (with their default
/// configurations, some of which train for many minutes), and nothing is left behind.
#[test]
fn an_unwritable_out_fails_first_in_every_trainer() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "a-file", "x");
    let out = format!("{file}/run");
    for bin in [
        env!("CARGO_BIN_EXE_train-mlp"),
        env!("CARGO_BIN_EXE_train-evonorm"),
        env!("CARGO_BIN_EXE_train-ebv"),
        env!("CARGO_BIN_EXE_train-ponita"),
        env!("CARGO_BIN_EXE_train-clip"),
        env!("CARGO_BIN_EXE_train-promptsrc"),
        env!("CARGO_BIN_EXE_train-yolov9"),
        env!("CARGO_BIN_EXE_train-aranyani"),
    ] {
        let o = Command::new(bin)
            .args(["--out", &out, "--quiet"])
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(1), "{bin}: {}", stderr(&o));
        let e = stderr(&o);
        assert!(
            e.starts_with("error: ") && e.contains(&out) && e.contains("Not a directory"),
            "{bin}: {e}"
        );
        assert!(
            o.stdout.is_empty(),
            "{bin} reported results: {}",
            String::from_utf8_lossy(&o.stdout)
        );
    }
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "x");
}

/// A run killed before its first checkpoint (only run.json written) resumes by starting over and
/// ends as the uninterrupted run did; a run whose checkpoints are all damaged is not silently
/// retrained over them: `--resume` is an error naming the folder.
#[test]
fn resume_without_checkpoints_starts_over_and_damaged_ones_refuse() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = write(dir.path(), "tiny.json", TINY);
    let out = dir.path().join("run");
    let want = metrics(BIN, &["--config", &cfg, "--out", out.to_str().unwrap()]);
    let checkpoints = out.join("checkpoints");
    let kept: Vec<_> = std::fs::read_dir(&checkpoints)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    assert!(!kept.is_empty());
    // Damaged: every checkpoint's state file unreadable.
    for c in &kept {
        std::fs::write(c.join("state.json"), "{").unwrap();
    }
    fails_with(
        BIN,
        &["--resume", out.to_str().unwrap()],
        "no complete checkpoint",
    );
    // Never written: only run.json (and a log) remain of the run.
    std::fs::remove_dir_all(&checkpoints).unwrap();
    for f in ["model.bpk", "best.bpk", "metrics.json"] {
        let _ = std::fs::remove_file(out.join(f));
    }
    assert_eq!(metrics(BIN, &["--resume", out.to_str().unwrap()]), want);
    let log = std::fs::read_to_string(out.join("log.jsonl")).unwrap();
    assert!(log.contains(r#""event":"resume","step":0"#), "{log}");
}

/// Empty datasets are errors naming the folder, with exit code 1: a YOLO data YAML whose image
/// folders are empty, and an image-folder classification dataset whose class folder is empty.
#[test]
fn empty_datasets_are_errors_naming_the_folder() {
    let dir = tempfile::tempdir().unwrap();
    for split in ["images/train", "images/val", "cls/train/cat", "cls/test/cat"] {
        std::fs::create_dir_all(dir.path().join(split)).unwrap();
    }
    let yaml = write(
        dir.path(),
        "data.yaml",
        "train: images/train\nval: images/val\nnames: [cat]\n",
    );
    fails_with(
        env!("CARGO_BIN_EXE_train-yolov9"),
        &["--data", &yaml],
        "images/train: no .jpg, .jpeg or .png images",
    );
    let root = dir.path().join("cls");
    let cfg = write(
        dir.path(),
        "folder.json",
        &format!(
            r#"{{"data": {{"source": {{"folder": {{"path": "{}", "size": 32}}}}}}}}"#,
            root.display()
        ),
    );
    fails_with(
        env!("CARGO_BIN_EXE_train-evonorm"),
        &["--config", &cfg],
        "train/cat: class folder holds no",
    );
}
