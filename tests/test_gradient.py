"""Exact gradients by the adjoint of the event map (docs/design.md §2.19): against central
finite differences of the forward engine (and of the conventional oracle, per connection and
per neuron's drive),
against forward-mode tangents replayed through the same spikes (a second implementation), for
LIF and QIF; checkpointed segments of any length give the same gradient; memory below K x
spikes; bad input refused."""

import numpy as np
import pytest

import sparseprop_gpu as sp
from sparseprop_gpu import reference
from sparseprop_gpu.runs.gradient import backward, backwards, trajectories, trajectory

from conftest import under_simulator

LIF, QIF = sp.LIF(tau=0.01), sp.QIF(tau=0.01)


def network(model=LIF, coupling=None, phases=None, connectivity="stored", n=100, k=10):
    base = dict(model=model, n=n, k=k, seed=2, connectivity=connectivity)
    balanced = sp.Network(j0=1.0, target_rate=1.0, **base)
    return sp.Network(drive=balanced.drive, initial_phases=phases,
                      coupling=balanced.coupling if coupling is None else coupling, **base)


def loss_weights(net, spikes, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=spikes), rng.normal(size=net.n)


@pytest.mark.parametrize("model, connectivity, spikes", [
    (LIF, "stored", 60), (LIF, "on_the_fly", 400), (QIF, "stored", 60)],
    ids=["lif", "lif-on-the-fly-400", "qif"])
def test_the_gradient_equals_central_differences_of_the_engine(model, connectivity, spikes):
    """L = sum_s w_s t_s + sum_i c_i phi_i(t_S); QIF is chaotic: 60 spikes keep its order."""
    net = network(model, connectivity=connectivity)
    w, c = loss_weights(net, spikes)
    run = trajectory(net, spikes)
    grad = backward(run, w, c)

    def loss(**kw):
        other = trajectory(network(model, connectivity=connectivity, **kw), spikes)
        np.testing.assert_array_equal(other.senders, run.senders)     # the order is fixed
        return w @ other.times + c @ other.final_phases
    h = 1e-6 * abs(net.coupling)
    fd = (loss(coupling=net.coupling + h) - loss(coupling=net.coupling - h)) / (2 * h)
    assert grad.coupling == pytest.approx(fd, rel=1e-6)
    v = np.random.default_rng(1).normal(size=net.n)
    v /= np.linalg.norm(v)
    fd = (loss(phases=net.initial_phases + 1e-6 * v)
          - loss(phases=net.initial_phases - 1e-6 * v)) / 2e-6
    assert grad.initial_phases @ v == pytest.approx(fd, rel=1e-6)


@pytest.mark.parametrize("model, spikes", [(LIF, 200), (QIF, 80)], ids=["lif", "qif"])
def test_refractory_networks_gradients_equal_central_differences_of_the_engine(model, spikes):
    """t_ref = 3 ms at 20 Hz: inputs to refractory targets are ignored (the identity), the
    restart phase reset - t_ref omega / tau moves with the drive; dL/dJ, dL/dI, dL/dphi(0)."""
    base = sp.Network(model=model, n=60, k=6, j0=1.0, target_rate=20.0, seed=5,
                      connectivity="stored")

    def make(drive=base.drive, coupling=base.coupling, phases=None):
        return sp.Network(model=model, n=60, k=6, seed=5, connectivity="stored", drive=drive,
                          coupling=coupling, t_ref=0.003, initial_phases=phases)
    net = make()
    run = trajectory(net, spikes)
    last, ignored = np.full(net.n, -np.inf), 0           # count the ignored inputs
    for t, j in zip(run.times, run.senders):
        ignored += int(np.sum(t < last[net.target_table()[j]] + 0.003))
        last[j] = t
    assert ignored > 5
    w, c = loss_weights(net, spikes, seed=11)
    grad = backward(run, w, c, drives=True)

    def loss(**kw):
        other = trajectory(make(**kw), spikes)
        np.testing.assert_array_equal(other.senders, run.senders)
        return w @ other.times + c @ other.final_phases
    for name, value, got in (("coupling", net.coupling, grad.coupling),
                             ("drive", net.drive, grad.drives.sum())):
        h = 1e-6 * abs(value)
        fd = (loss(**{name: value + h}) - loss(**{name: value - h})) / (2 * h)
        assert got == pytest.approx(fd, rel=1e-6), name
    v = np.random.default_rng(1).normal(size=net.n)
    v /= np.linalg.norm(v)
    fd = (loss(phases=net.initial_phases + 1e-6 * v)
          - loss(phases=net.initial_phases - 1e-6 * v)) / 2e-6
    assert grad.initial_phases @ v == pytest.approx(fd, rel=1e-6)


def test_excitatory_lif_cascades_gradients_equal_central_differences_of_the_engine():
    """A LIF network whose excitatory inputs cause spikes at their instant (over half the
    spikes): a caused spike's time is its cascade's root's, and the inputs of an instant sum;
    dL/dw of an excitatory and an inhibitory connection, dL/dI and dL/dphi(0)."""
    n, k, spikes = 60, 6, 300
    weights = np.where(np.random.default_rng(3).uniform(size=(n, k)) < 0.25, 0.25, -0.08)

    def make(w=weights, drive=1.3, phases=None):
        return sp.Network(model=LIF, n=n, k=k, drive=drive, weights=w, seed=4,
                          initial_phases=phases)
    net = make()
    run = trajectory(net, spikes)
    assert run.ties > 150                     # the caused spikes share their cause's time
    w, c = loss_weights(net, spikes, seed=5)
    grad = backward(run, w, c, per_synapse=True, drives=True)
    short = backward(trajectory(net, spikes, segment=7), w, c, drives=True)   # segments that
    assert short.drives.sum() == pytest.approx(grad.drives.sum(), rel=1e-9)  # cut instants

    def loss(**kw):
        other = trajectory(make(**kw), spikes)
        np.testing.assert_array_equal(other.senders, run.senders)
        return w @ other.times + c @ other.final_phases
    for sign in (1, -1):
        chosen = np.argwhere(sign * weights > 0)
        j, col = chosen[np.argmax(np.abs(grad.synapses[sign * weights > 0]))]
        up, down = weights.copy(), weights.copy()
        up[j, col] += 1e-6
        down[j, col] -= 1e-6
        assert grad.synapses[j, col] == pytest.approx((loss(w=up) - loss(w=down)) / 2e-6,
                                                      rel=1e-6)
    fd = (loss(drive=1.3 + 1e-6) - loss(drive=1.3 - 1e-6)) / 2e-6
    assert grad.drives.sum() == pytest.approx(fd, rel=1e-6)
    v = np.random.default_rng(1).normal(size=n)
    v /= np.linalg.norm(v)
    fd = (loss(phases=net.initial_phases + 1e-6 * v)
          - loss(phases=net.initial_phases - 1e-6 * v)) / 2e-6
    assert grad.initial_phases @ v == pytest.approx(fd, rel=1e-6)


def test_the_gradient_equals_forward_mode_tangents():
    """dL/dphi(0) . v from one tangent vector carried forward through the same spikes
    (kernels.tangent.replay_tangents, not the adjoint's code): each spike moves by
    -tpp v_j, the final phases by v_i - v_j(t_S)."""
    from sparseprop_gpu.compiled import bitmap_words, candidate_scratch, replay_tangents
    from sparseprop_gpu.kernels import connectivity, models as km
    net, spikes = network(), 500
    w, c = loss_weights(net, spikes, seed=3)
    run = trajectory(net, spikes)
    grad = backward(run, w, c)
    par = net.model.kernel_params(net.drive, net.coupling, key="phase")
    tpp = par[km.P_TPP]
    v = np.random.default_rng(4).normal(size=net.n)
    offsets, vector = net.initial_phases.copy(), v.reshape(-1, 1).copy()
    scratch = (np.zeros(bitmap_words(net.n), np.uint64), np.zeros(net.k, np.int32),
               np.zeros(candidate_scratch(net.k), np.int64), np.zeros(net.n))
    moved = 0.0
    for s in range(spikes):
        j = run.senders[s]
        moved += w[s] * -tpp * vector[j, 0]
        if s == spikes - 1:
            last = vector[j, 0]
        replay_tangents(np.int64(km.LIF), par, np.int64(connectivity.STORED),
                        np.ascontiguousarray(net.target_table(), np.int32), np.zeros((1, 1)),
                        np.int64(net.seed),
                        np.int64(net.n), np.int64(net.k), *scratch, offsets, run.senders,
                        run.times, 0.0, s, s + 1, vector, np.zeros(1))
    moved += c @ (vector[:, 0] - last)
    assert grad.initial_phases @ v == pytest.approx(moved, rel=1e-9)


@pytest.mark.parametrize("model", [LIF, QIF], ids=["lif", "qif"])
def test_drive_gradients_against_the_engine_and_per_neuron_against_the_oracle(model):
    """dL/dI_i: the inputs' dg/dI and the phase velocity's; their sum against central
    differences of the engine in the common drive, two neurons' against the oracle run with
    one neuron's drive changed (sp.heterogeneous)."""
    net, spikes = network(model), 60
    w, c = loss_weights(net, spikes)
    run = trajectory(net, spikes)
    grad = backward(run, w, c, drives=True)
    h = 1e-6 * net.drive

    def loss(drive):
        other = trajectory(sp.Network(model=model, n=net.n, k=net.k, seed=net.seed,
                                      connectivity="stored", drive=drive,
                                      coupling=net.coupling), spikes)
        np.testing.assert_array_equal(other.senders, run.senders)
        return w @ other.times + c @ other.final_phases
    fd = (loss(net.drive + h) - loss(net.drive - h)) / (2 * h)
    assert grad.drives.sum() == pytest.approx(fd, rel=1e-6)
    for i in (3, int(np.argmax(np.abs(grad.drives)))):
        def one(delta):
            drive = sp.heterogeneous(lambda q, n: np.where(q == i, net.drive + delta, net.drive))
            rec, phases = reference.simulate(
                sp.Network(model=model, n=net.n, k=net.k, seed=net.seed, connectivity="stored",
                           drive=drive, coupling=net.coupling), n_spikes=spikes)
            np.testing.assert_array_equal(rec.senders, run.senders)
            return w @ rec.times + c @ phases
        assert grad.drives[i] == pytest.approx((one(h) - one(-h)) / (2 * h), rel=1e-6)


def test_per_connection_gradients_against_the_oracle():
    """dL/dw of one connection by central differences of the conventional oracle, given one
    coupling per synapse; the connections' gradients sum to dL/dJ."""
    net, spikes = network(n=40, k=5), 80
    w, c = loss_weights(net, spikes, seed=5)
    grad = backward(trajectory(net, spikes), w, c, per_synapse=True)
    assert grad.synapses.sum() == pytest.approx(grad.coupling, rel=1e-12)
    table = net.target_table()
    indptr = np.arange(0, net.n * net.k + 1, net.k)
    j, col = np.unravel_index(np.argmax(np.abs(grad.synapses)), grad.synapses.shape)

    def loss(delta):
        coupling = np.full(net.n * net.k, net.coupling)
        coupling[j * net.k + col] += delta
        pop = reference.Population(LIF, net.initial_phases, net.drive)
        times, _, phases = reference.simulate_populations(
            [pop], indptr, table.reshape(-1), coupling, np.zeros(net.n * net.k),
            n_spikes=spikes)
        return w @ times + c @ phases
    h = 1e-6 * abs(net.coupling)
    fd = (loss(h) - loss(-h)) / (2 * h)
    assert grad.synapses[j, col] == pytest.approx(fd, rel=1e-6)


def test_segments_change_nothing_and_memory_stays_below_k_times_spikes():
    net, spikes = network(), 20_000
    w, c = loss_weights(net, spikes, seed=6)
    default = backward(trajectory(net, spikes), w, c)
    short = backward(trajectory(net, spikes, segment=7), w, c)
    assert short.coupling == pytest.approx(default.coupling, rel=1e-12)
    np.testing.assert_allclose(short.initial_phases, default.initial_phases, rtol=1e-12,
                               atol=1e-15)
    assert default.peak_bytes < 0.2 * net.k * spikes * 8      # K x spikes of float64
    whole = trajectory(net, 6000, segment=6000)      # 7.4 s = 740 tau: LIF's origin moves
    assert whole.times[-1] > 6.0
    parts = trajectory(net, 6000, segment=100)
    np.testing.assert_allclose(whole.final_phases, parts.final_phases, rtol=0, atol=1e-9)
    w, c = loss_weights(net, 6000, seed=7)
    assert backward(whole, w, c).coupling == pytest.approx(backward(parts, w, c).coupling,
                                                           rel=1e-9)


def test_a_mini_batch_runs_as_one_ensemble_and_equals_one_run_per_sample():
    net = network(QIF)
    phases = np.random.default_rng(8).uniform(-3.0, 3.0, (4, net.n))
    runs = trajectories(net, phases, 300, segment=70)
    w = np.random.default_rng(9).normal(size=(4, 300))
    c = np.random.default_rng(10).normal(size=(4, net.n))
    grads = backwards(runs, w, c, drives=True)
    for b in range(4):
        alone = trajectory(network(QIF, phases=phases[b]), 300, segment=70)
        np.testing.assert_array_equal(runs[b].times, alone.times)
        np.testing.assert_array_equal(runs[b].senders, alone.senders)
        np.testing.assert_array_equal(runs[b].final_phases, alone.final_phases)
        np.testing.assert_array_equal(runs[b].network.initial_phases, phases[b])
        want = backward(alone, w[b], c[b], drives=True)
        assert grads[b].coupling == want.coupling
        np.testing.assert_array_equal(grads[b].drives, want.drives)
        np.testing.assert_array_equal(grads[b].initial_phases, want.initial_phases)
    with pytest.raises(ValueError, match="one row per run"):
        backwards(runs, w[:3])


BACKWARD_ON_THE_SIMULATOR = r"""
import json
import numpy as np
import sparseprop_gpu as sp
from sparseprop_gpu.runs.gradient import backwards, trajectories
out = {}
for name, model, connectivity in (("lif-on-the-fly", sp.LIF(tau=0.01), "on_the_fly"),
                                  ("qif-weighted", sp.QIF(tau=0.01), "stored"),
                                  ("lif-excitatory", sp.LIF(tau=0.01), "stored")):
    base = sp.Network(model=model, n=24, k=4, j0=1.0, target_rate=5.0, seed=3,
                      connectivity=connectivity)
    net = base
    if name == "lif-excitatory":    # cascades of caused spikes
        weights = np.where(np.random.default_rng(1).uniform(size=(24, 4)) < 0.3, 0.3, -0.1)
        net = sp.Network(model=model, n=24, k=4, drive=1.3, weights=weights, seed=3)
    elif connectivity == "stored":
        weights = base.coupling * np.random.default_rng(1).uniform(-0.5, 1.5, (24, 4))
        net = sp.Network(model=model, n=24, k=4, drive=base.drive, weights=weights, seed=3,
                         t_ref=0.004)
    low = model.phase_reset + 0.1
    phases = np.random.default_rng(2).uniform(low, model.phase_threshold - 0.1, (3, 24))
    runs = trajectories(net, phases, 40, segment=15)
    w = np.random.default_rng(4).normal(size=(3, 40))
    c = np.random.default_rng(5).normal(size=(3, 24))
    per = connectivity == "stored"
    cpu = backwards(runs, w, c, per_synapse=per, drives=True)
    gpu = backwards(runs, w, c, per_synapse=per, drives=True, backend="cuda")
    diff = 0.0
    for a, b in zip(cpu, gpu):
        pairs = [(a.coupling, b.coupling), (a.initial_phases, b.initial_phases),
                 (a.drives, b.drives)] + ([(a.synapses, b.synapses)] if per else [])
        for x, y in pairs:
            diff = max(diff, float(np.max(np.abs(np.asarray(x) - np.asarray(y))
                                          / (np.abs(np.asarray(x)) + 1e-300))))
    out[name] = diff
print(json.dumps(out))
"""


def test_the_cuda_backward_kernel_under_the_simulator_equals_the_cpu_s():
    got = under_simulator(BACKWARD_ON_THE_SIMULATOR)
    assert max(got.values()) <= 1e-12, got


def test_bad_input_is_refused_naming_it():
    net = network()
    run = trajectory(net, 50)
    with pytest.raises(ValueError, match="dl_dtimes .*NaN"):
        backward(run, np.full(50, np.nan))
    with pytest.raises(ValueError, match="dl_dtimes"):
        backward(run, np.zeros(49))
    with pytest.raises(ValueError, match="dl_dphases"):
        backward(run, np.zeros(50), np.zeros(3))
    with pytest.raises(ValueError, match="per_synapse: .*stored connectivity"):
        backward(trajectory(network(connectivity="on_the_fly"), 50), np.zeros(50),
                 per_synapse=True)
    with pytest.raises(ValueError, match="one drive and tau for every neuron"):
        trajectory(sp.Network(model=LIF, n=20, k=3, drive=sp.heterogeneous(np.full(20, 1.5)),
                              coupling=-0.05), 50)
    with pytest.raises(ValueError, match="n_spikes"):
        trajectory(net, 0)
