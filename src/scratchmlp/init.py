"""`from scratchmlp import init`: Gluon's initialisers, for `net.initialize(init.Normal(...))`.

Each draws from `scratchmlp.np.random` (seed it with `np.random.seed`) in the parameter's
dtype. As in Gluon, they initialise weights; biases start at zero whatever the initialiser.
"""

from __future__ import annotations

import numpy as _np

from .engine.numpy_like import random as _random


class Initializer:
    """Call with a shape and dtype; returns a NumPy array of initial values. A subclass may
    instead define Gluon's `_init_weight(self, name, data)`, filling the array `data` in
    place (d2l's custom `MyInit`)."""

    def __call__(self, shape, dtype=_np.float32) -> _np.ndarray:
        from .engine import Array
        data = Array(_np.zeros(shape, dtype=dtype), dtype=dtype)
        self._init_weight("", data)
        return data.data

    def _init_weight(self, name, data):
        raise NotImplementedError(f"{type(self).__name__} defines neither __call__ nor "
                                  "_init_weight")

    def __repr__(self):
        return f"{type(self).__name__}({', '.join(f'{k}={v}' for k, v in vars(self).items())})"


class Normal(Initializer):
    def __init__(self, sigma=0.01):
        self.sigma = sigma

    def __call__(self, shape, dtype=_np.float32):
        return _random.generator.standard_normal(shape, dtype=dtype) * dtype(self.sigma)


class Uniform(Initializer):
    """U(-scale, scale): Gluon's default initialiser."""

    def __init__(self, scale=0.07):
        self.scale = scale

    def __call__(self, shape, dtype=_np.float32):
        draw = _random.generator.random(shape, dtype=dtype)
        return (draw * dtype(2 * self.scale) - dtype(self.scale)).astype(dtype)


class Constant(Initializer):
    def __init__(self, value):
        self.value = value

    def __call__(self, shape, dtype=_np.float32):
        return _np.full(shape, self.value, dtype=dtype)


class Zero(Constant):
    def __init__(self):
        super().__init__(0.0)


class One(Constant):
    def __init__(self):
        super().__init__(1.0)


class Xavier(Initializer):
    """Glorot: U(-a, a) with a = sqrt(3 * magnitude / ((fan_in + fan_out) / 2)) ('avg')."""

    def __init__(self, rnd_type="uniform", factor_type="avg", magnitude=3):
        self.rnd_type, self.factor_type, self.magnitude = rnd_type, factor_type, magnitude

    def __call__(self, shape, dtype=_np.float32):
        fan_out, fan_in = shape[0], int(_np.prod(shape[1:]))
        factor = {"avg": (fan_in + fan_out) / 2, "in": fan_in, "out": fan_out}[self.factor_type]
        scale = _np.sqrt(self.magnitude / factor)
        if self.rnd_type == "gaussian":
            return Normal(scale)(shape, dtype)
        return Uniform(scale)(shape, dtype)


class MSRAPrelu(Xavier):
    """He initialisation for (P)ReLU layers: Gaussian Xavier with magnitude 2 / (1 + slope^2)."""

    def __init__(self, factor_type="avg", slope=0.25):
        super().__init__("gaussian", factor_type, 2.0 / (1 + slope ** 2))


Zeros, Ones = Zero, One

_BY_NAME = {"zeros": Zero, "zero": Zero, "ones": One, "one": One, "normal": Normal,
            "uniform": Uniform, "xavier": Xavier, "msraprelu": MSRAPrelu}


def create(init):
    """An initializer from Gluon's ways of naming one: an Initializer, or its registered name
    ('zeros', 'ones', 'normal', 'uniform', 'xavier'), as `Dense(weight_initializer='zeros')`."""
    if not isinstance(init, str):
        return init
    if init.lower() not in _BY_NAME:
        from .errors import ScratchMLPError
        raise ScratchMLPError(f"initializer {init!r} is not one of {sorted(_BY_NAME)}")
    return _BY_NAME[init.lower()]()


def __getattr__(name):  # an MXNet name we lack: one line (errors.NotProvided), not a traceback
    from .errors import missing_name
    raise missing_name("init", name)


def initial_values(initializer, name: str, shape, dtype) -> _np.ndarray:
    """The values `initializer` gives a parameter `name` of `shape` and `dtype`; one that
    defines Gluon's `_init_weight(name, data)` fills a zero array in place."""
    dtype = _np.dtype(dtype)
    if isinstance(initializer, Initializer) and \
            type(initializer)._init_weight is not Initializer._init_weight:
        from .engine import Array
        data = Array(_np.zeros(shape, dtype=dtype), dtype=dtype)
        initializer._init_weight(name, data)
        return data.data
    return initializer(shape, dtype.type)
