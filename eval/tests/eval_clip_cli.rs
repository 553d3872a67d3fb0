//! `eval-clip`: the tokenizer on stdin, the captioned shapes written as files, zero-shot on an
//! ImageFolder agreeing with the in-memory evaluation of the same images, clear errors.

use std::io::Write;
use std::process::{Command, Stdio};
use zoo_weights::fixture::path;

const BIN: &str = env!("CARGO_BIN_EXE_eval-clip");

fn run(args: &[&str]) -> (bool, String, String) {
    let o = Command::new(BIN).args(args).output().unwrap();
    (
        o.status.success(),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[test]
fn tokenize_prints_open_clip_ids_per_line() {
    let mut child = Command::new(BIN)
        .args(["tokenize", "--context", "6"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all("a photo of a cat\n\nHello   World!! &amp; café\n".as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let lines: Vec<Vec<u32>> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    // open_clip: tokenize(["a photo of a cat"], context_length=6) keeps SOT, 4 ids, then EOT.
    assert_eq!(
        lines,
        vec![
            vec![49406, 320, 1125, 539, 320, 49407],
            vec![49406, 49407],
            vec![49406, 3306, 1002, 748, 261, 49407],
        ]
    );
}

#[test]
fn folder_zero_shot_agrees_with_the_generated_split() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("shapes");
    let (ok, _, err) = run(&["shapes-write", "--out", data.to_str().unwrap()]);
    assert!(ok, "{err}");
    let classes = std::fs::read_dir(&data)
        .unwrap()
        .filter(|e| e.as_ref().unwrap().path().is_dir())
        .count();
    assert_eq!(classes, 30);
    let tsv = std::fs::read_to_string(data.join("captions.tsv")).unwrap();
    assert_eq!(tsv.lines().count(), 3000);
    // The shapes' templates, as a file.
    let templates = dir.path().join("templates.txt");
    std::fs::write(
        &templates,
        "# the captions' phrasings\na {}.\na photo of a {}.\na drawing of a {}.\n",
    )
    .unwrap();
    let w = path("clip_tiny_weights.safetensors");
    let base = ["--model", "tiny", "--weights", w.to_str().unwrap(), "--json"];
    let (ok, out, err) = run(&base);
    assert!(ok, "{err}");
    let generated: serde_json::Value = serde_json::from_str(out.lines().last().unwrap()).unwrap();
    let (ok, out, err) = run(&[
        &base[..],
        &[
            "--data",
            data.to_str().unwrap(),
            "--templates",
            templates.to_str().unwrap(),
        ],
    ]
    .concat());
    assert!(ok, "{err}");
    let folder: serde_json::Value = serde_json::from_str(out.lines().last().unwrap()).unwrap();
    let n_seen = generated["n_seen"].as_f64().unwrap();
    let n_held = generated["n_held_apart"].as_f64().unwrap();
    let overall = (generated["seen"].as_f64().unwrap() * n_seen
        + generated["held_apart"].as_f64().unwrap() * n_held)
        / (n_seen + n_held);
    assert_eq!(folder["images"], 3000);
    assert_eq!(folder["templates"], 3);
    let top1 = folder["top1"].as_f64().unwrap();
    assert!(
        (top1 - overall).abs() < 1e-9,
        "folder {top1} vs generated {overall}"
    );
}

#[test]
fn bad_inputs_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let w = path("clip_tiny_weights.safetensors");
    let w = w.to_str().unwrap();
    // An image file that does not decode.
    let cls = dir.path().join("data").join("cat");
    std::fs::create_dir_all(&cls).unwrap();
    std::fs::write(cls.join("broken.png"), b"no png here").unwrap();
    let data = dir.path().join("data");
    let (ok, _, err) = run(&[
        "--model",
        "tiny",
        "--weights",
        w,
        "--data",
        data.to_str().unwrap(),
    ]);
    assert!(!ok);
    assert!(err.contains("broken.png"), "{err}");
    // Class names that do not match the folders.
    let names = dir.path().join("names.txt");
    std::fs::write(&names, "cat\ndog\n").unwrap();
    let (ok, _, err) = run(&[
        "--model",
        "tiny",
        "--weights",
        w,
        "--data",
        data.to_str().unwrap(),
        "--classes",
        names.to_str().unwrap(),
    ]);
    assert!(!ok);
    assert!(
        err.contains("names.txt") && err.contains("2 class names for 1 classes"),
        "{err}"
    );
    // A model config with fields zoo-clip does not build.
    let cfg = dir.path().join("clipa.json");
    std::fs::write(
        &cfg,
        r#"{"embed_dim": 32, "vision_cfg": {"no_ln_pre": true}, "text_cfg": {}}"#,
    )
    .unwrap();
    let (ok, _, err) = run(&["--model-config", cfg.to_str().unwrap(), "--weights", w]);
    assert!(!ok);
    assert!(err.contains("clipa.json") && err.contains("no_ln_pre"), "{err}");
}

#[test]
fn dassl_split_zero_shot_with_the_coop_template() {
    let dir = tempfile::tempdir().unwrap();
    let pets = dir.path().join("oxford_pets");
    let mut entries = Vec::new();
    for (label, breed) in ["abyssinian", "basset_hound", "beagle"].iter().enumerate() {
        for n in 0..2 {
            let rel = format!("{breed}_{n}.png");
            let pixels: Vec<u8> = (0..3 * 40 * 48)
                .map(|i| ((i * (label + 2) + n) % 256) as u8)
                .collect();
            // Not square: the preprocessing resizes and crops to the model's 32x32.
            let img = image::RgbImage::from_fn(48, 40, |x, y| {
                let i = (y * 48 + x) as usize;
                image::Rgb([pixels[i], pixels[1920 + i], pixels[3840 + i]])
            });
            std::fs::create_dir_all(pets.join("images")).unwrap();
            img.save(pets.join("images").join(&rel)).unwrap();
            entries.push(format!(r#"["{rel}", {label}, "{breed}"]"#));
        }
    }
    std::fs::write(
        pets.join("split_zhou_OxfordPets.json"),
        format!(
            r#"{{"train": [{0}], "val": [{0}], "test": [{0}]}}"#,
            entries.join(", ")
        ),
    )
    .unwrap();
    let w = path("clip_tiny_weights.safetensors");
    let root = dir.path().to_str().unwrap();
    let base = [
        "--model",
        "tiny",
        "--weights",
        w.to_str().unwrap(),
        "--json",
        "--dassl",
        "OxfordPets",
        "--data-root",
        root,
    ];
    let (ok, out, err) = run(&base);
    assert!(ok, "{err}");
    let m: serde_json::Value = serde_json::from_str(out.lines().last().unwrap()).unwrap();
    assert_eq!(
        (
            m["images"].as_u64(),
            m["classes"].as_u64(),
            m["templates"].as_u64()
        ),
        (Some(6), Some(3), Some(1))
    );
    assert!(out.contains("OxfordPets test"), "{out}");
    // Base-to-novel: 3 classes -> 2 base, 1 novel.
    let (ok, out, err) = run(&[&base[..], &["--subsample", "novel"]].concat());
    assert!(ok, "{err}");
    let m: serde_json::Value = serde_json::from_str(out.lines().last().unwrap()).unwrap();
    assert_eq!(
        (m["images"].as_u64(), m["classes"].as_u64(), m["top1"].as_f64()),
        (Some(2), Some(1), Some(1.0))
    );
    // A listed image that is missing is named.
    std::fs::remove_file(pets.join("images/beagle_1.png")).unwrap();
    let (ok, _, err) = run(&base);
    assert!(!ok);
    assert!(
        err.contains("beagle_1.png") && err.contains("split_zhou_OxfordPets.json"),
        "{err}"
    );
}
