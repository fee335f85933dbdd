"""External input to networks of populations (docs/design.md §2.15): Poisson input per
population and stimulus events, spike for spike against the oracle given the same events
(``PopulationNetwork.input_events``); the counter-based streams' independence of batch and
launch cuts; the Poisson stream's statistics; the firing rate of uncoupled neurons under
Poisson input against the diffusion approximation; bad input refused."""

import numpy as np
import pytest

import sparseprop_gpu as sp
from sparseprop_gpu.compiled import poisson_events

from conftest import assert_same_spikes, population_oracle as oracle

P, J = sp.Population, sp.Projection
TAU = 0.01
LIF = sp.LIF(tau=TAU)
TIME_TOL = 1e-12


def ei(model=LIF, connectivity="on_the_fly", inputs=None, stimulus=None, noise_seed=7, seed=3,
       delay=1.17e-3, t_ref=2.13e-3, drive=(1.5, 1.8)):
    """A small inhibition-dominated E/I network (stable: spike for spike comparable) with
    excitatory Poisson input onto E and inhibitory onto I. No short sum of the delays (D,
    D/2) and t_ref is a multiple of the stimulus grid or of one another: an input that the
    exact times put at a refractory end through two different sums is decided by rounding
    in float keys (docs/design.md §2.15)."""
    rule = (lambda k: {"k": k}) if connectivity == "on_the_fly" else (lambda k: {"indegree": k})
    pops = [P("E", 40, drive[0], t_ref), P("I", 12, drive[1], t_ref)]
    prj = [J("E", "E", 0.02, delay, **rule(4)), J("E", "I", 0.04, delay / 2, **rule(4)),
           J("I", "E", -0.15, delay, **rule(4)), J("I", "I", -0.1, 0.0, **rule(3))]
    if inputs is None:
        inputs = [sp.PoissonInput("E", 50.0, 0.03, 4), sp.PoissonInput("I", 80.0, -0.02, 2)]
    return sp.PopulationNetwork(model, pops, prj, seed=seed, connectivity=connectivity,
                                inputs=inputs, stimulus=stimulus, noise_seed=noise_seed)


def stimulus(n, events=300, t_end=1.0, seed=0):
    """Random stimulus events with weights of both signs, some at shared instants."""
    rng = np.random.default_rng(seed)
    times = np.sort(np.round(rng.uniform(0, t_end, events), 3))     # ms grid: ties
    return sp.Stimulus(times, rng.integers(0, n, events), rng.choice([0.2, -0.3, 0.5], events))


# ---- 1. the oracle, spike for spike

@pytest.mark.parametrize("connectivity", ["on_the_fly", "stored"])
@pytest.mark.parametrize("key", ["time", "exp"])
def test_poisson_input_and_a_stimulus_give_the_oracle_s_spikes(connectivity, key):
    net = ei(connectivity=connectivity, stimulus=stimulus(52))
    want = oracle(net, t_end=2.0)
    assert want.times.size > 3000
    assert_same_spikes(sp.simulate(net, t_end=2.0, key=key), want, atol=TIME_TOL)


@pytest.mark.parametrize("model, atol", [(sp.QIF(tau=TAU), 1e-9), (sp.EIF(tau=TAU), 1e-9)])
def test_other_models_take_external_input_as_the_oracle(model, atol):
    net = ei(model=model, stimulus=stimulus(52, 100, 0.2), drive=(1.5, 1.8) if
             model.name == "qif" else (0.3, 0.4), t_ref=0.0)
    want = oracle(net, t_end=0.2)
    assert want.times.size > 200
    assert_same_spikes(sp.simulate(net, t_end=0.2, key="time"), want, atol=atol)


def test_input_events_are_ordered_as_the_engine_takes_them():
    net = ei(stimulus=sp.Stimulus([0.0, 0.001, 0.001], [1, 45, 2], [0.1, 0.2, -0.1]))
    times, targets, weights = net.input_events(0.05)
    assert np.all(np.diff(times) >= 0)
    ours = np.isin(weights, [0.1, 0.2, -0.1])
    assert (targets[ours] == [1, 45, 2]).all() and (times[ours] == [0.0, 0.001, 0.001]).all()
    assert set(weights[~ours]) == {0.03, -0.02}
    assert np.all((times[~ours] > 0) & (times[~ours] <= 0.05))


# ---- 2. a result depends on its seeds and parameters only

def test_an_instance_s_input_does_not_depend_on_its_batch_or_the_launch_cuts():
    nets = [ei(noise_seed=s) for s in (1, 2, 3)]
    alone = sp.simulate(nets[1], t_end=0.5)
    ensemble = sp.Ensemble(nets[0], noise_seeds=[1, 2, 3])
    result = sp.run_ensemble(ensemble, t_end=0.5, record="spikes", batch_size=2)
    times, senders = result.sp.spikes(1)
    np.testing.assert_array_equal(times, alone.times)
    np.testing.assert_array_equal(senders, alone.senders)
    first = sp.simulate(nets[1], t_end=0.2)
    rest = sp.simulate(nets[1], t_end=0.5, continue_from=first)
    np.testing.assert_array_equal(rest.times[rest.times > 0.2], alone.times[alone.times > 0.2])
    other = sp.simulate(nets[2], t_end=0.5)
    assert other.times.size != alone.times.size or np.any(other.times != alone.times)


def test_every_instance_of_an_ensemble_takes_its_own_stimulus():
    base = ei(inputs=[sp.PoissonInput("E", 50.0, 0.03, 4)])
    stimuli = [stimulus(52, 50, 0.3, seed=s) for s in (1, 2)] + [None]
    result = sp.run_ensemble(sp.Ensemble(base, stimuli=stimuli, noise_seeds=[5, 5, 5]),
                             t_end=0.3, record="spikes", batch_size=2)
    for i, stim in enumerate(stimuli):
        alone = sp.simulate(ei(inputs=[sp.PoissonInput("E", 50.0, 0.03, 4)], stimulus=stim,
                               noise_seed=5), t_end=0.3)
        times, senders = result.sp.spikes(i)
        np.testing.assert_array_equal(times, alone.times)
        np.testing.assert_array_equal(senders, alone.senders)
    with pytest.raises(ValueError, match=r"stimuli\[1\] must be a sp.Stimulus or None"):
        sp.Ensemble(base, stimuli=[None, ([0.1], [1], [0.1])])
    with pytest.raises(ValueError, match="instance 1.*event 0 targets 60"):
        sp.Ensemble(base, stimuli=[None, sp.Stimulus([0.1], [60], 0.1)])
    with pytest.raises(ValueError, match="same length"):
        sp.Ensemble(base, stimuli=[None, None], seeds=[1, 2, 3])


def test_a_stimulus_through_a_random_block_onto_a_population():
    net = ei(inputs=[])
    trains = [[0.01, 0.02], [0.015]]
    stim = sp.Stimulus.from_block(trains, net.neurons("I"), 3, 0.4, seed=9)
    assert len(stim) == 9 and set(stim.targets) <= set(net.neurons("I"))
    first = stim.targets[stim.times == 0.01]
    assert len(set(first)) == 3 and (stim.targets[stim.times == 0.02] == first).all()
    again = sp.Stimulus.from_block(trains, net.neurons("I"), 3, 0.4, seed=9)
    np.testing.assert_array_equal(stim.targets, again.targets)
    with pytest.raises(ValueError, match=r"k \(targets per input neuron\)"):
        sp.Stimulus.from_block(trains, net.neurons("I"), 13, 0.4)
    with pytest.raises(ValueError, match="unknown population 'X'"):
        net.neurons("X")


def test_a_run_continued_with_another_stimulus_is_refused():
    first = sp.simulate(ei(stimulus=stimulus(52, 50, 0.3, seed=1)), t_end=0.1)
    same = sp.simulate(ei(stimulus=stimulus(52, 50, 0.3, seed=1)), t_end=0.2,
                       continue_from=first)
    assert same.t_stop == 0.2
    with pytest.raises(ValueError, match="stimulus"):
        sp.simulate(ei(stimulus=stimulus(52, 50, 0.3, seed=2)), t_end=0.2, continue_from=first)


def test_a_state_of_0_6_with_poisson_input_is_refused_by_name():
    """0.6 kept one Poisson event per population; 0.7 a row drawn ahead (kernels.inputs)."""
    first = sp.simulate(ei(), t_end=0.05)
    assert first.state["ext_time"].shape == (2, 16)
    first.state["ext_time"] = first.state["ext_time"][:, 0]
    with pytest.raises(ValueError, match="ext_time has shape.*0.6 with Poisson input"):
        sp.simulate(ei(), t_end=0.1, continue_from=first)


def test_a_run_without_external_input_is_unchanged_by_the_input_code():
    net = ei(inputs=[])
    assert "noise_seed" not in net.describe()
    assert_same_spikes(sp.simulate(net, t_end=0.5), oracle(net, t_end=0.5), atol=TIME_TOL)


# ---- 3. the Poisson stream

def test_the_merged_poisson_stream_has_the_rate_and_uniform_targets():
    rate, n, t_end = 2000.0, 10, 50.0
    times, targets = poisson_events(5, 0, rate, n, t_end)
    gaps = np.diff(np.concatenate([[0.0], times]))
    expected = rate * t_end
    assert abs(times.size - expected) < 4 * np.sqrt(expected)
    assert gaps.mean() == pytest.approx(1 / rate, rel=4 / np.sqrt(expected))
    assert gaps.std() == pytest.approx(1 / rate, rel=0.02)           # exponential: sd = mean
    counts = np.bincount(targets, minlength=n)
    chi2 = ((counts - times.size / n) ** 2 / (times.size / n)).sum()
    assert chi2 < 30                                                  # 9 dof: p < 1e-3
    other, _ = poisson_events(5, 1, rate, n, t_end)
    assert abs(np.corrcoef(np.diff(times[:5000]), np.diff(other[:5000]))[0, 1]) < 0.05


def test_uncoupled_neurons_fire_at_the_diffusion_rate():
    """Poisson inhibition onto a suprathreshold drive: the mean input at threshold, rate set
    by the fluctuations (Siegert's formula; its shot-noise error here ~0.6 %, the count's
    statistical error ~0.3 %)."""
    from sparseprop_gpu.analysis.theory import lif_rate_diffusion, poisson_moments
    drive, weight, rate, t_ref = 1.2, -0.004, 5000.0, 0.002        # mu = 1, sigma = 0.028
    net = sp.PopulationNetwork(LIF, [P("E", 200, drive, t_ref)], [],
                               inputs=[sp.PoissonInput("E", rate, weight)], noise_seed=4)
    rec = sp.simulate(net, t_end=20.0, warmup=1.0, record="summary")
    mu, sigma = poisson_moments(drive, weight, rate, TAU)
    want = lif_rate_diffusion(mu, sigma, TAU, t_ref=t_ref)
    assert want < 0.5 * lif_rate_diffusion(1.2, 0.0, TAU, t_ref=t_ref)
    got = rec.counts.sum() / (200 * 19.0)
    assert got == pytest.approx(want, rel=0.02)


# ---- 4. bad input, refused before any work

@pytest.mark.parametrize("given, match", [
    (dict(inputs=[sp.PoissonInput("X", 10.0, 0.1)]), "unknown target population 'X'"),
    (dict(inputs=[sp.PoissonInput("E", -1.0, 0.1)]), r"rate \(Hz per source\)"),
    (dict(inputs=[sp.PoissonInput("E", 1.0, 0.0)]), "weight must be non-zero"),
    (dict(inputs=[sp.PoissonInput("E", 1.0, float("nan"))]), "weight"),
    (dict(inputs=[sp.PoissonInput("E", 1.0, 0.1, 0)]), r"sources \(C_ext\)"),
    (dict(inputs=[sp.PoissonInput("E", 1.0, 0.1), sp.PoissonInput("E", 2.0, 0.1)]),
     "given twice"),
    (dict(noise_seed=-1), "noise_seed"),
    (dict(stimulus=([0.1], [1], [0.1])), "must be a sp.Stimulus"),
])
def test_bad_external_input_is_refused_naming_it(given, match):
    with pytest.raises(ValueError, match=match):
        ei(**{"inputs": [], **given})


@pytest.mark.parametrize("times, targets, weights, match", [
    ([0.2, 0.1], [0, 1], 0.1, "non-decreasing; event 1"),
    ([-0.1], [0], 0.1, ">= 0"),
    ([float("nan")], [0], 0.1, "stimulus times"),
    ([0.1], [0.5], 0.1, "integer neuron indices"),
    ([0.1, 0.2], [0], 0.1, "2 integer neuron indices"),
    ([0.1], [0], 0.0, "non-zero"),
    ([0.1], [0], float("inf"), "stimulus weights"),
])
def test_bad_stimulus_events_are_refused_naming_them(times, targets, weights, match):
    with pytest.raises(ValueError, match=match):
        sp.Stimulus(times, targets, weights)


def test_a_stimulus_target_outside_the_network_is_refused():
    with pytest.raises(ValueError, match=r"neurons 0 \.\. 51 of the network; event 1 targets 52"):
        ei(stimulus=sp.Stimulus([0.1, 0.2], [3, 52], 0.1))


def test_a_stimulus_from_input_neurons_spike_trains():
    stim = sp.Stimulus.from_trains([[0.1, 0.3], [0.2]], [[4, 5], [6]], [0.5, -0.2])
    np.testing.assert_array_equal(stim.times, [0.1, 0.1, 0.2, 0.3, 0.3])
    np.testing.assert_array_equal(stim.targets, [4, 5, 6, 4, 5])
    np.testing.assert_array_equal(stim.weights, [0.5, 0.5, -0.2, 0.5, 0.5])
    with pytest.raises(ValueError, match="2 spike trains but 1 target lists"):
        sp.Stimulus.from_trains([[0.1], [0.2]], [[1]], 0.1)
    with pytest.raises(ValueError, match=r"trains\[0\] must be in time order"):
        sp.Stimulus.from_trains([[0.2, 0.1]], [[1]], 0.1)


# ---- 5. sweep files

def test_a_sweep_of_brunel_networks_with_poisson_input_runs_into_a_store(tmp_path):
    inputs = [{"target": "E", "rate": 20.0, "weight": 0.5, "sources": 40},
              {"target": "I", "rate": 20.0, "weight": 0.5}]
    sweep = sp.Sweep({"network": "brunel", "n_e": 160, "j": 0.2, "seed": 3, "inputs": inputs},
                     {"noise_seed": [1, 2], "g": [4.0, 6.0]},
                     {"t_end": 0.1, "per_neuron": True, "batch_size": 3, "backend": "cpu"})
    assert sweep.spec["network"]["inputs"][1]["sources"] == 1
    sp.run_sweep(sweep, tmp_path / "s.zarr", in_process=True, progress=False)
    ds = sp.open_results(tmp_path / "s.zarr")
    assert list(ds["noise_seed"].values) == [1, 1, 2, 2]
    counts = []
    for m in range(4):
        net = ds.sp.network(m)
        assert net.noise_seed == ds["noise_seed"].values[m] and len(net.poisson) == 2
        alone = sp.simulate(net, t_end=0.1)
        np.testing.assert_array_equal(ds["count"].values[m], alone.counts)
        counts.append(alone.counts)
    assert np.any(counts[0] != counts[2])                  # another noise seed, another run
    bare = sp.Sweep({"network": "brunel", "n_e": 160}, {}, {"t_end": 0.1})
    assert "inputs" not in {k for k, v in bare.spec["network"].items() if v is not None}


@pytest.mark.parametrize("inputs, match", [
    ({"target": "E"}, "network.inputs must be a list"),
    ([{"target": "E", "rate": 1.0}], r"network.inputs\[0\].weight is missing"),
    ([{"target": "E", "rate": 1.0, "weight": 0.1, "size": 3}], r"inputs\[0\].size: unknown key"),
    ([{"target": "X", "rate": 1.0, "weight": 0.1}], "unknown target population 'X'"),
    ([{"target": "E", "rate": -1.0, "weight": 0.1}], r"rate \(Hz per source\)"),
])
def test_bad_inputs_in_a_sweep_file_are_refused_naming_them(inputs, match):
    with pytest.raises(ValueError, match=match):
        sp.Sweep({"network": "brunel", "n_e": 100, "inputs": inputs}, {}, {"t_end": 0.1})
