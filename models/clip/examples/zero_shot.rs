//! Load weights -> predict with CLIP as a library: zero-shot classification of image files among
//! class names given on the command line, with the committed shapes CLIP (or any open_clip
//! state dict with `--weights FILE --preset NAME` in eval-clip; this example keeps to the shapes
//! model).
//!
//! ```text
//! cargo run --release -p zoo-clip --example zero_shot -- "red circle,blue square,green triangle" a.png b.png
//! ```

use burn::tensor::{Device, Tensor, TensorData};
use zoo_clip::{IMAGE_MEAN, IMAGE_STD, Tokenizer};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (names, images) = args
        .split_first()
        .ok_or("usage: zero_shot \"NAME,NAME,...\" IMAGE...")?;
    let names: Vec<String> = names.split(',').map(|n| n.trim().to_string()).collect();
    let device = Device::flex();
    let model = zoo_weights::clip::shapes_clip(&device)?;
    let tok = Tokenizer::new();
    // One prompt per class, embedded and normalised once.
    let prompts: Vec<String> = names.iter().map(|n| format!("a photo of a {n}.")).collect();
    let ids =
        zoo_clip::zeroshot::tokenize_batch(&tok, &prompts, model.config().text_cfg.context_length, &device);
    let classes = zoo_clip::zeroshot::normalize(model.encode_text(ids));
    let size = model.config().vision_cfg.image_size;
    for path in images {
        let pixels = zoo_datasets::image::load_image_clip(path.as_ref(), size)?; // open_clip's preprocessing
        let x: Vec<f32> = pixels
            .chunks_exact(size * size)
            .enumerate()
            .flat_map(|(c, plane)| {
                plane
                    .iter()
                    .map(move |&p| (f32::from(p) / 255.0 - IMAGE_MEAN[c]) / IMAGE_STD[c])
            })
            .collect();
        let image = zoo_clip::zeroshot::normalize(model.encode_image(Tensor::<4>::from_data(
            TensorData::new(x, [1, 3, size, size]),
            &device,
        )));
        let best = image
            .matmul(classes.clone().transpose())
            .argmax(1)
            .into_scalar::<i64>() as usize;
        println!("{path}: {}", names[best]);
    }
    Ok(())
}
