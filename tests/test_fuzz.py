"""Property-based fuzzing of the two readers of untrusted files: the IDX reader and the model
loader. For any bytes they either return a well-formed result or raise ScratchMLPError;
never another exception, never a hang, never an allocation the bytes do not justify.

Arbitrary bytes rarely get past the first magic-number check, so most strategies start from
valid files and mutate them (flip, cut, splice), or build valid containers around fuzzed
insides (a zip with correct CRCs holding a mutated .npy, an .npz of generated arrays).
"""

from __future__ import annotations

import gzip
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
FUZZ = settings(max_examples=250, deadline=None, database=None,
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
    """The call's result, or None when it raised ScratchMLPError (any other error escapes).

    Each outcome is logged as a hypothesis event (see --hypothesis-show-statistics), to check
    that the strategies reach past the first checks.
    """
    try:
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
CONFIG = TrainConfig(hidden=[3], epochs=2)


def valid_checkpoint() -> bytes:
    """A checkpoint.npz as the package writes it (with one optimiser-state array)."""
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "checkpoint.npz"
        save_checkpoint(path, build_model(CONFIG), CONFIG, 1, {"velocity1": np.ones(3, np.float32)})
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
ENTRY_NAMES = st.sampled_from(["W1", "b1", "W2", "b2", "W3", "config", "epoch", "opt.v", "x"])


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
