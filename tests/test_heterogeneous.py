"""Heterogeneous neurons (per-neuron drive and tau) on the time key, docs/design.md §2.4."""
import numpy as np
import pytest

import sparseprop_gpu as sp
from sparseprop_gpu import reference

from conftest import (assert_each_instance_as_alone, assert_same_spikes,
                      assert_statistics_agree_with_oracle)


def drive_profile(i, n):
    return 0.07 * (1 + 0.4 * np.sin(2 * np.pi * i / n))


@pytest.fixture(scope="module")
def hetero_lif():
    return sp.Network(model=sp.LIF(tau=0.01), n=2000, k=50, j0=1.0, target_rate=1.0, seed=1,
                      drive=sp.heterogeneous(drive_profile),
                      tau=sp.heterogeneous(lambda i, n: 0.01 * (1 + 0.2 * np.cos(i))))


def test_time_key_matches_heterogeneous_oracle(hetero_lif):
    assert hetero_lif.heterogeneous
    rec = sp.simulate(hetero_lif, n_spikes=20_000)
    assert rec.meta["key"] == "time"
    ref, _ = reference.simulate(hetero_lif, n_spikes=20_000)
    assert_same_spikes(rec, ref, atol=1e-12)


def test_exp_time_key_matches_heterogeneous_oracle():
    """Per-neuron drive, one tau: LIF keeps one addition per input (the exp-time key)."""
    net = sp.Network(model=sp.LIF(tau=0.01), n=2000, k=50, j0=1.0, target_rate=1.0, seed=1,
                     drive=sp.heterogeneous(drive_profile))
    rec = sp.simulate(net, n_spikes=20_000)
    assert rec.meta["key"] == "exp"
    ref, _ = reference.simulate(net, n_spikes=20_000)
    assert_same_spikes(rec, ref, atol=1e-12)
    assert_same_spikes(rec, sp.simulate(net, n_spikes=20_000, key="time"), atol=1e-12)


def test_on_the_fly_heterogeneous_equals_stored(hetero_lif):
    other = sp.Network(model=sp.LIF(tau=0.01), n=2000, k=50, j0=1.0, target_rate=1.0, seed=1,
                       drive=sp.heterogeneous(drive_profile),
                       tau=sp.heterogeneous(lambda i, n: 0.01 * (1 + 0.2 * np.cos(i))),
                       connectivity="on_the_fly")
    a = sp.simulate(hetero_lif, n_spikes=5000)
    b = sp.simulate(other, n_spikes=5000)
    np.testing.assert_array_equal(a.times, b.times)


def test_equal_neurons_reproduce_the_homogeneous_engine():
    homo = sp.Network(model=sp.LIF(tau=0.01), n=2000, k=50, j0=1.0, target_rate=1.0, seed=1)
    external = homo.drive - 1.0
    same = sp.Network(model=sp.LIF(tau=0.01), n=2000, k=50, j0=1.0, target_rate=1.0, seed=1,
                      drive=sp.heterogeneous(np.full(2000, external)))
    np.testing.assert_array_equal(same.drive, homo.drive)
    a = sp.simulate(same, n_spikes=20_000)
    for key in ("phase", "exp"):
        assert_same_spikes(a, sp.simulate(homo, n_spikes=20_000, key=key), atol=1e-12)


def test_heterogeneous_qif_statistics_agree_with_oracle():
    net = sp.Network(model=sp.QIF(tau=0.01), n=1000, k=50, j0=1.0, target_rate=2.0, seed=4,
                     drive=sp.heterogeneous(lambda i, n: 0.1 * (1 + 0.3 * np.sin(i))))
    assert_statistics_agree_with_oracle(net, t_end=5.0, warmup=1.0)


def test_long_heterogeneous_run_stays_exact():
    """Rebasing the time key: 1e3 s later the spikes still match the oracle."""
    net = sp.Network(model=sp.LIF(tau=0.01), n=100, k=10, j0=1.0, target_rate=1.0, seed=3,
                     drive=sp.heterogeneous(lambda i, n: 0.03 * (1 + 0.3 * np.sin(i))))
    ref, _ = reference.simulate(net, t_end=1000.0, warmup=990.0, n_spikes=10**6)
    assert ref.times.size > 100
    for key in ("time", "exp"):
        assert_same_spikes(sp.simulate(net, t_end=1000.0, warmup=990.0, key=key), ref, atol=1e-9)


@pytest.mark.parametrize("kwargs, words", [
    (dict(drive=sp.heterogeneous(lambda i, n: np.where(i == 7, -2.0, 0.1))), "neuron 7: drive"),
    (dict(drive=sp.heterogeneous(np.full(99, 0.1))), "drive"),
    (dict(drive=sp.heterogeneous(lambda i, n: np.full(n, np.nan))), "drive must be finite"),
    (dict(tau=sp.heterogeneous(lambda i, n: np.where(i == 3, 0.0, 0.01))), "tau must be > 0"),
    (dict(tau=0.02), "tau must be sp.heterogeneous"),
])
def test_bad_heterogeneous_parameters(kwargs, words):
    with pytest.raises(ValueError, match=words):
        sp.Network(model=sp.LIF(tau=0.01), n=100, k=10, j0=1.0, target_rate=1.0, **kwargs)


def test_heterogeneous_network_needs_the_time_key(hetero_lif):
    with pytest.raises(ValueError, match="key must be 'time'"):
        sp.simulate(hetero_lif, t_end=1.0, key="exp")        # per-neuron tau: no exp key
    with pytest.raises(ValueError, match="key must be 'time'"):
        sp.simulate(hetero_lif, t_end=1.0, key="phase")


@pytest.mark.parametrize("model, key", [(sp.LIF(tau=0.01), "auto"), (sp.LIF(tau=0.01), "time"),
                                        (sp.QIF(tau=0.01), "auto")])
def test_an_ensemble_of_heterogeneous_networks_equals_its_instances_alone(model, key):
    profile = sp.heterogeneous(lambda i, n: 0.1 * (1 + 0.4 * np.sin(2 * np.pi * i / n)))
    net = sp.Network(model=model, n=300, k=20, j0=1.0, target_rate=2.0, seed=1, drive=profile)
    ens = sp.Ensemble(net, seeds=[1, 2, 3], n=[300, 250, 300], j0=[1.0, 1.5, 0.8])
    assert "drive" not in ens.parameters() and ens.instances[1].drive.shape == (250,)
    out = sp.run_ensemble(ens, t_end=0.5, record="spikes", backend="cpu", key=key, batch_size=2)
    assert out.sp.meta["key"] == ("exp" if key == "auto" and model.name == "lif" else "time")
    assert_each_instance_as_alone(ens, out, t_end=0.5, key=key)


def test_an_ensemble_of_eif_networks_with_two_drives_and_per_neuron_tau():
    net = sp.Network(model=sp.EIF(tau=0.01), n=200, k=20, coupling=-0.2, seed=1,
                     drive=sp.heterogeneous(lambda i, n: np.where(i % 2 == 0, 0.3, 0.6)),
                     tau=sp.heterogeneous(lambda i, n: 0.01 * (1 + 0.2 * np.cos(i))))
    ens = sp.Ensemble(net, seeds=[1, 2, 3], coupling=[-0.2, -0.3, -0.1])
    assert "drive" not in ens.parameters() and "tau" not in ens.parameters()
    out = sp.run_ensemble(ens, t_end=0.3, record="spikes", backend="cpu")
    assert_each_instance_as_alone(ens, out, t_end=0.3)
    for name, values in (("drive", [0.3, 0.4]), ("tau", [0.01, 0.02])):
        with pytest.raises(ValueError, match=f"{name} is per neuron in this network"):
            sp.Ensemble(net, seeds=[1, 2], **{name: values})
