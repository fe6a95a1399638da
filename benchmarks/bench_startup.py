#!/usr/bin/env python3
"""Start-up and memory: `scratchmlp --help`, a cached data load, and a whole training job.

    .venv/bin/python benchmarks/bench_startup.py [--job-epochs 3] [--skip-torch]

The whole job is `scratchmlp train` as users run it (data load, per-epoch checkpoints,
metrics, two PNGs) against a PyTorch script doing the same job (`--torch-job`); each one's
peak RSS is its own process's (os.wait4). Targets: docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve()
sys.path.insert(0, str(HERE.parent))
import workers  # noqa: E402 (beside this file)


def torch_job(epochs: int, out: Path):
    """Train, checkpoint every epoch, write metrics.csv, curves.png and predictions.png."""
    import torch

    from contenders import TorchRunner
    from scratchmlp.data import LABELS, load
    from scratchmlp.report import plot_curves, plot_predictions

    out.mkdir(parents=True, exist_ok=True)
    data = load()
    runner = TorchRunner(data, 256, 256)
    rows = []
    for epoch in range(1, epochs + 1):
        start = time.perf_counter()
        row = {"epoch": epoch, **runner.epoch()}
        row["seconds"] = time.perf_counter() - start
        rows.append(row)
        for name, state in (("checkpoint.pt", {"model": runner.net.state_dict(),
                                               "optimizer": runner.optimizer.state_dict(),
                                               "epoch": epoch}),
                            ("model.pt", runner.net.state_dict())):
            torch.save(state, out / (name + ".tmp"))
            os.replace(out / (name + ".tmp"), out / name)
        with open(out / "metrics.csv", "w") as f:
            f.write("epoch,train_loss,train_acc,test_acc,seconds\n")
            for r in rows:
                f.write(f"{r['epoch']},{r['train_loss']:.6f},{r['train_acc']:.6f},"
                        f"{r['test_acc']:.6f},{r['seconds']:.6f}\n")
    plot_curves(rows, out / "curves.png", title="MLP 784-256-10 (PyTorch)")
    images = data.test_images[:12]
    with torch.no_grad():
        guesses = runner.net(torch.from_numpy(images).float().div_(255)).argmax(1).tolist()
    plot_predictions(images, data.test_labels[:12].tolist(), guesses, LABELS,
                     out / "predictions.png")


def run_job(cmd) -> dict:
    """Run a command to its end: its own peak RSS (os.wait4) and wall time."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    output = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        raise RuntimeError(f"{cmd} failed ({code}):\n{output.decode(errors='replace')}")
    return {"peak_rss_mb": usage.ru_maxrss / 1024, "wall_s": wall, "command": " ".join(cmd)}


def scratchmlp_command() -> list:
    script = Path(sys.executable).with_name("scratchmlp")
    return [str(script)] if script.exists() else [sys.executable, "-m", "scratchmlp"]


def run_jobs(epochs: int, with_torch: bool) -> dict:
    jobs = {"epochs": epochs}
    with tempfile.TemporaryDirectory(prefix="scratchmlp-bench-") as tmp:
        cmd = scratchmlp_command() + ["train", "--epochs", str(epochs), "--out",
                                      f"{tmp}/scratchmlp", "--no-progress"]
        print(f"  {' '.join(cmd[-6:])} ...", flush=True)
        jobs["scratchmlp"] = run_job(cmd)
        print(f"    peak RSS {jobs['scratchmlp']['peak_rss_mb']:.0f} MB", flush=True)
        if with_torch:
            print("  the PyTorch script, same job ...", flush=True)
            jobs["torch"] = run_job([sys.executable, str(HERE), "--torch-job", str(epochs),
                                     "--out", f"{tmp}/torch"])
            print(f"    peak RSS {jobs['torch']['peak_rss_mb']:.0f} MB", flush=True)
    return jobs


LOAD_PROBE = ("from scratchmlp.data import load; import time; t = time.perf_counter(); d = load(); "
              "print(time.perf_counter() - t)")


def run_startup(repeats: int) -> dict:
    helps = [run_job(scratchmlp_command() + ["--help"])["wall_s"] for _ in range(repeats)]
    print(f"  scratchmlp --help: median {statistics.median(helps):.3f} s", flush=True)
    subprocess.run([sys.executable, "-c", LOAD_PROBE], check=True, capture_output=True)
    loads = []
    for _ in range(repeats):  # the load alone, after `import numpy` that every command pays
        done = subprocess.run([sys.executable, "-c", LOAD_PROBE], check=True,
                              capture_output=True, text=True)
        loads.append(float(done.stdout.strip().splitlines()[-1]))
    print(f"  cached data load: median {statistics.median(loads):.3f} s", flush=True)
    return {"help_s": statistics.median(helps), "help_all_s": helps,
            "cached_load_s": statistics.median(loads), "cached_load_all_s": loads}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--repeats", type=workers.whole_number(1), default=7)
    p.add_argument("--job-epochs", type=workers.whole_number(1), default=3)
    p.add_argument("--skip-torch", action="store_true")
    p.add_argument("--skip-jobs", action="store_true")
    p.add_argument("--json", metavar="PATH")
    p.add_argument("--torch-job", type=int, metavar="EPOCHS", help=argparse.SUPPRESS)
    p.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.torch_job:
        return torch_job(args.torch_job, args.out)
    result = {"machine_before": workers.machine()}
    print("start-up:", flush=True)
    result["startup"] = run_startup(args.repeats)
    if not args.skip_jobs:
        print(f"whole job, {args.job_epochs} epochs:", flush=True)
        result["jobs"] = run_jobs(args.job_epochs,
                                  not args.skip_torch and workers.torch_available())
    result["machine_after"] = workers.machine()
    workers.save_result(result, args.json, "startup")
    return 0


if __name__ == "__main__":
    sys.exit(main())
