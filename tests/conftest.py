import json
import os
import subprocess
import sys
import types

import numpy as np
import pytest

import sparseprop_gpu as sp
from sparseprop_gpu import reference


@pytest.fixture(scope="session")
def lif_net():
    """The reference inhibitory LIF test network: N=2000, K=50, stored targets."""
    return sp.Network(model=sp.LIF(tau=0.01), n=2000, k=50, j0=1.0, target_rate=1.0, seed=1)


def phases_of(batch, m=0):
    """Phases of instance ``m`` of a Batch on the exp or phase key, at the instant of its
    next spike (the keys relative to the queue's smallest)."""
    from sparseprop_gpu.kernels import models as km
    keys = batch.heap[m, :batch.n[m]]
    shift = keys.min()
    if batch.key_kind == km.KEY_EXP:
        return -batch.par[m, km.P_OMEGA] * np.log(keys / shift)
    assert batch.key_kind == km.KEY_PHASE
    return batch.par[m, km.P_PHI_TH] - (keys - shift)


def assert_statistics_agree_with_oracle(net, t_end, warmup):
    """A chaotic network: trajectories diverge, statistics must not. The engine's and the
    oracle's spike counts within a Poisson-like error, and their mean ISI CVs within 0.05."""
    from sparseprop_gpu import reference
    rec = sp.simulate(net, t_end=t_end, warmup=warmup, record="summary")
    ref, _ = reference.simulate(net, t_end=t_end, warmup=warmup, record="summary")
    total = ref.counts.sum()
    assert abs(rec.counts.sum() - total) < 5 * np.sqrt(total) + 0.02 * total
    assert np.nanmean(rec.cv_isi()) == pytest.approx(np.nanmean(ref.cv_isi()), abs=0.05)


def assert_same_spikes(a, b, atol):
    """Same senders in the same order and times within ``atol`` seconds."""
    assert a.times.size == b.times.size
    np.testing.assert_array_equal(a.senders, b.senders)
    np.testing.assert_allclose(a.times, b.times, rtol=0, atol=atol)


def assert_each_instance_as_alone(ensemble, result, **simulate_kw):
    """Every instance of ``result`` (the Dataset of a run_ensemble with record="spikes") has
    the spikes, bit for bit, of its own ``sp.simulate(instance, **simulate_kw)``."""
    for m, instance in enumerate(ensemble.instances):
        alone = sp.simulate(instance, **simulate_kw)
        times, senders = result.sp.spikes(m)
        np.testing.assert_array_equal(senders, alone.senders)
        np.testing.assert_array_equal(times, alone.times)


def record_calls(monkeypatch, owner, name):
    """Wrap the method ``owner.name`` so that each call's arguments (after self) are appended
    to the list returned; the call itself goes on."""
    calls = []
    real = getattr(owner, name)

    def recording(self, *args):
        calls.append(args[0] if len(args) == 1 else args)
        return real(self, *args)

    monkeypatch.setattr(owner, name, recording)
    return calls


def fail_batches_with_seed(monkeypatch, seed, error):
    """Make a sweep's batch (``record_ensemble``) raise ``error`` when its first instance has
    ``seed`` (``monkeypatch.undo()`` restores it)."""
    import sparseprop_gpu.runs.ensemble as ensemble
    real = ensemble.record_ensemble

    def broken(ens, **kw):
        if ens.parameters()["seed"][0] == seed:
            raise error
        return real(ens, **kw)

    monkeypatch.setattr(ensemble, "record_ensemble", broken)


def under_simulator(script):
    """Run ``script`` in a fresh Python under the CUDA simulator (NUMBA_ENABLE_CUDASIM=1) and
    return the JSON object its last line of output prints."""
    env = {**os.environ, "NUMBA_ENABLE_CUDASIM": "1"}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          env=env, timeout=600)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def population_oracle(net, n_spikes=None, t_end=None):
    """The oracle's spikes of the PopulationNetwork ``net`` from its out-lists
    (``net.out_lists()``), its populations' models, drives, refractory periods and initial
    phases, and its external input events up to ``t_end`` (``net.input_events``)."""
    external = None
    if net.poisson or net.stimulus is not None:
        assert t_end is not None, "a network with external input needs t_end for its events"
        external = net.input_events(t_end)
    indptr, targets, coupling, delay = net.out_lists()
    start = net.pop_start
    pops = [reference.Population(m, net.initial_phases[start[a]:start[a + 1]], p.drive, p.t_ref)
            for a, (m, p) in enumerate(zip(net.population_models(), net.populations))]
    times, senders, phases = reference.simulate_populations(
        pops, indptr, targets, coupling, delay, n_spikes=n_spikes, t_end=t_end,
        external=external)
    return types.SimpleNamespace(times=times, senders=senders, phases=phases)
