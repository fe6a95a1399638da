"""`gluon.Trainer`: steps a set of Parameters with one of scratchmlp's optimisers."""

from __future__ import annotations

from .. import ranges
from ..errors import ScratchMLPError
from ..nn import optim
from .parameter import Parameter

# Gluon's optimiser settings and the keyword scratchmlp's optimiser classes use for each
_SETTINGS = {"learning_rate": "lr", "wd": "weight_decay", "momentum": "momentum",
             "beta1": "beta1", "beta2": "beta2", "epsilon": "eps"}


class Trainer:
    """`Trainer(net.collect_params(), 'sgd', {'learning_rate': 0.1, 'wd': 0})`; call
    `step(batch_size)` after `backward()`: the gradients are divided by `batch_size`.

    Weight decay applies to every parameter whose `wd_mult` is 1 (Gluon's default) and to
    none whose `wd_mult` is 0 (e.g. `collect_params('.*bias').setattr('wd_mult', 0)`).
    """

    def __init__(self, params, optimizer="sgd", optimizer_params=None, **unused):
        self._params = list(params.values() if isinstance(params, dict) else params)
        if not all(isinstance(p, Parameter) for p in self._params):
            raise ScratchMLPError("Trainer takes Parameters, e.g. net.collect_params()")
        settings = dict(optimizer_params or {})
        unknown = sorted(set(settings) - set(_SETTINGS))
        if unknown:
            raise ScratchMLPError(f"Trainer: optimizer_params {unknown} are not supported "
                                  f"(supported: {sorted(_SETTINGS)})")
        self._kwargs = {_SETTINGS[k]: v for k, v in settings.items()}
        self._kwargs["lr"] = _checked_lr(self._kwargs.get("lr", 0.01))
        name = optimizer.lower()
        if name == "sgd" and self._kwargs.get("momentum"):
            name = "momentum"
        self._kind = optim.get(name)
        self._optimizer = None  # made on the first step: shapes may be known only then

    @property
    def learning_rate(self) -> float:
        return self._kwargs["lr"]

    def set_learning_rate(self, lr: float):
        self._kwargs["lr"] = lr = _checked_lr(lr)
        if self._optimizer is not None:
            self._optimizer.lr = lr

    def step(self, batch_size, ignore_stale_grad=False):
        if not ranges.RANGES["lr"].holds(batch_size):  # 0 was a ZeroDivisionError
            raise ScratchMLPError(f"Trainer.step: batch_size must be a positive number (the "
                                  f"gradients are divided by it), got {ranges.shown(batch_size)}")
        self._check_mults()  # at every step: a change after the first one is not ignored
        if self._optimizer is None:
            self._optimizer = self._build()
        stale = [i for i, p in enumerate(self._stepped) if _is_stale(p)]
        if stale and not ignore_stale_grad:
            raise StaleGradient(f"Trainer.step: the gradient of parameter "
                                f"{self._stepped[stale[0]].name} has not been updated by "
                                "backward() since the last step; step(batch_size, "
                                "ignore_stale_grad=True) skips such parameters")
        self._step_skipping(batch_size, stale)
        for p in self._stepped:
            p._stepped_grad = id(p.data().grad.data)

    def _step_skipping(self, batch_size, stale):
        """One optimiser step that leaves the `stale` parameters, and their optimiser state,
        as they were: Gluon skips them."""
        if not stale:
            return self._optimizer.step(batch_size)
        saved = {i: self._stepped[i].data().data.copy() for i in stale}
        state = {k: v.copy() for k, v in self._optimizer.state_dict().items()
                 if k.rpartition(".")[2].isdigit() and int(k.rpartition(".")[2]) in saved}
        self._optimizer.step(batch_size)
        for i, values in saved.items():
            self._stepped[i].data().data[...] = values
        for key, values in state.items():
            self._optimizer.state_dict()[key][...] = values

    def _check_mults(self):
        if any(p.wd_mult not in (0, 1) or p.lr_mult != 1 for p in self._params):
            raise ScratchMLPError("Trainer: wd_mult other than 0 or 1, and lr_mult other "
                                  "than 1, are not supported")

    def _build(self):
        self._stepped = stepped = [p for p in self._params if p.grad_req != "null"]
        arrays = [p.data() for p in stepped]  # grad_req "null": Gluon skips those
        decays = [p.wd_mult == 1 for p in stepped]
        kwargs = dict(self._kwargs)
        if self._kind is not optim.Momentum:
            kwargs.pop("momentum", None)
        return self._kind(arrays, decay=decays, **kwargs)


class StaleGradient(ScratchMLPError, UserWarning):
    """Trainer.step found a gradient no backward() wrote since the last step (Gluon raises a
    UserWarning there; this is both)."""


def _is_stale(param) -> bool:
    grad = param.data().grad
    return grad is not None and id(grad.data) == param._stepped_grad


def _checked_lr(lr):
    """A learning rate in TrainConfig's range (NaN was accepted and trained to NaN weights)."""
    try:
        return ranges.check("lr", lr)
    except ranges.SettingError as e:
        raise ScratchMLPError(f"Trainer: learning_rate must be {e.expected}, got "
                              f"{ranges.shown(lr)}") from None
