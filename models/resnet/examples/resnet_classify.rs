//! Load weights -> predict with a ResNet (any normalization-activation: EvoNorm-S0/B0, BN-ReLU,
//! GN-ReLU) as a library: the configuration and weights of a `train-evonorm` run, image files
//! from the command line, the three most probable classes of each.
//!
//! ```text
//! cargo run --release --bin train-evonorm -- --out runs/evonorm
//! cargo run --release -p zoo-resnet --example resnet_classify -- runs/evonorm cat.png dog.jpg
//! ```

use burn::tensor::Device;
use burn::tensor::activation::softmax;
use std::path::Path;
use zoo_datasets::Batcher;
use zoo_datasets::image::{ImageData, ImageItem, ImageSource, SHAPE_CLASSES, load_image};
use zoo_resnet::ResNetConfig;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (run, images) = args
        .split_first()
        .ok_or("usage: resnet_classify RUN_DIR IMAGE...")?;
    let run = Path::new(run);
    // run.json records the backbone under config.model and the data (size, normalisation).
    let manifest: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(run.join("run.json"))?)?;
    let config: ResNetConfig = serde_json::from_value(manifest["config"]["model"].clone())?;
    let data: ImageData = serde_json::from_value(manifest["config"]["data"].clone())?;
    let names: Vec<String> = match &data.source {
        ImageSource::Shapes(_) => SHAPE_CLASSES.iter().map(|s| s.to_string()).collect(),
        ImageSource::Folder { .. } => (0..config.classes).map(|i| format!("class {i}")).collect(),
    };
    let device = Device::flex();
    let model = zoo_weights::load_module(config.init(&device)?, zoo_weights::run::weights_path(run)?)?;
    for path in images {
        // Shorter side to the training size, centre crop, the run's mean/std normalisation.
        let item = ImageItem {
            pixels: load_image(Path::new(path), data.size())?,
            size: data.size(),
            label: 0,
        };
        let batch = data.normalize.batch(vec![item], &device);
        let probs: Vec<f32> = softmax(model.forward(batch.images), 1)
            .into_data()
            .try_into_vec()?;
        let mut ranked: Vec<(usize, f32)> = probs.into_iter().enumerate().collect();
        ranked.sort_by(|a, b| b.1.total_cmp(&a.1));
        let top: Vec<String> = ranked
            .iter()
            .take(3)
            .map(|(c, p)| format!("{} {p:.3}", names[*c]))
            .collect();
        println!("{path}: {}", top.join(", "));
    }
    Ok(())
}
