"""Bad input raises a ValueError naming the parameter and its range, before any work."""
import importlib
import math

import numpy as np
import pytest

import sparseprop_gpu as sp

simulate_module = importlib.import_module("sparseprop_gpu.runs.simulate")


GOOD = dict(n=100, k=10, j0=1.0, target_rate=1.0)


def network(**changes):
    kw = {**GOOD, **changes}
    model = kw.pop("model", sp.LIF(tau=0.01))
    return sp.Network(model=model, **kw)


@pytest.mark.parametrize("changes, words", [
    (dict(n=1), ["n", "[2,"]),
    (dict(n=2.5), ["n", "integer"]),
    (dict(k=0), ["k", "[1, 99]"]),
    (dict(k=100), ["k", "[1, 99]"]),
    (dict(j0=0.0), ["j0", "(0"]),
    (dict(j0=math.nan), ["j0", "finite"]),
    (dict(target_rate=-1.0), ["target_rate", "(0"]),
    (dict(target_rate=math.inf), ["target_rate", "finite"]),
    (dict(seed=-1), ["seed", "[0,"]),
    (dict(ic_seed=2**63), ["ic_seed", "[0,"]),
    (dict(connectivity="dense"), ["connectivity", "'stored'"]),
    (dict(j0=None, target_rate=None, drive=0.9, coupling=-0.1), ["drive", "I > 1"]),
    (dict(j0=None, target_rate=None, drive=1.5, coupling=math.inf), ["coupling", "finite"]),
    (dict(j0=None, target_rate=None, drive=1.5, coupling=math.nan), ["coupling", "finite"]),
    (dict(j0=None, target_rate=None, model=sp.QIF(), drive=0.0, coupling=-0.1),
     ["drive", "I > 0"]),
    (dict(drive=1.5), ["either j0 and target_rate"]),
    (dict(j0=None), ["either j0 and target_rate"]),
    (dict(initial_phases=np.full(100, 1.0)), ["initial_phases", "threshold"]),
    (dict(initial_phases=np.zeros(99)), ["initial_phases", "shape"]),
    (dict(initial_phases=np.full(100, np.nan)), ["initial_phases", "finite"]),
    (dict(initial_voltages=np.full(100, 1.2)), ["initial_voltages", "threshold"]),
    (dict(model="lif"), ["model", "NeuronModel"]),
])
def test_bad_network(changes, words):
    with pytest.raises(ValueError) as err:
        network(**changes)
    for word in words:
        assert word in str(err.value)


@pytest.mark.parametrize("tau", [0.0, -0.01, math.nan, math.inf, "0.01"])
def test_bad_tau(tau):
    with pytest.raises(ValueError, match="tau"):
        sp.LIF(tau=tau)


def test_bad_target_tables():
    good = network().target_table()
    cases = [
        (good[:, :5], "shape"),
        (good.astype(float), "integers"),
        (np.where(good == good[0, 0], 100, good), r"\[0, 99\]"),
        (np.where(np.arange(100)[:, None] == 0, 0, good), "self"),
    ]
    dup = good.copy()
    dup[3, 1] = dup[3, 0]
    cases.append((dup, "distinct"))
    for table, words in cases:
        with pytest.raises(ValueError, match=words):
            network(targets=table)


@pytest.mark.parametrize("kwargs, words", [
    (dict(), "t_end"),
    (dict(t_end=0.0), "t_end"),
    (dict(t_end=math.nan), "t_end"),
    (dict(t_end=1.0, warmup=-1.0), "warmup"),
    (dict(t_end=1.0, warmup=1.0), "warmup"),
    (dict(n_spikes=0), "n_spikes"),
    (dict(t_end=1.0, record="all"), "record"),
    (dict(t_end=1.0, key="heap"), "key"),
])
def test_bad_run_settings_fail_before_the_engine(monkeypatch, kwargs, words):
    def no_engine(*args, **kw):
        raise AssertionError("the engine must not start")
    monkeypatch.setattr(simulate_module, "execute", no_engine)
    with pytest.raises(ValueError, match=words):
        sp.simulate(network(), **kwargs)


def test_exp_key_is_lif_only():
    with pytest.raises(ValueError, match="key"):
        sp.simulate(network(model=sp.QIF()), t_end=1.0, key="exp")


def test_voltages_are_accepted_as_initial_condition():
    v = np.linspace(-0.5, 0.9, 100)
    net = network(initial_voltages=v)
    np.testing.assert_allclose(net.model.phase_to_voltage(net.initial_phases, net.drive), v,
                               atol=1e-12)
