"""Spike statistics, vectorised over instances: counts, rates, ISI CV, Fano factor, population
rate and the rate and CV distributions.

Every statistic sorts the flat spikes and counts them with ``np.bincount`` over all instances at
once; none loops in Python per spike or per neuron. Undefined values are NaN, never 0.
"""
import math

import numpy as np

from .data import as_output, spike_data


def spike_counts(source):
    """Spikes per neuron in the window: ``(n,)`` int64 for a record, ``(M, n_max)`` float64 for
    several instances (NaN beyond an instance's ``n``)."""
    data = spike_data(source)
    counts = _counts(data)
    if not data.single:
        counts = np.where(data.neurons, counts, np.nan)
    return as_output(data, counts, name="count")


def _counts(data):
    """(M, n_max) int64 spikes per neuron in the window."""
    if not data.has_spikes:
        return np.asarray(data.counts, np.int64)
    m, width = len(data), data.n_max
    return np.bincount(data.position(), minlength=m * width).reshape(m, width)


def rates(source):
    """Per-neuron firing rates (Hz): spikes in the window / its length.

    NaN when the window is empty (``t_stop <= t_start``) and beyond an instance's ``n``;
    a silent neuron's rate is 0.
    """
    data = spike_data(source)
    return as_output(data, _rates(data), name="rate")


def _rates(data):
    """(M, n_max) rates (Hz), NaN beyond an instance's ``n`` and for an empty window."""
    duration = data.duration[:, None]
    with np.errstate(invalid="ignore", divide="ignore"):
        r = _counts(data) / np.where(duration > 0, duration, np.nan)
    return np.where(data.neurons, r, np.nan)


def mean_rate(source):
    """Population-averaged rate (Hz) per instance: all spikes / (n * window length).

    A float for a record, ``(M,)`` otherwise; NaN for an empty window.
    """
    data = spike_data(source)
    total = _counts(data).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = total / (data.n * np.where(data.duration > 0, data.duration, np.nan))
    return as_output(data, rate, extra_dims=(), name="mean_rate")


def cv_isi(source):
    """Per-neuron coefficient of variation of the inter-spike intervals in the window.

    CV = std / mean of the neuron's ISIs, the std with ddof=0 (as ``SpikeRecord.cv_isi``).
    Computed exactly from the spikes (two passes) when they are there, else from the stored ISI
    moments. NaN with fewer than two intervals (silent neurons, single spikes, two spikes) and
    beyond an instance's ``n``.
    """
    data = spike_data(source)
    return as_output(data, _cv(data), name="cv_isi")


def _cv(data):
    """(M, n_max) ISI CVs, NaN beyond an instance's ``n`` and with fewer than two ISIs."""
    m, width = len(data), data.n_max
    if not data.has_spikes:
        if data.isi_sum is None:
            if data.cv is None:
                raise ValueError("cv_isi needs the spikes or the ISI moments (per_neuron = "
                                 "[\"count\", \"isi_sum\", \"isi_sumsq\"] or [\"cv_isi\"])")
            return np.where(data.neurons, data.cv, np.nan)
        from ..runs.record import cv_from_moments
        return np.where(data.neurons, cv_from_moments(data.counts, data.isi_sum,
                                                      data.isi_sumsq), np.nan)
    pos = data.position()
    order = np.lexsort((data.times, pos))
    t, p = data.times[order], pos[order]
    same = p[1:] == p[:-1]
    isi = np.diff(t)[same]
    where = p[1:][same]
    size = m * width
    k = np.bincount(where, minlength=size).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.bincount(where, isi, minlength=size) / k
        var = np.bincount(where, (isi - mean[where]) ** 2, minlength=size) / k
        cv = np.sqrt(var) / mean
    cv[k < 2] = np.nan
    return np.where(data.neurons, cv.reshape(m, width), np.nan)


def fano_factor(source, window, population=False):
    """Fano factor of spike counts in consecutive windows of ``window`` seconds.

    The windows are ``[t_start + w * window, t_start + (w + 1) * window)`` for
    ``w = 0 .. W - 1``, ``W = floor(duration / window)`` (a trailing partial window is dropped).
    F = var / mean of the W counts, the variance with ddof=1 (unbiased, so F is 1 on average for
    a Poisson train). Per neuron (``(n,)`` or ``(M, n_max)``), or, with ``population=True``, of
    the instance's total count per window (a float or ``(M,)``).

    NaN where undefined: fewer than two windows, a mean count of 0 (a silent neuron), beyond an
    instance's ``n``. Windows without spikes count as zeros.
    """
    data = spike_data(source)
    data.need_spikes("fano_factor")
    window = float(window)
    if not window > 0:
        raise ValueError(f"window must be > 0 (s); got {window}")
    from ..runs.record import window_count, windowed_fano     # as cv_isi does, at use
    m, width = len(data), data.n_max
    n_win = window_count(data.duration, window)
    inst = data.instance_of_spike()
    w = np.floor((data.times - data.t_start[inst]) / window).astype(np.int64)
    inside = (w >= 0) & (w < n_win[inst])
    if population:
        ff = windowed_fano(inst[inside], w[inside], n_win)
    else:
        ff = windowed_fano(inst[inside] * width + data.senders[inside], w[inside],
                           np.repeat(n_win, width))
    if population:
        return as_output(data, ff, extra_dims=(), name="fano_factor")
    ff = np.where(data.neurons, ff.reshape(m, width), np.nan)
    return as_output(data, ff, name="fano_factor")


def population_rate(source, bin_width, t_from=None, t_to=None):
    """Population rate (Hz per neuron) in bins of ``bin_width`` seconds.

    Bins ``[t_from + b * bin_width, t_from + (b + 1) * bin_width)``, ``t_from`` and ``t_to``
    defaulting to the earliest ``t_start`` and the latest ``t_stop``; a trailing partial bin is
    dropped. Rate = spikes in the bin / (n * bin_width). A bin not inside an instance's window
    is NaN; a bin inside it without spikes is 0.

    Returns
    -------
    edges : ndarray (B + 1,)
    rate : ndarray (B,) for a record, (M, B) otherwise
    """
    data = spike_data(source)
    data.need_spikes("population_rate")
    bin_width = float(bin_width)
    if not bin_width > 0:
        raise ValueError(f"bin_width must be > 0 (s); got {bin_width}")
    t_from = float(np.nanmin(data.t_start)) if t_from is None else float(t_from)
    t_to = float(np.nanmax(data.t_stop)) if t_to is None else float(t_to)
    n_bins = max(int(math.floor((t_to - t_from) / bin_width * (1 + 1e-12))), 0)
    edges = t_from + bin_width * np.arange(n_bins + 1)
    m = len(data)
    inst = data.instance_of_spike()
    b = np.floor((data.times - t_from) / bin_width).astype(np.int64)
    keep = (b >= 0) & (b < n_bins)
    counts = np.bincount(inst[keep] * n_bins + b[keep], minlength=m * n_bins)
    counts = counts.reshape(m, n_bins).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = counts / (data.n[:, None] * bin_width)
    eps = 1e-12 * max(abs(t_to), 1.0)
    inside = ((edges[:-1] >= data.t_start[:, None] - eps)
              & (edges[1:] <= data.t_stop[:, None] + eps))
    rate = np.where(inside, rate, np.nan)
    return edges, as_output(data, rate, extra_dims=("time_bin",), name="population_rate")


def _histogram(values, bins, range_, density):
    """Row-wise histograms of a (M, n) array with NaN excluded, on common edges."""
    values = np.asarray(values, np.float64)
    finite = np.isfinite(values)
    if range_ is None:
        if finite.any():
            lo, hi = float(values[finite].min()), float(values[finite].max())
        else:
            lo, hi = 0.0, 1.0
        if hi <= lo:
            lo, hi = lo - 0.5, hi + 0.5
    else:
        lo, hi = map(float, range_)
    edges = np.linspace(lo, hi, int(bins) + 1) if np.ndim(bins) == 0 else np.asarray(bins, float)
    nb = edges.size - 1
    idx = np.searchsorted(edges, values, side="right") - 1
    idx = np.where(values == edges[-1], nb - 1, idx)          # the last edge is inclusive
    ok = finite & (idx >= 0) & (idx < nb)
    row = np.broadcast_to(np.arange(values.shape[0])[:, None], values.shape)
    hist = np.bincount(row[ok] * nb + idx[ok], minlength=values.shape[0] * nb)
    hist = hist.reshape(values.shape[0], nb).astype(np.float64)
    if density:
        with np.errstate(invalid="ignore", divide="ignore"):
            hist = hist / (hist.sum(axis=1, keepdims=True) * np.diff(edges))
    return edges, hist


def rate_distribution(source, bins=20, range=None, density=False, pooled=False):
    """Histogram of the per-neuron rates (Hz).

    Per instance (``(M, bins)``; ``(bins,)`` for a record) on common edges, or over all instances
    together with ``pooled=True``. Neurons beyond an instance's ``n`` are left out; ``range``
    defaults to the smallest and largest rate. ``density=True`` normalises each histogram to
    unit area (NaN for an instance without neurons in range).

    Returns ``(edges, hist)``.
    """
    data = spike_data(source)
    values = _rates(data)
    return _distribution(data, values, bins, range, density, pooled, "rate_distribution")


def cv_distribution(source, bins=20, range=None, density=False, pooled=False):
    """Histogram of the per-neuron ISI CVs (neurons with a NaN CV are left out); as
    ``rate_distribution``."""
    data = spike_data(source)
    return _distribution(data, _cv(data), bins, range, density, pooled, "cv_distribution")


def _distribution(data, values, bins, range_, density, pooled, name):
    """``(edges, hist)`` of the (M, n_max) ``values``, per instance or pooled."""
    if pooled:
        edges, hist = _histogram(values.reshape(1, -1), bins, range_, density)
        return edges, hist[0]
    edges, hist = _histogram(values, bins, range_, density)
    return edges, as_output(data, hist, extra_dims=("bin",), name=name)
