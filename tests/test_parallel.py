"""The engine's chunk pool: the same bytes at any thread count, chunks fixed by shapes alone."""

from __future__ import annotations

import numpy as np
import pytest

from scratchmlp.engine import parallel
from scratchmlp.errors import ScratchMLPError


@pytest.fixture(autouse=True)
def _restore_threads():
    before = parallel.threads()
    yield
    parallel.set_threads(before)


@pytest.mark.parametrize("rows, work", [(1, 10), (63, 1e9), (256, 784 * 256), (784, 256 * 256),
                                        (257, 784 * 4096), (10000, 784 * 256)])
def test_chunks_cover_every_row_once(rows, work):
    ranges = parallel.chunk_ranges(rows, work)
    covered = [i for start, stop in ranges for i in range(start, stop)]
    assert covered == list(range(rows))
    assert 1 <= len(ranges) <= parallel.MAX_CHUNKS


def test_chunks_depend_on_shapes_not_threads():
    plans = []
    for n in (1, 2, 4):
        parallel.set_threads(n)
        plans.append(parallel.chunk_ranges(256, 784 * 256))
    assert plans[0] == plans[1] == plans[2] and len(plans[0]) > 1  # really chunked


def _operands(rng, m, k, n, transpose_a):
    a = rng.standard_normal((k, m) if transpose_a else (m, k), dtype=np.float32)
    b = rng.standard_normal((k, n), dtype=np.float32)
    return (a.T if transpose_a else a), b


@pytest.mark.parametrize("m, k, n, transpose_a", [(256, 784, 256, False), (784, 256, 256, True),
                                                  (300, 784, 1024, False), (256, 256, 10, False),
                                                  (784, 256, 1000, True), (7, 5, 3, False)])
def test_matmul_bytes_do_not_depend_on_the_thread_count(m, k, n, transpose_a):
    a, b = _operands(np.random.default_rng(m + n), m, k, n, transpose_a)
    results = []
    for count in (1, 2, 4, 3):
        parallel.set_threads(count)
        results.append(parallel.matmul(a, b).tobytes())
    assert results[0] == results[1] == results[2] == results[3]
    np.testing.assert_allclose(np.frombuffer(results[0], np.float32).reshape(m, n), a @ b,
                               rtol=1e-4, atol=1e-4)


def test_matmul_writes_into_out_and_passes_other_shapes_to_numpy():
    rng = np.random.default_rng(0)
    a, b = rng.random((256, 784), dtype=np.float32), rng.random((784, 64), dtype=np.float32)
    out = np.empty((256, 64), np.float32)
    assert parallel.matmul(a, b, out=out) is out
    batched = rng.random((2, 3, 4)), rng.random((4, 5))
    np.testing.assert_array_equal(parallel.matmul(*batched), np.matmul(*batched))


def test_blas_is_held_at_one_thread():
    from threadpoolctl import threadpool_info
    parallel.set_threads(2)
    blas = [info for info in threadpool_info() if info["user_api"] == "blas"]
    assert blas and all(info["num_threads"] == 1 for info in blas)


def test_an_error_in_a_chunk_reaches_the_caller():
    parallel.set_threads(2)
    seen = []

    def chunk(start, stop):
        seen.append(start)
        if start == 0:
            raise ValueError("chunk 0 failed")

    with pytest.raises(ValueError, match="chunk 0 failed"):
        parallel.pool().run(chunk, [(0, 1), (1, 2), (2, 3)])
    assert sorted(seen) == [0, 1, 2]  # the other chunks still ran; the pool is usable again
    parallel.for_chunks(4, lambda start, stop: seen.append(-1), work_per_row=1)
    assert seen.count(-1) == 1


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "2"])
def test_a_thread_count_must_be_a_positive_whole_number(bad):
    with pytest.raises(ScratchMLPError, match="threads must be a whole number from 1 to 256"):
        parallel.set_threads(bad)


def test_default_is_the_cores_this_process_may_use():
    import os
    assert parallel.default_threads() == len(os.sched_getaffinity(0))
    assert parallel.set_threads(None) == parallel.default_threads()


def test_a_forked_child_gets_its_own_threads():
    import os
    parallel.set_threads(3)
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: a chunked matmul must finish (no helper threads were copied)
        try:
            a = np.ones((256, 784), np.float32)
            ok = parallel.matmul(a, np.ones((784, 256), np.float32))[0, 0] == 784
            os.write(write, f"{int(ok)} {parallel.threads()}".encode())
        finally:
            os._exit(0)
    os.close(write)
    message = os.read(read, 100).decode()
    os.waitpid(pid, 0)
    assert message == "1 3"


def test_a_product_is_cut_along_the_longer_side_of_its_result():
    side, ranges = parallel.product_chunks(256, 784, 4096)
    assert side == "columns" and ranges[-1][1] == 4096 and len(ranges) > 1
    side, ranges = parallel.product_chunks(784, 256, 256)
    assert side == "rows" and ranges[-1][1] == 784 and len(ranges) > 1


@pytest.mark.parametrize("relu", [False, True])
@pytest.mark.parametrize("n", [256, 1000])  # cut into rows, into columns
def test_linear_is_the_general_ops_and_the_same_bytes_at_any_thread_count(relu, n):
    rng = np.random.default_rng(n)
    x = rng.standard_normal((256, 784), dtype=np.float32)
    w = rng.standard_normal((784, n), dtype=np.float32)
    b = rng.standard_normal(n, dtype=np.float32)
    results = []
    for count in (1, 2, 4):
        parallel.set_threads(count)
        results.append(parallel.linear(x, w, b, relu).tobytes())
    assert results[0] == results[1] == results[2]
    expected = x @ w + b
    if relu:
        expected = np.maximum(expected, 0)
    np.testing.assert_allclose(np.frombuffer(results[0], np.float32).reshape(256, n), expected,
                               rtol=1e-4, atol=1e-3)


def test_the_callers_errstate_holds_in_every_thread(recwarn):
    parallel.set_threads(4)
    a = np.full((512, 784), 1e30, np.float32)  # every product overflows
    b = np.full((784, 512), 1e30, np.float32)
    with np.errstate(over="ignore", invalid="ignore"):
        for _ in range(5):
            parallel.linear(a, b, np.zeros(512, np.float32), relu=True)
    assert not [w for w in recwarn if issubclass(w.category, RuntimeWarning)]
    with np.errstate(over="raise"), pytest.raises(FloatingPointError):
        parallel.matmul(a, b)


@pytest.mark.parametrize("name", ["sgd", "momentum", "adam"])
def test_a_big_update_in_chunks_is_the_bytes_of_one_pass(name, monkeypatch):
    from scratchmlp.engine import Array
    from scratchmlp.nn import optim

    def two_steps(threads, max_chunks):
        monkeypatch.setattr(parallel, "MAX_CHUNKS", max_chunks)
        parallel.set_threads(threads)
        rng = np.random.default_rng(5)
        params = [Array(rng.standard_normal((2048, 1024), dtype=np.float32)),
                  Array(rng.standard_normal(1024, dtype=np.float32))]
        opt = optim.build(name, params, 0.01, weight_decay=1e-3)
        for step in range(2):
            for p in params:
                p.grad = rng.standard_normal(p.data.shape, dtype=np.float32)
            opt.step(64)
        return [p.data.tobytes() for p in params]

    assert len(parallel.chunk_ranges(2048, 1024 * optim._UPDATE_WORK_PER_WEIGHT)) > 1
    one_pass = two_steps(1, 1)
    assert two_steps(1, 4) == one_pass
    assert two_steps(4, 4) == one_pass
