"""Per-connection weights (``sp.Network(weights=...)``, docs/design.md §2.20): the engine equals
the oracle given one coupling per synapse, spike for spike; equal weights are the unweighted
network bit for bit; the gradient per connection against central differences of the engine with
one weight changed; ensembles, continuation and refusals."""

import numpy as np
import pytest

import sparseprop_gpu as sp
from sparseprop_gpu import reference
from sparseprop_gpu.runs.gradient import backward, trajectory

from conftest import assert_same_spikes, under_simulator

LIF, QIF = sp.LIF(tau=0.01), sp.QIF(tau=0.01)


def weighted(model=LIF, spread=0.5, seed=2, n=100, k=10, **kw):
    base = sp.Network(model=model, n=n, k=k, j0=1.0, target_rate=1.0, seed=seed,
                      connectivity="stored")
    rng = np.random.default_rng(seed)
    weights = base.coupling * rng.uniform(1 - spread, 1 + spread, size=(n, k))
    return sp.Network(model=model, n=n, k=k, drive=base.drive, weights=weights, seed=seed,
                      **kw), base


def oracle(net, n_spikes):
    pop = reference.Population(net.model, net.initial_phases, net.drive, net.t_ref)
    indptr = np.arange(0, net.n * net.k + 1, net.k)
    times, senders, _ = reference.simulate_populations(
        [pop], indptr, net.target_table().reshape(-1), net.weights.reshape(-1),
        np.zeros(net.n * net.k), n_spikes=n_spikes)
    return sp.SpikeRecord(times=times, senders=senders, counts=np.zeros(net.n),
                          isi_sum=np.zeros(net.n), isi_sumsq=np.zeros(net.n), t_start=0.0,
                          t_stop=0.0)


@pytest.mark.parametrize("model, key, spikes, atol", [
    (LIF, "exp", 2000, 1e-12), (LIF, "phase", 2000, 1e-12), (QIF, "phase", 200, 1e-9)],
    ids=["lif-exp", "lif-phase", "qif-phase"])
def test_weighted_networks_give_the_oracle_s_spikes(model, key, spikes, atol):
    net, _ = weighted(model)
    assert_same_spikes(sp.simulate(net, n_spikes=spikes, key=key), oracle(net, spikes), atol)


def test_excitatory_weights_and_refractoriness_give_the_oracle_s_spikes():
    net, _ = weighted(spread=1.6, t_ref=0.002)         # some weights > 0
    assert net.weights.max() > 0 and net.coupling == net.weights.max()
    assert_same_spikes(sp.simulate(net, n_spikes=1500), oracle(net, 1500), 1e-12)


@pytest.mark.parametrize("model", [LIF, QIF], ids=["lif", "qif"])
def test_equal_weights_are_the_unweighted_network_bit_for_bit(model):
    _, base = weighted(model)
    same = sp.Network(model=model, n=100, k=10, drive=base.drive, seed=2,
                      weights=np.full((100, 10), base.coupling))
    a, b = sp.simulate(base, n_spikes=1000), sp.simulate(same, n_spikes=1000)
    np.testing.assert_array_equal(a.senders, b.senders)
    np.testing.assert_array_equal(a.times, b.times)


@pytest.mark.parametrize("model, spread", [(LIF, 0.5), (QIF, 0.5), (QIF, 1.6)],
                         ids=["lif", "qif", "qif-both-signs"])
def test_the_gradient_per_connection_equals_central_differences_of_the_engine(model, spread):
    net, _ = weighted(model, spread)
    assert (net.weights.max() > 0) == (spread > 1)
    spikes = 60
    rng = np.random.default_rng(4)
    w, c = rng.normal(size=spikes), rng.normal(size=net.n)
    run = trajectory(net, spikes)
    grad = backward(run, w, c, per_synapse=True)
    j, col = np.unravel_index(np.argmax(np.abs(grad.synapses)), grad.synapses.shape)

    def loss(delta):
        weights = net.weights.copy()
        weights[j, col] += delta
        other = trajectory(sp.Network(model=model, n=net.n, k=net.k, drive=net.drive, seed=2,
                                      weights=weights), spikes)
        np.testing.assert_array_equal(other.senders, run.senders)
        return w @ other.times + c @ other.final_phases
    h = 1e-6 * abs(net.weights[j, col])
    assert grad.synapses[j, col] == pytest.approx((loss(h) - loss(-h)) / (2 * h), rel=1e-6)


def test_ensembles_records_and_continuation_of_a_weighted_network():
    net, _ = weighted()
    result = sp.run_ensemble(sp.Ensemble(net, ic_seeds=[1, 2]), n_spikes=300, record="spikes")
    for i, ic in enumerate((1, 2)):
        alone = sp.simulate(sp.Network(model=LIF, n=100, k=10, drive=net.drive, seed=2,
                                       ic_seed=ic, weights=net.weights), n_spikes=300)
        np.testing.assert_array_equal(result.sp.spikes(i)[0], alone.times)
    whole = sp.simulate(net, n_spikes=800)
    first = sp.simulate(net, n_spikes=300)
    assert first.meta["weights"]["sha256"] == net.describe()["weights"]["sha256"]
    rest = sp.simulate(net, n_spikes=800, continue_from=first)
    np.testing.assert_array_equal(rest.times, whole.times)
    moved = net.weights.copy()
    moved[3, 4] *= 0.9                                 # the same largest weight: the digest
    other = sp.Network(model=LIF, n=100, k=10, drive=net.drive, seed=2, weights=moved)
    with pytest.raises(ValueError, match="weights"):
        sp.simulate(other, n_spikes=800, continue_from=first)
    with pytest.raises(ValueError, match="seed cannot vary per instance .*per-connection"):
        sp.Ensemble(net, seeds=[1, 2])


SIMULATED = r"""
import json, warnings
import numpy as np
import sparseprop_gpu as sp
warnings.simplefilter("ignore", RuntimeWarning)
base = sp.Network(model=sp.LIF(tau=0.01), n=30, k=4, j0=1.0, target_rate=5.0, seed=1,
                  connectivity="stored")
weights = base.coupling * np.random.default_rng(1).uniform(0.2, 1.8, size=(30, 4))
net = sp.Network(model=sp.LIF(tau=0.01), n=30, k=4, drive=base.drive, weights=weights, seed=1)
ens = sp.Ensemble(net, ic_seeds=[1, 2])
cuda = sp.run_ensemble(ens, n_spikes=120, backend="cuda", record="spikes", buffer_spikes=64)
cpu = sp.run_ensemble(ens, n_spikes=120, backend="cpu", record="spikes")
print(json.dumps({"backend": cuda.sp.meta["backend"],
                  "same": bool(np.array_equal(cuda.sp.times, cpu.sp.times)
                               and np.array_equal(cuda.sp.senders, cpu.sp.senders)),
                  "spikes": int(cuda.sp.times.size)}))
"""


def test_a_weighted_network_on_the_cuda_kernel_under_the_simulator_equals_cpu():
    assert under_simulator(SIMULATED) == {"backend": "cuda", "same": True, "spikes": 240}


def test_what_takes_one_coupling_refuses_a_weighted_network():
    net, _ = weighted()
    with pytest.raises(ValueError, match="simulate_populations one coupling per synapse"):
        reference.simulate(net, n_spikes=10)
    with pytest.raises(ValueError, match="per-connection"):
        sp.analysis.voltage_traces(sp.simulate(net, n_spikes=10), np.linspace(0, 0.01, 3), net)


@pytest.mark.parametrize("kw, match", [
    (dict(connectivity="on_the_fly"), "weights need connectivity 'stored'"),
    (dict(coupling=-0.1), "weights replace coupling"),
    (dict(weights=np.zeros((100, 9))), r"weights \(one per connection, \(n, k\) = \(100, 10\)\)"),
    (dict(weights=np.full((100, 10), np.nan)), "weights"),
    (dict(model=sp.EIF(tau=0.01)), "built for LIF and QIF"),
    (dict(drive=sp.heterogeneous(lambda i, n: 1.5 + 0.0 * i)), "one drive for every neuron"),
])
def test_bad_weights_are_refused_naming_them(kw, match):
    given = dict(model=LIF, n=100, k=10, drive=1.5, weights=np.full((100, 10), -0.1))
    given.update(kw)
    with pytest.raises(ValueError, match=match):
        sp.Network(**given)
