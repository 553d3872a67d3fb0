//! Load weights -> predict with the demo perceptron as a library: the configuration and weights
//! of a `train-mlp` run, points from the command line, the predicted class and its probability.
//!
//! ```text
//! cargo run --release --bin train-mlp -- --out runs/mlp
//! cargo run --release -p zoo-mlp --example predict -- runs/mlp 0.3,-0.8 1.2,0.1
//! ```

use burn::tensor::activation::softmax;
use burn::tensor::{Device, Tensor, TensorData};
use std::path::Path;
use zoo_mlp::MlpConfig;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (run, points) = args.split_first().ok_or("usage: predict RUN_DIR X,Y...")?;
    let run = Path::new(run);
    // run.json records the model's configuration under config.model.
    let manifest: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(run.join("run.json"))?)?;
    let config: MlpConfig = serde_json::from_value(manifest["config"]["model"].clone())?;
    let device = Device::flex();
    let model = zoo_weights::load_module(config.init(&device), zoo_weights::run::weights_path(run)?)?;
    for p in points {
        let x: Vec<f32> = p.split(',').map(str::parse).collect::<Result<_, _>>()?;
        if x.len() != config.inputs {
            return Err(format!(
                "`{p}`: {} values for a model with {} inputs",
                x.len(),
                config.inputs
            )
            .into());
        }
        let probs = softmax(
            model.forward(Tensor::<2>::from_data(
                TensorData::new(x, [1, config.inputs]),
                &device,
            )),
            1,
        );
        let class = probs.clone().argmax(1).into_scalar::<i64>() as usize;
        let p_class = probs.into_data().try_into_vec::<f32>()?[class];
        println!("{p}: class {class} (p = {p_class:.3})");
    }
    Ok(())
}
