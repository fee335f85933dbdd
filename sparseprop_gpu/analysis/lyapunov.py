"""Lyapunov spectra of networks from the exact event map (docs/design.md §2.18).

The engine runs the network and records its spikes; ``kernels.tangent.replay_tangents`` moves m
tangent vectors through them with the single-spike Jacobians (O(K m) per spike), and every r
spikes the vectors are reorthonormalised (QR, O(N m^2)); the exponents are the mean growth
rates of R's diagonal. The slice built so far: one population (``sp.Network``) of LIF or QIF
neurons (LIF inhibitory, QIF couplings of both signs), any refractory period, one drive.
"""
import math
from collections import namedtuple

import numpy as np

from .. import validate

Spectrum = namedtuple("Spectrum", "exponents stderr per_spike kaplan_yorke entropy_rate "
                                  "log_volume times running spikes duration")
Spectrum.__doc__ = """The result of ``lyapunov_spectrum``.

exponents : ndarray (m,)
    The Lyapunov exponents (1/s), largest first.
stderr : ndarray (m,)
    Their standard errors over blocks of the measured run.
per_spike : ndarray (m,)
    The exponents per network spike (the exponents times the mean interval between spikes).
kaplan_yorke : float
    The Kaplan-Yorke dimension of the m exponents (m where their sum stays >= 0, 0 where the
    largest is negative).
entropy_rate : float
    The sum of the positive exponents, in bits per network spike.
log_volume : float
    The mean log phase-volume contraction per second, sum of log g'(phi) over every input
    divided by the time: what the sum of all N exponents must equal (m = N).
times, running : ndarray (Q,), ndarray (Q, m)
    The time (s) at each measured QR step and the exponents estimated up to it (convergence).
spikes : int
    Network spikes measured (after the warm-up).
duration : float
    Seconds measured.
"""


SPREAD_MOST = 1e7
"""The largest ratio of R's diagonal entries the adaptive QR interval lets one step reach: the
vectors' condition number, whose square Cholesky QR must keep below 1 / eps = 4.5e15."""


def _orthonormalise(vectors):
    """(Q, R) of the (n, m) vectors by Cholesky QR twice (two Gram matrices and two products:
    BLAS-3, 4x faster than Householder at n = 1e4, m = 100, orthogonal to 1e-15 for a
    condition number below ~1e7); Householder (numpy) where the Gram matrix is not positive
    definite in float64."""
    try:
        first = np.linalg.cholesky(vectors.T @ vectors).T
        q = vectors @ np.linalg.inv(first)
        second = np.linalg.cholesky(q.T @ q).T
        return q @ np.linalg.inv(second), second @ first
    except np.linalg.LinAlgError:
        return np.linalg.qr(vectors)


def _checked(network, m):
    from ..runs.gradient import check_tangent_network
    check_tangent_network(network)
    if network.model.name == "lif" and network.coupling > 0.0:
        raise ValueError("network: Lyapunov spectra of LIF networks need inhibitory coupling "
                         "(J <= 0; the Jacobian of a spike an excitatory input causes is in the "
                         "gradients' replay only); QIF takes couplings of both signs")
    return validate.integer(f"m (exponents, at most n = {network.n})",
                            network.n if m is None else m, 1, network.n)


def _settings(network, m, n_spikes, warmup, qr_every, blocks):
    """The checked settings of a spectrum of ``network``: (m, n_spikes, warmup, qr_every or
    None, blocks)."""
    m = _checked(network, m)
    n_spikes = validate.integer("n_spikes (measured)", n_spikes, 10, 10**12)
    warmup = n_spikes // 10 if warmup is None else validate.integer("warmup (spikes)", warmup,
                                                                    0, 10**12)
    if qr_every is not None:
        qr_every = validate.integer("qr_every (spikes)", qr_every, 1, 10**9)
    return m, n_spikes, warmup, qr_every, validate.integer("blocks", blocks, 2, 10**6)


def lyapunov_spectrum(network, m=None, n_spikes=100_000, warmup=None, qr_every=None, blocks=10,
                      seed=0):
    """The ``m`` leading Lyapunov exponents of ``network`` (Monteforte and Wolf 2010).

    Parameters
    ----------
    network : sp.Network
        One population of LIF (inhibitory) or QIF (both signs) neurons, any refractory period.
    m : int, optional
        Exponents, 1 <= m <= n (default n: the full spectrum).
    n_spikes : int
        Network spikes measured, after ``warmup`` spikes (default n_spikes / 10) in which the
        tangent vectors settle into the Lyapunov basis.
    qr_every : int, optional
        Spikes between reorthonormalisations; default adaptive: starts at 10, halves where the
        ratio of R's largest to smallest diagonal passes ``SPREAD_MOST`` (1e7), doubles below
        1e3, at most n_spikes / blocks.
    blocks : int
        Blocks of the measured run for the standard errors (>= 2).
    seed : int
        Seed of the initial tangent vectors.

    Returns
    -------
    Spectrum
    """
    from ..runs.simulate import simulate
    settings = _settings(network, m, n_spikes, warmup, qr_every, blocks)
    rec = simulate(network, n_spikes=settings[1] + settings[2], record="spikes")
    return _spectrum(network, rec.times, rec.senders, *settings, seed)


def lyapunov_spectra(ensemble, m, n_spikes=100_000, warmup=None, qr_every=None, blocks=10,
                     seed=0, workers=None):
    """The spectra of every instance of ``ensemble`` side by side, as an xarray Dataset.

    The instances' spikes come from one ``run_ensemble`` (all cores); their tangent replays and
    QR steps run in ``workers`` threads (default: the cores), each instance as
    ``lyapunov_spectrum`` would run it alone (the same exponents, bit for bit).

    Returns
    -------
    xarray.Dataset
        ``exponent``, ``stderr``, ``per_spike`` (instance, index: largest first); per instance
        ``kaplan_yorke``, ``entropy_rate``, ``log_volume``, ``duration``, ``spikes``; the
        ensemble's parameters as instance coordinates.
    """
    import os
    from concurrent.futures import ThreadPoolExecutor

    import xarray as xr

    from ..runs.ensemble import run_ensemble
    networks = ensemble.instances
    settings = [_settings(net, m, n_spikes, warmup, qr_every, blocks) for net in networks]
    ds = run_ensemble(ensemble, n_spikes=settings[0][1] + settings[0][2], record="spikes",
                      state=False)
    spikes = [ds.sp.spikes(i) for i in range(len(networks))]
    with ThreadPoolExecutor(workers or os.cpu_count() or 1) as pool:
        spectra = list(pool.map(lambda i: _spectrum(networks[i], *spikes[i], *settings[i], seed),
                                range(len(networks))))
    per = {name: (("instance", "index"), np.stack([getattr(s, name) for s in spectra]))
           for name in ("exponents", "stderr", "per_spike")}
    per["exponent"] = per.pop("exponents")
    one = {name: ("instance", np.array([getattr(s, name) for s in spectra]))
           for name in ("kaplan_yorke", "entropy_rate", "log_volume", "duration", "spikes")}
    coords = {name: ("instance", values) for name, values in ensemble.parameters().items()}
    return xr.Dataset({**per, **one}, coords={"instance": np.arange(len(networks)),
                                              "index": np.arange(1, m + 1), **coords})


def _spectrum(network, times, senders, m, n_spikes, warmup, qr_every, blocks, seed):
    """The Spectrum of ``network`` along its recorded spikes (``times``, ``senders``)."""
    from ..compiled import replay_tangents
    from ..kernels import models as km
    from ..runs.gradient import replay_constants, replay_scratch
    adaptive = qr_every is None
    every = 10 if adaptive else qr_every
    longest = max(10, n_spikes // blocks)              # at least one QR step per block
    n = network.n
    model, par, _, mode, table, kicks, net_seed, n_, k = replay_constants(network)
    scratch = replay_scratch(network)
    times = np.ascontiguousarray(times, np.float64)
    senders = np.ascontiguousarray(senders, np.int32)
    offsets = np.array(network.initial_phases, np.float64)
    vectors = np.linalg.qr(np.random.default_rng(seed).normal(size=(n, m)))[0].copy()
    log_slopes = np.zeros(1)
    tpp = par[km.P_TPP]
    t0, lo = 0.0, 0
    logs, spans, counts, ends = [], [], [], []
    measured_log_volume = 0.0
    while lo < times.size:
        hi = min(lo + every, times.size)
        before = log_slopes[0]
        worst = replay_tangents(model, par, mode, table, kicks, net_seed, n_, k, *scratch,
                                offsets, senders, times, t0, lo, hi, vectors, log_slopes)
        if worst > 1e-6:
            raise RuntimeError(f"the tangent replay left the engine's trajectory by {worst:.3g} "
                               f"in phase before spike {hi}: report this with the network")
        vectors, r = _orthonormalise(vectors)
        growth = np.abs(np.diag(r))
        if lo >= warmup:
            logs.append(np.log(growth))
            spans.append(times[hi - 1] - times[lo - 1] if lo > 0 else times[hi - 1])
            counts.append(hi - lo)
            ends.append(times[hi - 1])
            measured_log_volume += log_slopes[0] - before
        offsets += (times[hi - 1] - t0) / tpp             # rebase: S = 0 at the last spike
        t0 = times[hi - 1]
        if adaptive:                    # R's diagonal within SPREAD_MOST of itself
            spread = growth.max() / max(growth.min(), 1e-300)
            every = max(1, every // 2) if spread > SPREAD_MOST else \
                every * 2 if spread < SPREAD_MOST / 1e4 else every
            every = min(every, longest)
        lo = hi
    logs, spans = np.array(logs), np.array(spans)
    duration = float(spans.sum())
    total = logs.sum(axis=0)
    exponents = total / duration
    order = np.argsort(-exponents)
    groups = np.array_split(np.arange(len(logs)), min(blocks, len(logs)))
    per_block = np.array([logs[g].sum(axis=0) / spans[g].sum() for g in groups])
    stderr = per_block.std(axis=0, ddof=1) / math.sqrt(len(groups))
    running = np.cumsum(logs, axis=0) / np.cumsum(spans)[:, None]
    spikes = int(sum(counts))
    lam = exponents[order]
    return Spectrum(lam, stderr[order], lam * duration / spikes, _kaplan_yorke(lam),
                    float(lam[lam > 0].sum() * duration / spikes / math.log(2.0)),
                    measured_log_volume / duration, np.array(ends), running[:, order], spikes,
                    duration)


def _kaplan_yorke(exponents):
    """The Kaplan-Yorke dimension of exponents sorted largest first; an exponent within 1e-9
    of the largest magnitude counts as 0 (time translation's, to rounding)."""
    exponents = np.where(np.abs(exponents) < 1e-9 * np.abs(exponents).max(), 0.0, exponents)
    sums = np.cumsum(exponents)
    if sums[0] < 0:
        return 0.0
    j = int(np.flatnonzero(sums >= 0)[-1])
    if j == exponents.size - 1:
        return float(exponents.size)
    return float(j + 1 + sums[j] / abs(exponents[j + 1]))
