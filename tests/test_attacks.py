"""An attacker's pass over the six commands: pipes, encodings, signals, odd paths, absurd flags,
hostile environments and filesystems.

Every case runs `python -m scratchmlp ...` as a real subprocess in a tiny world (a 512-image
Fashion-MNIST-format folder, a trained run, a picture) and asserts what the user sees: the exit
status, at most one `scratchmlp:` line on stderr holding the expected words, no traceback, no
"Exception ignored" line, peak memory under 1 GB, and no hang. Cases whose fix belongs to
another part of the code are marked xfail(strict) with the owner named.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

from reliability_data import (  # noqa: F401  (isolated is an autouse fixture)
    isolated, scratchmlp_command, subprocess_env, write_dataset,
)

pytestmark = pytest.mark.slow  # every case is a subprocess: `make test`, not `make test-fast`

MAX_RSS_KB = 1024 * 1024  # 1 GB
TIMEOUT_S = 60


@dataclass
class Result:
    code: int
    out: str
    err: str
    rss_kb: int

    @property
    def lines(self) -> list:
        return [line for line in self.err.splitlines() if line.strip()
                and not line.startswith("scratchmlp: note: ")]


def run_cli(argv, cwd, env, stdout=None, timeout=TIMEOUT_S, python=None) -> Result:
    """Run the CLI (or `python -c PYTHON ARGV`) and measure the child's own peak memory."""
    command = ([sys.executable, "-c", python, *map(str, argv)] if python
               else scratchmlp_command(*argv))
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        process = subprocess.Popen(command, cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                                   stdout=out if stdout is None else stdout, stderr=err)
        timer = threading.Timer(timeout, process.kill)
        timer.start()
        _, status, usage = os.wait4(process.pid, 0)
        timer.cancel()
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        result = Result(process.returncode, out.read().decode("utf-8", "replace"),
                        err.read().decode("utf-8", "replace"), usage.ru_maxrss)
    assert process.returncode != -signal.SIGKILL, f"hung for {timeout} s: {argv}"
    return result


def assert_clean(result: Result, code: int, *fragments):
    """Exit status `code`, no traceback, at most one line (holding every fragment), small."""
    assert "Traceback" not in result.err and "Exception ignored" not in result.err, result.err
    assert result.code == code, (result.code, result.err)
    assert len(result.lines) <= 1, result.err
    for fragment in fragments:
        assert result.lines and fragment in result.lines[0], (fragment, result.err)
    assert result.rss_kb < MAX_RSS_KB, f"peak memory {result.rss_kb / 1024:.0f} MB"


# ---- the tiny world --------------------------------------------------------------------------
@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """data/ (tiny Fashion-MNIST files), run/ (trained 1 epoch), shirt.png; shared, read-only
    by convention: cases that change things copy them first."""
    root = tmp_path_factory.mktemp("world")
    write_dataset(root / "data")
    env = subprocess_env(root, SCRATCHMLP_VERIFY="0", OPENBLAS_NUM_THREADS="1")
    trained = run_cli(["train", "--data-dir", "data", "--out", "run", "--hidden", "16",
                       "--epochs", "1", "--no-progress"], root, env)
    assert trained.code == 0, trained.err
    from PIL import Image
    Image.fromarray((np.arange(28 * 28) % 255).astype(np.uint8).reshape(28, 28)).save(
        root / "shirt.png")
    return root


@pytest.fixture
def place(world, tmp_path):
    """A fresh working folder holding links to the world's data, run and picture."""
    for name in ("data", "shirt.png"):
        (tmp_path / name).symlink_to(world / name)
    shutil.copytree(world / "run", tmp_path / "run")
    return tmp_path


def env_for(place, **changes) -> dict:
    env = subprocess_env(place, SCRATCHMLP_VERIFY="0", OPENBLAS_NUM_THREADS="1")
    for key, value in changes.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


@dataclass
class Case:
    """argv with {here} for the working folder; `setup(place)` prepares files; `env` changes
    the environment (None removes a variable)."""
    id: str
    argv: list
    code: int = 2
    fragments: tuple = ()
    setup: object = None
    env: dict = field(default_factory=dict)
    owner: str = None  # the part of the code whose fix this waits for (xfail, strict)
    slow: bool = False


def cases_to_params(cases):
    params = []
    for case in cases:
        marks = [pytest.mark.slow] if case.slow else []
        if case.owner:
            marks.append(pytest.mark.xfail(strict=True, reason=f"owner: {case.owner}"))
        params.append(pytest.param(case, id=case.id, marks=marks))
    return params


def run_case(case: Case, place) -> Result:
    if case.setup:
        case.setup(place)
    argv = [str(a).replace("{here}", str(place)) for a in case.argv]
    return run_cli(argv, place, env_for(place, **case.env))


# ---- output: pictures, pipes, full disks, encodings --------------------------------------------
def unicode_copy(place):
    shutil.copytree(place / "run", place / "r\u00e9sultat \u00d7\u2014\u2192")
    shutil.copy(place / "shirt.png", place / "\u2192 chemise \u00d7.png")


def undecodable_name(place):
    os.symlink(place / "shirt.png", os.fsencode(place) + b"/bad-\xff-name.png")


OUTPUT_CASES = [
    Case("evaluate-out-unknown-format", ["evaluate", "run", "--out", "x.xyz"],
         fragments=("--out x.xyz: cannot draw a .xyz picture",)),
    Case("predict-out-unknown-format", ["predict", "run", "--out", "x.xyz"],
         fragments=("cannot draw a .xyz picture",)),
    Case("predict-show-out-unknown-format",
         ["predict", "run", "shirt.png", "--show", "--out", "seen.docx"],
         fragments=("cannot draw a .docx picture",)),
    Case("evaluate-ascii-output-unicode-path",
         ["evaluate", "r\u00e9sultat \u00d7\u2014\u2192", "--data-dir", "data"], code=0,
         setup=unicode_copy, env={"PYTHONIOENCODING": "ascii"}),
    Case("predict-ascii-output-unicode-image",
         ["predict", "run", "\u2192 chemise \u00d7.png"], code=0, setup=unicode_copy,
         env={"PYTHONIOENCODING": "ascii"}),
    Case("predict-latin1-output-arrow", ["predict", "run", "\u2192 chemise \u00d7.png"], code=0,
         setup=unicode_copy, env={"PYTHONIOENCODING": "latin-1"}),
    Case("predict-ebcdic-output", ["predict", "run", "\u2192 chemise \u00d7.png"], code=0,
         setup=unicode_copy, env={"PYTHONIOENCODING": "cp037"}),
    Case("predict-c-locale-unicode-image", ["predict", "run", "\u2192 chemise \u00d7.png"],
         code=0, setup=unicode_copy, env={"LC_ALL": "C", "LANG": "C"}),
    Case("predict-undecodable-file-name-ascii", ["predict", "run", "bad-\udcff-name.png"], code=0,
         setup=undecodable_name, env={"PYTHONIOENCODING": "ascii"}),
    Case("error-message-unicode-ascii", ["evaluate", "n\u00e9ant\u2192"],
         fragments=("no such run folder",), env={"PYTHONIOENCODING": "ascii"}),
    Case("argparse-error-unicode-ascii", ["train", "--hidden", "\u00d7"],
         fragments=("--hidden",), env={"PYTHONIOENCODING": "ascii"}),
]


@pytest.mark.parametrize("case", cases_to_params(OUTPUT_CASES))
def test_output_case(case, place):
    assert_clean(run_case(case, place), case.code, *case.fragments)


def closed_pipe():
    """A pipe whose reader has gone away before the first write: every write is EPIPE."""
    read, write = os.pipe()
    os.close(read)
    return write


@pytest.mark.parametrize("argv", [
    ["evaluate", "run", "--data-dir", "data", "--no-plot"],
    ["evaluate", "run", "--data-dir", "data", "--json", "--no-plot"],
    ["predict", "run", "shirt.png", "shirt.png"],
    ["predict", "run", "--data-dir", "data"],
    ["--help"],
], ids=["evaluate", "evaluate-json", "predict-images", "predict-grid", "help"])
def test_a_reader_that_went_away_is_a_quiet_exit(argv, place):
    """`scratchmlp evaluate RUN | head -2`: as `yes | head`: nothing on stderr; 141 (SIGPIPE's
    status) when output was lost, so `set -o pipefail` scripts notice."""
    pipe = closed_pipe()
    try:
        result = run_cli(argv, place, env_for(place), stdout=pipe)
    finally:
        os.close(pipe)
    assert_clean(result, 0 if argv == ["--help"] else 141)
    assert not result.lines, result.err


@pytest.mark.parametrize("argv", [
    ["evaluate", "run", "--data-dir", "data", "--no-plot"],
    ["predict", "run", "shirt.png"],
    ["export", "run", "--onnx", "model.onnx"],
], ids=["evaluate", "predict", "export"])
def test_standard_output_on_a_full_disk_is_one_line(argv, place):
    with open("/dev/full", "w") as full:
        result = run_cli(argv, place, env_for(place), stdout=full)
    if argv[0] == "export" and "onnx" in result.err and "pip install" in result.err:
        pytest.skip("the onnx extra is not installed")
    assert_clean(result, 2, "cannot write to standard output (No space left on device)")


def test_stdout_and_stderr_closed_is_no_crash(place):
    """`scratchmlp evaluate RUN >&- 2>&-`: Python starts with sys.stdout/stderr None."""
    script = ("import os, sys, subprocess; os.close(1); os.close(2); "
              "sys.exit(subprocess.call(sys.argv[1:]))")
    result = run_cli([*scratchmlp_command("evaluate", "run", "--data-dir", "data",
                                          "--no-plot")],
                     place, env_for(place), python=script)
    assert result.code == 2  # the output had nowhere to go: not a success


@pytest.mark.slow
@pytest.mark.parametrize("where", ["pipe", "full"])
def test_train_whose_output_fails_stops_with_its_run_resumable(where, place):
    """`train ... | head -1` or `> /dev/full`: the run stops after the current step, says what
    it saved on stderr, and `--resume` finishes it."""
    argv = ["train", "--data-dir", "data", "--out", "new", "--hidden", "16", "--epochs", "3",
            "--no-progress"]
    target = closed_pipe() if where == "pipe" else os.open("/dev/full", os.O_WRONLY)
    try:
        result = run_cli(argv, place, env_for(place), stdout=target)
    finally:
        os.close(target)
    if where == "pipe":
        assert_clean(result, 141, "standard output closed; interrupted: 0 finished epoch(s) "
                     f"saved in new; continue with: scratchmlp train --resume new")
    else:
        assert_clean(result, 2, "cannot write to standard output (No space left on device)",
                     "continue with: scratchmlp train --resume new")
    assert (place / "new" / "config.json").is_file()
    resumed = run_cli(["train", "--data-dir", "data", "--resume", "new", "--no-progress"],
                      place, env_for(place))
    assert_clean(resumed, 0)
    assert "epoch   3/3" in resumed.out


# ---- signals: the message fits the command ----------------------------------------------------
SLOW_LOAD = """
import sys, time
import scratchmlp.cli.common as common
def load_data(args):
    print("loading", flush=True)
    time.sleep(60)
for name in ("evaluate", "predict", "export", "explore", "train"):
    module = __import__(f"scratchmlp.cli.{name}", fromlist=["load_data"])
    module.load_data = load_data
from scratchmlp.cli import main
sys.exit(main(sys.argv[1:]))
"""


@pytest.mark.parametrize("argv, advice", [
    (["evaluate", "run"], None),
    (["predict", "run"], None),
    (["export", "run", "--onnx", "m.onnx", "--check"], None),
    (["explore", "depth", "--depths", "1", "--width", "8", "--out", "ex"],
     "run the same command again"),
    (["train", "--out", "new"], "scratchmlp train --resume"),
], ids=["evaluate", "predict", "export", "explore", "train"])
def test_sigterm_message_fits_the_command(argv, advice, place):
    process = subprocess.Popen([sys.executable, "-c", SLOW_LOAD, *argv], cwd=place,
                               env=env_for(place), stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    line = None
    while line not in ("loading\n", ""):  # export first writes its file, then loads the data
        line = process.stdout.readline()
    if argv[0] == "export" and not line:
        process.communicate(timeout=30)
        pytest.skip("the onnx extra is not installed")
    assert line == "loading\n"
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=30)
    assert process.returncode == 130, err
    lines = [x for x in err.splitlines() if not x.startswith("scratchmlp: note:")]
    assert len(lines) == 1 and lines[0].startswith("scratchmlp: interrupted"), err
    if advice:
        assert advice in lines[0], err
    else:
        assert "resume" not in lines[0] and "train" not in lines[0], err
