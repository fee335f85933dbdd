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


# ---- model constants in full precision, and parameters the engine cannot hold (issue 11.7)
from decimal import Decimal, getcontext     # noqa: E402

from sparseprop_gpu import config           # noqa: E402
from sparseprop_gpu.kernels import models as km   # noqa: E402

ULP = 2.0**-52
LIF_DRIVES = [1 + 1e-12, 1 + 2**-40, 1 + 1e-6, 1.1, 1.5, 2.0, 3.7, 10.0, 1e3, 123456.789, 1e6,
              config.LIF_MAX_DRIVE]


def exact_lif_period(tau, drive):
    """tau ln(I / (I - 1)) to 40 digits, from the float arguments exactly."""
    getcontext().prec = 40
    i = Decimal(drive)
    return Decimal(tau) * (i / (i - 1)).ln()


def rel_error(value, exact):
    return abs(Decimal(float(value)) - exact) / exact


@pytest.mark.parametrize("drive", LIF_DRIVES)
def test_lif_period_and_constants_in_full_precision(drive):
    model = sp.LIF(tau=0.01)
    exact = exact_lif_period(0.01, drive)
    assert rel_error(model.period(drive), exact) <= 4 * ULP
    assert rel_error(model.omega(drive), Decimal(1) / (exact / Decimal(0.01))) <= 3 * ULP
    par = model.kernel_params(drive, -0.1, key="exp")
    thr = Decimal(drive) / (Decimal(drive) - 1)
    assert rel_error(par[km.P_EXP_THR], thr) <= ULP
    assert rel_error(par[km.P_TPP], exact) <= 4 * ULP
    rows = model.exp_neuron_params(np.array([drive]), -0.1)
    assert rel_error(rows[0, km.N_EXP_RESET], thr) <= ULP


@pytest.mark.parametrize("drive", [1.1, 10.0, 1e4, config.LIF_MAX_DRIVE])
def test_lif_host_curves_in_full_precision(drive):
    """The host PTC and phase/voltage maps against 40-digit values at large drives too."""
    getcontext().prec = 40
    model = sp.LIF(tau=0.01)
    i, j, phi = Decimal(drive), Decimal(-0.1), Decimal(0.5)
    w = 1 / (i / (i - 1)).ln()
    g = -w * ((-phi / w).exp() - j / i).ln()
    assert rel_error(model.ptc(0.5, drive, -0.1), g) <= 8 * ULP
    v = i * (1 - (-phi / w).exp())
    assert rel_error(model.phase_to_voltage(0.5, drive), v) <= 8 * ULP
    assert abs(model.voltage_to_phase(float(v), drive) - 0.5) <= 8 * ULP


@pytest.mark.parametrize("key", ["exp", "phase"])
def test_engine_period_at_the_largest_lif_drive(key):
    """Uncoupled neurons fire at their free period: the engine's intervals at I = LIF_MAX_DRIVE
    agree with the exact period to 1e-9 (the keys hold a phase to ~I eps of a period)."""
    drive = config.LIF_MAX_DRIVE
    net = sp.Network(model=sp.LIF(tau=0.01), n=2, k=1, drive=drive, coupling=0.0,
                     initial_phases=np.array([0.0, 0.5]))
    rec = sp.simulate(net, n_spikes=2000, key=key)
    exact = float(exact_lif_period(0.01, drive))
    for j in (0, 1):
        isi = np.diff(rec.times[rec.senders == j])
        assert np.max(np.abs(isi / exact - 1.0)) < 1e-9


def test_lif_drive_above_the_limit_is_refused():
    for drive in (config.LIF_MAX_DRIVE * 1.01, 1e12, 1e17):
        with pytest.raises(ValueError, match=r"drive .*\(1, 1\.04858e\+06\]"):
            sp.Network(model=sp.LIF(), n=10, k=2, drive=drive, coupling=-0.1)


def test_qif_period_in_full_precision():
    model = sp.QIF(tau=0.01)
    getcontext().prec = 40
    pi = Decimal("3.141592653589793238462643383279502884197")
    for drive in (1e-12, 0.1, 1.0, 7.3, 1e8, 1e20):
        exact = Decimal(0.01) * pi / Decimal(drive).sqrt()
        assert rel_error(model.period(drive), exact) <= 4 * ULP


@pytest.mark.parametrize("tau, j0, words", [
    (1e-300, 1.0, ["tau = 1e-300", "j0 = 1", "target_rate", "I_ext >= 1.2e-07"]),
    (0.01, 1e-12, ["tau = 0.01", "j0 = 1e-12", "I_ext >= 1.2e-07"]),
])
def test_a_balanced_drive_that_rounds_names_the_given_parameters(tau, j0, words):
    with pytest.raises(ValueError) as err:
        sp.Network(model=sp.LIF(tau=tau), n=100, k=10, j0=j0, target_rate=1.0)
    assert str(err.value).startswith("the balanced drive")
    for word in words:
        assert word in str(err.value)


def test_a_qif_balanced_drive_that_underflows_names_the_given_parameters():
    with pytest.raises(ValueError, match=r"balanced drive .*j0 = 1e-300.*QIF needs I > 0"):
        sp.Network(model=sp.QIF(tau=1e-300), n=100, k=10, j0=1e-300, target_rate=1.0)


def test_periods_the_spike_times_cannot_resolve_are_refused(monkeypatch):
    import importlib
    simulate_module = importlib.import_module("sparseprop_gpu.runs.simulate")

    def no_engine(*args, **kw):
        raise AssertionError("the engine must not start")
    monkeypatch.setattr(simulate_module, "execute", no_engine)
    net = sp.Network(model=sp.QIF(tau=0.01), n=3, k=1, drive=1e16, coupling=-0.1)
    with pytest.raises(ValueError, match=r"t_end: .*run to t_end < 2 s"):
        sp.simulate(net, t_end=1e4)
    with pytest.raises(ValueError, match=r"n_spikes: "):
        sp.simulate(net, n_spikes=10**15, record="summary")
    lif = sp.Network(model=sp.LIF(tau=1e-6), n=3, k=1, drive=1e6, coupling=-0.1)
    with pytest.raises(ValueError, match="t_end"):
        sp.run_ensemble(sp.Ensemble(lif, seeds=[0, 1]), t_end=1.0)


def test_a_voltage_just_below_threshold_keeps_a_phase_below_threshold():
    """The phase of the last float below V_th = 1 stays below phi_th = 1."""
    v = np.array([0.1, 0.2, np.nextafter(1.0, 0.0)])
    net = sp.Network(model=sp.LIF(), n=3, k=1, drive=1.1, coupling=-0.1, initial_voltages=v)
    assert net.initial_phases.max() < 1.0


def test_a_per_neuron_lif_drive_above_the_limit_is_refused_naming_the_neuron():
    drive = sp.heterogeneous(np.array([1.5, 2.0, 3e6, 4.0]))
    with pytest.raises(ValueError, match=r"neuron 2: drive .*1\.04858e\+06\]; got 3000000"):
        sp.Network(model=sp.LIF(), n=4, k=2, drive=drive, coupling=-0.1)
