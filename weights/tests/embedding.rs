//! The model crates embed cleanly: none of them pulls a CLI parser, image codecs, plotting or
//! burnzoo's loaders and loops into a program that depends on it (checked with `cargo tree` on the
//! lockfile, offline), and a throwaway crate outside the workspace builds against one of them by
//! path (ignored by default: it compiles Burn once more in its own profile, minutes).

use std::path::Path;
use std::process::Command;

const MODEL_CRATES: [&str; 10] = [
    "zoo-kernels",
    "zoo-mlp",
    "zoo-evonorm",
    "zoo-resnet",
    "zoo-ebv",
    "zoo-aranyani",
    "zoo-ponita",
    "zoo-clip",
    "zoo-promptsrc",
    "zoo-yolov9",
];

/// What a model crate must not depend on (normal dependencies, transitively).
const FORBIDDEN: [&str; 8] = [
    "clap",
    "image",
    "plotters",
    "indicatif",
    "zoo-datasets",
    "zoo-eval",
    "zoo-train",
    "zoo-weights",
];

fn workspace() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap()
}

#[test]
fn model_crates_have_minimal_dependencies() {
    for krate in MODEL_CRATES {
        let out = Command::new(env!("CARGO"))
            .args([
                "tree",
                "--offline",
                "--locked",
                "-e",
                "normal",
                "--prefix",
                "none",
                "-p",
                krate,
            ])
            .current_dir(workspace())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "cargo tree -p {krate}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let tree = String::from_utf8_lossy(&out.stdout);
        let names: std::collections::BTreeSet<&str> =
            tree.lines().filter_map(|l| l.split_whitespace().next()).collect();
        for bad in FORBIDDEN {
            assert!(!names.contains(bad), "{krate} depends on {bad}");
        }
        assert!(names.contains(krate), "{krate}: not in its own tree?\n{tree}");
    }
}

#[test]
#[ignore = "builds Burn again for a crate outside the workspace (minutes); run with --ignored"]
fn a_downstream_crate_builds_against_zoo_yolov9() {
    let dir = tempfile::tempdir().unwrap();
    let model = workspace().join("models/yolov9");
    std::fs::create_dir(dir.path().join("src")).unwrap();
    std::fs::write(
        dir.path().join("Cargo.toml"),
        format!(
            "[package]\nname = \"downstream\"\nversion = \"0.1.0\"\nedition = \"2024\"\n\n[dependencies]\n\
             zoo-yolov9 = {{ path = {:?} }}\nburn = {{ version = \"=0.22.1\", default-features = false, \
             features = [\"std\", \"flex\"] }}\n\n[profile.dev.package.\"*\"]\nopt-level = 3\n",
            model.display().to_string()
        ),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("src/main.rs"),
        r#"use burn::tensor::{Device, Distribution, Tensor};
fn main() {
    let device = Device::flex();
    let model = zoo_yolov9::YoloConfig::from_name("gelan-t", 3).unwrap().init(&device).unwrap().fuse();
    let x = Tensor::<4>::random([1, 3, 64, 64], Distribution::Default, &device);
    let dets = zoo_yolov9::non_max_suppression(model.predict(x), &zoo_yolov9::NmsConfig::default());
    println!("{} images, {} parameters", dets.len(), model.num_parameters());
}
"#,
    )
    .unwrap();
    // The workspace's lockfile pins the same versions.
    std::fs::copy(workspace().join("Cargo.lock"), dir.path().join("Cargo.lock")).unwrap();
    let out = Command::new(env!("CARGO"))
        .args(["run", "--offline", "-q"])
        .current_dir(dir.path())
        .env("CARGO_TARGET_DIR", dir.path().join("target"))
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("1 images, ") && text.contains(" parameters"),
        "{text}"
    );
}
