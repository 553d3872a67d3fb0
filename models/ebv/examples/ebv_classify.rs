//! Load weights -> predict with an EBV classifier (Shen et al., CVPR 2023) as a library: a
//! `train-ebv` run's configuration and weights (the fixed basis is stored with them), image
//! files from the command line, the classes whose basis vectors are closest to each image's
//! feature (the paper's cosine prediction rule).
//!
//! ```text
//! cargo run --release --bin train-ebv -- --out runs/ebv
//! cargo run --release -p zoo-ebv --example ebv_classify -- runs/ebv square.png
//! ```

use burn::tensor::{Device, Tensor};
use std::path::Path;
use zoo_datasets::Batcher;
use zoo_datasets::image::{ImageData, ImageItem, ImageSource, SHAPE_CLASSES, load_image};
use zoo_ebv::{HeadKind, ImageClassifierConfig};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (run, images) = args.split_first().ok_or("usage: ebv_classify RUN_DIR IMAGE...")?;
    let run = Path::new(run);
    let manifest: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(run.join("run.json"))?)?;
    let config: ImageClassifierConfig = serde_json::from_value(manifest["config"]["model"].clone())?;
    let data: ImageData = serde_json::from_value(manifest["config"]["data"].clone())?;
    let names: Vec<String> = match &data.source {
        ImageSource::Shapes(_) => SHAPE_CLASSES.iter().map(|s| s.to_string()).collect(),
        ImageSource::Folder { .. } => (0..config.classes).map(|i| format!("class {i}")).collect(),
    };
    let device = Device::flex();
    // A placeholder basis of the right shape; loading the weights replaces it with the run's.
    let basis =
        (config.head == HeadKind::Ebv).then(|| Tensor::zeros([config.classes, config.ebv_dim], &device));
    let model = zoo_weights::load_module(config.init(basis, &device)?, zoo_weights::run::weights_path(run)?)?;
    for path in images {
        let item = ImageItem {
            pixels: load_image(Path::new(path), data.size())?,
            size: data.size(),
            label: 0,
        };
        let batch = data.normalize.batch(vec![item], &device);
        // Cosines between the normalised feature and each class's basis vector.
        let scores: Vec<f32> = model.scores(batch.images).into_data().try_into_vec()?;
        let mut ranked: Vec<(usize, f32)> = scores.into_iter().enumerate().collect();
        ranked.sort_by(|a, b| b.1.total_cmp(&a.1));
        let top: Vec<String> = ranked
            .iter()
            .take(3)
            .map(|(c, s)| format!("{} {s:.3}", names[*c]))
            .collect();
        println!("{path}: {}", top.join(", "));
    }
    Ok(())
}
