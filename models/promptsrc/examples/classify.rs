//! Load weights -> predict with PromptSRC as a library: the committed shapes CLIP, the prompts of
//! a `train-promptsrc` run, and images from disk classified among any class names.
//!
//! ```text
//! cargo run --release --bin train-promptsrc -- --out runs/psrc
//! cargo run --release -p zoo-promptsrc --example classify -- runs/psrc/model.bpk img1.png img2.png
//! ```

use burn::tensor::{Device, Tensor, TensorData};
use zoo_clip::{IMAGE_MEAN, IMAGE_STD, Tokenizer};
use zoo_promptsrc::{ClassPrompts, PromptSrcConfig};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (weights, images) = args.split_first().ok_or("usage: classify PROMPTS.bpk IMAGE...")?;
    let device = Device::flex();
    let tok = Tokenizer::new();
    // The embedded default's settings: the shapes CLIP has 3 layers per tower, so J = 3.
    let config = PromptSrcConfig {
        text_depth: 3,
        vision_depth: 3,
        ..Default::default()
    };
    let model = config.init(zoo_weights::clip::shapes_clip(&device)?, &tok, &device)?;
    let model = zoo_weights::bpk::load_module(model, weights)?;
    let names: Vec<String> = (0..30).map(zoo_datasets::captions::pair_name).collect();
    let classes =
        zoo_clip::zeroshot::normalize(model.text_features(&ClassPrompts::new(&model, &tok, &names, &device)));
    for path in images {
        let size = model.clip.config().vision_cfg.image_size;
        let pixels = zoo_datasets::image::load_image_clip(path.as_ref(), size)?; // open_clip's preprocessing
        let x: Vec<f32> = pixels
            .chunks_exact(size * size)
            .enumerate()
            .flat_map(|(c, plane)| {
                plane
                    .iter()
                    .map(move |&p| (p as f32 / 255.0 - IMAGE_MEAN[c]) / IMAGE_STD[c])
            })
            .collect();
        let x = Tensor::<4>::from_data(TensorData::new(x, [1, 3, size, size]), &device);
        let best = model.scores(x, &classes).argmax(1).into_scalar::<i64>() as usize;
        println!("{path}: {}", names[best]);
    }
    Ok(())
}
