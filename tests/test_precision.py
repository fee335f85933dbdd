"""Long runs: rebasing the global shift keeps spike times exact (DESIGN.md 2.2)."""
import numpy as np
import pytest

import sparseprop_gpu as sp
from sparseprop_gpu import reference

T_END = 1e4          # s of simulated time
WINDOW = 10.0        # compare the last 10 s


@pytest.fixture(scope="module")
def long_run():
    net = sp.Network(model=sp.LIF(tau=0.01), n=100, k=10, j0=1.0, target_rate=1.0, seed=3)
    ref, _ = reference.simulate(net, t_end=T_END, warmup=T_END - WINDOW, n_spikes=10**7)
    assert ref.times.size > 1000
    return net, ref


def _error(rec, ref):
    if rec.times.size != ref.times.size or not np.array_equal(rec.senders, ref.senders):
        return np.inf
    return np.abs(rec.times - ref.times).max()


@pytest.mark.parametrize("key", ["exp", "phase"])
def test_spike_times_after_1e4_seconds(long_run, key):
    net, ref = long_run
    rec = sp.simulate(net, t_end=T_END, warmup=T_END - WINDOW, key=key)
    assert _error(rec, ref) < 1e-9


def test_without_rebasing_the_error_grows(long_run):
    net, ref = long_run
    kw = dict(t_end=T_END, warmup=T_END - WINDOW, key="phase")
    with_rebase = _error(sp.simulate(net, **kw), ref)
    without = _error(sp.simulate(net, rebase=False, **kw), ref)
    assert without > 10 * with_rebase
    # the exponential key cannot do without it at all: exp(t / tau) overflows after ~7 s
    exp_without = sp.simulate(net, t_end=20.0, key="exp", rebase=False)
    exp_with = sp.simulate(net, t_end=20.0, key="exp")
    assert exp_without.counts.sum() < exp_with.counts.sum()
