"""Ensembles: every instance equals its own simulate(), whatever the batch or backend."""

import numpy as np
import pytest

import sparseprop_gpu as sp

from conftest import under_simulator

M = 6


@pytest.fixture(scope="module")
def ensemble():
    net = sp.Network(model=sp.LIF(tau=0.01), n=300, k=20, j0=1.0, target_rate=2.0, seed=0)
    return sp.Ensemble(net, seeds=range(10, 10 + M), j0=np.linspace(0.5, 2.0, M))


@pytest.fixture(scope="module")
def spikes_result(ensemble):
    return sp.run_ensemble(ensemble, t_end=1.0, record="spikes", backend="cpu")


def test_every_instance_equals_its_own_simulation(ensemble, spikes_result):
    for m, net in enumerate(ensemble.instances):
        alone = sp.simulate(net, t_end=1.0)
        times, senders = spikes_result.sp.spikes(m)
        np.testing.assert_array_equal(times, alone.times)
        np.testing.assert_array_equal(senders, alone.senders)
        np.testing.assert_array_equal(spikes_result["count"].values[m], alone.counts)
        np.testing.assert_array_equal(spikes_result["isi_sum"].values[m], alone.isi_sum)
    assert spikes_result["j0"].values[3] == pytest.approx(np.linspace(0.5, 2.0, M)[3])
    assert (spikes_result["rate"].values.shape == (M, 300)
            and spikes_result["rate_mean"].values.shape == (M,))


def test_batches_buffers_and_record_mode_change_nothing(ensemble, spikes_result):
    for kw in (dict(batch_size=1), dict(batch_size=4, buffer_spikes=1),
               dict(record="summary", buffer_spikes=3)):
        out = sp.run_ensemble(ensemble, t_end=1.0, **{"record": "spikes", **kw}, backend="cpu")
        np.testing.assert_array_equal(out["count"].values, spikes_result["count"].values)
        np.testing.assert_array_equal(out["isi_sumsq"].values, spikes_result["isi_sumsq"].values)
        if kw.get("record", "spikes") == "spikes":
            np.testing.assert_array_equal(out.sp.times, spikes_result.sp.times)
            np.testing.assert_array_equal(out.sp.offsets, spikes_result.sp.offsets)


def test_position_in_the_ensemble_does_not_matter(ensemble, spikes_result):
    seeds = np.arange(10, 10 + M)[::-1]
    flipped = sp.Ensemble(ensemble.network, seeds=seeds, j0=np.linspace(0.5, 2.0, M)[::-1])
    out = sp.run_ensemble(flipped, t_end=1.0, backend="cpu")
    np.testing.assert_array_equal(out["count"].values[::-1], spikes_result["count"].values)


def test_per_instance_sizes_within_capacity():
    net = sp.Network(model=sp.QIF(tau=0.01), n=100, k=10, j0=1.0, target_rate=2.0)
    ens = sp.Ensemble(net, n=[50, 100, 80], k=[5, 10, 7], seeds=[1, 2, 3])
    out = sp.run_ensemble(ens, t_end=0.5, backend="cpu")
    for m, net_m in enumerate(ens.instances):
        alone = sp.simulate(net_m, t_end=0.5, record="summary")
        counts, rates = out["count"].values, out["rate"].values
        np.testing.assert_array_equal(counts[m, :net_m.n], alone.counts)
        assert np.all(counts[m, net_m.n:] == 0) and np.all(np.isnan(rates[m, net_m.n:]))
        assert out.sp.record(m).n == net_m.n


def test_shared_stored_table_equals_per_instance_topology():
    net = sp.Network(model=sp.LIF(tau=0.01), n=200, k=10, j0=1.0, target_rate=2.0, seed=4,
                     connectivity="stored")
    shared = sp.Ensemble(net, ic_seeds=range(4))
    own = sp.Ensemble(sp.Network(model=sp.LIF(tau=0.01), n=200, k=10, j0=1.0, target_rate=2.0,
                                 seed=4, connectivity="on_the_fly"), ic_seeds=range(4))
    assert shared.shared_table and not own.shared_table
    a = sp.run_ensemble(shared, n_spikes=500, record="spikes", backend="cpu")
    b = sp.run_ensemble(own, n_spikes=500, record="spikes", backend="cpu")
    np.testing.assert_array_equal(a.sp.times, b.sp.times)
    np.testing.assert_array_equal(a.sp.senders, b.sp.senders)


def test_per_instance_initial_phases_are_each_instance_s_own_start():
    net = sp.Network(model=sp.QIF(tau=0.01), n=60, k=6, j0=1.0, target_rate=5.0, seed=3,
                     connectivity="stored")
    phases = np.random.default_rng(1).uniform(-3.0, 3.0, (3, 60))
    out = sp.run_ensemble(sp.Ensemble(net, initial_phases=phases, j0=[1.0, 1.2, 0.8]),
                          n_spikes=300, record="spikes", backend="cpu")
    for m, j0 in enumerate((1.0, 1.2, 0.8)):
        alone = sp.simulate(sp.Network(model=net.model, n=60, k=6, j0=j0, target_rate=5.0,
                                       seed=3, connectivity="stored",
                                       initial_phases=phases[m]), n_spikes=300)
        np.testing.assert_array_equal(out.sp.spikes(m)[0], alone.times)
        np.testing.assert_array_equal(out.sp.spikes(m)[1], alone.senders)
    with pytest.raises(ValueError, match="ic_seed cannot vary .*initial_phases"):
        sp.Ensemble(net, initial_phases=phases, ic_seeds=[1, 2, 3])
    with pytest.raises(ValueError, match=r"initial_phases .*shape \(3, 60\)"):
        sp.Ensemble(net, initial_phases=phases[:, :10])
    with pytest.raises(ValueError, match=r"initial_phases .*\(-3.14159, 3.14159\)"):
        sp.Ensemble(net, initial_phases=np.full((2, 60), -4.0))
    with pytest.raises(ValueError, match="initial_phases: per-instance phases are for a single"):
        sp.Ensemble(sp.brunel(n_e=40), initial_phases=phases)


@pytest.mark.parametrize("kwargs, words", [
    (dict(seeds=range(4), j0=[1.0, 2.0]), "same length"),
    (dict(seeds=[]), "at least one"),
    (dict(j0=[1.0, -1.0]), "instance 1: j0"),
    (dict(drive=[1.5, 2.0]), "drive given per instance"),
    (dict(n=[100, 400], n_max=300), "n_max = 300"),
    (dict(k=[10, 20], k_max=15), "k_max = 15"),
])
def test_bad_ensembles(ensemble, kwargs, words):
    with pytest.raises(ValueError, match=words):
        sp.Ensemble(ensemble.network, **kwargs)


def test_bad_runs(ensemble):
    with pytest.raises(ValueError, match="buffer_spikes"):
        sp.run_ensemble(ensemble, t_end=1.0, buffer_spikes=0)
    with pytest.raises(ValueError, match="backend"):
        sp.run_ensemble(ensemble, t_end=1.0, backend="gpu")
    with pytest.raises(ValueError, match="batch_size"):
        sp.run_ensemble(ensemble, t_end=1.0, batch_size=0)


def test_cuda_without_a_gpu_says_what_is_missing(ensemble):
    from sparseprop_gpu.engine import cuda
    usable, message = cuda.status()
    if usable:
        pytest.skip(f"a CUDA device is usable here: {message}")
    with pytest.raises(RuntimeError, match="not usable"):
        sp.run_ensemble(ensemble, t_end=1.0, backend="cuda")
    assert sp.run_ensemble(ensemble, t_end=0.2, backend="auto").sp.meta["backend"] == "cpu"


SIMULATOR_SCRIPT = """
import json, warnings
import numpy as np
import sparseprop_gpu as sp
warnings.simplefilter("ignore", RuntimeWarning)   # uint64 wraparound of the hash, in Python
out = {}
cases = [(model.name, sp.Ensemble(sp.Network(model=model, n=40, k=5, j0=1.0, target_rate=10.0,
                                             seed=0), seeds=range(8), j0=np.linspace(0.5, 2.0, 8)))
         for model in (sp.LIF(tau=0.01), sp.QIF(tau=0.01), sp.EIF(tau=0.01))]
# heterogeneous instances on the time key: two drives (two tables each) and per-neuron tau
cases.append(("eif, two drives, tau per neuron", sp.Ensemble(sp.Network(
    model=sp.EIF(tau=0.01), n=40, k=5, coupling=-0.2, seed=0,
    drive=sp.heterogeneous(lambda i, n: np.where(i % 2 == 0, 0.3, 0.6)),
    tau=sp.heterogeneous(lambda i, n: 0.01 * (1 + 0.2 * np.cos(i)))), seeds=range(4),
    coupling=[-0.2, -0.3, -0.1, -0.25])))
for name, ens in cases:
    for record in ("spikes", "summary"):
        cuda = sp.run_ensemble(ens, n_spikes=300, backend="cuda", record=record, buffer_spikes=64)
        cpu = sp.run_ensemble(ens, n_spikes=300, backend="cpu", record=record)
        # spikes flat (ds.sp.times, ...) only with record="spikes"; none kept by either else
        kept = record == "spikes"
        none = "spike_time" not in cuda and "spike_time" not in cpu
        out[name + " " + record] = dict(
            backend=cuda.sp.meta["backend"],
            senders=bool(np.array_equal(cuda.sp.senders, cpu.sp.senders)) if kept else none,
            offsets=bool(np.array_equal(cuda.sp.offsets, cpu.sp.offsets)) if kept else none,
            max_dt=(float(np.abs(cuda.sp.times - cpu.sp.times).max())
                    if kept and cpu.sp.times.size else 0.0),
            counts=bool(np.array_equal(cuda["count"].values, cpu["count"].values)),
            isi=bool(np.array_equal(cuda["isi_sumsq"].values, cpu["isi_sumsq"].values)))
print(json.dumps(out))
"""


def test_cuda_kernel_under_the_simulator_equals_cpu():
    """The CUDA kernel, run by Numba's CUDA simulator, against the CPU backend.

    8 instances with their own seeds and couplings, 300 spikes each through a
    64-spike buffer (drained and relaunched four times), LIF, QIF and EIF (tables, input
    map), and heterogeneous EIF instances (two drives, per-neuron tau: the time key).
    """
    for case, result in under_simulator(SIMULATOR_SCRIPT).items():
        assert result["backend"] == "cuda", case
        assert result["senders"] and result["offsets"] and result["counts"] and result["isi"], case
        assert result["max_dt"] <= 1e-12, case
