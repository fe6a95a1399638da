"""The IDX file format (LeCun's MNIST format), raw or gzip-compressed.

Layout: two zero bytes, a type code, the number of dimensions, then one big-endian uint32 per
dimension, then the values in C order. Anything else is refused with a ScratchMLPError that
says what is wrong with which file.
"""

from __future__ import annotations

import gzip
import io
import math
import os
import zlib

import numpy as np

from ..errors import ScratchMLPError
from ..files import open_regular

GZIP_MAGIC = b"\x1f\x8b"
_REFETCH = "the file is damaged or of another kind: delete it and fetch it again"
_TYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
# Refuse more than 128 MiB (a header's claim, a file's size, a gzip bomb) rather than allocate
# it: 2.8 times Fashion-MNIST's largest file (47 MB), and reading one stays well under 1 GB.
MAX_BYTES = 128 << 20


def read_bytes(path) -> bytes:
    """The decompressed bytes of an IDX file: gzip is recognised by content, not by name."""
    path = os.fspath(path)
    try:
        f, st = open_regular(path, "is a directory, not an IDX file", "give an IDX file")
        with f:
            if st.st_size > MAX_BYTES + 4096:
                raise ScratchMLPError(f"{path}: {st.st_size:,} bytes, more than the "
                                      f"{MAX_BYTES >> 20} MiB this reader accepts")
            raw = f.read(MAX_BYTES + 4097)
    except FileNotFoundError:
        raise ScratchMLPError(f"{path}: no such file") from None
    except OSError as e:
        raise ScratchMLPError(f"{path}: cannot read ({e.strerror or e})") from None
    if not raw:
        raise ScratchMLPError(f"{path}: the file is empty; delete it and fetch it again")
    if raw[:2] == GZIP_MAGIC:
        return _gunzip(raw, path)
    if path.endswith(".gz"):
        raise ScratchMLPError(f"{path}: named .gz but is not gzip data; "
                              "delete it and fetch it again")
    return raw


def _gunzip(raw: bytes, path: str) -> bytes:
    """Inflate no more than the IDX header declares (itself at most MAX_BYTES), plus one byte
    to notice more: a small file cannot inflate into gigabytes, nor take seconds to refuse."""
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(raw)) as f:
            head = f.read(4)
            if len(head) < 4 or head[:2] != b"\0\0" or head[2] not in _TYPES:
                return head + f.read(MAX_BYTES + 1 - len(head))  # parse names what is wrong
            dims = f.read(4 * head[3])
            shape = tuple(int(n) for n in np.frombuffer(dims[:len(dims) // 4 * 4], ">u4"))
            size = math.prod(shape) * np.dtype(_TYPES[head[2]]).itemsize
            if len(dims) < 4 * head[3] or size > MAX_BYTES:
                return head + dims  # parse refuses the truncated or implausible header
            data = head + dims + f.read(size + 1)
    except EOFError:
        raise ScratchMLPError(f"{path}: truncated gzip data (the download was cut short?); "
                              "delete it and fetch it again") from None
    except (OSError, zlib.error) as e:
        raise ScratchMLPError(f"{path}: corrupt gzip data ({e}); "
                              "delete it and fetch it again") from None
    if len(data) > len(head + dims) + size:
        raise ScratchMLPError(f"{path}: decompresses to more than the {shape} values its IDX "
                              f"header declares; {_REFETCH}")
    return data


def parse(data: bytes, name: str = "IDX data") -> np.ndarray:
    """The array an IDX byte string holds, checked against its header."""
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in _TYPES:
        raise ScratchMLPError(f"{name}: not an IDX file (wrong magic number "
                              f"{data[:4].hex() or 'missing'}); {_REFETCH}")
    ndim = data[3]
    if ndim == 0:
        raise ScratchMLPError(f"{name}: IDX header declares no dimensions; {_REFETCH}")
    header = 4 + 4 * ndim
    if len(data) < header:
        raise ScratchMLPError(f"{name}: truncated IDX header; {_REFETCH}")
    shape = tuple(int(n) for n in np.frombuffer(data, ">u4", count=ndim, offset=4))
    dtype = np.dtype(_TYPES[data[2]])
    expected = math.prod(shape) * dtype.itemsize
    # Zero-size dimensions do not excuse the others: NumPy refuses to shape (0, 2**31, 2**31).
    if math.prod(n for n in shape if n) * dtype.itemsize > MAX_BYTES:
        raise ScratchMLPError(f"{name}: IDX header declares an implausible shape {shape}; "
                              + _REFETCH)
    body = len(data) - header
    if body < expected:
        raise ScratchMLPError(f"{name}: truncated: header declares shape {shape} "
                              f"({expected} bytes) but {body} bytes follow; {_REFETCH}")
    if body > expected:
        raise ScratchMLPError(f"{name}: {body - expected} unexpected bytes after the "
                              f"{shape} values its header declares; {_REFETCH}")
    values = np.frombuffer(data, dtype, offset=header).reshape(shape)
    return values.astype(dtype.newbyteorder("="), copy=True)


def read(path) -> np.ndarray:
    return parse(read_bytes(path), os.fspath(path))


def header(shape: tuple, type_code: int = 0x08) -> bytes:
    """The IDX header of an array of `shape` (uint8 by default)."""
    return bytes([0, 0, type_code, len(shape)]) + np.asarray(shape, ">u4").tobytes()


def encode(array: np.ndarray) -> bytes:
    """IDX bytes for `array` (uint8 only): used by tests and by users making their own files."""
    array = np.asarray(array)
    if array.dtype != np.uint8:
        raise ScratchMLPError("IDX encoding here supports uint8 arrays only")
    return header(array.shape) + np.ascontiguousarray(array).tobytes()
