"""Threads for the engine whose number never changes a result.

BLAS is held at one thread (OpenBLAS with two threads sums a product in another order than
with one, so results would depend on the thread count). Speed comes from this module instead:
a big operation is cut into chunks, and a small pool of threads computes them (NumPy lets go
of the GIL inside matmuls and ufuncs). The chunks are fixed by the shapes alone, never by the
thread count, and every output element is always computed by the same chunk, so each chunk's
bytes, and therefore every result, are the same at 1, 2 or 64 threads. The thread count only
decides who computes a chunk, and when. Idle threads wait on locks and never spin, so on a
busy machine a parked thread costs its own chunk (which the others take over if it has not
started), not everyone's time.

    set_threads(4)             # or None: the cores this process may use
    matmul(a, b, out=None)     # a @ b for 2-d a and b, in chunks of the result's rows or columns
    linear(x, w, b, relu)      # x @ w + b (then relu), each chunk finished in the cache
    for_chunks(rows, fn)       # fn(start, stop) for fixed row ranges, on the pool
"""

from __future__ import annotations

import itertools
import os
import queue
import threading

import numpy as np

from .. import ranges

# Fixed constants (changing them changes results in the last bits, as a new BLAS would).
# A chunk is a BLAS call of its own, with its own packing and blocking: measured here (one
# thread, CPU time), cutting a 256x784 @ 784x256 product in 2 costs ~4% more than one call,
# in 4 ~10%, in 8 ~20%; 784x256 @ 256x4096 in 4 ~0%, 256x784 @ 784x4096 in 4 columns ~9%.
# So at most 4 chunks (4 threads' worth per product), and none under 64 rows or 20M
# multiply-adds.
MAX_CHUNKS = 4
MIN_CHUNK_ROWS = 64
MIN_CHUNK_WORK = 20_000_000  # multiply-adds (or elementwise operations) per chunk


def default_threads() -> int:
    """The cores this process may run on (its affinity mask, not the machine's core count)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


class _Job:
    """One call's chunks: threads claim the next index until none is left."""

    def __init__(self, fn, ranges):
        self.fn, self.ranges = fn, ranges
        self.errstate = np.geterr()  # the caller's np.errstate: per thread in NumPy, so carried
        self._next = itertools.count()  # next() on it is atomic under the GIL
        self._left = len(ranges)
        self._lock = threading.Lock()
        self._done = threading.Lock()  # held until the last chunk is done (cheaper than an Event)
        self._done.acquire()
        self.error = None

    def work(self):
        for i in iter(self._next.__next__, None):
            if i >= len(self.ranges):
                return
            try:
                self.fn(*self.ranges[i])
            except BaseException as e:  # handed to the caller's thread
                self.error = self.error or e
            with self._lock:
                self._left -= 1
                if self._left == 0:
                    self._done.release()

    def wait(self):
        self._done.acquire()
        if self.error is not None:
            raise self.error


class Pool:
    """`threads - 1` helper threads; the calling thread computes chunks too."""

    def __init__(self, threads: int):
        self.threads = threads
        self._jobs = queue.SimpleQueue()
        self._helpers = [threading.Thread(target=self._serve, daemon=True,
                                          name=f"scratchmlp-{i + 1}")
                         for i in range(threads - 1)]
        for helper in self._helpers:
            helper.start()

    def _serve(self):
        for job in iter(self._jobs.get, None):
            with np.errstate(**job.errstate):
                job.work()

    def run(self, fn, ranges):
        """fn(*r) for each r in `ranges`, spread over the threads; back when all are done."""
        if self.threads == 1 or len(ranges) == 1:
            for r in ranges:
                fn(*r)
            return
        job = _Job(fn, ranges)
        for _ in range(min(self.threads, len(ranges)) - 1):
            self._jobs.put(job)
        job.work()
        job.wait()

    def close(self):
        for _ in self._helpers:
            self._jobs.put(None)
        for helper in self._helpers:
            helper.join()


_pool: list = [None]
_blas_limit: list = [None]


def set_threads(threads: int | None = None) -> int:
    """Use `threads` threads (None: default_threads()) from now on; BLAS stays at one thread.
    Returns the number in use. Results are the same whatever the number."""
    if threads is None:
        threads = default_threads()
    threads = int(ranges.check("threads", threads))
    _hold_blas_at_one_thread()
    if _pool[0] is None or _pool[0].threads != threads:
        if _pool[0] is not None:
            _pool[0].close()
        _pool[0] = Pool(threads)
    return threads


def threads() -> int:
    """The number of threads in use (starting the default pool on first use)."""
    return pool().threads


def pool() -> Pool:
    if _pool[0] is None:
        set_threads(_wanted[0])
    return _pool[0]


def _after_fork_in_child():
    """A forked child has the pool's object but not its threads: start a new pool of the
    same size on its first use there (the BLAS limit is inherited)."""
    if _pool[0] is not None:
        _wanted[0], _pool[0] = _pool[0].threads, None


_wanted: list = [None]
os.register_at_fork(after_in_child=_after_fork_in_child)


def _hold_blas_at_one_thread():
    if _blas_limit[0] is None:
        from threadpoolctl import threadpool_limits  # only here: keeps `--help` fast
        _blas_limit[0] = threadpool_limits(limits=1, user_api="blas")


def chunk_ranges(rows: int, work_per_row: float) -> list:
    """Fixed [start, stop) row ranges for `rows` rows: as many chunks as the work is worth, up
    to MAX_CHUNKS, of equal size (multiples of 8 rows but the last). Depends on shapes only."""
    count = int(min(MAX_CHUNKS, rows * work_per_row // MIN_CHUNK_WORK, rows // MIN_CHUNK_ROWS))
    if count <= 1:
        return [(0, rows)]
    size = -(-rows // count)
    size = -(-size // 8) * 8
    return [(start, min(start + size, rows)) for start in range(0, rows, size)]


def for_chunks(rows: int, fn, work_per_row: float):
    """fn(start, stop) for the fixed chunks of `rows` rows (see chunk_ranges), on the pool."""
    pool().run(fn, chunk_ranges(rows, work_per_row))


def product_chunks(m: int, k: int, n: int):
    """How to cut an (m, k) @ (k, n) product: ("rows", ranges) or ("columns", ranges). Each
    chunk's BLAS call repacks the other operand, so the cut runs along the longer side of the
    result (rows when m >= n). Fixed by the shapes alone."""
    if n > m:
        return "columns", chunk_ranges(n, m * k)
    return "rows", chunk_ranges(m, k * n)


def matmul(a: np.ndarray, b: np.ndarray, out: np.ndarray = None) -> np.ndarray:
    """a @ b for a 2-d `a` and `b`, computed in fixed chunks of the result (product_chunks);
    the bytes do not depend on the thread count. Other shapes go to np.matmul here."""
    workers = pool()  # first use holds BLAS at one thread, for every shape
    if a.ndim != 2 or b.ndim != 2:
        return np.matmul(a, b) if out is None else np.matmul(a, b, out=out)
    if out is None:
        out = np.empty((a.shape[0], b.shape[1]), np.result_type(a, b))
    side, ranges = product_chunks(a.shape[0], a.shape[1], b.shape[1])
    if len(ranges) == 1:
        return np.matmul(a, b, out=out)

    def rows(start, stop):
        np.matmul(a[start:stop], b, out=out[start:stop])

    def columns(start, stop):
        np.matmul(a, b[:, start:stop], out=out[:, start:stop])

    workers.run(rows if side == "rows" else columns, ranges)
    return out


def linear(x: np.ndarray, weight: np.ndarray, bias: np.ndarray, relu: bool = False) -> np.ndarray:
    """x @ weight + bias (then max(., 0) with `relu`) for 2-d `x`, each chunk finished while
    it is still in the cache; the same bytes at any thread count."""
    if x.ndim != 2 or weight.ndim != 2 or np.ndim(bias) != 1:
        out = matmul(x, weight)
        out += bias
        return np.maximum(out, 0, out=out) if relu else out
    out = np.empty((x.shape[0], weight.shape[1]), np.result_type(x, weight))
    side, ranges = product_chunks(x.shape[0], x.shape[1], weight.shape[1])

    def chunk(start, stop):
        if side == "rows":
            part = np.matmul(x[start:stop], weight, out=out[start:stop])
            part += bias
        else:
            part = np.matmul(x, weight[:, start:stop], out=out[:, start:stop])
            part += bias[start:stop]
        if relu:
            np.maximum(part, 0, out=part)

    pool().run(chunk, ranges)
    return out
