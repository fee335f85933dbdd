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
