"""``SpikeData``, the flat form every analysis works on, and ``spike_data``, which adapts a
SpikeRecord, a result Dataset (an ensemble's or a sweep store's) or a store path to it."""
import sys
from pathlib import Path

import numpy as np


class SpikeData:
    """Spikes of M instances in one flat layout; what every analysis function works on.

    Parameters
    ----------
    times : ndarray (S,) of float
        Spike times (s); instance ``m``'s spikes are ``times[offsets[m]:offsets[m + 1]]``.
    senders : ndarray (S,) of int
        Neuron index (within its instance) of each spike.
    offsets : ndarray (M + 1,) of int
        Start of each instance's spikes, and the total at the end.
    n : ndarray (M,) of int
        Neurons per instance.
    t_start, t_stop : ndarray (M,) of float
        Each instance's window (s).
    counts, isi_sum, isi_sumsq : ndarray (M, n_max), optional
        Per-neuron spike counts and ISI moments (s, s²) when only a summary was kept
        (``has_spikes=False``); ignored when the spikes are there.
    has_spikes : bool
        Whether ``times``/``senders`` hold every spike of the window.
    single : bool
        True for a single record: results drop the instance axis.
    coords : (Dataset, str), optional
        The sweep Dataset and its instance dimension: results become ``xarray.DataArray``.
    networks : callable, optional
        ``networks(m)`` is instance ``m``'s Network.
    cv : ndarray (M, n_max), optional
        Per-neuron ISI CVs, when a summary kept those instead of the ISI moments.
    """

    def __init__(self, times, senders, offsets, n, t_start, t_stop, counts=None, isi_sum=None,
                 isi_sumsq=None, has_spikes=True, single=False, coords=None, networks=None,
                 cv=None):
        self.times = np.asarray(times, dtype=np.float64)
        self.senders = np.asarray(senders, dtype=np.int64)
        self.offsets = np.asarray(offsets, dtype=np.int64)
        self.n = np.asarray(n, dtype=np.int64).reshape(-1)
        m = self.n.size
        self.t_start = np.broadcast_to(np.asarray(t_start, dtype=np.float64), (m,)).copy()
        self.t_stop = np.broadcast_to(np.asarray(t_stop, dtype=np.float64), (m,)).copy()
        if self.offsets.shape != (m + 1,) or self.offsets[-1] != self.times.size:
            raise ValueError(f"offsets must have M + 1 = {m + 1} entries ending at the number of "
                             f"spikes {self.times.size}; got {self.offsets.shape[0]} ending at "
                             f"{self.offsets[-1] if self.offsets.size else None}")
        if self.senders.shape != self.times.shape:
            raise ValueError(f"times and senders must have one length; got {self.times.size} "
                             f"and {self.senders.size}")
        self.counts, self.isi_sum, self.isi_sumsq, self.cv = counts, isi_sum, isi_sumsq, cv
        self.has_spikes = bool(has_spikes)
        if not self.has_spikes and counts is None:
            raise ValueError("a SpikeData without spikes needs per-neuron counts")
        self.single = bool(single)
        self.coords = coords
        self.networks = networks
        if self.has_spikes and self.times.size:
            inst = self.instance_of_spike()
            bad = (self.senders < 0) | (self.senders >= self.n[inst])
            if bad.any():
                s = int(np.argmax(bad))
                raise ValueError(f"senders must be in [0, n) of their instance; spike {s} has "
                                 f"sender {int(self.senders[s])} with n = {int(self.n[inst[s]])}")

    @classmethod
    def from_arrays(cls, times, senders, n=None, t_start=0.0, t_stop=None, offsets=None):
        """SpikeData of your own flat ``(times, senders)`` arrays (times in s).

        ``n`` defaults to the largest sender + 1 (per instance, pass it); ``t_stop`` to the last
        spike time; ``offsets`` (M + 1 instance boundaries) to one instance.
        """
        times = np.asarray(times, dtype=np.float64)
        senders = np.asarray(senders, dtype=np.int64)
        offsets = np.array([0, times.size]) if offsets is None else np.asarray(offsets)
        m = offsets.size - 1
        if n is None:
            n = [int(senders[offsets[i]:offsets[i + 1]].max()) + 1
                 if offsets[i + 1] > offsets[i] else 1 for i in range(m)]
        if t_stop is None:
            t_stop = [float(times[offsets[i]:offsets[i + 1]].max())
                      if offsets[i + 1] > offsets[i] else float(np.max(t_start)) for i in range(m)]
        return cls(times, senders, offsets, np.broadcast_to(n, (m,)), t_start, t_stop,
                   single=offsets.size == 2)

    def __len__(self):
        return self.n.size

    @property
    def n_max(self):
        """Neurons of the largest instance."""
        return int(self.n.max()) if self.n.size else 0

    @property
    def duration(self):
        """(M,) window lengths (s)."""
        return self.t_stop - self.t_start

    @property
    def neurons(self):
        """(M, n_max) bool: where a neuron exists in its instance."""
        return np.arange(self.n_max) < self.n[:, None]

    def instance_of_spike(self):
        """(S,) instance index of each spike."""
        return np.repeat(np.arange(len(self)), np.diff(self.offsets))

    def position(self):
        """(S,) flat index ``instance * n_max + sender`` of each spike."""
        return self.instance_of_spike() * self.n_max + self.senders

    def instance(self, m):
        """SpikeData of instance ``m`` alone (views of the flat arrays)."""
        lo, hi = int(self.offsets[m]), int(self.offsets[m + 1])
        pick = (lambda a: None if a is None else a[m:m + 1])
        nets = None if self.networks is None else (lambda _i, m=m: self.networks(m))
        return SpikeData(self.times[lo:hi], self.senders[lo:hi], [0, hi - lo], self.n[m:m + 1],
                         self.t_start[m:m + 1], self.t_stop[m:m + 1], pick(self.counts),
                         pick(self.isi_sum), pick(self.isi_sumsq), self.has_spikes, single=True,
                         networks=nets, cv=pick(self.cv))

    def need_spikes(self, what):
        """Raise a ValueError naming ``what`` unless every spike of the window is here."""
        if not self.has_spikes:
            raise ValueError(f"{what} needs the spikes: this source kept only a summary "
                             "(run with record=\"spikes\")")

    def __repr__(self):
        return (f"SpikeData({len(self)} instances, n_max={self.n_max}, spikes={self.times.size}"
                f"{'' if self.has_spikes else ', summary only'})")


def _is_dataset(obj):
    """Whether ``obj`` is an ``xarray.Dataset`` (without importing xarray)."""
    xr = sys.modules.get("xarray")
    return xr is not None and isinstance(obj, xr.Dataset)


def spike_data(source):
    """The ``SpikeData`` of a SpikeRecord, a result Dataset (``run_ensemble``,
    ``open_results``), a store path or a SpikeData (returned as it is)."""
    from ..runs.record import SpikeRecord
    if isinstance(source, SpikeData):
        return source
    if isinstance(source, SpikeRecord):
        return _from_record(source)
    if isinstance(source, (str, Path)):
        from ..storage.reading import open_results
        source = open_results(source)
    if _is_dataset(source):
        return _from_dataset(source)
    raise ValueError("source must be a SpikeRecord, an xarray.Dataset from sp.run_ensemble or "
                     f"sp.open_results, a store path or a SpikeData; got {type(source).__name__}")


def _from_record(rec):
    from ..specification.network import Network
    has = rec.times.size == int(rec.counts.sum())
    return SpikeData(rec.times, rec.senders, [0, rec.times.size], [rec.n], rec.t_start,
                     rec.t_stop, rec.counts[None, :], rec.isi_sum[None, :],
                     rec.isi_sumsq[None, :], has, single=True,
                     networks=lambda _m: Network.from_description(rec.meta))


def _from_dataset(ds):
    n = np.asarray(ds["n"].values, np.int64)
    t_stop = np.asarray(ds["t_stop"].values, np.float64)
    if "done" in ds.coords:
        t_stop = np.where(np.asarray(ds["done"].values), t_stop, np.nan)
    warmup = ds.sp.t_start
    common = dict(coords=(ds, "instance"), networks=ds.sp.network)
    if ds.sp.meta["record"] == "spikes":
        return SpikeData(ds.sp.times, ds.sp.senders, ds.sp.offsets, n, warmup, t_stop, **common)
    if "count" not in ds:
        raise ValueError("this sweep kept neither spikes nor per-neuron counts: run it with "
                         "[run] record = \"spikes\" or per_neuron = true (its per-instance "
                         "summaries rate_mean, rate_std, cv_isi_mean are in the Dataset)")
    counts = np.asarray(ds["count"].values, np.int64)
    counts = np.where(counts < 0, 0, counts)
    isi_sum = np.asarray(ds["isi_sum"].values) if "isi_sum" in ds else None
    isi_sumsq = np.asarray(ds["isi_sumsq"].values) if "isi_sumsq" in ds else None
    cv = (np.asarray(ds["cv_isi"].values, np.float64)
          if isi_sum is None and "cv_isi" in ds else None)
    return SpikeData(np.empty(0), np.empty(0, np.int64), np.zeros(n.size + 1, np.int64), n,
                     warmup, t_stop, counts, isi_sum, isi_sumsq, has_spikes=False, cv=cv,
                     **common)


def as_output(data, values, extra_dims=("neuron",), name=None):
    """Shape a (M, ...) result for the caller: squeeze a single record, wrap a Dataset's.

    A single record's result loses the instance axis (and its padding beyond ``n`` when
    ``extra_dims`` is ``("neuron",)``; a 0-d result becomes a Python scalar); a Dataset's
    becomes an ``xarray.DataArray`` named ``name`` with the instance coordinates and
    ``extra_dims`` after the instance dimension.
    """
    values = np.asarray(values)
    if data.single:
        values = values[0]
        if values.ndim == 1 and extra_dims == ("neuron",):
            values = values[:int(data.n[0])]
        return values.item() if values.ndim == 0 else values
    if data.coords is not None:
        import xarray as xr
        ds, dim = data.coords
        dims = (dim,) + tuple(extra_dims[:values.ndim - 1])
        coords = {c: ds.coords[c] for c in ds.coords if ds.coords[c].dims == (dim,)}
        return xr.DataArray(values, dims=dims, coords=coords, name=name)
    return values
