"""EnsembleResult: per-instance, per-neuron results of an ensemble run."""
import numpy as np

from .record import SpikeRecord, cv_from_moments


class EnsembleResult:
    """Per-instance, per-neuron results of ``run_ensemble``.

    Attributes
    ----------
    parameters : dict of ndarray (M,)
        Each instance's n, k, seed, ic_seed, drive, coupling (and j0, target_rate).
    counts : ndarray (M, n_max) of int64
        Spikes per neuron in ``[t_start, t_stop[m]]``; 0 beyond an instance's n.
    isi_sum, isi_sumsq : ndarray (M, n_max)
        Sums of each neuron's inter-spike intervals (s) and of their squares.
    t_start : float
        Warm-up time (s).
    t_stop : ndarray (M,)
        End of each instance's window (s).
    times, senders, offsets : ndarray
        With ``record="spikes"``: every instance's spikes, flat, instance ``m`` at
        ``offsets[m]:offsets[m + 1]`` (the NWB Units layout); empty otherwise.
    backend : str
    engine_seconds : float
        Wall time spent in the engine's launches (s), for benchmarks.
    """

    def __init__(self, parameters, counts, isi_sum, isi_sumsq, t_start, t_stop, spikes,
                 backend, meta, engine_seconds=float("nan")):
        self.parameters = parameters
        self.counts, self.isi_sum, self.isi_sumsq = counts, isi_sum, isi_sumsq
        self.t_start, self.t_stop = t_start, t_stop
        self.offsets = np.concatenate([[0], np.cumsum([t.size for t, _ in spikes])])
        self.times = np.concatenate([t for t, _ in spikes]) if spikes else np.empty(0)
        self.senders = (np.concatenate([s for _, s in spikes]) if spikes
                        else np.empty(0, np.int32))
        self.backend = backend
        self.meta = meta
        self.engine_seconds = engine_seconds

    def __len__(self):
        return self.counts.shape[0]

    @property
    def neurons(self):
        """(M, n_max) bool: True where the neuron exists in its instance."""
        return np.arange(self.counts.shape[1]) < self.parameters["n"][:, None]

    @property
    def rates(self):
        """(M, n_max) per-neuron rates (Hz); NaN beyond an instance's n."""
        duration = (self.t_stop - self.t_start)[:, None]
        with np.errstate(invalid="ignore", divide="ignore"):
            rates = self.counts / duration
        return np.where(self.neurons, rates, np.nan)

    @property
    def mean_rate(self):
        """(M,) population-averaged rate of each instance (Hz)."""
        return np.nanmean(self.rates, axis=1)

    @property
    def cv_isi(self):
        """(M, n_max) ISI coefficient of variation; NaN with fewer than two intervals."""
        return cv_from_moments(self.counts, self.isi_sum, self.isi_sumsq)

    def spikes(self, m):
        """(times, senders) of instance ``m``."""
        lo, hi = self.offsets[m], self.offsets[m + 1]
        return self.times[lo:hi], self.senders[lo:hi]

    def record(self, m):
        """Instance ``m`` as a SpikeRecord."""
        n = int(self.parameters["n"][m])
        times, senders = self.spikes(m)
        meta = {**self.meta, **{name: values[m].item() for name, values in self.parameters.items()}}
        return SpikeRecord(times=times, senders=senders, counts=self.counts[m, :n],
                           isi_sum=self.isi_sum[m, :n], isi_sumsq=self.isi_sumsq[m, :n],
                           t_start=self.t_start, t_stop=float(self.t_stop[m]), meta=meta)

    def __repr__(self):
        return (f"EnsembleResult({len(self)} instances, backend={self.backend!r}, "
                f"spikes={int(self.counts.sum())})")

