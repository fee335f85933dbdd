"""Refractory periods in the engine (docs/design.md §2.13): spike for spike against the oracle
(``reference.simulate_populations``), per instance in ensembles, and bad input refused."""
import math
import types

import numpy as np
import pytest

import sparseprop_gpu as sp
from sparseprop_gpu import reference
from sparseprop_gpu.reference import Population

from conftest import assert_each_instance_as_alone, assert_same_spikes

TAU = 0.01


def oracle(net, n_spikes):
    """The oracle's spikes of ``net`` (one population, zero delay; its CSR built from
    ``net.target_table()``)."""
    table = net.target_table()
    n, k = table.shape
    times, senders, _ = reference.simulate_populations(
        [Population(net.model, net.initial_phases, net.drive, net.t_ref)],
        np.arange(0, n * k + 1, k), table.ravel(), np.full(n * k, net.coupling), np.zeros(n * k),
        n_spikes=n_spikes)
    return types.SimpleNamespace(times=times, senders=senders)


def assert_as_oracle(net, n_spikes, atol, keys=("auto",)):
    """The engine's spikes of ``net`` on each of ``keys`` equal the oracle's: same senders in
    the same order, times within ``atol`` (s)."""
    want = oracle(net, n_spikes)
    for key in keys:
        assert_same_spikes(sp.simulate(net, n_spikes=n_spikes, key=key), want, atol=atol)
    return want


def lif(**kw):
    return sp.Network(model=sp.LIF(tau=TAU), n=200, k=20, seed=4, **kw)


@pytest.mark.parametrize("connectivity", ["stored", "on_the_fly"])
def test_lif_inhibition_with_refractoriness_is_the_oracle(connectivity):
    net = lif(drive=1.5, coupling=-0.1, t_ref=0.002, connectivity=connectivity)
    assert_as_oracle(net, 5000, 1e-12, keys=("exp", "phase", "time"))


def test_lif_per_neuron_drive_with_refractoriness_is_the_oracle():
    drive = sp.heterogeneous(np.random.default_rng(2).uniform(1.1, 3.0, 200))
    net = lif(drive=drive, coupling=-0.1, t_ref=0.002)
    assert_as_oracle(net, 3000, 1e-12, keys=("auto", "time"))    # exp-time and time keys


@pytest.mark.parametrize("model, spikes, atol", [
    (sp.QIF(tau=TAU), 200, 1e-12), (sp.EIF(tau=TAU), 200, 1e-11)])
def test_qif_and_eif_with_refractoriness_are_the_oracle(model, spikes, atol):
    net = sp.Network(model=model, n=200, k=20, drive=1.0 if model.name == "qif" else 1.5,
                     coupling=-0.1, seed=4, t_ref=0.002)
    assert_as_oracle(net, spikes, atol)


@pytest.mark.parametrize("key", ["exp", "phase", "time"])
def test_an_uncoupled_neuron_fires_every_t_ref_plus_its_free_period(key):
    net = sp.Network(model=sp.LIF(tau=TAU), n=2, k=1, drive=2.0, coupling=0.0, t_ref=0.003,
                     initial_phases=[0.0, 0.5])
    result = sp.simulate(net, n_spikes=40, key=key)
    period = 0.003 + TAU * math.log(2.0)
    np.testing.assert_allclose(np.diff(result.times[result.senders == 0]), period, rtol=1e-12)


def test_a_chaotic_network_with_refractoriness_has_the_oracle_s_statistics():
    """QIF, inhibition: spike times part from the oracle's after ~1000 spikes (chaos); the
    rate and the neurons' mean CV do not (measured: 0.2 % and 1 %)."""
    net = sp.Network(model=sp.QIF(tau=TAU), n=100, k=10, drive=1.0, coupling=-0.5, seed=3,
                     t_ref=0.004)
    want = oracle(net, 20_000)
    got = sp.simulate(net, n_spikes=20_000)

    def stats(r):
        isi = [np.diff(r.times[r.senders == i]) for i in range(net.n)]
        cv = np.mean([d.std() / d.mean() for d in isi if d.size > 2])
        return r.times[-1], cv, min(d.min() for d in isi if d.size)
    (t_a, cv_a, low_a), (t_b, cv_b, low_b) = stats(got), stats(want)
    assert abs(t_a / t_b - 1) < 0.02 and abs(cv_a / cv_b - 1) < 0.05      # rate, mean CV
    assert min(low_a, low_b) >= 0.004             # no interval shorter than t_ref


def test_t_ref_varies_per_instance_in_an_ensemble():
    net = lif(drive=1.5, coupling=-0.1)
    ensemble = sp.Ensemble(net, t_ref=[0.0, 0.002, 0.004])
    result = sp.run_ensemble(ensemble, n_spikes=500, record="spikes")
    assert_each_instance_as_alone(ensemble, result, n_spikes=500)
    np.testing.assert_array_equal(ensemble.table.columns["t_ref"], [0.0, 0.002, 0.004])
    for m, t_ref in enumerate((0.0, 0.002, 0.004)):
        assert_same_spikes(types.SimpleNamespace(times=result.sp.spikes(m)[0],
                                                 senders=result.sp.spikes(m)[1]),
                           oracle(ensemble.instances[m], 500), atol=1e-12)
        assert ensemble.instances[m].t_ref == result.sp.network(m).t_ref == t_ref


@pytest.mark.parametrize("bad", [-0.001, math.nan, math.inf, 10.0, "0.002"])
def test_bad_t_ref_is_refused_naming_it(bad):
    with pytest.raises(ValueError, match=r"t_ref \(s"):
        lif(drive=1.5, coupling=-0.1, t_ref=bad)
    with pytest.raises(ValueError, match=r"instance [01]: t_ref \(s"):
        sp.Ensemble(lif(drive=1.5, coupling=-0.1), t_ref=[0.001, bad])


@pytest.mark.parametrize("key", ["exp", "phase"])
def test_a_refractory_run_continues_from_its_record_file_bitwise(tmp_path, key):
    net = lif(drive=1.5, coupling=0.05, t_ref=0.002)
    whole = sp.simulate(net, n_spikes=400, key=key)
    sp.simulate(net, n_spikes=150, key=key).save(tmp_path / "first.npz")
    assert "refractory_end" in sp.load_record(tmp_path / "first.npz").state
    rest = sp.simulate(net, n_spikes=400, continue_from=tmp_path / "first.npz")
    np.testing.assert_array_equal(rest.times, whole.times)
    np.testing.assert_array_equal(rest.senders, whole.senders)
    np.testing.assert_array_equal(rest.state["refractory_end"], whole.state["refractory_end"])


def test_a_refractory_ensemble_is_not_continued_from_its_result():
    ensemble = sp.Ensemble(lif(drive=1.5, coupling=-0.1), t_ref=[0.0, 0.002])
    first = sp.run_ensemble(ensemble, n_spikes=100, backend="cpu")
    with pytest.raises(ValueError, match="end of refractoriness"):
        sp.run_ensemble(ensemble, n_spikes=200, backend="cpu", continue_from=first)


def test_t_ref_zero_is_described_as_before_and_t_ref_is_kept():
    assert "t_ref" not in lif(drive=1.5, coupling=-0.1).describe()
    net = lif(drive=1.5, coupling=-0.1, t_ref=0.002)
    assert net.describe()["t_ref"] == 0.002
    assert sp.Network.from_description(net.describe()).t_ref == 0.002
