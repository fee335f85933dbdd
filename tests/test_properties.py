"""Property-based tests (Hypothesis): random valid specifications run and agree with the
oracle or with their other connectivity mode; random invalid ones get a ValueError naming the
parameter before anything is allocated or compiled (issue 11, "How it is checked").

Each property counts its cases in ``COUNTS``; ``pytest -s`` prints them at the end.
"""
import importlib
import math
from collections import Counter

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import sparseprop_gpu as sp
from sparseprop_gpu import config, reference

from conftest import assert_same_spikes

COUNTS = Counter()
FAST = settings(max_examples=100, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])
execute_module = importlib.import_module("sparseprop_gpu.runs.execute")
network_module = importlib.import_module("sparseprop_gpu.specification.network")


@pytest.fixture(scope="module", autouse=True)
def report():
    yield
    print("\nHypothesis cases per property: " + ", ".join(f"{k} {v}" for k, v in
                                                          sorted(COUNTS.items())))


@pytest.fixture
def no_engine(monkeypatch):
    """No Batch, no target table: an invalid request must be refused before either."""
    def refuse(*args, **kw):
        raise AssertionError("allocated or compiled before the input was refused")
    monkeypatch.setattr(execute_module, "Batch", refuse)
    monkeypatch.setattr(network_module, "target_table", refuse)


sizes = st.integers(2, 40).flatmap(lambda n: st.tuples(st.just(n), st.integers(1, n - 1)))
taus = st.floats(1e-4, 1.0)
seeds = st.integers(0, 2**63 - 1)


@st.composite
def balanced_networks(draw, model):
    n, k = draw(sizes)
    return sp.Network(model=model(tau=draw(taus)), n=n, k=k,
                      j0=draw(st.floats(0.1, 5.0)), target_rate=draw(st.floats(0.5, 20.0)),
                      seed=draw(seeds), ic_seed=draw(seeds))


@st.composite
def direct_lif_networks(draw):
    n, k = draw(sizes)
    drive = draw(st.one_of(st.floats(1.0 + 1e-9, 5.0), st.floats(5.0, config.LIF_MAX_DRIVE)))
    return sp.Network(model=sp.LIF(tau=draw(taus)), n=n, k=k, drive=drive,
                      coupling=-draw(st.floats(0.0, 0.5)), seed=draw(seeds))


@FAST
@given(st.one_of(balanced_networks(sp.LIF), direct_lif_networks()),
       st.sampled_from(["exp", "phase"]))
def test_inhibitory_lif_equals_the_oracle_spike_for_spike(net, key):
    COUNTS["lif = oracle"] += 1
    rec = sp.simulate(net, n_spikes=60, key=key)
    ref, _ = reference.simulate(net, n_spikes=60)
    period = net.shortest_period()
    assert_same_spikes(rec, ref, atol=1e-9 * max(1.0, rec.times[-1] / period) * period)


@FAST
@given(st.one_of(balanced_networks(sp.LIF), balanced_networks(sp.QIF)))
def test_stored_and_on_the_fly_are_the_same_network(net):
    COUNTS["stored = on the fly"] += 1
    kw = dict(model=net.model, n=net.n, k=net.k, j0=net.j0, target_rate=net.target_rate,
              seed=net.seed, ic_seed=net.ic_seed)
    a = sp.simulate(sp.Network(connectivity="stored", **kw), n_spikes=80)
    b = sp.simulate(sp.Network(connectivity="on_the_fly", **kw), n_spikes=80)
    np.testing.assert_array_equal(a.senders, b.senders)
    np.testing.assert_array_equal(a.times, b.times)


@settings(FAST, max_examples=4)
@given(st.floats(0.12, 0.4), seeds)
def test_eif_stored_and_on_the_fly_are_the_same_network(drive, seed):
    COUNTS["eif stored = on the fly"] += 1
    kw = dict(model=sp.EIF(), n=12, k=3, drive=round(drive, 2), coupling=-0.05, seed=seed)
    a = sp.simulate(sp.Network(connectivity="stored", **kw), n_spikes=40)
    b = sp.simulate(sp.Network(connectivity="on_the_fly", **kw), n_spikes=40)
    np.testing.assert_array_equal(a.times, b.times)
    np.testing.assert_array_equal(a.senders, b.senders)


BAD_NETWORK = {
    "n": st.sampled_from([1, 0, -3, 2.5, 2**31, "10", True]),
    "k": st.sampled_from([0, -1, 10, 1.5, None]),
    "j0": st.sampled_from([0.0, -1.0, math.nan, math.inf, "1"]),
    "target_rate": st.sampled_from([0.0, -2.0, math.nan, math.inf]),
    "seed": st.sampled_from([-1, 2**63, 1.0, "0"]),
    "ic_seed": st.sampled_from([-1, 2**64, 0.5]),
    "connectivity": st.sampled_from(["dense", "", None, 1]),
    "tau": st.sampled_from([0.0, -0.01, math.nan, math.inf, 1e-300]),
    "drive": st.sampled_from([1.0, 0.5, -1.0, math.nan, 2e6, 1e17]),
    "coupling": st.sampled_from([math.inf, math.nan, -math.inf]),
    "initial_phases": st.sampled_from([np.ones(10), np.zeros(9), np.full(10, np.nan),
                                       np.zeros(10, complex), np.zeros((10, 1))]),
}
WORDS = {"tau": "tau", "drive": "drive", "coupling": "coupling"}


@FAST
@given(st.sampled_from(sorted(BAD_NETWORK)).flatmap(
    lambda name: st.tuples(st.just(name), BAD_NETWORK[name])))
def test_an_invalid_network_is_refused_naming_the_parameter(no_engine, bad):
    name, value = bad
    COUNTS["invalid network"] += 1
    direct = name in ("drive", "coupling")
    kw = dict(n=10, k=3, **(dict(drive=1.5, coupling=-0.1) if direct else
                            dict(j0=1.0, target_rate=1.0)))
    if name == "tau":
        with pytest.raises(ValueError, match="tau"):
            sp.Network(model=sp.LIF(tau=value), **kw)
        return
    kw[name] = value
    with pytest.raises(ValueError) as err:
        sp.Network(model=sp.LIF(tau=0.01), **kw)
    assert name in str(err.value)


BAD_RUN = {
    "t_end": st.sampled_from([0.0, -1.0, math.nan, "1"]),
    "n_spikes": st.sampled_from([0, -5, 1.5]),
    "warmup": st.sampled_from([-1.0, math.nan, 2.0]),
    "record": st.sampled_from(["all", "every"]),
    "key": st.sampled_from(["heap", "time2"]),
    "batch_size": st.sampled_from([0, -1, 2.5]),
    "buffer_spikes": st.sampled_from([0, 1.5]),
}


@FAST
@given(st.sampled_from(sorted(BAD_RUN)).flatmap(
    lambda name: st.tuples(st.just(name), BAD_RUN[name])),
    st.lists(st.floats(0.5, 2.0), min_size=1, max_size=5))
def test_an_invalid_ensemble_run_is_refused_before_the_engine(no_engine, bad, j0s):
    name, value = bad
    COUNTS["invalid ensemble run"] += 1
    net = sp.Network(model=sp.LIF(tau=0.01), n=10, k=3, j0=1.0, target_rate=1.0,
                     connectivity="on_the_fly")
    kw = {"t_end": 1.0, name: value}
    with pytest.raises(ValueError) as err:
        sp.run_ensemble(sp.Ensemble(net, j0=j0s), **kw)
    assert name.split("_")[0] in str(err.value)


@FAST
@given(st.integers(1, 6).flatmap(lambda m: st.tuples(
    st.integers(0, m - 1),
    st.sampled_from([("j0", -1.0), ("j0", math.nan), ("n", 1), ("k", 0), ("seeds", -1),
                     ("tau", 0.0), ("target_rate", math.inf)]),
    st.just(m))))
def test_one_bad_instance_is_named(no_engine, case):
    bad, (name, value), m = case
    COUNTS["invalid ensemble instance"] += 1
    good = {"j0": 1.0, "n": 10, "k": 3, "seeds": 7, "tau": 0.01, "target_rate": 1.0}
    values = [value if i == bad else good[name] for i in range(m)]
    net = sp.Network(model=sp.LIF(tau=0.01), n=10, k=3, j0=1.0, target_rate=1.0)
    with pytest.raises(ValueError) as err:
        sp.Ensemble(net, **{name: values})
    assert f"instance {bad}" in str(err.value)
    assert name.rstrip("s") in str(err.value)


@st.composite
def sweep_specs(draw):
    model = draw(st.sampled_from(["lif", "qif"]))
    network = {"model": model, "n": draw(st.integers(5, 30)), "k": 3,
               "tau": draw(st.floats(0.005, 0.05)), "j0": 1.0, "target_rate": 2.0}
    axes = draw(st.lists(st.sampled_from(["j0", "target_rate", "seed", "k"]), min_size=1,
                         max_size=2, unique=True))
    sweep = {}
    for name in axes:
        if name == "seed":
            sweep[name] = {"range": draw(st.integers(1, 3))}
        elif name == "k":
            sweep[name] = draw(st.lists(st.integers(1, 4), min_size=1, max_size=2))
        else:
            sweep[name] = {"linspace": [0.5, draw(st.floats(0.6, 3.0)), draw(st.integers(1, 3))]}
    run = {"n_spikes": 30, "record": "spikes", "batch_size": draw(st.integers(1, 4))}
    return {"network": network, "sweep": sweep, "run": run}


@settings(FAST, max_examples=25)
@given(sweep_specs())
def test_a_valid_sweep_runs_each_instance_as_alone(spec):
    COUNTS["valid sweep"] += 1
    sweep = sp.Sweep.from_dict(spec)
    assert sp.Sweep.from_spec(sweep.spec) == sweep
    for b in range(sweep.n_batches):
        lo, hi = sweep.batch_bounds(b)
        ensemble = sp.Ensemble.from_sweep(sweep, lo, hi)
        ds = sp.run_ensemble(ensemble, n_spikes=30, record="spikes", backend="cpu")
        for m in range(hi - lo):
            alone = sp.simulate(sweep.network(lo + m), n_spikes=30)
            times, senders = ds.sp.spikes(m)
            np.testing.assert_array_equal(senders, alone.senders)
            np.testing.assert_array_equal(times, alone.times)


BAD_SWEEP = [
    ({"network": {"n": 10, "k": 3, "j0": 1.0, "target_rate": 1.0}}, "network.model"),
    ({"network": {"model": "lif", "n": 10, "k": 3, "j0": 1.0, "target_rate": 1.0,
                  "colour": 1}}, "network.colour"),
    ({"sweep": {"j0": {"linspace": [1.0, 2.0]}}}, "sweep.j0"),
    ({"sweep": {"j0": {"linspace": [1.0, 2.0, -1]}}}, "sweep.j0"),
    ({"sweep": {"j0": []}}, "sweep.j0"),
    ({"sweep": {"j0": [1.0, -1.0]}}, "sweep.j0"),
    ({"sweep": {"seed": {"range": [0, 5, 0]}}}, "sweep.seed"),
    ({"sweep": {"seed": [0, -1]}}, "sweep.seed"),
    ({"sweep": {"k": [3, 10]}}, "k"),
    ({"sweep": {"n": {"linspace": [5, 10, 4]}}}, "sweep.n"),
    ({"sweep": {"tau": [0.01, 0.0]}}, "tau"),
    ({"sweep": {"drive": [1.5]}}, "network"),
    ({"sweep": {"mode": "zip", "j0": [1.0, 2.0], "seed": [1]}}, "zip"),
    ({"sweep": {"seed": {"range": 10**12}}}, "[sweep]"),
    ({"run": {"t_end": -1.0}}, "t_end"),
    ({"run": {"t_end": 1.0, "record": "all"}}, "run.record"),
    ({"run": {"t_end": 1.0, "batch_size": 0}}, "run.batch_size"),
    ({"run": {"t_end": 1.0, "per_neuron": ["volume"]}}, "run.per_neuron"),
    ({"run": {"t_end": 1.0, "warmup": 2.0}}, "warmup"),
    ({"run": {}}, "t_end"),
    ({"run": {"t_end": 1e6, "n_spikes": 5}, "network": {"model": "lif", "n": 10, "k": 3,
                                                        "drive": 5e5, "coupling": -0.1}},
     "t_end"),
]


@FAST
@given(st.sampled_from(range(len(BAD_SWEEP))), st.integers(0, 3))
def test_an_invalid_sweep_is_refused_naming_the_key(no_engine, which, extra_seeds):
    COUNTS["invalid sweep"] += 1
    change, word = BAD_SWEEP[which]
    spec = {"network": {"model": "lif", "n": 10, "k": 3, "j0": 1.0, "target_rate": 1.0},
            "sweep": {"seed": {"range": extra_seeds + 1}}, "run": {"t_end": 1.0}}
    for section, value in change.items():
        spec[section] = value if section != "sweep" else {**spec["sweep"], **value}
    with pytest.raises(ValueError) as err:
        sp.Sweep.from_dict(spec)
    assert word in str(err.value)


@FAST
@given(st.floats(1.0 + 2**-40, config.LIF_MAX_DRIVE), taus)
def test_the_lif_period_matches_the_closed_form(drive, tau):
    COUNTS["lif period"] += 1
    period = sp.LIF(tau=tau).period(drive)
    assert period == pytest.approx(tau * math.log1p(1.0 / (drive - 1.0)), rel=4e-16)
    assert period > 0 and math.isfinite(period)
