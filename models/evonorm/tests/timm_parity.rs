//! EvoNorm against timm's layers (fixtures from weights/reference/evonorm_fixtures.py): outputs in
//! training and evaluation mode, running variance over three steps, gradients of B0 and S0; the
//! TensorFlow convention against the TF formulas; the hand-checked vectors of the reference note.

use burn::module::{Param, RunningState};
use burn::prelude::*;
use zoo_check::max_abs_diff;
use zoo_evonorm::{Convention, EvoNorm, EvoNormConfig, EvoNormKind};
use zoo_weights::fixture::Fixture;

fn fixture() -> Fixture {
    Fixture::committed("evonorm.safetensors").unwrap()
}

fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.without_autodiff()
        .into_data()
        .convert::<f32>()
        .try_to_vec::<f32>()
        .unwrap()
}

fn assert_close(what: &str, actual: &[f32], expected: &[f32], tol: f32) {
    let (diff, scale) = max_abs_diff(actual, expected);
    assert!(
        diff <= tol * scale.max(1.0),
        "{what}: max |diff| {diff} (reference scale {scale}) > {tol}"
    );
}

/// Puts the fixture's initial parameters into `layer`.
fn load(mut layer: EvoNorm, fx: &Fixture, name: &str, device: &Device) -> EvoNorm {
    layer.weight = Param::from_tensor(fx.tensor(&format!("{name}.init.weight"), device));
    layer.bias = Param::from_tensor(fx.tensor(&format!("{name}.init.bias"), device));
    if fx.has(&format!("{name}.init.v")) {
        assert!(layer.v.is_some(), "{name}: layer lacks v");
        layer.v = Some(Param::from_tensor(fx.tensor(&format!("{name}.init.v"), device)));
    } else {
        assert!(layer.v.is_none(), "{name}: layer has v, timm does not");
    }
    if fx.has(&format!("{name}.init.running_var")) {
        layer.running_var = Some(RunningState::new(
            fx.tensor(&format!("{name}.init.running_var"), device),
        ));
    }
    layer
}

#[derive(serde::Deserialize)]
struct Case {
    name: String,
    kind: String,
    shape: Vec<usize>,
    apply_act: bool,
    groups: Option<usize>,
    group_size: Option<usize>,
    eps: f64,
    grads: bool,
}

fn cases() -> Vec<Case> {
    let text = std::fs::read_to_string(zoo_weights::fixture::path("evonorm.json")).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    serde_json::from_value(v["cases"].clone()).unwrap()
}

#[test]
fn matches_timm_in_training_and_evaluation() {
    let fx = fixture();
    let device = Device::flex().autodiff();
    let cases = cases();
    assert_eq!(cases.len(), 26);
    for case in &cases {
        let kind = EvoNormKind::parse(&case.kind).unwrap();
        let mut cfg = EvoNormConfig::new(kind, case.shape[1]).with_apply_act(case.apply_act);
        if let Some(g) = case.groups {
            cfg = cfg.with_groups(g);
        }
        if let Some(s) = case.group_size {
            cfg = cfg.with_group_size(s);
        }
        assert_eq!(
            cfg.effective_eps(),
            case.eps,
            "{}: default eps differs from timm",
            case.name
        );
        let layer = load(cfg.init(&device).unwrap(), &fx, &case.name, &device).train();
        for step in 0..3 {
            let x: Tensor<4> = fx.tensor(&format!("{}.train{step}.x", case.name), &device);
            let x = if case.grads && step == 0 {
                x.require_grad()
            } else {
                x
            };
            let y = layer.forward(x.clone());
            let what = format!("{} train step {step}", case.name);
            assert_close(
                &what,
                &values(y.clone()),
                fx.get(&format!("{}.train{step}.y", case.name)).1,
                1e-5,
            );
            if let Some(rv) = &layer.running_var {
                let expected = fx.get(&format!("{}.train{step}.running_var", case.name)).1;
                assert_close(
                    &format!("{what} running_var"),
                    &values(rv.value_sync()),
                    expected,
                    1e-5,
                );
            }
            if case.grads && step == 0 {
                let r: Tensor<4> = fx.tensor(&format!("{}.grad.r", case.name), &device);
                let grads = (y * r).sum().backward();
                let g = |name: &str, t: Option<Tensor<4>>| {
                    assert_close(
                        &format!("{} grad {name}", case.name),
                        &values(t.unwrap()),
                        fx.get(&format!("{}.grad.{name}", case.name)).1,
                        1e-4,
                    );
                };
                g("x", x.grad(&grads));
                let p = |name: &str, t: Option<Tensor<1>>| {
                    assert_close(
                        &format!("{} grad {name}", case.name),
                        &values(t.unwrap()),
                        fx.get(&format!("{}.grad.{name}", case.name)).1,
                        1e-4,
                    );
                };
                p("weight", layer.weight.val().grad(&grads));
                p("bias", layer.bias.val().grad(&grads));
                p("v", layer.v.as_ref().unwrap().val().grad(&grads));
            }
        }
        let eval = layer.valid();
        let x: Tensor<4> = fx.tensor(&format!("{}.eval.x", case.name), &device.clone().inner());
        let y = eval.forward(x);
        assert_close(
            &format!("{} eval", case.name),
            &values(y),
            fx.get(&format!("{}.eval.y", case.name)).1,
            1e-5,
        );
    }
}

#[test]
fn tf_convention_matches_the_tf_formulas() {
    let fx = fixture();
    let device = Device::flex().autodiff();
    let mut b0 = EvoNormConfig::new(EvoNormKind::B0, 4)
        .with_convention(Convention::Tf)
        .init(&device)
        .unwrap();
    assert_eq!(b0.eps(), 1e-5);
    b0.weight = Param::from_tensor(fx.tensor("tf.gamma", &device));
    b0.bias = Param::from_tensor(fx.tensor("tf.beta", &device));
    b0.v = Some(Param::from_tensor(fx.tensor("tf.v", &device)));
    let b0 = b0.train();
    let x: Tensor<4> = fx.tensor("tf.x", &device);
    assert_close(
        "tf b0 train",
        &values(b0.forward(x.clone())),
        fx.get("tf.b0.y").1,
        1e-5,
    );
    let rv = values(b0.running_var.as_ref().unwrap().value_sync());
    assert_close("tf b0 moving variance", &rv, fx.get("tf.b0.running_var").1, 1e-6);
    let eval = b0.valid();
    assert_close(
        "tf b0 eval",
        &values(eval.forward(x.without_autodiff())),
        fx.get("tf.b0.eval.y").1,
        1e-5,
    );

    // 6 channels, 4 groups requested: TF decrements to 3; timm refuses.
    let cfg = EvoNormConfig::new(EvoNormKind::S0, 6).with_groups(4);
    assert!(cfg.clone().init(&device).is_err());
    let mut s0 = cfg.with_convention(Convention::Tf).init(&device).unwrap();
    assert_eq!(s0.groups(), 3);
    s0.weight = Param::from_tensor(fx.tensor("tf.s0.gamma", &device));
    s0.bias = Param::from_tensor(fx.tensor("tf.s0.beta", &device));
    s0.v = Some(Param::from_tensor(fx.tensor("tf.s0.v", &device)));
    let y = s0.forward(fx.tensor("tf.s0.x", &device));
    assert_close("tf s0", &values(y), fx.get("tf.s0.y").1, 1e-5);
}

/// The tiny vectors of the reference note (float64 values from the formulas, hand-checked).
#[test]
fn reference_note_vectors() {
    let device = Device::flex().autodiff();
    let mut x: Vec<f32> = (0..32).map(|i| (i as f32 - 15.5) / 7.0).collect();
    for v in &mut x[16..] {
        *v = *v * *v - 1.0;
    }
    let x = Tensor::<4>::from_data(TensorData::new(x, [2, 4, 2, 2]), &device);
    let set = |mut l: EvoNorm| {
        l.weight = Param::from_tensor(Tensor::from_floats([1.0, 2.0, 0.5, 1.5], &device));
        l.bias = Param::from_tensor(Tensor::from_floats([0.0, 0.1, -0.2, 0.3], &device));
        l.v = Some(Param::from_tensor(Tensor::from_floats(
            [1.0, 0.5, -0.5, 2.0],
            &device,
        )));
        l.train()
    };
    let b0 = set(EvoNormConfig::new(EvoNormKind::B0, 4).init(&device).unwrap());
    let y = values(b0.forward(x.clone()));
    let pick =
        |y: &[f32], n: usize, hw: usize| -> Vec<f32> { (0..4).map(|c| y[n * 16 + c * 4 + hw]).collect() };
    assert_close(
        "B0 y[0,:,0,0]",
        &pick(&y, 0, 0),
        &[-3.886688, -5.064631, -0.724550, -0.135995],
        2e-6,
    );
    assert_close(
        "B0 y[1,:,1,1]",
        &pick(&y, 1, 3),
        &[-1.316459, 0.565138, 0.631786, 0.993170],
        2e-6,
    );
    let rv = values(b0.running_var.as_ref().unwrap().value_sync());
    assert_close(
        "timm running_var",
        &rv,
        &[0.936979, 0.946142, 1.019088, 1.238068],
        2e-6,
    );
    let tf = set(EvoNormConfig::new(EvoNormKind::B0, 4)
        .with_convention(Convention::Tf)
        .init(&device)
        .unwrap());
    tf.forward(x.clone());
    let rv = values(tf.running_var.as_ref().unwrap().value_sync());
    assert_close(
        "TF running_var",
        &rv,
        &[0.932357, 0.940374, 1.004202, 1.19581],
        2e-6,
    );
    let s0 = set(EvoNormConfig::new(EvoNormKind::S0, 4)
        .with_groups(2)
        .init(&device)
        .unwrap());
    let y = values(s0.forward(x));
    assert_close(
        "S0 y[0,:,0,0]",
        &pick(&y, 0, 0),
        &[-0.666128, -2.966076, -1.232365, -0.316193],
        2e-6,
    );
    assert_close(
        "S0 y[1,:,1,1]",
        &pick(&y, 1, 3),
        &[-0.623982, 0.497884, 0.025951, 5.496615],
        2e-6,
    );
}

#[test]
fn b0_evaluation_does_not_depend_on_the_batch() {
    let device = Device::flex();
    device.seed(5);
    let layer = EvoNormConfig::new(EvoNormKind::B0, 8)
        .init(&device.clone().autodiff())
        .unwrap();
    // A few training steps so the running variance is not the initial ones.
    let train = layer.train();
    for s in 0..3 {
        train.forward(Tensor::random(
            [4, 8, 5, 5],
            burn::tensor::Distribution::Normal(s as f64, 2.0),
            &device.clone().autodiff(),
        ));
    }
    let eval = train.valid();
    let batch = Tensor::<4>::random(
        [6, 8, 5, 5],
        burn::tensor::Distribution::Normal(0.0, 3.0),
        &device,
    );
    let together = values(eval.forward(batch.clone()));
    let alone = values(eval.forward(batch.clone().slice(0..1)));
    assert_eq!(
        &together[..alone.len()],
        &alone[..],
        "sample 0 changed with its batch"
    );
    // In training mode the same sample does depend on the batch (batch variance).
    let t_all = values(train.forward(batch.clone().autodiff()));
    let t_one = values(train.forward(batch.slice(0..1).autodiff()));
    assert!(max_abs_diff(&t_all[..t_one.len()], &t_one).0 > 1e-3);
}
