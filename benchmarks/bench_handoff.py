#!/usr/bin/env python3
"""What it costs here to hand half a product to the other core and take the result back.

    .venv/bin/python benchmarks/bench_handoff.py [--calls 400]

The chapter's forward product (256x784 @ 784x256) four ways, each timed over --calls calls:
whole on one BLAS thread; as the engine's two fixed chunks on one thread; as the same two
chunks on the engine's pool of two threads (timing, inside each call, when the helper thread
started its chunk and how long after the last chunk the caller was running again); and whole
on OpenBLAS's own two threads, which spin instead of sleeping. A lock ping-pong between two
Python threads gives the bare round trip. Medians, in microseconds. This is the cost every
design that keeps the same bytes at any thread count pays at each meeting of its threads
(docs/benchmarks.md, "What bounds the misses").
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import workers  # noqa: E402 (beside this file)


def ping_pong(rounds: int) -> float:
    """Median round trip (us) of waking another Python thread through a lock and back."""
    there, back = threading.Lock(), threading.Lock()
    there.acquire()
    back.acquire()

    def other():
        for _ in range(rounds):
            there.acquire()
            back.release()

    helper = threading.Thread(target=other)
    helper.start()
    trips = []
    for _ in range(rounds):
        time.sleep(0.0005)  # let the other core go idle, as it does between steps
        start = time.perf_counter()
        there.release()
        back.acquire()
        trips.append(time.perf_counter() - start)
    helper.join()
    return 1e6 * statistics.median(trips)


def timed(fn, calls: int) -> float:
    fn()
    start = time.perf_counter()
    for _ in range(calls):
        fn()
    return 1e6 * (time.perf_counter() - start) / calls


def pool_trace(pool, X, W, H, calls: int) -> dict:
    """Two fixed row chunks on the pool: when the helper starts, and the caller's wait after
    the last chunk ends."""
    clock, starts, ends, lags, totals = time.perf_counter, [], [], [], []
    caller = threading.get_ident()

    def chunk(low, high):
        begun = clock()
        import numpy as np
        np.matmul(X[low:high], W, out=H[low:high])
        if threading.get_ident() != caller:
            starts.append(begun)
        ends.append(clock())

    for _ in range(calls):
        starts.clear()
        ends.clear()
        begin = clock()
        pool.run(chunk, [(0, 128), (128, 256)])
        done = clock()
        totals.append(done - begin)
        if starts:
            lags.append((starts[0] - begin, done - max(ends)))
    return {"pool_us": 1e6 * statistics.median(totals),
            "helper_ran_a_chunk": len(lags) / calls,
            "helper_start_us": 1e6 * statistics.median(a for a, _ in lags) if lags else None,
            "caller_wake_us": 1e6 * statistics.median(b for _, b in lags) if lags else None}


def run(calls: int) -> dict:
    import numpy as np
    from threadpoolctl import threadpool_limits

    from scratchmlp.engine import parallel

    rng = np.random.default_rng(0)
    X = rng.random((256, 784), dtype=np.float32)
    W = rng.random((784, 256), dtype=np.float32)
    H = np.empty((256, 256), np.float32)
    parallel.set_threads(1)
    result = {"machine": workers.machine(), "calls": calls,
              "ping_pong_us": ping_pong(calls),
              "whole_1_thread_us": timed(lambda: np.matmul(X, W, out=H), calls),
              "chunks_1_thread_us": timed(
                  lambda: parallel.pool().run(
                      lambda lo, hi: np.matmul(X[lo:hi], W, out=H[lo:hi]),
                      [(0, 128), (128, 256)]), calls)}
    parallel.set_threads(2)
    result.update(pool_trace(parallel.pool(), X, W, H, calls))
    with threadpool_limits(limits=2, user_api="blas"):
        result["openblas_2_threads_us"] = timed(lambda: np.matmul(X, W, out=H), calls)
    return result


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--calls", type=workers.whole_number(1), default=400)
    p.add_argument("--json", metavar="PATH")
    args = p.parse_args(argv)
    result = run(args.calls)
    m = result["machine"]
    print(f"hand-off, 256x784 @ 784x256, median of {args.calls} calls; {m['date']}, "
          f"load average {m['load']:.2f}")
    for key, value in result.items():
        if key.endswith("_us") and value is not None:
            print(f"  {key[:-3]:<24}{value:>9.0f} us")
    print(f"  helper ran a chunk in {100 * result['helper_ran_a_chunk']:.0f}% of the calls")
    workers.save_result(result, args.json, "handoff")
    return 0


if __name__ == "__main__":
    sys.exit(main())
