"""Every bad input a user can give, provoked for real through the CLI: one `scratchmlp: error:`
line that names the thing and the fix, exit status 2, no traceback, nothing written."""

from __future__ import annotations

import gzip
import json
import pickle
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest

from reliability_data import (  # noqa: F401  (isolated is an autouse fixture)
    NAMES, OFFLINE_MIRROR, assert_refused, cli, isolated, snapshot, tiny_arrays, weights,
    write_dataset,
)
from scratchmlp.data import idx
from scratchmlp.train.config import TrainConfig
from scratchmlp.train.modelfile import build_model, load_model, save_model

TRAIN_IMAGES = "train-images-idx3-ubyte"
TRAIN_LABELS = "train-labels-idx1-ubyte"


def train_on(capsys, data_dir, out="run", *flags):
    return cli(capsys, "train", "--data-dir", data_dir, "--out", out, "--epochs", 1,
               "--hidden", 16, "--no-progress", *flags)


def refused_data(capsys, data_dir, *fragments) -> str:
    """Training on `data_dir` is refused before any run folder is made."""
    line = assert_refused(train_on(capsys, data_dir), *fragments)
    assert not Path("run").exists()
    return line


# ---- data ----------------------------------------------------------------------------------
def test_missing_data_directory(capsys, tmp_path):
    refused_data(capsys, tmp_path / "nowhere", "data directory", "nowhere", "does not exist",
                 "--data-dir DIR")


def test_missing_directory_named_by_environment(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("SCRATCHMLP_DATA_DIR", str(tmp_path / "nowhere"))
    line = assert_refused(cli(capsys, "train", "--out", "run", "--epochs", 1),
                          "$SCRATCHMLP_DATA_DIR", "nowhere", "does not exist")
    assert "download" not in line  # a directory the user named is never silently skipped


def test_directory_lacking_a_file(capsys, tmp_path):
    data = write_dataset(tmp_path / "data")
    (data / f"{TRAIN_LABELS}.gz").unlink()
    refused_data(capsys, data, "lacks train-labels-idx1-ubyte", "--data-dir DIR")


def test_empty_file(capsys, tmp_path):
    data = write_dataset(tmp_path / "data", raw={TRAIN_IMAGES: b""})
    refused_data(capsys, data, f"{TRAIN_IMAGES}.gz: the file is empty",
                 "delete it and fetch it again")


def test_truncated_gzip(capsys, tmp_path):
    whole = gzip.compress(idx.encode(tiny_arrays()[TRAIN_IMAGES]))
    data = write_dataset(tmp_path / "data", raw={TRAIN_IMAGES: whole[:len(whole) // 2]})
    refused_data(capsys, data, f"{TRAIN_IMAGES}.gz: truncated gzip data",
                 "delete it and fetch it again")


def test_corrupt_gzip(capsys, tmp_path):
    whole = bytearray(gzip.compress(idx.encode(tiny_arrays()[TRAIN_IMAGES])))
    whole[-6] ^= 0xFF  # inside the CRC/size trailer
    data = write_dataset(tmp_path / "data", raw={TRAIN_IMAGES: bytes(whole)})
    refused_data(capsys, data, f"{TRAIN_IMAGES}.gz: corrupt gzip data",
                 "delete it and fetch it again")


def test_not_gzip_but_named_gz(capsys, tmp_path):
    plain = idx.encode(tiny_arrays()[TRAIN_IMAGES])
    data = write_dataset(tmp_path / "data", raw={TRAIN_IMAGES: plain})
    refused_data(capsys, data, f"{TRAIN_IMAGES}.gz: named .gz but is not gzip data",
                 "delete it and fetch it again")


def test_wrong_idx_magic(capsys, tmp_path):
    png_like = b"\x89PNG\r\n\x1a\n" + bytes(100)
    data = write_dataset(tmp_path / "data", raw={TRAIN_IMAGES: gzip.compress(png_like)})
    refused_data(capsys, data, f"{TRAIN_IMAGES}.gz: not an IDX file (wrong magic number 89504e47)")


def test_truncated_idx_body(capsys, tmp_path):
    whole = idx.encode(tiny_arrays()[TRAIN_IMAGES])
    data = write_dataset(tmp_path / "data", raw={TRAIN_IMAGES: gzip.compress(whole[:-784])})
    refused_data(capsys, data, "truncated: header declares shape (512, 28, 28)",
                 "401408 bytes")


def test_wrong_dimensions(capsys, tmp_path):
    arrays = tiny_arrays()
    arrays[TRAIN_IMAGES] = np.zeros((512, 32, 32), np.uint8)
    data = write_dataset(tmp_path / "data", arrays)
    refused_data(capsys, data, f"{TRAIN_IMAGES}.gz: holds an array of shape (512, 32, 32)",
                 "expected images of 28x28 pixels", "use Fashion-MNIST's image file")


def test_images_that_are_not_bytes(capsys, tmp_path):
    floats = np.zeros((512, 28, 28), ">f4")  # a valid IDX file of type 0x0D (float32)
    raw = bytes([0, 0, 0x0D, 3]) + np.array(floats.shape, ">u4").tobytes() + floats.tobytes()
    data = write_dataset(tmp_path / "data", raw={TRAIN_IMAGES: gzip.compress(raw)})
    refused_data(capsys, data, f"{TRAIN_IMAGES}.gz: holds float32 values",
                 "unsigned bytes (IDX type 0x08)")


def test_image_label_count_mismatch(capsys, tmp_path):
    arrays = tiny_arrays()
    arrays[TRAIN_LABELS] = arrays[TRAIN_LABELS][:500]
    data = write_dataset(tmp_path / "data", arrays)
    refused_data(capsys, data, "holds 512 images but", f"{TRAIN_LABELS}.gz holds 500 labels",
                 "use two files of the same set")


def test_label_outside_0_to_9(capsys, tmp_path):
    arrays = tiny_arrays()
    arrays[TRAIN_LABELS][7] = 10
    data = write_dataset(tmp_path / "data", arrays)
    refused_data(capsys, data, f"{TRAIN_LABELS}.gz: labels must be classes 0-9, found 10")


def test_checksum_mismatch(capsys, tmp_path):
    """A well-formed set with the official names but other content is not Fashion-MNIST."""
    data = write_dataset(tmp_path / "data")
    refused_data(capsys, data, f"{TRAIN_IMAGES}.gz: checksum mismatch",
                 "not the official Fashion-MNIST file", "delete it and fetch it again",
                 "set SCRATCHMLP_VERIFY=0")


@pytest.mark.slow
def test_own_data_is_accepted_with_verify_0(capsys, tmp_path, monkeypatch):
    """The documented escape hatch for custom data: structure is still checked, checksums not."""
    data = write_dataset(tmp_path / "data")
    monkeypatch.setenv("SCRATCHMLP_VERIFY", "0")
    code, out, err = train_on(capsys, data)
    assert code == 0, err
    assert "SCRATCHMLP_VERIFY=0" in err and "error" not in err
    assert "epoch   1/1" in out
    assert not (tmp_path / "cache" / "scratchmlp" / "decoded").exists()  # never cached


def test_verify_0_still_checks_structure(capsys, tmp_path, monkeypatch):
    arrays = tiny_arrays()
    arrays[TRAIN_LABELS][0] = 200
    monkeypatch.setenv("SCRATCHMLP_VERIFY", "0")
    refused_data(capsys, write_dataset(tmp_path / "data", arrays),
                 "labels must be classes 0-9, found 200")


def test_verify_setting_that_is_neither_0_nor_1(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("SCRATCHMLP_VERIFY", "no")
    refused_data(capsys, write_dataset(tmp_path / "data"), "SCRATCHMLP_VERIFY='no'",
                 "set it to 1", "or 0")


def test_offline_with_no_local_copy(capsys, tmp_path):
    line = assert_refused(cli(capsys, "train", "--out", "run", "--epochs", 1),
                          "Fashion-MNIST not found locally",
                          f"the download of {OFFLINE_MIRROR}/train-images-idx3-ubyte.gz failed",
                          "apt-get install dataset-fashion-mnist", "--data-dir DIR")
    assert "refused" in line.lower()
    assert not Path("run").exists()


class _HtmlPage(BaseHTTPRequestHandler):
    def do_GET(self):  # what a captive portal or a proxy error answers
        body = b"<html><body>Please log in</body></html>"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def test_download_that_is_not_gzip_is_not_stored(capsys, tmp_path, monkeypatch):
    server = ThreadingHTTPServer(("127.0.0.1", 0), _HtmlPage)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        monkeypatch.setenv("SCRATCHMLP_MIRROR", f"http://127.0.0.1:{server.server_port}/")
        assert_refused(cli(capsys, "train", "--out", "run", "--epochs", 1),
                       "train-images-idx3-ubyte.gz is not gzip data", "try again later")
    finally:
        server.shutdown()
        server.server_close()
    assert not list((tmp_path / "cache" / "scratchmlp" / "fashion-mnist").iterdir())


# ---- command line --------------------------------------------------------------------------
@pytest.mark.parametrize("flags, fragments", [
    (["--lr", "0"], ["argument --lr", "expected a positive number, got 0.0"]),
    (["--lr", "-0.5"], ["argument --lr", "expected a positive number, got -0.5"]),
    (["--lr", "fast"], ["argument --lr", "expected a number, got 'fast'"]),
    (["--lr", "nan"], ["argument --lr", "expected a positive number, got nan"]),
    (["--lr", "inf"], ["argument --lr", "expected a positive number, got inf"]),
    (["--epochs", "-1"], ["argument --epochs", "expected a whole number from 0 to 100000, got -1"]),
    (["--epochs", "2.5"], ["argument --epochs", "expected a whole number, got '2.5'"]),
    # 10**20 epochs trained on; past ~250,000 rows metrics.csv is too big to resume from
    (["--epochs", "100001"], ["argument --epochs", "from 0 to 100000, got 100001"]),
    (["--batch-size", "0"], ["argument --batch-size", "a positive whole number, got 0"]),
    (["--batch-size", "-8"], ["argument --batch-size", "got -8"]),
    (["--seed", "-1"], ["argument --seed", "got -1"]),
    (["--momentum", "1"], ["argument --momentum", "expected a number in [0, 1), got 1.0"]),
    (["--dropout", "-0.1"], ["argument --dropout", "a probability in [0, 1), got -0.1"]),
    (["--subset", "0"], ["argument --subset", "a positive whole number, got 0"]),
    (["--hidden", "0"], ["argument --hidden", "positive whole numbers", "got [0]"]),
    (["--hidden", "256,-3"], ["argument --hidden", "positive whole numbers", "got [256, -3]"]),
    (["--hidden", "10000000000000000000"],
     ["argument --hidden", "hidden [10000000000000000000]: a model of "
      "7,950,000,000,000,000,000,010 parameters does not fit in memory"]),
    (["--hidden", "9" * 4000], ["argument --hidden", "hidden [a number of 4,000 digits]: a "
                                "model of about 10^4002 parameters does not fit in memory"]),
    (["--hidden", "9" * 5000], ["argument --hidden", "give layer widths as whole numbers"]),
    (["--hidden", "abc"], ["argument --hidden", "'abc'", "e.g. 256 or 256,128"]),
    (["--hidden", "256,,128"], ["argument --hidden", "'256,,128'", "e.g. 256 or 256,128"]),
    (["--activation", "swish"], ["argument --activation: unknown activation 'swish'",
                                 "choose one of relu"]),
    (["--optimizer", "adamw"], ["argument --optimizer: unknown optimiser 'adamw'",
                                "choose one of sgd"]),
    (["--init", "zeros"], ["argument --init: unknown", "'zeros'", "choose one of"]),
    (["--schedule", "step"], ["argument --schedule: unknown learning-rate schedule 'step'",
                              "choose one of constant, cosine"]),
])
def test_bad_flags(capsys, tmp_path, flags, fragments):
    """Refused before any data is read (the data folder here does not even exist)."""
    line = assert_refused(cli(capsys, "train", "--data-dir", tmp_path / "no-data",
                              "--out", "run", *flags), *fragments)
    if line.startswith("scratchmlp: error: argument"):
        assert line.endswith("; see 'scratchmlp train --help'")
    assert not Path("run").exists()


@pytest.mark.parametrize("flags, fragments", [
    (["--resume", "run", "--force"], ["--resume and --force contradict each other"]),
    (["--resume", "nowhere"], ["nowhere: no such run folder to resume", "check the path"]),
    (["--resume", "empty"], ["empty: no run to resume here (no config.json)", "--out"]),
    (["--resume", "run", "--out", "elsewhere"], ["--resume names the run folder", "drop --out"]),
])
def test_bad_resume(capsys, tmp_path, flags, fragments):
    Path("run").mkdir()
    Path("empty").mkdir()
    (Path("run") / "config.json").write_text(TrainConfig().to_json())
    before = snapshot("run")
    assert_refused(cli(capsys, "train", "--data-dir", tmp_path / "no-data", *flags), *fragments)
    assert snapshot("run") == before
    assert not Path("elsewhere").exists()


def test_a_model_too_big_for_memory(capsys, tmp_path, monkeypatch):
    """784 x 1e11 float32 weights (313 TB) exceed any 64-bit address space: refused, no folder."""
    monkeypatch.setenv("SCRATCHMLP_VERIFY", "0")
    assert_refused(train_on(capsys, write_dataset(tmp_path / "data"), "run", "--hidden",
                            "100000000000"),
                   "hidden [100000000000]: a model of 79,500,000,000,010 parameters does not "
                   "fit in memory", "choose smaller hidden layer widths")
    assert not Path("run").exists()


@pytest.mark.slow
def test_out_at_an_existing_run_overwrites_nothing(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("SCRATCHMLP_VERIFY", "0")
    data = write_dataset(tmp_path / "data")
    assert train_on(capsys, data)[0] == 0
    before = snapshot("run")
    assert {"config.json", "metrics.csv", "model.npz", "checkpoint.npz"} <= set(before)
    assert_refused(train_on(capsys, data, "run", "--lr", "0.1"), "run: already holds files",
                   "--resume run", "--force", "another --out")
    assert snapshot("run") == before  # same bytes, same modification times
    # and --force really does replace it
    code, _, err = train_on(capsys, data, "run", "--lr", "0.1", "--force")
    assert code == 0, err
    assert json.loads(Path("run/config.json").read_text())["lr"] == 0.1


def test_out_that_is_a_file(capsys, tmp_path):
    Path("run").write_text("not a folder")
    assert_refused(train_on(capsys, tmp_path / "no-data"), "run: exists and is not a folder",
                   "choose another --out")
    assert Path("run").read_text() == "not a folder"


@pytest.mark.slow
def test_resume_with_other_settings(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("SCRATCHMLP_VERIFY", "0")
    data = write_dataset(tmp_path / "data")
    assert train_on(capsys, data)[0] == 0
    before = snapshot("run")
    assert_refused(cli(capsys, "train", "--resume", "run", "--data-dir", data, "--lr", "0.01"),
                   "the run was made with other settings (lr 0.5 there, 0.01 here)",
                   "only --epochs may change")
    assert snapshot("run") == before


@pytest.mark.parametrize("content, fragments", [
    ({"lr": 0.1, "learning_rate": 0.1}, ["unknown field(s) learning_rate", "known fields:"]),
    ({"lr": "fast"}, ["lr must be a positive number", "'fast'"]),
    ({"epochs": 2.5}, ["epochs must be a whole number from 0 to 100000", "2.5"]),
    ({"hidden": 256}, ["hidden must be a list", "256"]),
    ({"hidden": [256, 0]}, ["hidden must be a list of positive whole numbers", "[256, 0]"]),
    ({"hidden": [10 ** 12]}, ["hidden [1000000000000]: a model of", "does not fit in memory"]),
    ({"batch_size": True}, ["batch_size must be a positive whole number", "True"]),
    ({"activation": 3}, ["activation must be a string", "3"]),
    ([256], ["expected a JSON object of settings"]),
    ("{not json", ["not a readable JSON config"]),
])
def test_bad_config_file(capsys, tmp_path, content, fragments):
    path = tmp_path / "settings.json"
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    line = assert_refused(cli(capsys, "train", "--config", path, "--data-dir", tmp_path / "none",
                              "--out", "run"), *fragments)
    assert str(path) in line
    assert not Path("run").exists()


def test_missing_config_file(capsys, tmp_path):
    assert_refused(cli(capsys, "train", "--config", tmp_path / "nope.json", "--out", "run"),
                   "nope.json: no such config file")


# ---- model files ---------------------------------------------------------------------------
CONFIG = TrainConfig(hidden=[16], epochs=1)


@pytest.fixture
def model_arrays(tmp_path) -> dict:
    """The arrays of a real model file written by the package."""
    save_model(tmp_path / "good.npz", build_model(CONFIG), CONFIG)
    return weights(tmp_path / "good.npz")


def refused_model(capsys, path, *fragments) -> str:
    """Both commands that read a model refuse it, before looking for any data."""
    for command in ("evaluate", "predict"):
        line = assert_refused(cli(capsys, command, path, "--data-dir", "no-data"), *fragments)
    return line


def test_model_file_that_is_not_npz(capsys, tmp_path):
    path = tmp_path / "model.npz"
    path.write_text("W1,b1\n0.1,0.2\n")
    refused_model(capsys, path, "model.npz: not an .npz model file (no zip header)",
                  "give a model.npz or checkpoint.npz written by scratchmlp train")


def test_model_file_that_is_a_single_npy(capsys, tmp_path):
    path = tmp_path / "model.npz"
    with open(path, "wb") as f:
        np.save(f, np.zeros((784, 16), np.float32))
    refused_model(capsys, path, "a single .npy array, not an .npz model file")


def test_model_file_that_is_damaged(capsys, tmp_path, model_arrays):
    whole = (tmp_path / "good.npz").read_bytes()
    path = tmp_path / "model.npz"
    path.write_bytes(whole[:len(whole) // 2])
    refused_model(capsys, path, "damaged .npz model file", "written by scratchmlp train")


class _Touch:
    """Unpickling this creates a file: proof of whether a loader ever unpickles."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_pickled_objects_are_refused_and_never_unpickled(capsys, tmp_path, model_arrays):
    marker = tmp_path / "UNPICKLED"
    payload = np.empty((), dtype=object)
    payload[()] = _Touch(marker)
    path = tmp_path / "model.npz"
    np.savez(path, **dict(model_arrays, b2=payload))  # numpy pickles object arrays
    refused_model(capsys, path, "b2: holds pickled Python objects",
                  "refusing to load them (unpickling can run code)")
    with pytest.raises(Exception, match="pickled"):
        load_model(path)
    assert not marker.exists()
    # The control: the very same bytes, unpickled, do create the marker.
    with np.load(path, allow_pickle=True) as archive:
        archive["b2"]
    assert marker.exists()


def test_a_bare_pickle_is_refused_and_never_unpickled(capsys, tmp_path):
    marker = tmp_path / "UNPICKLED"
    path = tmp_path / "model.npz"
    path.write_bytes(pickle.dumps({"W1": _Touch(marker)}, protocol=4))
    refused_model(capsys, path, "a Python pickle, not an .npz model file", "refusing to load it")
    assert not marker.exists()
    pickle.loads(path.read_bytes())  # the control
    assert marker.exists()


def test_model_with_missing_arrays(capsys, tmp_path, model_arrays):
    del model_arrays["W2"]
    np.savez(tmp_path / "model.npz", **model_arrays)
    refused_model(capsys, tmp_path / "model.npz", "arrays do not fit its config (hidden [16])",
                  "missing W2, unexpected none")


def test_model_with_extra_arrays(capsys, tmp_path, model_arrays):
    np.savez(tmp_path / "model.npz", **model_arrays, W3=np.zeros((10, 10), np.float32))
    refused_model(capsys, tmp_path / "model.npz", "missing none, unexpected W3")


def test_model_without_config(capsys, tmp_path, model_arrays):
    del model_arrays["config"]
    np.savez(tmp_path / "model.npz", **model_arrays)
    refused_model(capsys, tmp_path / "model.npz", "no 'config' entry",
                  "so not a scratchmlp model file", "written by scratchmlp train")


def test_model_whose_config_is_bad(capsys, tmp_path, model_arrays):
    model_arrays["config"] = np.array(json.dumps({"hidden": [16], "batchnorm": True}))
    np.savez(tmp_path / "model.npz", **model_arrays)
    refused_model(capsys, tmp_path / "model.npz", "model.npz config: unknown field(s) batchnorm")


def test_model_shapes_that_do_not_fit_the_config(capsys, tmp_path, model_arrays):
    model_arrays["W1"] = np.zeros((784, 8), np.float32)
    np.savez(tmp_path / "model.npz", **model_arrays)
    refused_model(capsys, tmp_path / "model.npz",
                  "W1 has shape (784, 8) but its config (hidden [16]) needs (784, 16)")


def test_model_that_claims_a_huge_layer_is_refused_before_allocating(capsys, tmp_path,
                                                                      model_arrays):
    model_arrays["config"] = np.array(json.dumps({"hidden": [10 ** 12]}))
    np.savez(tmp_path / "model.npz", **model_arrays)
    refused_model(capsys, tmp_path / "model.npz", "model.npz config: hidden [1000000000000]: "
                  "a model of 795,000,000,000,010 parameters does not fit in memory")


def test_model_with_nan_weights(capsys, tmp_path, model_arrays):
    model_arrays["b1"][3] = np.nan
    np.savez(tmp_path / "model.npz", **model_arrays)
    refused_model(capsys, tmp_path / "model.npz", "b1 holds NaN or infinite values",
                  "use a checkpoint from before it diverged")


def test_model_with_integer_weights(capsys, tmp_path, model_arrays):
    model_arrays["W2"] = model_arrays["W2"].astype(np.int32)
    np.savez(tmp_path / "model.npz", **model_arrays)
    refused_model(capsys, tmp_path / "model.npz", "W2 holds int32, not floating point")


def test_missing_model(capsys, tmp_path):
    refused_model(capsys, tmp_path / "nope", "nope: no such run folder or model file",
                  "check the path")
    (tmp_path / "empty-run").mkdir()
    refused_model(capsys, tmp_path / "empty-run", "empty-run: no model.npz here")


@pytest.mark.slow  # evaluates in-process (seconds on a busy machine)
def test_good_model_file_is_accepted(capsys, tmp_path, model_arrays, monkeypatch):
    """The control for the refusals above: the untouched file evaluates."""
    monkeypatch.setenv("SCRATCHMLP_VERIFY", "0")
    data = write_dataset(tmp_path / "data")
    code, out, err = cli(capsys, "evaluate", tmp_path / "good.npz", "--data-dir", data)
    assert code == 0, err
    assert out.startswith("test accuracy ")


# ---- training that diverges ----------------------------------------------------------------
@pytest.mark.slow  # trains in-process
@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # evaluating the huge (finite) weights
def test_divergence_keeps_the_last_good_epoch(capsys, tmp_path, monkeypatch):
    """lr 1e6 on this data: epoch 1 ends with finite (huge) weights, epoch 2 overflows."""
    monkeypatch.setenv("SCRATCHMLP_VERIFY", "0")
    data = write_dataset(tmp_path / "data")
    code, out, err = cli(capsys, "train", "--data-dir", data, "--out", "run", "--epochs", 4,
                         "--hidden", 32, "--batch-size", 128, "--lr", "1e6", "--no-progress")
    line = assert_refused((code, out, err), "training diverged", "became NaN/inf in epoch",
                          "lower the learning rate (now --lr 1e+06)",
                          "start again with --force")
    assert "RuntimeWarning" not in err
    epoch = int(line.split(" in epoch ")[1].split()[0])
    assert epoch >= 2, line  # the case worth testing: finished epochs exist before it
    assert f"{epoch - 1} finished epoch(s) saved in run" in line

    metrics = Path("run/metrics.csv").read_text().splitlines()
    assert [row.split(",")[0] for row in metrics[1:]] == [str(e) for e in range(1, epoch)]
    checkpoint, model = weights("run/checkpoint.npz"), weights("run/model.npz")
    assert int(checkpoint["epoch"]) == epoch - 1
    for name in ("W1", "b1", "W2", "b2"):
        assert np.isfinite(model[name]).all()
        assert np.array_equal(model[name], checkpoint[name])
    assert not Path("run/curves.png").exists()  # the run did not pretend to finish
    # the saved model is usable
    code, out, err = cli(capsys, "evaluate", "run", "--data-dir", data)
    assert code == 0 and out.startswith("test accuracy"), err


def test_divergence_in_the_first_epoch_keeps_the_initial_model(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("SCRATCHMLP_VERIFY", "0")
    data = write_dataset(tmp_path / "data")
    line = assert_refused(cli(capsys, "train", "--data-dir", data, "--out", "run", "--epochs", 3,
                              "--hidden", 32, "--batch-size", 64, "--lr", "1e8", "--no-progress"),
                          "became NaN/inf in epoch 1", "0 finished epoch(s) saved in run")
    assert "lower the learning rate" in line
    assert Path("run/metrics.csv").read_text().strip() == \
        "epoch,train_loss,train_acc,test_acc,seconds,examples_per_s"
    assert not Path("run/checkpoint.npz").exists()
    initial = build_model(TrainConfig(hidden=[32], lr=1e8, epochs=3, batch_size=64)).state_dict()
    saved = weights("run/model.npz")
    assert all(np.array_equal(saved[k], v) for k, v in initial.items())
