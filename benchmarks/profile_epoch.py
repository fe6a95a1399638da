#!/usr/bin/env python3
"""Where an epoch of scratchmlp's training goes: its sections beside their matmuls alone.

    .venv/bin/python benchmarks/profile_epoch.py [--epochs 5] [--threads 1]

Runs the steps of `train_epoch` (with the objects `fit()` builds) with a clock around each
section: fetching the batch, forward, loss, backward, the SGD update, the metrics, and the
test-set pass. Beside each it times the same section's matrix multiplies alone (same shapes and
transposes, preallocated outputs), so section minus matmuls is what NumPy's elementwise work and
Python cost there. Medians over the epochs, CPU time of this process (steadier than wall time
on a shared machine; with one BLAS thread it is the work done).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
import time
from pathlib import Path


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--threads", type=int, default=1,
                   help="threads (default 1: then CPU time is the work done)")
    p.add_argument("--hidden", type=int, default=256)
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--json", metavar="PATH")
    args = p.parse_args(argv)
    if args.threads and os.environ.get("OPENBLAS_NUM_THREADS") != str(args.threads):
        env = dict(os.environ, OPENBLAS_NUM_THREADS=str(args.threads),
                   OMP_NUM_THREADS=str(args.threads))
        os.execve(sys.executable, [sys.executable, *sys.argv], env)  # BLAS reads it at load

    import numpy as np

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from contenders import FloorRunner, ScratchRunner, use_threads

    from scratchmlp.data import load
    from scratchmlp.engine import record
    from scratchmlp.train.loop import accuracy, evaluate_accuracy

    data = load()
    use_threads("scratchmlp", args.threads)  # the engine's pool; BLAS held at one thread
    run = ScratchRunner(data, args.hidden, args.batch)
    floor = FloorRunner(data, args.hidden, args.batch)
    clock = time.process_time
    run.epoch()

    def scratch_epoch():
        t = dict.fromkeys(("data", "forward", "loss", "backward", "update", "metrics", "test"), 0.0)
        batches = iter(run.train_iter)
        while True:
            t0 = clock()
            try:
                X, y = next(batches)
            except StopIteration:
                break
            t1 = clock()
            with record():
                y_hat = run.model(X)
                t2 = clock()
                l = run.loss(y_hat, y)
            t3 = clock()
            l.backward()
            t4 = clock()
            run.optimizer.step(np.shape(y)[0])
            t5 = clock()
            math.isfinite(float(l.data.sum()))
            accuracy(y_hat, y)
            t6 = clock()
            for name, a, b in (("data", t0, t1), ("forward", t1, t2), ("loss", t2, t3),
                               ("backward", t3, t4), ("update", t4, t5), ("metrics", t5, t6)):
                t[name] += b - a
        start = clock()
        evaluate_accuracy(run.model, run.test_iter)
        t["test"] = clock() - start
        return t

    def floor_epoch():
        t = dict.fromkeys(("forward", "backward", "test"), 0.0)
        W1, W2, dW1, dW2 = floor.W1, floor.W2, floor.dW1, floor.dW2
        for n in floor.train_sizes:
            b = floor.buffers[n]
            t0 = clock()
            np.matmul(b["X"], W1, out=b["H"])
            np.matmul(b["H"], W2, out=b["Z"])
            t1 = clock()
            np.matmul(b["G"], W2.T, out=b["dH"])
            np.matmul(b["H"].T, b["G"], out=dW2)
            np.matmul(b["X"].T, b["dH"], out=dW1)
            t2 = clock()
            t["forward"] += t1 - t0
            t["backward"] += t2 - t1
        t0 = clock()
        for n in floor.test_sizes:
            b = floor.buffers[n]
            np.matmul(b["X"], W1, out=b["H"])
            np.matmul(b["H"], W2, out=b["Z"])
        t["test"] = clock() - t0
        return t

    mine, gemm = [], []
    for _ in range(args.epochs):  # interleaved, so load changes hit both alike
        mine.append(scratch_epoch())
        gemm.append(floor_epoch())
    rows = []
    for name in mine[0]:
        total = statistics.median(e[name] for e in mine)
        matmuls = statistics.median(e[name] for e in gemm) if name in gemm[0] else 0.0
        rows.append({"section": name, "cpu_s": total, "matmul_s": matmuls,
                     "other_s": total - matmuls})
    total = sum(r["cpu_s"] for r in rows)
    matmuls = sum(r["matmul_s"] for r in rows)
    print(f"one epoch, hidden {args.hidden}, batch {args.batch}, {args.threads} thread(s), "
          f"median of {args.epochs}; CPU ms (load average {os.getloadavg()[0]:.1f})")
    print(f"{'section':<10}{'total':>9}{'matmuls':>9}{'other':>9}{'share of other':>16}")
    for r in rows:
        print(f"{r['section']:<10}{r['cpu_s'] * 1e3:>9.1f}{r['matmul_s'] * 1e3:>9.1f}"
              f"{r['other_s'] * 1e3:>9.1f}{r['other_s'] / (total - matmuls):>16.0%}")
    print(f"{'epoch':<10}{total * 1e3:>9.1f}{matmuls * 1e3:>9.1f}{(total - matmuls) * 1e3:>9.1f}"
          f"   epoch / matmuls = {total / matmuls:.3f}")
    if args.json:
        Path(args.json).write_text(json.dumps({"threads": args.threads, "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
