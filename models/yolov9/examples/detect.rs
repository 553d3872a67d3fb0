//! Load weights -> detect with YOLOv9 as a library: a state dict in the reference's naming
//! (e.g. `yolov9-c.pt` converted by weights/reference/yolov9_to_safetensors.py), images from disk,
//! boxes printed in image pixels.
//!
//! ```text
//! cargo run --release -p zoo-yolov9 --example detect -- yolov9-c 80 yolov9-c.safetensors bus.jpg
//! ```

use burn::tensor::{Device, Tensor, TensorData};
use zoo_datasets::detection::{LetterboxConfig, letterbox};
use zoo_yolov9::{NmsConfig, YoloConfig, non_max_suppression};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [name, classes, weights, images @ ..] = args.as_slice() else {
        return Err(
            "usage: detect MODEL CLASSES WEIGHTS IMAGE...  (e.g. yolov9-c 80 w.safetensors a.jpg)".into(),
        );
    };
    let device = Device::flex();
    let config = YoloConfig::from_name(name, classes.parse()?)?;
    let model = zoo_weights::yolov9::load_yolov9(config.init(&device)?, weights.as_ref())?;
    // Inference form: PGI's auxiliary branch dropped (a no-op for gelan-*), BNs folded.
    let model = model.remove_pgi().fuse();
    for path in images {
        let boxed = letterbox(
            &zoo_datasets::image::decode_rgb(path.as_ref())?,
            &LetterboxConfig::default(),
        );
        let (w, h) = boxed.image.dimensions();
        let x = Tensor::<4>::from_data(
            TensorData::new(boxed.to_chw(), [1, 3, h as usize, w as usize]),
            &device,
        );
        for d in &non_max_suppression(model.predict(x), &NmsConfig::default())[0] {
            let [x1, y1, x2, y2] = boxed.unletterbox(d.bbox);
            println!(
                "{path}: class {} score {:.3} box [{x1:.1}, {y1:.1}, {x2:.1}, {y2:.1}]",
                d.class, d.score
            );
        }
    }
    Ok(())
}
