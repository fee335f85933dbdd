"""Quiescent populations (docs/design.md §2.16): LIF neurons driven at or below threshold
(I <= 1), which fire only where inputs take them there, as in Brunel's model A at rest. Spike
for spike against the oracle's voltage branch (written apart: it advances V by its decay at
every event); the first-passage rate of uncoupled neurons from rest under Poisson input; long
silences (the time origin follows the inputs); continuation; bad input refused."""

import numpy as np
import pytest

import sparseprop_gpu as sp

from conftest import assert_same_spikes, population_oracle as oracle

P, J = sp.Population, sp.Projection
TAU = 0.01
LIF = sp.LIF(tau=TAU)
TIME_TOL = 1e-12


def ei(drive=(0.0, 0.0), connectivity="on_the_fly", stimulus=None, noise_seed=7, t_ref=2.13e-3,
       delay=1.17e-3):
    """A small inhibition-dominated E/I network under excitatory Poisson input; delays and
    t_ref apart as in test_inputs.ei (no tie through two different sums)."""
    rule = (lambda k: {"k": k}) if connectivity == "on_the_fly" else (lambda k: {"indegree": k})
    pops = [P("E", 40, drive[0], t_ref), P("I", 12, drive[1], t_ref)]
    prj = [J("E", "E", 0.05, delay, **rule(4)), J("E", "I", 0.06, delay / 2, **rule(4)),
           J("I", "E", -0.3, delay, **rule(4)), J("I", "I", -0.2, 0.0, **rule(3))]
    inputs = [sp.PoissonInput("E", 60.0, 0.1, 20), sp.PoissonInput("I", 60.0, 0.1, 20)]
    return sp.PopulationNetwork(LIF, pops, prj, seed=3, connectivity=connectivity,
                                inputs=inputs, stimulus=stimulus, noise_seed=noise_seed)


# ---- 1. the oracle, spike for spike

@pytest.mark.parametrize("connectivity", ["on_the_fly", "stored"])
@pytest.mark.parametrize("drive", [(0.0, 0.0), (-1.0, 0.5), (1.0, 1.0), (1.3, 0.0)])
def test_quiescent_populations_give_the_oracle_s_spikes(connectivity, drive):
    """At rest (0), below it (-1: Brunel's mapping of V_rest with V_reset = theta / 2), at
    threshold exactly (1) and beside a population that fires on its own."""
    stim = sp.Stimulus(np.linspace(0.01, 0.99, 40), np.arange(40) % 52, 0.4)
    net = ei(drive, connectivity, stimulus=stim)
    assert net.quiescent == tuple(name for name, i in zip("EI", drive) if i <= 1.0)
    want = oracle(net, t_end=1.0)
    assert want.times.size > 800
    assert_same_spikes(sp.simulate(net, t_end=1.0), want, atol=TIME_TOL)


def test_brunel_model_a_with_its_poisson_input_gives_the_oracle_s_spikes():
    net = sp.brunel(n_e=80, g=5.0, eta=2.0, external="poisson", seed=2, delay=1.17e-3,
                    t_ref=2.13e-3)
    assert net.quiescent == ("E", "I")
    c_e = 8                                          # epsilon N_E
    nu_thr = 20.0 / (0.1 * c_e * 20e-3)              # theta / (J C_E tau)
    assert net.poisson[0] == pytest.approx((2.0 * nu_thr, 0.01, c_e))
    assert net.populations[0].drive == -1.0          # rest 0 mV: (0 - 10) / (20 - 10)
    want = oracle(net, t_end=0.2)
    assert want.times.size > 500
    assert_same_spikes(sp.simulate(net, t_end=0.2), want, atol=TIME_TOL)


def test_uncoupled_neurons_from_rest_fire_at_the_first_passage_rate():
    """Excitatory Poisson input from rest (I = 0): mean input at threshold, rate set by the
    fluctuations (Siegert; measured -0.5 %, the count's own error 0.65 %)."""
    from sparseprop_gpu.analysis.theory import lif_rate_diffusion, poisson_moments
    weight, rate, t_ref = 0.004, 25000.0, 0.002                      # mu = 1, sigma = 0.063
    net = sp.PopulationNetwork(LIF, [P("E", 100, 0.0, t_ref)], [],
                               inputs=[sp.PoissonInput("E", rate, weight)], noise_seed=4)
    rec = sp.simulate(net, t_end=10.0, warmup=0.5, record="summary")
    mu, sigma = poisson_moments(0.0, weight, rate, TAU)
    got = rec.counts.sum() / (100 * 9.5)
    assert got == pytest.approx(lif_rate_diffusion(mu, sigma, TAU, t_ref=t_ref), rel=0.03)


# ---- 2. long silences, continuation, ensembles

def test_inputs_far_apart_reach_a_silent_network():
    """Every neuron quiescent and nothing in the queue: the time origin follows the inputs,
    also across gaps of 1000 tau, where exp(t / tau) overflows."""
    stim = sp.Stimulus([0.01, 0.02, 10.0, 10.0, 10.5], [0, 1, 2, 2, 3],
                       [1.5, 0.5, 0.6, 0.6, 2.0])
    net = sp.PopulationNetwork(LIF, [P("E", 4, 0.0)], [], stimulus=stim)
    rec = sp.simulate(net, t_end=20.0)
    np.testing.assert_array_equal(rec.times, [0.01, 10.0, 10.5])
    np.testing.assert_array_equal(rec.senders, [0, 2, 3])
    assert_same_spikes(rec, oracle(net, t_end=20.0), atol=0.0)
    until = sp.simulate(net, n_spikes=10)          # nothing left to happen: it stops
    np.testing.assert_array_equal(until.times, rec.times)


def test_a_quiescent_run_continues_bitwise_and_ensembles_match_runs_alone():
    net = ei((0.0, -1.0))
    whole = sp.simulate(net, t_end=0.4)
    first = sp.simulate(net, t_end=0.15)
    assert "rest_gap" in first.state
    rest = sp.simulate(net, t_end=0.4, continue_from=first)
    np.testing.assert_array_equal(rest.times, whole.times)
    np.testing.assert_array_equal(rest.senders, whole.senders)
    result = sp.run_ensemble(sp.Ensemble(net, noise_seeds=[7, 8]), t_end=0.4, record="spikes",
                             batch_size=1)
    times, senders = result.sp.spikes(0)
    np.testing.assert_array_equal(times, whole.times)
    np.testing.assert_array_equal(senders, whole.senders)


def test_networks_without_quiescent_populations_are_unchanged():
    """Populations firing on their own run the loop without the quiescent code."""
    from sparseprop_gpu.engine.batch import Batch  # noqa: F401  (the variant it picks)
    net = sp.PopulationNetwork(LIF, [P("E", 30, 1.5, 0.0)], [J("E", "E", -0.1, 0.0, k=3)])
    rec = sp.simulate(net, t_end=0.5)
    assert_same_spikes(rec, oracle(net, t_end=0.5), atol=TIME_TOL)
    assert "rest_gap" not in rec.state


def test_a_sweep_of_brunel_from_rest_runs_into_a_store_and_its_instances_rebuild(tmp_path):
    sweep = sp.Sweep({"network": "brunel", "n_e": 160, "j": 0.2, "external": "poisson"},
                     {"g": [4.0, 6.0]}, {"t_end": 0.05, "per_neuron": True, "batch_size": 1,
                                         "backend": "cpu"})
    sp.run_sweep(sweep, tmp_path / "s.zarr", in_process=True, progress=False)
    ds = sp.open_results(tmp_path / "s.zarr")
    for m in range(2):
        net = ds.sp.network(m)
        assert net.quiescent == ("E", "I") and len(net.poisson) == 2
        np.testing.assert_array_equal(ds["count"].values[m],
                                      sp.simulate(net, t_end=0.05).counts)
    mean = sp.Sweep({"network": "brunel", "n_e": 160, "external": "mean"}, {}, {"t_end": 0.1})
    bare = sp.Sweep({"network": "brunel", "n_e": 160}, {}, {"t_end": 0.1})
    assert mean.spec == bare.spec and bare.spec["network"]["external"] is None   # as before 0.7
    with pytest.raises(ValueError, match="network.external must be one of"):
        sp.Sweep({"network": "brunel", "n_e": 160, "external": "rest"}, {}, {"t_end": 0.1})


def test_the_command_line_runs_brunel_from_rest(tmp_path):
    import subprocess
    import sys
    command = [sys.executable, "-m", "sparseprop_gpu.cli", "simulate", "--network", "brunel",
               "--n-e", "160", "--j", "0.2", "--t-end", "0.05", "--quiet", "--external",
               "poisson", "--out", str(tmp_path / "r.npz")]
    out = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    rec = sp.SpikeRecord.load(tmp_path / "r.npz")
    net = sp.brunel(n_e=160, j=0.2, external="poisson")
    np.testing.assert_array_equal(rec.times, sp.simulate(net, t_end=0.05).times)


# ---- 3. bad input, refused before any work

def test_what_quiescent_populations_cannot_be_is_refused_naming_it():
    with pytest.raises(ValueError, match="population 'E': drive.*I > 0"):
        sp.PopulationNetwork(sp.QIF(tau=TAU), [P("E", 4, -0.5)], [])
    with pytest.raises(ValueError, match="quiescent"):
        sp.simulate(sp.PopulationNetwork(LIF, [P("E", 4, 0.5)], []), t_end=1.0, key="time")
    two_taus = sp.PopulationNetwork(LIF, [P("E", 4, 0.5), P("I", 4, 1.5, 0.0, 0.02)], [])
    with pytest.raises(ValueError, match="population 'E' is quiescent.*one tau"):
        sp.simulate(two_taus, t_end=1.0)
    with pytest.raises(ValueError, match="population 'E': drive"):
        sp.PopulationNetwork(LIF, [P("E", 4, float("nan"))], [])


def test_brunel_s_external_input_is_checked():
    with pytest.raises(ValueError, match="external must be one of"):
        sp.brunel(n_e=80, external="noise")
    with pytest.raises(ValueError, match="eta"):
        sp.brunel(n_e=80, eta=0.8)                     # the mean drive: eta > 1
    assert sp.brunel(n_e=80, eta=0.8, external="poisson").poisson[1][0] > 0
    with pytest.raises(ValueError, match="inputs: brunel\\(external='poisson'\\)"):
        sp.brunel(n_e=80, external="poisson", inputs=[sp.PoissonInput("E", 1.0, 0.1)])
