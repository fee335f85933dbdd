"""Excitatory coupling in the engine (docs/design.md §2.13): inputs to or past threshold spike
at once in the oracle's order at one instant, spike for spike against
``reference.simulate_populations``; zero-delay cascades bounded; the CUDA kernel (simulator)
equals the CPU backend."""

import numpy as np
import pytest

import sparseprop_gpu as sp

from conftest import under_simulator

from test_refractory import assert_as_oracle

TAU = 0.01


@pytest.mark.parametrize("connectivity", ["stored", "on_the_fly"])
@pytest.mark.parametrize("t_ref", [0.0, 0.003])
def test_lif_excitation_is_the_oracle(connectivity, t_ref):
    net = sp.Network(model=sp.LIF(tau=TAU), n=200, k=20, drive=1.5, coupling=0.02, seed=4,
                     t_ref=t_ref, connectivity=connectivity)
    want = assert_as_oracle(net, 3000, 1e-12, keys=("exp", "phase", "time"))
    assert np.mean(np.diff(want.times) == 0) > 0.3          # the order at one instant matters


def test_lif_excitation_with_per_neuron_drive_is_the_oracle():
    """Weak excitation, strongly varying drive: exp-time and time keys."""
    drive = sp.heterogeneous(np.random.default_rng(2).uniform(1.1, 3.0, 200))
    for t_ref in (0.0, 0.001):
        net = sp.Network(model=sp.LIF(tau=TAU), n=200, k=20, drive=drive, coupling=0.03,
                         seed=4, t_ref=t_ref)
        assert_as_oracle(net, 3000, 1e-12, keys=("auto", "time"))


@pytest.mark.parametrize("model, drive, atol", [
    (sp.QIF(tau=TAU), 1.0, 1e-12), (sp.EIF(tau=TAU), 1.5, 1e-11)])
@pytest.mark.parametrize("t_ref", [0.0, 0.002])
def test_qif_and_eif_excitation_are_the_oracle(model, drive, atol, t_ref):
    net = sp.Network(model=model, n=200, k=20, drive=drive, coupling=0.05, seed=4, t_ref=t_ref)
    assert_as_oracle(net, 300, atol)


def test_an_input_past_threshold_spikes_its_target_at_once_in_index_order():
    """Neuron 0 at threshold excites 2 and 1 (its row) past threshold: they spike at its
    instant, lowest index first; each restarts from reset."""
    net = sp.Network(model=sp.LIF(tau=TAU), n=3, k=2, drive=2.0, coupling=0.9,
                     targets=[[2, 1], [0, 2], [0, 1]], initial_phases=[0.99, 0.5, 0.6],
                     t_ref=0.001)
    result = sp.simulate(net, n_spikes=3)
    np.testing.assert_array_equal(result.senders, [0, 1, 2])
    assert result.times[0] == result.times[1] == result.times[2]
    assert_as_oracle(net, 30, 1e-12)


@pytest.mark.parametrize("connectivity", ["stored", "on_the_fly"])
def test_a_zero_delay_cascade_that_does_not_end_is_an_error(connectivity):
    net = sp.Network(model=sp.LIF(tau=TAU), n=10, k=9, drive=1.5, coupling=2.0, seed=1,
                     connectivity=connectivity)
    with pytest.raises(ValueError, match=r"cascade .* more than n = 10 spikes at t = 0\.000666"
                                         r".* refractory period"):
        sp.simulate(net, n_spikes=1000)
    bounded = sp.simulate(sp.Network(model=sp.LIF(tau=TAU), n=10, k=9, drive=1.5, coupling=2.0,
                                     seed=1, t_ref=0.001, connectivity=connectivity),
                          n_spikes=30)
    np.testing.assert_array_equal(bounded.senders[:10], [6, 0, 1, 2, 3, 4, 5, 7, 8, 9])
    assert np.all(bounded.times[:10] == bounded.times[0])


def test_excitation_is_direct_only_and_the_balanced_coupling_stays_inhibitory():
    assert sp.Network(model=sp.LIF(), n=100, k=10, j0=1.0, target_rate=5.0).coupling < 0
    assert sp.Network(model=sp.LIF(), n=100, k=10, drive=1.2, coupling=0.1).coupling == 0.1
    with pytest.raises(ValueError, match="coupling"):
        sp.Network(model=sp.LIF(), n=100, k=10, drive=1.2, coupling=np.nan)


SIMULATOR_SCRIPT = """
import json, warnings
import numpy as np
import sparseprop_gpu as sp
warnings.simplefilter("ignore", RuntimeWarning)   # uint64 wraparound of the hash, in Python
out = {}
lif = sp.Network(model=sp.LIF(tau=0.01), n=30, k=4, drive=1.5, coupling=0.05, seed=0)
cases = {"lif exp": sp.Ensemble(lif, seeds=range(3), t_ref=[0.0, 0.001, 0.003]),
         "eif": sp.Ensemble(sp.Network(model=sp.EIF(tau=0.01), n=30, k=4, drive=1.5,
                                       coupling=0.05, seed=0, t_ref=0.002), seeds=range(2)),
         "qif inhibitory": sp.Ensemble(sp.Network(model=sp.QIF(tau=0.01), n=30, k=4, drive=1.0,
                                                  coupling=-0.3, seed=0), t_ref=[0.0, 0.002])}
for name, ens in cases.items():
    cuda = sp.run_ensemble(ens, n_spikes=150, backend="cuda", record="spikes", buffer_spikes=64)
    cpu = sp.run_ensemble(ens, n_spikes=150, backend="cpu", record="spikes")
    out[name] = dict(backend=cuda.sp.meta["backend"],
                     senders=bool(np.array_equal(cuda.sp.senders, cpu.sp.senders)),
                     offsets=bool(np.array_equal(cuda.sp.offsets, cpu.sp.offsets)),
                     max_dt=float(np.abs(cuda.sp.times - cpu.sp.times).max()))
print(json.dumps(out))
"""


def test_cuda_kernel_under_the_simulator_equals_cpu_with_excitation_and_t_ref():
    for case, result in under_simulator(SIMULATOR_SCRIPT).items():
        assert result["backend"] == "cuda", case
        assert result["senders"] and result["offsets"], case
        assert result["max_dt"] <= 1e-12, case
