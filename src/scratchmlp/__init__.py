"""scratchmlp: multilayer perceptrons from scratch on NumPy, with their own autograd.

Rooms, lowest first: `engine` (arrays + autograd), `nn` (model, losses, optimisers, init),
`data` (Fashion-MNIST), `train` (loop, runs, checkpoints), `report` (plots), `cli`.
The chapter's own names live in `scratchmlp.d2l`; `scratchmlp.np` is its `np`.
Submodules are imported on use, so `import scratchmlp` stays instant.
"""

from .errors import ScratchMLPError  # noqa: F401

__version__ = "0.1.0"
