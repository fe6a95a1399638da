"""Model and checkpoint files: plain .npz archives of numbers, read back without pickle.

`model.npz` holds W1, b1, W2, b2, ... and `config` (the TrainConfig as a JSON string).
`checkpoint.npz` adds `epoch` and the optimiser's state (`opt.<name>` arrays) for --resume.

A model file may come from anywhere, so it is read as untrusted input: our own reader opens the
zip, reads the config entry first, and from it derives every entry the file may hold, with its
shape: the entry count and each entry's declared size are checked against that before anything
else is decompressed (LZMA/bzip2 entries, which NumPy never writes, are refused: Python's zip
reader decompresses them without a bound). Each .npy header is checked against the expected
shape before its values are read, object arrays (pickles) are refused without unpickling, and
weights must be finite as float32. Anything that does not fit is a ScratchMLPError naming the
file and what is wrong with it.
"""

from __future__ import annotations

import json
import math
import os
import stat
import struct
import warnings
import zipfile
import zlib
from pathlib import Path

import numpy as np

from ..engine import Array
from ..errors import ScratchMLPError
from ..files import atomic_open, parse_json, short
from ..nn import MLP, optim
from ..nn.model import parameter_count, weight_shapes
from .config import TrainConfig

_OPT = "opt."
_MAX_MEMBER_BYTES = 1 << 30  # a bigger array is not a model this package wrote
_MAX_DIRECTORY = 1 << 20  # bytes of zip directory: ~15,000 entries, far more than a model has
_MAX_CONFIG_BYTES = 1 << 20  # the config entry (JSON text stored as UTF-32 by NumPy)
_HEADER_ROOM = 4096  # .npy header bytes beyond the values (NumPy writes 128)
_COMPRESSIONS = {zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED}  # what np.savez(_compressed) writes
# Trained float32 weights hardly compress (about 1.1:1); a file whose entries claim to inflate
# far more than this, and to many megabytes, holds no trained model: it is refused unread.
_MAX_RATIO, _RATIO_FROM = 50, 64 << 20
_PLAIN_KINDS = "biufU"  # bool, integers, floats, text (the config); never objects
_REMAKE = "give a model.npz or checkpoint.npz written by scratchmlp train"


def build_model(config: TrainConfig) -> MLP:
    try:
        return MLP(784, config.hidden, 10, activation=config.activation, init=config.init,
                   seed=config.seed, dropout=config.dropout)
    except MemoryError:
        count = parameter_count(config.sizes)
        raise ScratchMLPError(f"hidden {config.hidden}: a model of {count:,} parameters does "
                              "not fit in memory; choose smaller hidden layer widths") from None


def _write_npz(path, arrays: dict):
    """An .npz as np.savez writes it (stored .npy entries), but the same bytes for the same
    arrays (np.savez stamps each entry with the time of writing), written atomically and
    straight to the file: the whole archive built in memory first (and copied once more)
    cost twice its size, and a MemoryError there became a ValueError traceback."""
    with atomic_open(path, "wb") as out:
        with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as archive:
            for name, value in arrays.items():
                entry = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
                entry.external_attr = 0o600 << 16
                with archive.open(entry, "w", force_zip64=True) as f:
                    np.lib.format.write_array(f, np.asanyarray(value), allow_pickle=False)


def _config_text(config: TrainConfig) -> np.ndarray:
    """The settings that decide the weights (not the thread count: the same weights at any
    count are the same file)."""
    return np.array(json.dumps(config.to_dict(), indent=2) + "\n")


def save_model(path, model: MLP, config: TrainConfig):
    arrays = dict(model.state_dict(), config=_config_text(config))
    _write_npz(path, arrays)


def save_checkpoint(path, model: MLP, config: TrainConfig, epoch: int, optimizer_state: dict):
    arrays = dict(model.state_dict(), config=_config_text(config), epoch=np.array(epoch))
    arrays.update({_OPT + name: value for name, value in optimizer_state.items()})
    _write_npz(path, arrays)


# ---- what a file of a given config holds ---------------------------------------------------
def _standin(j: int) -> Array:
    """A real parameter of zero size whose shape (0, j+1) marks it as parameter j."""
    param = Array(np.zeros((0, j + 1), np.float32), dtype=np.float32)
    param.attach_grad()
    return param


def _optimizer_shapes(config: TrainConfig, param_shapes: list) -> dict:
    """state name -> (shape, dtype kinds) of the optimiser's state, asked of optim itself."""
    standins = [_standin(j) for j in range(len(param_shapes))]
    try:
        state = optim.build(config.optimizer, standins, config.lr, momentum=config.momentum)
    except ScratchMLPError:
        return {}
    shapes = {}
    for name, value in state.state_dict().items():
        shape = np.shape(value)
        if len(shape) == 2 and shape[0] == 0:  # a copy of parameter j's shape
            shape = param_shapes[shape[1] - 1]
        shapes[name] = (tuple(shape), "f" if np.asarray(value).dtype.kind == "f" else "iu")
    return shapes


def _weight_shapes(config: TrainConfig) -> dict:
    return weight_shapes(config.sizes)  # the one statement of a model's arrays


def _entries_of(config: TrainConfig) -> dict:
    """Every entry a model or checkpoint file of `config` may hold: name -> (shape, kinds)."""
    weights = _weight_shapes(config)
    entries = {name: (shape, "f") for name, shape in weights.items()}
    entries["epoch"] = ((), "iu")
    for name, spec in _optimizer_shapes(config, list(weights.values())).items():
        entries[_OPT + name] = spec
    return entries


def _hidden(config: TrainConfig) -> str:
    """hidden [...] for a message, short even for a config of thousands of layers."""
    h = config.hidden
    return f"hidden {h}" if len(h) <= 6 else f"hidden [{h[0]}, {h[1]}, ... {len(h)} layers]"


def _names(names) -> str:
    names = [n if len(n) <= 30 and n.replace(".", "_").isidentifier() else short(n, 20)
             for n in names]
    more = f" and {len(names) - 5:,} more" if len(names) > 5 else ""
    return ", ".join(names[:5]) + more if names else "none"


# ---- reading -------------------------------------------------------------------------------
def _open_regular(path: Path):
    """The file at `path`, opened once, refusing what is not a regular file (a FIFO or a
    device never blocks: checked before opening, opened non-blocking, checked again)."""
    try:
        st = os.stat(path)
        if stat.S_ISDIR(st.st_mode):
            raise ScratchMLPError(f"{path}: is a directory, not a model file")
        if stat.S_ISREG(st.st_mode):
            f = os.fdopen(os.open(path, os.O_RDONLY | os.O_NONBLOCK), "rb")
            if stat.S_ISREG(os.fstat(f.fileno()).st_mode):
                return f
            f.close()
    except FileNotFoundError:
        raise ScratchMLPError(f"{path}: no such model file") from None
    except OSError as e:
        raise ScratchMLPError(f"{path}: cannot read ({e.strerror or e})") from None
    raise ScratchMLPError(f"{path}: not a regular file (a pipe or device?); {_REMAKE}")


def _sniff(f, path: Path):
    """Refuse what is not a zip of a plausible directory before zipfile parses it."""
    head = f.read(6)
    size = os.fstat(f.fileno()).st_size
    f.seek(max(0, size - (1 << 16) - 22))
    tail = f.read()
    f.seek(0)
    if head.startswith(b"\x93NUMPY"):
        raise ScratchMLPError(f"{path}: a single .npy array, not an .npz model file; {_REMAKE}")
    if head[:1] == b"\x80":  # pickle protocol 2+ opcode
        raise ScratchMLPError(f"{path}: a Python pickle, not an .npz model file; refusing to "
                              f"load it (unpickling can run code); {_REMAKE}")
    if not head.startswith(b"PK"):
        raise ScratchMLPError(f"{path}: not an .npz model file (no zip header); {_REMAKE}")
    _check_directory_size(tail, path)


def _check_directory_size(tail: bytes, path: Path):
    """The zip's end record: its directory must be small enough to parse in an instant."""
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or len(tail) < at + 22:
        return  # no end record: zipfile says "not a zip file"
    entries, size = struct.unpack("<xxxxxxxxxxHI", tail[at:at + 16])
    if size > _MAX_DIRECTORY or entries == 0xFFFF:  # 0xFFFF: a zip64 count (65,535 or more)
        raise ScratchMLPError(f"{path}: its zip directory lists {entries:,} entries in "
                              f"{size:,} bytes, far more than a model file holds; {_REMAKE}")


def _directory(archive: zipfile.ZipFile, source: str) -> dict:
    """name -> ZipInfo of every entry, each an .npy of a known kind of compression."""
    infos = {}
    for info in archive.infolist():
        if not info.filename.endswith(".npy"):
            raise ScratchMLPError(f"{source}: holds {short(info.filename)}, which is not an "
                                  f"array; {_REMAKE}")
        name = info.filename[:-len(".npy")]
        if name in infos:
            raise ScratchMLPError(f"{source}: holds {short(name)} twice; {_REMAKE}")
        if info.compress_type not in _COMPRESSIONS or info.flag_bits & 0x1:
            method = "encryption" if info.flag_bits & 0x1 else f"method {info.compress_type}"
            raise ScratchMLPError(f"{source}: {short(name)} uses zip {method}; model files are "
                                  f"stored or deflate-compressed, as NumPy writes them; {_REMAKE}")
        infos[name] = info
    return infos


def _read_config(archive, infos: dict, source: str) -> TrainConfig:
    info = infos.get("config")
    if info is None:
        raise ScratchMLPError(f"{source}: no 'config' entry, so not a scratchmlp model file; "
                              f"{_REMAKE}")
    if info.file_size > _MAX_CONFIG_BYTES:
        raise ScratchMLPError(f"{source}: its 'config' entry holds {info.file_size:,} bytes, "
                              f"more than a config needs; {_REMAKE}")
    text = _read_member(archive, info, source, "config", (), "U")
    values = parse_json(str(text), f"{source}: 'config'", "JSON config")
    return TrainConfig.from_dict(values, f"{source} config")


def _check_entries(infos: dict, config: TrainConfig, source: str) -> dict:
    """The entries fit the config, by name and by declared size, before any is decompressed.

    Returns name -> (shape, kinds) of the entries present."""
    required = _weight_shapes(config)
    if len(required) + 1 > len(infos) or len(infos) > 6 * len(required) + 3:
        expected = {**dict.fromkeys(required), "config": None}  # too many: skip the big table
    else:
        expected = {**_entries_of(config), "config": None}
    missing = [name for name in required if name not in infos]
    extra = [name for name in infos if name not in expected]
    if missing or extra:
        count = f"{len(infos):,} entries; " if len(infos) > 2 * len(expected) + 8 else ""
        raise ScratchMLPError(f"{source}: arrays do not fit its config ({_hidden(config)}): "
                              f"{count}missing {_names(missing)}, unexpected {_names(extra)}; "
                              f"{_REMAKE}")
    for name, info in infos.items():
        if name == "config":
            continue
        shape, _ = expected[name]
        budget = min(_HEADER_ROOM + math.prod(shape) * 8, _MAX_MEMBER_BYTES + _HEADER_ROOM)
        if info.file_size > budget:
            raise ScratchMLPError(f"{source}: {name} declares {info.file_size:,} bytes, more than "
                                  f"its shape {shape} can need ({budget:,}); {_REMAKE}")
    _check_ratio(infos, source)
    return expected


def _check_ratio(infos: dict, source: str):
    declared = sum(info.file_size for info in infos.values())
    packed = sum(info.compress_size for info in infos.values())
    if declared > _RATIO_FROM and declared > _MAX_RATIO * packed:
        raise ScratchMLPError(f"{source}: {packed:,} compressed bytes claim to hold {declared:,} "
                              "(more than 50:1): not the weights of a trained model; "
                              f"{_REMAKE}")


def _read_member(archive, info, source: str, name: str, shape: tuple, kinds: str,
                 needs: str = "the file needs"):
    """One .npy entry whose header must declare `shape` and a dtype of `kinds`, checked before
    its values are read; float values come back as float32."""
    where = f"{source}: {name}"
    with archive.open(info) as f:
        header_shape, fortran, dtype = _read_header(f, where)
        _check_dtype(dtype, kinds, where)
        if header_shape != shape:
            raise ScratchMLPError(f"{where} has shape {header_shape} but {needs} {shape}; "
                                  f"{_REMAKE}")
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
    if dtype.kind == "f":
        with np.errstate(over="ignore"):  # 1e300 becomes inf, refused by the caller
            return array.astype(np.float32)
    return array.astype(dtype.newbyteorder("="), copy=True)


def _read_header(f, where: str):
    try:
        version = np.lib.format.read_magic(f)
        with warnings.catch_warnings():  # NumPy warns about Python 2 headers; we decide
            warnings.simplefilter("ignore")
            if version == (1, 0):
                return np.lib.format.read_array_header_1_0(f)
            if version == (2, 0):
                return np.lib.format.read_array_header_2_0(f)
            raise ValueError(f"unsupported .npy version {version}")
    except (zipfile.BadZipFile, zlib.error, EOFError):
        raise  # damage in the zip layer: reported by _read_file
    except Exception as e:  # noqa: BLE001
        # NumPy parses the header text with ast.literal_eval, tokenize (for Python 2
        # headers) and np.dtype; on hostile text those raise a zoo of exception types
        # (the fuzzer met TokenError), and every one of them means "not a valid header".
        raise ScratchMLPError(f"{where}: not a valid .npy array ({_first_line(e)}); "
                              f"{_REMAKE}") from None


def _check_dtype(dtype: np.dtype, kinds: str, where: str):
    if dtype.hasobject:
        raise ScratchMLPError(f"{where}: holds pickled Python objects; refusing to load "
                              f"them (unpickling can run code); {_REMAKE}")
    if dtype.kind not in _PLAIN_KINDS or dtype.fields is not None or dtype.subdtype \
            or dtype.itemsize == 0 or dtype.itemsize > 8 and dtype.kind != "U":
        raise ScratchMLPError(f"{where}: holds {dtype} values, not plain numbers; {_REMAKE}")
    if dtype.kind not in kinds:
        wanted = {"f": "floating point", "iu": "an integer", "U": "text"}[kinds]
        raise ScratchMLPError(f"{where} holds {dtype}, not {wanted}; {_REMAKE}")


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0][:200] if text else type(error).__name__


def _read_file(path) -> tuple:
    """(config, arrays) of a model or checkpoint file, every size bounded by its config."""
    path = Path(path)
    source = str(path)
    try:
        with _open_regular(path) as f:
            _sniff(f, path)
            config, arrays = _read_archive(f, source)
    except ScratchMLPError:
        raise
    except OSError as e:  # a read failing midway (I/O error)
        raise ScratchMLPError(f"{path}: cannot read ({e.strerror or e})") from None
    _check_finite(arrays, source)
    return config, arrays


def _read_archive(f, source: str) -> tuple:
    try:
        with zipfile.ZipFile(f) as archive:
            infos = _directory(archive, source)
            config = _read_config(archive, infos, source)
            expected = _check_entries(infos, config, source)
            needs = f"its config ({_hidden(config)}) needs"
            arrays = {name: _read_member(archive, info, source, name, *expected[name], needs)
                      for name, info in infos.items() if name != "config"}
    except ScratchMLPError:
        raise
    except (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, OSError, EOFError,
            ValueError, RuntimeError, NotImplementedError, UnicodeDecodeError, OverflowError,
            struct.error, KeyError, IndexError, MemoryError) as e:
        # Damage in the zip layer itself: CRC, compression, directory, encryption.
        raise ScratchMLPError(f"{source}: damaged .npz model file ({type(e).__name__}: "
                              f"{_first_line(e)}); {_REMAKE}") from None
    return config, arrays


def _check_finite(arrays: dict, source: str):
    for name, array in arrays.items():
        if array.dtype.kind == "f" and not np.isfinite(array).all():
            what = "optimiser state " if name.startswith(_OPT) else ""
            raise ScratchMLPError(f"{source}: {what}{name} holds NaN or infinite values as "
                                  "float32 (a diverged run?); use a checkpoint from before it "
                                  "diverged")


def _build_loaded(arrays: dict, config: TrainConfig, source: str) -> MLP:
    model = build_model(config)
    model.load_state_dict({name: arrays[name] for name in _weight_shapes(config)}, source)
    return model


def load_model(path):
    """(model, config) from a model.npz or checkpoint.npz."""
    config, arrays = _read_file(path)
    return _build_loaded(arrays, config, str(path)), config


def load_checkpoint(path, expected: TrainConfig | None = None):
    """(model, config, epoch, optimiser state) from checkpoint.npz.

    The file must be consistent with its own config (every shape, the optimiser's state, an
    epoch within its epochs); with `expected` (the run's config.json), its arrays must also
    be those of `expected`: the same layers, shapes and optimiser state. Any mismatch is a
    ScratchMLPError naming it.
    """
    source = str(path)
    config, arrays = _read_file(path)
    epoch = _epoch(arrays, config, source)
    state = {k[len(_OPT):]: v for k, v in arrays.items() if k.startswith(_OPT)}
    _check_state(state, config, source, "its config")
    if expected is not None:
        _check_against(arrays, state, epoch, expected, source)
    return _build_loaded(arrays, config, source), config, epoch, state


def _epoch(arrays: dict, config: TrainConfig, source: str) -> int:
    epoch = arrays.get("epoch")
    if epoch is None:
        raise ScratchMLPError(f"{source}: no 'epoch' entry; not a checkpoint of a run")
    epoch = int(epoch)
    if not 0 <= epoch <= config.epochs:
        raise ScratchMLPError(f"{source}: epoch {epoch} is outside its config's 0-"
                              f"{config.epochs} epochs; not a checkpoint of a run")
    return epoch


def _check_state(state: dict, config: TrainConfig, source: str, whose: str):
    """Exactly the arrays the config's optimiser keeps (a checkpoint always holds them all:
    without them a resumed run would not continue bit for bit)."""
    wanted = _optimizer_shapes(config, list(_weight_shapes(config).values()))
    if set(state) != set(wanted):
        raise ScratchMLPError(f"{source}: optimiser state {_names(sorted(state))} does not fit "
                              f"{whose} ({config.optimizer}: {_names(sorted(wanted))})")
    for name, value in state.items():
        if value.dtype.kind != "f" and int(value) < 0:
            raise ScratchMLPError(f"{source}: optimiser state {name} is {int(value)}, "
                                  "below 0")


def _check_against(arrays: dict, state: dict, epoch: int, expected: TrainConfig, source: str):
    """The checkpoint's arrays are those of the `expected` config (the run's config.json)."""
    layers = sum(1 for name in arrays if name.startswith("W"))
    if layers != len(expected.hidden) + 1:
        raise ScratchMLPError(f"{source}: holds {layers} layers but the run's config has "
                              f"{len(expected.hidden) + 1} ({_hidden(expected)})")
    for name, shape in _weight_shapes(expected).items():
        if arrays[name].shape != shape:
            raise ScratchMLPError(f"{source}: {name} has shape {arrays[name].shape} but the "
                                  f"run's config ({_hidden(expected)}) needs {shape}")
    _check_state(state, expected, source, "the run's config")
    for name, (shape, _) in _optimizer_shapes(expected, list(
            _weight_shapes(expected).values())).items():
        if name in state and state[name].shape != shape:
            raise ScratchMLPError(f"{source}: optimiser state {name} has shape "
                                  f"{state[name].shape} but the run's config needs {shape}")
    if epoch > expected.epochs:
        raise ScratchMLPError(f"{source}: holds epoch {epoch}, beyond the run's config of "
                              f"{expected.epochs} epochs")
