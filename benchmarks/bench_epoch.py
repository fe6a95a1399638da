#!/usr/bin/env python3
"""One epoch of the chapter's MLP on scratchmlp, PyTorch eager, hand-fused NumPy and the GEMM floor.

    .venv/bin/python benchmarks/bench_epoch.py            # everything (a few minutes)
    .venv/bin/python benchmarks/bench_epoch.py --quick    # fewer rounds, no scaling table

Each contender runs in its own worker process (so its peak RSS is its own), loads Fashion-MNIST
from the decoded cache once, runs one warm-up epoch, then waits for commands. The driver runs
the contenders' epochs interleaved, round by round (with a pause between them so one process's
spinning BLAS/OpenMP threads do not slow the next), so load changes on a shared machine hit all
of them alike; ratios are medians of the per-round ratios. Contenders:

  scratchmlp         scratchmlp.train.loop.train with MLP + SGD + DataIter, as `fit()` runs it
  scratchmlp-chapter the chapter's own code: np.maximum/np.dot net, d2l.sgd, d2l.train
  torch              PyTorch eager on the CPU: torch.nn + torch.optim.SGD (if torch imports)
  numpy              a hand-fused NumPy loop: no autograd, preallocated buffers, out= everywhere
  floor              only the epoch's matrix multiplies (same shapes, same transposes, out=):
                     the GEMM floor = the epoch's matmul FLOPs / float32 matmul throughput

Then: peak RSS and wall time of a real `scratchmlp train` CLI run against a PyTorch script doing
the same job (same data loading, per-epoch checkpoints, metrics, the same two PNGs), a scaling
table (hidden width 256/1024/4096, batch 64/256/1024: time against FLOPs), and start-up times
(`scratchmlp --help`, a second run's data load from the decoded cache).

The table is printed and the JSON written to benchmarks/results/epoch-DATE-TIME.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve()
TAG = "@@bench "  # worker lines to the driver start with this; anything else is passed through
N_INPUTS, N_OUTPUTS = 784, 10
LR, SEED = 0.5, 0


# ============================================================================================
# Workers: one contender per process
# ============================================================================================

def _send(message: dict):
    sys.stdout.write(TAG + json.dumps(message) + "\n")
    sys.stdout.flush()


def _peak_rss_mb() -> float:
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def _blas_info() -> list:
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return [{"note": "threadpoolctl not installed (pip install threadpoolctl)"}]
    keep = ("user_api", "internal_api", "prefix", "version", "num_threads", "architecture",
            "threading_layer")
    return [{k: info.get(k) for k in keep if k in info} for info in threadpool_info()]


def epoch_flops(n_train: int, n_test: int, hidden: int) -> dict:
    """Matmul FLOPs of one epoch: forward 2 GEMMs, backward 3 (no gradient for the input)."""
    forward = 2 * (N_INPUTS * hidden + hidden * N_OUTPUTS)
    backward = 2 * (N_INPUTS * hidden + 2 * hidden * N_OUTPUTS)
    return {"train": n_train * (forward + backward), "test": n_test * forward,
            "total": n_train * (forward + backward) + n_test * forward}


class ScratchRunner:
    """scratchmlp as users run it: the objects `fit()` builds, through `train()`."""

    def __init__(self, data, hidden, batch):
        from scratchmlp.data import DataIter
        from scratchmlp.nn import SoftmaxCrossEntropyLoss, optim
        from scratchmlp.train.config import TrainConfig
        from scratchmlp.train.modelfile import build_model

        config = TrainConfig(hidden=[hidden], lr=LR, batch_size=batch, seed=SEED)
        self.model = build_model(config)
        self.optimizer = optim.get(config.optimizer)(self.model.params, config.lr)
        self.train_iter = DataIter(data.train_images, data.train_labels, config.batch_size,
                                   shuffle=True, seed=config.seed)
        self.test_iter = DataIter(data.test_images, data.test_labels, config.batch_size)
        self.loss = SoftmaxCrossEntropyLoss()
        self.epoch_number = 0

    def epoch(self) -> dict:
        from scratchmlp.train.loop import train
        self.epoch_number += 1
        (row,) = train(self.model, self.train_iter, self.test_iter, self.loss, self.epoch_number,
                       self.optimizer.step, on_batch=lambda step, loss: None,
                       start_epoch=self.epoch_number)
        return {k: row[k] for k in ("train_loss", "train_acc", "test_acc")}


class ChapterRunner:
    """The chapter's code verbatim in spirit: params by hand, relu = np.maximum, d2l.sgd."""

    def __init__(self, data, hidden, batch):
        from scratchmlp import d2l, np
        from scratchmlp.nn import SoftmaxCrossEntropyLoss

        np.random.seed(SEED)
        W1 = np.random.normal(scale=0.01, size=(N_INPUTS, hidden))
        b1 = np.zeros(hidden)
        W2 = np.random.normal(scale=0.01, size=(hidden, N_OUTPUTS))
        b2 = np.zeros(N_OUTPUTS)
        params = [W1, b1, W2, b2]
        for param in params:
            param.attach_grad()

        def relu(X):
            return np.maximum(X, 0)

        def net(X):
            X = X.reshape(-1, N_INPUTS)
            H = relu(np.dot(X, W1) + b1)
            return np.dot(H, W2) + b2

        self.net, self.d2l = net, d2l
        self.updater = lambda batch_size: d2l.sgd(params, LR, batch_size)
        self.train_iter, self.test_iter = d2l.load_data_fashion_mnist(batch, data=data)
        self.loss = SoftmaxCrossEntropyLoss()
        self.epoch_number = 0

    def epoch(self) -> dict:
        self.epoch_number += 1
        (row,) = self.d2l.train(self.net, self.train_iter, self.test_iter, self.loss,
                                self.epoch_number, self.updater, start_epoch=self.epoch_number)
        return {k: row[k] for k in ("train_loss", "train_acc", "test_acc")}


class TorchRunner:
    """PyTorch eager on the CPU, written as d2l's PyTorch edition does (torch.nn + optim.SGD)."""

    def __init__(self, data, hidden, batch):
        import numpy
        import torch
        from torch import nn

        torch.manual_seed(SEED)
        self.torch, self.numpy = torch, numpy
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(N_INPUTS, hidden), nn.ReLU(),
                                 nn.Linear(hidden, N_OUTPUTS))
        for layer in self.net:
            if isinstance(layer, nn.Linear):
                nn.init.normal_(layer.weight, std=0.01)
                nn.init.zeros_(layer.bias)
        self.loss = nn.CrossEntropyLoss(reduction="none")
        self.optimizer = torch.optim.SGD(self.net.parameters(), lr=LR)
        self.train_images = torch.from_numpy(data.train_images)
        self.train_labels = torch.from_numpy(data.train_labels)
        self.test_images = torch.from_numpy(data.test_images)
        self.test_labels = torch.from_numpy(data.test_labels)
        self.batch, self.epoch_number = batch, 0

    def epoch(self) -> dict:
        torch = self.torch
        order = self.numpy.random.default_rng([SEED, self.epoch_number]).permutation(
            len(self.train_labels))
        self.epoch_number += 1
        index = torch.from_numpy(order)
        images, labels = self.train_images[index], self.train_labels[index]  # one gather/epoch
        self.net.train()
        total_loss = correct = 0.0
        for start in range(0, len(labels), self.batch):
            X = images[start:start + self.batch].float().div_(255)
            y = labels[start:start + self.batch]
            y_hat = self.net(X)
            l = self.loss(y_hat, y)
            self.optimizer.zero_grad()
            l.mean().backward()
            self.optimizer.step()
            with torch.no_grad():
                total_loss += l.sum().item()
                correct += (y_hat.argmax(1) == y).sum().item()
        self.net.eval()
        right = 0
        with torch.no_grad():
            for start in range(0, len(self.test_labels), self.batch):
                X = self.test_images[start:start + self.batch].float().div_(255)
                y = self.test_labels[start:start + self.batch]
                right += (self.net(X).argmax(1) == y).sum().item()
        n = len(labels)
        return {"train_loss": total_loss / n, "train_acc": correct / n,
                "test_acc": right / len(self.test_labels)}


class NumpyRunner:
    """What NumPy alone can do: the same network and loss, gradients by hand, fused in place.

    Preallocated buffers and out= everywhere; lr/batch is folded into the output gradient once
    (so each weight gradient is already the step); one gather per batch into a uint8 buffer.
    """

    def __init__(self, data, hidden, batch):
        import numpy as np

        self.np, f32 = np, np.float32
        rng = np.random.default_rng(SEED)
        self.W1 = rng.standard_normal((N_INPUTS, hidden), dtype=f32) * f32(0.01)
        self.b1 = np.zeros(hidden, f32)
        self.W2 = rng.standard_normal((hidden, N_OUTPUTS), dtype=f32) * f32(0.01)
        self.b2 = np.zeros(N_OUTPUTS, f32)
        self.images = data.train_images.reshape(len(data.train_images), -1)
        self.labels = data.train_labels
        self.test_images = data.test_images.reshape(len(data.test_images), -1)
        self.test_labels = data.test_labels
        B = self.batch = batch
        self.raw = np.empty((B, N_INPUTS), np.uint8)
        self.X = np.empty((B, N_INPUTS), f32)
        self.H = np.empty((B, hidden), f32)
        self.dH = np.empty((B, hidden), f32)
        self.mask = np.empty((B, hidden), bool)
        self.Z = np.empty((B, N_OUTPUTS), f32)
        self.top = np.empty((B, 1), f32)
        self.total = np.empty((B, 1), f32)
        self.dW1 = np.empty_like(self.W1)
        self.dW2 = np.empty_like(self.W2)
        self.db1 = np.empty_like(self.b1)
        self.db2 = np.empty_like(self.b2)
        self.rows = np.arange(B)
        self.epoch_number = 0

    def _forward(self, images, index_or_slice, n):
        np = self.np
        raw, X, H, Z = self.raw[:n], self.X[:n], self.H[:n], self.Z[:n]
        if isinstance(index_or_slice, slice):
            raw = images[index_or_slice]
        else:
            np.take(images, index_or_slice, axis=0, out=raw)
        np.multiply(raw, np.float32(1 / 255), out=X)
        np.matmul(X, self.W1, out=H)
        H += self.b1
        np.maximum(H, 0, out=H)
        np.matmul(H, self.W2, out=Z)
        Z += self.b2
        return X, H, Z

    def epoch(self) -> dict:
        np, B = self.np, self.batch
        order = np.random.default_rng([SEED, self.epoch_number]).permutation(len(self.labels))
        self.epoch_number += 1
        total_loss = correct = 0.0
        for start in range(0, len(order), B):
            index = order[start:start + B]
            n, y, rows = len(index), self.labels[index], self.rows[:len(index)]
            X, H, Z = self._forward(self.images, index, n)
            correct += np.count_nonzero(Z.argmax(axis=1) == y)
            top, total, dH, mask = self.top[:n], self.total[:n], self.dH[:n], self.mask[:n]
            np.max(Z, axis=1, keepdims=True, out=top)
            Z -= top
            picked = Z[rows, y]
            np.exp(Z, out=Z)
            np.sum(Z, axis=1, keepdims=True, out=total)
            loss = float(np.log(total).sum() - picked.sum())
            if not np.isfinite(loss):
                raise FloatingPointError("the loss diverged")
            total_loss += loss
            Z /= total  # softmax; then (softmax - onehot) * lr / n is each weight's step
            Z[rows, y] -= 1
            Z *= np.float32(LR / n)
            np.matmul(Z, self.W2.T, out=dH)
            np.matmul(H.T, Z, out=self.dW2)
            self.W2 -= self.dW2
            self.b2 -= np.sum(Z, axis=0, out=self.db2)
            np.greater(H, 0, out=mask)
            dH *= mask
            np.matmul(X.T, dH, out=self.dW1)
            self.W1 -= self.dW1
            self.b1 -= np.sum(dH, axis=0, out=self.db1)
        right = 0
        for start in range(0, len(self.test_labels), B):
            n = min(B, len(self.test_labels) - start)
            _, _, Z = self._forward(self.test_images, slice(start, start + n), n)
            right += np.count_nonzero(Z.argmax(axis=1) == self.test_labels[start:start + n])
        n = len(order)
        return {"train_loss": total_loss / n, "train_acc": correct / n,
                "test_acc": right / len(self.test_labels)}


class FloorRunner:
    """Only the epoch's matmuls, at the model's shapes and transposes, into preallocated outputs."""

    def __init__(self, data, hidden, batch):
        import numpy as np

        self.np = np
        rng = np.random.default_rng(SEED)
        f32 = np.float32
        self.W1 = rng.standard_normal((N_INPUTS, hidden), dtype=f32) * f32(0.01)
        self.W2 = rng.standard_normal((hidden, N_OUTPUTS), dtype=f32) * f32(0.01)
        self.dW1, self.dW2 = np.empty_like(self.W1), np.empty_like(self.W2)
        n_train, n_test = len(data.train_labels), len(data.test_labels)
        sizes = lambda n: [batch] * (n // batch) + ([n % batch] if n % batch else [])  # noqa: E731
        self.train_sizes, self.test_sizes = sizes(n_train), sizes(n_test)
        self.buffers = {}
        for n in set(self.train_sizes + self.test_sizes):
            self.buffers[n] = dict(
                X=rng.random((n, N_INPUTS), dtype=f32), H=np.empty((n, hidden), f32),
                Z=np.empty((n, N_OUTPUTS), f32), dH=np.empty((n, hidden), f32),
                G=rng.standard_normal((n, N_OUTPUTS), dtype=f32) * f32(0.01))

    def epoch(self) -> dict:
        np, W1, W2, dW1, dW2 = self.np, self.W1, self.W2, self.dW1, self.dW2
        for n in self.train_sizes:
            b = self.buffers[n]
            np.matmul(b["X"], W1, out=b["H"])
            np.matmul(b["H"], W2, out=b["Z"])
            np.matmul(b["G"], W2.T, out=b["dH"])
            np.matmul(b["H"].T, b["G"], out=dW2)
            np.matmul(b["X"].T, b["dH"], out=dW1)
        for n in self.test_sizes:
            b = self.buffers[n]
            np.matmul(b["X"], W1, out=b["H"])
            np.matmul(b["H"], W2, out=b["Z"])
        return {}


RUNNERS = {"scratchmlp": ScratchRunner, "scratchmlp-chapter": ChapterRunner,
           "torch": TorchRunner, "numpy": NumpyRunner, "floor": FloorRunner}


def worker(kind: str, hidden: int, batch: int, warmup: int):
    from scratchmlp.data import load

    data = load()
    runner = RUNNERS[kind](data, hidden, batch)
    extra = {}
    if kind == "torch":
        import torch
        extra = {"torch": torch.__version__, "torch_threads": torch.get_num_threads()}
    warm = []
    for _ in range(warmup):
        start = time.perf_counter()
        runner.epoch()
        warm.append(time.perf_counter() - start)
    _send({"ready": True, "warmup_seconds": warm, "blas": _blas_info(), **extra})
    for line in sys.stdin:
        command = line.strip()
        if command == "epoch":
            start, cpu = time.perf_counter(), time.process_time()
            metrics = runner.epoch()
            _send({"seconds": time.perf_counter() - start,
                   "cpu_seconds": time.process_time() - cpu, **metrics})
        elif command == "quit":
            _send({"peak_rss_mb": _peak_rss_mb()})
            return


# ============================================================================================
# The PyTorch script that does `scratchmlp train`'s job (for peak RSS of the whole job)
# ============================================================================================

def torch_job(epochs: int, out: Path):
    """Train, checkpoint every epoch, write metrics.csv, curves.png and predictions.png."""
    import torch

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
        print(f"epoch {epoch}: train loss {row['train_loss']:.4f} test acc {row['test_acc']:.4f}")
    plot_curves(rows, out / "curves.png", title="MLP 784-256-10 (PyTorch)")
    images = data.test_images[:12]
    with torch.no_grad():
        guesses = runner.net(torch.from_numpy(images).float().div_(255)).argmax(1).tolist()
    plot_predictions(images, data.test_labels[:12].tolist(), guesses, LABELS,
                     out / "predictions.png")


# ============================================================================================
# Driver
# ============================================================================================

class Worker:
    def __init__(self, kind, hidden=256, batch=256, warmup=1, env=None):
        self.kind = kind
        self.proc = subprocess.Popen(
            [sys.executable, str(HERE), "--worker", kind, "--hidden", str(hidden),
             "--batch", str(batch), "--warmup", str(warmup)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
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


def _torch_available() -> bool:
    probe = subprocess.run([sys.executable, "-c", "import torch"], capture_output=True)
    return probe.returncode == 0


def _cpu_model() -> str:
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _worker_env(args) -> dict:
    env = dict(os.environ)
    if args.threads:
        for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            env[name] = str(args.threads)
    if args.unset_openblas_env:
        for name in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):
            env.pop(name, None)
    return env


def run_rounds(kinds, rounds, hidden, batch, pause, env, warmup=1, label=""):
    """Start one worker per kind, run `rounds` interleaved epochs, return per-kind records."""
    workers = []
    try:
        for kind in kinds:
            print(f"  starting {kind} {label}(load data, {warmup} warm-up epoch)...", flush=True)
            workers.append(Worker(kind, hidden, batch, warmup, env))
        epochs = {w.kind: [] for w in workers}
        for r in range(rounds):
            for w in workers[r % len(workers):] + workers[:r % len(workers)]:  # rotate the order
                time.sleep(pause)
                epochs[w.kind].append(w.ask("epoch"))
            line = "  ".join(f"{k} {e[-1]['seconds']:.3f}" for k, e in epochs.items())
            print(f"  round {r + 1}/{rounds}: {line}", flush=True)
        return {w.kind: {"epochs": epochs[w.kind], "ready": w.ready, **w.close()}
                for w in workers}
    finally:
        for w in workers:
            if w.proc.poll() is None:
                w.proc.kill()


def paired_ratio(records, numerator, denominator, field="seconds"):
    a = [e[field] for e in records[numerator]["epochs"]]
    b = [e[field] for e in records[denominator]["epochs"]]
    return statistics.median(x / y for x, y in zip(a, b))


def summarise(records, n_train, n_test, hidden) -> dict:
    flops = epoch_flops(n_train, n_test, hidden)
    out = {}
    for kind, rec in records.items():
        seconds = [e["seconds"] for e in rec["epochs"]]
        cpu = [e["cpu_seconds"] for e in rec["epochs"]]
        median = statistics.median(seconds)
        last = rec["epochs"][-1]
        out[kind] = {
            "median_s": median, "min_s": min(seconds), "max_s": max(seconds),
            "seconds": seconds, "cpu_median_s": statistics.median(cpu), "cpu_seconds": cpu,
            "examples_per_s": n_train / median,
            "gflop_per_s": flops["total"] / median / 1e9,
            "peak_rss_mb": rec["peak_rss_mb"], "warmup_s": rec["ready"]["warmup_seconds"],
            "final": {k: last[k] for k in ("train_loss", "train_acc", "test_acc") if k in last},
        }
    return out


def run_job(cmd, env) -> dict:
    """Run a command to its end; its own peak RSS (os.wait4) and wall time."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env)
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


def run_jobs(epochs, with_torch, env) -> dict:
    jobs = {}
    with tempfile.TemporaryDirectory(prefix="scratchmlp-bench-") as tmp:
        cmd = scratchmlp_command() + ["train", "--epochs", str(epochs), "--out",
                                      f"{tmp}/scratchmlp", "--no-progress"]
        print(f"  {' '.join(cmd[-6:])} ...", flush=True)
        jobs["scratchmlp"] = run_job(cmd, env)
        if with_torch:
            cmd = [sys.executable, str(HERE), "--torch-job", str(epochs), "--out", f"{tmp}/torch"]
            print("  the PyTorch script, same job ...", flush=True)
            jobs["torch"] = run_job(cmd, env)
    jobs["epochs"] = epochs
    return jobs


def run_startup(repeats, env) -> dict:
    helps = []
    for _ in range(repeats):
        helps.append(run_job(scratchmlp_command() + ["--help"], env)["wall_s"])
    # The load alone (after `import numpy`, which every command pays anyway), then the process.
    probe = ("from scratchmlp.data import load; import time; t = time.perf_counter(); d = load(); "
             "print(time.perf_counter() - t)")
    subprocess.run([sys.executable, "-c", probe], check=True, capture_output=True, env=env)
    loads, walls = [], []
    for _ in range(repeats):
        start = time.perf_counter()
        done = subprocess.run([sys.executable, "-c", probe], check=True, capture_output=True,
                              text=True, env=env)
        walls.append(time.perf_counter() - start)
        loads.append(float(done.stdout.strip().splitlines()[-1]))
    return {"help_s": statistics.median(helps), "help_all_s": helps,
            "cached_load_s": statistics.median(loads), "cached_load_all_s": loads,
            "cached_load_process_wall_s": statistics.median(walls)}


SCALING = [(256, 256), (1024, 256), (4096, 256), (256, 64), (256, 1024)]


def run_scaling(rounds, pause, env, n_train, n_test) -> list:
    table = []
    for hidden, batch in SCALING:
        records = run_rounds(["scratchmlp", "floor"], rounds, hidden, batch, pause, env,
                             label=f"h={hidden} b={batch} ")
        summary = summarise(records, n_train, n_test, hidden)
        gflop = epoch_flops(n_train, n_test, hidden)["total"] / 1e9
        mine, floor = summary["scratchmlp"], summary["floor"]
        table.append({"hidden": hidden, "batch": batch, "gflop": gflop,
                      "scratchmlp_s": mine["median_s"], "floor_s": floor["median_s"],
                      "scratchmlp_cpu_s": mine["cpu_median_s"], "floor_cpu_s": floor["cpu_median_s"],
                      "ms_per_gflop": 1e3 * mine["median_s"] / gflop,
                      "cpu_ms_per_gflop": 1e3 * mine["cpu_median_s"] / gflop,
                      "floor_ms_per_gflop": 1e3 * floor["median_s"] / gflop,
                      "vs_floor": paired_ratio(records, "scratchmlp", "floor"),
                      "cpu_vs_floor": paired_ratio(records, "scratchmlp", "floor", "cpu_seconds"),
                      "peak_rss_mb": mine["peak_rss_mb"]})
    return table


def scaling_fit(table, time_key, per_key) -> dict:
    """Fit time against GFLOP over the width rows (batch 256); the spread of ms/GFLOP."""
    widths = [row for row in table if row["batch"] == 256]
    a, b, r2 = linear_fit([(row["gflop"], row[time_key]) for row in widths])
    per = [row[per_key] for row in widths]
    return {"measure": time_key, "intercept_s": a, "s_per_gflop": b, "r2": r2,
            "spread": max(per) / min(per), "worst_vs_256": max(per) / per[0]}


def linear_fit(points):
    """Least squares time = a + b * gflop over (gflop, seconds) points; returns a, b, R^2."""
    n = len(points)
    mx = sum(x for x, _ in points) / n
    my = sum(y for _, y in points) / n
    sxx = sum((x - mx) ** 2 for x, _ in points)
    sxy = sum((x - mx) * (y - my) for x, y in points)
    b = sxy / sxx
    a = my - b * mx
    ss_tot = sum((y - my) ** 2 for _, y in points)
    ss_res = sum((y - a - b * x) ** 2 for x, y in points)
    return a, b, 1 - ss_res / ss_tot if ss_tot else 1.0


def print_report(result):
    main = result["epoch"]
    print(f"\n== one epoch of 784-256-10, batch 256, lr {LR} ({result['n_train']} train + "
          f"{result['n_test']} test examples), median of {result['rounds']} interleaved rounds")
    print(f"   {result['machine']['cpu']}, {result['machine']['cores']} cores, threads "
          f"{result['threads'] or 'library default'}, load average "
          f"{result['load_before'][0]:.2f} before / {result['load_after'][0]:.2f} after")
    print(f"{'contender':<22}{'s/epoch':>9}{'min':>8}{'CPU s':>8}{'train ex/s':>12}"
          f"{'GFLOP/s':>9}{'peak RSS MB':>13}{'test acc':>10}")
    for kind, s in main.items():
        acc = s["final"].get("test_acc")
        print(f"{kind:<22}{s['median_s']:>9.3f}{s['min_s']:>8.3f}{s['cpu_median_s']:>8.3f}"
              f"{s['examples_per_s']:>12,.0f}{s['gflop_per_s']:>9.1f}{s['peak_rss_mb']:>13.0f}"
              f"{(f'{acc:.4f}' if acc is not None else '-'):>10}")
    print(f"ratios (median of per-round ratios)  {'wall':>8}{'CPU':>8}{'min/min':>9}")
    for name, value in result["ratios"].items():
        print(f"  {name:<35}{value:>8.3f}{result['cpu_ratios'][name]:>8.3f}"
              f"{result['min_ratios'][name]:>9.3f}")
    if "jobs" in result:
        jobs = result["jobs"]
        print(f"whole job ({jobs['epochs']} epochs, checkpoints, metrics, 2 PNGs): peak RSS / wall")
        for kind in ("scratchmlp", "torch"):
            if kind in jobs:
                print(f"  {kind:<12}{jobs[kind]['peak_rss_mb']:>8.0f} MB {jobs[kind]['wall_s']:>8.2f} s")
    if "startup" in result:
        st = result["startup"]
        print(f"start-up: `scratchmlp --help` {st['help_s']:.3f} s; cached data load "
              f"{st['cached_load_s']:.3f} s (whole process {st['cached_load_process_wall_s']:.3f} s)")
    if "scaling" in result:
        print(f"{'hidden':>7}{'batch':>7}{'GFLOP':>8}{'scratchmlp s':>14}{'ms/GFLOP':>10}"
              f"{'CPU s':>8}{'CPU ms/GFLOP':>14}{'floor s':>9}{'x floor':>9}{'CPU x floor':>13}")
        for row in result["scaling"]:
            print(f"{row['hidden']:>7}{row['batch']:>7}{row['gflop']:>8.1f}"
                  f"{row['scratchmlp_s']:>14.3f}{row['ms_per_gflop']:>10.2f}"
                  f"{row['scratchmlp_cpu_s']:>8.3f}{row['cpu_ms_per_gflop']:>14.2f}"
                  f"{row['floor_s']:>9.3f}{row['vs_floor']:>9.2f}{row['cpu_vs_floor']:>13.2f}")
        for key in ("scaling_fit", "scaling_fit_cpu"):
            fit = result[key]
            print(f"width table ({fit['measure']}): time = {fit['intercept_s']:.3f} s + "
                  f"{fit['s_per_gflop'] * 1e3:.2f} ms/GFLOP * GFLOP, R^2 = {fit['r2']:.4f}; "
                  f"ms/GFLOP worst/256-wide {fit['worst_vs_256']:.2f}")
    print("targets:")
    for name, (ok, text) in result["targets"].items():
        print(f"  [{'met' if ok else 'MISSED'}] {name}: {text}")


def targets(result) -> dict:
    t, r = {}, result["ratios"]
    if "torch/scratchmlp" in r:
        t["faster than PyTorch eager (>= 1.5x)"] = (r["torch/scratchmlp"] >= 1.5,
                                                    f"{r['torch/scratchmlp']:.2f}x")
    t["close to the GEMM floor (<= 1.3x)"] = (r["scratchmlp/floor"] <= 1.3,
                                              f"{r['scratchmlp/floor']:.2f}x")
    if "jobs" in result:
        jobs = result["jobs"]
        mine = jobs["scratchmlp"]["peak_rss_mb"]
        ok = mine <= 400 and ("torch" not in jobs or mine < jobs["torch"]["peak_rss_mb"])
        text = f"{mine:.0f} MB" + (f" vs PyTorch {jobs['torch']['peak_rss_mb']:.0f} MB"
                                   if "torch" in jobs else "")
        t["peak RSS of `scratchmlp train` (< PyTorch, <= 400 MB)"] = (ok, text)
    if "startup" in result:
        st = result["startup"]
        t["`scratchmlp --help` < 0.3 s"] = (st["help_s"] < 0.3, f"{st['help_s']:.3f} s")
        t["cached data load < 0.3 s"] = (st["cached_load_s"] < 0.3,
                                         f"{st['cached_load_s']:.3f} s")
    if "scaling_fit" in result:
        key = "scaling_fit_cpu" if result["threads"] == 1 else "scaling_fit"
        fit = result[key]
        # No cliff: a wider layer must not cost more per GFLOP than the chapter's width does.
        t["linear in FLOPs across widths (no cliff)"] = (
            fit["r2"] >= 0.99 and fit["worst_vs_256"] <= 1.1,
            f"{'CPU' if key.endswith('cpu') else 'wall'} time: R^2 {fit['r2']:.4f}, worst "
            f"ms/GFLOP {fit['worst_vs_256']:.2f}x the 256-wide one")
    return t


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rounds", type=int, default=7, help="interleaved epochs per contender")
    p.add_argument("--scaling-rounds", type=int, default=3)
    p.add_argument("--job-epochs", type=int, default=3,
                   help="epochs of the whole-job RSS comparison (default 3)")
    p.add_argument("--pause", type=float, default=0.3,
                   help="seconds between two epochs (lets spinning threads go idle)")
    p.add_argument("--quick", action="store_true", help="3 rounds; no scaling table")
    p.add_argument("--skip-torch", action="store_true")
    p.add_argument("--skip-scaling", action="store_true")
    p.add_argument("--skip-jobs", action="store_true")
    p.add_argument("--skip-startup", action="store_true")
    p.add_argument("--threads", type=int, help="BLAS/OpenMP threads for every contender "
                   "(default: each library's own; 1 gives steadier figures on a busy machine)")
    p.add_argument("--unset-openblas-env", action="store_true",
                   help="drop OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE for the workers only")
    p.add_argument("--json", metavar="PATH", help="where to write the JSON "
                                                   "(default benchmarks/results/epoch-DATE.json)")
    # internal
    p.add_argument("--worker", choices=sorted(RUNNERS), help=argparse.SUPPRESS)
    p.add_argument("--hidden", type=int, default=256, help=argparse.SUPPRESS)
    p.add_argument("--batch", type=int, default=256, help=argparse.SUPPRESS)
    p.add_argument("--warmup", type=int, default=1, help=argparse.SUPPRESS)
    p.add_argument("--torch-job", type=int, metavar="EPOCHS", help=argparse.SUPPRESS)
    p.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = p.parse_args(argv)

    if args.worker:
        return worker(args.worker, args.hidden, args.batch, args.warmup)
    if args.torch_job:
        return torch_job(args.torch_job, args.out)

    if args.quick:
        args.rounds, args.skip_scaling = min(args.rounds, 3), True
    env = _worker_env(args)
    with_torch = not args.skip_torch and _torch_available()
    if not with_torch and not args.skip_torch:
        print("note: torch does not import here; PyTorch is left out "
              "(.venv/bin/pip install torch==2.13.0 to include it)")
    kinds = ["scratchmlp", "scratchmlp-chapter"] + (["torch"] if with_torch else []) + \
        ["numpy", "floor"]
    import numpy  # only for its version; the driver itself computes nothing heavy

    result = {
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
        "machine": {"cpu": _cpu_model(), "cores": os.cpu_count(), "python": platform.python_version(),
                    "numpy": numpy.__version__,
                    "OPENBLAS_CORETYPE": os.environ.get("OPENBLAS_CORETYPE"),
                    "OPENBLAS_L2_SIZE": os.environ.get("OPENBLAS_L2_SIZE"),
                    "openblas_env_unset_for_workers": args.unset_openblas_env},
        "config": {"sizes": [N_INPUTS, 256, N_OUTPUTS], "batch": 256, "lr": LR, "seed": SEED},
        "rounds": args.rounds, "threads": args.threads, "load_before": os.getloadavg(),
    }
    print(f"epoch benchmark: {', '.join(kinds)}; {args.rounds} rounds", flush=True)
    records = run_rounds(kinds, args.rounds, 256, 256, args.pause, env)
    result["n_train"], result["n_test"] = 60000, 10000
    result["epoch"] = summarise(records, 60000, 10000, 256)
    result["blas"] = {kind: rec["ready"]["blas"] for kind, rec in records.items()}
    if with_torch:
        result["machine"]["torch"] = records["torch"]["ready"].get("torch")
        result["machine"]["torch_threads"] = records["torch"]["ready"].get("torch_threads")
    result["flops"] = epoch_flops(60000, 10000, 256)
    pairs = [("scratchmlp", "floor"), ("scratchmlp-chapter", "floor"), ("numpy", "floor"),
             ("scratchmlp", "numpy")]
    if with_torch:
        pairs += [("torch", "scratchmlp"), ("torch", "scratchmlp-chapter")]
    result["ratios"] = {f"{a}/{b}": paired_ratio(records, a, b) for a, b in pairs}
    result["cpu_ratios"] = {f"{a}/{b}": paired_ratio(records, a, b, "cpu_seconds")
                            for a, b in pairs}
    # The fastest epoch of each is the least disturbed one: on a busy machine, a second view.
    epoch = result["epoch"]
    result["min_ratios"] = {f"{a}/{b}": epoch[a]["min_s"] / epoch[b]["min_s"] for a, b in pairs}
    if not args.skip_jobs:
        print("whole-job peak RSS:", flush=True)
        result["jobs"] = run_jobs(args.job_epochs, with_torch, env)
    if not args.skip_startup:
        print("start-up times ...", flush=True)
        result["startup"] = run_startup(7, env)
    if not args.skip_scaling:
        print("scaling table:", flush=True)
        result["scaling"] = run_scaling(args.scaling_rounds, args.pause, env, 60000, 10000)
        # With one thread, CPU time is the work done, undisturbed by other processes' load.
        result["scaling_fit"] = scaling_fit(result["scaling"], "scratchmlp_s", "ms_per_gflop")
        result["scaling_fit_cpu"] = scaling_fit(result["scaling"], "scratchmlp_cpu_s",
                                                "cpu_ms_per_gflop")
    result["load_after"] = os.getloadavg()
    result["targets"] = targets(result)
    print_report(result)
    path = Path(args.json) if args.json else \
        HERE.parent / "results" / time.strftime("epoch-%Y%m%d-%H%M%S.json")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(f"JSON: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
