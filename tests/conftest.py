import numpy as np
import pytest

import sparseprop_gpu as sp


@pytest.fixture(scope="session")
def lif_net():
    """The issue's inhibitory LIF test network: N=2000, K=50, stored targets."""
    return sp.Network(model=sp.LIF(tau=0.01), n=2000, k=50, j0=1.0, target_rate=1.0, seed=1)


def assert_same_spikes(a, b, atol):
    """Same senders in the same order and times within ``atol`` seconds."""
    assert a.times.size == b.times.size
    np.testing.assert_array_equal(a.senders, b.senders)
    np.testing.assert_allclose(a.times, b.times, rtol=0, atol=atol)
