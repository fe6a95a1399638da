"""The search space: what a sweep may vary, as plain JSON-able values (no optuna here).

Each entry is one of
  - a list: a categorical choice among its values, e.g. "activation": ["relu", "tanh"];
  - {"low": a, "high": b, "log": bool, "int": bool}: a range (log-uniform with "log");
  - a single value: fixed for every trial (not searched).
`--space FILE` overrides entries of DEFAULT_SPACE by name; anything else is refused.
"""

from __future__ import annotations

import json
import math
import os

from .. import ranges
from ..errors import ScratchMLPError
from ..files import parse_json, read_json

DEFAULT_SPACE = {
    "lr": {"low": 1e-4, "high": 1.0, "log": True},
    "epochs": {"low": 5, "high": 30, "int": True},
    "layers": {"low": 1, "high": 3, "int": True},
    "units": [64, 128, 256, 512, 1024, 2048],  # every hidden layer gets this width
    "activation": ["relu", "tanh", "sigmoid"],
    "batch_size": [64, 128, 256, 512],
    "init": ["normal", "xavier", "he"],
    "weight_decay": {"low": 1e-6, "high": 1e-3, "log": True},
    "dropout": {"low": 0.0, "high": 0.6},
    "optimizer": ["sgd", "momentum", "adam"],
    "momentum": 0.9,
    "schedule": ["constant", "cosine"],
    "augment": ["none", "shift", "flip", "shift,flip"],
}


def load_space(path=None, overrides: dict = None) -> dict:
    """DEFAULT_SPACE with the entries of a JSON file (or JSON text starting with "{") and then
    of `overrides` replacing its own; every value is checked to make a trainable point."""
    space = dict(DEFAULT_SPACE)
    if path is not None:
        values, source = _read(path)
        if not isinstance(values, dict):
            raise ScratchMLPError(f"{source}: expected a JSON object of parameter -> choices")
        space.update(_checked(values, source))
    space.update(_checked(overrides or {}, "options"))
    _check_points(space)
    return space


def _read(path):
    """(the JSON value, how to name it in messages) of a file, or of JSON text itself."""
    text = str(path)
    if text.lstrip().startswith("{") and not os.path.exists(text):  # the file's one reader:
        return parse_json(text, "search space", "JSON search space"), "search space"  # dup keys
    return read_json(path, "search space"), text


def _representative(spec):
    if isinstance(spec, list):
        return spec[0]
    if isinstance(spec, dict):
        return int(spec["low"]) if spec.get("int") else spec["low"]
    return spec


def _candidates(spec) -> list:
    if isinstance(spec, list):
        return spec
    if isinstance(spec, dict):
        return [_representative(spec), int(spec["high"]) if spec.get("int") else spec["high"]]
    return [spec]


def _check_points(space: dict):
    """Each value of each parameter, put in a point of otherwise first choices, must make a
    valid TrainConfig, and so must the largest network (most layers of the widest units): a
    trial must never be the first to find a value that cannot train."""
    base = {name: _representative(spec) for name, spec in DEFAULT_SPACE.items()}
    for name, spec in space.items():
        for value in _candidates(spec):
            if isinstance(value, bool) or not isinstance(value, (str, int, float)):
                raise ScratchMLPError(f"search space: {name} choice {json.dumps(value)} is "
                                      "not a number or a string")
            _check_point({**base, name: value}, f"{name} value {json.dumps(value)}")
    largest = {name: max(_candidates(space[name]), key=float) for name in ("layers", "units")}
    _check_point({**base, **largest}, f"the largest network ({largest['layers']} layers of "
                                      f"{largest['units']} units)")


def _check_point(point: dict, what: str):
    from ..train.config import TrainConfig
    try:
        TrainConfig.from_dict(to_config_values(point), "point")
    except (ScratchMLPError, ValueError, TypeError, AttributeError, OverflowError) as e:
        reason = str(e).removeprefix("point: ")
        if len(reason) > 240:  # keep the line readable: whole words, marked as cut
            reason = reason[:240].rsplit(" ", 1)[0] + " ..."
        raise ScratchMLPError(f"search space: {what} cannot be trained ({reason})") from None


def _checked(values: dict, source: str) -> dict:
    unknown = sorted(set(values) - set(DEFAULT_SPACE))
    if unknown:
        raise ScratchMLPError(f"{source}: unknown search parameter(s) {', '.join(unknown)}; "
                              f"known: {', '.join(DEFAULT_SPACE)}")
    for name, spec in values.items():
        if isinstance(spec, dict):
            extra = sorted(set(spec) - {"low", "high", "log", "int"})
            if extra or "low" not in spec or "high" not in spec:
                raise ScratchMLPError(f"{source}: {name} needs a range like "
                                      '{"low": 1, "high": 3}; got ' + json.dumps(spec))
            for key in ("low", "high"):
                _check_value(name, spec[key], source)
            if spec["low"] > spec["high"]:
                raise ScratchMLPError(f"{source}: {name} needs finite numbers low <= high, "
                                      f"got {json.dumps(spec)}")
            if spec.get("log") and spec["low"] <= 0:
                raise ScratchMLPError(f"{source}: {name} is log-scaled, so low must be > 0")
        elif isinstance(spec, list) and not spec:
            raise ScratchMLPError(f"{source}: {name} has an empty list of choices")
    return values


# A search parameter's numbers meet the range of the setting it becomes (scratchmlp.ranges).
_SETTING_OF = {"units": "width", "layers": "width"}
_FINITE = ranges.Range(float, -math.inf, "a finite number")


def _check_value(name: str, value, source: str):
    limits = ranges.RANGES.get(_SETTING_OF.get(name, name), _FINITE)
    if not limits.holds(value):
        raise ScratchMLPError(f"{source}: {name} must be {limits.words}, "
                              f"got {ranges.shown(value)}")


def suggest(trial, space: dict) -> dict:
    """One point of `space`, drawn through an optuna-like `trial` (suggest_* methods)."""
    point = {}
    for name, spec in space.items():
        if isinstance(spec, list):
            point[name] = spec[0] if len(spec) == 1 else trial.suggest_categorical(name, spec)
        elif isinstance(spec, dict):
            if spec["low"] == spec["high"]:
                point[name] = spec["low"]
            elif spec.get("int"):
                point[name] = trial.suggest_int(name, int(spec["low"]), int(spec["high"]),
                                                log=bool(spec.get("log")))
            else:
                point[name] = trial.suggest_float(name, float(spec["low"]), float(spec["high"]),
                                                  log=bool(spec.get("log")))
        else:
            point[name] = spec
    return point


def to_config_values(point: dict) -> dict:
    """TrainConfig fields for a point of the space (layers x units become `hidden`)."""
    values = {k: v for k, v in point.items() if k not in ("layers", "units", "augment")}
    values["hidden"] = [int(point["units"])] * int(point["layers"])
    augment = point["augment"]
    if isinstance(augment, str):
        augment = [] if augment in ("", "none") else augment.split(",")
    values["augment"] = list(augment)
    for name in ("epochs", "batch_size"):
        values[name] = int(values[name])
    for name in ("lr", "weight_decay", "dropout", "momentum"):
        values[name] = float(values[name])
    return values
