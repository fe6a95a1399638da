"""Pieces the subcommands share: data and thread flags, loading, the stop flag."""

from __future__ import annotations


def path_text(text: str) -> str:
    """An argparse type for file and folder names: an empty one (`--out "$UNSET"`) is refused,
    not taken as "not given" (it silently trained a default run somewhere else)."""
    import argparse
    if not text:
        raise argparse.ArgumentTypeError("an empty name; give a file or folder name")
    return text


def add_data_flag(parser):
    parser.add_argument("--data-dir", metavar="DIR", type=path_text,
                        help="folder with the four Fashion-MNIST files (.gz or raw IDX); "
                             "default: $SCRATCHMLP_DATA_DIR, the cache, then Debian's "
                             "/usr/share/datasets/fashion-mnist, then a download")


def add_threads_flag(parser, what: str = "threads for the computation",
                     default: str = "the cores this process may use"):
    parser.add_argument("--threads", type=int, metavar="N",
                        help=f"{what} (default: {default}); results are the same bytes at "
                             "any count")


def use_threads(args) -> int:
    """Start the engine's threads (--threads, or the default); the number in use."""
    from ..engine import parallel
    from ..errors import ScratchMLPError
    from ..ranges import SettingError, shown
    try:
        return parallel.set_threads(args.threads)
    except SettingError as e:
        raise ScratchMLPError(f"--threads must be {e.expected}, got {shown(e.value)}") from None


def load_data(args):
    import sys

    from ..data import load
    from ..data.fashion_mnist import VERIFY_ENV, DataNotFound, verify_wanted
    from ..errors import ScratchMLPError
    if not verify_wanted():
        print(f"scratchmlp: note: {VERIFY_ENV}=0, so the data is not compared with the official "
              "Fashion-MNIST checksums", file=sys.stderr)
    try:
        return load(args.data_dir)
    except DataNotFound as e:  # the library states the fact; here is the flag that helps
        raise ScratchMLPError(f"{e} (--data-dir DIR names the folder)") from None


def run_model_path(run):
    """model.npz inside a run folder, or the file itself."""
    from pathlib import Path

    from ..errors import ScratchMLPError
    run = Path(run)
    if run.is_dir():
        run = run / "model.npz"
        if not run.is_file():
            raise ScratchMLPError(f"{run.parent}: no model.npz here; is it a run folder?")
    elif not run.exists():
        raise ScratchMLPError(f"{run}: no such run folder or model file; check the path")
    return run


# What matplotlib's headless backend writes without extra programs (pgf needs LaTeX).
PICTURE_FORMATS = ("png", "jpg", "jpeg", "pdf", "svg", "svgz", "eps", "ps", "tif", "tiff",
                   "webp", "gif")


def picture_path(text, flag: str = "--out"):
    """`text` as the Path of a picture to draw, refused before any work if matplotlib cannot
    write its format (the suffix names it; no suffix means PNG)."""
    from pathlib import Path

    from ..errors import ScratchMLPError
    path = Path(text)
    suffix = path.suffix.lstrip(".").lower()
    if suffix and suffix not in PICTURE_FORMATS:
        raise ScratchMLPError(f"{flag} {text}: cannot draw a .{suffix} picture; name a file "
                              f"ending in .{', .'.join(PICTURE_FORMATS[:4])} or another of "
                              f"{', '.join(PICTURE_FORMATS[4:])}")
    return path


def check_output_folder(out, flag: str = "--out"):
    """Refuse, before any slow work and creating nothing, an output folder that cannot be made
    or written: a file, a broken link, a folder under a file, a read-only place."""
    import os
    from pathlib import Path

    from ..errors import ScratchMLPError
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ScratchMLPError(f"{out}: exists and is not a folder; choose another {flag}")
    if not out.exists() and os.path.lexists(out):
        raise ScratchMLPError(f"{out}: a link to nowhere (or a loop of links); choose another "
                              f"{flag}")
    existing = out
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise ScratchMLPError(f"{existing}: is not a folder, so {out} cannot be made there; "
                              f"choose another {flag}")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ScratchMLPError(f"{existing}: not writable (read-only or not yours), so {out} "
                              f"cannot be written; choose another {flag}")


def install_hint(extra: str, packages: str) -> str:
    """The command that installs an optional extra, for how scratchmlp was installed: an
    editable checkout, a wheel or folder, or (the fallback that always works) the packages."""
    import json
    import sys
    from importlib.metadata import PackageNotFoundError, distribution
    from pathlib import Path
    pip = Path(sys.executable).parent / "pip"
    pip = _relative(pip) if pip.exists() else f"{_relative(Path(sys.executable))} -m pip"
    try:
        direct = json.loads(distribution("scratchmlp").read_text("direct_url.json") or "null")
    except (PackageNotFoundError, ValueError):
        direct = None
    url = (direct or {}).get("url", "")
    if url.startswith("file://"):
        source = _relative(Path(url[len("file://"):]))
        if (direct.get("dir_info") or {}).get("editable"):
            return f"{pip} install -e '{source}[{extra}]'"
        return f"{pip} install '{source}[{extra}]'"
    return f"{pip} install {packages}"


def _relative(path) -> str:
    """`path` relative to the current folder when it lies inside it ('.' for the folder)."""
    from pathlib import Path
    try:
        return str(Path(path).relative_to(Path.cwd())) or "."
    except ValueError:
        return str(path)


class StopFlag:
    """SIGINT/SIGTERM, or standard output failing (`| head`, a full disk), ask the run to stop
    after the current step; a second Ctrl-C forces it."""

    def __init__(self):
        self.requested = False

    def __enter__(self):
        import signal
        # A signal ignored when we started stays ignored: `nohup` and a script's `command &`
        # ignore SIGINT so that a Ctrl-C meant for the terminal does not stop that job.
        self._previous = {s: signal.signal(s, self._handle) for s in (signal.SIGINT, signal.SIGTERM)
                          if signal.getsignal(s) is not signal.SIG_IGN}
        return self

    def _handle(self, signum, frame):
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True

    def __exit__(self, *exc):
        import signal
        for s, handler in self._previous.items():
            signal.signal(s, handler)

    def __call__(self):
        from .streams import output_failed
        return self.requested or output_failed()  # the reader of stdout went away: stop too
