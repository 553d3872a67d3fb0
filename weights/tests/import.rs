//! Importing timm state dicts: EvoNorm layers from a real timm `state_dict()` (keys `weight`,
//! `bias`, `v`, `running_var`) reproduce timm's evaluation-mode outputs; mismatches are errors.

use burn::prelude::*;
use zoo_check::max_abs_diff;
use zoo_evonorm::{EvoNormConfig, EvoNormKind};
use zoo_weights::fixture::{Fixture, path};
use zoo_weights::import::load_timm_evonorm;

fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data().convert::<f32>().try_to_vec::<f32>().unwrap()
}

#[test]
fn timm_evonorm_layers_import_and_match() {
    let device = Device::flex();
    let state = path("evonorm_timm_state.safetensors");
    let io = Fixture::committed("evonorm_timm_state_io.safetensors").unwrap();
    let s0 = EvoNormConfig::new(EvoNormKind::S0, 8)
        .with_groups(4)
        .init(&device)
        .unwrap();
    let s0 = load_timm_evonorm(s0, &state, "1.").unwrap().valid();
    let b0 = EvoNormConfig::new(EvoNormKind::B0, 8).init(&device).unwrap();
    let b0 = load_timm_evonorm(b0, &state, "2.").unwrap().valid();
    let x: Tensor<4> = io.tensor("x", &device);
    let h = s0.forward(x);
    let (d, _) = max_abs_diff(&values(h.clone()), io.get("s0").1);
    assert!(d < 1e-5, "S0 differs from timm by {d}");
    let y = b0.forward(h);
    let (d, _) = max_abs_diff(&values(y), io.get("b0").1);
    assert!(
        d < 1e-5,
        "B0 (running variance from the state dict) differs from timm by {d}"
    );
}

#[test]
fn mismatched_state_dicts_are_clear_errors() {
    let device = Device::flex();
    let state = path("evonorm_timm_state.safetensors");
    // Layer 1 is an S0 (no running_var): loading it as a B0 misses running_var.
    let b0 = EvoNormConfig::new(EvoNormKind::B0, 8).init(&device).unwrap();
    let err = load_timm_evonorm(b0, &state, "1.").unwrap_err().to_string();
    assert!(
        err.contains("evonorm_timm_state.safetensors") && err.contains("running_var"),
        "{err}"
    );
    // Wrong channel count.
    let wide = EvoNormConfig::new(EvoNormKind::S0, 16)
        .with_groups(4)
        .init(&device)
        .unwrap();
    let err = load_timm_evonorm(wide, &state, "1.").unwrap_err().to_string();
    assert!(err.contains("do not fit"), "{err}");
    // An S0 without `v` (affine only) leaves the file's `v` unused.
    let affine = EvoNormConfig::new(EvoNormKind::S0, 8)
        .with_apply_act(false)
        .init(&device)
        .unwrap();
    let err = load_timm_evonorm(affine, &state, "1.").unwrap_err().to_string();
    assert!(err.contains("not used") && err.contains('v'), "{err}");
    let err = load_timm_evonorm(
        EvoNormConfig::new(EvoNormKind::S0, 8)
            .with_groups(4)
            .init(&device)
            .unwrap(),
        std::path::Path::new("/nonexistent.safetensors"),
        "1.",
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("/nonexistent.safetensors"), "{err}");
}
