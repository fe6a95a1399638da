"""`gluon.data`: ArrayDataset and a DataLoader that yields batches as Arrays."""

from __future__ import annotations

import numpy as np

from ..engine import Array
from ..engine.numpy_like import random as _random
from ..errors import ScratchMLPError


def _raw(x):
    return x.data if isinstance(x, Array) else np.asarray(x)


class ArrayDataset:
    """Rows of several arrays of one length, taken together: `dataset[i]` is a tuple."""

    def __init__(self, *arrays):
        self.arrays = [_raw(a) for a in arrays]
        lengths = {len(a) for a in self.arrays}
        if len(lengths) > 1:
            raise ScratchMLPError(f"ArrayDataset: arrays of different lengths {sorted(lengths)}")

    def __len__(self):
        return len(self.arrays[0])

    def __getitem__(self, i):
        rows = tuple(Array(a[i], dtype=a.dtype) for a in self.arrays)
        return rows[0] if len(rows) == 1 else rows

    def take(self, indices):
        """The rows at `indices`, one Array per array (what a batch is made of)."""
        rows = tuple(Array(a[indices], dtype=a.dtype) for a in self.arrays)
        return rows[0] if len(rows) == 1 else rows


class DataLoader:
    """Minibatches of `batch_size` rows, reshuffled each pass with `shuffle=True` (from
    `scratchmlp.np.random`, so `np.random.seed` repeats them); the last may be smaller."""

    def __init__(self, dataset, batch_size=None, shuffle=False, last_batch="keep",
                 num_workers=0, **unused):
        from .. import ranges
        if not ranges.RANGES["batch_size"].holds(batch_size):  # 2.5 was taken as 2
            raise ScratchMLPError(f"DataLoader: batch_size must be a positive whole number, "
                                  f"got {ranges.shown(batch_size)}")
        if last_batch not in ("keep", "discard", "rollover"):
            raise ScratchMLPError(f"DataLoader: last_batch {last_batch!r} is not keep, "
                                  "discard or rollover")
        self.dataset, self.batch_size, self.shuffle = dataset, int(batch_size), shuffle
        self.last_batch, self._rolled = last_batch, np.arange(0)

    def __len__(self):
        n = len(self.dataset) + len(self._rolled)
        whole = self.last_batch != "keep"
        return n // self.batch_size if whole else -(-n // self.batch_size)

    def __iter__(self):
        """The batches of one pass. As Gluon's, "rollover" keeps a short last batch for the
        start of the next pass instead of yielding it."""
        n = len(self.dataset)
        order = _random.generator.permutation(n) if self.shuffle else np.arange(n)
        order, self._rolled = np.concatenate([self._rolled, order]), np.arange(0)
        for start in range(0, len(order), self.batch_size):
            indices = order[start:start + self.batch_size]
            if len(indices) < self.batch_size and self.last_batch != "keep":
                if self.last_batch == "rollover":
                    self._rolled = indices
                return
            yield self._batch(indices)

    def _batch(self, indices):
        if hasattr(self.dataset, "take"):
            return self.dataset.take(indices)
        items = [self.dataset[int(i)] for i in indices]
        if isinstance(items[0], tuple):
            return tuple(Array(np.stack([_raw(x[k]) for x in items]))
                         for k in range(len(items[0])))
        return Array(np.stack([_raw(x) for x in items]))


def __getattr__(name):  # an MXNet name we lack: one line (errors.NotProvided), not a traceback
    from ..errors import missing_name
    raise missing_name("gluon.data", name)
