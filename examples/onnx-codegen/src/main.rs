//! Inference-only import of an ONNX graph through burn-onnx's code generation: build.rs turns
//! `weights/fixtures/clip_onnx_image_static.onnx` (the image tower of a tiny CLIP exported from
//! open_clip, batch 2, constant-folded so every shape is static)
//! into a Rust `Model` plus Burnpack weights; this program runs it on the fixture's images and
//! compares with onnxruntime's output (weights/reference/clip_import_fixtures.py).
//!
//! The other route, for weights whose network burnzoo implements itself (trainable, extensible:
//! PromptSRC's prompts enter zoo-clip's towers), maps the ONNX initializers onto the zoo module:
//! `zoo_weights::clip::load_onnx_tower`.
#![forbid(unsafe_code)]

mod model {
    pub mod clip_onnx_image_static {
        include!(concat!(env!("OUT_DIR"), "/model/clip_onnx_image_static.rs"));
    }
}

use burn::prelude::*;
use burn::tensor::TensorData;

fn main() {
    let bytes = std::fs::read("../../weights/fixtures/clip_onnx_io.safetensors").expect("fixture");
    let st = safetensors::SafeTensors::deserialize(&bytes).expect("safetensors");
    let get = |name: &str| {
        let v = st.tensor(name).expect(name);
        let values: Vec<f32> = v
            .data()
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        (v.shape().to_vec(), values)
    };
    let device = Device::default();
    let model = model::clip_onnx_image_static::Model::default();
    let (shape, images) = get("images");
    let x = Tensor::<4>::from_data(TensorData::new(images, shape), &device);
    let started = std::time::Instant::now();
    let y = model.forward(x);
    let elapsed = started.elapsed();
    let got = y.into_data().to_vec::<f32>().expect("f32 output");
    let (_, want) = get("image_features");
    let diff = zoo_check::diff(&got, &want).unwrap_or_else(|m| panic!("{m}")).max_abs;
    println!(
        "burn-onnx generated model vs onnxruntime: max abs diff {diff:.3e} over {} values ({elapsed:?})",
        got.len()
    );
    assert!(diff < 1e-4, "outputs differ by {diff}");
}
