"""SparseProp against the conventional O(N) oracle, spike by spike."""
import numpy as np
import pytest

import sparseprop_gpu as sp
from sparseprop_gpu import reference
from sparseprop_gpu.engine.cpu import CpuRunner
from sparseprop_gpu.config import SUMMARY_BUFFER
from sparseprop_gpu.runs.simulate import engine_state

from conftest import assert_same_spikes, assert_statistics_agree_with_oracle, phases_of

SPIKES = 20_000


@pytest.fixture(scope="module")
def lif_oracle(lif_net):
    record, _ = reference.simulate(lif_net, n_spikes=SPIKES)
    return record


@pytest.mark.parametrize("key", ["exp", "phase"])
def test_lif_matches_oracle_spike_by_spike(lif_net, lif_oracle, key):
    rec = sp.simulate(lif_net, n_spikes=SPIKES, key=key)
    assert_same_spikes(rec, lif_oracle, atol=1e-12)
    np.testing.assert_array_equal(rec.counts, lif_oracle.counts)


def test_stored_and_on_the_fly_targets_give_identical_records(lif_net):
    on_the_fly = sp.Network(model=lif_net.model, n=lif_net.n, k=lif_net.k, j0=1.0,
                            target_rate=1.0, seed=lif_net.seed, connectivity="on_the_fly")
    a = sp.simulate(lif_net, n_spikes=SPIKES)
    b = sp.simulate(on_the_fly, n_spikes=SPIKES)
    np.testing.assert_array_equal(a.times, b.times)
    np.testing.assert_array_equal(a.senders, b.senders)


def test_user_target_table_is_used(lif_net):
    """A relabelled copy of the network (a different table) is simulated as given."""
    perm = np.random.default_rng(0).permutation(lif_net.n)
    table = np.empty_like(lif_net.target_table())
    table[perm] = perm[lif_net.target_table()]
    user = sp.Network(model=lif_net.model, n=lif_net.n, k=lif_net.k, j0=1.0, target_rate=1.0,
                      targets=table, initial_phases=lif_net.initial_phases)
    rec = sp.simulate(user, n_spikes=2000)
    ref, _ = reference.simulate(user, n_spikes=2000)
    assert_same_spikes(rec, ref, atol=1e-12)
    assert not np.array_equal(rec.senders, sp.simulate(lif_net, n_spikes=2000).senders)


def test_qif_rates_agree_with_oracle_within_sampling_error():
    net = sp.Network(model=sp.QIF(tau=0.01), n=1000, k=50, j0=1.0, target_rate=2.0, seed=4)
    assert_statistics_agree_with_oracle(net, t_end=6.0, warmup=1.0)


def test_qif_matches_oracle_before_chaos_amplifies_rounding():
    net = sp.Network(model=sp.QIF(tau=0.01), n=200, k=20, j0=1.0, target_rate=2.0, seed=4)
    rec = sp.simulate(net, n_spikes=300)
    ref, _ = reference.simulate(net, n_spikes=300)
    assert_same_spikes(rec, ref, atol=1e-9)


def test_same_seeds_give_bitwise_identical_records(lif_net):
    a = sp.simulate(lif_net, n_spikes=5000)
    twin = sp.Network(model=sp.LIF(tau=0.01), n=2000, k=50, j0=1.0, target_rate=1.0, seed=1)
    b = sp.simulate(twin, n_spikes=5000)
    assert a.times.tobytes() == b.times.tobytes()
    assert a.senders.tobytes() == b.senders.tobytes()


def test_network_and_initial_condition_seeds_are_separate(lif_net):
    other_net = sp.Network(model=sp.LIF(tau=0.01), n=2000, k=50, j0=1.0, target_rate=1.0,
                           seed=2, ic_seed=1)
    assert not np.array_equal(other_net.target_table(), lif_net.target_table())
    np.testing.assert_array_equal(other_net.initial_phases, lif_net.initial_phases)
    other_ic = sp.Network(model=sp.LIF(tau=0.01), n=2000, k=50, j0=1.0, target_rate=1.0,
                          seed=1, ic_seed=7)
    np.testing.assert_array_equal(other_ic.target_table(), lif_net.target_table())
    assert not np.array_equal(other_ic.initial_phases, lif_net.initial_phases)


def test_resuming_after_a_full_buffer_changes_nothing(lif_net):
    """Draining a small buffer many times gives the record of one long call."""
    whole = sp.simulate(lif_net, n_spikes=3000)
    batch = engine_state(lif_net, buffer_spikes=7)
    runner = CpuRunner(batch, parallel=False)
    got_t, got_s = [], []
    while sum(map(len, got_t)) < 3000:
        runner.advance(np.array([0]), t_end=np.inf, warmup=0.0, max_spikes=1 << 40, keep=True)
        times, senders = runner.spikes(0, batch.n_rec[0])
        got_t.append(times)
        got_s.append(senders)
    np.testing.assert_array_equal(np.concatenate(got_t)[:3000], whole.times)
    np.testing.assert_array_equal(np.concatenate(got_s)[:3000], whole.senders)


def test_t_end_warmup_and_summary_mode(lif_net):
    full = sp.simulate(lif_net, t_end=0.5)
    assert full.times.max() <= 0.5 and full.t_stop == 0.5
    later = sp.simulate(lif_net, t_end=0.5, warmup=0.2)
    np.testing.assert_array_equal(later.times, full.times[full.times >= 0.2])
    summary = sp.simulate(lif_net, t_end=0.5, warmup=0.2, record="summary")
    assert summary.times.size == 0
    np.testing.assert_array_equal(summary.counts, later.counts)
    np.testing.assert_array_equal(summary.isi_sum, later.isi_sum)


def test_final_phases_match_oracle(lif_net):
    ref, phases = reference.simulate(lif_net, n_spikes=4000)
    state = engine_state(lif_net, key="phase")
    state.rec_cap[0] = 4000
    CpuRunner(state, parallel=False).advance(np.array([0]), t_end=np.inf, warmup=0.0,
                                             max_spikes=1 << 40, keep=False)
    # the oracle's phases are just after its last spike; the engine's at its next spike
    dt = state.time() - ref.times[-1]
    advanced = phases + dt / lif_net.model.tau * lif_net.model.omega(lif_net.drive)
    np.testing.assert_allclose(phases_of(state), advanced, atol=1e-10)


def test_on_the_fly_state_is_under_40_bytes_per_neuron():
    net = sp.Network(model=sp.LIF(tau=0.01), n=1_000_000, k=100, j0=1.0, target_rate=1.0,
                     connectivity="on_the_fly")
    assert engine_state(net, buffer_spikes=SUMMARY_BUFFER).nbytes() / net.n <= 40
