"""Networks of populations in the engine (docs/design.md §2.12, §2.14): spike for spike against
the independent oracle (``reference.simulate_populations``) for every connectivity rule and
key, with delays, refractory periods and excitation; stored and on-the-fly connectivity; the
connectivity rules' statistics; QIF and EIF (chaotic: a short horizon, and statistics); the
parametrisations (``sp.brunel``, ``sp.balanced``); continuation; bad input refused; the
single-population path unchanged; and the cases where bugs were found."""
import math
import types

import numpy as np
import pytest

import sparseprop_gpu as sp
from sparseprop_gpu import config, reference

from conftest import assert_same_spikes, population_oracle as oracle

P, J = sp.Population, sp.Projection
TAU = 0.01
LIF = sp.LIF(tau=TAU)
TIME_TOL = 1e-12            # s; measured worst 3e-15 (20 000 spikes, time key)


def assert_as_oracle(net, n_spikes, keys, atol=TIME_TOL):
    """The engine's spikes of ``net`` on each of ``keys`` are the oracle's (same senders in the
    same order, times within ``atol`` s); returns the oracle's."""
    want = oracle(net, n_spikes)
    assert want.senders.size == n_spikes
    for key in keys:
        assert_same_spikes(sp.simulate(net, n_spikes=n_spikes, key=key), want, atol=atol)
    return want


RULES = {"k": ({"k": 8}, {"k": 8}, {"k": 6}, {"k": 6}),
         "indegree": ({"indegree": 8}, {"indegree": 8}, {"indegree": 4}, {"indegree": 4}),
         "p": ({"p": 0.1}, {"p": 0.1}, {"p": 0.2}, {"p": 0.2})}


def ei(rule, connectivity="stored", n_e=80, n_i=20, tau_i=None, seed=3, **kw):
    """An inhibition-dominated E/I LIF network: excitatory E->E (delayed) and E->I (zero
    delay, can push I to threshold), inhibitory I->E (delayed) and I->I (zero delay); E
    refractory, I not; I with its own drive (and tau if ``tau_i``)."""
    pops = [P("E", n_e, 2.0, 0.002), P("I", n_i, 2.5, 0.0, tau_i)]
    ee, ei_, ie, ii = RULES[rule]
    projections = [J("E", "E", 0.02, 0.0015, **ee), J("E", "I", 0.03, 0.0, **ei_),
                   J("I", "E", -0.15, 0.001, **ie), J("I", "I", -0.1, 0.0, **ii)]
    return sp.PopulationNetwork(LIF, pops, projections, seed=seed, connectivity=connectivity, **kw)


# ---- 1. the engine is the oracle, spike for spike

@pytest.mark.parametrize("rule, connectivity", [
    ("k", "on_the_fly"), ("k", "stored"), ("indegree", "stored"), ("p", "stored"),
    ("p", "on_the_fly")])
def test_every_rule_is_the_oracle_for_20000_spikes(rule, connectivity):
    """One tau: the exp-time and time keys (and "auto", the exp-time key)."""
    net = ei(rule, connectivity)
    assert net.connectivity == connectivity and net.tau == TAU
    want = assert_as_oracle(net, 20_000, keys=("auto", "exp", "time"))
    assert np.mean(np.diff(want.times) == 0.0) > 0.02      # the order at one instant matters
    assert 0 < np.sum(want.senders >= 80) < want.senders.size   # both populations fire


@pytest.mark.parametrize("rule, connectivity", [
    ("k", "on_the_fly"), ("k", "stored"), ("indegree", "stored"), ("p", "stored"),
    ("p", "on_the_fly")])
def test_every_rule_with_two_taus_is_the_oracle_on_the_time_key(rule, connectivity):
    net = ei(rule, connectivity, tau_i=0.008, seed=5)
    assert isinstance(net.tau, np.ndarray)
    assert_as_oracle(net, 5000, keys=("auto", "time"))
    with pytest.raises(ValueError, match="key"):
        sp.simulate(net, n_spikes=10, key="exp")


def test_three_populations_of_mixed_rules_with_an_unconnected_pair_are_the_oracle():
    """Three populations, each block its own rule (one pair unconnected, one zero-delay
    excitatory block into a refractory population, delays on most blocks)."""
    pops = [P("A", 50, 1.8, 0.001), P("B", 30, 2.2, 0.0, 0.015), P("C", 20, 3.0, 0.0005)]
    projections = [J("A", "A", 0.02, 0.001, indegree=5), J("A", "B", 0.04, 0.0, k=6),
                   J("A", "C", -0.05, 0.0007, p=0.15), J("B", "A", -0.2, 0.0012, p=0.1),
                   J("B", "B", -0.08, 0.0, indegree=4), J("C", "A", -0.1, 0.0, k=5),
                   J("C", "C", 0.05, 0.002, k=3)]           # no C -> B, no B -> C
    net = sp.PopulationNetwork(LIF, pops, projections, seed=11)
    assert net.connectivity == "stored"
    want = assert_as_oracle(net, 10_000, keys=("auto", "time"))
    assert set(np.unique(net.population_of()[want.senders])) == {0, 1, 2}


def test_spikes_up_to_t_end_are_the_oracles():
    net = ei("k", "on_the_fly")
    want = oracle(net, t_end=0.3)
    for key in ("exp", "time"):
        got = sp.simulate(net, t_end=0.3, key=key)
        assert_same_spikes(got, want, atol=TIME_TOL)
        assert got.times[-1] <= 0.3


def test_a_small_brunel_network_is_the_oracle():
    """Brunel's model A at N_E = 200 (in-degree 20 and 5, D = 1.5 ms, t_ref = 2 ms)."""
    net = sp.brunel(n_e=200, g=5.0, eta=2.0, j=0.2, seed=1, connectivity="stored")
    assert [p.n for p in net.populations] == [200, 50]
    assert {(a, b): v[:2] for (a, b), v in net.projections.items()} == {
        (0, 0): ("indegree", 20), (0, 1): ("indegree", 20), (1, 0): ("indegree", 5),
        (1, 1): ("indegree", 5)}
    assert net.projections[(1, 0)][2] == pytest.approx(-5.0 * net.projections[(0, 0)][2])
    assert_as_oracle(net, 20_000, keys=("exp", "time"))


@pytest.mark.parametrize("delay, t_ref", [(0.0015, 0.002), (0.0, 0.001)])
def test_a_small_balanced_lif_network_is_the_oracle(delay, t_ref):
    net = sp.balanced(sp.LIF(tau=TAU), 160, 40, 20, delay=delay, t_ref=t_ref, seed=1)
    assert net.projections[(0, 1)][2] == pytest.approx(1.0 / math.sqrt(20))       # j_ie: E->I
    assert net.projections[(1, 0)][2] == pytest.approx(-2.0 / math.sqrt(20))      # j_ei: I->E
    # the same spikes; with delays the times drift apart to 3e-11 s by the 4000th spike (the
    # exp and time keys from each other as much): rounding amplified by the dynamics, which
    # summed inputs no longer cut short at threshold (docs/design.md §2.12)
    assert_as_oracle(net, 10_000, keys=("exp", "time"), atol=1e-10 if delay else TIME_TOL)


# ---- 2. excitation at zero delay: spikes at one instant, cascades

@pytest.mark.parametrize("connectivity", ["stored", "on_the_fly"])
def test_zero_delay_excitation_to_threshold_is_the_oracle(connectivity):
    """Inputs that push their targets past threshold at zero delay: they spike at that instant,
    lowest index first (bounded by the refractory period)."""
    pops = [P("E", 60, 1.5, 0.003), P("I", 20, 2.0, 0.001)]
    projections = [J("E", "E", 0.3, 0.0, k=6), J("E", "I", 0.2, 0.0, k=4),
                   J("I", "E", -0.3, 0.0, k=8), J("I", "I", -0.1, 0.0005, k=4)]
    net = sp.PopulationNetwork(LIF, pops, projections, seed=7, connectivity=connectivity)
    want = assert_as_oracle(net, 5000, keys=("exp", "time"))
    together = np.diff(want.times) == 0.0
    assert np.mean(together) > 0.3


@pytest.mark.parametrize("kicks", [(1.0, -0.3), (1.0, -0.5), (3.0, -2.5)])
@pytest.mark.parametrize("e_first", [True, False])
def test_the_inputs_of_one_instant_sum_before_the_threshold_test(kicks, e_first):
    """E and I (alike: they spike together) reach T together, at V = 0.47. T spikes then
    exactly when V + J_E + J_I >= 1 (1.17: it does; 0.97; 0.97 by way of 3.47, past I = 2,
    with E first), whichever population, and so whichever input, comes first; on the exp
    and time keys, as the oracle. Applied one by one with the excess dropped at threshold,
    (1, -0.3) with E first would have left 0.7: no spike."""
    d = 0.002
    names = ("E", "I") if e_first else ("I", "E")
    pops = [P(names[0], 1, 2.0), P(names[1], 1, 2.0), P("T", 1, 2.0)]
    net = sp.PopulationNetwork(LIF, pops, [J("E", "T", kicks[0], d, p=1.0),
                                           J("I", "T", kicks[1], d, p=1.0)],
                               initial_phases=[0.9, 0.9, 0.0])
    want = assert_as_oracle(net, 3, keys=("exp", "time"))
    t0 = (1.0 - 0.9) * LIF.period(2.0)
    v = LIF.phase_to_voltage((t0 + d) / LIF.period(2.0), 2.0) + sum(kicks)
    assert want.senders[2] == 2
    later = (1.0 - LIF.voltage_to_phase(v, 2.0)) * LIF.period(2.0) if v < 1.0 else 0.0
    assert want.times[2] == pytest.approx(t0 + d + later, abs=TIME_TOL)


@pytest.mark.parametrize("connectivity", ["stored", "on_the_fly"])
def test_a_runaway_zero_delay_cascade_is_an_error(connectivity):
    """Strong excitation, no refractory period, no delay: the engine and the oracle stop."""
    pops = [P("E", 20, 2.0), P("I", 5, 2.0)]
    projections = [J("E", "E", 2.0, 0.0, k=19), J("E", "I", 2.0, 0.0, k=5),
                   J("I", "E", -0.1, 0.001, k=3)]
    net = sp.PopulationNetwork(LIF, pops, projections, seed=1, connectivity=connectivity)
    for key in ("exp", "time"):
        with pytest.raises(ValueError, match="cascade"):
            sp.simulate(net, n_spikes=1000, key=key)
    with pytest.raises(ValueError, match="cascade"):
        oracle(net, 1000)
    # the same network with a refractory period, or with a delay, runs as the oracle (with a
    # delay D every neuron fires every D: 2000 Hz, above the default max_rate of 1000 Hz)
    bounded = sp.PopulationNetwork(LIF, [p._replace(t_ref=0.001) for p in pops], projections,
                                   seed=1, connectivity=connectivity)
    assert_as_oracle(bounded, 500, keys=("exp",))
    delayed = sp.PopulationNetwork(LIF, pops, [p._replace(delay=0.0005) for p in projections],
                                   seed=1, connectivity=connectivity, max_rate=4000.0)
    assert_as_oracle(delayed, 500, keys=("exp",))


@pytest.mark.parametrize("t_ref", [0.0003, 0.001, 0.0013, 0.002, 0.0047])
def test_an_input_exactly_at_the_end_of_refractoriness_is_taken(t_ref):
    """Two neurons spike together; each one's spike reaches the other after D = t_ref, the
    instant its refractory period ends (taken, as in the oracle). And across populations: A's
    zero-delay excitation makes B spike with A, B's input reaches A at A's end of
    refractoriness (B with its own tau: the time key)."""
    pair = sp.PopulationNetwork(LIF, [P("E", 2, 2.0, t_ref)], [J("E", "E", 0.3, t_ref, p=1.0)],
                                initial_phases=[0.5, 0.5])
    want = assert_as_oracle(pair, 6, keys=("exp", "time"))
    # together; the input taken at the end of refractoriness shortens the next period
    assert want.times[0] == want.times[1]
    assert want.times[2] - want.times[0] < t_ref + LIF.period(2.0) - 1e-4
    for tau_b, coupling in ((None, 0.3), (None, -0.3), (0.007, 0.3)):
        cross = sp.PopulationNetwork(
            LIF, [P("A", 1, 2.0, t_ref), P("B", 1, 1.5, 0.0005, tau_b)],
            [J("A", "B", 2.0, 0.0, p=1.0), J("B", "A", coupling, t_ref, p=1.0)],
            initial_phases=[0.5, 0.1])
        assert_as_oracle(cross, 8, keys=("exp", "time") if tau_b is None else ("time",))


def test_an_input_at_the_end_of_refractoriness_is_taken_after_rebasing_on_the_time_key():
    """The pair of the test above over 400 spikes (t up to ~1.5 s, past several rebases of the
    time key, every 16 free periods)."""
    for t_ref in (0.0003, 0.0013, 0.002, 0.0047):
        pair = sp.PopulationNetwork(LIF, [P("E", 2, 2.0, t_ref)],
                                    [J("E", "E", 0.3, t_ref, p=1.0)], initial_phases=[0.5, 0.5])
        want = oracle(pair, 400)
        assert_same_spikes(sp.simulate(pair, n_spikes=400, key="time", rebase=False), want,
                           atol=TIME_TOL)
        assert_same_spikes(sp.simulate(pair, n_spikes=400, key="exp"), want, atol=TIME_TOL)
        assert_same_spikes(sp.simulate(pair, n_spikes=400, key="time"), want, atol=TIME_TOL)


@pytest.mark.parametrize("coupling", [0.3, -0.3])
def test_a_qif_input_at_the_end_of_refractoriness_leaves_the_target_at_reset(coupling):
    for t_ref in (0.0003, 0.001, 0.002):
        pair = sp.PopulationNetwork(sp.QIF(tau=TAU), [P("E", 2, 1.0, t_ref)],
                                    [J("E", "E", coupling, t_ref, p=1.0)],
                                    initial_phases=[0.5, 0.5])
        want = oracle(pair, 40)
        assert np.diff(want.times[::2]).min() > t_ref + 0.03   # t_ref + T (T = pi tau)
        assert_same_spikes(sp.simulate(pair, n_spikes=40, rebase=False), want, atol=TIME_TOL)


# ---- 3. stored and on the fly: one network

@pytest.mark.parametrize("rule, seed", [("k", 0), ("k", 9), ("p", 0), ("p", 9)])
def test_stored_and_on_the_fly_are_the_same_network(rule, seed):
    """Fixed out-degree and Bernoulli blocks: the same synapses, the same spikes, bitwise."""
    on_the_fly = ei(rule, "on_the_fly", seed=seed)
    stored = ei(rule, "stored", seed=seed)
    for a, b in zip(on_the_fly.out_lists(), stored.out_lists()):
        np.testing.assert_array_equal(a, b)
    for key in ("exp", "time"):
        x = sp.simulate(on_the_fly, n_spikes=5000, key=key)
        y = sp.simulate(stored, n_spikes=5000, key=key)
        np.testing.assert_array_equal(x.senders, y.senders)
        np.testing.assert_array_equal(x.times, y.times)
    other = ei(rule, "stored", seed=seed + 1)
    assert not np.array_equal(other.out_lists()[1], stored.out_lists()[1])


def test_auto_connectivity_stores_small_networks_and_blocks_that_need_it(monkeypatch):
    assert ei("k", "auto").connectivity == "stored"               # n below STORED_BELOW
    assert ei("indegree", "auto").connectivity == "stored"
    monkeypatch.setattr(config, "STORED_BELOW", 50)
    assert ei("k", "auto").connectivity == "on_the_fly"
    assert ei("p", "auto").connectivity == "on_the_fly"            # Bernoulli: drawn too
    assert ei("indegree", "auto").connectivity == "stored"         # in-degree: always stored


def test_out_lists_are_the_engines_order_and_the_blocks_constants():
    net = ei("k", "stored")
    indptr, targets, coupling, delay = net.out_lists()
    assert indptr.shape == (net.n + 1,) and indptr[0] == 0 and indptr[-1] == targets.size
    pop = net.population_of()
    sources = np.repeat(np.arange(net.n), np.diff(indptr))
    want = {(0, 0): (0.02, 0.0015), (0, 1): (0.03, 0.0), (1, 0): (-0.15, 0.001),
            (1, 1): (-0.1, 0.0)}
    for (a, b), (j, d) in want.items():
        sel = (pop[sources] == a) & (pop[targets] == b)
        assert np.all(coupling[sel] == j) and np.all(delay[sel] == d)
    # each neuron's out-list: its targets in population 0 first, then population 1
    for i in range(net.n):
        assert np.all(np.diff(pop[targets[indptr[i]:indptr[i + 1]]]) >= 0)


# ---- 4. the connectivity rules' statistics

def blocks_of(net):
    """{(a, b): (sources, targets)} of every synapse, from ``out_lists``."""
    indptr, targets, _, _ = net.out_lists()
    sources = np.repeat(np.arange(net.n), np.diff(indptr))
    pop = net.population_of()
    return {(a, b): (sources[(pop[sources] == a) & (pop[targets] == b)],
                     targets[(pop[sources] == a) & (pop[targets] == b)])
            for a in range(len(net.populations)) for b in range(len(net.populations))}


def test_fixed_indegree_gives_every_target_exactly_indegree_distinct_sources():
    pops = [P("E", 300, 2.0), P("I", 70, 2.0)]
    projections = [J("E", "E", 0.01, indegree=29), J("E", "I", 0.01, indegree=300),
                   J("I", "E", -0.1, indegree=7), J("I", "I", -0.1, indegree=69)]
    net = sp.PopulationNetwork(LIF, pops, projections, seed=4)
    start = net.pop_start
    for (a, b), (src, tgt) in blocks_of(net).items():
        indegree = net.projections[(a, b)][1]
        assert src.size == indegree * pops[b].n
        assert np.all((src >= start[a]) & (src < start[a + 1]))
        if a == b:
            assert not np.any(src == tgt)                             # no autapses
        pairs = np.unique(src.astype(np.int64) * net.n + tgt)
        assert pairs.size == src.size                                 # distinct sources
        np.testing.assert_array_equal(np.bincount(tgt - start[b], minlength=pops[b].n),
                                      np.full(pops[b].n, indegree))
    # all of I onto I but itself, all of E onto I: the full blocks
    assert blocks_of(net)[(1, 1)][0].size == 70 * 69


@pytest.mark.parametrize("connectivity", ["stored", "on_the_fly"])
def test_bernoulli_blocks_have_their_expected_count_and_no_self_connections(connectivity):
    pops = [P("E", 400, 2.0), P("I", 100, 2.0)]
    p = {(0, 0): 0.05, (0, 1): 0.2, (1, 0): 0.1, (1, 1): 0.3}
    projections = [J("EI"[a], "EI"[b], 0.01 if a == 0 else -0.1, p=q) for (a, b), q in p.items()]
    for seed in (0, 1):
        net = sp.PopulationNetwork(LIF, pops, projections, seed=seed, connectivity=connectivity)
        for (a, b), (src, tgt) in blocks_of(net).items():
            pairs = pops[a].n * (pops[b].n - (a == b))
            mean, sigma = p[a, b] * pairs, math.sqrt(pairs * p[a, b] * (1 - p[a, b]))
            assert abs(src.size - mean) < 4 * sigma, (a, b, src.size, mean)
            if a == b:
                assert not np.any(src == tgt)
            assert np.unique(src.astype(np.int64) * net.n + tgt).size == src.size   # no multapses
            # targets are spread over the whole target population
            counts = np.bincount(tgt - net.pop_start[b], minlength=pops[b].n)
            assert counts.min() > 0 or p[a, b] * pops[a].n < 10
    full = sp.PopulationNetwork(LIF, [P("E", 30, 2.0)], [J("E", "E", 0.01, p=1.0)],
                                connectivity=connectivity)
    src, tgt = blocks_of(full)[(0, 0)]
    assert src.size == 30 * 29 and not np.any(src == tgt)


@pytest.mark.parametrize("connectivity", ["stored", "on_the_fly"])
def test_fixed_outdegree_gives_every_source_k_distinct_targets(connectivity):
    pops = [P("E", 200, 2.0), P("I", 50, 2.0)]
    projections = [J("E", "E", 0.01, k=199), J("E", "I", 0.01, k=50), J("I", "E", -0.1, k=13),
                   J("I", "I", -0.1, k=5)]
    net = sp.PopulationNetwork(LIF, pops, projections, seed=6, connectivity=connectivity)
    start = net.pop_start
    for (a, b), (src, tgt) in blocks_of(net).items():
        k = net.projections[(a, b)][1]
        np.testing.assert_array_equal(np.bincount(src - start[a], minlength=pops[a].n),
                                      np.full(pops[a].n, k))
        assert np.all((tgt >= start[b]) & (tgt < start[b + 1]))
        if a == b:
            assert not np.any(src == tgt)
        assert np.unique(src.astype(np.int64) * net.n + tgt).size == src.size
    # targets of a small k block cover the target population roughly evenly
    src, tgt = blocks_of(net)[(1, 0)]
    counts = np.bincount(tgt, minlength=200)
    assert abs(counts.mean() - 50 * 13 / 200) < 1e-12 and counts.max() < 15


# ---- 5. QIF: chaotic; agreement over a short horizon, statistics over a long one

def qif_network(seed, connectivity="on_the_fly"):
    pops = [P("E", 80, 1.0, 0.002), P("I", 20, 1.5, 0.0, 0.008)]
    projections = [J("E", "E", 0.05, 0.0015, k=8), J("E", "I", 0.08, 0.0, k=8),
                   J("I", "E", -0.3, 0.001, k=5), J("I", "I", -0.2, 0.0, k=5)]
    return sp.PopulationNetwork(sp.QIF(tau=TAU), pops, projections, seed=seed,
                                connectivity=connectivity)


@pytest.mark.parametrize("connectivity", ["stored", "on_the_fly"])
def test_qif_populations_are_the_oracle_over_a_short_horizon(connectivity):
    net = qif_network(5, connectivity)
    assert_as_oracle(net, 500, keys=("auto", "time"))        # measured |dt| 1e-15 at 500


def test_qif_population_rates_are_the_oracles_over_a_long_run():
    """Over 20 s (~65 000 spikes) the trajectories have diverged; each population's spike
    count stays within its sampling error (measured: within 0.1 %)."""
    net = qif_network(1)
    want = oracle(net, t_end=20.0)
    got = sp.simulate(net, t_end=20.0, record="summary")
    pop = net.population_of()
    for a in range(2):
        expected = np.sum(pop[want.senders] == a)
        count = got.counts[pop == a].sum()
        assert expected > 10_000
        assert abs(count - expected) < 3 * math.sqrt(expected) + 0.01 * expected, (a, count,
                                                                                    expected)


# ---- records, warm-up, ensembles

def test_summary_and_warmup_agree_with_the_spikes():
    net = ei("p", seed=2)
    spikes = sp.simulate(net, t_end=0.5, warmup=0.1)
    summary = sp.simulate(net, t_end=0.5, warmup=0.1, record="summary")
    assert spikes.times.min() >= 0.1 and spikes.times.max() <= 0.5
    np.testing.assert_array_equal(np.bincount(spikes.senders, minlength=net.n), summary.counts)
    np.testing.assert_allclose(summary.isi_sum, spikes.isi_sum, rtol=1e-12)
    full = oracle(net, t_end=0.5)
    keep = full.times >= 0.1
    assert_same_spikes(spikes, types.SimpleNamespace(times=full.times[keep],
                                                     senders=full.senders[keep]), TIME_TOL)


@pytest.mark.parametrize("columns", [dict(n_e=[40, 60, 30]), dict(delay=[0.0, 0.001, 0.002]),
                                     dict(t_ref=[0.0, 0.001, 0.002]),
                                     dict(seeds=[3, 4, 5], j=[0.1, 0.5, 1.0])])
def test_an_ensemble_of_brunel_networks_is_each_instance_alone(columns):
    base = sp.brunel(n_e=40, epsilon=0.2, j=0.3, seed=1)
    ensemble = sp.Ensemble(base, **columns)
    result = sp.run_ensemble(ensemble, n_spikes=500, backend="cpu", record="spikes")
    for m, instance in enumerate(ensemble.instances):
        alone = sp.simulate(instance, n_spikes=500)
        times, senders = result.sp.spikes(m)
        np.testing.assert_array_equal(senders, alone.senders)
        np.testing.assert_array_equal(times, alone.times)


@pytest.mark.parametrize("key", ["exp", "time"])
def test_a_continued_run_is_one_run(key, tmp_path):
    """Stopped with spikes in flight and neurons refractory, continued from the record (and
    from its file): bitwise the run that never stopped."""
    net = ei("p", "stored", tau_i=None if key == "exp" else 0.008)
    one = sp.simulate(net, n_spikes=6000, key=key)
    first = sp.simulate(net, n_spikes=2345, key=key)
    np.testing.assert_array_equal(first.times, one.times[:2345])
    for previous in (first, tmp_path / "first.npz"):
        if not isinstance(previous, sp.SpikeRecord):
            first.save(previous)
        whole = sp.simulate(net, n_spikes=6000, continue_from=previous)
        np.testing.assert_array_equal(whole.senders, one.senders)
        np.testing.assert_array_equal(whole.times, one.times)
        np.testing.assert_array_equal(whole.counts, one.counts)


@pytest.mark.parametrize("key", ["exp", "time"])
def test_a_run_stopped_in_the_middle_of_an_instant_continues_as_one_run(key, tmp_path):
    """E's spikes reach A, B and T together: all past threshold (T's exact keys held in
    ``past_key``); A spikes, then B, whose zero-delay inhibition takes some of T back below
    threshold. Stopped after every spike, so also between A's and B's, and continued from the
    record's file each time: bitwise the run that never stopped."""
    pops = [P("E", 3, 2.0), P("A", 1, 2.0), P("B", 1, 2.0), P("T", 3, 2.0)]
    net = sp.PopulationNetwork(LIF, pops, [J("E", "A", 1.0, 0.002, p=1.0),
                                           J("E", "B", 1.0, 0.002, p=1.0),
                                           J("E", "T", 0.2, 0.002, p=1.0),
                                           J("B", "T", -0.35, 0.0, p=1.0)],
                               initial_phases=[0.9, 0.9, 0.9, 0.0, 0.0, 0.0, 0.1, 0.2])
    one = sp.simulate(net, n_spikes=40, key=key)
    previous = None
    for n_spikes in range(1, 41):
        part = sp.simulate(net, n_spikes=n_spikes, key=key, continue_from=previous)
        previous = tmp_path / f"{n_spikes}.npz"
        part.save(previous)
    np.testing.assert_array_equal(part.senders, one.senders)
    np.testing.assert_array_equal(part.times, one.times)
    assert_as_oracle(net, 40, keys=(key,))


def test_a_checkpointed_run_longer_than_one_segment_is_one_run(tmp_path):
    """simulate(checkpoint=...) runs in segments (the first of config.FIRST_SEGMENT spikes),
    each continuing the one before: spikes in flight carried across."""
    net = sp.PopulationNetwork(LIF, two(), [J("E", "I", -0.1, 0.001, k=3),
                                            J("I", "E", -0.1, 0.0, k=3)])
    spikes = config.FIRST_SEGMENT + 20_000
    got = sp.simulate(net, n_spikes=spikes, checkpoint=tmp_path / "run.npz")
    want = sp.simulate(net, n_spikes=spikes)
    np.testing.assert_array_equal(got.senders, want.senders)
    np.testing.assert_array_equal(got.times, want.times)


def test_an_ensemble_of_seeds_of_a_plain_population_network():
    net = ei("k", "on_the_fly")
    ensemble = sp.Ensemble(net, seeds=[2, 3])
    result = sp.run_ensemble(ensemble, n_spikes=300, backend="cpu", record="spikes")
    for m, seed in enumerate((2, 3)):
        alone = sp.simulate(ei("k", "on_the_fly", seed=seed), n_spikes=300)
        times, senders = result.sp.spikes(m)
        np.testing.assert_array_equal(senders, alone.senders)
        np.testing.assert_array_equal(times, alone.times)


# ---- table models (EIF): the oracle to the tables' tolerance, over a short horizon

EIF_TOL = 1e-11             # s, the table models' (tests/test_engine.py); measured 5e-13 at 200


@pytest.mark.parametrize("connectivity, rules", [
    ("on_the_fly", ({"k": 8}, {"p": 0.1}, {"k": 5}, {"k": 4})),
    ("stored", ({"indegree": 8}, {"p": 0.1}, {"k": 5}, {"indegree": 4}))])
def test_eif_populations_are_the_oracle_over_a_short_horizon(connectivity, rules):
    """EIF (a table model: one lookup table per block) with delays, refractory periods,
    excitation and two taus; chaotic like QIF (rounding grows: 1e-11 s by ~300 spikes)."""
    pops = [P("E", 80, 1.5, 0.002), P("I", 20, 2.0, 0.0, 0.008)]
    ee, ei_, ie, ii = rules
    projections = [J("E", "E", 0.05, 0.0015, **ee), J("E", "I", 0.08, 0.0, **ei_),
                   J("I", "E", -0.3, 0.001, **ie), J("I", "I", -0.2, 0.0, **ii)]
    net = sp.PopulationNetwork(sp.EIF(tau=TAU), pops, projections, seed=3,
                               connectivity=connectivity)
    assert_as_oracle(net, 200, keys=("auto", "time"), atol=EIF_TOL)


# ---- 6. bad input refused, naming the parameter

def two():
    return [P("E", 20, 2.0), P("I", 10, 2.0)]


@pytest.mark.parametrize("projections, match", [
    ([J("E", "I", -0.1, k=11)], r"E->I: k .* in \[1, 10\]; got 11"),
    ([J("E", "E", -0.1, k=20)], r"E->E: k .*itself excluded.* in \[1, 19\]; got 20"),
    ([J("I", "E", -0.1, indegree=11)], r"I->E: indegree .* in \[1, 10\]; got 11"),
    ([J("E", "E", -0.1, indegree=20)], r"E->E: indegree .*itself excluded"),
    ([J("E", "I", -0.1, p=0.0)], r"E->I: p must be in \(0, 1\]"),
    ([J("E", "I", -0.1, p=1.5)], r"E->I: p must be in \(0, 1\]"),
    ([J("E", "I", -0.1, k=2.5)], r"E->I: k .* integer"),
    ([J("E", "I", -0.1, -0.001, k=3)], r"E->I: delay \(s\) must be"),
    ([J("E", "I", -0.1, math.inf, k=3)], r"E->I: delay \(s\) must be finite"),
    ([J("E", "I", math.nan, k=3)], r"E->I: coupling must be finite"),
    ([J("E", "X", -0.1, k=3)], r"unknown target population 'X'"),
    ([J("Y", "E", -0.1, k=3)], r"unknown source population 'Y'"),
    ([J("E", "I", -0.1, k=3, p=0.1)], r"exactly one of k .* got k, p"),
    ([J("E", "I", -0.1, k=3, indegree=2)], r"exactly one of k .* got k, indegree"),
    ([J("E", "I", -0.1)], r"exactly one of k .* got none"),
    ([J("E", "I", -0.1, k=3), J("E", "I", -0.2, p=0.1)], r"E->I is given twice"),
])
def test_bad_projections_are_refused(projections, match):
    with pytest.raises(ValueError, match=match):
        sp.PopulationNetwork(LIF, two(), projections)


@pytest.mark.parametrize("populations, match", [
    ([P("E", 20, 2.0), P("E", 10, 2.0)], r"populations\[1\]\.name must be a new"),
    ([P("", 20, 2.0)], r"populations\[0\]\.name"),
    ([P("E", 0, 2.0), P("I", 10, 2.0)], r"population 'E': n must be"),
    ([P("E", 20, float("nan")), P("I", 10, 2.0)], r"population 'E': drive"),
    ([P("E", 20, 2.0, -0.001), P("I", 10, 2.0)], r"population 'E': t_ref"),
    ([P("E", 20, 2.0), P("I", 10, 2.0, 0.0, -0.01)], r"population 'I': tau"),
    ([], r"populations must name at least one"),
])
def test_bad_populations_are_refused(populations, match):
    with pytest.raises(ValueError, match=match):
        sp.PopulationNetwork(LIF, populations, [])


def test_bad_network_settings_are_refused():
    with pytest.raises(ValueError, match=r"connectivity must be 'stored' or 'auto'"):
        sp.PopulationNetwork(LIF, two(), [J("E", "I", -0.1, indegree=3)],
                             connectivity="on_the_fly")
    with pytest.raises(ValueError, match=r"connectivity must be 'stored' or 'auto'"):
        sp.PopulationNetwork(LIF, two(), [J("E", "I", -0.1, k=3), J("I", "E", -0.1, indegree=2),
                                          J("I", "I", -0.1, p=0.2)], connectivity="on_the_fly")
    assert sp.PopulationNetwork(LIF, two(), [J("E", "I", -0.1, k=3), J("I", "E", -0.1, p=0.2)],
                                connectivity="on_the_fly").connectivity == "on_the_fly"
    with pytest.raises(ValueError, match="connectivity"):
        sp.PopulationNetwork(LIF, two(), [], connectivity="lazy")
    with pytest.raises(ValueError, match=r"model must be a NeuronModel"):
        sp.PopulationNetwork("lif", two(), [])
    with pytest.raises(ValueError, match=r"max_rate \(Hz\) must be"):
        sp.PopulationNetwork(LIF, two(), [], max_rate=0.0)
    with pytest.raises(ValueError, match="seed"):
        sp.PopulationNetwork(LIF, two(), [], seed=-1)
    with pytest.raises(ValueError, match="initial_phases must have shape"):
        sp.PopulationNetwork(LIF, two(), [], initial_phases=np.zeros(29))
    with pytest.raises(ValueError, match="initial_phases must be below the threshold"):
        sp.PopulationNetwork(LIF, two(), [], initial_phases=np.ones(30))
    with pytest.raises(ValueError, match="a population of one neuron cannot connect to itself"):
        sp.PopulationNetwork(LIF, [P("E", 1, 2.0), P("I", 3, 2.0)], [J("E", "E", -0.1, p=0.5)])
    with pytest.raises(ValueError, match="key"):
        sp.simulate(ei("k"), n_spikes=10, key="phase")


@pytest.mark.parametrize("kw, match", [
    (dict(j_ee=-1.0), r"j_ee \(a magnitude"), (dict(j_ii=0.0), r"j_ii \(a magnitude"),
    (dict(ext_i=-0.8), r"ext_i \(a magnitude"),
    (dict(ext_e=0.5, ext_i=1.0), r"balanced state needs ext_e / ext_i > j_ei / j_ii"),
    (dict(j_ee=3.0), r"balanced state needs"),       # j_ei / j_ii < j_ee / j_ie
    (dict(k=0), r"\bk\b"), (dict(nu=0.0), r"nu \(Hz\)"),
])
def test_balanced_refuses_bad_parameters(kw, match):
    args = {"n_e": 80, "n_i": 20, "k": 10, **kw}
    with pytest.raises(ValueError, match=match):
        sp.balanced(LIF, args.pop("n_e"), args.pop("n_i"), args.pop("k"), **args)


@pytest.mark.parametrize("kw, match", [
    (dict(eta=1.0), r"eta \(nu_ext"), (dict(eta=0.5), r"eta \(nu_ext"),
    (dict(v_reset=20.0), r"v_reset \(mV, below theta = 20\)"),
    (dict(v_reset=25.0), r"v_reset"), (dict(theta=10.0), r"v_reset \(mV, below theta = 10\)"),
    (dict(g=0.0), r"g \(relative inhibition\)"), (dict(j=-0.1), r"j \(EPSP"),
    (dict(epsilon=0.0), r"epsilon"), (dict(epsilon=1.5), r"epsilon"),
    (dict(n_e=1), r"n_e"), (dict(gamma=0.0), r"gamma"),
])
def test_brunel_refuses_bad_parameters(kw, match):
    with pytest.raises(ValueError, match=match):
        sp.brunel(**{"n_e": 200, **kw})


# ---- 7. spikes in flight beyond max_rate: an error, never dropped

@pytest.mark.parametrize("key", ["exp", "time"])
def test_a_too_small_max_rate_is_an_error_naming_it(key):
    pops = [P("E", 20, 2.0), P("I", 10, 2.0)]
    projections = [J("E", "I", -0.1, 0.01, k=3), J("I", "E", -0.1, 0.002, k=3)]
    small = sp.PopulationNetwork(LIF, pops, projections, max_rate=1.0)
    with pytest.raises(ValueError, match=r"in flight in block (E -> I|I -> E) .*max_rate"):
        sp.simulate(small, n_spikes=2000, key=key)
    # enough room: the oracle's spikes (the default bound, or a max_rate that holds the rate)
    assert_as_oracle(sp.PopulationNetwork(LIF, pops, projections), 2000, keys=(key,))
    assert_as_oracle(sp.PopulationNetwork(LIF, pops, projections, max_rate=200.0), 2000,
                     keys=(key,))


def test_any_max_rate_gives_the_oracles_spikes_or_an_error():
    """From far too small to ample: every run is the oracle's or stops naming max_rate."""
    pops = [P("E", 20, 2.0, 0.001), P("I", 10, 3.0)]
    projections = [J("E", "E", 0.05, 0.004, k=5), J("E", "I", -0.1, 0.01, k=3),
                   J("I", "E", -0.1, 0.002, k=3), J("I", "I", 0.02, 0.0007, k=3)]
    want = oracle(sp.PopulationNetwork(LIF, pops, projections), 2000)
    outcomes = []
    for max_rate in np.geomspace(5.0, 1000.0, 12):
        net = sp.PopulationNetwork(LIF, pops, projections, max_rate=max_rate)
        try:
            got = sp.simulate(net, n_spikes=2000)
        except ValueError as exc:
            assert "max_rate" in str(exc)
            outcomes.append("refused")
        else:
            assert_same_spikes(got, want, atol=TIME_TOL)
            outcomes.append("exact")
    assert outcomes[0] == "refused" and outcomes[-1] == "exact"


def test_fifos_are_sized_from_t_ref_or_max_rate():
    pops = [P("E", 20, 2.0, 0.002), P("I", 10, 2.0)]
    projections = [J("E", "I", -0.1, 0.01, k=3), J("I", "E", -0.1, 0.002, k=3)]
    net = sp.PopulationNetwork(LIF, pops, projections)
    assert net.fifo_slots(0, 0.01) == 20 * (math.floor(0.01 / 0.002) + 1)     # 1 / t_ref
    assert net.fifo_slots(1, 0.002) == 10 * (math.floor(0.002 * config.MAX_RATE_HZ) + 1)
    capped = sp.PopulationNetwork(LIF, pops, projections, max_rate=50.0)
    assert capped.fifo_slots(0, 0.01) == 20 * (math.floor(0.01 * 50.0) + 1)


# ---- found by these tests, and fixed

def test_a_long_delay_on_the_exp_key_is_exact_or_refused():
    # E's drive 2.1, not 2.0: with 2.0, tau ln 2 + tau ln 1.5 = tau ln 3 put an entrained E neuron
    # exactly at threshold whenever its I input arrived, a tie each cycle that rounding decided
    # (the oracle's pairs one way on some CPUs' libm, the engine's keys the other)
    pops = [P("E", 5, 2.1, 0.05), P("I", 5, 1.5, 0.05)]
    for delay in (6.9, 7.2):                          # 690 and 720 tau
        net = sp.PopulationNetwork(LIF, pops, [J("E", "I", -0.5, delay, k=3),
                                               J("I", "E", -0.5, 0.001, k=3)], max_rate=20.0)
        want = oracle(net, t_end=delay + 0.3)
        assert_same_spikes(sp.simulate(net, t_end=delay + 0.3, key="time"), want,
                           atol=TIME_TOL)
        try:
            got = sp.simulate(net, t_end=delay + 0.3, key="exp")
        except ValueError as exc:                     # refused, naming the delay: fine
            assert "delay" in str(exc)
        else:
            assert_same_spikes(got, want, atol=TIME_TOL)


def test_fifos_too_large_for_memory_are_refused_naming_the_delay():
    with pytest.raises(ValueError, match="delay and max_rate"):
        sp.PopulationNetwork(LIF, [P("E", 2000, 2.0), P("I", 10, 2.0)],
                             [J("E", "I", -0.1, 1e5, k=3)])


# ---- 8. one population: the old path, unchanged

@pytest.mark.parametrize("model, key, spikes, atol", [
    (sp.LIF(), "exp", 2000, 1e-12), (sp.LIF(), "phase", 2000, 1e-12),
    (sp.QIF(tau=TAU), "phase", 300, 1e-9)])
def test_a_single_population_network_is_still_todays_oracle(model, key, spikes, atol):
    net = sp.Network(model=model, n=200, k=20, j0=1.0, target_rate=1.0, seed=1)
    ref, _ = reference.simulate(net, n_spikes=spikes)
    got = sp.simulate(net, n_spikes=spikes, key=key)
    assert_same_spikes(got, ref, atol=atol)
    assert got.meta["key"] == key and "populations" not in got.meta


def test_one_population_as_a_population_network_is_the_single_population_network():
    """The same inhibitory LIF network as a Network with its target table and as a
    PopulationNetwork with those out-lists' rule: the oracle of populations agrees with both."""
    pnet = sp.PopulationNetwork(LIF, [P("E", 200, 1.5)], [J("E", "E", -0.1, k=20)], seed=4,
                                connectivity="stored")
    indptr, targets, _, _ = pnet.out_lists()
    table = targets.reshape(200, 20)
    net = sp.Network(model=LIF, n=200, k=20, drive=1.5, coupling=-0.1, targets=table,
                     initial_phases=pnet.initial_phases)
    single = sp.simulate(net, n_spikes=3000, key="exp")
    for key in ("exp", "time"):
        assert_same_spikes(sp.simulate(pnet, n_spikes=3000, key=key), single, atol=TIME_TOL)
    assert_as_oracle(pnet, 3000, keys=("exp",))
