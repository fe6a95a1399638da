"""The contenders of the epoch benchmark: one epoch of the chapter's MLP, five ways.

Each is a class built from (data, hidden, batch) whose `epoch()` trains one epoch on the
training set and scores the test set, returning train_loss, train_acc and test_acc as d2l's
train_ch3 computes them (the floor returns nothing: it only multiplies). Importable, so tests
check that they do the same work (tests/test_benchmark.py); `use_threads` sets a process's
thread count the way each library takes it.

  scratchmlp         scratchmlp.train.loop.train with MLP + SGD + DataIter, as `fit()` runs it
  scratchmlp-chapter the chapter's own code: np.maximum/np.dot net, d2l.sgd, d2l.train
  torch              PyTorch eager on the CPU: torch.nn + torch.optim.SGD
  numpy              a hand-fused NumPy loop: no autograd, preallocated buffers, out= everywhere
  numpy-chunks       the same hand-fused loop, data-parallel in fixed halves of each batch on
                     scratchmlp's thread pool, BLAS at one thread: the same bytes at any thread
                     count, as scratchmlp's rule asks: a ceiling for any engine under that rule
  numpy-columns      the same under the same rule, model-parallel over fixed ranges of hidden
                     units: one meeting point between the threads per step (the fewest)
  floor              only the epoch's matrix multiplies (same shapes, same transposes, out=):
                     the GEMM floor = the epoch's matmul FLOPs / float32 matmul throughput
"""

from __future__ import annotations

N_INPUTS, N_OUTPUTS = 784, 10
LR, SEED = 0.5, 0
_kept = []  # threadpoolctl limits stay in force for the process


def use_threads(kind: str, threads: int):
    """Run contender `kind` on `threads` threads: scratchmlp's pool (BLAS at one thread; also
    numpy-chunks'),
    torch's intra-op threads, or (numpy, floor) OpenBLAS's own threads."""
    base = kind.split("@")[0]
    if base.startswith("scratchmlp") or base in ("numpy-chunks", "numpy-columns"):
        from scratchmlp.engine import parallel
        parallel.set_threads(threads)
    elif base == "torch":
        import torch
        torch.set_num_threads(threads)
    else:
        from threadpoolctl import threadpool_limits
        _kept.append(threadpool_limits(limits=threads, user_api="blas"))


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
        raw, X = self.raw[:n], self.X[:n]
        if isinstance(index_or_slice, slice):
            raw = images[index_or_slice]
        else:
            np.take(images, index_or_slice, axis=0, out=raw)
        np.multiply(raw, np.float32(1 / 255), out=X)
        return X, *self._layers(X, self.H[:n], self.Z[:n])

    def _layers(self, X, H, Z):
        """H = relu(X @ W1 + b1), Z = H @ W2 + b2, into the given buffers."""
        np = self.np
        np.matmul(X, self.W1, out=H)
        H += self.b1
        np.maximum(H, 0, out=H)
        np.matmul(H, self.W2, out=Z)
        Z += self.b2
        return H, Z

    def _output_gradient(self, Z, y, top, total, scale) -> float:
        """The batch's summed loss; Z (the logits) becomes (softmax - onehot) * scale."""
        np, rows = self.np, self.rows[:len(y)]
        np.max(Z, axis=1, keepdims=True, out=top)
        Z -= top
        picked = Z[rows, y]
        np.exp(Z, out=Z)
        np.sum(Z, axis=1, keepdims=True, out=total)
        loss = float(np.log(total).sum() - picked.sum())
        Z /= total  # softmax; then (softmax - onehot) * lr / n is each weight's step
        Z[rows, y] -= 1
        Z *= scale
        return loss

    def epoch(self) -> dict:
        np, B = self.np, self.batch
        order = np.random.default_rng([SEED, self.epoch_number]).permutation(len(self.labels))
        self.epoch_number += 1
        total_loss = correct = 0.0
        for start in range(0, len(order), B):
            index = order[start:start + B]
            n, y = len(index), self.labels[index]
            X, H, Z = self._forward(self.images, index, n)
            correct += np.count_nonzero(Z.argmax(axis=1) == y)
            dH, mask = self.dH[:n], self.mask[:n]
            loss = self._output_gradient(Z, y, self.top[:n], self.total[:n], np.float32(LR / n))
            if not np.isfinite(loss):
                raise FloatingPointError("the loss diverged")
            total_loss += loss
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


class NumpyChunksRunner(NumpyRunner):
    """The hand-fused loop under scratchmlp's rule (the same bytes at any thread count),
    data-parallel: two meeting points between the threads per step.

    Each full batch is cut into CHUNKS fixed row ranges. Step 1, one task per chunk on the
    pool: gather and scale its images, forward, loss, output gradient, hidden gradient and the
    chunk's own weight gradients (its rows' share of X.T @ dH). Step 2, one task per fixed row
    range of W1: subtract the chunks' shares in chunk order (W2 and the biases, small, on the
    calling thread, in the same order). The thread count only decides who runs a task.
    """

    CHUNKS = 2

    def __init__(self, data, hidden, batch):
        super().__init__(data, hidden, batch)
        np = self.np
        f32 = np.float32
        from scratchmlp.engine import parallel
        self.pool = parallel.pool
        rows = -(-batch // self.CHUNKS)
        self.parts = [dict(raw=np.empty((rows, N_INPUTS), np.uint8),
                           X=np.empty((rows, N_INPUTS), f32), H=np.empty((rows, hidden), f32),
                           dH=np.empty((rows, hidden), f32), Z=np.empty((rows, N_OUTPUTS), f32),
                           top=np.empty((rows, 1), f32), total=np.empty((rows, 1), f32),
                           dW1=np.empty_like(self.W1), dW2=np.empty_like(self.W2),
                           db1=np.empty_like(self.b1), db2=np.empty_like(self.b2))
                      for _ in range(self.CHUNKS)]
        half = -(-N_INPUTS // 2)
        self.w1_ranges = [(0, half), (half, N_INPUTS)]

    def _chunk(self, part, images, index, y, scale, results, k):
        np, b = self.np, self.parts[part]
        n = len(index)
        raw, X, H, Z, dH = b["raw"][:n], b["X"][:n], b["H"][:n], b["Z"][:n], b["dH"][:n]
        np.take(images, index, axis=0, out=raw, mode="clip")
        np.multiply(raw, np.float32(1 / 255), out=X)
        self._layers(X, H, Z)
        correct = np.count_nonzero(Z.argmax(axis=1) == y)
        loss = self._output_gradient(Z, y, b["top"][:n], b["total"][:n], scale)
        np.matmul(Z, self.W2.T, out=dH)
        np.matmul(H.T, Z, out=b["dW2"])
        np.sum(Z, axis=0, out=b["db2"])
        dH *= H > 0
        np.matmul(X.T, dH, out=b["dW1"])
        np.sum(dH, axis=0, out=b["db1"])
        results[k] = (loss, correct)

    def _update_w1(self, start, stop, parts):
        W1 = self.W1[start:stop]
        for part in parts:
            W1 -= self.parts[part]["dW1"][start:stop]

    def epoch(self) -> dict:
        np, B = self.np, self.batch
        order = np.random.default_rng([SEED, self.epoch_number]).permutation(len(self.labels))
        self.epoch_number += 1
        pool, total_loss, correct = self.pool(), 0.0, 0
        for start in range(0, len(order), B):
            index = order[start:start + B]
            n = len(index)
            size = -(-n // self.CHUNKS)
            cuts = [(lo, min(lo + size, n)) for lo in range(0, n, size)]
            results = [None] * len(cuts)
            scale = np.float32(LR / n)
            pool.run(self._chunk, [(k, self.images, index[lo:hi], self.labels[index[lo:hi]],
                                    scale, results, k) for k, (lo, hi) in enumerate(cuts)])
            parts = range(len(cuts))
            pool.run(self._update_w1, [(lo, hi, parts) for lo, hi in self.w1_ranges])
            for part in parts:
                b = self.parts[part]
                self.W2 -= b["dW2"]
                self.b1 -= b["db1"]
                self.b2 -= b["db2"]
            total_loss += sum(r[0] for r in results)
            correct += sum(r[1] for r in results)
        right = [0] * 2

        def test(k, lo, hi):
            _, _, Z = self._forward_rows(lo, hi, k)
            right[k] += np.count_nonzero(Z.argmax(axis=1) == self.test_labels[lo:hi])

        for start in range(0, len(self.test_labels), B):
            stop = min(start + B, len(self.test_labels))
            middle = (start + stop + 1) // 2
            pool.run(test, [(0, start, middle), (1, middle, stop)])
        n = len(order)
        return {"train_loss": total_loss / n, "train_acc": correct / n,
                "test_acc": sum(right) / len(self.test_labels)}

    def _forward_rows(self, lo, hi, part):
        np, b, n = self.np, self.parts[part], hi - lo
        X, H, Z = b["X"][:n], b["H"][:n], b["Z"][:n]
        np.multiply(self.test_images[lo:hi], np.float32(1 / 255), out=X)
        return X, *self._layers(X, H, Z)


class NumpyColumnsRunner(NumpyRunner):
    """The hand-fused loop under scratchmlp's rule, model-parallel: ONE meeting point per step.

    Each of COLUMNS fixed ranges of hidden units is one task, and a task owns its units' slices
    of W1, b1 and W2. In one visit a task finishes the previous step (its units' hidden
    gradient, then their rows of W2, their b1 entries and their columns of W1 updated) and
    starts this one (its units' activations and their share of the logits), so only the
    logits (B x 10) are assembled between two visits, on the calling thread: shares summed in
    task order, softmax, loss, output gradient, b2. The next batch is gathered there too.
    """

    COLUMNS = 2

    def __init__(self, data, hidden, batch):
        super().__init__(data, hidden, batch)
        np, f32 = self.np, self.np.float32
        width = -(-hidden // self.COLUMNS)
        self.units = [(lo, min(lo + width, hidden)) for lo in range(0, hidden, width)]
        self.inputs = [np.empty((batch, N_INPUTS), f32) for _ in range(2)]  # this and last step
        self.tasks = [dict(H=np.empty((batch, hi - lo), f32), dH=np.empty((batch, hi - lo), f32),
                           Z=np.empty((batch, N_OUTPUTS), f32),
                           dW1=np.empty((N_INPUTS, hi - lo), f32),
                           dW2=np.empty((hi - lo, N_OUTPUTS), f32), db1=np.empty(hi - lo, f32))
                      for lo, hi in self.units]
        from scratchmlp.engine import parallel
        self.pool = parallel.pool

    def _visit(self, k, previous, dZ, X):
        """Task k: finish the step whose inputs were `previous` (output gradient dZ, already
        scaled by lr / n), then start the one on X (either may be None)."""
        np, (lo, hi), t = self.np, self.units[k], self.tasks[k]
        if dZ is not None:
            n = len(dZ)
            H, dH = t["H"][:n], t["dH"][:n]
            np.matmul(dZ, self.W2[lo:hi].T, out=dH)  # before W2 moves
            dH *= H > 0
            self.W2[lo:hi] -= np.matmul(H.T, dZ, out=t["dW2"])
            self.b1[lo:hi] -= np.sum(dH, axis=0, out=t["db1"])
            self.W1[:, lo:hi] -= np.matmul(previous.T, dH, out=t["dW1"])
        if X is not None:
            n = len(X)
            H = t["H"][:n]
            np.matmul(X, self.W1[:, lo:hi], out=H)
            H += self.b1[lo:hi]
            np.maximum(H, 0, out=H)
            np.matmul(H, self.W2[lo:hi], out=t["Z"][:n])

    def _logits(self, n):
        Z = self.Z[:n]
        np = self.np
        np.copyto(Z, self.tasks[0]["Z"][:n])
        for t in self.tasks[1:]:
            Z += t["Z"][:n]
        Z += self.b2
        return Z

    def _gather(self, index, slot):
        np, n = self.np, len(index)
        np.take(self.images, index, axis=0, out=self.raw[:n], mode="clip")
        return np.multiply(self.raw[:n], np.float32(1 / 255), out=self.inputs[slot][:n])

    def epoch(self) -> dict:
        np, B, pool = self.np, self.batch, self.pool()
        order = np.random.default_rng([SEED, self.epoch_number]).permutation(len(self.labels))
        self.epoch_number += 1
        batches = [order[start:start + B] for start in range(0, len(order), B)]
        total_loss = correct = 0.0
        previous = dZ = None
        X = self._gather(batches[0], 0)
        for step, index in enumerate(batches):
            pool.run(self._visit, [(k, previous, dZ, X) for k in range(len(self.units))])
            n, y = len(index), self.labels[index]
            Z = self._logits(n)
            correct += np.count_nonzero(Z.argmax(axis=1) == y)
            total_loss += self._output_gradient(Z, y, self.top[:n], self.total[:n],
                                                np.float32(LR / n))
            self.b2 -= np.sum(Z, axis=0, out=self.db2)
            previous, dZ = X, Z
            X = self._gather(batches[step + 1], (step + 1) % 2) if step + 1 < len(batches) else None
        pool.run(self._visit, [(k, previous, dZ, None) for k in range(len(self.units))])
        right = 0
        for start in range(0, len(self.test_labels), B):
            images = self.test_images[start:start + B]
            X = np.multiply(images, np.float32(1 / 255), out=self.inputs[0][:len(images)])
            pool.run(self._visit, [(k, None, None, X) for k in range(len(self.units))])
            right += np.count_nonzero(self._logits(len(images)).argmax(axis=1)
                                      == self.test_labels[start:start + B])
        return {"train_loss": total_loss / len(order), "train_acc": correct / len(order),
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
           "torch": TorchRunner, "numpy": NumpyRunner, "numpy-chunks": NumpyChunksRunner,
           "numpy-columns": NumpyColumnsRunner, "floor": FloorRunner}


def build(kind: str, data, hidden: int, batch: int):
    """The runner of `kind` ("scratchmlp", or with a thread count: "scratchmlp@1")."""
    return RUNNERS[kind.split("@")[0]](data, hidden, batch)
