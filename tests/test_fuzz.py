"""Property-based fuzzing of every reader of untrusted files: IDX, model files (.npz), JSON
(--config, --space, a model's embedded config), pictures and the decoded cache. For any bytes
they either return a well-formed result or raise ScratchMLPError; never another exception
(ValueError, RecursionError, MemoryError, OverflowError included), never a warning, never a
hang, never an allocation the bytes do not justify; the cache never yields wrong data.

Arbitrary bytes rarely get past the first magic-number check, so most strategies start from
valid files and mutate them (flip, cut, splice), or build valid containers around fuzzed
insides (a zip with correct CRCs holding a mutated .npy, an .npz of generated arrays).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import re
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from scratchmlp.data import idx
from scratchmlp.errors import ScratchMLPError
from scratchmlp.train.config import TrainConfig
from scratchmlp.train.modelfile import build_model, load_checkpoint, load_model, save_checkpoint

pytestmark = pytest.mark.slow  # thousands of examples: `make test`, not `make test-fast`

# About 3,000 examples in all: cheap parses get more than whole model loads.
FUZZ = settings(max_examples=250, deadline=None, database=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
FUZZ_MORE = settings(FUZZ, max_examples=500)


@pytest.fixture(scope="module")
def scratch(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


# ---- mutations -----------------------------------------------------------------------------
@st.composite
def mutated(draw, original: bytes) -> bytes:
    """`original` after a few random edits: byte flips, overwrites, cuts, insertions."""
    data = bytearray(original)
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["flip", "set", "cut", "insert", "delete"]))
        at = draw(st.integers(0, max(len(data) - 1, 0)))
        if kind == "flip" and data:
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif kind == "set" and data:
            data[at] = draw(st.sampled_from([0, 1, 0x7F, 0x80, 0xFF]))
        elif kind == "cut":
            del data[at:]
        elif kind == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=8))
        elif kind == "delete":
            del data[at:at + draw(st.integers(1, 8))]
    return bytes(data)


def only_our_error(call, *args):
    """The call's result, or None when it raised ScratchMLPError (any other error, and any
    warning, escapes).

    Each outcome is logged as a hypothesis event (see --hypothesis-show-statistics), to check
    that the strategies reach past the first checks.
    """
    import warnings
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # a warning would be a stray stderr line in the CLI
            result = call(*args)
    except ScratchMLPError as e:
        assert str(e) and "\n" not in str(e)  # one line for the CLI
        words = [w for w in re.findall(r"[A-Za-z][\w'.-]*", str(e).split(": ", 1)[-1])
                 if not re.fullmatch(r"[0-9a-f]+|.*\d.*", w)]
        event(f"{call.__name__} refused: {' '.join(words[:7])}")
        return None
    event(f"{call.__name__} accepted")
    return result


# ---- IDX -----------------------------------------------------------------------------------
VALID_IDX = [idx.encode(np.arange(24, dtype=np.uint8).reshape(2, 3, 4)),
             idx.encode(np.array([3, 1, 4, 1, 5], dtype=np.uint8)),
             bytes([0, 0, 0x0D, 2]) + np.array([2, 2], ">u4").tobytes()
             + np.arange(4, dtype=">f4").tobytes()]


def check_idx_result(array):
    if array is not None:
        assert isinstance(array, np.ndarray) and array.dtype.isnative


@FUZZ_MORE
@given(st.binary(max_size=200))
def test_idx_parse_arbitrary_bytes(data):
    check_idx_result(only_our_error(idx.parse, data, "fuzz"))


@st.composite
def idx_headers(draw) -> bytes:
    """Plausible headers (right zero bytes, any type code and rank, edge-case sizes) + a body."""
    dims = draw(st.lists(st.sampled_from([0, 1, 2, 3, 28, 255, 2**16, 2**31 - 1, 2**32 - 1]),
                         max_size=6))
    header = bytes([0, 0, draw(st.sampled_from([0x08, 0x09, 0x0B, 0x0C, 0x0D, 0x0E, 0x0A])),
                    draw(st.sampled_from([len(dims), len(dims), 0, 255]))])
    return header + np.array(dims, ">u4").tobytes() + draw(st.binary(max_size=64))


@FUZZ_MORE
@given(idx_headers())
def test_idx_parse_plausible_headers(data):
    check_idx_result(only_our_error(idx.parse, data, "fuzz"))


@FUZZ_MORE
@given(st.sampled_from(VALID_IDX).flatmap(mutated))
def test_idx_parse_mutated_valid_files(data):
    check_idx_result(only_our_error(idx.parse, data, "fuzz"))


@FUZZ
@given(st.one_of(st.binary(max_size=200),
                 st.sampled_from(VALID_IDX).map(gzip.compress).flatmap(mutated),
                 st.sampled_from(VALID_IDX).flatmap(mutated).map(gzip.compress)),
       st.sampled_from(["t10k-labels-idx1-ubyte.gz", "t10k-labels-idx1-ubyte"]))
def test_idx_read_files_on_disk(scratch, data, name):
    path = scratch / name
    path.write_bytes(data)
    check_idx_result(only_our_error(idx.read, path))


# ---- model files ---------------------------------------------------------------------------
CONFIG = TrainConfig(hidden=[3], epochs=2, optimizer="momentum")


def valid_checkpoint() -> bytes:
    """A checkpoint.npz as the package writes it (with the momentum optimiser's state)."""
    from scratchmlp.nn import optim
    model = build_model(CONFIG)
    state = optim.build(CONFIG.optimizer, model.params, CONFIG.lr).state_dict()
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "checkpoint.npz"
        save_checkpoint(path, model, CONFIG, 1, state)
        return path.read_bytes()


VALID_NPZ = valid_checkpoint()


def members(npz: bytes) -> dict:
    with zipfile.ZipFile(io.BytesIO(npz)) as archive:
        return {info.filename: archive.read(info) for info in archive.infolist()}


VALID_MEMBERS = members(VALID_NPZ)


def zip_of(entries: dict) -> bytes:
    """A well-formed zip (correct CRCs) around whatever the entries hold."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def load_both(path):
    """Both loaders; a model they return fits its config and holds finite float weights."""
    for loader in (load_model, load_checkpoint):
        result = only_our_error(loader, path)
        if result is not None:
            model, config = result[0], result[1]
            assert model.sizes == [784, *config.hidden, 10]
            assert all(np.isfinite(p.data).all() and p.data.dtype == np.float32
                       for p in model.params)


def write(scratch: Path, data: bytes) -> Path:
    path = scratch / "model.npz"
    path.write_bytes(data)
    return path


@FUZZ
@given(st.one_of(st.binary(max_size=300), st.binary(max_size=40).map(lambda b: b"PK\x03\x04" + b)))
def test_model_loader_arbitrary_bytes(scratch, data):
    load_both(write(scratch, data))


@FUZZ
@given(mutated(VALID_NPZ))
def test_model_loader_mutated_valid_file(scratch, data):
    load_both(write(scratch, data))


@FUZZ
@given(st.sampled_from(sorted(VALID_MEMBERS)).flatmap(
    lambda name: st.tuples(st.just(name), mutated(VALID_MEMBERS[name]))))
def test_model_loader_mutated_npy_in_a_sound_zip(scratch, name_and_data):
    """Past the zip's CRCs: one member's .npy bytes (header or body) are mutated."""
    name, data = name_and_data
    load_both(write(scratch, zip_of({**VALID_MEMBERS, name: data})))


plain_dtypes = st.sampled_from(["<f4", ">f4", "<f8", "<f2", "<i4", "|u1", "|b1", "<c8", "<U5",
                                "|S3", "<M8[s]", "<m8[s]"])
generated_arrays = st.one_of(
    plain_dtypes.flatmap(lambda dt: hnp.arrays(dt, hnp.array_shapes(min_dims=0, max_dims=3,
                                                                     max_side=4))),
    st.sampled_from([np.zeros((784, 3), np.float32), np.zeros(3, np.float32),
                     np.zeros((3, 10), np.float32), np.zeros(10, np.float32),
                     np.array(np.nan, np.float32), np.array(1), np.array(-1),
                     np.array(CONFIG.to_json()), np.array("{}"), np.array("[]"),
                     np.empty(0, np.float32), np.asfortranarray(np.zeros((3, 10), np.float32)),
                     np.zeros(3, [("a", "<f4"), ("b", "<i4")]), np.zeros(3, "V4"),
                     np.zeros((784, 3), ">f8"), np.full(3, np.nan, np.float32),
                     np.full((3, 10), -np.inf, np.float32), np.array(2**63, np.uint64)]))


VALID_ARRAYS = dict(np.load(io.BytesIO(VALID_NPZ)).items())
ENTRY_NAMES = st.sampled_from(["W1", "b1", "W2", "b2", "W3", "config", "epoch", "opt.v", "x",
                                "opt.velocity.0", "opt.velocity.3"])


@FUZZ
@given(st.dictionaries(ENTRY_NAMES, generated_arrays, max_size=3),
       st.sets(ENTRY_NAMES, max_size=2))
def test_model_loader_generated_arrays(scratch, replaced, removed):
    """A valid checkpoint with some entries replaced by generated arrays and some removed."""
    arrays = {name: value for name, value in {**VALID_ARRAYS, **replaced}.items()
              if name not in removed}
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    load_both(write(scratch, buffer.getvalue()))


json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-2, 2**40), st.floats(allow_nan=True),
              st.text(max_size=8)),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner,
                                                                 max_size=3),
    max_leaves=8)
config_fields = st.sampled_from([f.name for f in TrainConfig.__dataclass_fields__.values()])


@FUZZ
@given(st.one_of(st.dictionaries(config_fields, json_values, max_size=4).map(json.dumps),
                 st.just(CONFIG.to_json().encode()).flatmap(mutated).map(
                     lambda b: b.decode("latin-1"))))
def test_model_loader_fuzzed_config(scratch, text):
    """Valid weights for hidden [3], with a fuzzed config beside them."""
    weights = {name: value for name, value in VALID_ARRAYS.items() if name != "config"}
    buffer = io.BytesIO()
    np.savez(buffer, **weights, config=np.array(text))
    load_both(write(scratch, buffer.getvalue()))


# ---- model files: lying zip directories ----------------------------------------------------
# hostile.raw_zip writes whatever directory it is given: declared sizes, methods, CRCs and entry
# counts are fuzzed around real entries, with sizes up to 2**32 - 1 and gigabyte claims in the
# .npy headers (MemoryError and OverflowError in scope: nothing may be allocated from a claim).
from hostile import SMALL, model_entries, npy_header, raw_zip  # noqa: E402

SMALL_ENTRIES = model_entries(SMALL)


def _lie(draw, entry: tuple, change: str) -> tuple:
    name, method, crc, packed, size = entry
    if change == "size":
        size = draw(st.sampled_from([0, 1, max(size - 1, 0), min(size + 1, 2**32 - 1), 2**31, 2**32 - 1]))
    elif change == "method":
        method = draw(st.sampled_from([1, 8, 9, 12, 14, 93, 99, 0xFFFF]))
    elif change == "crc":
        crc ^= 1 << draw(st.integers(0, 31))
    elif change == "header":
        shape = draw(st.sampled_from([(2**44,), (2**31, 2**31), (0, 2**62), (784, 16, 1)]))
        packed = npy_header(shape, draw(st.sampled_from(["<f4", "<f8", "|u1", "<c16"]))) + bytes(64)
        size = len(packed)
    else:  # "rename"
        name = draw(st.sampled_from(["W1.npy", "opt.x.npy", "epoch.npy", "W9.npy", "config.npy"]))
    return name, method, crc, packed, size


@st.composite
def lying_zips(draw) -> bytes:
    """Real entries of a small model, with 1-3 lies: sizes, methods, CRCs, headers, names,
    entries dropped or duplicated."""
    entries = list(SMALL_ENTRIES)
    for _ in range(draw(st.integers(1, 3))):
        i = draw(st.integers(0, len(entries) - 1))
        change = draw(st.sampled_from(["size", "method", "crc", "header", "rename", "drop",
                                       "copy"]))
        if change == "drop":
            del entries[i]
        elif change == "copy":
            entries.append(entries[i])
        else:
            entries[i] = _lie(draw, entries[i], change)
        if not entries:
            break
    return raw_zip(entries)


@settings(FUZZ, max_examples=150)
@given(lying_zips())
def test_model_loader_lying_zip_directories(scratch, data):
    load_both(write(scratch, data))


@FUZZ
@given(st.one_of(
    st.integers(1, 5000).map(lambda n: '{"hidden": [' + "1" * n + "]}"),
    st.integers(1, 3000).map(lambda n: '{"hidden": ' + "[" * n + "]" * n + "}"),
    st.sampled_from(['{"lr": NaN}', '{"lr": 1e999}', '{"lr": -Infinity}', '{"a": 1, "a": 2}',
                     '{"hidden": [1e308]}', '{"epochs": 1e400}', '{"hidden": [-0]}'])))
def test_model_loader_hostile_config_json(scratch, text):
    """RecursionError, ValueError (4300 digits), OverflowError, inf: all in scope."""
    weights = {name: value for name, value in VALID_ARRAYS.items() if name != "config"}
    buffer = io.BytesIO()
    np.savez(buffer, **weights, config=np.array(text))
    load_both(write(scratch, buffer.getvalue()))


# ---- JSON: --config and sweep --space, through files.read_json -----------------------------
hostile_json_text = st.one_of(
    st.text(max_size=60),
    st.recursive(st.sampled_from(["1", "-0", "1e999", "NaN", "-Infinity", "true", "null",
                                  '"x"', "1" * 4400, "0." + "9" * 500]),
                 lambda inner: st.one_of(
                     st.lists(inner, max_size=3).map(lambda xs: "[" + ",".join(xs) + "]"),
                     st.lists(st.tuples(st.sampled_from(['"lr"', '"hidden"', '"units"']), inner),
                              max_size=3).map(
                         lambda kv: "{" + ",".join(f"{k}:{v}" for k, v in kv) + "}")),
                 max_leaves=6),
    st.integers(1, 200000).map(lambda n: "[" * n + "]" * n),
    st.just(TrainConfig().to_json()).flatmap(lambda t: mutated(t.encode())).map(
        lambda b: b.decode("latin-1")))


@FUZZ
@given(hostile_json_text, st.sampled_from(["config", "space"]))
def test_json_readers(scratch, text, kind):
    from scratchmlp.sweep.space import load_space
    path = scratch / f"{kind}.json"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    reader = TrainConfig.load if kind == "config" else load_space
    only_our_error(reader, path)


# ---- pictures --------------------------------------------------------------------------------
def _picture_bytes() -> list:
    from PIL import Image
    pixels = (np.arange(16 * 12) % 251).astype(np.uint8).reshape(12, 16)
    images = []
    for fmt, mode in (("PNG", "L"), ("PNG", "RGBA"), ("GIF", "P"), ("BMP", "RGB"),
                      ("TIFF", "F"), ("TIFF", "I;16"), ("JPEG", "RGB"), ("WEBP", "RGB")):
        buffer = io.BytesIO()
        try:
            Image.fromarray(pixels).convert(mode).save(buffer, fmt)
        except (KeyError, OSError, ValueError):  # a format this Pillow cannot write
            continue
        images.append(buffer.getvalue())
    return images


VALID_PICTURES = _picture_bytes()


@settings(FUZZ, max_examples=300)
@given(st.one_of(st.binary(max_size=100), st.sampled_from(VALID_PICTURES).flatmap(mutated)))
def test_image_reader(scratch, data):
    from scratchmlp.data.images import load_image
    path = scratch / "picture"
    path.write_bytes(data)
    for source in (path, io.BytesIO(data)):
        result = only_our_error(load_image, source)
        if result is not None:
            assert result.shape == (28, 28) and np.isfinite(result).all()
            assert 0 <= result.min() and result.max() <= 1


# ---- the decoded cache ---------------------------------------------------------------------
@pytest.fixture(scope="module")
def official_tiny_cache(tmp_path_factory):
    """A tiny data set made "official" (FILES holds its digests) and its decoded cache."""
    from reliability_data import NAMES, tiny_arrays, write_dataset
    from scratchmlp.data import fashion_mnist, load
    root = tmp_path_factory.mktemp("cache-fuzz")
    arrays = tiny_arrays(n_train=64, n_test=16)
    patch = pytest.MonkeyPatch()
    patch.setattr(fashion_mnist, "FILES", {n: hashlib.sha256(idx.encode(arrays[n])).hexdigest()
                                           for n in NAMES})
    patch.setenv("XDG_CACHE_HOME", str(root / "cache"))
    data = write_dataset(root / "data", arrays)
    load(data)
    decoded = root / "cache" / "scratchmlp" / "decoded"
    originals = {n: (decoded / f"{n}.npy").read_bytes() for n in NAMES}
    yield data, arrays, decoded, originals
    patch.undo()


@settings(FUZZ, max_examples=40)
@given(st.sampled_from(["train-images-idx3-ubyte", "train-labels-idx1-ubyte",
                        "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"]), st.data())
def test_decoded_cache_never_yields_wrong_data(official_tiny_cache, name, draw):
    """Whatever a cached file holds, load returns exactly the source's arrays."""
    import contextlib
    from scratchmlp.data import load
    data, arrays, decoded, originals = official_tiny_cache
    for other, content in originals.items():
        (decoded / f"{other}.npy").write_bytes(content)
    (decoded / f"{name}.npy").write_bytes(draw.draw(mutated(originals[name])))
    with contextlib.redirect_stderr(io.StringIO()):
        result = load(data)
    np.testing.assert_array_equal(result.train_images, arrays["train-images-idx3-ubyte"])
    np.testing.assert_array_equal(result.train_labels, arrays["train-labels-idx1-ubyte"])
    np.testing.assert_array_equal(result.test_images, arrays["t10k-images-idx3-ubyte"])
    np.testing.assert_array_equal(result.test_labels, arrays["t10k-labels-idx1-ubyte"])
