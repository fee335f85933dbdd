"""One result shape: an ensemble's Dataset and a sweep store opened with open_results have the
same variables, coordinates, flat spikes and ds.sp, and the same code reads both."""
import numpy as np
import pytest

import sparseprop_gpu as sp
from sparseprop_gpu import analysis as an
from sparseprop_gpu.distributed import run_sweep
from sparseprop_gpu.storage import spikes as store_spikes

from conftest import record_calls

SPEC = {"network": {"model": "lif", "n": 50, "k": 5, "tau": 0.01, "j0": 1.0},
        "sweep": {"target_rate": [1.0, 3.0], "seed": {"range": 3}},
        "run": {"t_end": 0.5, "warmup": 0.1, "record": "spikes",
                "per_neuron": ["count", "rate", "cv_isi", "isi_sum", "isi_sumsq"],
                "batch_size": 4, "backend": "cpu"}}


@pytest.fixture(scope="module")
def both(tmp_path_factory):
    path = tmp_path_factory.mktemp("results") / "s.zarr"
    run_sweep(SPEC, path, in_process=True, progress=False)
    sweep = sp.Sweep(**SPEC)
    memory = sp.run_ensemble(sp.Ensemble.from_sweep(sweep, 0, len(sweep)),
                             **sweep.run_kwargs())
    return memory, sp.open_results(path)


def test_same_variables_dimensions_and_coordinates(both):
    memory, store = both
    stored = [name for name in store.data_vars if name != "batch_done"]
    assert list(memory.data_vars) == stored
    for name in stored:
        assert memory[name].dims == store[name].dims, name
        assert memory[name].dtype == store[name].dtype, name
    assert set(memory.coords) == set(store.coords)


def test_same_values_and_spikes(both):
    memory, store = both
    for name in memory.data_vars:
        np.testing.assert_array_equal(memory[name].values, store[name].values, err_msg=name)
    for name in memory.coords:
        np.testing.assert_array_equal(memory[name].values, store[name].values, err_msg=name)
    for source in both:
        np.testing.assert_array_equal(source.sp.offsets, memory.sp.offsets)
        times, senders = source.sp.spikes(4)
        np.testing.assert_array_equal(times, memory.sp.times[memory.sp.offsets[4]:
                                                             memory.sp.offsets[5]])
        assert senders.dtype == np.int32


def test_the_same_code_reads_both(both):
    memory, store = both
    for name in ("rates", "cv_isi", "mean_rate"):
        np.testing.assert_array_equal(np.asarray(getattr(an, name)(memory)),
                                      np.asarray(getattr(an, name)(store)), err_msg=name)
    a, b = memory.sp.record(3), store.sp.record(3)
    np.testing.assert_array_equal(a.times, b.times)
    np.testing.assert_array_equal(a.counts, b.counts)
    assert (a.t_start, a.t_stop) == (b.t_start, b.t_stop) == (0.1, 0.5)
    assert memory.sp.network(5).seed == store.sp.network(5).seed == 2
    grouped = [source.rate_mean.groupby("target_rate").mean().values for source in both]
    np.testing.assert_array_equal(*grouped)


def test_a_store_reads_only_the_spikes_it_is_asked_for(both, monkeypatch):
    _, store = both
    read = record_calls(monkeypatch, store_spikes.FlatSpikes, "_read")
    times, _ = store.sp.spikes(5)
    start = int(store["spike_start"].values[5])
    total = store.sizes["spike"]
    assert len(read) == 2                        # spike_time and spike_sender, that range only
    assert all(key[0].indices(total)[:2] == (start, start + times.size) for key in read)


def test_an_instance_subset_keeps_its_own_spikes(both):
    memory, store = both
    for source in both:
        picked = source.isel(instance=[5, 1])
        np.testing.assert_array_equal(picked.sp.spikes(0)[0], memory.sp.spikes(5)[0])
        np.testing.assert_array_equal(picked.sp.spikes(1)[1], memory.sp.spikes(1)[1])
