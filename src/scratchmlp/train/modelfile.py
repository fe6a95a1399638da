"""Model and checkpoint files: plain .npz archives of numbers, read back without pickle.

`model.npz` holds W1, b1, W2, b2, ... and `config` (the TrainConfig as a JSON string).
`checkpoint.npz` adds `epoch` and the optimiser's state (`opt.<name>` arrays) for --resume.

A model file may come from anywhere, so it is read as untrusted input: our own reader opens the
zip, accepts only .npy members of plain numbers or text, checks every size against the bytes
actually present before allocating, and refuses object arrays (pickles) without unpickling them.
Anything that does not fit is a ScratchMLPError naming the file and what is wrong with it.
"""

from __future__ import annotations

import io
import json
import lzma
import math
import struct
import warnings
import zipfile
import zlib
from pathlib import Path

import numpy as np

from ..errors import ScratchMLPError
from ..files import atomic_write_bytes
from ..nn import MLP
from .config import TrainConfig

_OPT = "opt."
_MAX_MEMBER_BYTES = 1 << 30  # a bigger array is not a model this package wrote
_PLAIN_KINDS = "biufU"  # bool, integers, floats, text (the config); never objects
_REMAKE = "give a model.npz or checkpoint.npz written by scratchmlp train"


def build_model(config: TrainConfig) -> MLP:
    try:
        return MLP(784, config.hidden, 10, activation=config.activation, init=config.init,
                   seed=config.seed, dropout=config.dropout)
    except MemoryError:
        sizes = [784, *config.hidden, 10]
        count = sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:]))
        raise ScratchMLPError(f"hidden {config.hidden}: a model of {count:,} parameters does "
                              "not fit in memory; choose smaller --hidden widths") from None


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
    """Every array of an .npz file, refusing anything that is not plain numbers (pickles included)."""
    path = Path(path)
    try:
        with open(path, "rb") as f:
            head = f.read(6)
    except FileNotFoundError:
        raise ScratchMLPError(f"{path}: no such model file") from None
    except IsADirectoryError:
        raise ScratchMLPError(f"{path}: is a directory, not a model file") from None
    except OSError as e:
        raise ScratchMLPError(f"{path}: cannot read ({e.strerror})") from None
    if head.startswith(b"\x93NUMPY"):
        raise ScratchMLPError(f"{path}: a single .npy array, not an .npz model file; {_REMAKE}")
    if head[:1] == b"\x80":  # pickle protocol 2+ opcode
        raise ScratchMLPError(f"{path}: a Python pickle, not an .npz model file; refusing to "
                              f"load it (unpickling can run code); {_REMAKE}")
    if not head.startswith(b"PK"):
        raise ScratchMLPError(f"{path}: not an .npz model file (no zip header); {_REMAKE}")
    try:
        with zipfile.ZipFile(path) as archive:
            arrays = {}
            for info in archive.infolist():
                name = info.filename[:-len(".npy")] if info.filename.endswith(".npy") else None
                if name is None:
                    raise ScratchMLPError(f"{path}: holds {info.filename!r}, which is not an "
                                          f"array; {_REMAKE}")
                if name in arrays:
                    raise ScratchMLPError(f"{path}: holds {name} twice; {_REMAKE}")
                arrays[name] = _read_member(archive, info, f"{path}: {name}")
            return arrays
    except ScratchMLPError:
        raise
    except (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, lzma.LZMAError, OSError,
            EOFError, ValueError, RuntimeError, NotImplementedError, UnicodeDecodeError,
            OverflowError, struct.error, KeyError, IndexError) as e:
        # Damage in the zip layer itself: CRC, compression, directory, encryption.
        raise ScratchMLPError(f"{path}: damaged .npz model file ({type(e).__name__}: "
                              f"{_first_line(e)}); {_REMAKE}") from None


def _read_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, where: str) -> np.ndarray:
    """One .npy member, with its header checked against the bytes actually there."""
    if info.file_size > _MAX_MEMBER_BYTES:
        raise ScratchMLPError(f"{where}: {info.file_size} bytes, more than a model holds; "
                              f"{_REMAKE}")
    with archive.open(info) as f:
        try:
            version = np.lib.format.read_magic(f)
            with warnings.catch_warnings():  # NumPy warns about Python 2 headers; we decide
                warnings.simplefilter("ignore")
                if version == (1, 0):
                    shape, fortran, dtype = np.lib.format.read_array_header_1_0(f)
                elif version == (2, 0):
                    shape, fortran, dtype = np.lib.format.read_array_header_2_0(f)
                else:
                    raise ValueError(f"unsupported .npy version {version}")
        except (zipfile.BadZipFile, zlib.error, lzma.LZMAError, EOFError):
            raise  # damage in the zip layer: reported by read_npz
        except Exception as e:  # noqa: BLE001
            # NumPy parses the header text with ast.literal_eval, tokenize (for Python 2
            # headers) and np.dtype; on hostile text those raise a zoo of exception types
            # (the fuzzer met TokenError), and every one of them means "not a valid header".
            raise ScratchMLPError(f"{where}: not a valid .npy array ({_first_line(e)}); "
                                  f"{_REMAKE}") from None
        if dtype.hasobject:
            raise ScratchMLPError(f"{where}: holds pickled Python objects; refusing to load "
                                  f"them (unpickling can run code); {_REMAKE}")
        if dtype.kind not in _PLAIN_KINDS or dtype.fields is not None or dtype.subdtype \
                or dtype.itemsize == 0:
            raise ScratchMLPError(f"{where}: holds {dtype} values, not plain numbers; {_REMAKE}")
        if any(n < 0 for n in shape):
            raise ScratchMLPError(f"{where}: negative size in shape {shape}; {_REMAKE}")
        count = math.prod(shape)
        nbytes = count * dtype.itemsize
        if nbytes > info.file_size:
            raise ScratchMLPError(f"{where}: header declares shape {shape} ({nbytes} bytes) "
                                  f"but the member has {info.file_size}; {_REMAKE}")
        data = f.read(nbytes + 1)
    if len(data) != nbytes:
        raise ScratchMLPError(f"{where}: {len(data)} data bytes where its shape {shape} needs "
                              f"{nbytes}; {_REMAKE}")
    array = np.frombuffer(data, dtype, count=count).reshape(shape, order="F" if fortran else "C")
    return array.astype(dtype.newbyteorder("="), copy=True)


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0][:200] if text else type(error).__name__


def _config_of(arrays: dict, source: str) -> TrainConfig:
    if "config" not in arrays:
        raise ScratchMLPError(f"{source}: no 'config' entry, so not a scratchmlp model file; "
                              f"{_REMAKE}")
    text = arrays.pop("config")
    if text.dtype.kind != "U" or text.shape != ():
        raise ScratchMLPError(f"{source}: 'config' is not a JSON string; {_REMAKE}")
    try:
        values = json.loads(str(text))
    except (json.JSONDecodeError, RecursionError) as e:
        raise ScratchMLPError(f"{source}: 'config' is not valid JSON ({_first_line(e)})") from None
    return TrainConfig.from_dict(values, f"{source} config")


def _check_weights(arrays: dict, config: TrainConfig, source: str):
    """The arrays fit the configuration: checked before a model of that size is allocated."""
    sizes = [784, *config.hidden, 10]
    expected = {}
    for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:]), 1):
        expected[f"W{i}"], expected[f"b{i}"] = (fan_in, fan_out), (fan_out,)
    missing = sorted(set(expected) - set(arrays))
    extra = sorted(set(arrays) - set(expected))
    if missing or extra:
        raise ScratchMLPError(f"{source}: arrays do not fit its config (hidden {config.hidden}): "
                              f"missing {', '.join(missing) or 'none'}, unexpected "
                              f"{', '.join(extra) or 'none'}; {_REMAKE}")
    for name, shape in expected.items():
        array = arrays[name]
        if array.shape != shape:
            raise ScratchMLPError(f"{source}: {name} has shape {array.shape} but its config "
                                  f"(hidden {config.hidden}) needs {shape}; {_REMAKE}")
        if array.dtype.kind != "f":
            raise ScratchMLPError(f"{source}: {name} holds {array.dtype}, not floating point; "
                                  f"{_REMAKE}")
        if not np.isfinite(array).all():
            raise ScratchMLPError(f"{source}: {name} holds NaN or infinite values (a diverged "
                                  f"run?); use a checkpoint from before it diverged")


def _build_loaded(arrays: dict, config: TrainConfig, source: str) -> MLP:
    _check_weights(arrays, config, source)
    model = build_model(config)
    model.load_state_dict(arrays, source)
    return model


def load_model(path):
    """(model, config) from a model.npz or checkpoint.npz."""
    source = str(path)
    arrays = read_npz(path)
    config = _config_of(arrays, source)
    arrays.pop("epoch", None)
    arrays = {k: v for k, v in arrays.items() if not k.startswith(_OPT)}
    return _build_loaded(arrays, config, source), config


def load_checkpoint(path):
    """(model, config, epoch, optimiser state) from checkpoint.npz."""
    source = str(path)
    arrays = read_npz(path)
    config = _config_of(arrays, source)
    epoch = arrays.pop("epoch", None)
    if epoch is None or epoch.shape != () or epoch.dtype.kind not in "iu" or epoch < 0:
        raise ScratchMLPError(f"{source}: no valid 'epoch' entry; not a checkpoint of a run")
    state = {k[len(_OPT):]: arrays.pop(k) for k in list(arrays) if k.startswith(_OPT)}
    return _build_loaded(arrays, config, source), config, int(epoch), state
