"""Requests too large for the machine are refused with an estimate before anything is
allocated (issue 11.8; docs/design.md §3.10)."""
import importlib
import tracemalloc

import numpy as np
import pytest

import sparseprop_gpu as sp
from sparseprop_gpu.engine import layout
from sparseprop_gpu.kernels import models as km
from sparseprop_gpu.runs.execute import batch_of
from sparseprop_gpu.specification import memory
from sparseprop_gpu.specification.instances import InstanceTable
from sparseprop_gpu.specification.settings import key_kind_of

GIB = 2**30
execute_module = importlib.import_module("sparseprop_gpu.runs.execute")
simulate_module = importlib.import_module("sparseprop_gpu.runs.simulate")


@pytest.fixture
def no_engine(monkeypatch):
    """Batches and target tables cannot be made: a refusal must come first."""
    def refuse(*args, **kw):
        raise AssertionError("allocated before the memory check")
    monkeypatch.setattr(execute_module, "Batch", refuse)
    monkeypatch.setattr(importlib.import_module("sparseprop_gpu.specification.network"),
                        "target_table", refuse)


@pytest.fixture
def small_machine(monkeypatch):
    """A machine with 1 GiB available."""
    monkeypatch.setattr(memory, "available_bytes", lambda: GIB)


def peak_bytes(fn):
    tracemalloc.start()
    try:
        fn()
    except ValueError:
        pass
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak


@pytest.mark.parametrize("case", [
    dict(n=[50, 80], k=[5, 9], connectivity="on_the_fly", key="exp"),
    dict(n=[64], k=[7], connectivity="stored", key="phase"),
    dict(n=[33, 33, 33], k=[4, 4, 4], connectivity="stored", key="exp", buffer=17),
    dict(n=[40, 70], k=[3, 6], connectivity="on_the_fly", key="time", hetero=True),
])
def test_the_engine_estimate_is_the_batch_s_arrays(case):
    """memory.engine_bytes mirrors engine.layout.ARGUMENTS: equal to a real Batch's bytes."""
    kw = dict(drive=sp.heterogeneous(lambda i, n: 1.2 + 0.01 * i)) if case.get("hetero") \
        else dict(drive=1.3)
    net = sp.Network(model=sp.LIF(tau=0.01), n=case["n"][0], k=case["k"][0], coupling=-0.1,
                     connectivity=case["connectivity"], **kw)
    table = InstanceTable(net, n=case["n"], k=case["k"]) if len(case["n"]) > 1 else \
        InstanceTable.of(net)
    members = np.arange(len(table))
    buffer = case.get("buffer", 64)
    batch = batch_of(table, members, case["key"], buffer)
    actual = sum(array.nbytes for array in batch.arrays().values())
    stored = (net.n, net.k) if table.shared_table else None
    rows = max(case["n"]) if batch.key_kind in (km.KEY_TIME, km.KEY_EXP_TIME) else 1
    assert memory.engine_bytes(len(table), max(case["n"]), max(case["k"]), buffer, stored,
                               rows) == actual
    assert set(batch.arrays()) == set(layout.ARRAYS)


def test_a_network_allocates_no_per_neuron_array_until_asked():
    peak = peak_bytes(lambda: sp.Network(model=sp.LIF(), n=10**9, k=10, j0=1.0,
                                         target_rate=1.0))
    assert peak < 1 << 20
    net = sp.Network(model=sp.LIF(), n=1000, k=10, j0=1.0, target_rate=1.0, ic_seed=4)
    assert net._phases is None
    np.testing.assert_array_equal(net.initial_phases, sp.Network(
        model=sp.LIF(), n=1000, k=10, j0=1.0, target_rate=1.0, ic_seed=4).initial_phases)


def test_a_network_too_large_to_simulate_is_refused_first(no_engine, small_machine):
    net = sp.Network(model=sp.LIF(), n=10**8, k=10, j0=1.0, target_rate=1.0)
    with pytest.raises(ValueError, match=r"n = 100000000, k = 10 \(one network\) needs about "
                                         r"\d+(\.\d+)? GiB, more than the 0\.8 GiB allowed"):
        sp.simulate(net, t_end=1.0, record="summary")


def test_auto_connectivity_draws_on_the_fly_when_the_table_would_not_fit(small_machine):
    net = sp.Network(model=sp.LIF(), n=99_999, k=5_000, j0=1.0, target_rate=1.0)
    assert net.connectivity == "on_the_fly"
    assert sp.Network(model=sp.LIF(), n=99_999, k=50, j0=1.0,
                      target_rate=1.0).connectivity == "stored"
    with pytest.raises(ValueError, match=r"connectivity = 'stored'.*3\.7\d* GiB.*on_the_fly"):
        sp.Network(model=sp.LIF(), n=99_999, k=5_000, j0=1.0, target_rate=1.0,
                   connectivity="stored")


def test_a_huge_sweep_is_refused_before_its_grid_is_made():
    spec = ({"model": "lif", "n": 100, "k": 10, "j0": 1.0, "target_rate": 1.0},
            {"seed": {"range": 10**9}, "j0": [1.0, 2.0]}, {"t_end": 0.1})
    peak = peak_bytes(lambda: sp.Sweep(*spec))
    assert peak < 1 << 20
    with pytest.raises(ValueError, match=r"\[sweep\] \(seed: 1000000000 x j0: 2\): "
                                         r"2000000000 instances needs about"):
        sp.Sweep(*spec)


def test_a_huge_ensemble_is_refused_before_its_columns_are_made():
    net = sp.Network(model=sp.LIF(), n=10, k=2, j0=1.0, target_rate=1.0)
    assert peak_bytes(lambda: sp.Ensemble(net, seeds=range(10**10))) < 1 << 20
    with pytest.raises(ValueError, match="per-instance parameters: 10000000000 instances"):
        sp.Ensemble(net, seeds=range(10**10))


def test_an_ensemble_whose_batch_does_not_fit_is_told_the_batch_size(no_engine, monkeypatch):
    net = sp.Network(model=sp.LIF(), n=10_000, k=10, j0=1.0, target_rate=1.0,
                     connectivity="on_the_fly")
    ensemble = sp.Ensemble(net, seeds=range(4096))
    # the results (96 B per instance-neuron) fit, a batch of all 4096 does not
    monkeypatch.setattr(memory, "available_bytes", lambda: 6 * GIB)
    with pytest.raises(ValueError, match=r"batch_size = 4096: .* batch_size <= \d+ "):
        sp.run_ensemble(ensemble, t_end=1.0)
    with pytest.raises(ValueError, match=r"record='summary'"):
        sp.run_ensemble(ensemble, n_spikes=10**6, record="spikes", batch_size=16)


def test_a_cuda_batch_is_checked_against_the_device(no_engine, monkeypatch):
    ensemble_module = importlib.import_module("sparseprop_gpu.runs.ensemble")
    monkeypatch.setattr(ensemble_module, "resolve_backend", lambda backend: "cuda")
    monkeypatch.setattr(memory, "device_bytes", lambda: 64 << 20)
    net = sp.Network(model=sp.LIF(), n=10_000, k=10, j0=1.0, target_rate=1.0)
    with pytest.raises(ValueError, match=r"\(on the GPU\) .* of device memory available"):
        sp.run_ensemble(sp.Ensemble(net, seeds=range(512)), t_end=1.0, backend="cuda")


def test_the_available_memory_is_read():
    available = memory.available_bytes()
    assert available is None or available > 0
    assert memory.fits(1)
