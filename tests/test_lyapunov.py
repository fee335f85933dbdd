"""Lyapunov spectra from the sparse single-spike Jacobians (docs/design.md §2.18): the full
spectrum against a dense-Jacobian QR reference written apart (its own phases, the models'
vectorised PTCs, slopes by central differences, an N x N matrix per spike) along the engine's
spikes; the zero exponent of time translation; the sum rule; stable inhibitory LIF and chaotic
QIF networks (QIF with excitation too); the largest exponent against Benettin's renormalised
divergence of two runs of the engine; a tangent vector against the spikes of a perturbed run."""

import numpy as np
import pytest

import sparseprop_gpu as sp
from sparseprop_gpu import analysis as an
from sparseprop_gpu.analysis.lyapunov import lyapunov_spectra as an_spectra, lyapunov_spectrum

LIF, QIF = sp.LIF(tau=0.01), sp.QIF(tau=0.01)


def network(model, n=16, k=4, seed=1, connectivity="stored", **kw):
    return sp.Network(model=model, n=n, k=k, j0=1.0, target_rate=1.0, seed=seed,
                      connectivity=connectivity, **kw)


def dense_spectrum(net, times, senders, every, seed):
    """Exponents (1/s, sorted) and the mean log volume contraction by dense Jacobians; a
    refractory target (within t_ref of its last spike) ignores its input: an identity row."""
    model, n, h = net.model, net.n, 1e-6
    tpp = model.tau / float(model.omega(net.drive))
    phi = np.array(net.initial_phases, float)
    q = np.linalg.qr(np.random.default_rng(seed).normal(size=(n, n)))[0]
    table = net.target_table()
    logs, volume, last = np.zeros(n), 0.0, 0.0
    fired = np.full(n, -np.inf)

    def g(x):
        return model.ptc(x, net.drive, net.coupling)
    for s, (t, j) in enumerate(zip(times, senders)):
        phi += (t - last) / tpp
        last = t
        d = np.eye(n)
        for i in table[j]:
            if t < fired[i] + net.t_ref:
                continue
            slope = (g(phi[i] + h) - g(phi[i] - h)) / (2 * h)
            d[i, i], d[i, j] = slope, 1.0 - slope
            volume += np.log(slope)
            phi[i] = g(phi[i])
        phi[j] = model.phase_reset - net.t_ref / tpp
        fired[j] = t
        q = d @ q
        if (s + 1) % every == 0 or s + 1 == len(times):
            q, r = np.linalg.qr(q)
            logs += np.log(np.abs(np.diag(r)))
    return np.sort(logs / times[-1])[::-1], volume / times[-1]


@pytest.mark.parametrize("model, excitatory, t_ref", [
    (LIF, False, 0.0), (QIF, False, 0.0), (QIF, True, 0.0), (LIF, False, 0.004),
    (QIF, False, 0.004)], ids=["lif", "qif", "qif-excitatory", "lif-refractory",
                               "qif-refractory"])
def test_the_full_spectrum_equals_a_dense_jacobian_reference(model, excitatory, t_ref):
    net = network(model, t_ref=t_ref)
    if excitatory:                  # QIF takes J > 0: its PTC never reaches threshold
        net = sp.Network(model=model, n=16, k=4, drive=net.drive, coupling=0.1, seed=1,
                         connectivity="stored")
    ours = lyapunov_spectrum(net, n_spikes=1500, warmup=0, qr_every=5, seed=3)
    rec = sp.simulate(net, n_spikes=1500)
    want, volume = dense_spectrum(net, rec.times, rec.senders, 5, 3)
    np.testing.assert_allclose(ours.exponents, want, rtol=1e-6, atol=1e-6)
    assert ours.log_volume == pytest.approx(volume, rel=1e-8)
    assert ours.exponents.sum() == pytest.approx(volume, rel=1e-8)      # the sum rule


def test_inhibitory_lif_is_stable_and_time_translation_gives_the_zero_exponent():
    spec = lyapunov_spectrum(network(LIF, n=200, k=20, connectivity="on_the_fly"), m=5,
                             n_spikes=20_000)
    assert abs(spec.exponents[0]) < 1e-6                   # the uniform direction
    assert spec.exponents[1] < -5 * spec.stderr[1] < 0     # "stable chaos"
    assert spec.kaplan_yorke == pytest.approx(1.0) and spec.entropy_rate < 1e-9
    assert spec.running.shape == (spec.times.size, 5)


def test_qif_is_chaotic():
    spec = lyapunov_spectrum(network(QIF, n=200, k=20), m=3, n_spikes=40_000)
    assert spec.exponents[0] > 10 * spec.stderr[0] > 0 and spec.entropy_rate > 0
    assert np.all(np.diff(spec.exponents) <= 0)


def test_the_largest_exponent_is_the_divergence_rate_of_two_nearby_runs():
    """Benettin's method on the forward engine alone: two runs from phases eps apart, their
    difference at equal times (the exact voltage replay at T) renormalised to eps every T;
    the mean log growth per time is the largest exponent."""
    base = network(QIF, n=200, k=20)
    spec = lyapunov_spectrum(base, m=1, n_spikes=40_000)

    def phases_at(phases, t):
        net = network(QIF, n=200, k=20, initial_phases=phases)
        rec = sp.simulate(net, t_end=t, record="spikes")
        return an.voltage_traces(rec, [t], net, observable="phase")[:, 0]
    eps, every = 1e-8, 0.02
    phases = phases_at(base.initial_phases, 0.2)            # onto the attractor
    direction = np.random.default_rng(0).normal(size=200)
    growth = []
    for _ in range(500):
        a, b = phases_at(phases, every), phases_at(phases + eps * direction, every)
        diff = (b - a + np.pi) % (2 * np.pi) - np.pi          # a reset on one side only
        diff -= diff.mean()                                   # not the time-translation
        growth.append(np.log(np.linalg.norm(diff) / eps))
        direction, phases = diff / np.linalg.norm(diff), a
    growth = np.array(growth[10:]) / every
    error = np.hypot(spec.stderr[0], growth.std() / np.sqrt(growth.size))
    assert abs(growth.mean() - spec.exponents[0]) < 3 * error, (growth.mean(), spec, error)
    assert error < 0.1 * spec.exponents[0]


def test_a_tangent_vector_predicts_how_a_perturbed_run_s_spikes_move():
    """The same-time Jacobians against the forward engine: a perturbation eps v of the initial
    phases moves spike s of the chaotic QIF network by -tpp eps v_j(t_s) (v replayed, j the
    spiker) while it is small, across growth by six orders of magnitude."""
    from sparseprop_gpu.compiled import bitmap_words, candidate_scratch, replay_tangents
    from sparseprop_gpu.kernels import connectivity, models as km
    net, eps = network(QIF, n=200, k=20), 1e-10
    v = np.random.default_rng(0).normal(size=net.n)
    v -= v.mean()
    v /= np.linalg.norm(v)
    base = sp.simulate(net, n_spikes=1500)
    moved = sp.simulate(network(QIF, n=200, k=20, initial_phases=net.initial_phases + eps * v),
                        n_spikes=1500)
    par = net.model.kernel_params(net.drive, net.coupling, key="phase")
    offsets, vector = net.initial_phases.copy(), v.reshape(-1, 1).copy()
    senders = base.senders.astype(np.int32)
    scratch = (np.zeros(bitmap_words(net.n), np.uint64), np.zeros(net.k, np.int32),
               np.zeros(candidate_scratch(net.k), np.int64), np.zeros(net.n))
    predicted = np.empty(400)
    for s in range(400):
        predicted[s] = -par[km.P_TPP] * eps * vector[senders[s], 0]
        replay_tangents(np.int64(km.QIF), par, np.int64(connectivity.STORED),
                        np.ascontiguousarray(net.target_table(), np.int32), np.zeros((1, 1)),
                        np.int64(net.seed),
                        np.int64(net.n), np.int64(net.k), *scratch, offsets, senders,
                        base.times, 0.0, s, s + 1, vector, np.zeros(1))
    np.testing.assert_array_equal(moved.senders[:400], base.senders[:400])
    actual = moved.times[:400] - base.times[:400]
    assert np.abs(actual).max() > 1e5 * np.abs(actual[:20]).max()      # it grew
    np.testing.assert_allclose(actual, predicted, rtol=0, atol=5e-3 * np.abs(actual).max())
    late = np.abs(actual) > 1e-3 * np.abs(actual).max()
    np.testing.assert_allclose(actual[late], predicted[late], rtol=2e-2)


def test_an_ensemble_s_spectra_side_by_side_are_each_instance_s_alone():
    base = network(LIF, n=60, k=6, connectivity="on_the_fly")
    ens = sp.Ensemble(base, seeds=[1, 2, 3], j0=[1.0, 1.5, 2.0])
    ds = an_spectra(ens, m=4, n_spikes=3000)
    assert ds["exponent"].shape == (3, 4) and list(ds["j0"].values) == [1.0, 1.5, 2.0]
    for i, net in enumerate(ens.instances):
        alone = lyapunov_spectrum(net, m=4, n_spikes=3000)
        np.testing.assert_array_equal(ds["exponent"].values[i], alone.exponents)
        np.testing.assert_array_equal(ds["stderr"].values[i], alone.stderr)
        assert ds["kaplan_yorke"].values[i] == alone.kaplan_yorke


@pytest.mark.parametrize("kw, match", [
    (dict(m=0), r"m \(exponents, at most n = 16\)"),
    (dict(m=17), r"m \(exponents, at most n = 16\)"),
    (dict(n_spikes=5), r"n_spikes \(measured\)"),
    (dict(blocks=1), "blocks"),
])
def test_bad_requests_are_refused_naming_the_parameter(kw, match):
    with pytest.raises(ValueError, match=match):
        lyapunov_spectrum(network(LIF), **kw)


def test_networks_outside_the_slice_are_refused_naming_why():
    with pytest.raises(ValueError, match="LIF networks need inhibitory coupling"):
        lyapunov_spectrum(sp.Network(model=LIF, n=16, k=4, drive=1.5, coupling=0.05))
    with pytest.raises(ValueError, match="one drive and tau for every neuron"):
        lyapunov_spectrum(sp.Network(model=LIF, n=16, k=4, coupling=-0.05,
                                     drive=sp.heterogeneous(np.full(16, 1.5))))
    with pytest.raises(ValueError, match="LIF or QIF"):
        lyapunov_spectrum(network(sp.EIF(tau=0.01)))
    with pytest.raises(ValueError, match="one population"):
        lyapunov_spectrum(sp.brunel(n_e=80))
