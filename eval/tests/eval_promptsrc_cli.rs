//! `eval-promptsrc`: zero-shot CLIP on the default base-to-novel task and on an ImageFolder
//! dataset, and clear errors for a dataset missing class folders.

use std::process::Command;
use zoo_datasets::captions::{CaptionedShapes, Split};

const BIN: &str = env!("CARGO_BIN_EXE_eval-promptsrc");

fn run(args: &[&str]) -> (bool, serde_json::Value, String) {
    let o = Command::new(BIN).args(args).output().unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout);
    let json = stdout
        .lines()
        .last()
        .and_then(|l| serde_json::from_str(l).ok())
        .unwrap_or(serde_json::Value::Null);
    (
        o.status.success(),
        json,
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[test]
fn zero_shot_base_to_novel_on_the_shapes() {
    let (ok, m, err) = run(&["--json"]);
    assert!(ok, "{err}");
    let (b, n) = (
        m["base_accuracy"].as_f64().unwrap(),
        m["novel_accuracy"].as_f64().unwrap(),
    );
    assert_eq!(
        (m["base_classes"].as_u64(), m["novel_classes"].as_u64()),
        (Some(15), Some(15))
    );
    // The committed shapes CLIP: far above chance (1/15) on both halves.
    assert!(b > 0.6 && n > 0.6, "base {b}, novel {n}");
    assert!((m["hm"].as_f64().unwrap() - 2.0 * b * n / (b + n)).abs() < 1e-12);
}

#[test]
fn image_folder_datasets_and_missing_classes() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    for (split, seed) in [("train", 1), ("test", 2)] {
        let shapes = CaptionedShapes {
            test: 150,
            seed,
            ..Default::default()
        };
        shapes
            .generate(Split::Test)
            .unwrap()
            .write_image_folder(&root.join(split))
            .unwrap();
    }
    let r = root.to_str().unwrap();
    let (ok, m, err) = run(&["--folder", r, "--protocol", "few-shot", "--json"]);
    assert!(ok, "{err}");
    assert_eq!(m["all_classes"].as_u64(), Some(30));
    assert_eq!(m["all_images"].as_u64(), Some(150));
    assert!(m["all_accuracy"].as_f64().unwrap() > 0.5, "{m}");
    // A truncated image is named.
    let blue = root.join("test").join("blue ring");
    let img = std::fs::read_dir(&blue).unwrap().next().unwrap().unwrap().path();
    let bytes = std::fs::read(&img).unwrap();
    std::fs::write(&img, &bytes[..bytes.len() / 3]).unwrap();
    let (ok, _, err) = run(&["--folder", r, "--protocol", "few-shot"]);
    assert!(
        !ok && err.contains(img.file_name().unwrap().to_str().unwrap()),
        "{err}"
    );
    std::fs::write(&img, &bytes).unwrap();
    // A class folder without images, and a class of the training split that the test split
    // lacks, are named.
    for f in std::fs::read_dir(&blue).unwrap() {
        std::fs::remove_file(f.unwrap().path()).unwrap();
    }
    let (ok, _, err) = run(&["--folder", r]);
    assert!(!ok && err.contains("hold no images: blue ring"), "{err}");
    std::fs::remove_dir_all(root.join("test").join("red circle")).unwrap();
    let (ok, _, err) = run(&["--folder", r]);
    assert!(
        !ok && err.contains("class folder(s) are missing: red circle"),
        "{err}"
    );
}

#[test]
fn prompts_of_another_model_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let run_dir = dir.path().join("run");
    std::fs::create_dir_all(&run_dir).unwrap();
    // A run.json saying J = 2 next to weights saved with J = 3: the tensors do not fit.
    let mut setup = zoo_eval::promptsrc::PromptSrcSetup::default();
    let device = burn::tensor::Device::flex();
    let clip = setup.load_clip(&device).unwrap();
    let model = setup
        .prompts
        .init(clip, &zoo_clip::Tokenizer::new(), &device)
        .unwrap();
    zoo_weights::save_module(&model, run_dir.join("model.bpk")).unwrap();
    setup.prompts.text_depth = 2;
    let file = zoo_eval::promptsrc::RunFile { setup, train: None };
    zoo_weights::run::write_manifest(&run_dir, "promptsrc", &file).unwrap();
    let (ok, _, err) = run(&["--checkpoint", run_dir.to_str().unwrap()]);
    assert!(
        !ok && err.contains("model.bpk") && err.contains("do not fit"),
        "{err}"
    );
}
