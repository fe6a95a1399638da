"""Fashion-MNIST: the IDX reader on files written here, the lookup order, the offline message,
the d2l iterators and the real data's checksums."""

from __future__ import annotations

import functools
import gzip
import hashlib
import http.server
import os
import subprocess
import sys
import threading
from pathlib import Path

import numpy
import pytest

from scratchmlp import ScratchMLPError
from scratchmlp.data import (
    LABELS, DataIter, fashion_mnist, get_fashion_mnist_labels, idx, load, load_data_fashion_mnist,
    locate,
)

NAMES = list(fashion_mnist.FILES)
CLOSED_PORT_MIRROR = "http://127.0.0.1:9"  # the discard port: nothing listens, connect fails fast


def write_idx(path: Path, array, compress: bool):
    data = idx.encode(array)
    path.write_bytes(gzip.compress(data) if compress else data)


def write_fashion_dir(directory: Path, n_train=6, n_test=4, compress=True, seed=0) -> dict:
    """The four files of a tiny Fashion-MNIST look-alike; returns the arrays written."""
    rng = numpy.random.default_rng(seed)
    arrays = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (n_train, 28, 28), dtype=numpy.uint8),
        "train-labels-idx1-ubyte": rng.integers(0, 10, n_train, dtype=numpy.uint8),
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (n_test, 28, 28), dtype=numpy.uint8),
        "t10k-labels-idx1-ubyte": rng.integers(0, 10, n_test, dtype=numpy.uint8),
    }
    directory.mkdir(parents=True, exist_ok=True)
    for name, array in arrays.items():
        write_idx(directory / (name + ".gz" if compress else name), array, compress)
    return arrays


@pytest.fixture
def no_data_anywhere(tmp_path, monkeypatch):
    """No env dir, an empty cache, no system dirs and a mirror that refuses connections."""
    monkeypatch.delenv("SCRATCHMLP_DATA_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("SCRATCHMLP_SYSTEM_DATA_DIRS", "")
    monkeypatch.setenv("SCRATCHMLP_MIRROR", CLOSED_PORT_MIRROR)
    return tmp_path


# ---- the IDX format ------------------------------------------------------------------------
@pytest.mark.parametrize("compress", [True, False], ids=["gz", "raw"])
@pytest.mark.parametrize("shape", [(5, 28, 28), (7,), (2, 3, 4), (0, 28, 28)])
def test_idx_round_trip(tmp_path, compress, shape):
    array = numpy.random.default_rng(0).integers(0, 256, shape, dtype=numpy.uint8)
    path = tmp_path / ("a.idx.gz" if compress else "a.idx")
    write_idx(path, array, compress)
    back = idx.read(path)
    assert back.dtype == numpy.uint8 and back.shape == shape
    numpy.testing.assert_array_equal(back, array)
    assert back.flags.writeable  # a copy, not a view of the file's bytes


def test_idx_header_layout():
    data = idx.encode(numpy.arange(6, dtype=numpy.uint8).reshape(2, 3))
    assert data[:4] == bytes([0, 0, 0x08, 2])
    assert data[4:12] == (2).to_bytes(4, "big") + (3).to_bytes(4, "big")
    assert data[12:] == bytes(range(6))


def test_gzip_is_recognised_by_content_not_name(tmp_path):
    array = numpy.arange(10, dtype=numpy.uint8)
    path = tmp_path / "labels-without-suffix"
    write_idx(path, array, compress=True)
    numpy.testing.assert_array_equal(idx.read(path), array)


def test_idx_parses_wider_big_endian_types():
    values = numpy.array([[1.5, -2.25], [1e6, 0.0]], dtype=">f4")
    data = bytes([0, 0, 0x0D, 2]) + numpy.array([2, 2], ">u4").tobytes() + values.tobytes()
    back = idx.parse(data)
    assert back.dtype == numpy.float32 and back.dtype.isnative
    numpy.testing.assert_array_equal(back, values)


def test_wrong_magic_is_a_clear_error(tmp_path):
    # test_bad_input.py (the reliability tests) covers damaged files; this is the basic case.
    path = tmp_path / "x.idx"
    path.write_bytes(b"\x50\x4b\x03\x04" + bytes(16))
    with pytest.raises(ScratchMLPError, match="magic"):
        idx.read(path)


# ---- where the data is found ---------------------------------------------------------------
def test_lookup_order(tmp_path, monkeypatch, no_data_anywhere):
    """explicit dir > $SCRATCHMLP_DATA_DIR > cache > system dirs > download."""
    explicit, env, system = tmp_path / "explicit", tmp_path / "env", tmp_path / "system"
    cache = tmp_path / "cache" / "scratchmlp" / "fashion-mnist"
    for directory in (explicit, env, cache, system):
        write_fashion_dir(directory)
    monkeypatch.setenv("SCRATCHMLP_DATA_DIR", str(env))
    monkeypatch.setenv("SCRATCHMLP_SYSTEM_DATA_DIRS", os.pathsep.join([str(tmp_path / "none"),
                                                                       str(system)]))
    assert locate(explicit) == explicit
    assert locate() == env
    monkeypatch.delenv("SCRATCHMLP_DATA_DIR")
    assert locate() == cache
    for name in NAMES:
        (cache / f"{name}.gz").unlink()
    assert locate() == system  # after a system dir that does not exist
    monkeypatch.setenv("SCRATCHMLP_SYSTEM_DATA_DIRS", "")
    with pytest.raises(ScratchMLPError):
        locate()  # nothing left but the (closed) mirror


def test_an_incomplete_environment_directory_is_refused(tmp_path, monkeypatch,
                                                        no_data_anywhere):
    """A folder the user named ($SCRATCHMLP_DATA_DIR) is used or refused, never passed over."""
    env, system = tmp_path / "env", tmp_path / "system"
    write_fashion_dir(env)
    (env / "t10k-labels-idx1-ubyte.gz").unlink()
    write_fashion_dir(system, compress=False)  # raw IDX files count too
    monkeypatch.setenv("SCRATCHMLP_DATA_DIR", str(env))
    monkeypatch.setenv("SCRATCHMLP_SYSTEM_DATA_DIRS", str(system))
    with pytest.raises(ScratchMLPError, match=r"\$SCRATCHMLP_DATA_DIR .*env lacks "
                                              "t10k-labels-idx1-ubyte"):
        locate()
    monkeypatch.delenv("SCRATCHMLP_DATA_DIR")
    assert locate() == system


def test_the_debian_directory_is_the_default_system_dir(monkeypatch):
    monkeypatch.delenv("SCRATCHMLP_SYSTEM_DATA_DIRS", raising=False)
    assert fashion_mnist._system_dirs() == [Path("/usr/share/datasets/fashion-mnist")]


def test_an_explicit_directory_does_not_fall_back(tmp_path, no_data_anywhere):
    with pytest.raises(ScratchMLPError, match="does not exist"):
        locate(tmp_path / "missing")
    partial = tmp_path / "partial"
    write_fashion_dir(partial)
    (partial / "train-images-idx3-ubyte.gz").unlink()
    with pytest.raises(ScratchMLPError, match="train-images-idx3-ubyte"):
        locate(partial)


@pytest.fixture
def mirror(tmp_path):
    """A local HTTP server holding the four .gz files, as the official mirror does."""
    served = tmp_path / "mirror"
    arrays = write_fashion_dir(served, seed=11)
    handler = functools.partial(_QuietHandler, directory=str(served))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/", arrays
    server.shutdown()
    server.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def test_download_into_the_cache_as_the_last_resort(tmp_path, monkeypatch, no_data_anywhere,
                                                    mirror):
    url, arrays = mirror
    monkeypatch.setenv("SCRATCHMLP_MIRROR", url)
    directory = locate()
    assert directory == tmp_path / "cache" / "scratchmlp" / "fashion-mnist"
    for name, array in arrays.items():
        numpy.testing.assert_array_equal(idx.read(directory / f"{name}.gz"), array)
    data = load(verify=False)  # the look-alike has other checksums than Fashion-MNIST
    numpy.testing.assert_array_equal(data.train_images, arrays["train-images-idx3-ubyte"])


def test_offline_with_no_data_is_one_clear_error(no_data_anywhere):
    with pytest.raises(ScratchMLPError) as caught:
        load()
    message = str(caught.value)
    assert "dataset-fashion-mnist" in message and "SCRATCHMLP_DATA_DIR" in message
    assert "--data-dir" not in message  # a library states facts; the CLI names its flags
    assert "\n" not in message


@pytest.mark.slow
@pytest.mark.parametrize("command", [["train", "--epochs", "1"], ["evaluate", "RUN"]])
def test_cli_offline_prints_one_line_and_exits_2(tmp_path, no_data_anywhere, command):
    if command[0] == "evaluate":
        command = ["evaluate", str(_model_only_run(tmp_path))]
    else:
        command = command + ["--out", str(tmp_path / "run")]
    done = subprocess.run([sys.executable, "-m", "scratchmlp", *command], capture_output=True,
                          text=True, env=dict(os.environ), timeout=120)
    assert done.returncode == 2, done.stderr
    lines = (done.stdout + done.stderr).strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("scratchmlp: error:")
    assert "dataset-fashion-mnist" in lines[0] and "--data-dir" in lines[0]
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "run").exists()


def _model_only_run(tmp_path) -> Path:
    """A run folder holding just an untrained model.npz (evaluate needs nothing else)."""
    from scratchmlp.train.config import TrainConfig
    from scratchmlp.train.modelfile import build_model, save_model
    run = tmp_path / "model-run"
    run.mkdir()
    config = TrainConfig(hidden=[4])
    save_model(run / "model.npz", build_model(config), config)
    return run


# ---- decoding, verification and the decoded cache ------------------------------------------
def test_load_decodes_a_directory(tmp_path, no_data_anywhere):
    arrays = write_fashion_dir(tmp_path / "d", n_train=5, n_test=3, compress=False)
    data = load(tmp_path / "d", verify=False)
    numpy.testing.assert_array_equal(data.train_images, arrays["train-images-idx3-ubyte"])
    numpy.testing.assert_array_equal(data.test_labels, arrays["t10k-labels-idx1-ubyte"])
    assert data.train_labels.dtype == data.test_labels.dtype == numpy.int64
    assert data.train_images.shape == (5, 28, 28) and data.test_images.shape == (3, 28, 28)


def test_verification_refuses_other_content(tmp_path, no_data_anywhere):
    write_fashion_dir(tmp_path / "d")
    with pytest.raises(ScratchMLPError, match="checksum"):
        load(tmp_path / "d")


def test_decoded_cache_is_used_and_invalidated(tmp_path, monkeypatch, no_data_anywhere):
    source = tmp_path / "d"
    arrays = write_fashion_dir(source)
    digests = {name: hashlib.sha256(idx.read_bytes(source / f"{name}.gz")).hexdigest()
               for name in NAMES}
    monkeypatch.setattr(fashion_mnist, "FILES", digests)  # make the look-alike "verified"
    first = load(source)
    decoded = tmp_path / "cache" / "scratchmlp" / "decoded"
    assert (decoded / "stamp.json").is_file()
    cached = numpy.load(decoded / "train-images-idx3-ubyte.npy")
    numpy.testing.assert_array_equal(cached, first.train_images)
    numpy.testing.assert_array_equal(load(source).train_images, first.train_images)

    replacement = write_fashion_dir(tmp_path / "other", seed=99)
    for name in NAMES:  # new content in the same place: the stamp no longer matches
        os.replace(tmp_path / "other" / f"{name}.gz", source / f"{name}.gz")
    monkeypatch.setattr(fashion_mnist, "FILES", {
        name: hashlib.sha256(idx.read_bytes(source / f"{name}.gz")).hexdigest() for name in NAMES})
    numpy.testing.assert_array_equal(load(source).train_images,
                                     replacement["train-images-idx3-ubyte"])


# ---- text labels ---------------------------------------------------------------------------
def test_text_labels():
    assert list(LABELS) == ["t-shirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt",
                            "sneaker", "bag", "ankle boot"]
    assert get_fashion_mnist_labels([0, 9, 3]) == ["t-shirt", "ankle boot", "dress"]
    assert get_fashion_mnist_labels(numpy.array([[7], [8]])) == ["sneaker", "bag"]
    from scratchmlp.engine import Array
    assert get_fashion_mnist_labels(Array(numpy.array([1, 2]))) == ["trouser", "pullover"]


# ---- iterators -----------------------------------------------------------------------------
def _labels_of(data_iter):
    return numpy.concatenate([y for _, y in data_iter])


def test_iterators_on_the_real_data(real_data):
    train_iter, test_iter = load_data_fashion_mnist(256, data=real_data)
    assert len(train_iter) == 235 and len(test_iter) == 40  # 60000 = 234 * 256 + 96
    sizes = []
    for X, y in train_iter:
        assert X.dtype == numpy.float32 and X.shape[1:] == (1, 28, 28)
        assert y.dtype == numpy.int64 and y.shape == (X.shape[0],)
        assert 0.0 <= X.min() and X.max() <= 1.0
        sizes.append(len(y))
    assert sizes == [256] * 234 + [96]
    X, y = next(iter(test_iter))
    assert X.shape == (256, 1, 28, 28)
    numpy.testing.assert_allclose(X[0, 0], real_data.test_images[0] / 255, rtol=1e-6)
    assert X.max() == 1.0 and X.min() == 0.0


def test_training_reshuffles_every_epoch_and_test_keeps_order(real_data):
    train_iter, test_iter = load_data_fashion_mnist(256, data=real_data, seed=3)
    epoch1, epoch2 = _labels_of(train_iter), _labels_of(train_iter)
    assert not numpy.array_equal(epoch1, epoch2)
    assert not numpy.array_equal(epoch1, real_data.train_labels)
    for epoch in (epoch1, epoch2):  # each epoch is a permutation of the whole set
        numpy.testing.assert_array_equal(numpy.bincount(epoch, minlength=10),
                                         numpy.bincount(real_data.train_labels, minlength=10))
    again, _ = load_data_fashion_mnist(256, data=real_data, seed=3)
    numpy.testing.assert_array_equal(_labels_of(again), epoch1)  # same seed, same order
    other, _ = load_data_fashion_mnist(256, data=real_data, seed=4)
    assert not numpy.array_equal(_labels_of(other), epoch1)
    numpy.testing.assert_array_equal(_labels_of(test_iter), real_data.test_labels)
    numpy.testing.assert_array_equal(_labels_of(test_iter), real_data.test_labels)


def test_shuffled_batches_keep_images_with_their_labels():
    images = numpy.repeat(numpy.arange(10, dtype=numpy.uint8), 28 * 28).reshape(10, 28, 28)
    labels = numpy.arange(10, dtype=numpy.int64)
    for X, y in DataIter(images, labels, 3, shuffle=True, seed=1):
        numpy.testing.assert_allclose(X[:, 0, 0, 0] * 255, y, rtol=1e-6)


def test_a_resumed_epoch_sees_the_same_order():
    images, labels = numpy.zeros((50, 28, 28), numpy.uint8), numpy.arange(50)
    uninterrupted = DataIter(images, labels, 8, shuffle=True, seed=2)
    _labels_of(uninterrupted)
    resumed = DataIter(images, labels, 8, shuffle=True, seed=2)
    resumed.epoch = 1
    numpy.testing.assert_array_equal(_labels_of(resumed), _labels_of(uninterrupted))


def test_batch_size_must_be_positive():
    with pytest.raises(ScratchMLPError, match="batch_size must be a positive whole number"):
        DataIter(numpy.zeros((2, 28, 28), numpy.uint8), numpy.zeros(2), 0)


# ---- the real files ------------------------------------------------------------------------
def test_the_checksums_are_those_of_the_installed_files(real_data):
    """fashion_mnist.FILES against SHA-256 computed here from the decompressed files on disk,
    independently of the loader's own verification (which uses FILES and so cannot catch a
    wrong digest in it)."""
    directory = locate(download=False)
    found = {}
    for name in fashion_mnist.FILES:
        gz, raw = directory / f"{name}.gz", directory / name
        content = gzip.decompress(gz.read_bytes()) if gz.is_file() else raw.read_bytes()
        found[name] = hashlib.sha256(content).hexdigest()
    assert found == fashion_mnist.FILES


def test_real_files_pass_sha256_verification(real_data):
    directory = locate(download=False)
    fresh = load(directory, use_cache=False)  # decoded from the files, SHA-256 verified
    assert fresh.train_images.shape == (60000, 28, 28) and fresh.train_images.dtype == numpy.uint8
    assert fresh.test_images.shape == (10000, 28, 28)
    assert fresh.train_labels.shape == (60000,) and fresh.test_labels.shape == (10000,)
    assert (numpy.bincount(fresh.train_labels) == 6000).all()
    assert (numpy.bincount(fresh.test_labels) == 1000).all()
    numpy.testing.assert_array_equal(fresh.train_images, real_data.train_images)
    numpy.testing.assert_array_equal(fresh.test_labels, real_data.test_labels)
