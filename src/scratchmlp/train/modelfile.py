"""Model and checkpoint files: plain .npz archives read back with allow_pickle=False.

`model.npz` holds W1, b1, W2, b2, ... and `config` (the TrainConfig as a JSON string).
`checkpoint.npz` adds `epoch` and the optimiser's state (`opt.<name>` arrays) for --resume.
Anything that does not fit is refused with a ScratchMLPError; pickled objects are never loaded.
"""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import numpy as np

from ..errors import ScratchMLPError
from ..files import atomic_write_bytes
from ..nn import MLP
from .config import TrainConfig

_OPT = "opt."


def build_model(config: TrainConfig) -> MLP:
    return MLP(784, config.hidden, 10, activation=config.activation, init=config.init,
               seed=config.seed)


def _npz_bytes(arrays: dict) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def save_model(path, model: MLP, config: TrainConfig):
    arrays = dict(model.state_dict(), config=np.array(config.to_json()))
    atomic_write_bytes(path, _npz_bytes(arrays))


def save_checkpoint(path, model: MLP, config: TrainConfig, epoch: int, optimizer_state: dict):
    arrays = dict(model.state_dict(), config=np.array(config.to_json()), epoch=np.array(epoch))
    arrays.update({_OPT + name: value for name, value in optimizer_state.items()})
    atomic_write_bytes(path, _npz_bytes(arrays))


def read_npz(path) -> dict:
    """Every array of an .npz file, refusing anything that is not one (pickles included)."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as archive:
            if not isinstance(archive, np.lib.npyio.NpzFile):
                raise ScratchMLPError(f"{path}: a single .npy array, not an .npz model file")
            return {name: archive[name] for name in archive.files}
    except FileNotFoundError:
        raise ScratchMLPError(f"{path}: no such model file") from None
    except IsADirectoryError:
        raise ScratchMLPError(f"{path}: is a directory, not a model file") from None
    except ScratchMLPError:
        raise
    except ValueError as e:
        if "pickle" in str(e):
            raise ScratchMLPError(f"{path}: holds pickled Python objects; refusing to load "
                                  "them (they could run code). Re-export the model as plain "
                                  "arrays") from None
        raise ScratchMLPError(f"{path}: not a valid .npz model file ({e})") from None
    except (OSError, EOFError, zipfile.BadZipFile, KeyError, RuntimeError,
            NotImplementedError, UnicodeDecodeError, OverflowError, MemoryError) as e:
        raise ScratchMLPError(f"{path}: not a valid .npz model file ({type(e).__name__})") from None


def _config_of(arrays: dict, source: str) -> TrainConfig:
    if "config" not in arrays:
        raise ScratchMLPError(f"{source}: no 'config' entry; not a scratchmlp model file")
    text = arrays.pop("config")
    if text.dtype.kind != "U" or text.shape != ():
        raise ScratchMLPError(f"{source}: 'config' is not a JSON string")
    try:
        values = json.loads(str(text))
    except json.JSONDecodeError as e:
        raise ScratchMLPError(f"{source}: 'config' is not valid JSON ({e})") from None
    return TrainConfig.from_dict(values, f"{source} config")


def load_model(path):
    """(model, config) from a model.npz or checkpoint.npz."""
    source = str(path)
    arrays = read_npz(path)
    config = _config_of(arrays, source)
    arrays.pop("epoch", None)
    arrays = {k: v for k, v in arrays.items() if not k.startswith(_OPT)}
    model = build_model(config)
    model.load_state_dict(arrays, source)
    return model, config


def load_checkpoint(path):
    """(model, config, epoch, optimiser state) from checkpoint.npz."""
    source = str(path)
    arrays = read_npz(path)
    config = _config_of(arrays, source)
    epoch = arrays.pop("epoch", None)
    if epoch is None or epoch.shape != () or epoch.dtype.kind not in "iu":
        raise ScratchMLPError(f"{source}: no valid 'epoch' entry; not a checkpoint")
    state = {k[len(_OPT):]: arrays.pop(k) for k in list(arrays) if k.startswith(_OPT)}
    model = build_model(config)
    model.load_state_dict(arrays, source)
    return model, config, int(epoch), state
