"""The tournament tree against numpy's argmin under random updates and rebases."""
import numpy as np
import pytest
from numba import njit

from sparseprop_gpu.kernels import pqueue


@njit
def _churn(heap, geom, n, idx, values, tops):
    pqueue.pq_build(heap, geom, n)
    for s in range(idx.shape[0]):
        pqueue.pq_update(heap, geom, idx[s], values[s])
        tops[s] = pqueue.pq_argmin(heap, geom)


@pytest.mark.parametrize("fan_bits", [1, 2, 3, 4])
@pytest.mark.parametrize("n", [1, 2, 7, 8, 9, 64, 65, 1000])
def test_argmin_after_updates(n, fan_bits):
    rng = np.random.default_rng(n * 10 + fan_bits)
    geom, size = pqueue.tree_geometry(n, fan_bits)
    heap = np.empty(size)
    keys = rng.random(n)
    heap[:n] = keys
    steps = 400
    idx = rng.integers(0, n, steps)
    # increases, decreases and ties (values drawn from a small set)
    values = rng.choice(np.r_[rng.random(20), 0.5, 0.5], steps)
    tops = np.empty(steps, np.int64)
    _churn(heap, geom, n, idx, values, tops)
    for s in range(steps):
        keys[idx[s]] = values[s]
        assert tops[s] == np.argmin(keys)   # leftmost minimum on ties, like numpy
    assert heap[-1] == keys.min()


def test_rebase_keeps_order_exactly():
    rng = np.random.default_rng(0)
    n = 500
    geom, size = pqueue.tree_geometry(n, 3)
    heap = np.empty(size)
    heap[:n] = 1e6 + rng.random(n)
    pqueue.pq_build(heap, geom, n)
    top = pqueue.pq_argmin(heap, geom)
    pqueue.pq_rebase(heap, geom, heap[-1], 1.0)
    assert heap[-1] == 0.0 and pqueue.pq_argmin(heap, geom) == top
    pqueue.pq_rebase(heap, geom, 0.0, 2.0 ** -64)
    assert pqueue.pq_argmin(heap, geom) == top


@njit
def _churn_two_step(heap, geom, n, idx, values, tops):
    pqueue.pq_build(heap, geom, n)
    for s in range(idx.shape[0]):
        i = idx[s]
        if not pqueue.pq_set_in_group(heap, geom[3], geom[1], i, heap[i], values[s]):
            pqueue.pq_update(heap, geom, i, values[s])
        tops[s] = pqueue.pq_argmin(heap, geom)


@pytest.mark.parametrize("fan_bits", [1, 3, 5])
def test_quick_set_then_update_equals_update(fan_bits):
    n = 700
    rng = np.random.default_rng(fan_bits)
    geom, size = pqueue.tree_geometry(n, fan_bits)
    keys = rng.random(n)
    idx = rng.integers(0, n, 3000)
    values = keys[idx] + rng.normal(0.0, 0.1, 3000)        # increases and decreases
    heaps, tops = [], []
    for churn in (_churn, _churn_two_step):
        heap = np.empty(size)
        heap[:n] = keys
        top = np.empty(3000, np.int64)
        churn(heap, geom, n, idx, values, top)
        heaps.append(heap)
        tops.append(top)
    np.testing.assert_array_equal(heaps[0], heaps[1])
    np.testing.assert_array_equal(tops[0], tops[1])
