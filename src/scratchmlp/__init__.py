"""scratchmlp: multilayer perceptrons from scratch on NumPy, with their own autograd.

Rooms, lowest first: `engine` (arrays + autograd), `nn` (model, losses, optimisers, init),
`data` (Fashion-MNIST), `train` (the loop, configs, model files), `report` (plots, tables),
`runs` (the run folder), `sweep`, `cli`; docs/architecture.md walks through them.
The chapter's own names live in `scratchmlp.d2l`; `scratchmlp.np` is its `np`.
Submodules are imported on use, so `import scratchmlp` stays instant. The version is the
installed package's (`importlib.metadata.version("scratchmlp")`, `scratchmlp --version`).
"""

from .errors import ScratchMLPError  # noqa: F401

_CONTEXT_NAMES = ("Context", "cpu", "gpu", "num_gpus", "current_context")


def __getattr__(name):
    """`mx.cpu()`, `mx.gpu()`, `mx.random.seed()` for code written as `import mxnet as mx`
    (loaded on first use)."""
    if name in _CONTEXT_NAMES:
        from .engine import context
        return getattr(context, name)
    if name == "random":  # mx.random.seed(42)
        from .npx import random
        return random
    raise AttributeError(f"module 'scratchmlp' has no attribute {name!r}")
