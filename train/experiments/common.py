"""Shared by the experiment scripts: one training run (resumed if interrupted, skipped if done) and
the table cell for a list of accuracies. Standard library only."""
import json
import os
import statistics
import subprocess
import time


def binary(name):
    """Path of the release binary `name` in CARGO_TARGET_DIR (the repository's target/ without it)."""
    root = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
    return os.path.join(os.environ.get("CARGO_TARGET_DIR", os.path.join(root, "target")), "release", name)


def train_run(binary, out, flags, data=None, extra="", report_only=False):
    """Runs `binary flags --out out` (or `--resume out` after an interruption; its settings are
    then fixed by its run.json) unless `out` already holds a finished run. Returns the final
    metrics and the seconds taken (None when skipped), or raises with the binary's stderr (or,
    with `report_only`, when the run has not finished)."""
    if os.path.exists(os.path.join(out, "metrics.json")) and os.path.exists(os.path.join(out, "model.bpk")):
        with open(os.path.join(out, "metrics.json")) as f:
            return json.load(f)["final"], None
    if report_only:
        raise RuntimeError("not run (--report-only)")
    if os.path.exists(os.path.join(out, "run.json")):
        cmd = [binary, "--resume", out, "--quiet", "--json"]
    else:
        cmd = [binary] + flags + ["--out", out, "--quiet", "--json"]
        if data:
            cmd += ["--data", data]
        cmd += extra.split()
    t = time.time()
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(r.stderr.strip())
    return json.loads(r.stdout.strip().splitlines()[-1]), time.time() - t


def cell(values):
    """`mean ± std (each)` in percent, or the one value."""
    if not values:
        return "failed"
    if len(values) == 1:
        return f"{100 * values[0]:.1f}"
    each = ", ".join(f"{100 * x:.1f}" for x in values)
    return f"{100 * statistics.mean(values):.1f} ± {100 * statistics.stdev(values):.1f} ({each})"


def mean_std(values, digits):
    """`mean ± std` (sample std) with `digits` decimals, or the one value."""
    if len(values) == 1:
        return f"{values[0]:.{digits}f}"
    return f"{statistics.mean(values):.{digits}f} ± {statistics.stdev(values):.{digits}f}"


def write_table(out, lines):
    """Prints the Markdown table `lines` and writes it to out/table.md."""
    table = "\n".join(lines)
    print(table)
    with open(os.path.join(out, "table.md"), "w") as f:
        f.write(table + "\n")
