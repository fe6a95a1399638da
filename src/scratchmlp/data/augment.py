"""Training-time augmentation on uint8 image batches: random shifts and horizontal flips.

Vectorised per batch (one gather, no Python loop over images). Shifts move each image by
dy, dx drawn uniformly from -max_shift .. max_shift, filling the uncovered border with
black (0); flips mirror each image left-right with probability 1/2. The caller owns the
generator (DataIter seeds it from (seed, epoch)), so the same run sees the same batches.
"""

from __future__ import annotations

import numpy as np

from ..errors import ScratchMLPError

AUGMENTATIONS = ("shift", "flip")
MAX_SHIFT = 2


def check(names) -> list:
    names = list(names)
    unknown = [n for n in names if n not in AUGMENTATIONS]
    if unknown or len(set(names)) != len(names):
        raise ScratchMLPError(f"augment: give each of {', '.join(AUGMENTATIONS)} at most once, "
                              f"got {names}")
    return names


def flip(batch: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Each (H, W) image mirrored left-right with probability 1/2 (a new array)."""
    chosen = rng.random(len(batch)) < 0.5
    out = batch.copy()
    out[chosen] = batch[chosen, :, ::-1]
    return out


def shift(batch: np.ndarray, rng: np.random.Generator, max_shift: int = MAX_SHIFT) -> np.ndarray:
    """Each (H, W) image moved by its own (dy, dx) in [-max_shift, max_shift], zero-filled."""
    n, height, width = batch.shape
    padded = np.pad(batch, ((0, 0), (max_shift, max_shift), (max_shift, max_shift)))
    # a window of the padded image starting at (max_shift - dy, max_shift - dx)
    top = rng.integers(0, 2 * max_shift + 1, size=n)
    left = rng.integers(0, 2 * max_shift + 1, size=n)
    rows = (top[:, None] + np.arange(height))[:, :, None]
    cols = (left[:, None] + np.arange(width))[:, None, :]
    return padded[np.arange(n)[:, None, None], rows, cols]


def augment(batch: np.ndarray, names, rng: np.random.Generator) -> np.ndarray:
    """`batch` (N, H, W) with the named augmentations applied in a fixed order: flip, shift."""
    if "flip" in names:
        batch = flip(batch, rng)
    if "shift" in names:
        batch = shift(batch, rng)
    return batch
