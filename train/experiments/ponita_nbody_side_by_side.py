"""PONITA on N-body side by side with the anchor's own training code (issue 28).

The reference side is ebekkers/ponita as published: its `main_nbody.py` data pipeline
(`make_pyg_loader`: `NBodyDataset`, frames 30 -> 40, `RadiusGraph(1000, loop=True)`), its
LightningModule `lightning_wrappers/nbody.py::PONITA_NBODY` (random SO(3) rotation of every
training system, position MSE, Adam with weight decay on Linear weights only, the
`CosineWarmupScheduler` per epoch) and main_nbody's Trainer settings (gradient clipping 0.5,
validation every 5 epochs, best-validation checkpoint, test on it). Only the driver is ours: it
builds main_nbody's `args` with the flags below and adds a callback that also scores the test set
at every validation, so both sides give a test-MSE curve. Our side is `train-ponita`, which logs
test MSE at every validation.

Three shims let it run on today's PyPI packages: `torch_scatter.scatter_mean` (index_add / count)
and `torch_geometric.nn.radius_graph` (pairs within a batch closer than r, self-loops optional)
stand in for compiled extensions that have no wheels on PyPI (on these 5-particle systems with
radius 1000 the graph is complete either way), and PyG's `BaseTransform` loses its abstract
`forward`, which PyG 2.4 added after the anchor's transforms were written against `__call__`.

Shared recipe (the paper's N-body recipe, shortened and narrowed to fit a 2-core CPU): 16
orientations, 5 layers, HIDDEN channels with a basis of twice that (the paper: 128 / 256), degree
3, widening 4, layer scale 1e-6, readouts after every layer, batch 100, Adam 1e-3, weight decay
1e-10, cosine over EPOCHS per epoch, no warm-up (`--warmup 0` on the anchor: our binary has none),
clipping 0.5, the first MAX_TRAIN training systems, all 2,000 validation and 2,000 test systems.
The anchor's orientation grid comes from its repulsion with the global torch RNG; ours runs with
`--grid repulsion` (and, for the seeds in `--fibonacci-seeds`, on its default Fibonacci grid).

    cargo build --release --bin train-ponita --bin eval-ponita
    target/release/eval-ponita nbody-generate --out /tmp/nbody        # the nbody_small content
    git clone https://github.com/ebekkers/ponita /tmp/ponita-ref       # or an export of it
    python train/experiments/ponita_nbody_side_by_side.py --ponita-repo /tmp/ponita-ref \\
        --data /tmp/nbody --out /tmp/side/ponita --epochs 50 --hidden 64 --max-train 1000 --seeds 0,1,2

Needs torch, torch_geometric, pytorch_lightning and torchmetrics (a venv; never run by cargo test).
Prints and writes a Markdown table (test MSE at every validation, mean +- std over seeds; the test
MSE of the best-validation checkpoint; seconds per epoch, ours including its test pass at each
validation) and `curves.json`.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time
import types

from common import binary, mean_std, train_run, write_table


def install_shims():
    """torch_scatter.scatter_mean and torch_geometric.nn.radius_graph in plain torch."""
    import torch
    import torch_geometric.nn
    import torch_geometric.nn.pool

    def scatter_mean(src, index, dim=0, dim_size=None):
        assert dim == 0, "the anchor only scatters over dim 0"
        n = int(index.max()) + 1 if dim_size is None else dim_size
        out = torch.zeros((n,) + tuple(src.shape[1:]), dtype=src.dtype, device=src.device)
        out.index_add_(0, index, src)
        count = torch.zeros(n, dtype=src.dtype, device=src.device).index_add_(
            0, index, torch.ones_like(index, dtype=src.dtype))
        return out / count.clamp(min=1).view((-1,) + (1,) * (src.dim() - 1))

    module = types.ModuleType("torch_scatter")
    module.scatter_mean = scatter_mean
    sys.modules.setdefault("torch_scatter", module)

    def radius_graph(x, r, batch=None, loop=False, max_num_neighbors=32, flow="source_to_target", **_):
        if batch is None:
            batch = torch.zeros(x.shape[0], dtype=torch.long, device=x.device)
        close = (torch.cdist(x, x) <= r) & (batch[:, None] == batch[None, :])
        if not loop:
            close.fill_diagonal_(False)
        target, source = close.nonzero(as_tuple=True)
        rank = torch.cumsum(close.long(), 1)[target, source]  # 1-based rank among target's sources
        keep = rank <= max_num_neighbors
        source, target = source[keep], target[keep]
        return torch.stack([source, target] if flow == "source_to_target" else [target, source])

    torch_geometric.nn.radius_graph = radius_graph
    torch_geometric.nn.pool.radius_graph = radius_graph

    # The anchor's transforms override `__call__` (PyG 2.3's API); PyG >= 2.4 also declares
    # `forward` abstract, which they do not define.
    from torch_geometric.transforms import BaseTransform
    BaseTransform.__abstractmethods__ = frozenset()


def reference_run(args, seed, out):
    """One run of the anchor's code; writes out/curve.json."""
    import torch
    torch.set_num_threads(args.threads)
    install_shims()
    repo = os.path.abspath(args.ponita_repo)
    sys.path.insert(0, repo)
    # NBodyDataset reads n_body_system/dataset/*_charged5_initvel1small.npy from the working
    # directory: link our files there under the published names.
    work = os.path.join(out, "work")
    os.makedirs(os.path.join(work, "n_body_system", "dataset"), exist_ok=True)
    for kind in ("loc", "vel", "edges", "charges"):
        for split in ("train", "valid", "test"):
            link = os.path.join(work, "n_body_system", "dataset", f"{kind}_{split}_charged5_initvel1small.npy")
            if not os.path.exists(link):
                os.symlink(os.path.abspath(os.path.join(args.data, f"{kind}_{split}.npy")), link)
    os.chdir(work)

    import pytorch_lightning as pl
    from main_nbody import make_pyg_loader
    from n_body_system.dataset_nbody import NBodyDataset
    from lightning_wrappers.callbacks import EpochTimer
    from lightning_wrappers.nbody import PONITA_NBODY

    ns = argparse.Namespace(
        epochs=args.epochs, warmup=0, batch_size=100, lr=1e-3, weight_decay=1e-10, log=False,
        enable_progress_bar=False, num_workers=0, seed=seed, val_interval=5, train_augm=True,
        max_training_samples=args.max_train, dataset="nbody_small", radius=None, loop=True,
        num_ori=16, hidden_dim=args.hidden, basis_dim=2 * args.hidden, degree=3, layers=5,
        widening_factor=4, layer_scale=1e-6, multiple_readouts=True, gpus=0)
    datasets = {
        "train": NBodyDataset(partition="train", dataset_name=ns.dataset, max_samples=ns.max_training_samples),
        "valid": NBodyDataset(partition="val", dataset_name="nbody_small"),
        "test": NBodyDataset(partition="test", dataset_name="nbody_small"),
    }
    loaders = {split: make_pyg_loader(d, batch_size=ns.batch_size, shuffle=(split == "train"),
                                      num_workers=0, radius=ns.radius, loop=ns.loop)
               for split, d in datasets.items()}
    # main_nbody builds the model before seeding (its grid and weights then come from an unseeded
    # RNG); seeding first makes each seed reproducible and changes nothing else.
    pl.seed_everything(seed, workers=True)
    model = PONITA_NBODY(ns)
    # The anchor's basis MLPs start with LazyLinear: one forward materialises them before the
    # optimizer is built (Lightning does not), in eval mode so the kernel calibration still
    # happens on the first training batch as in the anchor.
    model.eval()
    with torch.no_grad():
        model(next(iter(loaders["valid"])))
    model.train()
    pl.seed_everything(seed, workers=True)

    curve = []

    class TestAtValidation(pl.Callback):
        def on_validation_end(self, trainer, module):  # after the module has logged "valid MSE"
            if trainer.sanity_checking:
                return
            se, n = 0.0, 0
            with torch.no_grad():
                for graph in loaders["test"]:
                    pred = module(graph)
                    se += float(((pred - graph.y) ** 2).sum())
                    n += graph.y.numel()
            curve.append({"epoch": trainer.current_epoch + 1, "test_mse": se / n,
                          "valid_mse": float(trainer.callback_metrics["valid MSE"]),
                          "seconds": time.time() - start})

    checkpoint = pl.callbacks.ModelCheckpoint(monitor="valid MSE", mode="min", dirpath=os.path.join(out, "ckpt"))
    trainer = pl.Trainer(logger=False, max_epochs=ns.epochs, callbacks=[checkpoint, EpochTimer(), TestAtValidation()],
                         gradient_clip_val=0.5, accelerator="cpu", devices=1,
                         check_val_every_n_epoch=ns.val_interval, enable_progress_bar=False,
                         num_sanity_val_steps=0, enable_model_summary=False)
    start = time.time()
    trainer.fit(model, loaders["train"], loaders["valid"])
    seconds = time.time() - start
    # The anchor's checkpoints hold the scheduler's numpy learning rates, which torch.load's
    # default weights_only mode refuses: allow those types (our own file).
    import numpy as np
    with torch.serialization.safe_globals([np._core.multiarray.scalar, np.dtype, type(np.dtype(np.float64))]):
        tested = trainer.test(model, loaders["test"], ckpt_path="best", verbose=False)[0]["test MSE"]
    result = {"curve": curve, "best_test_mse": float(tested), "seconds": seconds}
    with open(os.path.join(out, "curve.json"), "w") as f:
        json.dump(result, f, indent=1)
    return result


def ours_run(args, seed, out, grid):
    """One train-ponita run (skipped when finished, resumed when interrupted); its test-MSE curve."""
    train_run(args.binary, out, ["--data-path", args.data, "--hidden", str(args.hidden), "--max-train",
                                 str(args.max_train), "--max-eval", "2000", "--epochs", str(args.epochs),
                                 "--seed", str(seed), "--grid", grid])
    curve, seconds = [], 0.0
    with open(os.path.join(out, "log.jsonl")) as f:
        for line in f:
            event = json.loads(line)
            if event.get("event") != "epoch":
                continue
            seconds += event["seconds"]
            m = event["metrics"]
            if "test_mse" in m:
                curve.append({"epoch": event["epoch"], "test_mse": m["test_mse"],
                              "valid_mse": m["valid_loss"], "seconds": seconds})
    best = min(curve, key=lambda p: p["valid_mse"])
    return {"curve": curve, "best_test_mse": best["test_mse"], "seconds": seconds}


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--ponita-repo", required=True, help="a checkout of github.com/ebekkers/ponita")
    p.add_argument("--data", required=True, help="{loc,vel,edges,charges}_{train,valid,test}.npy")
    p.add_argument("--out", required=True)
    p.add_argument("--binary", default=binary("train-ponita"))
    p.add_argument("--epochs", type=int, default=50)
    p.add_argument("--hidden", type=int, default=64)
    p.add_argument("--max-train", type=int, default=1000)
    p.add_argument("--seeds", default="0,1,2")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--fibonacci-seeds", default="", help="also run ours on its default grid for these seeds")
    p.add_argument("--side", choices=["reference"], help=argparse.SUPPRESS)  # one reference run, in a child
    p.add_argument("--seed", type=int, help=argparse.SUPPRESS)
    args = p.parse_args()
    args.out = os.path.abspath(args.out)
    args.data = os.path.abspath(args.data)
    if args.side == "reference":
        reference_run(args, args.seed, os.path.join(args.out, f"reference-{args.seed}"))
        return

    seeds = [int(s) for s in args.seeds.split(",")]
    sides = {"anchor (ebekkers/ponita)": [], "train-ponita --grid repulsion": []}
    fib_seeds = [int(s) for s in args.fibonacci_seeds.split(",") if s]
    if fib_seeds:
        sides["train-ponita (Fibonacci grid)"] = []
    for seed in seeds:
        ref_out = os.path.join(args.out, f"reference-{seed}")
        if not os.path.exists(os.path.join(ref_out, "curve.json")):
            os.makedirs(ref_out, exist_ok=True)
            cmd = [sys.executable, os.path.abspath(__file__), "--side", "reference", "--seed", str(seed)] + sys.argv[1:]
            r = subprocess.run(cmd, capture_output=True, text=True)
            if r.returncode != 0:
                raise RuntimeError(r.stderr[-4000:])
        with open(os.path.join(ref_out, "curve.json")) as f:
            sides["anchor (ebekkers/ponita)"].append(json.load(f))
        print(f"seed {seed}: anchor done", file=sys.stderr)
        sides["train-ponita --grid repulsion"].append(ours_run(args, seed, os.path.join(args.out, f"ours-{seed}"), "repulsion"))
        if seed in fib_seeds:
            sides["train-ponita (Fibonacci grid)"].append(
                ours_run(args, seed, os.path.join(args.out, f"ours-fib-{seed}"), "fibonacci"))
        print(f"seed {seed}: ours done", file=sys.stderr)

    epochs = [p["epoch"] for p in sides["anchor (ebekkers/ponita)"][0]["curve"]]
    names = list(sides)
    lines = [f"N-body (nbody_small content, first {args.max_train} training systems, 2,000 validation, "
             f"2,000 test), {args.epochs} epochs, hidden {args.hidden}, seeds {args.seeds}: test MSE, "
             f"mean ± std over seeds", "",
             "| epoch | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
    for i, e in enumerate(epochs):
        row = []
        for n in names:
            vals = [r["curve"][i]["test_mse"] for r in sides[n] if i < len(r["curve"])]
            row.append(mean_std(vals, 4) if vals else "-")
        lines.append(f"| {e} | " + " | ".join(row) + " |")
    names_seeds = ", ".join(f"{n}: {len(sides[n])}" for n in names)
    lines.append("| best valid | " + " | ".join(mean_std([r["best_test_mse"] for r in sides[n]], 4) for n in names) + " |")
    lines.append("| s / epoch | " + " | ".join(
        f"{statistics.mean(r['seconds'] for r in sides[n]) / args.epochs:.1f}" for n in names) + " |")
    lines.append(f"\nRuns per column: {names_seeds}.")
    write_table(args.out, lines)
    with open(os.path.join(args.out, "curves.json"), "w") as f:
        json.dump(sides, f, indent=1)


if __name__ == "__main__":
    main()
