"""Shared by the reliability tests: a tiny real Fashion-MNIST-format folder, an isolated
environment (no shared cache, no system data, no network), and a way to call the CLI.

Not a test module (pytest collects test_*.py only); the tests import it by name.
"""

from __future__ import annotations

import gzip
import json
import os
import sys
from pathlib import Path

import numpy as np
import pytest

from scratchmlp.data import idx

SRC = Path(__file__).resolve().parents[1] / "src"
NAMES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte",
         "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
OFFLINE_MIRROR = "http://127.0.0.1:9"  # the discard port: nothing listens, connections are refused


def tiny_arrays(n_train: int = 512, n_test: int = 128, seed: int = 0) -> dict:
    """Real Fashion-MNIST-shaped arrays; each class lights up its own band so a net can learn."""
    rng = np.random.default_rng(seed)
    arrays = {}
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        labels = rng.integers(0, 10, n).astype(np.uint8)
        images = (rng.random((n, 28, 28)) * 60).astype(np.uint8)
        for c in range(10):
            images[labels == c, 2 * c:2 * c + 3, :] += 150
        arrays[f"{prefix}-images-idx3-ubyte"] = images
        arrays[f"{prefix}-labels-idx1-ubyte"] = labels
    return arrays


def write_dataset(directory, arrays: dict = None, raw: dict = None) -> Path:
    """The four files as gzip-compressed IDX; `raw` replaces a file's bytes as written on disk."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    arrays = arrays or tiny_arrays()
    for name in NAMES:
        data = (raw or {}).get(name)
        if data is None:
            data = gzip.compress(idx.encode(arrays[name]), mtime=0)
        (directory / f"{name}.gz").write_bytes(data)
    return directory


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    """No shared decoded cache, no /usr/share dataset, no network; data checksums verified."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("SCRATCHMLP_SYSTEM_DATA_DIRS", "")
    monkeypatch.setenv("SCRATCHMLP_MIRROR", OFFLINE_MIRROR)
    monkeypatch.delenv("SCRATCHMLP_DATA_DIR", raising=False)
    monkeypatch.delenv("SCRATCHMLP_VERIFY", raising=False)
    monkeypatch.chdir(tmp_path)


def cli(capsys, *argv):
    """(exit code, stdout, stderr) of `scratchmlp ARGV`, run in this process."""
    from scratchmlp.cli import main
    try:
        code = main([str(a) for a in argv])
    except SystemExit as e:  # argparse's own exit
        code = e.code
    out, err = capsys.readouterr()
    return code, out, err


def error_line(err: str) -> str:
    """The one `scratchmlp: error:` line of stderr; anything else there may only be notes."""
    assert "Traceback" not in err, err
    lines = [line for line in err.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("scratchmlp: error: ")]
    others = [line for line in lines if not line.startswith(("scratchmlp: error: ",
                                                            "scratchmlp: note: "))]
    assert len(errors) == 1 and not others, err
    return errors[0]


def assert_refused(result, *fragments) -> str:
    """Exit 2 and one error line holding every fragment (the thing named and its fix)."""
    code, _, err = result
    line = error_line(err)
    assert code == 2, (code, err)
    for fragment in fragments:
        assert fragment in line, (fragment, line)
    _record(line)
    return line


def _record(line: str):
    """With SCRATCHMLP_RECORD_MESSAGES=FILE, note (test, message): docs/reliability.md quotes them."""
    record = os.environ.get("SCRATCHMLP_RECORD_MESSAGES")
    if record:
        test = os.environ.get("PYTEST_CURRENT_TEST", "?").rsplit(" ", 1)[0]
        with open(record, "a", encoding="utf-8") as f:
            f.write(json.dumps({"test": test, "message": line}) + "\n")


def subprocess_env(tmp_path, **extra) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCRATCHMLP_")}
    env.update(XDG_CACHE_HOME=str(tmp_path / "cache"), SCRATCHMLP_SYSTEM_DATA_DIRS="",
               SCRATCHMLP_MIRROR=OFFLINE_MIRROR, PYTHONPATH=str(SRC), PYTHONUNBUFFERED="1",
               **extra)
    return env


def terminal_signals():
    """For Popen(preexec_fn=...): the child gets SIGINT as a terminal gives it. A suite started
    by a script's `make test &` hands its children SIGINT ignored, and the commands keep an
    ignored Ctrl-C ignored, as `nohup` asks."""
    import signal
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def scratchmlp_command(*argv) -> list:
    return [sys.executable, "-m", "scratchmlp", *map(str, argv)]


def snapshot(directory) -> dict:
    """name -> (bytes, mtime_ns) of every file in a folder, to prove nothing was touched."""
    return {p.name: (p.read_bytes(), p.stat().st_mtime_ns)
            for p in sorted(Path(directory).iterdir()) if p.is_file()}


def weights(path) -> dict:
    with np.load(path, allow_pickle=False) as archive:
        return {name: archive[name] for name in archive.files}
