//! The training loop end to end on the demo perceptron: learning, data-parallel and accumulation
//! equivalences, exact resume (in process), NaN handling, outputs.

use burn::tensor::Device;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};
use zoo_datasets::synthetic::Spirals;
use zoo_datasets::{Dataset, InMemory, LabeledVector, VectorBatcher};
use zoo_train::average::AverageConfig;
use zoo_train::ema::EmaConfig;
use zoo_train::mlp::{MlpRun, train};
use zoo_train::params::max_abs_diff;
use zoo_train::{Data, NoHooks, TrainError, Trainer};

fn small_run(epochs: usize) -> MlpRun {
    let mut run = MlpRun {
        data: Spirals {
            points_per_class: 100,
            test_points_per_class: 50,
            ..Spirals::default()
        },
        ..MlpRun::default()
    };
    run.train.epochs = epochs;
    run.train.batch_size = 16;
    run
}

/// Burn's CPU backend has one process-wide RNG: tests that compare runs for equality must not
/// initialise models concurrently with other tests of this process.
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

fn trainer(run: &MlpRun, devices: Vec<Device>, out: Option<std::path::PathBuf>) -> Trainer {
    let t = Trainer {
        config: run.train.clone(),
        devices,
        out,
        resume: false,
        progress: false,
    };
    t.seed_devices();
    t
}

#[test]
fn mlp_learns_spirals() {
    let _serial = serial();
    let run = MlpRun::default();
    let result = train(&run, &trainer(&run, vec![Device::flex()], None)).unwrap();
    let m = result.last_metrics();
    // A linear model gets about 1/3 here; the perceptron should solve it.
    assert!(m["valid_accuracy"] > 0.9, "{m:?}");
    assert!(
        m["train_loss"] < result.history[0].metrics["train_loss"] / 2.0,
        "{m:?}"
    );
    assert_eq!(result.history.len(), 30);
    assert_eq!(result.best.as_ref().unwrap().metric, "valid_accuracy");
}

#[test]
fn seeds_reproduce_and_differ() {
    let _serial = serial();
    let run = small_run(2);
    let a = train(&run, &trainer(&run, vec![Device::flex()], None)).unwrap();
    let b = train(&run, &trainer(&run, vec![Device::flex()], None)).unwrap();
    assert_eq!(max_abs_diff(&a.model, &b.model), 0.0);
    let mut other = run.clone();
    other.train.seed = 7;
    let c = train(&other, &trainer(&other, vec![Device::flex()], None)).unwrap();
    assert!(max_abs_diff(&a.model, &c.model) > 1e-3);
}

#[test]
fn two_devices_equal_one_device_with_twice_the_batch() {
    let _serial = serial();
    // Device k of step i gets batch 2i+k of size B: the same items as batch i of size 2B on one
    // device, and averaging the two mean-loss gradients equals the full-batch gradient.
    let mut one = small_run(2);
    one.train.batch_size = 32;
    let mut two = one.clone();
    two.train.batch_size = 16;
    // Same data order needs the same permutation: shuffle is per item, so it is shared.
    let a = train(&one, &trainer(&one, vec![Device::flex()], None)).unwrap();
    let b = train(&two, &trainer(&two, vec![Device::flex(), Device::flex()], None)).unwrap();
    assert_eq!(a.steps, b.steps);
    let diff = max_abs_diff(&a.model, &b.model);
    assert!(
        diff < 1e-4,
        "data-parallel diverged from the single-device run by {diff}"
    );
    let mut accum = two.clone();
    accum.train.grad_accumulation = 2;
    let c = train(&accum, &trainer(&accum, vec![Device::flex()], None)).unwrap();
    let diff = max_abs_diff(&a.model, &c.model);
    assert!(
        diff < 1e-4,
        "gradient accumulation diverged from the big-batch run by {diff}"
    );
    // YOLO's nominal batch sums the accumulated gradients: with SGD, at half the rate it equals
    // averaging at the full rate (over whole groups: 18 full batches per epoch).
    let mut mean = accum.clone();
    mean.train.drop_last = true;
    mean.train.optimizer.kind = zoo_train::optim::OptimizerKind::Sgd;
    mean.train.optimizer.lr = 0.2;
    mean.train.optimizer.weight_decay = Some(0.0);
    // A constant rate: with a nominal batch the schedule counts batches, not steps.
    mean.train.schedule = zoo_train::schedule::ScheduleConfig::default();
    let mut nominal = mean.clone();
    nominal.train.grad_accumulation = 1;
    nominal.train.nominal_batch = Some(32);
    nominal.train.optimizer.lr = 0.1;
    let d = train(&mean, &trainer(&mean, vec![Device::flex()], None)).unwrap();
    let e = train(&nominal, &trainer(&nominal, vec![Device::flex()], None)).unwrap();
    assert_eq!(d.steps, e.steps);
    assert!(max_abs_diff(&d.model, &a.model) > 1e-3, "SGD differs from Adam");
    let diff = max_abs_diff(&d.model, &e.model);
    assert!(diff < 1e-4, "summed nominal-batch gradients diverged by {diff}");
    // train_dual.py: accumulate = max(round(nbs / bs), 1) with Python's rounding, weight decay
    // x bs x accumulate / nbs.
    let mut c = nominal.train.clone();
    c.optimizer.weight_decay = Some(5e-4);
    c.nominal_batch = Some(40);
    assert_eq!(c.accumulation(1), 2);
    assert!((c.optimizer_for(1).effective_weight_decay() - 5e-4 * 0.8).abs() < 1e-12);
    c.nominal_batch = Some(64);
    c.batch_size = 8;
    assert_eq!((c.accumulation(1), c.accumulation(2)), (8, 4));
    assert!((c.optimizer_for(2).effective_weight_decay() - 5e-4).abs() < 1e-12);
}

#[test]
fn nominal_batch_ramps_its_accumulation_over_the_warmup_as_train_dual_does() {
    use zoo_train::schedule::{Decay, ScheduleConfig, Unit, Warmup};
    let _serial = serial();
    // train_dual.py at bs 8, nbs 64, nw 120: accumulate = max(1, round(interp(ni, [0, 120], [1, 8])))
    // (numpy rounds ties to even: 1 + 7 x 60 / 120 = 4.5 -> 4), steps at ni once ni - last >= it.
    let mut c = zoo_train::TrainConfig {
        batch_size: 8,
        nominal_batch: Some(64),
        epochs: 50,
        ..Default::default()
    };
    let acc: Vec<usize> = [0, 8, 9, 17, 60, 119, 120, 500]
        .iter()
        .map(|&t| c.accumulation_at(t, 120, 1))
        .collect();
    assert_eq!(acc, [1, 1, 2, 2, 4, 8, 8, 8]);
    // ni 0..8 step every batch; ni 9 needs 2 (step at 10), and so on.
    let ticks = c.warmup_step_ticks(40, 120, 1);
    assert_eq!(&ticks[..11], &[0, 1, 2, 3, 4, 5, 6, 7, 8, 10, 12]);
    assert!(ticks.windows(2).all(|w| w[1] > w[0]) && *ticks.last().unwrap() >= 120);
    // Without a nominal batch nothing ramps.
    c.nominal_batch = None;
    c.grad_accumulation = 3;
    assert_eq!(c.accumulation_at(0, 120, 1), 3);

    // The loop: 300 items at batch 50 = 6 ticks per epoch, full accumulation 200 / 50 = 4, a
    // warmup of 5 ticks: acc(t) = round(1 + 3t/5) = 1, 2, 2, 3, 3, 4. Epoch 1 steps at ticks 0,
    // 2 and 5 (its end), epoch 2 at 9 and 11: 5 steps (4 without the ramp). The schedule counts
    // ticks, so each epoch's last rate is the linear decay's at ticks 5 and 11 of 12.
    let mut run = small_run(2);
    run.train.batch_size = 50;
    run.train.nominal_batch = Some(200);
    run.train.optimizer.kind = zoo_train::optim::OptimizerKind::Sgd;
    run.train.optimizer.lr = 0.01;
    run.train.schedule = ScheduleConfig {
        unit: Unit::Step,
        decay: Decay::Linear,
        final_factor: 0.0,
        warmup: 5,
        warmup_kind: Warmup::Linear,
        ..Default::default()
    };
    assert_eq!(run.train.warmup_step_ticks(6, 5, 1), [0, 2, 5]);
    let r = train(&run, &trainer(&run, vec![Device::flex()], None)).unwrap();
    assert_eq!(r.steps, 5);
    let lrs: Vec<f64> = r.history.iter().map(|h| h.lr).collect();
    for (got, want) in lrs
        .iter()
        .zip([0.01 * (1.0 - 5.0 / 12.0), 0.01 * (1.0 - 11.0 / 12.0)])
    {
        assert!((got - want).abs() < 1e-12, "last rates {lrs:?}");
    }
    // The momentum ramp reads each step's tick: steps 0, 1, 2 sit at ticks 0, 2, 5 of 5.
    let sgd = zoo_train::optim::WarmupSgd {
        momentum: 0.937,
        warmup_momentum: 0.8,
        warmup_steps: 5,
        step_ticks: Some(vec![0, 2, 5].into()),
        nesterov: true,
        dampening: 0.0,
        weight_decay: 0.0,
    };
    let m: Vec<f64> = (0..4).map(|k| sgd.momentum_at(k)).collect();
    assert!(
        (m[0] - 0.8).abs() < 1e-12 && (m[1] - (0.8 + 0.137 * 0.4)).abs() < 1e-12,
        "{m:?}"
    );
    assert_eq!((m[2], m[3]), (0.937, 0.937));
}

#[test]
fn resume_after_max_steps_is_exact_with_ema_and_averaging() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let mut run = small_run(3);
    run.train.ema = Some(EmaConfig {
        decay: 0.9,
        tau: Some(5.0),
    });
    run.train.checkpoint_every_steps = Some(4);
    let full = train(
        &run,
        &trainer(&run, vec![Device::flex()], Some(dir.path().join("full"))),
    )
    .unwrap();

    // Stop mid-epoch (19 steps per epoch), then resume twice.
    let out = dir.path().join("split");
    let mut first = trainer(&run, vec![Device::flex()], Some(out.clone()));
    first.config.max_steps = Some(23);
    let part = train(&run, &first).unwrap();
    assert!(part.stopped_early);
    assert_eq!(part.steps, 23);
    let mut second = trainer(&run, vec![Device::flex()], Some(out.clone()));
    second.resume = true;
    second.config.max_steps = Some(10);
    let part = train(&run, &second).unwrap();
    assert_eq!((part.resumed_from, part.steps), (Some(23), 33));
    let mut third = trainer(&run, vec![Device::flex()], Some(out.clone()));
    third.resume = true;
    let resumed = train(&run, &third).unwrap();
    assert_eq!(resumed.steps, full.steps);
    assert_eq!(
        max_abs_diff(&full.model, &resumed.model),
        0.0,
        "EMA model differs after resume"
    );
    // Metrics of every epoch, the resumed ones included (partial-epoch means are checkpointed).
    // Compared to 1e-12: reductions of the CPU backend may round differently when other tests
    // run in parallel threads of this process.
    assert_eq!(full.history.len(), resumed.history.len());
    for (f, r) in full.history.iter().zip(&resumed.history) {
        assert_eq!(
            f.metrics.keys().collect::<Vec<_>>(),
            r.metrics.keys().collect::<Vec<_>>()
        );
        for (k, v) in &f.metrics {
            assert!(
                (v - r.metrics[k]).abs() <= 1e-12 * v.abs().max(1.0),
                "epoch {} {k}: {v} vs {}",
                f.epoch,
                r.metrics[k]
            );
        }
    }

    // Weighted averaging state survives a resume too.
    let mut run = small_run(3);
    run.train.average = Some(AverageConfig {
        params: vec!["^head\\.".into()],
        weights: vec![0.2, 0.3, 0.5],
    });
    let full = train(
        &run,
        &trainer(&run, vec![Device::flex()], Some(dir.path().join("avg-full"))),
    )
    .unwrap();
    let out = dir.path().join("avg-split");
    let mut first = trainer(&run, vec![Device::flex()], Some(out.clone()));
    first.config.max_steps = Some(38); // exactly two epochs
    train(&run, &first).unwrap();
    let mut second = trainer(&run, vec![Device::flex()], Some(out));
    second.resume = true;
    let resumed = train(&run, &second).unwrap();
    assert_eq!(
        max_abs_diff(&full.model, &resumed.model),
        0.0,
        "averaged model differs after resume"
    );
}

/// Spirals whose items turn NaN after `clean_draws` training draws.
struct Poisoned {
    data: InMemory<LabeledVector>,
    clean_draws: usize,
    draws: AtomicUsize,
}
impl Dataset<LabeledVector> for Poisoned {
    fn len(&self) -> usize {
        self.data.len()
    }
    fn get(&self, index: usize) -> zoo_datasets::Result<LabeledVector> {
        self.data.get(index)
    }
    fn get_train(&self, index: usize, _: &mut zoo_datasets::Rng) -> zoo_datasets::Result<LabeledVector> {
        let mut item = self.data.get(index)?;
        if self.draws.fetch_add(1, Ordering::SeqCst) >= self.clean_draws {
            item.features[0] = f32::NAN;
        }
        Ok(item)
    }
}

#[test]
fn nan_loss_stops_before_the_update_and_keeps_the_checkpoint() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let run = small_run(3);
    let (train_set, _) = run.data.split();
    let t = trainer(&run, vec![Device::flex()], Some(dir.path().to_path_buf()));
    // 300 items per epoch in 19 batches of 16: the first poisoned draw is in the 7th batch of
    // epoch 2, i.e. at step 19 + 6.
    let data = Poisoned {
        data: train_set,
        clean_draws: 300 + 6 * 16,
        draws: AtomicUsize::new(0),
    };
    let model = run.model.init(&Device::flex());
    let err = t
        .fit(
            model,
            Data {
                train: &data,
                valid: None,
                batcher: &VectorBatcher,
            },
            &mut NoHooks,
        )
        .unwrap_err();
    match &err {
        TrainError::NonFinite {
            epoch, step, value, ..
        } => {
            assert_eq!((*epoch, *step), (2, 19 + 6));
            assert!(value.is_nan());
        }
        other => panic!("expected NonFinite, got {other}"),
    }
    let msg = err.to_string();
    assert!(
        msg.contains("last good checkpoint") && msg.contains("ckpt-0000000019"),
        "{msg}"
    );
    let store = zoo_weights::CheckpointStore::new(dir.path().join("checkpoints"));
    let latest = store.latest().unwrap();
    assert_eq!(latest.step, 19);
    let restored = zoo_weights::load_module(
        run.model.init(&Device::flex()),
        latest.part_path("model.bpk").unwrap(),
    )
    .unwrap();
    assert!(
        zoo_train::params::values(&restored)
            .iter()
            .flatten()
            .all(|v| v.is_finite())
    );
}

#[test]
fn outputs_are_written() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let run = small_run(2);
    let t = trainer(&run, vec![Device::flex()], Some(dir.path().to_path_buf()));
    train(&run, &t).unwrap();
    for f in [
        "model.bpk",
        "best.bpk",
        "metrics.json",
        "log.jsonl",
        "loss.png",
        "metrics.png",
    ] {
        assert!(dir.path().join(f).is_file(), "missing {f}");
    }
    let metrics: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("metrics.json")).unwrap()).unwrap();
    assert_eq!(metrics["epochs"], 2);
    assert!(metrics["final"]["valid_accuracy"].as_f64().unwrap() > 0.3);
    let log = std::fs::read_to_string(dir.path().join("log.jsonl")).unwrap();
    assert_eq!(
        log.lines().filter(|l| l.contains("\"event\":\"epoch\"")).count(),
        2
    );
    let png = std::fs::read(dir.path().join("loss.png")).unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    // keep_checkpoints = 2
    let ckpts = zoo_weights::CheckpointStore::new(dir.path().join("checkpoints")).complete();
    assert_eq!(ckpts.iter().map(|c| c.step).collect::<Vec<_>>(), vec![19, 38]);
}
