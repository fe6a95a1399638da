"""Builders of hostile files for the tests of issue 10's bombs and their measured subprocesses.

Not a test module (pytest collects test_*.py only); the tests import it by name. Everything
here writes real bytes: zips whose directory says what we choose (sizes, methods, counts),
deflate streams of a gigabyte built in a fraction of a second, PNG headers that claim any size.
"""

from __future__ import annotations

import hashlib
import io
import json
import struct
import subprocess
import sys
import zipfile
import zlib
from pathlib import Path

import numpy as np

from reliability_data import _record, scratchmlp_command, subprocess_env
from scratchmlp.train.config import TrainConfig
from scratchmlp.train.modelfile import build_model, save_model

GIB = 1 << 30
ONE_GB_KB = 10**9 // 1024  # ru_maxrss is in KiB on Linux


# ---- zips written by hand, so the directory can lie --------------------------------------
def raw_zip(entries) -> bytes:
    """A zip of (name, method, crc, packed bytes, declared size) entries, exactly as given."""
    out, directory = io.BytesIO(), []
    for name, method, crc, packed, size in entries:
        offset, encoded = out.tell(), name.encode()
        out.write(struct.pack("<4sHHHHHIIIHH", b"PK\x03\x04", 20, 0, method, 0, 0, crc,
                              len(packed), size, len(encoded), 0) + encoded + packed)
        directory.append(struct.pack("<4sHHHHHHIIIHHHHHII", b"PK\x01\x02", 20, 20, 0, method,
                                     0, 0, crc, len(packed), size, len(encoded), 0, 0, 0, 0,
                                     0, offset) + encoded)
    start, table = out.tell(), b"".join(directory)
    out.write(table + struct.pack("<4sHHHHIIH", b"PK\x05\x06", 0, 0, len(entries),
                                  len(entries), len(table), start, 0))
    return out.getvalue()


def stored(name: str, data: bytes):
    return name, zipfile.ZIP_STORED, zlib.crc32(data), data, len(data)


def npy_bytes(array) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, np.asarray(array), allow_pickle=False)
    return buffer.getvalue()


def npy_header(shape, dtype="<f4") -> bytes:
    """Only the header of an .npy array of `shape` (NumPy's own writer, version 1.0)."""
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, {"descr": dtype, "fortran_order": False,
                                                  "shape": tuple(shape)})
    return buffer.getvalue()


def deflated_zeros(prefix: bytes, zeros: int, chunk: int = 1 << 24) -> bytes:
    """Raw deflate of `prefix` + `zeros` zero bytes, fast: after a full flush the compressor
    forgets its history, so every further chunk of zeros compresses to the same bytes."""
    assert zeros % chunk == 0
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    head = c.compress(prefix) + c.flush(zlib.Z_FULL_FLUSH)
    block = c.compress(bytes(chunk)) + c.flush(zlib.Z_FULL_FLUSH)
    return head + block * (zeros // chunk) + c.flush()


def model_entries(config: TrainConfig) -> list:
    """The stored entries of a real model file of `config` (weights and config)."""
    buffer = io.BytesIO()
    np.savez(buffer, **build_model(config).state_dict(), config=np.array(config.to_json()))
    with zipfile.ZipFile(buffer) as archive:
        return [stored(info.filename, archive.read(info)) for info in archive.infolist()]


# ---- pictures ------------------------------------------------------------------------------
def png_claiming(width: int, height: int) -> bytes:
    """A tiny valid-looking PNG whose header claims width x height 8-bit grey pixels."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(bytes(64)))
            + chunk(b"IEND", b""))


def write_png(path, array) -> Path:
    from PIL import Image
    Image.fromarray(np.asarray(array, np.uint8)).save(path)
    return Path(path)


# ---- run folders and measured children -----------------------------------------------------
SMALL = TrainConfig(hidden=[16], epochs=1)


def make_run(folder) -> Path:
    """A run folder as train leaves it (model.npz and config.json) of a small real model."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    save_model(folder / "model.npz", build_model(SMALL), SMALL)
    (folder / "config.json").write_text(SMALL.to_json())
    return folder


def folder_digest(folder) -> str:
    """SHA-256 over every file's name and bytes: equal before and after means untouched."""
    digest = hashlib.sha256()
    for path in sorted(Path(folder).rglob("*")):
        if path.is_file():
            digest.update(str(path.relative_to(folder)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


_MEASURE = """
import json, resource, subprocess, sys, time
start = time.perf_counter()
child = subprocess.run(sys.argv[1:], capture_output=True, text=True, timeout=120)
seconds = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(json.dumps({"rc": child.returncode, "out": child.stdout, "err": child.stderr,
                  "peak_kb": peak, "seconds": seconds}))
"""


def run_measured(tmp_path, *argv, **env) -> dict:
    """`scratchmlp ARGV` in a fresh helper process, so RUSAGE_CHILDREN holds that child only:
    {rc, out, err, peak_kb}."""
    helper = subprocess.run([sys.executable, "-c", _MEASURE, *scratchmlp_command(*argv)],
                            capture_output=True, text=True, timeout=180, cwd=tmp_path,
                            env=subprocess_env(tmp_path, **env))
    assert helper.returncode == 0, helper.stderr
    return json.loads(helper.stdout)


def assert_refused_small(result: dict, *fragments) -> str:
    """Exit 2, one `scratchmlp: error:` line (notes aside) holding every fragment, no
    traceback, and a peak RSS under 1 GB."""
    assert "Traceback" not in result["err"], result["err"]
    lines = [line for line in result["err"].splitlines()
             if line.strip() and not line.startswith("scratchmlp: note: ")]
    assert len(lines) == 1 and lines[0].startswith("scratchmlp: error: "), result["err"]
    assert result["rc"] == 2, result
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    assert result["peak_kb"] < ONE_GB_KB, f"peak RSS {result['peak_kb']} KiB"
    _record(lines[0][len("scratchmlp: error: "):])
    _record_figures(result)
    return lines[0]


def _record_figures(result: dict):
    """With SCRATCHMLP_RECORD_FIGURES=FILE, note each case's peak RSS and wall time (for the
    docs; never asserted: the machine's speed is not the code's)."""
    import os
    record = os.environ.get("SCRATCHMLP_RECORD_FIGURES")
    if record:
        test = os.environ.get("PYTEST_CURRENT_TEST", "?").rsplit(" ", 1)[0]
        with open(record, "a", encoding="utf-8") as f:
            f.write(json.dumps({"test": test, "peak_mb": round(result["peak_kb"] / 1024, 1),
                                "seconds": round(result["seconds"], 2)}) + "\n")
