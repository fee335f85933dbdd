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


def assert_each_instance_as_alone(ensemble, result, **simulate_kw):
    """Every instance of ``result`` (a run_ensemble with record="spikes") has the spikes,
    bit for bit, of its own ``sp.simulate(instance, **simulate_kw)``."""
    for m, instance in enumerate(ensemble.instances):
        alone = sp.simulate(instance, **simulate_kw)
        times, senders = result.spikes(m)
        np.testing.assert_array_equal(senders, alone.senders)
        np.testing.assert_array_equal(times, alone.times)
