"""Runs burnzoo's `bench` binary and bench_torch.py on the same machine, one case after the other,
and writes a Markdown table of ratios (ours / reference, items per second; > 1 means burnzoo is
faster) into BENCHMARKS.md: only the section of the chosen group (between the markers
`<!-- bench:GROUP -->` and `<!-- /bench:GROUP -->`, appended when missing), so that the other
sections and their commentary stay.

    cargo build --release --bin bench
    python weights/reference/bench_compare.py --group evonorm [--bench target/release/bench] [--out BENCHMARKS.md]
    YOLO_OFFLINE=1 YOLO_CONFIG_DIR=/tmp/ycfg unshare -n python weights/reference/bench_compare.py --group all
    YOLO_OFFLINE=1 YOLO_CONFIG_DIR=/tmp/ycfg unshare -n python weights/reference/bench_compare.py --group yolov9 --iters 5

Groups: evonorm, resnet, resnet-norms, ebv, aranyani, ponita, clip, promptsrc, yolov9 (see
CASES); a group's default iteration counts are in ITERS (aranyani's steps take microseconds).
"""
import argparse
import datetime
import json
import os
import platform
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))

# group -> [(our model, reference model, onnxruntime model or None, mode, batch, size)]
CASES = {
    "evonorm": [
        ("evonorm-s0", "evonorm-s0", None, "infer", 32, 56),
        ("evonorm-s0", "evonorm-s0", None, "train", 32, 56),
        ("evonorm-b0", "evonorm-b0", None, "infer", 32, 56),
        ("evonorm-b0", "evonorm-b0", None, "train", 32, 56),
    ],
    # ResNet-26 with BN-ReLU (timm's `resnet26`), 8 images of 224x224; inference also with the
    # batch norms folded into the convolutions (ours: ResNet::fuse; PyTorch: torch.fx's fuse).
    "resnet": [("resnet26", "resnet26", None, mode, 8, 224) for mode in ("infer", "train")]
    + [("resnet26-fused", "resnet26-fused", None, "infer", 8, 224)],
    # ResNet-26 with each other norm zoo-resnet offers (GroupNorm-ReLU and every EvoNorm).
    "resnet-norms": [
        (f"resnet26-{n}", f"resnet26-{n}", None, mode, 8, 224)
        for n in ["gn"] + [f"evonorm-{v}" for v in ("b0", "b1", "b2", "s0", "s0a", "s1", "s1a", "s2", "s2a")]
        for mode in ("infer", "train")
    ],
    # The EBV head on 256 features of d = 1000 against 1000 classes; one generator step at the
    # sizes of bench_ebv_generator.py (N = d = 1000; N = 10000 in d = 512).
    "ebv": [("ebv-head", "ebv-head", None, mode, 256, 1000) for mode in ("infer", "train")]
    + [("ebv-generator", "ebv-generator", None, "train", n, d) for n, d in ((1000, 1000), (10000, 512))],
    # One online update at batch 1 on Adult's width (14 features), without and with the fairness
    # gradient (lambda 1).
    "aranyani": [(m, m, None, "train", 1, 14) for m in ("aranyani", "aranyani-fair")],
    # The paper's N-body network on 100 five-particle systems (bench_torch.py's `ponita`).
    "ponita": [("ponita", "ponita", None, mode, 100, 5) for mode in ("infer", "train")],
    # ViT-B/16 and tiny towers, 8 images (224x224, 32x32) or 8 texts (77 tokens); also against
    # onnxruntime.
    "clip": [
        ("clip-image", "clip-image", "clip-image-onnx", "infer", 8, 224),
        ("clip-text", "clip-text", "clip-text-onnx", "infer", 8, 77),
        ("clip-image-tiny", "clip-image-tiny", "clip-image-tiny-onnx", "infer", 8, 32),
        ("clip-text-tiny", "clip-text-tiny", "clip-text-tiny-onnx", "infer", 8, 77),
    ],
    # 4 images, 15 classes (a base half), tiny CLIP and ViT-B/16.
    "promptsrc": [
        (m, m, None, mode, 4, 15) for m in ("promptsrc-tiny", "promptsrc-vit-b16") for mode in ("train", "infer")
    ],
    # Fused (deploy) GELAN-T and GELAN-S with ultralytics' head, the same graph on both sides;
    # and a training step of the unfused T (4 images of 320x320).
    "yolov9": [
        (f"ultralytics-yolov9{s}-fused", f"ultralytics-yolov9{s}-fused", f"ultralytics-yolov9{s}-onnx", "infer", b, 640)
        for s in "ts" for b in (1, 8)
    ]
    + [
        ("ultralytics-yolov9c-fused", "ultralytics-yolov9c-fused", "ultralytics-yolov9c-onnx", "infer", 1, 640),
        ("ultralytics-yolov9t", "ultralytics-yolov9t", None, "infer", 1, 640),
        ("ultralytics-yolov9c", "ultralytics-yolov9c", None, "infer", 1, 640),
        ("ultralytics-yolov9t", "ultralytics-yolov9t", None, "train", 4, 320),
    ],
}

# group -> (iterations, warm-up) when --iters / --warmup are not given (else 20, 3): enough for
# a stable median at each group's step time (aranyani's steps take microseconds).
ITERS = {"aranyani": (2000, 200), "resnet": (10, 2), "resnet-norms": (3, 1), "ebv": (10, 3), "ponita": (10, 3),
         "clip": (5, 1), "promptsrc": (10, 2), "yolov9": (5, 3)}


def run(cmd):
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--bench", default=os.environ.get("BENCH", os.path.join(ROOT, "target", "release", "bench")))
    p.add_argument("--out", default=os.path.join(ROOT, "BENCHMARKS.md"))
    p.add_argument("--iters", type=int)
    p.add_argument("--warmup", type=int)
    p.add_argument("--group", choices=sorted(CASES) + ["all"], required=True,
                   help="one group, or all of them one after the other (each with its default iterations "
                        "unless --iters/--warmup are given)")
    a = p.parse_args()
    for group in sorted(CASES) if a.group == "all" else [a.group]:
        iters, warmup = ITERS.get(group, (20, 3))
        compare(a.bench, a.out, group, iters if a.iters is None else a.iters,
                warmup if a.warmup is None else a.warmup)


def compare(bench, out, group, iters, warmup):
    """Runs `group`'s cases on both sides and writes its section of `out`."""
    a = argparse.Namespace(bench=bench, out=out, group=group, iters=iters, warmup=warmup)
    rows = []
    for ours_name, ref_name, ort_name, mode, batch, size in CASES[a.group]:
        common = ["--mode", mode, "--batch", str(batch), "--size", str(size), "--iters", str(a.iters),
                  "--warmup", str(a.warmup), "--json"]
        ours = run([a.bench, "--model", ours_name] + common)
        torch_script = [sys.executable, os.path.join(HERE, "bench_torch.py")]
        theirs = run(torch_script + ["--model", ref_name] + common)
        ort = run(torch_script + ["--model", ort_name] + common) if ort_name else None
        rows.append((ours_name, mode, batch, size, ours, theirs, ort))
        print(f"{ours_name} {mode} {batch}: {ours['items_per_second']:.2f} vs {theirs['items_per_second']:.2f} items/s",
              file=sys.stderr)
    torch_version = rows[0][5].get("torch", "?") if rows else "?"
    with_ort = any(r[6] for r in rows)
    num = lambda v: f"{v:.2f}" if v >= 1 else f"{v:.4f}"
    ms = lambda r: f"{num(r['median_ms'])} ({num(r['p10_ms'])}-{num(r['p90_ms'])})"
    threads = sorted({r[5].get("threads") for r in rows} - {None})
    torch_threads = ("all cores" if threads == [os.cpu_count()] else
                     f"{' or '.join(map(str, threads))} thread{'s' if threads != [1] else ''}")
    lines = [
        f"<!-- bench:{a.group} -->",
        f"Measured {datetime.date.today().isoformat()} by `weights/reference/bench_compare.py --group {a.group}` on "
        f"{cpu_name()}, {os.cpu_count()} logical cores; burnzoo CPU backend (flex) with all cores against PyTorch "
        f"{torch_version} CPU with {torch_threads}" + (" and onnxruntime CPU" if with_ort else "") + ", in the "
        "same run. Ratio = burnzoo items/s over the reference's (above 1: burnzoo faster). Median of "
        f"{a.iters} iterations after {a.warmup} warm-up.",
        "",
        "| model | mode | batch | size | burnzoo ms (p10-p90) | PyTorch ms (p10-p90) | ratio |"
        + (" onnxruntime ms (p10-p90) | ratio |" if with_ort else ""),
        "|---|---|---|---|---|---|---|" + ("---|---|" if with_ort else ""),
    ]
    for model, mode, batch, size, o, t, r in rows:
        line = (f"| {model} | {mode} | {batch} | {size} | {ms(o)} | {ms(t)} "
                f"| {o['items_per_second'] / t['items_per_second']:.2f} |")
        if with_ort:
            line += f" {ms(r)} | {o['items_per_second'] / r['items_per_second']:.2f} |" if r else " - | - |"
        lines.append(line)
    lines.append(f"<!-- /bench:{a.group} -->")
    section = "\n".join(lines)
    text = open(a.out).read() if os.path.exists(a.out) else "# Benchmarks\n"
    start, end = f"<!-- bench:{a.group} -->", f"<!-- /bench:{a.group} -->"
    if start in text and end in text:
        text = text[: text.index(start)] + section + text[text.index(end) + len(end):]
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    with open(a.out, "w") as f:
        f.write(text)
    print(f"wrote the {a.group} section of {a.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
