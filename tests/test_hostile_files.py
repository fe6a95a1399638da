"""Issue 10's hostile inputs that need no measuring: model files whose entries do not fit their
config or the run's, JSON that json.loads mishandles, pictures that are not pictures, a decoded
cache that lies, data folders that are files. Real files in temporary folders, the real CLI."""

from __future__ import annotations

import bz2
import gzip
import hashlib
import os
import zipfile
import zlib

import numpy as np
import pytest

from hostile import SMALL, make_run, model_entries, npy_bytes, npy_header, raw_zip, stored
from reliability_data import (  # noqa: F401  (isolated is an autouse fixture)
    NAMES, assert_refused, cli, isolated, snapshot, tiny_arrays, write_dataset,
)
from scratchmlp.data import fashion_mnist, idx, load
from scratchmlp.data.images import load_image
from scratchmlp.errors import ScratchMLPError
from scratchmlp.files import read_json
from scratchmlp.train.config import TrainConfig
from scratchmlp.train.modelfile import build_model, load_checkpoint, save_checkpoint


def refused_model(capsys, path, *fragments) -> str:
    """evaluate and predict both refuse the model file, before looking for any data."""
    for command in ("evaluate", "predict"):
        line = assert_refused(cli(capsys, command, path, "--data-dir", "no-data"), *fragments)
    return line


def zip_file(tmp_path, entries, name="model.npz"):
    path = tmp_path / name
    path.write_bytes(raw_zip(entries))
    return path


# ---- model files: bounded by their config ------------------------------------------------
def test_thousands_of_extra_entries_give_a_short_line(capsys, tmp_path):
    extra = [stored(f"junk{'x' * 200}{i}.npy", npy_header((1,)) + bytes(4)) for i in range(3000)]
    path = zip_file(tmp_path, [*model_entries(SMALL), *extra])
    line = refused_model(capsys, path, "3,005 entries", "and 2,995 more")
    assert len(line) < 600


def test_a_bzip2_entry_is_refused_unread(capsys, tmp_path):
    data = npy_header((784, 16)) + bytes(784 * 16 * 4)
    entries = [e for e in model_entries(SMALL) if e[0] != "W1.npy"]
    bomb = ("W1.npy", zipfile.ZIP_BZIP2, zlib.crc32(data), bz2.compress(data), len(data))
    refused_model(capsys, zip_file(tmp_path, [bomb, *entries]), "'W1' uses zip method 12")


def test_an_encrypted_entry_is_refused(capsys, tmp_path):
    path = zip_file(tmp_path, model_entries(SMALL))
    raw = bytearray(path.read_bytes())
    at = raw.index(b"PK\x01\x02")
    raw[at + 8] |= 1  # the central directory's "encrypted" flag of the first entry
    path.write_bytes(bytes(raw))
    refused_model(capsys, path, "uses zip encryption")


def test_a_zip_directory_too_big_to_parse(capsys, tmp_path):
    path = zip_file(tmp_path, model_entries(SMALL))
    raw = bytearray(path.read_bytes())
    at = raw.rindex(b"PK\x05\x06")
    raw[at + 12:at + 16] = (1 << 30).to_bytes(4, "little")  # the directory's declared size
    path.write_bytes(bytes(raw))
    refused_model(capsys, path, "its zip directory lists 5 entries in 1,073,741,824 bytes")


def test_weights_that_overflow_float32_are_refused(capsys, tmp_path):
    """1e300 is finite as float64 and inf as float32, the model's type: evaluate would print
    nan%; refused on load instead."""
    arrays = dict(build_model(SMALL).state_dict(), config=np.array(SMALL.to_json()))
    arrays["W2"] = np.full((16, 10), 1e300)
    np.savez(tmp_path / "model.npz", **arrays)
    refused_model(capsys, tmp_path / "model.npz", "W2 holds NaN or infinite values as float32")


def test_finite_weights_that_overflow_in_the_forward_pass(capsys, tmp_path, monkeypatch):
    """W1 = 1e37 is finite float32, but 784 inputs of 1 give inf, then NaN probabilities:
    predict printed "t-shirt nan%" with exit 0 (and NumPy's overflow warnings)."""
    from hostile import write_png
    arrays = dict(build_model(SMALL).state_dict(), config=np.array(SMALL.to_json()))
    arrays["W1"][:] = 1e37
    np.savez(tmp_path / "model.npz", **arrays)
    shoe = np.zeros((16, 16))
    shoe[4:12, 2:14] = 255
    write_png(tmp_path / "shoe.png", shoe)
    assert_refused(cli(capsys, "predict", tmp_path / "model.npz", tmp_path / "shoe.png"),
                   "the model's outputs overflow float32 to NaN on these images (its weights "
                   "are far too large): not a usable model")
    monkeypatch.setenv("SCRATCHMLP_VERIFY", "0")  # and the grid of test images, and evaluate
    data = write_dataset(tmp_path / "data")
    for command in (["predict", "-n", 6, "--out", tmp_path / "grid.png"], ["evaluate"]):
        assert_refused(cli(capsys, command[0], tmp_path / "model.npz", *command[1:],
                           "--data-dir", data), "the model's outputs overflow float32 to NaN")
    assert not (tmp_path / "grid.png").exists()


@pytest.mark.parametrize("text, reason", [
    ('{"epochs": 1' + "0" * 5000 + "}", "a number of 5,001 digits"),
    ('{"hidden": ' + "[" * 100000 + "]" * 100000 + "}", "nested too deeply"),
    ('{"lr": 0.1, "lr": 0.5}', "the key 'lr' appears twice"),
    ('{"lr": NaN}', "NaN is not a number JSON allows"),
    ('{"lr": 1e999}', "'1e999' overflows to infinity"),
])
def test_hostile_json_in_a_model_files_config(capsys, tmp_path, text, reason):
    arrays = dict(build_model(SMALL).state_dict(), config=np.array(text))
    np.savez(tmp_path / "model.npz", **arrays)
    refused_model(capsys, tmp_path / "model.npz", "model.npz: 'config': not a readable JSON "
                  f"config ({reason})")


def test_a_model_file_that_is_a_fifo_does_not_block(capsys, tmp_path):
    os.mkfifo(tmp_path / "model.npz")
    refused_model(capsys, tmp_path / "model.npz", "model.npz: not a regular file")


# ---- checkpoints: consistent in themselves, and with the run's config -------------------
def checkpoint(tmp_path, config, epoch=1, state=None, name="checkpoint.npz"):
    path = tmp_path / name
    model = build_model(config)
    if state is None:
        from scratchmlp.nn import optim
        state = optim.build(config.optimizer, model.params, config.lr).state_dict()
    save_checkpoint(path, model, config, epoch, state)
    return path


MOMENTUM = TrainConfig(hidden=[32], epochs=5, optimizer="momentum")


def test_a_consistent_checkpoint_loads_with_and_without_the_expected_config(tmp_path):
    path = checkpoint(tmp_path, MOMENTUM, epoch=3)
    for expected in (None, MOMENTUM):
        model, config, epoch, state = load_checkpoint(path, expected)
        assert (config, epoch) == (MOMENTUM, 3) and model.sizes == [784, 32, 10]
        assert sorted(state) == ["velocity.0", "velocity.1", "velocity.2", "velocity.3"]


@pytest.mark.parametrize("expected, message", [
    (TrainConfig(hidden=[256], epochs=5, optimizer="momentum"),
     "W1 has shape (784, 32) but the run's config (hidden [256]) needs (784, 256)"),
    (TrainConfig(hidden=[32, 32], epochs=5, optimizer="momentum"),
     "holds 2 layers but the run's config has 3 (hidden [32, 32])"),
    (TrainConfig(hidden=[32], epochs=5, optimizer="adam"),
     "optimiser state velocity.0, velocity.1, velocity.2, velocity.3 does not fit the run's "
     "config (adam: first.0, first.1, first.2, first.3, second.0 and 4 more)"),
    (TrainConfig(hidden=[32], epochs=2, optimizer="momentum"),
     "holds epoch 3, beyond the run's config of 2 epochs"),
])
def test_a_checkpoint_of_another_configuration_is_refused(tmp_path, expected, message):
    path = checkpoint(tmp_path, MOMENTUM, epoch=3)
    with pytest.raises(ScratchMLPError, match="checkpoint.npz: " + message.replace("(", r"\(")
                       .replace(")", r"\)").replace("[", r"\[").replace("]", r"\]")):
        load_checkpoint(path, expected)


def test_a_checkpoint_whose_epoch_is_2_to_the_40(tmp_path):
    path = checkpoint(tmp_path, MOMENTUM, epoch=2**40)
    with pytest.raises(ScratchMLPError, match=r"epoch 1099511627776 is outside its config's "
                                              r"0-5 epochs"):
        load_checkpoint(path)


def test_optimiser_state_of_the_wrong_shape_or_name(tmp_path):
    model = build_model(MOMENTUM)
    state = {f"velocity.{i}": np.zeros_like(p.data) for i, p in enumerate(model.params)}
    state["velocity.1"] = np.zeros(31, np.float32)
    with pytest.raises(ScratchMLPError, match=r"opt.velocity.1 has shape \(31,\) but its "
                                              r"config \(hidden \[32\]\) needs \(32,\)"):
        load_checkpoint(checkpoint(tmp_path, MOMENTUM, state=state))
    state = {"velocity.0": np.zeros((784, 32), np.float32)}
    with pytest.raises(ScratchMLPError, match=r"optimiser state velocity.0 does not fit its "
                                              r"config \(momentum"):
        load_checkpoint(checkpoint(tmp_path, MOMENTUM, state=state, name="c2.npz"))
    with pytest.raises(ScratchMLPError, match=r"optimiser state none does not fit its config "
                                              r"\(momentum: velocity.0, velocity.1"):
        load_checkpoint(checkpoint(tmp_path, MOMENTUM, state={}, name="c3.npz"))


def test_non_finite_optimiser_state_is_refused(tmp_path):
    model = build_model(MOMENTUM)
    state = {f"velocity.{i}": np.zeros_like(p.data) for i, p in enumerate(model.params)}
    state["velocity.0"][3, 3] = np.inf
    with pytest.raises(ScratchMLPError, match="optimiser state opt.velocity.0 holds NaN"):
        load_checkpoint(checkpoint(tmp_path, MOMENTUM, state=state))


# ---- JSON files: --config (and sweep --space, through the same reader) ------------------
HOSTILE_JSON = [
    ('{"epochs": 1' + "0" * 5000 + "}", "a number of 5,001 digits"),
    ("[" * 50000 + "]" * 50000, "nested too deeply"),
    ('{"lr": 0.1, "lr": 0.5}', "the key 'lr' appears twice"),
    ('{"lr": NaN}', "NaN is not a number JSON allows"),
    ('{"lr": -Infinity}', "-Infinity is not a number JSON allows"),
    ('{"lr": 1e400}', "'1e400' overflows to infinity"),
    (b'{"lr": "\xff"}', "not UTF-8 text: byte 8"),
    ('{"' + "k" * 5000 + '": 1}', "a text of 5,000 characters, 'kkkkkkkkkkkkkkkkkkkk'..."),
    ('{"activation": "' + "x" * 100000 + '"}',
     "a text of 100,000 characters, 'xxxxxxxxxxxxxxxxxxxx'..."),
]


def test_a_json_config_with_a_byte_order_mark_is_read(tmp_path):
    path = tmp_path / "settings.json"
    path.write_bytes(b"\xef\xbb\xbf" + b'{"lr": 0.1}')
    assert TrainConfig.load(path).lr == 0.1


@pytest.mark.parametrize("text, reason", HOSTILE_JSON)
def test_hostile_json_config(capsys, tmp_path, text, reason):
    path = tmp_path / "settings.json"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    assert_refused(cli(capsys, "train", "--config", path, "--out", "run"),
                   f"settings.json: not a readable JSON config ({reason})")
    assert not (tmp_path / "run").exists()


def test_a_huge_json_config(capsys, tmp_path):
    path = tmp_path / "settings.json"
    with open(path, "wb") as f:
        f.truncate(2 << 30)  # 2 GiB, sparse: nothing is read
    assert_refused(cli(capsys, "train", "--config", path, "--out", "run"),
                   "settings.json: 2,147,483,648 bytes, more than a config file holds "
                   "(at most 1,048,576)")


@pytest.mark.parametrize("kind", ["fifo", "folder"])
def test_a_json_config_that_is_not_a_file(capsys, tmp_path, kind):
    path = tmp_path / "settings.json"
    os.mkfifo(path) if kind == "fifo" else path.mkdir()
    expected = "not a regular file" if kind == "fifo" else "is a folder, not a config file"
    assert_refused(cli(capsys, "train", "--config", path, "--out", "run"), expected)


def test_read_json_names_the_search_space():
    with pytest.raises(ScratchMLPError, match=r"space.json: no such search space file"):
        read_json("space.json", "search space")


# ---- pictures ------------------------------------------------------------------------------
@pytest.mark.parametrize("width, height", [(10000, 10000), (6000, 5000), (13000, 13000)])
def test_pictures_over_the_pixel_budget_are_refused_from_their_header(tmp_path, width, height):
    """10000x10000 makes Pillow warn (DecompressionBombWarning): that warning is the same
    refusal; 6000x5000 is under Pillow's limits but over ours; 13000x13000 over both."""
    import warnings

    from hostile import png_claiming
    path = tmp_path / "claim.png"
    path.write_bytes(png_claiming(width, height))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no warning may escape either
        with pytest.raises(ScratchMLPError, match=r"claim.png: (more pixels than 25,000,000|"
                                                  rf"{width}x{height} pixels, more than)"):
            load_image(path)


def test_a_float_tiff_with_a_nan_pixel(capsys, tmp_path):
    from PIL import Image
    pixels = np.linspace(0, 255, 64 * 64, dtype=np.float32).reshape(64, 64)
    pixels[10, 10] = np.nan
    Image.fromarray(pixels, mode="F").save(tmp_path / "nan.tif")
    with pytest.raises(ScratchMLPError, match="nan.tif: holds NaN or infinite pixel values"):
        load_image(tmp_path / "nan.tif")
    run = make_run(tmp_path / "run")
    before = snapshot(run)
    assert_refused(cli(capsys, "predict", run, tmp_path / "nan.tif"), "NaN or infinite pixel")
    assert snapshot(run) == before


def test_an_eps_file_is_never_handed_to_ghostscript(tmp_path):
    path = tmp_path / "shoe.eps"
    path.write_bytes(b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 16 16\nshowpage\n")
    with pytest.raises(ScratchMLPError, match="shoe.eps: not an image Pillow can read"):
        load_image(path)


# ---- the decoded cache: proven again on every load ---------------------------------------
@pytest.fixture
def official_tiny(tmp_path, monkeypatch):
    """The tiny data set made "official": FILES holds its digests, so it is verified and
    cached like Fashion-MNIST itself."""
    arrays = tiny_arrays()
    digests = {name: hashlib.sha256(idx.encode(arrays[name])).hexdigest() for name in NAMES}
    monkeypatch.setattr(fashion_mnist, "FILES", digests)
    return write_dataset(tmp_path / "data", arrays), arrays


def cached(tmp_path, name) -> "os.PathLike":
    return tmp_path / "cache" / "scratchmlp" / "decoded" / f"{name}.npy"


def test_the_cache_is_used_when_intact(tmp_path, official_tiny, capsys):
    data, arrays = official_tiny
    load(data)
    first = cached(tmp_path, "t10k-labels-idx1-ubyte").stat().st_mtime_ns
    again = load(data)
    np.testing.assert_array_equal(again.test_labels, arrays["t10k-labels-idx1-ubyte"])
    assert cached(tmp_path, "t10k-labels-idx1-ubyte").stat().st_mtime_ns == first
    assert capsys.readouterr().err == ""


def rotated(a):
    return (a.astype(np.int64) + 1) % 10


CACHE_DAMAGE = {
    "rotated labels": ("t10k-labels-idx1-ubyte", lambda a: npy_bytes(rotated(a).astype(np.uint8))),
    "inverted pixels": ("train-images-idx3-ubyte", lambda a: npy_bytes(255 - a)),
    "a header claiming 2**44 elements": ("train-labels-idx1-ubyte",
                                         lambda a: npy_header((2**44,), "|u1") + a.tobytes()),
    "a truncated file": ("train-images-idx3-ubyte", lambda a: npy_bytes(a)[:-100]),
    "float values": ("t10k-labels-idx1-ubyte", lambda a: npy_bytes(a.astype(np.float32))),
    "a pickle": ("t10k-labels-idx1-ubyte", lambda a: b"\x80\x04K\x01."),
}


@pytest.mark.slow  # seconds on a busy machine
@pytest.mark.parametrize("case", sorted(CACHE_DAMAGE))
def test_a_damaged_cache_is_decoded_again_with_a_note(tmp_path, official_tiny, capsys, case):
    data, arrays = official_tiny
    load(data)
    name, damage = CACHE_DAMAGE[case]
    cached(tmp_path, name).write_bytes(damage(arrays[name]))
    again = load(data)
    for field, source in (("train_images", NAMES[0]), ("train_labels", NAMES[1]),
                          ("test_images", NAMES[2]), ("test_labels", NAMES[3])):
        np.testing.assert_array_equal(getattr(again, field), arrays[source])
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("scratchmlp: note: the decoded cache")
    assert f"{name}.npy" in err and "decoding again from the source" in err
    load(data)  # the cache was rewritten: no note the next time
    assert capsys.readouterr().err == ""


KILLED_WHILE_CACHING = """
import hashlib, os, signal, sys
sys.path.insert(0, {tests!r})
from reliability_data import NAMES, tiny_arrays
from scratchmlp import files
from scratchmlp.data import fashion_mnist, idx
arrays = tiny_arrays()
fashion_mnist.FILES = {{n: hashlib.sha256(idx.encode(arrays[n])).hexdigest() for n in NAMES}}
def dying(path, data):  # SIGKILL halfway through writing the first cached array
    with files.atomic_open(path) as f:
        f.write(data[:len(data) // 2])
        f.flush()
        os.kill(os.getpid(), signal.SIGKILL)
fashion_mnist.atomic_write_bytes = dying
fashion_mnist.load(sys.argv[1])
"""


@pytest.mark.slow  # a subprocess
def test_a_cache_write_killed_midway_leaves_no_temp_file_for_good(tmp_path, official_tiny):
    """Each SIGKILL while the cache was written left a .NAME.npy.RANDOM.tmp (up to 47 MB of
    the real set) in the cache folder for good; the next cache write sweeps them."""
    import subprocess
    import sys
    from pathlib import Path
    from reliability_data import subprocess_env
    data, arrays = official_tiny
    script = KILLED_WHILE_CACHING.format(tests=str(Path(__file__).parent))
    done = subprocess.run([sys.executable, "-c", script, str(data)], timeout=60,
                          env=subprocess_env(tmp_path), capture_output=True, text=True)
    assert done.returncode == -9, done.stderr
    decoded = cached(tmp_path, NAMES[0]).parent
    assert [p.name for p in decoded.iterdir() if p.name.endswith(".tmp")] != []
    again = load(data)
    np.testing.assert_array_equal(again.train_images, arrays[NAMES[0]])
    assert sorted(p.name for p in decoded.iterdir()) == sorted(
        [f"{name}.npy" for name in NAMES] + ["stamp.json"])


def test_a_cache_file_that_is_a_fifo_does_not_block(tmp_path, official_tiny, capsys):
    data, arrays = official_tiny
    load(data)
    path = cached(tmp_path, "t10k-labels-idx1-ubyte")
    path.unlink()
    os.mkfifo(path)
    np.testing.assert_array_equal(load(data).test_labels, arrays["t10k-labels-idx1-ubyte"])
    assert "is not a file of a plausible size" in capsys.readouterr().err


def test_a_deeply_nested_stamp_is_harmless(tmp_path, official_tiny, capsys):
    data, arrays = official_tiny
    load(data)
    stamp = tmp_path / "cache" / "scratchmlp" / "decoded" / "stamp.json"
    stamp.write_text("[" * 60000 + "]" * 60000)
    np.testing.assert_array_equal(load(data).train_labels, arrays["train-labels-idx1-ubyte"])


# ---- data folders and IDX files ----------------------------------------------------------
def test_data_dir_naming_a_file(capsys, tmp_path):
    (tmp_path / "data.txt").write_text("not a folder")
    line = assert_refused(cli(capsys, "train", "--data-dir", tmp_path / "data.txt", "--out",
                              "run", "--epochs", 1), "data directory", "data.txt is a file, "
                          "not a folder", "--data-dir DIR names the folder")
    assert "does not exist" not in line


def test_data_dir_from_the_environment_naming_a_file(capsys, tmp_path, monkeypatch):
    (tmp_path / "data.txt").write_text("not a folder")
    monkeypatch.setenv("SCRATCHMLP_DATA_DIR", str(tmp_path / "data.txt"))
    assert_refused(cli(capsys, "train", "--out", "run", "--epochs", 1),
                   "$SCRATCHMLP_DATA_DIR", "data.txt is a file, not a folder")


def test_an_idx_file_that_is_a_fifo(tmp_path):
    os.mkfifo(tmp_path / "t10k-labels-idx1-ubyte")
    with pytest.raises(ScratchMLPError, match="not a regular file"):
        idx.read(tmp_path / "t10k-labels-idx1-ubyte")


def test_an_idx_file_too_big_is_refused_unread(tmp_path):
    path = tmp_path / "train-images-idx3-ubyte"
    with open(path, "wb") as f:
        f.write(idx.header((60000, 28, 28)))
        f.truncate(4 << 30)  # 4 GiB, sparse
    with pytest.raises(ScratchMLPError, match="4,294,967,296 bytes, more than the 128 MiB"):
        idx.read(path)


@pytest.mark.slow  # seconds on a busy machine
def test_a_gzip_idx_inflating_past_the_limit(tmp_path):
    path = tmp_path / "train-images-idx3-ubyte.gz"
    path.write_bytes(gzip.compress(idx.header((200000, 28, 28)) + bytes(200000 * 784), 1))
    with pytest.raises(ScratchMLPError, match=r"declares an implausible shape \(200000, 28, 28\)"):
        idx.read(path)


def test_a_gzip_idx_inflating_past_its_header(tmp_path):
    path = tmp_path / "t10k-labels-idx1-ubyte.gz"
    path.write_bytes(gzip.compress(idx.header((10,)) + bytes(1 << 20), 1))
    with pytest.raises(ScratchMLPError, match=r"decompresses to more than the \(10,\) values "
                                              "its IDX header declares"):
        idx.read(path)


# ---- a hostile mirror ----------------------------------------------------------------------
class _HostileMirror:
    """Answers every GET with `kind`: "huge" (gzip magic then 80 MiB of zeros, no length) or
    "short" (a Content-Length the body never reaches)."""

    def __init__(self, kind: str):
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                self.send_response(200)
                if kind == "short":
                    self.send_header("Content-Length", "1000000")
                    self.end_headers()
                    self.wfile.write(b"\x1f\x8b" + bytes(100))
                    return
                self.end_headers()
                try:
                    self.wfile.write(b"\x1f\x8b")
                    for _ in range(80):
                        self.wfile.write(bytes(1 << 20))
                except OSError:
                    pass  # the reader stopped at its limit and went away

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)

    def __enter__(self):
        import threading
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return f"http://127.0.0.1:{self.server.server_port}/"

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


@pytest.mark.parametrize("kind, message", [
    ("huge", "train-images-idx3-ubyte.gz is larger than 64 MiB, more than any Fashion-MNIST "
             "file; try another mirror"),
    ("short", "train-images-idx3-ubyte.gz was cut short (102 of 1,000,000 bytes); try again"),
])
def test_a_hostile_mirror_is_one_line_and_stores_nothing(capsys, tmp_path, monkeypatch, kind,
                                                        message):
    with _HostileMirror(kind) as url:
        monkeypatch.setenv("SCRATCHMLP_MIRROR", url)
        assert_refused(cli(capsys, "train", "--out", "run", "--epochs", 1), message,
                       "--data-dir DIR names the folder")
    assert not list((tmp_path / "cache" / "scratchmlp" / "fashion-mnist").iterdir())
    assert not (tmp_path / "run").exists()
