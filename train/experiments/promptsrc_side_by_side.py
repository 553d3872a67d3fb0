"""PromptSRC and IVLP trained side by side with the official trainer (issue 28): base-to-novel on
the generated captioned shapes with the committed shapes CLIP.

The reference side is muzairkhattak/PromptSRC as published, on KaiyangZhou/Dassl.pytorch: its
`trainers/promptsrc.py` (deep vision and text prompts, the self-regulating losses, GPA, the 60
templates' frozen text features) and `trainers/independentVL.py` (IVLP), Dassl's data pipeline
(few-shot sampling, `subsample_classes`, `random_resized_crop` + `random_flip` + CLIP
normalisation, bicubic), optimizer, cosine schedule with its constant warm-up epoch, and its
`train` / `test` / `load_model` flow as `scripts/promptsrc/base2new_{train,test}.sh` run it (the
novel classes are tested on the model saved at the last epoch, which for PromptSRC holds the
Gaussian aggregate). The recipe is their `vit_b16_c2_ep20_batch4_4+4ctx.yaml` for both
trainers: SGD 0.0025, batch 4, 20 epochs, one warm-up epoch at 1e-5, 4 + 4 context tokens
initialised from "a photo of a", 16 shots, GPA mean 15 std 1, loss weights 25 / 10, with two
changes for this CLIP: prompt depth J = 3 (the shapes CLIP has 3 layers; the config's 9 needs
12) and float32 (`PREC fp32`: fp16 is for GPUs). Our side is `train-promptsrc --folder` (and
`--ivlp --no-gpa` for IVLP) with its defaults, which are the same recipe.

Shims, all for this CLIP and this machine, none touching the method: the CLIP is built from the
committed `weights/clip_shapes.safetensors` (open_clip = OpenAI layout) with the official
`clip/model.py::CLIP` but with its real head counts (`build_model` infers width // 64 heads,
which is 1 and 0 for widths 64 and 32: the vision attention is given its 4 heads of 16 and the
text transformer is built with 2), no download; `.cuda()` and `.half()` are identities (the
trainer calls them unconditionally, written for an fp16 CLIP on a GPU); torch's LR schedulers
accept Dassl's `verbose` argument again (removed in torch 2.7), and the checkpoint a run has just
written is read back with full unpickling (torch 2.6's weights-only default refuses Dassl's
scheduler objects in it); `clip.tokenize` pads to the shapes CLIP's
context of 32 rather than 77; Dassl's WILDS datasets, which need the `wilds` package, are stubbed
away; a Dassl dataset `ShapesFolder` reads the ImageFolder that both sides train on (labels in
sorted class-folder order, as ours; base = the first half, as `subsample_classes` takes it).
The shimmed CLIP is checked against open_clip's build of the same file (features within 1e-4)
before each run.

    B=target/release; $B/eval-clip shapes-write --split test --seed 1 --out /tmp/shapes-cap/train
    $B/eval-clip shapes-write --split test --seed 2 --out /tmp/shapes-cap/test; rm /tmp/shapes-cap/*/captions.tsv
    git clone https://github.com/muzairkhattak/PromptSRC /tmp/promptsrc-ref
    git clone https://github.com/KaiyangZhou/Dassl.pytorch /tmp/dassl-ref
    python train/experiments/promptsrc_side_by_side.py --promptsrc-repo /tmp/promptsrc-ref \\
        --dassl-repo /tmp/dassl-ref --data /tmp/shapes-cap --out /tmp/side/promptsrc --seeds 1,2,3

Needs torch, torchvision, yacs, ftfy, regex, tabulate, gdown, tensorboard (a venv; never run by
cargo test). Prints and writes a Markdown table: base, novel and HM per method and side, mean
and std over seeds, and seconds per run.
"""
import argparse
import json
import os
import subprocess
import sys
import time
import types

from common import binary, mean_std, train_run, write_table

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
CONFIGS = {"PromptSRC": "configs/trainers/PromptSRC/vit_b16_c2_ep20_batch4_4+4ctx.yaml",
           "IVLP": "configs/trainers/IVLP/vit_b16_c2_ep20_batch4_4+4ctx.yaml"}


def install_shims(a):
    import functools

    import torch
    from safetensors.torch import load_file

    sys.modules["wilds"] = types.SimpleNamespace(get_dataset=None)  # only Dassl's WILDS datasets use it
    # trainers/promptsrc.py calls .cuda() unconditionally and multiplies the frozen image features
    # by `fixed_embeddings.half()` (fp16 CLIP on a GPU); on the CPU in float32 both are identities.
    torch.Tensor.cuda = lambda self, *x, **k: self
    torch.nn.Module.cuda = lambda self, *x, **k: self
    torch.Tensor.half = lambda self, *x, **k: self
    # Dassl's warm-up schedulers pass `verbose`, which torch >= 2.7 no longer takes.
    base_init = torch.optim.lr_scheduler.LRScheduler.__init__
    torch.optim.lr_scheduler.LRScheduler.__init__ = lambda self, opt, last_epoch=-1, verbose=None: base_init(
        self, opt, last_epoch)
    sys.path[:0] = [a.promptsrc_repo, a.dassl_repo]
    from clip import clip as openai_clip
    from clip import model as clip_model

    openai_clip.tokenize = functools.partial(openai_clip.tokenize, context_length=32)

    def load_shapes_clip(cfg, zero_shot_model=False):
        sd = {k: v.float() for k, v in load_file(os.path.join(ROOT, "weights", "clip_shapes.safetensors")).items()}
        if zero_shot_model:
            design = {"trainer": "IVLP", "vision_depth": 0, "language_depth": 0, "vision_ctx": 0, "language_ctx": 0}
        else:
            t = cfg.TRAINER.PROMPTSRC if cfg.TRAINER.NAME == "PromptSRC" else cfg.TRAINER.IVLP
            design = {"trainer": "IVLP", "vision_depth": t.PROMPT_DEPTH_VISION, "language_depth": t.PROMPT_DEPTH_TEXT,
                      "vision_ctx": t.N_CTX_VISION, "language_ctx": t.N_CTX_TEXT}
        # clip/model.py::build_model's arguments, read from the shapes as it reads them, but with
        # the text transformer's 2 heads (build_model: width // 64 = 0).
        model = clip_model.CLIP(sd["text_projection"].shape[1], 32, 3, 64, 8, sd["positional_embedding"].shape[0],
                                sd["token_embedding.weight"].shape[0], sd["ln_final.weight"].shape[0], 2, 3, design)
        for block in model.visual.transformer.resblocks:  # built with width // 64 = 1 head; it has 4 of 16
            block.attn.num_heads, block.attn.head_dim = 4, 16
        missing, unexpected = model.load_state_dict(sd, strict=False)
        prompts = [k for k in missing if "VPT" in k or "ctx" in k]
        if unexpected or len(prompts) != len(missing):
            raise SystemExit(f"shapes CLIP: missing {missing}, unexpected {unexpected}")
        if zero_shot_model:
            check_against_open_clip(model, sd, openai_clip.tokenize)
        return model.eval()

    import trainers.independentVL
    import trainers.promptsrc

    trainers.promptsrc.load_clip_to_cpu = load_shapes_clip
    trainers.independentVL.load_clip_to_cpu = load_shapes_clip
    register_dataset()
    return torch


def check_against_open_clip(model, sd, tokenize):
    """The shimmed build must be the CLIP that open_clip builds from the same file."""
    import open_clip
    import torch

    ref = open_clip.model.CLIP(
        embed_dim=64, quick_gelu=True,
        vision_cfg=dict(image_size=32, patch_size=8, width=64, layers=3, head_width=16, mlp_ratio=4.0),
        text_cfg=dict(context_length=32, vocab_size=49408, width=32, heads=2, layers=3, mlp_ratio=4.0)).eval()
    ref.load_state_dict(sd, strict=False)
    g = torch.Generator().manual_seed(0)
    images = torch.randn(4, 3, 32, 32, generator=g)
    tokens = tokenize(["a photo of a red circle.", "a photo of a blue cross."])
    with torch.no_grad():
        d = max((model.eval().encode_image(images) - ref.encode_image(images)).abs().max().item(),
                (model.encode_text(tokens) - ref.encode_text(tokens)).abs().max().item())
    if not d < 1e-4:
        raise SystemExit(f"the shimmed CLIP differs from open_clip's by {d}")


def register_dataset():
    from dassl.data.datasets import DATASET_REGISTRY, DatasetBase, Datum
    from datasets.oxford_pets import OxfordPets

    @DATASET_REGISTRY.register()
    class ShapesFolder(DatasetBase):
        """ROOT/{train,test}/<class>/*.png; class index in sorted folder order."""

        def __init__(self, cfg):
            root = cfg.DATASET.ROOT
            names = sorted(os.listdir(os.path.join(root, "train")))

            def read(split):
                return [Datum(impath=os.path.join(root, split, n, f), label=i, classname=n)
                        for i, n in enumerate(names) for f in sorted(os.listdir(os.path.join(root, split, n)))]

            train, test = read("train"), read("test")
            shots = cfg.DATASET.NUM_SHOTS
            val = self.generate_fewshot_dataset(train, num_shots=min(shots, 4))
            train = self.generate_fewshot_dataset(train, num_shots=shots)
            train, val, test = OxfordPets.subsample_classes(train, val, test, subsample=cfg.DATASET.SUBSAMPLE_CLASSES)
            super().__init__(train_x=train, val=val, test=test)


def reference_cfg(a, method, seed, subsample, out):
    from dassl.config import get_cfg_default
    from train import extend_cfg  # the official train.py's config extension

    cfg = get_cfg_default()
    extend_cfg(cfg)
    cfg.merge_from_file(os.path.join(a.promptsrc_repo, CONFIGS[method]))
    key = f"TRAINER.{method.upper()}"
    cfg.merge_from_list([
        "TRAINER.NAME", method, "DATASET.NAME", "ShapesFolder", "DATASET.ROOT", a.data,
        "DATASET.NUM_SHOTS", 16, "DATASET.SUBSAMPLE_CLASSES", subsample, "INPUT.SIZE", (32, 32),
        f"{key}.PREC", "fp32", f"{key}.PROMPT_DEPTH_VISION", 3, f"{key}.PROMPT_DEPTH_TEXT", 3,
        "DATALOADER.NUM_WORKERS", 0, "USE_CUDA", False, "SEED", seed, "OUTPUT_DIR", out,
        "OPTIM.MAX_EPOCH", a.epochs, "TRAIN.PRINT_FREQ", 1000,
    ])
    if method == "PromptSRC":
        cfg.merge_from_list(["TRAINER.PROMPTSRC.GPA_MEAN", a.gpa_mean, "TRAINER.PROMPTSRC.GPA_STD", 1])
    cfg.freeze()
    return cfg


def run_reference(a, method, seed):
    """base2new_train.sh then base2new_test.sh, in one process."""
    out = os.path.join(a.out, f"ref-{method}-s{seed}")
    done = os.path.join(out, "result.json")
    if os.path.exists(done):
        return json.load(open(done))
    torch = install_shims(a)
    torch.set_num_threads(1)
    from dassl.engine import build_trainer
    from dassl.utils import set_random_seed

    t = time.time()
    set_random_seed(seed)
    trainer = build_trainer(reference_cfg(a, method, seed, "base", out))
    trainer.train()  # ends by testing the base classes
    base = trainer.test()
    seconds = time.time() - t
    set_random_seed(seed)
    novel_trainer = build_trainer(reference_cfg(a, method, seed, "new", os.path.join(out, "novel")))
    # The checkpoint this process has just written pickles Dassl's scheduler objects, which
    # torch >= 2.6's default weights-only loading refuses.
    os.environ["TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD"] = "1"
    novel_trainer.load_model(out, epoch=a.epochs)
    novel = novel_trainer.test()
    r = {"base": base / 100, "novel": novel / 100, "seconds": seconds}
    json.dump(r, open(done, "w"))
    return r


def run_ours(a, method, seed):
    out = os.path.join(a.out, f"ours-{method}-s{seed}")
    if os.path.exists(os.path.join(out, "result.json")):
        return json.load(open(os.path.join(out, "result.json")))
    flags = ["--folder", a.data, "--seed", str(seed), "--epochs", str(a.epochs)]
    if method == "IVLP":
        flags += ["--ivlp", "--no-gpa"]
    os.environ["RAYON_NUM_THREADS"] = "1"
    final, seconds = train_run(binary("train-promptsrc"), out, flags)
    r = {"base": final["test_base_accuracy"], "novel": final["test_novel_accuracy"], "seconds": seconds}
    json.dump(r, open(os.path.join(out, "result.json"), "w"))
    return r


def hm(b, n):
    return 2 * b * n / (b + n)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--promptsrc-repo", required=True)
    p.add_argument("--dassl-repo", required=True)
    p.add_argument("--data", required=True, help="ImageFolder with train/ and test/ (eval-clip shapes-write)")
    p.add_argument("--out", required=True)
    p.add_argument("--seeds", default="1,2,3")
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--gpa-mean", type=int, default=15)
    p.add_argument("--one", help="internal: SIDE,METHOD,SEED runs one reference run in this process")
    a = p.parse_args()
    a.data = os.path.abspath(a.data)
    if a.one:
        side, method, seed = a.one.split(",")
        print(json.dumps(run_reference(a, method, int(seed))))
        return
    os.makedirs(a.out, exist_ok=True)
    seeds = [int(s) for s in a.seeds.split(",")]
    lines = ["| method | side | base | novel | HM | s per run (1 thread) |", "|---|---|---:|---:|---:|---:|"]
    for method in ("IVLP", "PromptSRC"):
        for side in ("reference", "ours"):
            rs = []
            for s in seeds:
                if side == "ours":
                    rs.append(run_ours(a, method, s))
                else:  # a fresh process per run: Dassl's registries and the shims are global
                    r = subprocess.run([sys.executable, __file__, "--promptsrc-repo", a.promptsrc_repo,
                                        "--dassl-repo", a.dassl_repo, "--data", a.data, "--out", a.out,
                                        "--epochs", str(a.epochs), "--gpa-mean", str(a.gpa_mean),
                                        "--one", f"reference,{method},{s}"], capture_output=True, text=True)
                    if r.returncode != 0:
                        raise SystemExit(r.stdout[-3000:] + r.stderr[-3000:])
                    rs.append(json.loads(r.stdout.strip().splitlines()[-1]))
            b, n = [r["base"] for r in rs], [r["novel"] for r in rs]
            h = [hm(x, y) for x, y in zip(b, n)]
            secs = [r["seconds"] for r in rs if r["seconds"] is not None]
            name = "official trainer" if side == "reference" else "train-promptsrc"
            lines.append(f"| {method} | {name} | {mean_std([100 * x for x in b], 1)} | {mean_std([100 * x for x in n], 1)} "
                         f"| {mean_std([100 * x for x in h], 1)} | {mean_std(secs, 0) if secs else ''} |")
    write_table(a.out, lines)


if __name__ == "__main__":
    main()
