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

    As Gluon's, a parameter's step uses learning_rate * lr_mult and wd * wd_mult (e.g.
    `collect_params('.*bias').setattr('wd_mult', 0)` leaves the biases undecayed).
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
        name = optimizer.lower()
        # each MXNet optimiser's default learning rate: Adam's is 0.001, SGD's 0.01
        self._kwargs["lr"] = _checked_lr(self._kwargs.get("lr", 0.001 if name == "adam" else 0.01))
        if name == "sgd" and self._kwargs.get("momentum"):
            name = "momentum"
        self._kind = optim.get(name)
        self._groups = None  # made on the first step: shapes may be known only then

    @property
    def learning_rate(self) -> float:
        return self._kwargs["lr"]

    def set_learning_rate(self, lr: float):
        self._kwargs["lr"] = lr = _checked_lr(lr)
        for optimizer, members in self._groups or ():
            optimizer.lr = lr * members[0].lr_mult

    def step(self, batch_size, ignore_stale_grad=False):
        if not ranges.RANGES["lr"].holds(batch_size):  # 0 was a ZeroDivisionError
            raise ScratchMLPError(f"Trainer.step: batch_size must be a positive number (the "
                                  f"gradients are divided by it), got {ranges.shown(batch_size)}")
        if self._groups is None:
            self._groups = self._build()
        self._check_mults()
        stepped = [p for _, members in self._groups for p in members]
        stale = {id(p) for p in stepped if _is_stale(p)}
        if stale and not ignore_stale_grad:
            first = next(p for p in stepped if id(p) in stale)
            raise StaleGradient(f"Trainer.step: the gradient of parameter {first.name} has not "
                                "been updated by backward() since the last step; "
                                "step(batch_size, ignore_stale_grad=True) skips such parameters")
        for optimizer, members in self._groups:
            _step_skipping(optimizer, members, batch_size, stale)
        for p in stepped:
            p._stepped_grad = id(p.data().grad.data)

    def _check_mults(self):
        """lr_mult and wd_mult are read at the first step (one optimiser per pair of them); a
        change afterwards is refused rather than silently ignored."""
        for _, members in self._groups:
            for p in members:
                if (p.lr_mult, p.wd_mult) != self._mults[id(p)]:
                    raise ScratchMLPError(f"Trainer: parameter {p.name}'s lr_mult/wd_mult "
                                          "changed after the first step; set them before it")

    def _build(self) -> list:
        """(optimiser, parameters) per pair (lr_mult, wd_mult): MXNet's update of a parameter
        uses learning_rate * lr_mult and wd * wd_mult. grad_req "null" ones are skipped."""
        groups = {}
        for p in self._params:
            if p.grad_req == "null":
                continue
            for mult in (p.lr_mult, p.wd_mult):
                if not ranges.RANGES["weight_decay"].holds(mult):
                    raise ScratchMLPError(f"Trainer: parameter {p.name}'s lr_mult and wd_mult "
                                          f"must be numbers 0 or more, got {ranges.shown(mult)}")
            groups.setdefault((p.lr_mult, p.wd_mult), []).append(p)
        self._mults = {id(p): key for key, members in groups.items() for p in members}
        return [(self._optimizer_for(lr_mult, wd_mult, members), members)
                for (lr_mult, wd_mult), members in groups.items()]

    def _optimizer_for(self, lr_mult, wd_mult, members):
        kwargs = dict(self._kwargs)
        kwargs["lr"] = kwargs["lr"] * lr_mult
        kwargs["weight_decay"] = kwargs.get("weight_decay", 0.0) * wd_mult
        if self._kind is not optim.Momentum:
            kwargs.pop("momentum", None)
        if self._kind is optim.Adam:
            kwargs["eps_scaled"] = False  # MXNet's adam_update: w -= lr_t * m / (sqrt(v) + eps)
        return self._kind([p.data() for p in members], decay=[wd_mult != 0] * len(members),
                          **kwargs)


def _step_skipping(optimizer, members, batch_size, stale: set):
    """One optimiser step that leaves the `stale` parameters, and their optimiser state, as
    they were: Gluon skips them."""
    skipped = {i: p.data().data.copy() for i, p in enumerate(members) if id(p) in stale}
    if not skipped:
        return optimizer.step(batch_size)
    state = {k: v.copy() for k, v in optimizer.state_dict().items()
             if k.rpartition(".")[2].isdigit() and int(k.rpartition(".")[2]) in skipped}
    optimizer.step(batch_size)
    for i, values in skipped.items():
        members[i].data().data[...] = values
    for key, values in state.items():
        optimizer.state_dict()[key][...] = values


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
