//! Gradient clipping, EMA, weighted averaging and optimizer semantics against hand-computed values
//! (the formulas of torch.nn.utils.clip_grad_norm_, YOLO's ModelEMA and torch.optim).

use burn::module::{Module, Param};
use burn::optim::GradientsParams;
use burn::tensor::{Device, Tensor};
use zoo_train::average::{AverageConfig, WeightedAverage};
use zoo_train::ema::{EmaConfig, ModelEma};
use zoo_train::optim::{OptimizerConfig, OptimizerKind, ParamGroupConfig};
use zoo_train::params::{clip_grad_norm, grad_norm, values};
use zoo_train::schedule::ScheduleConfig;

#[derive(Module, Debug)]
struct Two {
    weight: Param<Tensor<2>>,
    bias: Param<Tensor<1>>,
}

fn two(w: [[f32; 2]; 2], b: [f32; 2]) -> Two {
    two_on(w, b, &Device::flex())
}

fn two_on(w: [[f32; 2]; 2], b: [f32; 2], d: &Device) -> Two {
    Two {
        weight: Param::from_tensor(Tensor::from_floats(w, d)),
        bias: Param::from_tensor(Tensor::from_floats(b, d)),
    }
}

/// A module the optimizer can update (autodiff device, training mode).
fn trainable(w: [[f32; 2]; 2], b: [f32; 2]) -> Two {
    two_on(w, b, &Device::flex().autodiff()).train()
}

fn grads(m: &Two, gw: [[f32; 2]; 2], gb: [f32; 2]) -> GradientsParams {
    let d = Device::flex();
    let mut g = GradientsParams::new();
    g.register(m.weight.id, Tensor::<2>::from_floats(gw, &d));
    g.register(m.bias.id, Tensor::<1>::from_floats(gb, &d));
    g
}

fn close(a: &[f32], b: &[f32], tol: f32) {
    assert_eq!(a.len(), b.len());
    for (x, y) in a.iter().zip(b) {
        assert!((x - y).abs() <= tol, "{a:?} vs {b:?}");
    }
}

#[test]
fn global_norm_clipping_matches_torch() {
    let m = two([[0.0; 2]; 2], [0.0; 2]);
    // Norm of (3, 4, 0, 0, 12, 0) = 13.
    let mut g = grads(&m, [[3.0, 4.0], [0.0, 0.0]], [12.0, 0.0]);
    assert!((grad_norm(&m, &mut g) - 13.0).abs() < 1e-6);
    let before = clip_grad_norm(&m, &mut g, 6.5);
    assert!((before - 13.0).abs() < 1e-6);
    // torch: coef = max_norm / (norm + 1e-6), applied to every gradient.
    let coef = (6.5 / (13.0 + 1e-6)) as f32;
    let w: Vec<f32> = g
        .get::<2>(m.weight.id)
        .unwrap()
        .into_data()
        .try_to_vec::<f32>()
        .unwrap();
    let b: Vec<f32> = g
        .get::<1>(m.bias.id)
        .unwrap()
        .into_data()
        .try_to_vec::<f32>()
        .unwrap();
    close(&w, &[3.0 * coef, 4.0 * coef, 0.0, 0.0], 1e-6);
    close(&b, &[12.0 * coef, 0.0], 1e-6);
    assert!((grad_norm(&m, &mut g) - 6.5).abs() < 1e-5);
    // Below the limit nothing changes.
    let mut g = grads(&m, [[0.3, 0.4], [0.0, 0.0]], [0.0, 0.0]);
    clip_grad_norm(&m, &mut g, 1.0);
    let w: Vec<f32> = g
        .get::<2>(m.weight.id)
        .unwrap()
        .into_data()
        .try_to_vec::<f32>()
        .unwrap();
    close(&w, &[0.3, 0.4, 0.0, 0.0], 0.0);
}

#[test]
fn ema_follows_yolo_formula() {
    let mut m = two([[1.0, 1.0], [1.0, 1.0]], [0.0, 0.0]);
    let cfg = EmaConfig {
        decay: 0.9,
        tau: Some(2.0),
    };
    let mut ema = ModelEma::new(&m, cfg.clone());
    m = two([[3.0, 3.0], [3.0, 3.0]], [2.0, 2.0]).map_ids_from(&m);
    ema.update(&m);
    let d1 = 0.9 * (1.0 - (-0.5f64).exp());
    let e1 = d1 * 1.0 + (1.0 - d1) * 3.0;
    let b1 = (1.0 - d1) * 2.0;
    m = two([[5.0, 5.0], [5.0, 5.0]], [4.0, 4.0]).map_ids_from(&m);
    ema.update(&m);
    let d2 = 0.9 * (1.0 - (-1.0f64).exp());
    let e2 = d2 * e1 + (1.0 - d2) * 5.0;
    let b2 = d2 * b1 + (1.0 - d2) * 4.0;
    let v = values(&ema.model);
    close(&v[0], &[e2 as f32; 4], 1e-6);
    close(&v[1], &[b2 as f32; 2], 1e-6);
    assert_eq!(ema.updates, 2);
    assert_eq!(
        EmaConfig {
            decay: 0.5,
            tau: None
        }
        .decay_at(7),
        0.5
    );
}

#[test]
fn weighted_average_of_a_parameter_subset() {
    let m1 = two([[1.0, 2.0], [3.0, 4.0]], [10.0, 20.0]);
    let m2 = two([[5.0, 6.0], [7.0, 8.0]], [30.0, 40.0]).map_ids_from(&m1);
    let cfg = AverageConfig {
        params: vec!["^bias$".into()],
        weights: vec![1.0, 3.0],
    };
    let mut avg = WeightedAverage::new(cfg.group().unwrap());
    avg.add(&m1, cfg.weight(1));
    avg.add(&m2, cfg.weight(2));
    assert_eq!(cfg.weight(3), 0.0);
    let out = avg.apply(m2.clone());
    let v = values(&out);
    close(&v[0], &[5.0, 6.0, 7.0, 8.0], 0.0); // not chosen: current value
    close(&v[1], &[25.0, 35.0], 1e-5); // (1*10 + 3*30)/4, (1*20 + 3*40)/4
    let g = AverageConfig::gaussian(vec![], 20, 15.0, 1.0);
    assert!((g.weights.iter().sum::<f64>() - 1.0).abs() < 1e-12);
    let peak = g.weights.iter().cloned().fold(0.0, f64::max);
    assert_eq!(g.weight(15), peak);
    assert!((g.weight(14) - g.weight(16)).abs() < 1e-15);
}

/// One optimizer step on `m` with gradients (gw, gb) at learning rate `lr`.
fn step(optim: &mut burn::optim::ModuleOptimizer, m: Two, gw: [[f32; 2]; 2], gb: [f32; 2], lr: f64) -> Two {
    let g = grads(&m, gw, gb);
    optim.step(lr, m, g)
}

#[test]
fn sgd_nesterov_weight_decay_matches_torch() {
    // torch.optim.SGD(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01), constant grad 1.
    let cfg = OptimizerConfig {
        kind: OptimizerKind::Sgd,
        lr: 0.1,
        momentum: 0.9,
        nesterov: true,
        weight_decay: Some(0.01),
        ..Default::default()
    };
    let mut optim = cfg.init(0).unwrap();
    let mut m = trainable([[1.0; 2]; 2], [1.0; 2]);
    let (mut p, mut buf) = (1.0f64, 0.0f64);
    for t in 0..3 {
        m = step(&mut optim, m, [[1.0; 2]; 2], [1.0; 2], 0.1);
        let d = 1.0 + 0.01 * p;
        buf = if t == 0 { d } else { 0.9 * buf + d };
        p -= 0.1 * (d + 0.9 * buf);
    }
    close(&values(&m)[0], &[p as f32; 4], 1e-6);
}

#[test]
fn adamw_and_groups_match_torch() {
    // torch.optim.AdamW(lr=0.01, weight_decay=0.01 default, eps=1e-8), grad g_t = 0.5 * t.
    let cfg = OptimizerConfig {
        kind: OptimizerKind::AdamW,
        lr: 0.01,
        groups: vec![ParamGroupConfig {
            params: "bias$".into(),
            weight_decay: Some(0.0),
            lr_scale: 0.0,
            warmup_start_lr: None,
        }],
        ..Default::default()
    };
    let mut optim = cfg.init(0).unwrap();
    let mut sched = cfg.scheduler(&ScheduleConfig::default(), 1, 3).unwrap();
    let mut m = trainable([[1.0; 2]; 2], [1.0; 2]);
    let (mut p, mut m1, mut v1) = (1.0f64, 0.0f64, 0.0f64);
    for t in 1..=3 {
        let g = 0.5 * t as f64;
        let lr = sched.step();
        let gr = grads(&m, [[g as f32; 2]; 2], [g as f32; 2]);
        m = optim.step(lr, m, gr);
        p *= 1.0 - 0.01 * 0.01;
        m1 = 0.9 * m1 + 0.1 * g;
        v1 = 0.999 * v1 + 0.001 * g * g;
        let mh = m1 / (1.0 - 0.9f64.powi(t));
        let vh = v1 / (1.0 - 0.999f64.powi(t));
        p -= 0.01 * mh / (vh.sqrt() + 1e-8);
    }
    let v = values(&m);
    close(&v[0], &[p as f32; 4], 1e-6);
    // The bias group has lr_scale 0: unchanged.
    close(&v[1], &[1.0; 2], 0.0);
}

/// Gives new values the parameter ids of an existing module (as an optimizer step would).
trait SameIds {
    fn map_ids_from(self, other: &Two) -> Two;
}

impl SameIds for Two {
    fn map_ids_from(self, other: &Two) -> Two {
        Two {
            weight: Param::initialized(other.weight.id, self.weight.val()),
            bias: Param::initialized(other.bias.id, self.bias.val()),
        }
    }
}

#[test]
fn yolo_warmup_of_momentum_and_bias_rate_matches_the_reference() {
    // train_dual.py over a 4-step warmup: before each step, momentum = interp(t, [0, 4],
    // [0.8, 0.937]); the bias rate = interp(t, [0, 4], [0.1, lr(t)]), the weight rate
    // interp(t, [0, 4], [0, lr(t)]); torch SGD (Nesterov, weight decay 5e-4 on the weight only)
    // then applies them. Constant gradient 1; lr(t) decays linearly from 0.01 to 1e-4 over 8 steps.
    use zoo_train::schedule::{Decay, Unit};
    let cfg = OptimizerConfig {
        kind: OptimizerKind::Sgd,
        lr: 0.01,
        momentum: 0.937,
        nesterov: true,
        weight_decay: Some(5e-4),
        warmup_momentum: Some(0.8),
        groups: vec![ParamGroupConfig {
            params: "bias$".into(),
            weight_decay: Some(0.0),
            lr_scale: 1.0,
            warmup_start_lr: Some(0.1),
        }],
        ..Default::default()
    };
    let schedule = ScheduleConfig {
        unit: Unit::Step,
        decay: Decay::Linear,
        final_factor: 0.01,
        warmup_epochs: 2.0,
        ..Default::default()
    };
    // 2 steps per epoch, 4 epochs: warmup_epochs 2 -> 4 steps.
    let s = zoo_train::schedule::Schedule::new(schedule.clone(), 0.01, 2, 4).unwrap();
    assert_eq!(s.warmup_steps(), 4);
    let mut optim = cfg.init(4).unwrap();
    let mut sched = cfg.scheduler(&schedule, 2, 4).unwrap();
    let mut m = trainable([[1.0; 2]; 2], [1.0; 2]);
    let (mut w, mut b, mut bw, mut bb) = (1.0f64, 1.0f64, 0.0f64, 0.0f64);
    for t in 0..6 {
        let lr = sched.step();
        let gr = grads(&m, [[1.0; 2]; 2], [1.0; 2]);
        m = optim.step(lr, m, gr);
        let decayed = 0.01 * (1.0 - 0.99 * t as f64 / 8.0);
        let f = (t as f64 / 4.0).min(1.0);
        let mom = 0.8 + (0.937 - 0.8) * f;
        let (lr_w, lr_b) = if t < 4 {
            (decayed * f, 0.1 + (decayed - 0.1) * f)
        } else {
            (decayed, decayed)
        };
        let gw = 1.0 + 5e-4 * w;
        bw = if t == 0 { gw } else { mom * bw + gw };
        w -= lr_w * (gw + mom * bw);
        bb = if t == 0 { 1.0 } else { mom * bb + 1.0 };
        b -= lr_b * (1.0 + mom * bb);
        let v = values(&m);
        close(&v[0], &[w as f32; 4], 1e-6);
        close(&v[1], &[b as f32; 2], 1e-6);
    }
    // The step count is part of the optimizer's record: a resumed run continues the ramp.
    let record = optim.to_record();
    assert!(!record.is_empty());
}
