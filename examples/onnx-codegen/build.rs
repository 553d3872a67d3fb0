//! Generates Rust code (a Burn `Model`) and Burnpack weights from an ONNX graph at build time.
fn main() {
    burn_onnx::ModelGen::new()
        .input("../../weights/fixtures/clip_onnx_image_static.onnx")
        .out_dir("model/")
        .run_from_script();
}
