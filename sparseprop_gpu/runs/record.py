"""SpikeRecord: the result of one simulation, and its statistics and files."""
import json
from dataclasses import dataclass, field

import numpy as np

from ..text import labelled
from . import recordio
from .continuation import MORE_STATE, STATE

ARRAYS = ("times", "senders", "counts", "isi_sum", "isi_sumsq")
"""The arrays of a record, as its files hold them."""


def cv_from_moments(counts, isi_sum, isi_sumsq):
    """ISI coefficient of variation (std with ddof=0 / mean) from spike counts and ISI sums.

    Works element-wise on arrays of any shape; NaN where fewer than two intervals
    (three spikes) were seen.
    """
    m = np.asarray(counts, dtype=np.float64) - 1.0
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = isi_sum / m
        cv = np.sqrt(np.maximum(isi_sumsq / m - mean * mean, 0.0)) / mean
    return np.where(m >= 2, cv, np.nan)


def rates_from_counts(counts, t_start, t_stop):
    """Firing rates (Hz) of spike ``counts`` in the windows ``[t_start, t_stop]`` (s),
    element-wise (broadcast); NaN for an empty window."""
    duration = np.asarray(t_stop, np.float64) - t_start
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(duration > 0, np.asarray(counts) / duration, np.nan)


def window_count(duration, window):
    """W = floor(duration / window), the whole counting windows of ``window`` s in windows of
    ``duration`` s (element-wise; 0 where the duration is not finite or not positive). A
    relative 1e-12 keeps a duration of exactly W windows at W despite rounding."""
    with np.errstate(invalid="ignore"):
        w = np.floor(np.asarray(duration, np.float64) / window * (1 + 1e-12))
    return np.where(np.isfinite(w) & (w > 0), w, 0).astype(np.int64)


def windowed_fano(unit, w, n_win):
    """Fano factor of the spike counts of each unit in its windows: the one computation behind
    ``fano_factors`` and ``analysis.fano_factor``.

    Parameters
    ----------
    unit : ndarray of int, (spikes,)
        The unit (a neuron, an instance...) of each spike, in ``[0, len(n_win))``.
    w : ndarray of int, (spikes,)
        Its window, in ``[0, n_win[unit])`` (the spikes outside every window left out).
    n_win : ndarray of int, (units,)
        Each unit's number of windows.

    Returns
    -------
    ndarray of float64, (units,)
        var / mean of each unit's W counts (windows without spikes count as zeros), the
        variance with ddof=1; NaN with fewer than two windows or a mean count of 0. Memory
        O(spikes + units), whatever the number of windows.
    """
    units = len(n_win)
    stride = max(int(n_win.max()), 1) if units else 1
    keys, c = np.unique(np.asarray(unit, np.int64) * stride + w, return_counts=True)
    owner = keys // stride
    s1 = np.bincount(owner, c, minlength=units)
    s2 = np.bincount(owner, c.astype(np.float64) ** 2, minlength=units)
    nw = np.asarray(n_win, np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = s1 / nw
        var = (s2 - s1 * mean) / (nw - 1)
        ff = np.maximum(var, 0.0) / mean
    ff[(nw < 2) | (mean == 0) | ~np.isfinite(mean)] = np.nan
    return ff


def fano_factors(times, senders, n, t_start, t_stop, window):
    """Per-neuron Fano factor of one network's spike counts in consecutive windows.

    The windows are ``[t_start + w * window, t_start + (w + 1) * window)``, ``w = 0 .. W - 1``,
    ``W = floor((t_stop - t_start) / window)`` (``window_count``: a trailing partial window is
    dropped, as are spikes outside the windows); F = var (ddof=1) / mean of the W counts
    (``windowed_fano``).

    Parameters
    ----------
    times, senders : ndarray (spikes,)
        The spikes (s) and their neurons, in ``[0, n)``.
    n : int
    t_start, t_stop, window : float
        The analysis window and the counting window (s).

    Returns
    -------
    ndarray of float64, (n,)
        NaN for a silent neuron (in the windows) and for all with fewer than two windows.
    """
    n_win = int(window_count(t_stop - t_start, window))
    times = np.asarray(times, np.float64)
    w = np.floor((times - t_start) / window).astype(np.int64)
    inside = (w >= 0) & (w < n_win)
    return windowed_fano(np.asarray(senders)[inside], w[inside],
                         np.full(int(n), n_win, np.int64))


def stop_time(reached_end, t_end, times, last_spikes, keep):
    """End of an instance's analysis window (s): ``t_end``, or the last recorded spike when
    it stopped after ``n_spikes`` (``times``: its spikes; ``last_spikes``: its neurons' last
    spike times, when no spike was kept)."""
    if reached_end:
        return t_end
    return float(times[-1]) if keep and times.size else float(last_spikes.max())


@dataclass
class SpikeRecord:
    """Spikes and per-neuron statistics of one network over ``[t_start, t_stop]``.

    Attributes
    ----------
    times : ndarray of float64
        Spike times (s), non-decreasing; empty when only the summary was kept.
    senders : ndarray of int32
        Index of the neuron of each spike.
    counts : ndarray of int64, shape (n,)
        Spikes per neuron in the window.
    isi_sum, isi_sumsq : ndarray of float64, shape (n,)
        Sum of each neuron's inter-spike intervals (s) in the window and of their squares (s^2).
    t_start, t_stop : float
        The window (s): the warm-up time and the end time (or the last spike's
        time when the run stopped after ``n_spikes``).
    meta : dict
        The network's description and the run's settings.
    state : dict, optional
        Where the run stopped (``runs.continuation.STATE``: the neurons' queue keys, the time
        origin, their last spike times (s)): ``simulate(..., continue_from=record)`` goes on
        from there. None in records written before 0.3.
    """

    times: np.ndarray
    senders: np.ndarray
    counts: np.ndarray
    isi_sum: np.ndarray
    isi_sumsq: np.ndarray
    t_start: float
    t_stop: float
    meta: dict = field(default_factory=dict)
    state: dict = None

    @property
    def n(self):
        """Number of neurons."""
        return self.counts.shape[0]

    @property
    def duration(self):
        """Length of the window (s)."""
        return self.t_stop - self.t_start

    def rates(self):
        """Per-neuron firing rates (Hz); NaN for an empty window."""
        return rates_from_counts(self.counts, self.t_start, self.t_stop)

    def mean_rate(self):
        """Population-averaged rate (Hz)."""
        return float(np.mean(self.rates()))

    def cv_isi(self):
        """Per-neuron coefficient of variation of the ISIs (std with ddof=0 / mean).

        NaN for neurons with fewer than two intervals (three spikes).
        """
        return cv_from_moments(self.counts, self.isi_sum, self.isi_sumsq)

    def summary(self):
        """A short table of the run as a string."""
        rates = self.rates()
        cv = self.cv_isi()
        active = np.count_nonzero(self.counts)
        mean_cv = np.nanmean(cv) if np.any(np.isfinite(cv)) else float("nan")
        return labelled([("neurons", self.n),
                         ("window (s)", f"[{self.t_start:g}, {self.t_stop:g}]"),
                         ("spikes", int(self.counts.sum())),
                         ("mean rate (Hz)", f"{np.mean(rates):.4g}"),
                         ("rate std (Hz)", f"{np.std(rates):.4g}"),
                         ("silent neurons", self.n - active),
                         ("mean ISI CV", f"{mean_cv:.4g}")])

    def __repr__(self):
        return (f"SpikeRecord(n={self.n}, spikes={int(self.counts.sum())}, stored={self.times.size}, "
                f"window=[{self.t_start:g}, {self.t_stop:g}] s)")

    def save(self, path, overwrite=False):
        """Write to ``path``: ``.npz`` (numpy) or ``.zarr`` (a Zarr 3 group).

        An existing path is refused unless ``overwrite`` is given and it holds a record of
        ours; the new file is written beside it and moved into place once complete
        (``runs.recordio``), so a failure leaves the old record whole.
        """
        state = {f"state_{name}": values for name, values in (self.state or {}).items()}
        recordio.save({**self.arrays(), **state}, self.attrs(), path, overwrite)

    @classmethod
    def load(cls, path):
        """Read a record written by ``save``."""
        arrays, attrs = recordio.load(path, ARRAYS, [f"state_{name}"
                                                     for name in STATE + MORE_STATE])
        state = {name: arrays.pop(f"state_{name}") for name in STATE + MORE_STATE
                 if f"state_{name}" in arrays}
        return cls(**arrays, **attrs, state=state if set(STATE) <= set(state) else None)

    def arrays(self):
        """The record's arrays by name."""
        return {name: getattr(self, name) for name in ARRAYS}

    def attrs(self):
        """The record's scalar attributes, JSON-serialisable."""
        return {"t_start": self.t_start, "t_stop": self.t_stop,
                "meta": json.loads(json.dumps(self.meta))}
