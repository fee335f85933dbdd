"""Linear Fisher information (docs/design.md §2.17): the bias-corrected estimator against
synthetic Gaussian responses of known information (numpy, no simulation), its analytic error
bar against the spread of repeated estimates, the curve against population size, and the
ensemble driver against the closed form of independent Poisson counts."""

import numpy as np
import pytest

import sparseprop_gpu as sp
from sparseprop_gpu.analysis.fisher import fisher_information, information_curve, linear_fisher


def gaussian(rng, n=20, trials=60, dtheta=0.5, repeats=400):
    """``repeats`` estimates from Gaussian responses with a random covariance and derivative,
    and the true information."""
    a = rng.normal(size=(n, n))
    cov = a @ a.T / n + np.eye(n)
    slope = 0.8 * rng.normal(size=n)
    root = np.linalg.cholesky(cov)
    out = []
    for _ in range(repeats):
        minus = -slope * dtheta / 2 + rng.normal(size=(trials, n)) @ root.T
        plus = slope * dtheta / 2 + rng.normal(size=(trials, n)) @ root.T
        out.append(linear_fisher(minus, plus, dtheta))
    return out, float(slope @ np.linalg.solve(cov, slope))


@pytest.mark.parametrize("n, trials", [(20, 60), (10, 9)])       # 2 T = N + 8: near the edge
def test_the_corrected_estimator_is_unbiased_and_the_plug_in_is_not(n, trials):
    estimates, true = gaussian(np.random.default_rng(n), n, trials)
    corrected = np.array([e.information for e in estimates])
    plug_in = np.array([e.plug_in for e in estimates])
    se_mean = corrected.std(ddof=1) / np.sqrt(corrected.size)
    assert abs(corrected.mean() - true) < 3 * se_mean
    assert plug_in.mean() - true > 10 * plug_in.std(ddof=1) / np.sqrt(plug_in.size)
    # the analytic standard error is the spread of the estimates (Gaussian responses)
    assert np.mean([e.stderr for e in estimates]) == pytest.approx(corrected.std(ddof=1),
                                                                   rel=0.15)
    inside = np.mean([e.ci[0] <= true <= e.ci[1] for e in estimates])
    if trials >= 3 * n:            # near 2 T = N + 5 the estimate is skewed: 80 % coverage
        assert 0.9 < inside < 0.99


def test_the_bootstrap_error_bar_agrees_with_the_analytic_one():
    rng = np.random.default_rng(3)
    minus, plus = rng.normal(size=(80, 5)), rng.normal(size=(80, 5)) + 0.3
    analytic = linear_fisher(minus, plus, 0.2)
    boot = linear_fisher(minus, plus, 0.2, error="bootstrap", bootstrap=400, seed=1)
    assert boot.information == analytic.information
    assert boot.stderr == pytest.approx(analytic.stderr, rel=0.3)
    assert boot.ci[0] < boot.information < boot.ci[1]


def test_information_of_independent_neurons_grows_linearly_with_population_size():
    rng = np.random.default_rng(4)
    n, trials = 30, 100
    minus = rng.normal(size=(trials, n))
    plus = rng.normal(size=(trials, n)) + 0.1          # each neuron: 0.1^2 / 1 / 0.1^2 = 1
    curve = information_curve(minus, plus, 0.1, sizes=[1, 5, 10, 30], subsets=30)
    np.testing.assert_array_equal(curve.sizes, [1, 5, 10, 30])
    per_neuron = curve.information / curve.sizes
    assert np.all(np.abs(per_neuron - 1.0) < 4 * curve.stderr / curve.sizes + 0.1)
    assert curve.spread[-1] == 0.0                     # one subset: all of them


def test_the_ensemble_recovers_the_information_of_independent_poisson_counts():
    """Uncoupled neurons at rest, each input of a Poisson train (rate theta) makes a spike: the
    counts in a window of length w are independent Poisson(theta w), I = N w / theta."""
    n, w, theta = 8, 1.0, 20.0
    net = sp.PopulationNetwork(sp.LIF(tau=0.01), [sp.Population("E", n, 0.0)], [])

    def trains(rate, trial):
        rng = np.random.default_rng(1000 + trial)
        times = [np.sort(rng.uniform(0.0, 1.2, rng.poisson(rate * 1.2))) for _ in range(n)]
        return sp.Stimulus.from_trains(times, range(n), 1.5)

    result = fisher_information(net, trains, theta, 4.0, 60, (0.2, 1.2), seed=5)
    est = result.estimate
    assert (est.trials, est.neurons) == (60, n)
    assert abs(est.information - n * w / theta) < 3 * est.stderr
    assert result.minus.shape == (60, n) and result.plus.mean() > result.minus.mean()


def test_a_named_parameter_and_latencies():
    """Brunel's g as theta, first-spike latencies of a few neurons as the response."""
    net = sp.brunel(n_e=80, g=5.0, eta=2.0, external="poisson", seed=2)
    result = fisher_information(net, "g", 5.0, 1.0, 8, (0.05, 0.1), neurons=[0, 1, 2],
                                response="latency")
    assert result.minus.shape == (8, 3)
    assert np.all((result.minus >= 0) & (result.minus <= 0.05))
    assert np.isfinite(result.estimate.information)


@pytest.mark.parametrize("kw, match", [
    (dict(dtheta=0.0), "dtheta must be non-zero"),
    (dict(trials=1), r"trials \(per condition\)"),
    (dict(trials=5), "too few for 8 response dimensions.*T >= 7"),
    (dict(window=(0.5, 0.2)), "window t1"),
    (dict(window=(-0.1, 0.2)), "window t0"),
    (dict(neurons=[0, 9]), r"neurons must be .* in \[0, 8\)"),
    (dict(response="rate"), "response must be one of"),
    (dict(parameter=3), "parameter must be the name"),
])
def test_bad_requests_are_refused_naming_the_parameter(kw, match):
    net = sp.PopulationNetwork(sp.LIF(tau=0.01), [sp.Population("E", 8, 0.0)], [])
    given = dict(parameter=lambda theta, trial: None, theta=1.0, dtheta=0.5, trials=20,
                 window=(0.0, 0.1))
    given.update(kw)
    with pytest.raises(ValueError, match=match):
        fisher_information(net, **given)


def test_responses_that_cannot_give_information_are_refused():
    with pytest.raises(ValueError, match="neuron 1 of the response does not vary"):
        linear_fisher(np.c_[np.arange(20.0), np.zeros(20)], np.c_[np.arange(20.0), np.zeros(20)],
                      1.0)
    with pytest.raises(ValueError, match="same shape|one shape"):
        linear_fisher(np.zeros((20, 2)), np.zeros((19, 2)), 1.0)
