//! YOLOv9 against the reference code (ultralytics and WongKinYiu/yolov9) on the fixture of
//! `weights/reference/yolov9_fixture.py`: the reference's own state-dict keys, filled with the
//! formula weights both sides compute, loaded through the real import path.

use burn::prelude::*;
use burn::tensor::TensorData;
use std::path::Path;
use zoo_check::max_abs_diff;
use zoo_weights::fixture::{Fixture, hashed_state_dict, uniforms};
use zoo_weights::tensors::NamedTensor;
use zoo_weights::yolov9::{load_tensors, state_dict};
use zoo_yolov9::{YoloConfig, YoloV9};

/// The reference state dict of `name` (as listed in yolov9_keys.json) with formula weights.
fn reference_weights(name: &str) -> Vec<NamedTensor> {
    hashed_state_dict("yolov9_keys.json", name).unwrap()
}

fn model(name: &str, nc: usize, weights: &str, device: &Device) -> YoloV9 {
    let cfg = YoloConfig::from_name(name, nc).unwrap();
    let model = cfg.init(device).unwrap();
    load_tensors(model, reference_weights(weights), Path::new(weights)).unwrap()
}

fn image(h: usize, w: usize, device: &Device) -> Tensor<4> {
    let v: Vec<f32> = uniforms(&format!("input.{h}x{w}"), 3 * h * w)
        .into_iter()
        .map(|u| u as f32)
        .collect();
    Tensor::from_data(TensorData::new(v, [1, 3, h, w]), device)
}

fn values(t: Tensor<3>) -> Vec<f32> {
    t.into_data().convert::<f32>().try_into_vec::<f32>().unwrap()
}

/// Every `step`-th anchor of `[1, C, A]`.
fn strided(t: Tensor<3>, step: usize) -> Tensor<3> {
    let [_, _, a] = t.dims();
    let idx: Vec<i64> = (0..a).step_by(step).map(|i| i as i64).collect();
    let n = idx.len();
    let device = t.device();
    t.select(2, Tensor::<1, Int>::from_data(TensorData::new(idx, [n]), &device))
}

/// Boxes (pixels) to `tol` relative to their largest coordinate; class probabilities to `tol`
/// absolute.
fn assert_close(got: Tensor<3>, fixture: &Fixture, key: &str, tol: f32) {
    let (shape, want) = fixture.get(key);
    assert_eq!(got.dims().to_vec(), shape.to_vec(), "{key}: shape");
    let got = values(got);
    let a = shape[2];
    let (boxes, scores) = (4 * a, want.len());
    let (diff, scale) = max_abs_diff(&got[..boxes], &want[..boxes]);
    let (sdiff, _) = max_abs_diff(&got[boxes..scores], &want[boxes..scores]);
    eprintln!("{key}: boxes max |diff| {diff:.2e} (largest {scale:.1}), scores {sdiff:.2e}");
    assert!(diff <= tol * scale.max(1.0), "{key}: boxes differ by {diff}");
    assert!(sdiff <= tol, "{key}: class probabilities differ by {sdiff}");
}

#[test]
fn ultralytics_yolov9t_matches_at_320_640_and_non_square() {
    let device = Device::flex();
    let fx = Fixture::committed("yolov9_io.safetensors").unwrap();
    let net = model("ultralytics-yolov9t", 80, "ultralytics-yolov9t", &device);
    for (h, w, step) in [(320, 320, 5), (384, 256, 5), (640, 640, 20)] {
        let y = net.predict(image(h, w, &device));
        assert_close(
            strided(y, step),
            &fx,
            &format!("ultralytics-yolov9t.{h}x{w}"),
            1e-4,
        );
    }
}

#[test]
fn yolov9t_dual_heads_match_and_pgi_removal_is_exact() {
    let device = Device::flex();
    let fx = Fixture::committed("yolov9_io.safetensors").unwrap();
    let net = model("yolov9-t", 3, "yolov9-t", &device);
    let out = net.forward(image(320, 320, &device));
    let main = out.decode();
    assert_close(main.clone(), &fx, "yolov9-t.320x320.main", 1e-4);
    assert_close(
        zoo_yolov9::decode(&out.aux.unwrap()),
        &fx,
        "yolov9-t.320x320.aux",
        1e-4,
    );

    // PGI removal gives gelan-t holding exactly the reference's converted keys and outputs.
    let gelan = net.remove_pgi();
    assert_eq!(gelan.config().name(), "gelan-t");
    let converted = gelan.predict(image(320, 320, &device));
    assert_eq!(
        values(converted),
        values(main),
        "converted output differs from the main head"
    );
    let ours: Vec<String> = state_dict(&gelan).unwrap().into_iter().map(|t| t.name).collect();
    let theirs: Vec<String> = reference_weights("gelan-t")
        .into_iter()
        .map(|t| t.name)
        .filter(|k| !k.contains(".dfl."))
        .collect();
    let mut theirs = theirs;
    theirs.sort();
    assert_eq!(ours, theirs, "gelan-t state-dict keys");
}

#[test]
fn fused_model_matches_unfused() {
    let device = Device::flex();
    let net = model("ultralytics-yolov9t", 80, "ultralytics-yolov9t", &device);
    let x = image(320, 320, &device);
    let y = values(net.predict(x.clone()));
    let fused = net.fuse();
    let (diff, scale) = max_abs_diff(&values(fused.predict(x)), &y);
    assert!(
        diff <= 1e-4 * scale.max(1.0),
        "fused vs unfused: {diff} (scale {scale})"
    );
}

/// The wider blocks: ultralytics yolov9s, the authors' yolov9-c (PGI with CBLinear / CBFuse,
/// ADown; both heads) and gelan-e (the CBNet dual backbone), 80 classes, every 7th anchor at 320.
#[test]
fn yolov9s_yolov9c_and_gelan_e_match() {
    let device = Device::flex();
    let fx = Fixture::committed("yolov9_io.safetensors").unwrap();
    let x = image(320, 320, &device);
    let s = model("ultralytics-yolov9s", 80, "ultralytics-yolov9s", &device);
    assert_close(
        strided(s.predict(x.clone()), 7),
        &fx,
        "ultralytics-yolov9s.320x320",
        1e-4,
    );
    let c = model("yolov9-c", 80, "yolov9-c", &device);
    let out = c.forward(x.clone());
    assert_close(strided(out.decode(), 7), &fx, "yolov9-c.320x320.main", 1e-4);
    assert_close(
        strided(zoo_yolov9::decode(&out.aux.unwrap()), 7),
        &fx,
        "yolov9-c.320x320.aux",
        1e-4,
    );
    let e = model("gelan-e", 80, "gelan-e", &device);
    assert_close(strided(e.predict(x), 7), &fx, "gelan-e.320x320", 1e-4);
}

/// The TAL losses against the authors' `loss_tal_dual.py` (yolov9-t, both heads) and
/// `loss_tal.py` (gelan-t, its converted main branch) on a fixed batch
/// (weights/reference/yolov9_loss_fixture.py).
#[test]
fn tal_losses_match_the_reference() {
    let device = Device::flex();
    let fx = Fixture::committed("yolov9_loss.safetensors").unwrap();
    let (_, t) = fx.get("targets");
    let targets: Vec<zoo_yolov9::Target> = t
        .chunks(6)
        .map(|r| zoo_yolov9::Target {
            image: r[0] as usize,
            class: r[1] as usize,
            cxcywh: [r[2], r[3], r[4], r[5]],
        })
        .collect();
    let v: Vec<f32> = uniforms("input.2x320x320", 2 * 3 * 320 * 320)
        .into_iter()
        .map(|u| u as f32)
        .collect();
    let x = Tensor::<4>::from_data(TensorData::new(v, [2, 3, 320, 320]), &device);
    let dual = model("yolov9-t", 3, "yolov9-t", &device);
    let cfg = zoo_yolov9::LossConfig::default();
    for (name, net) in [("yolov9-t", dual.clone()), ("gelan-t", dual.remove_pgi())] {
        let losses = cfg.loss(&net.forward(x.clone()), &targets, 2, [320, 320]);
        let (_, want_items) = fx.get(&format!("{name}.items"));
        let (_, want_total) = fx.get(&format!("{name}.loss"));
        let total = losses.total.into_scalar::<f32>();
        eprintln!(
            "{name}: total {total} (reference {}), items {:?} (reference {want_items:?})",
            want_total[0], losses.items
        );
        for (got, want) in losses
            .items
            .iter()
            .chain([&total])
            .zip(want_items.iter().chain(want_total))
        {
            assert!(
                (got - want).abs() <= 1e-4 * want.abs().max(1.0),
                "{name}: {got} vs {want}"
            );
        }
    }
}

/// The loss back-propagates to every parameter of both heads and the backbone, finitely.
#[test]
fn loss_gradients_reach_the_parameters() {
    let device = Device::flex().autodiff();
    let net = YoloConfig::from_name("yolov9-t", 2)
        .unwrap()
        .init(&device)
        .unwrap();
    let x = Tensor::<4>::random([2, 3, 64, 64], burn::tensor::Distribution::Default, &device);
    let targets = [
        zoo_yolov9::Target {
            image: 0,
            class: 1,
            cxcywh: [0.5, 0.5, 0.4, 0.3],
        },
        zoo_yolov9::Target {
            image: 1,
            class: 0,
            cxcywh: [0.3, 0.6, 0.2, 0.5],
        },
    ];
    let losses = zoo_yolov9::LossConfig::default().loss(&net.forward(x), &targets, 2, [64, 64]);
    assert!(
        losses.items.iter().all(|v| v.is_finite() && *v > 0.0),
        "{:?}",
        losses.items
    );
    let grads = burn::optim::GradientsParams::from_grads(losses.total.backward(), &net);
    // Every parameter has a gradient: PyTorch's count less the two fixed DFL kernels (16 each).
    let trainable = net.num_parameters() - 32;
    struct Count<'a>(&'a burn::optim::GradientsParams, usize, bool);
    impl burn::module::ModuleVisitor for Count<'_> {
        fn visit_float<const D: usize>(&mut self, p: &burn::module::Param<Tensor<D>>) {
            if let Some(g) = self.0.get::<D>(p.id) {
                self.1 += g.shape().num_elements();
                self.2 &= !g.is_nan().any().into_scalar::<bool>();
            }
        }
    }
    let mut c = Count(&grads, 0, true);
    burn::module::Module::visit(&net, &mut c);
    assert!(c.2, "NaN gradients");
    assert_eq!(c.1, trainable, "values with gradients");
}
