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
import stat
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

from reliability_data import (  # noqa: F401  (isolated is an autouse fixture)
    isolated, scratchmlp_command, subprocess_env, terminal_signals, write_dataset,
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
    """A fresh working folder holding links to the world's data, run and picture; tmpfs
    folders mounted by a case are unmounted afterwards."""
    for name in ("data", "shirt.png"):
        (tmp_path / name).symlink_to(world / name)
    shutil.copytree(world / "run", tmp_path / "run")
    yield tmp_path
    for mounted in reversed(MOUNTED):
        subprocess.run(["umount", "-l", str(mounted)], capture_output=True)
    MOUNTED.clear()


MOUNTED = []


def mount_tmpfs(path, size: str, read_only: bool = False):
    """A small tmpfs at `path` (a full disk or a read-only place that binds root too), or a
    skip where this machine cannot mount one."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0 and read_only:
        path.chmod(0o555)
        return path
    options = f"size={size}" + (",ro" if read_only else "")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)],
                          capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({done.stderr.decode().strip()})")
    MOUNTED.append(path)
    return path


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
    timeout: int = TIMEOUT_S


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
    env = {k: (v.replace("{here}", str(place)) if v else v) for k, v in case.env.items()}
    return run_cli(argv, place, env_for(place, **env), timeout=case.timeout)


# ---- output: pictures, pipes, full disks, encodings --------------------------------------------
def unicode_copy(place):
    shutil.copytree(place / "run", place / "r\u00e9sultat \u00d7\u2014\u2192")
    shutil.copy(place / "shirt.png", place / "\u2192 chemise \u00d7.png")


def cjk_copy(place):
    shutil.copytree(place / "run", place / "\u6a21\u578b")
    shutil.copy(place / "shirt.png", place / "\u886c\u886b.png")


MATH = "m$\\frac{$x"  # matplotlib parsed $...$ in titles and legends: ParseSyntaxException


def math_copy(place):
    shutil.copytree(place / "run", place / MATH)
    shutil.copy(place / "shirt.png", place / f"{MATH}.png")


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
    Case("evaluate-cjk-run-name-in-title", ["evaluate", "\u6a21\u578b", "--data-dir", "data"],
         code=0, setup=cjk_copy),  # no glyph warnings from matplotlib on stderr
    Case("predict-show-cjk-image-name", ["predict", "run", "\u886c\u886b.png", "--show"],
         code=0, setup=cjk_copy),
    Case("evaluate-dollar-run-name-in-title", ["evaluate", MATH, "--data-dir", "data"], code=0,
         setup=math_copy),
    Case("predict-show-dollar-image-name", ["predict", "run", f"{MATH}.png", "--show"], code=0,
         setup=math_copy),
    Case("compare-dollar-run-name-in-legend", ["compare", MATH, "run", "--out", "c.png"],
         code=0, setup=math_copy),
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
    ["--version"],  # these two exited 0 with their output lost
    ["train", "--help"],
], ids=["evaluate", "predict", "export", "version", "help"])
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


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["TERM", "INT"])
@pytest.mark.parametrize("argv, advice", [
    (["evaluate", "run"], None),
    (["predict", "run"], None),
    (["export", "run", "--onnx", "m.onnx", "--check"], None),
    (["explore", "depth", "--depths", "1", "--width", "8", "--out", "ex"],
     "run the same command again"),
    (["train", "--out", "new"], "scratchmlp train --resume"),
], ids=["evaluate", "predict", "export", "explore", "train"])
def test_sigterm_message_fits_the_command(argv, advice, signum, place):
    process = subprocess.Popen([sys.executable, "-c", SLOW_LOAD, *argv], cwd=place,
                               env=env_for(place), stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, preexec_fn=terminal_signals)
    line = None
    while line not in ("loading\n", ""):  # export first writes its file, then loads the data
        line = process.stdout.readline()
    if argv[0] == "export" and not line:
        process.communicate(timeout=30)
        pytest.skip("the onnx extra is not installed")
    assert line == "loading\n"
    process.send_signal(signum)
    _, err = process.communicate(timeout=30)
    assert process.returncode == 130, err
    lines = [x for x in err.splitlines() if not x.startswith("scratchmlp: note:")]
    assert len(lines) == 1 and lines[0].startswith("scratchmlp: interrupted"), err
    if advice:
        assert advice in lines[0], err
    else:
        assert "resume" not in lines[0] and "train" not in lines[0], err


# ---- the attacker's table: every command, hostile files, flags, environments, filesystems ----
def _png(path, array):
    from PIL import Image
    Image.fromarray(array).save(path)


def _write(name, data):
    def setup(place):
        target = place / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data.encode() if isinstance(data, str) else data)
    return setup


def _fifo(name):
    return lambda place: os.mkfifo(place / name)


def _loop(name):
    def setup(place):
        os.symlink(name, place / name)
    return setup


def _model_replaced(kind):
    def setup(place):
        model = place / "run" / "model.npz"
        model.unlink()
        if kind == "dir":
            model.mkdir()
        elif kind == "loop":
            os.symlink("model.npz", model)
        elif kind == "empty":
            model.write_bytes(b"")
        elif kind == "fifo":
            os.mkfifo(model)
        elif kind == "zero":
            os.symlink("/dev/zero", model)
    return setup


def _images(place):
    rng = np.random.default_rng(0)
    _png(place / "tiny.png", np.full((1, 1), 200, np.uint8))
    _png(place / "wide.png", rng.integers(0, 255, (1, 20000), dtype=np.uint8))
    from PIL import Image
    Image.fromarray((rng.random((40, 30)) * 65535).astype(np.uint16)).save(place / "deep.png")
    Image.fromarray(rng.integers(0, 255, (30, 30, 4), dtype=np.uint8), "RGBA").save(
        place / "alpha.png")
    frames = [Image.fromarray(rng.integers(0, 255, (20, 20), dtype=np.uint8)) for _ in range(3)]
    frames[0].save(place / "moving.gif", save_all=True, append_images=frames[1:])
    Image.fromarray(rng.integers(0, 255, (30, 30, 3), dtype=np.uint8)).convert("CMYK").save(
        place / "cmyk.jpg")
    (place / "text.png").write_text("not a picture\n")
    (place / "cut.png").write_bytes((place / "shirt.png").read_bytes()[:60])
    (place / "drawing.svg").write_text('<svg xmlns="http://www.w3.org/2000/svg"/>')
    (place / "folder.png").mkdir()


def _readonly_run(place):
    """run/ on a read-only filesystem (a tmpfs remounted read-only: binds root too)."""
    target = mount_tmpfs(place / "ro", "4m")
    shutil.copytree(place / "run", target / "run")
    subprocess.run(["mount", "-o", "remount,ro", str(target)], check=True)


def _readonly(place):
    mount_tmpfs(place / "ro", "1m", read_only=True)


def _full(place):
    mount_tmpfs(place / "full", "24k")


def _full_run(place):
    """run/ on a filesystem with no free space left."""
    target = mount_tmpfs(place / "full", "2m")
    shutil.copytree(place / "run", target / "run")
    with open(target / "filler", "wb", buffering=0) as f:
        with pytest.raises(OSError):
            while True:
                f.write(b"\0" * 4096)


def _data_with(kind):
    """data2/: the tiny set with its training labels replaced by a FIFO, /dev/zero or a loop."""
    def setup(place):
        (place / "data2").mkdir()
        for f in (place / "data").iterdir():
            (place / "data2" / f.name).symlink_to(f.resolve())
        labels = place / "data2" / "train-labels-idx1-ubyte.gz"
        labels.unlink()
        if kind == "fifo":
            os.mkfifo(labels)
        elif kind == "zero":
            labels.symlink_to("/dev/zero")
        else:
            labels.symlink_to(labels.name)
    return setup


def _tiny_data(n_train, n_test):
    def setup(place):
        from reliability_data import tiny_arrays
        write_dataset(place / "data2", tiny_arrays(n_train, n_test))
    return setup


def _config(name, text):
    return _write(name, text)


T = ["--data-dir", "data", "--no-progress", "--hidden", "8", "--epochs", "1"]  # a quick train
SWEEP_QUICK = ["--data-dir", "data", "--out", "sw", "--validation", "100", "--subset", "50",
               "--epochs", "1", "--trials", "1"]

ATTACK_CASES = [
    # run folders and model files that are not what they seem
    Case("evaluate-model-is-a-folder", ["evaluate", "run"], setup=_model_replaced("dir"),
         fragments=("model.npz",)),
    Case("evaluate-model-is-a-link-loop", ["evaluate", "run"], setup=_model_replaced("loop"),
         fragments=("model.npz",)),
    Case("evaluate-model-is-empty", ["evaluate", "run"], setup=_model_replaced("empty"),
         fragments=("model.npz",)),
    Case("evaluate-model-is-a-fifo", ["evaluate", "run"], setup=_model_replaced("fifo"),
         fragments=("model.npz",)),
    Case("evaluate-model-is-dev-zero", ["evaluate", "run"], setup=_model_replaced("zero"),
         fragments=("model.npz",)),
    Case("evaluate-run-is-a-link-loop", ["evaluate", "loop"], setup=_loop("loop"),
         fragments=("loop",)),
    Case("evaluate-empty-run-name", ["evaluate", ""], fragments=("RUN: an empty name",)),
    Case("evaluate-checkpoint-directly", ["evaluate", "run/checkpoint.npz", "--data-dir", "data",
                                          "--no-plot"], code=0),
    Case("evaluate-config-json-damaged-model-fine",
         ["evaluate", "run", "--data-dir", "data", "--no-plot"], code=0,
         setup=_write("run/config.json", "{oops")),
    Case("predict-checkpoint-directly", ["predict", "run/checkpoint.npz", "shirt.png"], code=0),
    # pictures
    Case("predict-image-1x1", ["predict", "run", "tiny.png"], code=0, setup=_images),
    Case("predict-image-1x20000", ["predict", "run", "wide.png"], code=0, setup=_images),
    Case("predict-image-16-bit", ["predict", "run", "deep.png"], code=0, setup=_images),
    Case("predict-image-rgba", ["predict", "run", "alpha.png"], code=0, setup=_images),
    Case("predict-image-animated-gif", ["predict", "run", "moving.gif"], code=0, setup=_images),
    Case("predict-image-cmyk-jpeg", ["predict", "run", "cmyk.jpg"], code=0, setup=_images),
    Case("predict-image-text-named-png", ["predict", "run", "text.png"], setup=_images,
         fragments=("text.png",)),
    Case("predict-image-truncated-png", ["predict", "run", "cut.png"], setup=_images,
         fragments=("cut.png",)),
    Case("predict-image-svg", ["predict", "run", "drawing.svg"], setup=_images,
         fragments=("drawing.svg",)),
    Case("predict-image-is-a-folder", ["predict", "run", "folder.png"], setup=_images,
         fragments=("folder.png",)),
    Case("predict-image-is-a-fifo", ["predict", "run", "pipe.png"], setup=_fifo("pipe.png"),
         fragments=("pipe.png",)),
    Case("predict-image-is-dev-zero", ["predict", "run", "/dev/zero"], fragments=("/dev/zero",)),
    Case("predict-image-link-loop", ["predict", "run", "loop.png"], setup=_loop("loop.png"),
         fragments=("loop.png",)),
    Case("predict-image-empty-name", ["predict", "run", ""]),
    Case("predict-image-dash", ["predict", "run", "-"], fragments=("-",)),
    Case("predict-image-model-file", ["predict", "run", "run/model.npz"],
         fragments=("model.npz",)),
    Case("predict-top-huge", ["predict", "run", "shirt.png", "--top", "10" * 15], code=0),
    Case("predict-n-huge", ["predict", "run", "-n", "9" * 30, "--data-dir", "data"],
         fragments=("-n",)),
    Case("predict-images-out-without-show", ["predict", "run", "shirt.png", "--out", "x.png"],
         fragments=("--show",)),  # the picture was silently not drawn, exit 0
    Case("predict-images-and-n", ["predict", "run", "shirt.png", "-n", "5"],  # -n was ignored
         fragments=("-n counts the test images drawn without IMAGE files",)),
    Case("explore-lr-and-lrs", ["explore", "lr", "--lrs", "0.1,0.5", "--lr", "0.3",  # --lr was
                                "--data-dir", "data"],  # silently ignored
         fragments=("explore lr compares the rates of --lrs: drop --lr",)),
    Case("evaluate-out-and-no-plot", ["evaluate", "run", "--out", "x.png", "--no-plot"],
         fragments=("contradict",)),
    Case("evaluate-out-upper-case-suffix", ["evaluate", "run", "--data-dir", "data",
                                            "--out", "X.PNG"], code=0),
    Case("predict-show-300-images", ["predict", "run", *["shirt.png"] * 300, "--show"],
         fragments=("at most 100 pictures",)),
    Case("predict-show-without-images", ["predict", "run", "--show"], fragments=("--show",)),
    # where pictures and exports go
    Case("evaluate-out-fifo-is-not-replaced",
         ["evaluate", "run", "--data-dir", "data", "--out", "pipe.png"],
         setup=_fifo("pipe.png"), fragments=("pipe.png",)),
    Case("evaluate-out-link-loop", ["evaluate", "run", "--data-dir", "data", "--out", "loop.png"],
         setup=_loop("loop.png"), code=0),  # a link to nowhere is replaced by the picture
    Case("evaluate-out-in-missing-folder",  # the folders are made
         ["evaluate", "run", "--data-dir", "data", "--out", "no/such/c.png"], code=0),
    Case("export-onnx-empty-name", ["export", "run", "--onnx", ""], fragments=("--onnx",)),
    Case("export-onnx-fifo-is-not-replaced", ["export", "run", "--onnx", "pipe.onnx"],
         setup=_fifo("pipe.onnx"), fragments=("pipe.onnx",)),
    Case("export-onnx-over-its-own-model", ["export", "run", "--onnx", "run/model.npz"],
         fragments=("model.npz",)),
    Case("export-checkpoint-directly", ["export", "run/checkpoint.npz", "--onnx", "c.onnx"],
         code=0),
    Case("export-onnx-read-only", ["export", "run", "--onnx", "ro/m.onnx"], setup=_readonly,
         fragments=("ro/m.onnx",)),
    Case("export-onnx-is-a-folder", ["export", "run", "--onnx", "run"], fragments=("run",)),
    Case("export-onnx-newline-name", ["export", "run", "--onnx", "two\nlines.onnx"], code=0),
    Case("export-onnx-in-missing-folder", ["export", "run", "--onnx", "no/m.onnx"],
         fragments=("no",)),
    Case("export-onnx-under-a-file", ["export", "run", "--onnx", "shirt.png/m.onnx"],
         fragments=("shirt.png",)),
    # configuration files
    Case("config-empty-name", ["train", "--config", "", *T], fragments=("config",)),
    Case("config-is-a-folder", ["train", "--config", "run", *T], fragments=("run",)),
    Case("config-is-a-fifo", ["train", "--config", "c.json", *T], setup=_fifo("c.json"),
         fragments=("c.json",)),
    Case("config-is-dev-zero", ["train", "--config", "/dev/zero", *T], fragments=("/dev/zero",)),
    Case("config-nan-lr", ["train", "--config", "c.json", "--data-dir", "data"],
         setup=_config("c.json", '{"lr": NaN}'), fragments=("NaN",)),
    Case("config-huge-float-epochs", ["train", "--config", "c.json", "--data-dir", "data"],
         setup=_config("c.json", '{"epochs": 1e400}'), fragments=("1e400",)),
    Case("config-null-lr", ["train", "--config", "c.json", "--data-dir", "data"],
         setup=_config("c.json", '{"lr": null}'), fragments=("lr",)),
    Case("config-with-bom", ["train", "--config", "c.json", "--data-dir", "data"],
         setup=_write("c.json", b"\xef\xbb\xbf{\"lr\": 0.1, \"epochs\": 0, \"hidden\": [8]}"),
         code=0),
    Case("config-latin1-bytes", ["train", "--config", "c.json", "--data-dir", "data"],
         setup=_write("c.json", b'{"activation": "r\xe9lu"}'), fragments=("c.json",)),
    Case("config-momentum-one", ["train", "--config", "c.json", "--data-dir", "data"],
         setup=_config("c.json", '{"optimizer": "momentum", "momentum": 1.0}'),
         fragments=("momentum",)),
    Case("config-negative-seed", ["train", "--config", "c.json", "--data-dir", "data"],
         setup=_config("c.json", '{"seed": -1}'), fragments=("seed",)),
    # flags
    Case("train-batch-size-huge", ["train", "--out", "big", "--batch-size", "9" * 30, *T],
         code=0, slow=True),  # one batch holds the whole set
    Case("train-dropout-one", ["train", "--dropout", "1", *T], fragments=("dropout",)),
    Case("train-momentum-above-one", ["train", "--optimizer", "momentum", "--momentum", "1.5",
                                      *T], fragments=("momentum",)),
    Case("train-hidden-20-digits", ["train", "--hidden", "9" * 20, *T[:3]],
         fragments=("hidden",)),
    Case("train-hidden-superscript-digit", ["train", "--hidden", "\u00b2"],
         fragments=("--hidden",)),  # '²'.isdigit() is True, int('²') fails
    Case("train-seed-superscript-digit", ["train", "--seed", "\u00b2"], fragments=("--seed",)),
    Case("train-lr-infinity-sign", ["train", "--lr", "\u221e"], fragments=("--lr",)),
    Case("train-momentum-nan", ["train", "--momentum", "nan"], fragments=("--momentum",)),
    Case("train-weight-decay-inf", ["train", "--weight-decay", "inf"],
         fragments=("--weight-decay",)),
    Case("train-arabic-indic-width", ["train", "--out", "new", "--hidden", "\u0668",
                                      "--epochs", "0", "--data-dir", "data"], code=0),
    Case("train-out-dash", ["train", "--out", "-", "--epochs", "0", "--hidden", "4",
                            "--data-dir", "data"], code=0),
    Case("predict-top-superscript", ["predict", "run", "shirt.png", "--top", "\u00b2"],
         fragments=("--top",)),
    Case("explore-depths-superscript", ["explore", "depth", "--depths", "\u00b2"],
         fragments=("--depths",)),
    Case("train-empty-activation", ["train", "--activation", "", *T], fragments=("activation",)),
    Case("train-empty-out", ["train", "--out", "", *T], fragments=("--out",)),
    Case("train-empty-resume", ["train", "--resume", "", *T[:3]], fragments=("resume",)),
    Case("train-out-name-too-long", ["train", "--out", "x" * 300, *T], fragments=("x" * 20,)),
    Case("train-out-under-a-file", ["train", "--out", "shirt.png/run", *T],
         fragments=("shirt.png",)),
    Case("train-force-over-a-folder-that-is-no-run", ["train", "--out", "proj", "--force", *T],
         setup=_write("proj/config.json", '{"name": "my project"}\n'),
         fragments=("proj", "no scratchmlp run")),
    Case("train-out-a-folder-of-other-files", ["train", "--out", "mine", *T],  # said "use
         setup=_write("mine/notes.txt", "mine\n"),  # --resume mine", which said "no run here"
         fragments=("mine: holds files but no scratchmlp run (notes.txt); a new run needs an "
                    "empty folder; choose another --out",)),
    Case("train-out-newline-name", ["train", "--out", "two\nlines", *T], code=0, slow=True),
    Case("explore-width-20-digits", ["explore", "depth", "--depths", "1", "--width", "9" * 20,
                                     "--data-dir", "data"], fragments=("9" * 20,)),
    Case("explore-lrs-huge-list", ["explore", "lr", "--lrs", ",".join(["0.1"] * 1000)],
         fragments=("at most 100",)),
    Case("explore-depths-million", ["explore", "depth", "--depths", "1000000", "--width", "1"],
         fragments=("at most 1000",)),
    Case("explore-width-zero", ["explore", "depth", "--width", "0"], fragments=("--width",)),
    Case("explore-out-is-a-file", ["explore", "depth", "--out", "shirt.png"],
         fragments=("shirt.png: exists and is not a folder",)),
    Case("explore-out-link-loop", ["explore", "depth", "--out", "loop"], setup=_loop("loop"),
         fragments=("loop",)),
    Case("explore-out-read-only", ["explore", "depth", "--out", "ro/ex"], setup=_readonly,
         fragments=("not writable",)),
    Case("sweep-out-is-a-file", ["sweep", "--out", "shirt.png", "--data-dir", "data"],
         fragments=("shirt.png",)),
    Case("sweep-out-read-only", ["sweep", "--out", "ro/sw", "--data-dir", "data"],
         setup=_readonly, fragments=("ro",)),
    Case("sweep-percentile-nan", ["sweep", "--prune-percentile", "nan"],
         fragments=("percentile",)),
    Case("sweep-empty-storage", ["sweep", "--storage", "", "--data-dir", "data"],
         fragments=("storage", "empty URL")),
    Case("sweep-storage-is-dev-null", ["sweep", "--storage", "sqlite:////dev/null",
                                       *SWEEP_QUICK],  # SQLite made /dev/null-journal, as root
         fragments=("/dev/null: the study storage is not a regular file",)),
    Case("sweep-storage-is-a-fifo", ["sweep", "--storage", "sqlite:///{here}/pipe.db",
                                     *SWEEP_QUICK], setup=lambda place: os.mkfifo(place / "pipe.db"),
         fragments=("pipe.db: the study storage is not a regular file",)),
    Case("sweep-storage-link-loop", ["sweep", "--storage", "sqlite:///loop.db", *SWEEP_QUICK],
         setup=lambda place: (os.symlink("loop2.db", place / "loop.db"),  # RuntimeError:
                              os.symlink("loop.db", place / "loop2.db")),  # Symlink loop
         fragments=("cannot open the study storage sqlite:///loop.db",)),
    Case("sweep-inline-space-duplicate-key",  # the last one won; a --space file refused it
         ["sweep", "--space", '{"lr": [0.5], "lr": [0.1]}', *SWEEP_QUICK],
         fragments=("search space: not a readable JSON search space (the key 'lr' appears "
                    "twice)",)),
    Case("sweep-best-over-a-runs-model", ["sweep", "--best", "run/model.npz", *SWEEP_QUICK],
         fragments=("run/model.npz: is model.npz of the run folder run; only training that "  # was
                    "run writes it; choose another --best",)),  # replaced by JSON, exit 0
    Case("sweep-best-over-a-runs-config", ["sweep", "--best", "run/config.json", *SWEEP_QUICK],
         fragments=("run/config.json: is config.json of the run folder run",)),
    Case("sweep-best-over-a-picture", ["sweep", "--best", "shirt.png", *SWEEP_QUICK],
         fragments=("--best shirt.png: a JSON configuration in a .png file",)),
    Case("sweep-study-empty", ["sweep", "--study", "", *SWEEP_QUICK],
         fragments=("argument --study: an empty name",)),
    Case("sweep-space-is-a-folder", ["sweep", "--space", "run", "--data-dir", "data"],
         fragments=("run",)),
    Case("sweep-seed-negative", ["sweep", "--seed", "-1", *SWEEP_QUICK],
         fragments=("--seed", "between 0 and 4294967295")),
    Case("sweep-heartbeat-huge", ["sweep", "--heartbeat", "9" * 21, *SWEEP_QUICK],
         fragments=("--heartbeat", "between 1 and 86400")),
    Case("sweep-best-empty", ["sweep", "--best", "", *SWEEP_QUICK], fragments=("--best",)),
    Case("sweep-space-empty", ["sweep", "--space", "", *SWEEP_QUICK], fragments=("--space",)),
    Case("train-config-300000-layers", ["train", "--config", "deep.json", "--data-dir", "data",
                                        "--no-progress"],
         setup=_config("deep.json", '{"hidden": [' + ",".join(["1"] * 300000) + "]}"),
         fragments=("hidden", "300,000 hidden layers"), timeout=20),
    Case("threads-zero", ["evaluate", "run", "--threads", "0"], fragments=("threads",)),
    Case("threads-huge", ["evaluate", "run", "--threads", "9" * 20],
         fragments=("threads", "from 1 to 256"), timeout=15),
    Case("data-file-is-a-fifo", ["evaluate", "run", "--data-dir", "data2"],
         setup=_data_with("fifo"), fragments=("train-labels",)),
    Case("data-file-is-dev-zero", ["evaluate", "run", "--data-dir", "data2"],
         setup=_data_with("zero"), fragments=("train-labels",)),
    Case("data-file-link-loop", ["evaluate", "run", "--data-dir", "data2"],
         setup=_data_with("loop"), fragments=("train-labels",)),
    Case("data-empty-test-set", ["evaluate", "run", "--data-dir", "data2"],
         setup=_tiny_data(512, 0), fragments=("t10k-images-idx3-ubyte.gz: holds no images",)),
    Case("data-empty-test-set-predict", ["predict", "run", "--data-dir", "data2"],
         setup=_tiny_data(512, 0), fragments=("holds no images",)),
    Case("data-empty-training-set", ["train", "--data-dir", "data2", "--out", "new"],
         setup=_tiny_data(0, 16), fragments=("train-images-idx3-ubyte.gz: holds no images",)),
    Case("data-one-image-each", ["train", "--out", "new", *T[2:], "--data-dir", "data2"],
         setup=_tiny_data(1, 1), code=0),
    Case("data-dir-is-a-fifo", ["evaluate", "run", "--data-dir", "pipe"], setup=_fifo("pipe"),
         fragments=("pipe",)),
    # environments
    Case("env-data-dir-empty", ["evaluate", "run", "--no-plot"], code=0,
         env={"SCRATCHMLP_DATA_DIR": "", "SCRATCHMLP_SYSTEM_DATA_DIRS": "data"}),
    Case("env-data-dir-unknown-user", ["evaluate", "run"],  # RuntimeError: Could not
         env={"SCRATCHMLP_DATA_DIR": "~nosuchuser/d"},     # determine home directory
         fragments=("$SCRATCHMLP_DATA_DIR ~nosuchuser/d does not exist",)),
    Case("data-dir-unknown-user", ["evaluate", "run", "--data-dir", "~nosuchuser/d"],
         fragments=("data directory ~nosuchuser/d does not exist",)),
    Case("env-data-dir-is-a-file", ["evaluate", "run"], env={"SCRATCHMLP_DATA_DIR": "shirt.png"},
         fragments=("shirt.png",)),
    Case("env-verify-empty", ["evaluate", "run", "--data-dir", "data"],
         env={"SCRATCHMLP_VERIFY": ""}, fragments=("SCRATCHMLP_VERIFY",)),
    Case("env-home-and-cache-unset", ["evaluate", "run", "--data-dir", "data", "--no-plot"],
         code=0, env={"HOME": None, "XDG_CACHE_HOME": None}),
    Case("env-home-nonexistent", ["evaluate", "run", "--data-dir", "data", "--no-plot"], code=0,
         env={"HOME": "/nonexistent/home", "XDG_CACHE_HOME": None}),
    Case("env-cache-is-a-file", ["evaluate", "run", "--data-dir", "data", "--no-plot"], code=0,
         env={"XDG_CACHE_HOME": "{here}/shirt.png"}),
    Case("env-cache-relative", ["evaluate", "run", "--data-dir", "data", "--no-plot"], code=0,
         env={"XDG_CACHE_HOME": "relative/cache"}),
    Case("env-cache-read-only", ["evaluate", "run", "--data-dir", "data", "--no-plot"], code=0,
         setup=_readonly, env={"XDG_CACHE_HOME": "{here}/ro"}),
    Case("env-mirror-not-a-url", ["evaluate", "run"], env={"SCRATCHMLP_MIRROR": "not a url"},
         fragments=("download",)),
    Case("env-mplbackend-unknown", ["evaluate", "run", "--data-dir", "data"], code=0,
         env={"MPLBACKEND": "nosuchbackend"}),  # a note, then the picture as a file
    Case("env-mplconfigdir-read-only", ["evaluate", "run", "--data-dir", "data"], code=0,
         setup=_readonly, env={"MPLCONFIGDIR": "{here}/ro/mpl", "HOME": "{here}/ro"}),
    Case("env-columns-negative", ["train", "--help"], code=0, env={"COLUMNS": "-5"}),
    Case("env-tmpdir-missing", ["evaluate", "run", "--data-dir", "data"], code=0,
         env={"TMPDIR": "/nonexistent/tmp"}),
    # filesystems: read-only and full
    Case("train-out-read-only", ["train", "--out", "ro/run", *T], setup=_readonly,
         fragments=("ro",)),
    Case("train-out-full-disk", ["train", "--out", "full/run", *T], setup=_full,
         fragments=("No space left on device",)),
    Case("train-resume-read-only", ["train", "--resume", "ro/run", *T[:3], "--epochs", "2"],
         setup=_readonly_run, fragments=("ro/run",)),
    Case("evaluate-read-only-run", ["evaluate", "ro/run", "--data-dir", "data"],
         setup=_readonly_run, fragments=("confusion.png", "Read-only file system")),
    Case("predict-grid-read-only-run", ["predict", "ro/run", "--data-dir", "data"],
         setup=_readonly_run, fragments=("predictions.png",)),
    Case("evaluate-full-disk-run", ["evaluate", "full/run", "--data-dir", "data"],
         setup=_full_run, fragments=("No space left on device",)),
    Case("export-full-disk", ["export", "run", "--onnx", "full/m.onnx"], setup=_full,
         fragments=("No space left on device",)),
    Case("explore-full-disk", ["explore", "depth", "--depths", "1", "--width", "4",
                               "--epochs", "1", "--validation", "100", "--data-dir", "data",
                               "--out", "full/ex"], setup=_full, slow=True,
         fragments=("No space left on device",)),
]


@pytest.mark.parametrize("case", cases_to_params(ATTACK_CASES))
def test_attack(case, place):
    before = {p.name: p.read_bytes() for p in (place / "run").iterdir() if p.is_file()}
    result = run_case(case, place)
    assert_clean(result, case.code, *case.fragments)
    after = {p.name: p.read_bytes() for p in (place / "run").iterdir() if p.is_file()}
    if not case.id.startswith(("evaluate-", "predict-")):
        assert {k: v for k, v in after.items() if k in before} == before  # nothing lost
    if (place / "proj").is_dir():
        assert (place / "proj" / "config.json").read_text() == '{"name": "my project"}\n'
    for name in ("pipe.png", "pipe.onnx"):
        if (place / name).exists() or os.path.lexists(place / name):
            assert stat.S_ISFIFO((place / name).stat().st_mode), f"{name} was replaced"


def test_a_file_name_cannot_drive_the_terminal(place):
    """A name holding ESC ... BEL (an xterm title sequence) is escaped in the message."""
    result = run_cli(["evaluate", "bad\x1b]0;pwned\x07name"], place, env_for(place))
    assert_clean(result, 2, "no such run folder")
    assert "\x1b" not in result.err and "\\x1b]0;pwned\\x07name" in result.err


@pytest.mark.parametrize("argv", [
    ["train", "--activation", "x" * 100_000, "--data-dir", "data"],
    ["evaluate", "y" * 100_000],
], ids=["setting", "path"])
def test_a_huge_value_keeps_the_message_readable(argv, place):
    result = run_cli(argv, place, env_for(place))
    assert_clean(result, 2)
    assert len(result.lines) == 1 and len(result.lines[0]) < 1200, len(result.err)


def test_trains_started_together_without_out_each_get_a_folder(place):
    """`for lr in 0.1 0.2 0.3; do scratchmlp train --lr $lr & done`: no --out given, so none
    may be refused for a folder it did not choose."""
    argv = ["train", "--data-dir", "data", "--hidden", "8", "--epochs", "1", "--no-progress"]
    processes = [subprocess.Popen(scratchmlp_command(*argv, "--lr", lr), cwd=place,
                                  env=env_for(place), stdout=subprocess.DEVNULL,
                                  stderr=subprocess.PIPE, text=True)
                 for lr in ("0.1", "0.2", "0.3")]
    errors = [p.communicate(timeout=TIMEOUT_S)[1] for p in processes]
    assert [p.returncode for p in processes] == [0, 0, 0], errors
    assert len(list((place / "runs").iterdir())) == 3


def test_explore_whose_reader_went_away_stops_and_continues_on_rerun(place):
    argv = ["explore", "depth", "--depths", "1,2", "--width", "4", "--epochs", "2",
            "--validation", "100", "--data-dir", "data", "--out", "ex", "--no-progress"]
    pipe = closed_pipe()
    try:
        result = run_cli(argv, place, env_for(place), stdout=pipe)
    finally:
        os.close(pipe)
    assert_clean(result, 141, "standard output closed; interrupted",
                 "run the same command again to continue")
    again = run_cli(argv, place, env_for(place))
    assert_clean(again, 0)
    assert "depth-2" in again.out and (place / "ex" / "results.csv").is_file()


def test_both_streams_into_a_reader_that_went_away(place):
    """`scratchmlp train ... 2>&1 | head -1`: no message can be seen; the run still stops
    cleanly with exit 141 and resumes."""
    pipe = closed_pipe()
    argv = ["train", "--data-dir", "data", "--out", "new", "--hidden", "8", "--epochs", "2",
            "--no-progress"]
    try:
        process = subprocess.run(scratchmlp_command(*argv), cwd=place, env=env_for(place),
                                 stdout=pipe, stderr=pipe, timeout=TIMEOUT_S)
    finally:
        os.close(pipe)
    assert process.returncode == 141
    resumed = run_cli(["train", "--resume", "new", "--data-dir", "data", "--no-progress"],
                      place, env_for(place))
    assert_clean(resumed, 0)
