"""The exact gradients as a JAX function (sparseprop_gpu.training, the ``train`` extra): its
VJP is runs.gradient.backward's, and optax learns a teacher network's coupling and drive from
its spike times."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import sparseprop_gpu as sp
from sparseprop_gpu.runs.gradient import backward, trajectory
from sparseprop_gpu.training import spike_function, spike_times_of

jax.config.update("jax_enable_x64", True)


def network(**kw):
    base = sp.Network(model=sp.LIF(tau=0.01), n=100, k=10, j0=1.0, target_rate=1.0, seed=2,
                      connectivity="stored")
    given = dict(drive=base.drive, coupling=base.coupling, initial_phases=base.initial_phases)
    given.update(kw)
    return sp.Network(model=base.model, n=100, k=10, seed=2, connectivity="stored", **given)


def test_jax_gradients_are_the_adjoint_s():
    net, spikes = network(), 60
    f = spike_function(net, spikes)
    w = np.random.default_rng(0).normal(size=spikes)

    def loss(coupling, drive, phases):
        times, senders, final = f(coupling, drive, phases)
        return jnp.dot(w, times) + jnp.sum(final ** 2)
    got = jax.grad(loss, argnums=(0, 1, 2))(net.coupling, net.drive,
                                            jnp.asarray(net.initial_phases))
    run = trajectory(net, spikes)
    want = backward(run, w, 2 * run.final_phases, drives=True)
    assert float(got[0]) == pytest.approx(want.coupling, rel=1e-12)
    assert float(got[1]) == pytest.approx(want.drives.sum(), rel=1e-12)
    np.testing.assert_allclose(np.asarray(got[2]), want.initial_phases, rtol=1e-12, atol=1e-15)


def test_optax_learns_a_teacher_s_coupling_and_drive_from_its_spike_times():
    net, spikes = network(), 60
    teacher = network(coupling=1.05 * net.coupling, drive=1.002 * net.drive)
    target = jnp.asarray(trajectory(teacher, spikes).times)
    f = spike_function(net, spikes)
    phases = jnp.asarray(net.initial_phases)

    def loss(p):                                  # relative changes of J, and of I / 100
        times, _, _ = f(net.coupling * (1 + p[0]), net.drive * (1 + 0.01 * p[1]), phases)
        return jnp.mean((times - target) ** 2)
    params = jnp.zeros(2)
    opt = optax.adam(0.01)
    state = opt.init(params)
    start = float(loss(params))
    for _ in range(200):
        grad = jax.grad(loss)(params)
        step, state = opt.update(grad, state)
        params = optax.apply_updates(params, step)
    assert float(loss(params)) < 1e-4 * start
    np.testing.assert_allclose(np.asarray(params), [0.05, 0.2], atol=2e-3)


def test_jax_gradients_per_connection_of_a_weighted_network():
    base = network()
    weights = base.coupling * np.random.default_rng(2).uniform(0.5, 1.5, size=(100, 10))
    net = sp.Network(model=base.model, n=100, k=10, seed=2, drive=base.drive, weights=weights)
    f = spike_function(net, 60)
    w = np.random.default_rng(3).normal(size=60)
    got = jax.grad(lambda ws: jnp.dot(w, f(ws, net.drive, jnp.asarray(net.initial_phases))[0]))(
        jnp.asarray(weights))
    want = backward(trajectory(net, 60), w, per_synapse=True).synapses
    np.testing.assert_allclose(np.asarray(got), want, rtol=1e-12, atol=1e-15)


def test_the_senders_are_the_engine_s_and_vmap_runs_a_mini_batch():
    net = network()
    f = spike_function(net, 60, segment=25)            # three checkpoints kept as residuals
    phases = np.stack([net.initial_phases, np.roll(net.initial_phases, 3)])
    times, senders, final = jax.vmap(f, in_axes=(None, None, 0))(net.coupling, net.drive,
                                                                 jnp.asarray(phases))
    w = np.random.default_rng(5).normal(size=(2, 60))

    def loss(coupling):
        t, _, _ = jax.vmap(f, in_axes=(None, None, 0))(coupling, net.drive, jnp.asarray(phases))
        return jnp.sum(w * t)
    got = jax.grad(loss)(net.coupling)
    want = 0.0
    for b in range(2):
        alone = network(initial_phases=phases[b])
        run = trajectory(alone, 60, segment=25)
        np.testing.assert_array_equal(np.asarray(times[b]), run.times)
        np.testing.assert_array_equal(np.asarray(senders[b]), run.senders)
        np.testing.assert_array_equal(np.asarray(final[b]), run.final_phases)
        want += backward(run, w[b]).coupling
    assert float(got) == pytest.approx(want, rel=1e-12)


def test_a_refractory_network_s_jax_gradient_is_the_adjoint_s():
    net = network(t_ref=0.004)
    f = spike_function(net, 80)
    w = np.random.default_rng(6).normal(size=80)
    got = jax.grad(lambda j, i: jnp.dot(w, f(j, i, jnp.asarray(net.initial_phases))[0]),
                   argnums=(0, 1))(net.coupling, net.drive)
    want = backward(trajectory(net, 80), w, drives=True)
    assert float(got[0]) == pytest.approx(want.coupling, rel=1e-12)
    assert float(got[1]) == pytest.approx(want.drives.sum(), rel=1e-12)


def test_spike_times_of_picks_each_neuron_s_first_spikes_and_their_derivatives():
    times = jnp.array([[0.1, 0.2, 0.3, 0.4, 0.5], [0.1, 0.15, 0.2, 0.25, 0.3]])
    senders = jnp.array([[3, 1, 3, 2, 1], [1, 1, 2, 1, 0]])
    got = spike_times_of(times, senders, [1, 3], count=2)
    np.testing.assert_array_equal(np.asarray(got), [[[0.2, 0.5], [0.1, 0.3]],
                                                    [[0.1, 0.15], [0.3, 0.3]]])
    grad = jax.grad(lambda t: spike_times_of(t, senders, [1, 3], 2, missing=9.0).sum())(times)
    np.testing.assert_array_equal(np.asarray(grad), [[1, 1, 1, 0, 1], [1, 1, 0, 0, 0]])
    with pytest.raises(ValueError, match="count"):
        spike_times_of(times, senders, [1], count=0)


def test_32_bit_jax_is_refused():
    f = spike_function(network(), 10)
    jax.config.update("jax_enable_x64", False)
    try:
        with pytest.raises(ValueError, match="needs 64-bit JAX"):
            f(-0.3, 1.03, jnp.zeros(100))
    finally:
        jax.config.update("jax_enable_x64", True)
