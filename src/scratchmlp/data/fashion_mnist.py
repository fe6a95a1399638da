"""Fashion-MNIST: find it, fetch it, verify it, decode it once, and iterate over it.

Lookup order: an explicit directory, $SCRATCHMLP_DATA_DIR, the user's cache directory, Debian's
`/usr/share/datasets/fashion-mnist` (package dataset-fashion-mnist), then a download from the
official mirror into the cache. Content is verified by SHA-256 of the decompressed IDX bytes
(Debian recompressed the .gz files, so hashes of the .gz differ). The decoded arrays are cached
as .npy beside a stamp of the source files, so later runs load fast. The cache is untrusted:
each cached array is read with its size checked against the bytes present before anything is
allocated, and its IDX form must hash to the official SHA-256 again (rotated labels or inverted
pixels cannot pass); on any mismatch the data is decoded again from the source, with a note.

Your own data in Fashion-MNIST's format (same four names, 28x28 uint8 images, labels 0-9) is
accepted when SCRATCHMLP_VERIFY=0: every structural check still runs, only the comparison with
the official checksums is skipped, and such data never enters the decoded cache.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import stat
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import ranges
from ..errors import ScratchMLPError
from ..files import atomic_write_bytes, parse_json, read_small_file
from . import augment as augmentation, idx

LABELS = ("t-shirt", "trouser", "pullover", "dress", "coat",
          "sandal", "shirt", "sneaker", "bag", "ankle boot")

FILES = {  # name -> SHA-256 of the decompressed IDX bytes
    "train-images-idx3-ubyte": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
    "train-labels-idx1-ubyte": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
    "t10k-images-idx3-ubyte": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
    "t10k-labels-idx1-ubyte": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
}
MIRROR = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"
MAX_DOWNLOAD = 64 << 20  # bytes of one downloaded .gz: the largest official one is 26 MB
VALIDATION_SEED = 0  # the split is a property of the data set, not of a run
_AUGMENT_STREAM = 0xA6  # keeps augmentation draws apart from the shuffle of (seed, epoch)
SYSTEM_DIRS = ("/usr/share/datasets/fashion-mnist",)
HOW_TO_GET = ("install Debian's package (apt-get install dataset-fashion-mnist), or name a "
              "folder holding the four Fashion-MNIST .gz files, or set SCRATCHMLP_DATA_DIR")
VERIFY_ENV = "SCRATCHMLP_VERIFY"


class DataNotFound(ScratchMLPError):
    """Fashion-MNIST is not where it was looked for (the CLI adds how to name a folder)."""


def get_fashion_mnist_labels(labels) -> list:
    """Text labels for numeric ones, as in d2l (a label outside 0-9 is refused: 11 was an
    IndexError, -1 silently 'ankle boot')."""
    values = np.asarray(labels).reshape(-1)
    bad = [v for v in values.tolist() if not (isinstance(v, (int, float)) and v == int(v)
                                              and 0 <= v < len(LABELS))] if values.size else []
    if bad:
        raise ScratchMLPError(f"Fashion-MNIST labels are classes 0-9, found {bad[0]!r}")
    return [LABELS[int(i)] for i in values]


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "scratchmlp"


def _file_in(directory: Path, name: str):
    for candidate in (directory / f"{name}.gz", directory / name):
        if candidate.is_file():
            return candidate
    return None


def _complete(directory: Path) -> bool:
    return all(_file_in(directory, name) for name in FILES)


def _system_dirs() -> list:
    override = os.environ.get("SCRATCHMLP_SYSTEM_DATA_DIRS")
    return [Path(d) for d in (override.split(os.pathsep) if override is not None else SYSTEM_DIRS) if d]


def verify_wanted() -> bool:
    """False only when the user says the data is their own: SCRATCHMLP_VERIFY=0."""
    value = os.environ.get(VERIFY_ENV, "1").strip()
    if value not in ("0", "1"):
        raise ScratchMLPError(f"{VERIFY_ENV}={value!r}: set it to 1 (check the official "
                              "checksums, the default) or 0 (your own data in this format)")
    return value == "1"


def locate(data_dir=None, download: bool = True) -> Path:
    """The directory holding the four files, downloading into the cache as a last resort."""
    source = "data directory"
    if data_dir is None and os.environ.get("SCRATCHMLP_DATA_DIR"):
        # A directory the user names is used or refused, never silently skipped.
        data_dir, source = os.environ["SCRATCHMLP_DATA_DIR"], "$SCRATCHMLP_DATA_DIR"
    if data_dir is not None:
        # os.path's expanduser leaves an unknown ~user as it is (Path's raised RuntimeError)
        directory = Path(os.path.expanduser(data_dir))
        if directory.exists() and not directory.is_dir():
            raise DataNotFound(f"{source} {directory} is a file, not a folder; name the folder "
                               "that holds the four Fashion-MNIST files")
        if not directory.is_dir():
            raise DataNotFound(f"{source} {directory} does not exist; check the path, or "
                               + HOW_TO_GET)
        missing = [name for name in FILES if not _file_in(directory, name)]
        if missing:
            raise DataNotFound(f"{source} {directory} lacks {', '.join(missing)} "
                               "(.gz or raw IDX); " + HOW_TO_GET)
        return directory
    candidates = [cache_dir() / "fashion-mnist", *_system_dirs()]
    for directory in candidates:
        if directory.is_dir() and _complete(directory):
            return directory
    if not download:
        raise DataNotFound("Fashion-MNIST not found; " + HOW_TO_GET)
    return fetch(cache_dir() / "fashion-mnist")


def _download(url: str, timeout: float) -> bytes:
    """The body at `url`: at most MAX_DOWNLOAD + 1 bytes, all that its Content-Length says."""
    import http.client  # here, not at the top: http.client costs every run ~40 ms to import
    import urllib.error
    import urllib.request
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            payload = response.read(MAX_DOWNLOAD + 1)  # a mirror cannot fill the memory
            declared = response.headers.get("Content-Length", "")
    except (urllib.error.URLError, OSError, ValueError, http.client.HTTPException) as e:
        reason = getattr(e, "reason", e)
        raise DataNotFound(f"Fashion-MNIST not found locally and the download of {url} "
                           f"failed ({reason}); " + HOW_TO_GET) from None
    if declared.isdigit() and int(declared) != len(payload) and len(payload) <= MAX_DOWNLOAD:
        raise DataNotFound(f"the download of {url} was cut short ({len(payload):,} of "
                           f"{int(declared):,} bytes); try again, or " + HOW_TO_GET)
    return payload


def fetch(directory: Path, mirror: str = None, timeout: float = 30.0) -> Path:
    """Download the four .gz files from the official mirror into `directory`."""
    mirror = mirror or os.environ.get("SCRATCHMLP_MIRROR") or MIRROR
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise DataNotFound(f"Fashion-MNIST not found locally and {directory} cannot be made "
                           f"for a download ({e.strerror}); " + HOW_TO_GET) from None
    for name in FILES:
        target = directory / f"{name}.gz"
        if target.is_file():
            continue
        url = mirror.rstrip("/") + f"/{name}.gz"
        payload = _download(url, timeout)
        if len(payload) > MAX_DOWNLOAD:
            raise DataNotFound(f"the download of {url} is larger than {MAX_DOWNLOAD >> 20} MiB, "
                               "more than any Fashion-MNIST file; try another mirror, or "
                               + HOW_TO_GET)
        if payload[:2] != idx.GZIP_MAGIC:  # e.g. a proxy's HTML page: never store it as data
            raise DataNotFound(f"the download of {url} is not gzip data ({len(payload)} "
                               "bytes); try again later, or " + HOW_TO_GET)
        atomic_write_bytes(target, payload)
    return directory


@dataclass
class FashionMNIST:
    """The four arrays: uint8 images (N, 28, 28) and int64 labels (N,)."""

    train_images: np.ndarray
    train_labels: np.ndarray
    test_images: np.ndarray
    test_labels: np.ndarray


_PAIRS = (("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
          ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"))


def _check(arrays: dict, sources: dict):
    """Fashion-MNIST's structure: uint8 (N, 28, 28) images, N uint8 labels in 0-9."""
    for images_name, labels_name in _PAIRS:
        images, labels = arrays[images_name], arrays[labels_name]
        images_at, labels_at = sources[images_name], sources[labels_name]
        for array, at in ((images, images_at), (labels, labels_at)):
            if array.dtype != np.uint8:
                raise ScratchMLPError(f"{at}: holds {array.dtype} values; Fashion-MNIST files "
                                      "hold unsigned bytes (IDX type 0x08)")
        if images.ndim != 3 or images.shape[1:] != (28, 28):
            raise ScratchMLPError(f"{images_at}: holds an array of shape {images.shape}, "
                                  "expected images of 28x28 pixels (N, 28, 28); use "
                                  "Fashion-MNIST's image file")
        if labels.ndim != 1:
            raise ScratchMLPError(f"{labels_at}: labels have shape {labels.shape}, expected one "
                                  "dimension (N,); use Fashion-MNIST's label file")
        if len(images) != len(labels):
            raise ScratchMLPError(f"{images_at} holds {len(images)} images but {labels_at} holds "
                                  f"{len(labels)} labels; use two files of the same set")
        if not len(images):  # nothing to train on or score: every later step would fail
            raise ScratchMLPError(f"{images_at}: holds no images; use Fashion-MNIST's image file")
        if labels.size and labels.max() > 9:
            raise ScratchMLPError(f"{labels_at}: labels must be classes 0-9, found "
                                  f"{int(labels.max())}; use Fashion-MNIST's label file")


def _decode(directory: Path, verify: bool) -> dict:
    """Parse and check the four files, then (if `verify`) compare them with the official ones.

    Structure is checked first, so a damaged file is named for what is wrong with it.
    """
    arrays, sources, digests = {}, {}, {}
    for name in FILES:
        path = _file_in(directory, name)
        data = idx.read_bytes(path)
        arrays[name], sources[name] = idx.parse(data, str(path)), str(path)
        digests[name] = hashlib.sha256(data).hexdigest() if verify else None
        del data
    _check(arrays, sources)
    for name, digest in FILES.items():
        if verify and digests[name] != digest:
            raise ScratchMLPError(
                f"{sources[name]}: checksum mismatch: not the official Fashion-MNIST file; "
                f"delete it and fetch it again, or, if it is your own data in this format, set "
                f"{VERIFY_ENV}=0")
    return arrays


def _stamp(directory: Path) -> dict:
    stamp = {}
    for name in FILES:
        path = _file_in(directory, name)
        st = path.stat()
        stamp[name] = [str(path.resolve()), st.st_size, st.st_mtime_ns]
    return stamp


def load(data_dir=None, download: bool = True, verify: bool = None,
         use_cache: bool = True) -> FashionMNIST:
    """Find, verify and decode Fashion-MNIST, through the decoded cache when it is current.

    `verify=None` follows $SCRATCHMLP_VERIFY (default: verify).
    """
    verify = verify_wanted() if verify is None else verify
    directory = locate(data_dir, download)
    decoded = cache_dir() / "decoded"
    stamp = _stamp(directory)
    arrays = _load_cache(decoded, stamp) if use_cache else None
    if arrays is None:
        arrays = _decode(directory, verify)
        if use_cache and verify:
            _save_cache(decoded, arrays, stamp)
    return FashionMNIST(arrays["train-images-idx3-ubyte"],
                        arrays["train-labels-idx1-ubyte"].astype(np.int64),
                        arrays["t10k-images-idx3-ubyte"],
                        arrays["t10k-labels-idx1-ubyte"].astype(np.int64))


class _CacheMismatch(Exception):
    """A cached array that is not what the verified source decodes to."""


def _load_cache(decoded: Path, stamp: dict):
    """The four cached arrays, each proven official again; None (and a note) otherwise."""
    stamp_file = decoded / "stamp.json"
    if not stamp_file.is_file():
        return None  # nothing cached yet
    try:
        if parse_json(read_small_file(stamp_file, "stamp", 1 << 16), str(stamp_file)) != stamp:
            return None  # the source files changed since: decode them
    except ScratchMLPError:
        pass  # a damaged stamp: the arrays are proven by their hashes below, or rebuilt
    try:
        return {name: _read_cached(decoded / f"{name}.npy", digest)
                for name, digest in FILES.items()}
    except _CacheMismatch as e:
        print(f"scratchmlp: note: the decoded cache {decoded} does not match the verified "
              f"data ({e}); decoding again from the source", file=sys.stderr)
        return None


def _read_cached(path: Path, digest: str) -> np.ndarray:
    """A uint8 .npy of the cache, its size checked before allocating, hashed as IDX bytes."""
    try:
        st = os.stat(path)
        if not stat.S_ISREG(st.st_mode) or st.st_size > idx.MAX_BYTES + 4096:
            raise _CacheMismatch(f"{path.name} is not a file of a plausible size")
        with os.fdopen(os.open(path, os.O_RDONLY | os.O_NONBLOCK), "rb") as f:
            if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
                raise _CacheMismatch(f"{path.name} is not a regular file")
            shape, fortran, dtype = _npy_header(f, path.name)
            count = math.prod(shape)
            if dtype != np.uint8 or fortran or len(shape) not in (1, 3) \
                    or count != st.st_size - f.tell():
                raise _CacheMismatch(f"{path.name} has header {dtype} {shape}, not the bytes "
                                     "it holds")
            array = np.empty(shape, np.uint8)
            if f.readinto(memoryview(array).cast("B")) != count or f.read(1):
                raise _CacheMismatch(f"{path.name} changed while read")
    except OSError as e:
        raise _CacheMismatch(f"{path.name}: {e.strerror or e}") from None
    check = hashlib.sha256(idx.header(array.shape))
    check.update(memoryview(array).cast("B"))
    if check.hexdigest() != digest:
        raise _CacheMismatch(f"{path.name} differs from the official data")
    return array


def _npy_header(f, name: str):
    try:
        version = np.lib.format.read_magic(f)
        if version == (1, 0):
            return np.lib.format.read_array_header_1_0(f)
        if version == (2, 0):
            return np.lib.format.read_array_header_2_0(f)
    except Exception as e:  # noqa: BLE001  (NumPy's header parser raises many kinds)
        raise _CacheMismatch(f"{name} has no valid .npy header ({type(e).__name__})") from None
    raise _CacheMismatch(f"{name}: .npy version {version}")


def _save_cache(decoded: Path, arrays: dict, stamp: dict):
    try:
        decoded.mkdir(parents=True, exist_ok=True)
        _sweep_temp_files(decoded)
        for name, array in arrays.items():
            atomic_write_bytes(decoded / f"{name}.npy", _npy_bytes(array))
        atomic_write_bytes(decoded / "stamp.json", json.dumps(stamp).encode())
    except (OSError, ScratchMLPError):
        pass  # a cache we cannot write only costs time on the next run


def _sweep_temp_files(decoded: Path):
    """Remove the temp files of cache writes that never finished: a command killed while it
    wrote the cache left a .NAME.npy.RANDOM.tmp of up to 47 MB there for good, one more each
    time. A write under way in another process then fails and is skipped, as any cache write
    that fails is: it only costs that process's next load the decoding."""
    for path in decoded.iterdir():
        if path.name.startswith(".") and path.name.endswith(".tmp"):
            with contextlib.suppress(OSError):
                path.unlink()


def _npy_bytes(array: np.ndarray) -> bytes:
    import io
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


class DataIter:
    """Minibatches of (images float32 (B, 1, 28, 28) in [0, 1], int64 labels), as in d2l.

    With `shuffle`, every pass is a new permutation drawn from (seed, epoch), so a run resumed
    at epoch k sees the same order as an uninterrupted one. `augment` ("shift", "flip") applies
    random shifts/flips to each batch, drawn from (seed, epoch) too. The last partial batch is kept.
    """

    def __init__(self, images: np.ndarray, labels: np.ndarray, batch_size: int,
                 shuffle: bool = False, seed: int = 0, augment=()):
        ranges.check("batch_size", batch_size)
        self.images, self.labels = images, labels
        self.batch_size, self.shuffle, self.seed = int(batch_size), shuffle, seed
        self.augment = augmentation.check(augment)
        self.epoch = 0  # passes started so far; set it to resume

    def __len__(self):
        return -(-len(self.labels) // self.batch_size)

    def __iter__(self):
        images, labels, size = self.images, self.labels, self.batch_size
        order = None
        if self.shuffle:
            order = np.random.default_rng([self.seed, self.epoch]).permutation(len(labels))
        rng = np.random.default_rng([self.seed, self.epoch, _AUGMENT_STREAM]) if self.augment else None
        self.epoch += 1
        # A shuffled batch is gathered into one reused uint8 buffer: cheaper than copying the
        # whole set (47 MB) per epoch, and it stays in cache. X itself is new every batch,
        # since callers may keep it. mode="clip" skips a buffered copy (indices are in range).
        gathered = np.empty((min(size, len(labels)), *images.shape[1:]), images.dtype)
        scale = np.float32(1 / 255)
        for start in range(0, len(labels), size):
            if order is None:
                batch, y = images[start:start + size], labels[start:start + size]
            else:
                index = order[start:start + size]
                batch = np.take(images, index, axis=0, out=gathered[:len(index)], mode="clip")
                y = labels[index]
            if rng is not None:  # new arrays: the gather buffer is never written through
                batch = augmentation.augment(batch, self.augment, rng)
            X = np.multiply(batch, scale, dtype=np.float32)
            yield X.reshape(len(batch), 1, 28, 28), y


def split_validation(data: FashionMNIST, validation: int, subset=None):
    """(training images, training labels, validation images, validation labels) of `data`.

    The validation set is the last `validation` entries of one fixed permutation of the
    training indices (NumPy's default_rng(VALIDATION_SEED)): the same images for every run,
    seed and machine, and never the test set. The remaining training images keep their file
    order; `subset` keeps only the first `subset` of them. With neither, the arrays come back
    untouched (the chapter's run sees exactly the file's order).
    """
    total = len(data.train_labels)
    if not 0 <= validation < total:
        raise ScratchMLPError(f"validation must be between 0 and {total - 1} images, "
                              f"got {validation}")
    if validation == 0 and subset is None:
        return data.train_images, data.train_labels, None, None
    order = np.random.default_rng(VALIDATION_SEED).permutation(total)
    keep = np.sort(order[:total - validation])
    held_out = np.sort(order[total - validation:])
    if subset is not None:
        if not 0 < subset <= len(keep):
            raise ScratchMLPError(f"subset must be between 1 and {len(keep)} images (the "
                                  f"training images left after validation), got {subset}")
        keep = keep[:subset]
    if validation == 0:
        return data.train_images[keep], data.train_labels[keep], None, None
    return (data.train_images[keep], data.train_labels[keep],
            data.train_images[held_out], data.train_labels[held_out])


def load_data_fashion_mnist(batch_size: int, data_dir=None, seed: int = 0, data=None):
    """d2l's loader: (train_iter, test_iter); training reshuffles each epoch, test keeps order."""
    data = data if data is not None else load(data_dir)
    return (DataIter(data.train_images, data.train_labels, batch_size, shuffle=True, seed=seed),
            DataIter(data.test_images, data.test_labels, batch_size, shuffle=False))
