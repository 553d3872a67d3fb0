//! Load weights -> predict with PONITA (Bekkers et al., ICLR 2024) as a library: a
//! `train-ponita` N-body run's configuration and weights, four freshly simulated systems of five
//! charged particles, and their positions 1000 steps ahead as PONITA predicts them (position +
//! the equivariant displacement it outputs), against the simulation and constant velocity.
//!
//! ```text
//! cargo run --release --bin train-ponita -- --out runs/ponita
//! cargo run --release -p zoo-ponita --example nbody -- runs/ponita
//! ```

use burn::prelude::*;
use std::path::Path;
use zoo_datasets::nbody::{NBodyBatcher, NBodyData};
use zoo_datasets::{Batcher, Dataset};
use zoo_ponita::{Graph, NodeInputs, Ponita, PonitaConfig};

/// The module layout `train-ponita` saves for N-body (its weights are under `net.`).
#[derive(Module, Debug)]
struct NBodyModel {
    net: Ponita,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let run = std::env::args().nth(1).ok_or("usage: nbody RUN_DIR")?;
    let run = Path::new(&run);
    let manifest: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(run.join("run.json"))?)?;
    let config: PonitaConfig = serde_json::from_value(manifest["config"]["model"].clone())?;
    let device = Device::flex();
    let template = NBodyModel {
        net: config.init(&device)?,
    };
    let model = zoo_weights::load_module(template, zoo_weights::run::weights_path(run)?)?;
    // Four test systems from another seed than training's.
    let data = NBodyData {
        seed: 7,
        num_train: 1,
        num_valid: 1,
        num_test: 4,
        ..NBodyData::default()
    };
    let test = data.open()?.test;
    let samples: Vec<_> = (0..test.len()).map(|i| test.get(i)).collect::<Result<_, _>>()?;
    let batch = NBodyBatcher.batch(samples, &device);
    let [b, n, _] = batch.loc.dims();
    // Every particle sees every other; charge in as a scalar, velocity as a vector.
    let graph = Graph::fully_connected(batch.loc.clone());
    let inputs = NodeInputs {
        scalars: Some(batch.charges.clone().reshape([b * n, 1])),
        vectors: Some(batch.vel.clone().reshape([b * n, 1, 3])),
    };
    let out = model.net.forward(&graph, &inputs);
    let predicted = batch.loc.clone() + out.vectors.reshape([b, n, 3]);
    let mse = |x: Tensor<3>| (x - batch.target.clone()).square().mean().into_scalar::<f32>();
    // The simulator's 1000 steps of dt 0.001.
    let constant_velocity = batch.loc.clone() + batch.vel.clone();
    println!("position MSE over {b} systems of {n} particles:");
    println!("  PONITA             {:.5}", mse(predicted));
    println!("  constant velocity  {:.5}", mse(constant_velocity));
    println!("  no motion          {:.5}", mse(batch.loc.clone()));
    Ok(())
}
