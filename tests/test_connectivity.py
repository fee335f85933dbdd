"""Fixed out-degree targets: distinct, no autapses, uniform, the same stored or on the fly."""
import numpy as np
import pytest
from numba import njit

import sparseprop_gpu as sp
from sparseprop_gpu.compiled import bitmap_words, target_table
from sparseprop_gpu.kernels import connectivity


@pytest.mark.parametrize("n, k", [(2, 1), (10, 9), (50, 5), (1000, 100), (3000, 2999)])
def test_targets_are_distinct_and_never_self(n, k):
    table = target_table(7, n, k)
    assert table.shape == (n, k) and table.dtype == np.int32
    assert table.min() >= 0 and table.max() < n
    assert not np.any(table == np.arange(n)[:, None])
    ordered = np.sort(table, axis=1)
    assert np.all(ordered[:, 1:] != ordered[:, :-1])


def test_targets_are_uniform():
    n, k = 2000, 50
    in_degree = np.bincount(target_table(3, n, k).ravel(), minlength=n)
    assert in_degree.mean() == k
    # binomial(n - 1 draws... ): variance close to k (1 - k / (n - 1))
    assert in_degree.var() == pytest.approx(k * (1 - k / (n - 1)), rel=0.15)


@njit
def _draw(seed, j, n, k, bitmap, out, candidates):
    connectivity.draw_targets(seed, j, n, k, bitmap, out, candidates)


def test_on_the_fly_draws_equal_the_table_and_leave_the_bitmap_clear():
    n, k = 500, 20
    table = target_table(11, n, k)
    bitmap = np.zeros(bitmap_words(n), np.uint64)
    out = np.zeros(k, np.int32)
    for j in (0, 1, 250, 499):
        for batch in (2, 4, 20, 64):          # the batch of candidates does not matter
            _draw(11, j, n, k, bitmap, out, np.zeros(batch, np.int64))
            np.testing.assert_array_equal(out, table[j])
            assert not bitmap.any()


def test_seeds_change_the_network():
    assert not np.array_equal(target_table(1, 300, 10), target_table(2, 300, 10))
    np.testing.assert_array_equal(target_table(1, 300, 10), target_table(1, 300, 10))


def test_network_table_matches_backend():
    net = sp.Network(model=sp.LIF(), n=300, k=10, j0=1.0, target_rate=1.0, seed=5,
                     connectivity="on_the_fly")
    np.testing.assert_array_equal(net.target_table(), target_table(5, 300, 10))
