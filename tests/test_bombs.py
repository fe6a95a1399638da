"""Issue 10's resource bombs, each provoked for real in a subprocess: `scratchmlp` must refuse
in one line with exit 2, its peak memory (RUSAGE_CHILDREN of a fresh helper process per case)
under 1 GB, and the run folder it was pointed at must keep its exact bytes."""

from __future__ import annotations

import lzma
import os
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pytest

from hostile import (
    GIB, ONE_GB_KB, SMALL, assert_refused_small, deflated_zeros, folder_digest, make_run, model_entries,
    npy_header, png_claiming, raw_zip, run_measured, stored, write_png,
)
from reliability_data import tiny_arrays, write_dataset
from scratchmlp.train.config import TrainConfig

pytestmark = pytest.mark.slow


@pytest.fixture
def run(tmp_path):
    return make_run(tmp_path / "run")


@pytest.fixture
def picture(tmp_path):
    return write_png(tmp_path / "shoe.png", np.tile(np.arange(64, dtype=np.uint8), (64, 1)))


def predict_refused(tmp_path, model, picture, *fragments) -> str:
    before = folder_digest(model.parent)
    line = assert_refused_small(run_measured(tmp_path, "predict", model, picture), *fragments)
    assert folder_digest(model.parent) == before
    return line


def lzma_member(name: str, data: bytes) -> tuple:
    """An entry as zipfile writes LZMA: a 4-byte version/size prefix, the properties, the data."""
    packed = lzma.compress(data, format=lzma.FORMAT_RAW,
                           filters=[{"id": lzma.FILTER_LZMA1, "preset": 0}])
    props = lzma._encode_filter_properties({"id": lzma.FILTER_LZMA1, "preset": 0})
    head = bytes([9, 4]) + len(props).to_bytes(2, "little") + props
    return name, zipfile.ZIP_LZMA, zlib.crc32(data), head + packed, len(data)


def test_lzma_bomb_model_is_refused_unread(tmp_path, picture):
    """Issue 10: 4 x LZMA members reached 5.3 GB and 33 s. Here W1 holds 64 MiB of LZMA zeros
    and the other members are honest; nothing is decompressed."""
    bomb = npy_header((784, 16)) + bytes(64 << 20)
    entries = [e for e in model_entries(SMALL) if e[0] != "W1.npy"]
    path = tmp_path / "bomb" / "model.npz"
    path.parent.mkdir()
    path.write_bytes(raw_zip([lzma_member("W1.npy", bomb), *entries]))
    predict_refused(tmp_path, path, picture, "W1' uses zip method 14",
                    "stored or deflate-compressed")


def test_deflate_member_whose_directory_lies_about_its_size(tmp_path, picture):
    """The directory declares W1's true size, the deflate stream inflates to 1 GiB: reading
    stops at the declared size and the CRC refuses the rest."""
    header = npy_header((784, 16))
    packed = deflated_zeros(header, GIB)
    declared = len(header) + 784 * 16 * 4
    entries = [e for e in model_entries(SMALL) if e[0] != "W1.npy"]
    path = tmp_path / "lie" / "model.npz"
    path.parent.mkdir()
    path.write_bytes(raw_zip([("W1.npy", zipfile.ZIP_DEFLATED, 0, packed, declared), *entries]))
    predict_refused(tmp_path, path, picture, "damaged .npz model file", "CRC")


def test_deflate_member_declaring_more_than_its_shape(tmp_path, picture):
    header = npy_header((784, 16))
    entries = [e for e in model_entries(SMALL) if e[0] != "W1.npy"]
    path = tmp_path / "big" / "model.npz"
    path.parent.mkdir()
    path.write_bytes(raw_zip([("W1.npy", zipfile.ZIP_DEFLATED, 0,
                               deflated_zeros(header, GIB), len(header) + GIB), *entries]))
    predict_refused(tmp_path, path, picture, "W1 declares 1,073,741,952 bytes",
                    "more than its shape (784, 16) can need")


def test_a_config_claiming_a_huge_layer_of_deflated_zeros(tmp_path, picture):
    """hidden [327680] really declares W1 of 980 MiB; its 1 MB of deflated zeros are no
    trained weights: refused by the compression ratio before anything is inflated."""
    config = TrainConfig(hidden=[327680])
    header = npy_header((784, 327680))
    entries = [stored("config.npy", _config_npy(config)),
               ("W1.npy", zipfile.ZIP_DEFLATED, 0, deflated_zeros(header, 784 * 327680 * 4,
                                                                 chunk=1 << 20),
                len(header) + 784 * 327680 * 4),
               stored("b1.npy", npy_header((327680,)) + bytes(327680 * 4)),
               stored("W2.npy", npy_header((327680, 10)) + bytes(327680 * 40)),
               stored("b2.npy", npy_header((10,)) + bytes(40))]
    path = tmp_path / "wide" / "model.npz"
    path.parent.mkdir()
    path.write_bytes(raw_zip(entries))
    predict_refused(tmp_path, path, picture, "more than 50:1", "not the weights of a trained")


def _config_npy(config) -> bytes:
    from hostile import npy_bytes
    return npy_bytes(np.array(config.to_json()))


def test_twenty_thousand_extra_members_give_a_short_line(tmp_path, picture):
    extra = [stored(f"extra{i}.npy", npy_header((1,)) + bytes(4)) for i in range(20000)]
    path = tmp_path / "many" / "model.npz"
    path.parent.mkdir()
    path.write_bytes(raw_zip([*model_entries(SMALL), *extra]))
    line = predict_refused(tmp_path, path, picture, "lists 20,005 entries",
                           "far more than a model file holds")
    assert len(line) < 300


def test_a_png_claiming_13000x13000_pixels(tmp_path, run):
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(png_claiming(13000, 13000))
    assert len(bomb.read_bytes()) < 150
    predict_refused(tmp_path, run / "model.npz", bomb, "bomb.png: more pixels than 25,000,000",
                    "scale it down first")


def test_a_png_over_the_pixel_budget_but_under_pillows(tmp_path, run):
    big = tmp_path / "big.png"
    big.write_bytes(png_claiming(8000, 4000))  # 32 MP: Pillow alone would decode it
    predict_refused(tmp_path, run / "model.npz", big, "big.png: 8000x4000 pixels",
                    "more than the 25,000,000 this reader decodes")


def test_a_fifo_is_refused_without_blocking(tmp_path, run):
    fifo = tmp_path / "pipe.png"
    os.mkfifo(fifo)
    predict_refused(tmp_path, run / "model.npz", fifo, "pipe.png: not a regular file")


def test_predict_n_100000_is_refused_at_once(tmp_path, run):
    data = write_dataset(tmp_path / "data")
    before = folder_digest(run)
    result = run_measured(tmp_path, "predict", run, "-n", 100000, "--data-dir", data,
                          SCRATCHMLP_VERIFY="0")
    assert_refused_small(result, "-n must be between 1 and 100", "got 100000")
    assert folder_digest(run) == before


def test_predict_n_beyond_the_test_set_draws_what_exists(tmp_path, run):
    data = write_dataset(tmp_path / "data", tiny_arrays(n_test=20))
    result = run_measured(tmp_path, "predict", run, "-n", 50, "--data-dir", data,
                          "--out", tmp_path / "grid.png", SCRATCHMLP_VERIFY="0")
    assert result["rc"] == 0, result["err"]
    assert result["out"].startswith("20 test images")


def test_a_gzip_bomb_in_the_data_folder(tmp_path):
    """A train-images .gz inflating to 1 GiB: refused once it passes what its header declares."""
    data = write_dataset(tmp_path / "data")
    packed = deflated_zeros(b"\0\0\x08\x03", GIB)
    gz = b"\x1f\x8b\x08\x00\0\0\0\0\x00\xff" + packed + bytes(8)  # header, stream, bad trailer
    (data / "train-images-idx3-ubyte.gz").write_bytes(gz)
    result = run_measured(tmp_path, "train", "--data-dir", data, "--out", tmp_path / "new",
                          "--epochs", 1, SCRATCHMLP_VERIFY="0")
    assert_refused_small(result, "train-images-idx3-ubyte.gz: decompresses to more than the "
                         "(0, 0, 0) values its IDX header declares")
    assert not (tmp_path / "new").exists()


def test_a_cached_npy_claiming_2_to_the_44_elements_is_decoded_again(tmp_path, run):
    """The decoded cache's header claims (2**44,) elements: a note, the data decoded again from
    the source, the same accuracy, and no 16 TiB allocation (real Fashion-MNIST)."""
    from scratchmlp.data.fashion_mnist import SYSTEM_DIRS, _complete
    source = next((d for d in SYSTEM_DIRS if os.path.isdir(d) and _complete(Path(d))), None)
    if source is None:
        pytest.skip("real Fashion-MNIST not installed")
    first = run_measured(tmp_path, "evaluate", run, "--json", "--data-dir", source)
    assert first["rc"] == 0, first["err"]
    cached = tmp_path / "cache" / "scratchmlp" / "decoded" / "t10k-labels-idx1-ubyte.npy"
    cached.write_bytes(npy_header((2**44,), "|u1") + bytes(100))
    before = folder_digest(run)
    again = run_measured(tmp_path, "evaluate", run, "--json", "--data-dir", source)
    assert again["rc"] == 0 and again["out"] == first["out"], again["err"]
    assert again["err"].startswith("scratchmlp: note: the decoded cache")
    assert "decoding again from the source" in again["err"] and "Traceback" not in again["err"]
    assert again["peak_kb"] < ONE_GB_KB
    assert folder_digest(run) == before


@pytest.mark.parametrize("epoch", [2**40, 50_000_000])
def test_resume_of_a_checkpoint_holding_a_huge_epoch(tmp_path, epoch):
    """Issue 10: epoch=2**40 ended in MemoryError; 5e7 took 2 GB and 10 s before its message.
    The checkpoint is refused on load, the run folder untouched."""
    data = write_dataset(tmp_path / "data")
    first = run_measured(tmp_path, "train", "--data-dir", data, "--out", tmp_path / "run",
                         "--epochs", 1, "--hidden", 16, "--no-progress", SCRATCHMLP_VERIFY="0")
    assert first["rc"] == 0, first["err"]
    checkpoint = tmp_path / "run" / "checkpoint.npz"
    with np.load(checkpoint) as archive:
        arrays = {name: archive[name] for name in archive.files}
    np.savez(checkpoint, **dict(arrays, epoch=np.array(epoch)))
    before = folder_digest(tmp_path / "run")
    result = run_measured(tmp_path, "train", "--resume", tmp_path / "run", "--data-dir", data,
                          "--epochs", 3, "--no-progress", SCRATCHMLP_VERIFY="0")
    assert_refused_small(result, f"checkpoint.npz: epoch {epoch} is outside its config's 0-1 "
                                 "epochs")
    assert folder_digest(tmp_path / "run") == before


def test_resume_of_a_run_whose_metrics_csv_is_huge(tmp_path):
    """A metrics.csv of 8,000,000 rows (96 MB) took `train --resume` 66 s and 3.5 GB before
    its message; it is now refused from its size, unread, and the run folder kept."""
    data = write_dataset(tmp_path / "data")
    first = run_measured(tmp_path, "train", "--data-dir", data, "--out", tmp_path / "run",
                         "--epochs", 1, "--hidden", 16, "--no-progress", SCRATCHMLP_VERIFY="0")
    assert first["rc"] == 0, first["err"]
    with open(tmp_path / "run" / "metrics.csv", "a") as f:
        f.write("1,1,1,1,1,1\n" * 8_000_000)
    before = folder_digest(tmp_path / "run")
    result = run_measured(tmp_path, "train", "--resume", tmp_path / "run", "--data-dir", data,
                          "--epochs", 3, "--no-progress", SCRATCHMLP_VERIFY="0")
    assert_refused_small(result, "metrics.csv: 96,000,", "bytes, more than a metrics file "
                                 "holds (at most 16,777,216)")
    assert folder_digest(tmp_path / "run") == before


ADVICE = ("finished epoch(s) saved in", "free memory, or ask for less")  # mid-run / before it


@pytest.mark.parametrize("limit_mb", [1200, 1000])  # here: in epoch 1 / the optimiser's buffers
def test_running_out_of_memory_is_one_line(tmp_path, limit_mb):
    """Under an address-space limit (or with the memory other processes hold) an allocation
    fails: a MemoryError traceback (or a ValueError hiding it, from the model file's writer)
    before; now one line, exit 2, and the run folder holds only whole files."""
    import resource
    import subprocess

    from reliability_data import scratchmlp_command, subprocess_env
    data = write_dataset(tmp_path / "data")

    def limit():
        resource.setrlimit(resource.RLIMIT_AS, (limit_mb << 20, limit_mb << 20))
    done = subprocess.run(scratchmlp_command("train", "--data-dir", data, "--out",
                                             tmp_path / "run", "--hidden", "8192,8192",
                                             "--epochs", 1, "--threads", 1, "--no-progress"),
                          capture_output=True, text=True, timeout=180, preexec_fn=limit,
                          env=subprocess_env(tmp_path, SCRATCHMLP_VERIFY="0",
                                             OPENBLAS_NUM_THREADS="1"))
    lines = [line for line in done.stderr.splitlines() if line.startswith("scratchmlp: error")]
    assert "Traceback" not in done.stderr and "Exception ignored" not in done.stderr, done.stderr
    assert done.returncode == 2 and len(lines) == 1, done.stderr
    assert "out of memory (Unable to allocate" in lines[0], lines[0]
    assert any(words in lines[0] for words in ADVICE), lines[0]
    assert not list((tmp_path / "run").glob(".*.tmp"))  # no half-written file left
