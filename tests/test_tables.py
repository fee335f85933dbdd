"""Models from tables (EIF, TableModel): docs/design.md §2.1 reference values, closed forms
reproduced, networks through the table path, bad models refused."""
import math
import time

import numpy as np
import pytest

import sparseprop_gpu as sp
from sparseprop_gpu import reference
from sparseprop_gpu.specification import lookup as tables
from sparseprop_gpu.kernels import lookup as kt

from conftest import assert_each_instance_as_alone, assert_same_spikes

EIF_REF = {"period": 2.98900730800703, "omega": 0.334559235543243,
           "ptc": {0.1: 0.0613170703633, 0.5: 0.390121827845, 0.99: 0.971727400320}}


def lif_table(**kw):
    return sp.TableModel(lambda v: -v, v_reset=0.0, v_spike=1.0, tau=0.01, tail="leak", **kw)


def test_eif_reference_values():
    eif = sp.EIF(tau=0.01, delta_t=0.1, v_t=0.0, v_reset=-1.0, v_spike=1000.0)
    assert eif.tol == 1e-9
    assert eif.period(0.1) / eif.tau == pytest.approx(EIF_REF["period"], abs=1e-9)
    assert eif.omega(0.1) == pytest.approx(EIF_REF["omega"], abs=1e-9)
    mapped = eif.table_array(0.1, kick=-0.1)         # what the engine reads: with J's map
    assert mapped[kt.T_KICK] == -0.1 and mapped[kt.T_R_LO] <= 0.01
    for phi, expected in EIF_REF["ptc"].items():
        assert eif.ptc(phi, 0.1, -0.1) == pytest.approx(expected, abs=1e-9)
        got = tables.remaining_after_input(mapped, np.array([1.0 - phi]), -0.1)[0]
        assert 1.0 - got == pytest.approx(expected, abs=1e-9)
        oracle = reference.ptc(eif, phi, 0.1, -0.1)         # its own quadrature
        assert oracle == pytest.approx(expected, abs=1e-9)


def test_eif_table_meets_its_tolerance_against_direct_quadrature():
    eif = sp.EIF(tau=0.01)
    data = eif.table(0.1)
    assert data.error <= eif.tol / 10
    rng = np.random.default_rng(7)
    rem = np.concatenate([rng.uniform(0, 1, 2000), 10.0 ** rng.uniform(-15, 0, 500)])
    for kick in (-2.0, -0.3, -0.05, 0.05, 0.5):
        ref = tables.reference_ptc(data.quad, data.s_r, rem, kick)
        got = tables.remaining_after_input(data.array, rem, kick)
        assert np.max(np.abs(got - ref)) < eif.tol
    # phase <-> voltage round trip; inputs below the table use the exact leak tail
    phi = np.linspace(0.0, 0.999, 200)
    np.testing.assert_allclose(eif.voltage_to_phase(eif.phase_to_voltage(phi, 0.1), 0.1), phi,
                               atol=1e-9)
    v = np.array([-50.0, -20.0, -7.0])
    expected = data.s_r + np.log((0.1 - v) / (0.1 + 1.0))      # from v_reset = -1, F = -V there
    np.testing.assert_allclose(tables.time_to_spike(data.array, v), expected, atol=1e-9)


@pytest.mark.parametrize("model, kick", [(sp.EIF(tau=0.01), -0.1), (sp.EIF(tau=0.01), -1.5),
                                         (sp.EIF(tau=0.01), 0.05), (sp.EIF(tau=0.01), 0.6),
                                         (lif_table(), -0.02), (lif_table(), 0.02)])
def test_input_map_meets_the_tolerance_and_other_inputs_take_the_lookups(model, kick):
    drive = 0.1 if isinstance(model, sp.EIF) else 1.1
    data = model.table(drive)
    mapped = model.table_array(drive, kick=kick)
    assert mapped[kt.T_KICK] == kick                # the map exists for these inputs
    r_lo, r_hi = mapped[kt.T_R_LO], mapped[kt.T_R_HI]
    rng = np.random.default_rng(3)
    inside = np.concatenate([rng.uniform(r_lo, r_hi, 3000), [r_lo, r_hi]])
    rem = np.concatenate([inside, rng.uniform(0.0, 1.0, 1000), 10.0 ** rng.uniform(-15, 0, 300)])
    ref = tables.reference_ptc(data.quad, data.s_r, rem, kick)
    got = tables.remaining_after_input(mapped, rem, kick)
    assert np.max(np.abs(got - ref)) < model.tol
    # the map is only used for its own kick: another input gives the two lookups' answer
    np.testing.assert_array_equal(tables.remaining_after_input(mapped, rem, kick / 2),
                                  tables.remaining_after_input(data.array, rem, kick / 2))


def test_eif_table_build_time_and_cache():
    tables.build_table.cache_clear()
    eif = sp.EIF(tau=0.02, delta_t=0.2)
    tick = time.perf_counter()
    data = eif.table(0.3)
    assert time.perf_counter() - tick < 2.0
    assert eif.table(0.3) is data and sp.EIF(tau=0.02, delta_t=0.2).table(0.3) is data


def test_lif_table_model_reproduces_the_closed_form():
    model, lif = lif_table(), sp.LIF()
    phi = np.linspace(0.0, 1.0, 1001)
    for drive in (1.01, 1.1, 2.0):
        assert model.omega(drive) == pytest.approx(lif.omega(drive), abs=1e-9)
        for coupling in (-0.5, -0.1, -0.01, 0.01):
            expected = lif.ptc(phi, drive, coupling)
            got = model.ptc(phi, drive, coupling)
            ok = expected < 1.0                 # excitatory inputs past threshold: spike (1)
            assert np.max(np.abs(got[ok] - expected[ok])) < model.tol
            assert np.all(got[~ok] == 1.0)


def test_qif_like_table_model_reproduces_the_finite_bound_closed_form():
    """tau dV/dt = V^2 + I between v_reset = -50 and v_spike = 50: the time to spike
    is (atan(v_spike / sqrt I) - atan(V / sqrt I)) / sqrt I."""
    drive, lo, hi = 0.1, -50.0, 50.0
    model = sp.TableModel(lambda v: v * v, v_reset=lo, v_spike=hi, tau=0.01)
    r = math.sqrt(drive)

    def s(v):
        return (math.atan(hi / r) - np.arctan(np.asarray(v) / r)) / r

    def v_of(s_):
        return r * np.tan(math.atan(hi / r) - r * s_)

    s_r = s(lo)
    assert model.omega(drive) == pytest.approx(1.0 / s_r, rel=1e-10)
    phi = np.linspace(0.0, 1.0, 1001)[:-1]
    for coupling in (-5.0, -0.5, -0.05, 0.05, 0.5):
        v = v_of(s_r * (1.0 - phi)) + coupling
        inside = v >= model.v_min
        expected = np.where(v >= hi, 1.0, 1.0 - s(np.minimum(v, hi)) / s_r)
        got = model.ptc(phi[inside], drive, coupling)
        assert np.max(np.abs(got - expected[inside])) < model.tol


def test_lif_network_through_the_table_path_equals_the_closed_form():
    kw = dict(n=2000, k=50, drive=1.0 + 0.01 * math.sqrt(50) * 5.0, coupling=-1 / math.sqrt(50),
              seed=3)
    closed = sp.Network(model=sp.LIF(tau=0.01), **kw)
    table = sp.Network(model=lif_table(), initial_phases=closed.initial_phases, **kw)
    a = sp.simulate(closed, n_spikes=20_000)
    b = sp.simulate(table, n_spikes=20_000)
    assert b.meta["key"] == "phase"
    assert_same_spikes(a, b, atol=1e-9)


def test_eif_network_agrees_with_the_oracle():
    # balanced EIF networks are chaotic: differences grow ~100x per 200 spikes here, so
    # compare the first 200 spikes closely. The oracle integrates the model on its own
    # (reference.py), so the tables are built to their tightest tolerance: at the default
    # 1e-9 their PTC errors of ~1e-12 grow to ~1e-10 s within these 200 spikes.
    net = sp.Network(model=sp.EIF(tau=0.01, tol=1e-12), n=500, k=50, j0=1.0, target_rate=5.0,
                     seed=2)
    rec = sp.simulate(net, n_spikes=200)
    ref, _ = reference.simulate(net, n_spikes=200)
    assert_same_spikes(rec, ref, atol=1e-12)


def test_per_neuron_tau_runs_on_the_time_key_and_equal_taus_match_the_phase_key():
    kw = dict(n=1000, k=50, drive=1.3, coupling=-0.15, seed=5)
    homogeneous = sp.Network(model=lif_table(), **kw)
    equal = sp.Network(model=lif_table(), initial_phases=homogeneous.initial_phases,
                       tau=sp.heterogeneous(lambda i, n: np.full(n, 0.01)), **kw)
    a = sp.simulate(homogeneous, n_spikes=3000)
    b = sp.simulate(equal, n_spikes=3000)
    assert b.meta["key"] == "time"
    assert_same_spikes(a, b, atol=1e-9)


def test_ensemble_of_eif_networks_with_different_drives():
    net = sp.Network(model=sp.EIF(tau=0.01), n=200, k=20, j0=1.0, target_rate=2.0, seed=0)
    ens = sp.Ensemble(net, seeds=[1, 2, 3, 4], j0=[0.5, 1.0, 1.5, 1.0])
    batch = ens.batch(np.arange(4), "phase", 64)       # three distinct tables, stored once each
    one = net.model.tables(ens.instances[1].drive, ens.instances[1].coupling)[0]
    assert batch.lookup.shape[0] == sum(net.model.tables(x.drive, x.coupling)[0].shape[0]
                                     for x in ens.instances[:3])
    assert batch.lookup_base[1] == batch.lookup_base[3]
    np.testing.assert_array_equal(batch.lookup[batch.lookup_base[3]:][:one.shape[0]], one)
    out = sp.run_ensemble(ens, t_end=0.3, record="spikes", backend="cpu")
    assert_each_instance_as_alone(ens, out, t_end=0.3)


def test_a_few_distinct_drives_one_table_each_match_the_closed_form_and_the_oracle():
    # three populations with their own drive: one table each, the time key
    drive = sp.heterogeneous(lambda i, n: np.array([1.2, 1.35, 1.5])[i % 3])
    kw = dict(n=1200, k=40, drive=drive, coupling=-0.15, seed=6)
    closed = sp.Network(model=sp.LIF(tau=0.01), **kw)
    table = sp.Network(model=lif_table(), initial_phases=closed.initial_phases, **kw)
    tab, base = table.model.tables(table.drive, table.coupling)
    assert np.unique(base).shape[0] == 3 and tab.shape[0] > 3 * kt.HEADER
    a = sp.simulate(closed, n_spikes=5000, key="time")
    b = sp.simulate(table, n_spikes=5000)
    assert b.meta["key"] == "time"
    assert_same_spikes(a, b, atol=1e-9)
    ref, _ = reference.simulate(table, n_spikes=5000)
    assert_same_spikes(ref, b, atol=1e-12)
    # EIF (chaotic: the first spikes closely, tables at their tightest tolerance, as in
    # test_eif_network_agrees_with_the_oracle) and the host-side functions per drive
    eif = sp.Network(model=sp.EIF(tau=0.01, tol=1e-12), n=400, k=40, coupling=-0.1, seed=2,
                     drive=sp.heterogeneous(lambda i, n: np.where(i < n // 2, 0.1, 0.3)))
    rec = sp.simulate(eif, n_spikes=200)
    ref, _ = reference.simulate(eif, n_spikes=200)
    assert_same_spikes(rec, ref, atol=1e-12)
    phi = np.array([0.5, 0.5])
    np.testing.assert_array_equal(eif.model.ptc(phi, np.array([0.1, 0.3]), -0.1),
                                  [eif.model.ptc(0.5, 0.1, -0.1), eif.model.ptc(0.5, 0.3, -0.1)])


def test_more_distinct_drives_than_tables_are_refused_with_the_limit():
    with pytest.raises(ValueError, match=r"drive: .*at most 16 distinct .* got 100 "):
        sp.Network(model=sp.EIF(tau=0.01), n=100, k=10, j0=1.0, target_rate=2.0,
                   drive=sp.heterogeneous(lambda i, n: 0.1 * (1 + 0.4 * np.sin(i))))


def test_bad_models_are_refused():
    # F + I with a zero below threshold: never fires
    with pytest.raises(ValueError, match="never fires"):
        sp.Network(model=lif_table(), n=100, k=10, drive=0.8, coupling=-0.1)
    with pytest.raises(ValueError, match="never fires"):
        sp.Network(model=sp.EIF(), n=100, k=10, drive=-0.5, coupling=-0.1)
    with pytest.raises(ValueError, match="v_reset must be below v_spike"):
        sp.TableModel(lambda v: -v, v_reset=1.0, v_spike=1.0)
    with pytest.raises(ValueError, match="v_reset must be below v_spike"):
        sp.EIF(v_reset=2.0, v_spike=1.0)
    with pytest.raises(ValueError, match="not finite"):
        sp.TableModel(lambda v: np.log(v + 0.5), v_reset=0.0, v_spike=1.0).table(1.0)
    with pytest.raises(ValueError, match="cannot be met"):
        lif_table(tol=1e-15).table(1.1)
    with pytest.raises(ValueError, match="cannot be met"):
        lif_table(tol=1e-11, cells=1).table(1.1)
    with pytest.raises(ValueError, match="leak"):
        sp.TableModel(lambda v: v * v, v_reset=0.0, v_spike=1.0, tail="leak")


def test_an_input_below_a_table_without_a_tail_is_an_error_not_a_clamp():
    model = sp.TableModel(lambda v: -v, v_reset=0.0, v_spike=1.0, tau=0.01, v_min=-0.05)
    net = sp.Network(model=model, n=300, k=30, drive=1.1, coupling=-0.5, seed=1)
    with pytest.raises(ValueError, match="below the model's table"):
        sp.simulate(net, n_spikes=5000)
    with pytest.raises(ValueError, match="below the model's table"):
        reference.simulate(net, n_spikes=5000)
    data = model.table(1.1)
    assert math.isnan(kt.time_to_spike(data.array, 0, -0.06))


def test_eif_by_name_in_a_sweep_and_a_record_rebuilds_its_model(tmp_path):
    with pytest.raises(ValueError, match="network.model_params.delta: not a parameter of the "
                                         "eif model; allowed: delta_t, v_t, v_reset"):
        sp.Sweep(network={"model": "eif", "model_params": {"delta": 0.2}, "n": 200, "k": 20},
                 sweep={"j0": [0.5, 1.0]})
    with pytest.raises(ValueError, match="network.delta_t must be"):
        sp.Sweep(network={"model": "eif", "model_params": {"delta_t": -0.2}, "n": 200, "k": 20},
                 sweep={"j0": [0.5, 1.0]})
    sweep = sp.Sweep(network={"model": "eif", "model_params": {"delta_t": 0.2}, "n": 200,
                              "k": 20, "tau": 0.01},
                     sweep={"j0": [0.5, 1.0], "target_rate": [2.0]}, run={"t_end": 0.3})
    sp.run_sweep(sweep, tmp_path / "eif.zarr", in_process=True, progress=False)
    ds = sp.open_results(tmp_path / "eif.zarr")
    out = sp.run_ensemble(sp.Ensemble.from_sweep(sweep, 0, len(sweep)), **sweep.run_kwargs())
    np.testing.assert_array_equal(ds["spike_count"].values, out["count"].values.sum(axis=1))
    assert ds["spike_count"].values.min() > 0
    net = sp.Network(model=sp.EIF(tau=0.01, delta_t=0.2), n=200, k=20, j0=1.0, target_rate=2.0)
    assert ds["spike_count"].values[1] == sp.simulate(net, t_end=0.3).counts.sum()   # not 420,
    # the default delta_t's count
    # a record names its model's parameters: a non-default EIF is rebuilt as it was
    net = sp.Network(model=sp.EIF(tau=0.02, delta_t=0.2, v_reset=-2.0), n=100, k=10, j0=1.0,
                     target_rate=2.0, seed=4)
    rec = sp.simulate(net, n_spikes=50)
    again = sp.Network.from_description(rec.meta)
    assert again.model == net.model and again.drive == net.drive
    np.testing.assert_array_equal(sp.simulate(again, n_spikes=50).times, rec.times)
