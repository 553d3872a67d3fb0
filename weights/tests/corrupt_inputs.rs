//! Hostile weight files (issue 12's fuzzing, as mutation tests in `cargo test`): corrupted copies
//! of real files through every reader give an error, never a panic, and a header that claims
//! more data than the file holds is refused without allocating it.

use burn::tensor::Device;
use std::path::Path;
use zoo_clip::ClipConfig;
use zoo_datasets::fuzz::mutations;
use zoo_weights::fixture::path;

#[test]
fn corrupted_safetensors_and_bpk_files_are_errors() {
    let good = std::fs::read(path("clip_tiny_weights.safetensors")).unwrap();
    let origin = Path::new("corrupt.safetensors");
    assert!(zoo_weights::clip::read_safetensors(&good, origin).is_ok());
    // The header (JSON) is where a corruption changes meaning: mutate it, keep the data.
    let end = 8 + u64::from_le_bytes(good[..8].try_into().unwrap()) as usize;
    mutations(&good[..end], 1500, 11, |h| {
        let mut b = h.to_vec();
        b.extend_from_slice(&good[end..]);
        let _ = zoo_weights::clip::read_safetensors(&b, origin);
    });
    mutations(&good, 100, 14, |b| {
        let _ = zoo_weights::clip::read_safetensors(b, origin);
    });
    // A header claiming a 100 GB tensor in a small file.
    let header = br#"{"w":{"dtype":"F32","shape":[25000000000],"data_offsets":[0,100000000000]}}"#;
    let mut file = (header.len() as u64).to_le_bytes().to_vec();
    file.extend_from_slice(header);
    file.extend_from_slice(&[0u8; 64]);
    let e = zoo_weights::clip::read_safetensors(&file, origin)
        .unwrap_err()
        .to_string();
    assert!(e.contains("corrupt.safetensors"), "{e}");

    // A zoo .bpk of the tiny CLIP, corrupted, loaded into the model.
    let device = Device::flex();
    let model = ClipConfig::tiny().init(&device).unwrap();
    let bytes = zoo_weights::bpk::module_bytes(&model).unwrap().to_vec();
    mutations(&bytes, 100, 12, |b| {
        let _ = zoo_weights::bpk::load_module_bytes(model.clone(), b.to_vec(), Path::new("x.bpk"));
    });
}

#[test]
fn corrupted_pytorch_files_are_errors() {
    let good = std::fs::read(path("clip_tiny_f16.pt")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("x.pt");
    mutations(&good, 150, 13, |b| {
        std::fs::write(&p, b).unwrap();
        let _ = zoo_weights::clip::read_pytorch(&p);
    });
}
