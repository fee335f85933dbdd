"""Linear Fisher information of network responses about a stimulus parameter (docs/design.md
§2.17).

``linear_fisher`` estimates it from responses at theta - dtheta / 2 and theta + dtheta / 2
(numpy only): the plug-in f'^T S^-1 f' and the bias-corrected estimator of Kanitscheider,
Coen-Cagli, Kohn and Pouget (2015, PLoS Comput Biol 11, e1004218), with its analytic variance
or a bootstrap over trials. ``information_curve`` gives it against population size from random
subsets of neurons. ``fisher_information`` runs the trials as one ensemble and estimates it.
"""
from collections import namedtuple
from statistics import NormalDist

import numpy as np

from .. import validate

FisherEstimate = namedtuple("FisherEstimate", "information stderr ci plug_in trials neurons "
                                              "dtheta derivative")
FisherEstimate.__doc__ = """The linear Fisher information of a response about theta.

information : float
    The bias-corrected estimate (units of 1 / theta^2): unbiased for Gaussian responses.
stderr : float
    Its standard error (analytic, or the bootstrap's standard deviation).
ci : (float, float)
    Its confidence interval at the level asked for (analytic: normal; bootstrap: percentiles).
plug_in : float
    f'^T S^-1 f' with the sample derivative and pooled covariance (biased upwards).
trials, neurons : int
    Trials per condition T and response dimensions N.
dtheta : float
derivative : ndarray (N,)
    The sample derivative f' of the mean response (per unit theta).
"""

FisherResult = namedtuple("FisherResult", "estimate theta dtheta minus plus censored")
FisherResult.__doc__ = """What ``fisher_information`` measured.

estimate : FisherEstimate
theta, dtheta : float
minus, plus : ndarray (T, N)
    The responses at theta - dtheta / 2 and theta + dtheta / 2, trial by neuron (for
    ``information_curve``).
censored : int
    Latencies: responses without a spike in the window (set to the window's length).
"""

Curve = namedtuple("Curve", "sizes information spread stderr")
Curve.__doc__ = """Information against population size (``information_curve``).

sizes : ndarray (S,) int
information : ndarray (S,)
    The mean bias-corrected estimate over the random subsets of each size.
spread : ndarray (S,)
    The standard deviation over subsets (how much it depends on which neurons).
stderr : ndarray (S,)
    The mean analytic standard error of one subset's estimate.
"""


def _responses(minus, plus):
    minus = np.asarray(minus, float)
    plus = np.asarray(plus, float)
    if minus.ndim == 1:
        minus, plus = minus[:, None], plus[:, None]
    if minus.ndim != 2 or minus.shape != plus.shape:
        raise ValueError(f"minus and plus must be (trials, neurons) arrays of one shape; got "
                         f"{minus.shape} and {plus.shape}")
    if not (np.all(np.isfinite(minus)) and np.all(np.isfinite(plus))):
        raise ValueError("minus and plus must be finite (a latency without a spike: censor it)")
    return minus, plus


def _check_trials(trials, neurons):
    if trials < 2:
        raise ValueError(f"trials must be at least 2 per condition; got {trials}")
    if 2 * trials <= neurons + 5:
        raise ValueError(f"trials: {trials} per condition are too few for {neurons} response "
                         f"dimensions: the bias-corrected estimator and its variance need 2 T > "
                         f"N + 5, T >= {(neurons + 5) // 2 + 1} here; use more trials or fewer "
                         "neurons (information_curve over subsets)")


def _estimate(minus, plus, dtheta):
    """(bias-corrected, plug-in, analytic variance, derivative) of (T, N) responses."""
    trials, neurons = minus.shape
    derivative = (plus.mean(axis=0) - minus.mean(axis=0)) / dtheta
    pooled = (np.cov(minus, rowvar=False, ddof=1) + np.cov(plus, rowvar=False, ddof=1)) / 2.0
    pooled = np.atleast_2d(pooled)
    flat = np.flatnonzero(np.diag(pooled) <= 0.0)
    if flat.size:
        raise ValueError(f"neuron {int(flat[0])} of the response does not vary in either "
                         "condition (e.g. it is silent): its covariance is singular; leave it out")
    try:
        plug_in = float(derivative @ np.linalg.solve(pooled, derivative))
    except np.linalg.LinAlgError:
        raise ValueError("the response covariance is singular (neurons that are linear "
                         "combinations of others): leave some out") from None
    t, n = float(trials), float(neurons)
    corrected = plug_in * (2 * t - n - 3) / (2 * t - 2) - 2 * n / (t * dtheta**2)
    variance = 2.0 / (2 * t - n - 5) * (corrected**2 + 4 * (2 * t - 3) * corrected
                                        / (t * dtheta**2)
                                        + 4 * n * (2 * t - 3) / (t**2 * dtheta**4))
    return corrected, plug_in, max(variance, 0.0), derivative


def linear_fisher(minus, plus, dtheta, level=0.95, error="analytic", bootstrap=1000, seed=0):
    """The linear Fisher information of a response about theta.

    Parameters
    ----------
    minus, plus : array_like (T, N)
        Responses (spike counts, latencies, ...) in T trials per condition at theta - dtheta / 2
        and theta + dtheta / 2; independent trials, the same N dimensions. 2 T > N + 5.
    dtheta : float
        The step between the conditions (units of theta), non-zero.
    level : float
        Confidence level of the interval, in (0, 1).
    error : {"analytic", "bootstrap"}
        The standard error and interval: Kanitscheider et al.'s variance of the corrected
        estimator (exact for Gaussian responses) with a normal interval, or ``bootstrap``
        resamples of the trials within each condition with a percentile interval.
    bootstrap, seed : int
        Resamples and their seed (``error="bootstrap"``).

    Returns
    -------
    FisherEstimate
    """
    minus, plus = _responses(minus, plus)
    dtheta = validate.real("dtheta (the step between the conditions)", dtheta)
    if dtheta == 0.0:
        raise ValueError("dtheta must be non-zero: the derivative is (f(theta + dtheta / 2) - "
                         "f(theta - dtheta / 2)) / dtheta")
    level = validate.real("level (the confidence level)", level, 0.0, 1.0, low_open=True,
                          high_open=True)
    validate.choice("error", error, ("analytic", "bootstrap"))
    trials, neurons = minus.shape
    _check_trials(trials, neurons)
    corrected, plug_in, variance, derivative = _estimate(minus, plus, dtheta)
    if error == "analytic":
        stderr = float(np.sqrt(variance))
        z = NormalDist().inv_cdf(0.5 + level / 2.0)
        ci = (corrected - z * stderr, corrected + z * stderr)
    else:
        bootstrap = validate.integer("bootstrap (resamples)", bootstrap, 2, 10**7)
        rng = np.random.default_rng(seed)
        draws = np.empty(bootstrap)
        for b in range(bootstrap):
            draws[b] = _estimate(minus[rng.integers(0, trials, trials)],
                                 plus[rng.integers(0, trials, trials)], dtheta)[0]
        stderr = float(draws.std(ddof=1))
        ci = tuple(float(q) for q in np.quantile(draws, [0.5 - level / 2.0, 0.5 + level / 2.0]))
    return FisherEstimate(float(corrected), stderr, (float(ci[0]), float(ci[1])), plug_in,
                          trials, neurons, dtheta, derivative)


def information_curve(minus, plus, dtheta, sizes=None, subsets=20, seed=0):
    """Information against population size: the bias-corrected estimate of random subsets of
    the response's neurons (``subsets`` per size), the curve that shows information-limiting
    correlations (it saturates) or their absence (it grows linearly).

    Parameters
    ----------
    minus, plus, dtheta : as ``linear_fisher``
    sizes : sequence of int, optional
        Subset sizes, each in [1, N] with 2 T > size + 5; default: up to 12 sizes from 1 to the
        largest allowed, spaced geometrically.
    subsets : int
        Random subsets per size (without replacement; all of them, once, at size N).
    seed : int

    Returns
    -------
    Curve
    """
    minus, plus = _responses(minus, plus)
    trials, neurons = minus.shape
    largest = min(neurons, 2 * trials - 6)
    if largest < 1:
        _check_trials(trials, 1)
    if sizes is None:
        sizes = np.unique(np.geomspace(1, largest, 12).round().astype(int))
    sizes = np.asarray(sizes, int)
    for size in sizes:
        validate.integer(f"sizes (each at most N = {neurons} and with 2 T > size + 5, T = "
                         f"{trials})", int(size), 1, largest)
    subsets = validate.integer("subsets", subsets, 1, 10**6)
    rng = np.random.default_rng(seed)
    info, spread, stderr = [], [], []
    for size in sizes:
        values, errors = [], []
        for _ in range(1 if size == neurons else subsets):
            chosen = rng.choice(neurons, size, replace=False)
            corrected, _, variance, _ = _estimate(minus[:, chosen], plus[:, chosen], dtheta)
            values.append(corrected)
            errors.append(np.sqrt(variance))
        info.append(np.mean(values))
        spread.append(np.std(values, ddof=1) if len(values) > 1 else 0.0)
        stderr.append(np.mean(errors))
    return Curve(sizes, np.array(info), np.array(spread), np.array(stderr))


RESPONSES = ("counts", "latency")


def fisher_information(network, parameter, theta, dtheta, trials, window, *, neurons=None,
                       response="counts", seed=0, level=0.95, error="analytic",
                       backend="auto", batch_size=None):
    """The linear Fisher information about ``theta`` of a network's response, from ``trials``
    trials at theta - dtheta / 2 and as many at theta + dtheta / 2, run as one ensemble.

    Parameters
    ----------
    network : Network or PopulationNetwork
        The network every trial runs (connectivity and parameters other than theta fixed).
    parameter : str or callable
        What theta is: the name of a per-instance parameter of ``sp.Ensemble`` for this network
        (``drive``, ``coupling``, ``j0``, ``t_ref``; for ``sp.brunel``/``sp.balanced`` networks
        their parameters, e.g. ``g``, ``eta``, ``j``), or a function ``(theta, trial) ->
        sp.Stimulus`` (a parameter of the stimulus; ``trial`` numbers the 2 T trials, so each
        can draw its own events).
    theta, dtheta : float
        Where, and the step (non-zero) between the two conditions.
    trials : int
        Trials per condition T, 2 T > N + 5 for N response dimensions. Trial i (0 .. 2 T - 1,
        theta - dtheta / 2 first) has initial-condition seed (and for a network of populations
        noise seed) ``seed + i``; the connectivity is the network's.
    window : (float, float)
        The response window [t0, t1) (s), 0 <= t0 < t1: the run goes to t1, spikes before t0
        are not counted.
    neurons : array_like of int, optional
        The neurons whose responses count (default: all).
    response : {"counts", "latency"}
        Spike counts in the window, or the first spike's latency after t0 (t1 - t0 where a
        neuron does not fire in the window: censored, and counted in the result).
    seed : int
        First trial seed.
    level, error :
        As ``linear_fisher``.
    backend, batch_size :
        As ``sp.run_ensemble``.

    Returns
    -------
    FisherResult
    """
    from ..runs.ensemble import Ensemble, run_ensemble
    from ..specification.populations import PopulationNetwork
    validate.choice("response", response, RESPONSES)
    theta = validate.real("theta", theta)
    dtheta = validate.real("dtheta (the step between the conditions)", dtheta)
    if dtheta == 0.0:
        raise ValueError("dtheta must be non-zero: the derivative is (f(theta + dtheta / 2) - "
                         "f(theta - dtheta / 2)) / dtheta")
    trials = validate.integer("trials (per condition)", trials, 2, 10**7)
    if not (isinstance(window, (tuple, list)) and len(window) == 2):
        raise ValueError(f"window must be (t0, t1) in s; got {window!r}")
    t0 = validate.real("window t0 (s)", window[0], 0.0, np.inf)
    t1 = validate.real(f"window t1 (s, after t0 = {t0:g})", window[1], t0, np.inf,
                       low_open=True)
    chosen = np.arange(network.n) if neurons is None else np.asarray(neurons)
    if chosen.ndim != 1 or chosen.size == 0 or chosen.dtype.kind not in "iu" \
            or chosen.min() < 0 or chosen.max() >= network.n:
        raise ValueError(f"neurons must be a non-empty list of neuron indices in [0, "
                         f"{network.n}); got {neurons!r}")
    _check_trials(trials, chosen.size)
    seed = validate.integer("seed", seed, 0, 2**62)
    values = np.repeat([theta - dtheta / 2.0, theta + dtheta / 2.0], trials)
    seeds = [seed + i for i in range(2 * trials)]
    kw = {"ic_seeds": seeds}
    if isinstance(network, PopulationNetwork):
        kw["noise_seeds"] = seeds
    if callable(parameter):
        kw["stimuli"] = [parameter(float(v), i) for i, v in enumerate(values)]
    elif isinstance(parameter, str):
        kw[parameter] = values
    else:
        raise ValueError(f"parameter must be the name of an Ensemble parameter or a function "
                         f"(theta, trial) -> Stimulus; got {parameter!r}")
    ensemble = Ensemble(network, **kw)
    ds = run_ensemble(ensemble, t_end=t1, warmup=t0, backend=backend, batch_size=batch_size,
                      record="summary" if response == "counts" else "spikes", state=False)
    censored = 0
    if response == "counts":
        values = np.asarray(ds["count"].values, float)[:, chosen]
    else:
        values = np.full((2 * trials, chosen.size), t1 - t0)
        where = np.full(network.n, -1)
        where[chosen] = np.arange(chosen.size)
        for i in range(2 * trials):
            times, senders = ds.sp.spikes(i)
            first = np.unique(senders, return_index=True)      # spikes are in time order
            for neuron, at in zip(*first):
                if where[neuron] >= 0:
                    values[i, where[neuron]] = times[at] - t0
        censored = int(np.sum(values == t1 - t0))
    estimate = linear_fisher(values[:trials], values[trials:], dtheta, level=level,
                             error=error, seed=seed)
    return FisherResult(estimate, theta, dtheta, values[:trials], values[trials:], censored)
