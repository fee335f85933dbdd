"""Long runs: rebasing the global shift keeps spike times exact (docs/design.md §2.7)."""
import numpy as np
import pytest

import sparseprop_gpu as sp
from sparseprop_gpu import reference
from sparseprop_gpu.engine.cpu import CpuRunner
from sparseprop_gpu.runs.simulate import engine_state

from conftest import phases_of

T_END = 1e4          # s of simulated time
WINDOW = 10.0        # compare the spikes of the last 10 s


@pytest.fixture(scope="module")
def long_run():
    net = sp.Network(model=sp.LIF(tau=0.01), n=100, k=10, j0=1.0, target_rate=1.0, seed=3)
    ref, phases = reference.simulate(net, t_end=T_END, warmup=T_END - WINDOW, n_spikes=10**7)
    assert ref.times.size > 1000
    return net, ref, phases


def run_engine(net, key, rebase):
    """Spikes of the last WINDOW seconds, and the phases at the first spike after T_END."""
    state = engine_state(net, key=key, rebase=rebase, buffer_spikes=10**6)
    runner = CpuRunner(state, parallel=False)
    runner.advance(np.array([0]), t_end=T_END, warmup=T_END - WINDOW, max_spikes=1 << 62,
                   keep=True)
    return (*runner.spikes(0, state.n_rec[0]), state)


def spike_error(times, senders, ref):
    if times.size != ref.times.size or not np.array_equal(senders, ref.senders):
        return np.inf
    return np.abs(times - ref.times).max()


def phase_error(state, phases):
    """Engine phases against the oracle's after the same last spike.

    The two are taken at different instants of the same free evolution, so they
    differ by a uniform shift: compare phases relative to neuron 0.
    """
    mine = phases_of(state)
    return np.abs((mine - mine[0]) - (phases - phases[0])).max()


@pytest.mark.parametrize("key", ["exp", "phase"])
def test_spike_times_after_1e4_seconds(long_run, key):
    net, ref, phases = long_run
    times, senders, state = run_engine(net, key, rebase=True)
    assert spike_error(times, senders, ref) < 1e-9
    assert phase_error(state, phases) < 1e-12


def test_without_rebasing_precision_decays(long_run):
    net, ref, phases = long_run
    times, senders, state = run_engine(net, "phase", rebase=False)
    # the global shift S reaches ~4e5 phase units: every key keeps only ~1e-10 absolute digits
    assert phase_error(state, phases) > 1e-11
    assert spike_error(times, senders, ref) > spike_error(*run_engine(net, "phase", True)[:2], ref)
    # the exponential key cannot do without it at all: exp(t / tau) overflows after ~7 s
    exp_without = sp.simulate(net, t_end=20.0, key="exp", rebase=False)
    exp_with = sp.simulate(net, t_end=20.0, key="exp")
    assert exp_without.counts.sum() < exp_with.counts.sum()
