#!/usr/bin/env python3
"""One contender per process, and the driver's side of them.

A worker (`python benchmarks/workers.py KIND --threads N ...`) loads Fashion-MNIST from the
decoded cache once, sets its thread count, runs its warm-up epochs, then answers "epoch" with
one line of JSON (wall and CPU seconds, the metrics) and "quit" with its peak RSS. Its own
process, so its peak RSS is its own and one library's threads never share a process with
another's. Lines to the driver start with TAG; anything else is passed through.

`run_rounds` starts the workers and runs their epochs interleaved, round by round (rotating
the order, with a pause between two epochs), printing each round as soon as it is done; load
changes on a shared machine then hit every contender alike. Ratios are medians of per-round
ratios (`paired_ratio`).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve()
sys.path.insert(0, str(HERE.parent))
TAG = "@@bench "

import contenders  # noqa: E402 (beside this file)


def whole_number(low: int, high: int = 10**6):
    """An argparse type: a whole number from `low` to `high`, else argparse's one-line error."""
    import argparse

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be {low} to {high}, got {value}")
        return value

    return parse


# ---- the worker process ---------------------------------------------------------------------
def _send(message: dict):
    sys.stdout.write(TAG + json.dumps(message) + "\n")
    sys.stdout.flush()


def peak_rss_mb() -> float:
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def blas_info() -> list:
    from threadpoolctl import threadpool_info
    keep = ("user_api", "internal_api", "version", "num_threads", "architecture")
    return [{k: info.get(k) for k in keep} for info in threadpool_info()]


def serve(kind: str, hidden: int, batch: int, threads: int, warmup: int):
    from scratchmlp.data import load

    data = load()
    contenders.use_threads(kind, threads)
    runner = contenders.build(kind, data, hidden, batch)
    warm = []
    for _ in range(warmup):
        start = time.perf_counter()
        runner.epoch()
        warm.append(time.perf_counter() - start)
    extra = {}
    if kind.startswith("torch"):
        import torch
        extra = {"torch": torch.__version__, "torch_threads": torch.get_num_threads()}
    _send({"ready": True, "warmup_seconds": warm, "blas": blas_info(), **extra})
    for line in sys.stdin:
        if line.strip() == "epoch":
            start, cpu = time.perf_counter(), time.process_time()
            metrics = runner.epoch()
            _send({"seconds": time.perf_counter() - start,
                   "cpu_seconds": time.process_time() - cpu, **metrics})
        elif line.strip() == "quit":
            _send({"peak_rss_mb": peak_rss_mb()})
            return


# ---- the driver's side ----------------------------------------------------------------------
def threads_of(kind: str, default: int) -> int:
    """"scratchmlp@1" runs at 1 thread; a plain kind at the driver's --threads."""
    return int(kind.split("@")[1]) if "@" in kind else default


class Worker:
    def __init__(self, kind, hidden, batch, threads, warmup=1):
        self.kind = kind
        self.proc = subprocess.Popen(
            [sys.executable, str(HERE), kind, "--hidden", str(hidden), "--batch", str(batch),
             "--threads", str(threads_of(kind, threads)), "--warmup", str(warmup)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.ready = self._read()

    def _read(self) -> dict:
        for line in self.proc.stdout:
            if line.startswith(TAG):
                return json.loads(line[len(TAG):])
            sys.stderr.write(f"[{self.kind}] {line}")
        raise RuntimeError(f"worker {self.kind} ended (exit {self.proc.wait()})")

    def ask(self, command: str) -> dict:
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        return self._read()

    def close(self) -> dict:
        result = self.ask("quit")
        self.proc.wait()
        return result


def start_workers(kinds, hidden, batch, threads, warmup=1, label="") -> list:
    workers = []
    try:
        for kind in kinds:
            print(f"  starting {kind} {label}(load data, {warmup} warm-up epoch)...", flush=True)
            workers.append(Worker(kind, hidden, batch, threads, warmup))
    except BaseException:
        stop_workers(workers)
        raise
    return workers


def stop_workers(workers):
    for w in workers:
        if w.proc.poll() is None:
            w.proc.kill()
            w.proc.wait()


def rounds_on(workers, rounds, pause, label="", epochs=None) -> dict:
    """Interleaved epochs on started workers; prints each round when it is done."""
    epochs = epochs if epochs is not None else {w.kind: [] for w in workers}
    for r in range(rounds):
        for w in workers[r % len(workers):] + workers[:r % len(workers)]:  # rotate the order
            time.sleep(pause)
            epochs[w.kind].append(w.ask("epoch"))
        line = "  ".join(f"{k} {e[-1]['seconds']:.3f}" for k, e in epochs.items() if e)
        print(f"  {label}round {r + 1}/{rounds} (load {os.getloadavg()[0]:.1f}): {line}",
              flush=True)
    return epochs


def run_rounds(kinds, rounds, hidden, batch, threads, pause, warmup=1, label="") -> dict:
    """Start one worker per kind, run `rounds` interleaved epochs, return per-kind records."""
    workers = start_workers(kinds, hidden, batch, threads, warmup, label)
    try:
        epochs = rounds_on(workers, rounds, pause, label)
        return {w.kind: {"epochs": epochs[w.kind], "ready": w.ready, **w.close()}
                for w in workers}
    finally:
        stop_workers(workers)


def paired_ratio(records, numerator, denominator, field="seconds"):
    a = [e[field] for e in records[numerator]["epochs"]]
    b = [e[field] for e in records[denominator]["epochs"]]
    return statistics.median(x / y for x, y in zip(a, b))


def summarise(records, n_train, n_test, hidden) -> dict:
    flops = contenders.epoch_flops(n_train, n_test, hidden)["total"]
    out = {}
    for kind, rec in records.items():
        seconds = [e["seconds"] for e in rec["epochs"]]
        median = statistics.median(seconds)
        last = rec["epochs"][-1]
        out[kind] = {
            "median_s": median, "min_s": min(seconds), "seconds": seconds,
            "cpu_median_s": statistics.median(e["cpu_seconds"] for e in rec["epochs"]),
            "examples_per_s": n_train / median, "gflop_per_s": flops / median / 1e9,
            "peak_rss_mb": rec.get("peak_rss_mb"),
            "final": {k: last[k] for k in ("train_loss", "train_acc", "test_acc") if k in last},
        }
    return out


def machine() -> dict:
    """Where and when a figure was taken: CPU, cores usable, load average, date (UTC)."""
    import platform

    import numpy
    cpu = platform.processor() or "unknown"
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo")
                   if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return {"cpu": cpu, "cores": len(os.sched_getaffinity(0)), "load": os.getloadavg()[0],
            "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "python": platform.python_version(), "numpy": numpy.__version__}


def save_result(result: dict, path, stem: str) -> Path:
    """Write a driver's result as JSON to `path`, or to benchmarks/results/STEM-TIME.json."""
    path = Path(path) if path else Path(__file__).resolve().parent / "results" / \
        time.strftime(f"{stem}-%Y%m%d-%H%M%S.json")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(f"JSON: {path}")
    return path


def torch_available() -> bool:
    return subprocess.run([sys.executable, "-c", "import torch"], capture_output=True).returncode == 0


def main(argv=None):
    import argparse
    p = argparse.ArgumentParser(description="one benchmark contender (run by the drivers)")
    p.add_argument("kind")
    p.add_argument("--hidden", type=int, default=256)
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)))
    p.add_argument("--warmup", type=int, default=1)
    args = p.parse_args(argv)
    serve(args.kind, args.hidden, args.batch, args.threads, args.warmup)


if __name__ == "__main__":
    main()
