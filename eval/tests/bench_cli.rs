//! `bench`'s smoke test: tiny iteration counts, the JSON contract (no timing assertions).

use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_bench");

fn bench(args: &[&str]) -> (bool, String, String) {
    let o = Command::new(BIN).args(args).output().unwrap();
    (
        o.status.success(),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[test]
fn prints_one_json_object_per_run() {
    for (model, mode, batch, size) in [
        ("evonorm-s0", "train", "2", "8"),
        ("resnet26", "infer", "1", "32"),
        ("resnet26", "train", "1", "32"),
        ("resnet26-evonorm-s0a", "train", "1", "32"),
        ("resnet26-gn", "infer", "1", "32"),
        ("resnet26-fused", "infer", "1", "32"),
        ("ebv-head", "train", "4", "16"),
        ("clip-text-tiny", "infer", "2", "77"),
        ("ebv-generator", "train", "300", "8"),
        ("aranyani-fair", "train", "1", "5"),
        ("promptsrc-tiny", "train", "2", "3"),
        ("promptsrc-tiny", "infer", "2", "3"),
        ("yolov9-t", "train", "1", "32"),
    ] {
        let (ok, out, err) = bench(&[
            "--model", model, "--mode", mode, "--batch", batch, "--size", size, "--iters", "2", "--warmup",
            "1", "--json",
        ]);
        assert!(ok, "{model} {mode}: {err}");
        let r: serde_json::Value = serde_json::from_str(out.lines().last().unwrap()).unwrap();
        assert_eq!(r["model"], model);
        assert_eq!(r["iterations"].as_u64(), Some(2));
        let (p10, med, p90) = (
            r["p10_ms"].as_f64().unwrap(),
            r["median_ms"].as_f64().unwrap(),
            r["p90_ms"].as_f64().unwrap(),
        );
        assert!(p10 <= med && med <= p90 && med > 0.0, "{r}");
        assert!(r["items_per_second"].as_f64().unwrap() > 0.0);
    }
    let (ok, _, err) = bench(&["--model", "gelan-t-fused", "--mode", "train", "--size", "32"]);
    assert!(!ok && err.contains("no train step"), "{err}");
    let (ok, _, err) = bench(&["--model", "resnet26-fused", "--mode", "train", "--size", "32"]);
    assert!(!ok && err.contains("no train step"), "{err}");
    let (ok, _, err) = bench(&["--model", "resnet26-ln"]);
    assert!(!ok && err.contains("evonorm-s2a"), "{err}");
    let (ok, _, err) = bench(&["--model", "aranyani", "--mode", "train", "--batch", "2"]);
    assert!(!ok && err.contains("--batch 1"), "{err}");
    let (ok, _, err) = bench(&["--model", "nope"]);
    assert!(!ok && err.contains("promptsrc-vit-b16"), "{err}");
}
