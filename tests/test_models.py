"""Phase transition curves against the reference values of docs/design.md §2.1."""
import math

import numpy as np
import pytest

import sparseprop_gpu as sp
from sparseprop_gpu import reference
from sparseprop_gpu.kernels import models as km

LIF_REF = {"omega": 0.4170323914242463,
           "ptc": {0.1: 0.0544008509443626, 0.5: 0.390101054476958, 0.99: 0.705905200709282}}
QIF_REF = {"omega": 0.632455532033676,
           "ptc": {-3.0: -3.00309557622361, 0.0: -0.612554738339339, 1.0: 0.452278712747442,
                   3.0: 2.99676312788717}}


@pytest.mark.parametrize("model, drive, ref", [(sp.LIF(), 1.1, LIF_REF), (sp.QIF(), 0.1, QIF_REF)])
def test_reference_values(model, drive, ref):
    assert model.omega(drive) == pytest.approx(ref["omega"], abs=1e-12)
    par = model.kernel_params(drive, -0.1)
    for phi, expected in ref["ptc"].items():
        assert model.ptc(phi, drive, -0.1) == pytest.approx(expected, abs=1e-12)
        assert km.ptc(model.kernel_id, phi, par[km.P_OMEGA], par[km.P_KICK]) == pytest.approx(
            expected, abs=1e-12)
        oracle = reference._phase_jump.py_func(model.kernel_id, phi, drive, -0.1,
                                               model.omega(drive), np.zeros(1), 0)
        assert oracle == pytest.approx(expected, abs=1e-12)


def test_balanced_parametrisation():
    net = sp.Network(model=sp.LIF(tau=0.01), n=200, k=100, j0=2.0, target_rate=3.0)
    assert net.drive == pytest.approx(1.0 + 0.01 * 10 * 2.0 * 3.0)
    assert net.coupling == pytest.approx(-0.2)
    qif = sp.Network(model=sp.QIF(tau=0.02), n=200, k=25, j0=1.0, target_rate=2.0)
    assert qif.drive == pytest.approx(0.02 * 5 * 2.0)


@pytest.mark.parametrize("model, drive", [(sp.LIF(), 1.3), (sp.QIF(), 0.7)])
def test_phase_voltage_round_trip(model, drive):
    phi = np.linspace(model.phase_reset + 0.01, model.phase_threshold - 0.01, 50)
    v = model.phase_to_voltage(phi, drive)
    np.testing.assert_allclose(model.voltage_to_phase(v, drive), phi, atol=1e-12)
    assert np.all(np.diff(v) > 0)


def test_lif_voltage_of_reset_and_threshold():
    lif = sp.LIF()
    assert lif.phase_to_voltage(0.0, 1.1) == 0.0
    assert lif.phase_to_voltage(1.0, 1.1) == pytest.approx(1.0, abs=1e-14)


def test_ptc_is_a_voltage_jump():
    for model, drive in [(sp.LIF(), 1.1), (sp.QIF(), 0.1)]:
        phi = np.linspace(model.phase_reset + 0.1, model.phase_threshold - 0.1, 17)
        jumped = model.phase_to_voltage(model.ptc(phi, drive, -0.05), drive)
        np.testing.assert_allclose(jumped, model.phase_to_voltage(phi, drive) - 0.05, atol=1e-12)


def test_exp_key_turns_the_lif_ptc_into_an_addition():
    """z = exp(-(phi - S)/omega), G = exp(S/omega): the input z += (-J/I) G is the PTC."""
    lif, drive, coupling = sp.LIF(tau=0.01), 1.1, -0.1
    par = lif.kernel_params(drive, coupling, key="exp")
    omega = lif.omega(drive)
    for shift_phase in (0.0, 3.7, 25.0):
        g = math.exp(shift_phase / omega)
        for phi in (-0.3, 0.1, 0.5, 0.99):
            z = math.exp(-(phi - shift_phase) / omega)
            z_new = km.key_after_input(km.LIF, km.KEY_EXP, z, g, par, 0.0, par[km.P_KICK], 1.0)
            phi_new = shift_phase - omega * math.log(z_new)
            assert phi_new == pytest.approx(lif.ptc(phi, drive, coupling), abs=1e-12)
        # the neuron whose key is smallest reaches threshold (phi = 1) at G = z I / (I - 1)
        z_th = math.exp(-(1.0 - shift_phase) / omega)
        assert km.shift_of(km.KEY_EXP, z_th, par) == pytest.approx(g, rel=1e-14)


def test_phase_key_round_trip():
    qif, drive = sp.QIF(), 0.1
    par = qif.kernel_params(drive, -0.1)
    shift = 12.5
    for phi in (-3.0, 0.0, 1.0, 3.0):
        key = shift + (math.pi - phi)
        new = km.key_after_input(km.QIF, km.KEY_PHASE, key, shift, par, par[km.P_OMEGA],
                                 par[km.P_KICK], 1.0)
        assert math.pi - (new - shift) == pytest.approx(qif.ptc(phi, drive, -0.1), abs=1e-12)


def test_time_key_round_trip():
    """Time key: the next spike time moves by the PTC's phase change times tau_i / omega_i."""
    lif, drive, tau = sp.LIF(), 1.3, 0.02
    par = lif.kernel_params(drive, -0.1)
    omega = lif.omega(drive)
    tpp = tau / omega
    now = 3.0
    for phi in (-0.2, 0.3, 0.9):
        key = now + (1.0 - phi) * tpp
        new = km.key_after_input(km.LIF, km.KEY_TIME, key, now, par, omega, -0.1 / drive, tpp)
        assert 1.0 - (new - now) / tpp == pytest.approx(lif.ptc(phi, drive, -0.1), abs=1e-12)
