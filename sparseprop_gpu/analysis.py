"""Statistics of spike records, ensembles and sweep stores, vectorised over instances.

Every function takes a *source*:

* a ``SpikeRecord`` (``sp.simulate``): results are per neuron, shape ``(n,)``, or scalars;
* an ``EnsembleResult`` (``sp.run_ensemble``): results are ``(instance, neuron)`` arrays padded
  to the largest ``n`` with NaN, or ``(instance,)`` arrays;
* an ``xarray.Dataset`` from ``sp.open_results`` or the path of a sweep store: the same
  arrays as for an ensemble, returned as ``xarray.DataArray`` with the instance coordinates
  (so ``analysis.rates(ds).groupby("j0")`` works);
* a ``SpikeData``, the common flat form all of them are turned into (``SpikeData.from_arrays``
  builds one from your own ``(times, senders)`` arrays).

Spikes are kept flat, as one ``times`` and one ``senders`` array with per-instance offsets (the
NWB Units layout), and every statistic is computed by sorting and ``np.bincount`` over all
instances at once: no Python object is made per spike train, and no Python loop runs per spike
or per neuron. (``chi`` replays each instance's dynamics in compiled code, one call per
instance.)

Conventions (each function's docstring repeats the relevant ones):

* The analysis window of an instance is ``[t_start, t_stop]`` (the record's warm-up time and its
  end time). A statistic that is undefined is NaN, never 0: the rate in an empty window, the ISI
  CV with fewer than two intervals, the Fano factor of a neuron that never fires or with fewer
  than two counting windows, the population rate in a bin not inside the window.
* Neurons beyond an instance's own ``n`` (ensembles of different sizes) are NaN.
"""
import math
import sys
from pathlib import Path

import numpy as np
from numba import njit

__all__ = ["SpikeData", "spike_data", "spike_counts", "rates", "mean_rate", "population_rate",
           "cv_isi", "fano_factor", "rate_distribution", "cv_distribution", "voltage_traces",
           "chi", "chi_from_traces", "to_neo", "to_nwb_units", "parse_scaling"]


# --------------------------------------------------------------------------- the common form
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
        Per-neuron spike counts and ISI moments when only a summary was kept
        (``has_spikes=False``); ignored when the spikes are there.
    has_spikes : bool
        Whether ``times``/``senders`` hold every spike of the window.
    single : bool
        True for a single record: results drop the instance axis.
    """

    def __init__(self, times, senders, offsets, n, t_start, t_stop, counts=None, isi_sum=None,
                 isi_sumsq=None, has_spikes=True, single=False, coords=None, networks=None):
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
        self.counts, self.isi_sum, self.isi_sumsq = counts, isi_sum, isi_sumsq
        self.has_spikes = bool(has_spikes)
        if not self.has_spikes and counts is None:
            raise ValueError("a SpikeData without spikes needs per-neuron counts")
        self.single = bool(single)
        self.coords = coords            # (dataset, instance dimension) for xarray outputs
        self.networks = networks        # callable m -> Network, or None
        if self.has_spikes and self.times.size:
            inst = self.instance_of_spike()
            bad = (self.senders < 0) | (self.senders >= self.n[inst])
            if bad.any():
                s = int(np.argmax(bad))
                raise ValueError(f"senders must be in [0, n) of their instance; spike {s} has "
                                 f"sender {int(self.senders[s])} with n = {int(self.n[inst[s]])}")

    @classmethod
    def from_arrays(cls, times, senders, n=None, t_start=0.0, t_stop=None, offsets=None):
        """SpikeData of your own flat ``(times, senders)`` arrays.

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

    # ------------------------------------------------------------------ shapes
    def __len__(self):
        return self.n.size

    @property
    def n_max(self):
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
                         networks=nets)

    def need_spikes(self, what):
        if not self.has_spikes:
            raise ValueError(f"{what} needs the spikes: this source kept only a summary "
                             "(run with record=\"spikes\")")

    def __repr__(self):
        return (f"SpikeData({len(self)} instances, n_max={self.n_max}, spikes={self.times.size}"
                f"{'' if self.has_spikes else ', summary only'})")


def _is_dataset(obj):
    xr = sys.modules.get("xarray")
    return xr is not None and isinstance(obj, xr.Dataset)


def spike_data(source):
    """The ``SpikeData`` of a SpikeRecord, EnsembleResult, sweep Dataset, store path or SpikeData."""
    from .runs.ensemble import EnsembleResult
    from .runs.record import SpikeRecord
    if isinstance(source, SpikeData):
        return source
    if isinstance(source, SpikeRecord):
        n = source.n
        has = source.times.size == int(source.counts.sum())
        return SpikeData(source.times, source.senders, [0, source.times.size], [n],
                         source.t_start, source.t_stop, source.counts[None, :],
                         source.isi_sum[None, :], source.isi_sumsq[None, :], has, single=True,
                         networks=lambda _m: _network_from_meta(source.meta))
    if isinstance(source, EnsembleResult):
        has = source.times.size == int(source.counts.sum())
        n = np.asarray(source.parameters["n"])
        width = source.counts.shape[1]

        def net(m):
            pars = {name: values[m].item() for name, values in source.parameters.items()}
            return _network_from_meta({**source.meta, **pars})
        return SpikeData(source.times, source.senders, source.offsets, n, source.t_start,
                         source.t_stop, source.counts[:, :width], source.isi_sum,
                         source.isi_sumsq, has, networks=net)
    if isinstance(source, (str, Path)):
        from .storage.store import open_results
        source = open_results(source)
    if _is_dataset(source):
        return _from_dataset(source)
    raise ValueError("source must be a SpikeRecord, an EnsembleResult, an xarray.Dataset from "
                     f"sp.open_results, a store path or a SpikeData; got {type(source).__name__}")


def _from_dataset(ds):
    meta = ds.sp.meta
    run = ds.sp.spec["run"]
    n = np.asarray(ds["n"].values, np.int64)
    t_stop = np.asarray(ds["t_stop"].values, np.float64)
    if "done" in ds.coords:
        t_stop = np.where(np.asarray(ds["done"].values), t_stop, np.nan)
    warmup = float(run.get("warmup") or 0.0)
    spec = ds.sp.spec["network"]

    def net(m):     # instance m's network, from its stored parameters and seeds
        pars = {name: ds[name].values[m].item()
                for name in ("n", "k", "tau", "drive", "coupling", "seed", "ic_seed") if name in ds}
        return _network_from_meta({"model": spec["model"], "tau": spec["tau"],
                                   "model_params": spec.get("model_params") or {}, **pars})
    coords = (ds, "instance")
    if meta["record"] == "spikes":
        return SpikeData(ds.sp.times, ds.sp.senders, ds.sp.offsets, n, warmup, t_stop,
                         single=False, coords=coords, networks=net)
    if "count" not in ds:
        raise ValueError("this sweep kept neither spikes nor per-neuron counts: run it with "
                             "[run] record = \"spikes\" or per_neuron = true (its per-instance "
                             "summaries rate_mean, rate_std, cv_isi_mean are in the Dataset)")
    counts = np.asarray(ds["count"].values, np.int64)
    counts = np.where(counts < 0, 0, counts)
    isi_sum = np.asarray(ds["isi_sum"].values) if "isi_sum" in ds else None
    isi_sumsq = np.asarray(ds["isi_sumsq"].values) if "isi_sumsq" in ds else None
    data = SpikeData(np.empty(0), np.empty(0, np.int64), np.zeros(n.size + 1, np.int64), n,
                     warmup, t_stop, counts, isi_sum, isi_sumsq, has_spikes=False, coords=coords,
                     networks=net)
    if isi_sum is None and "cv_isi" in ds:
        data.cv_stored = np.asarray(ds["cv_isi"].values, np.float64)
    return data


def _network_from_meta(meta):
    """The Network a record's or ensemble's metadata describes (rebuilt from its seeds)."""
    from .spec.models import MODELS
    from .spec.network import Network
    name, tau = meta.get("model"), meta.get("tau")
    if name not in MODELS or not isinstance(tau, (int, float)) or isinstance(meta.get("drive"), dict):
        raise ValueError("cannot rebuild this network from its metadata (unknown model or "
                         "per-neuron parameters): pass network=")
    model = MODELS[name](tau=tau, **meta.get("model_params", {}))
    return Network(model=model, n=meta["n"], k=meta["k"], drive=meta["drive"],
                   coupling=meta["coupling"], seed=meta["seed"], ic_seed=meta["ic_seed"],
                   connectivity="on_the_fly" if meta["n"] >= 100_000 else "stored")


def _out(data, values, extra_dims=("neuron",), name=None):
    """Shape a (M, ...) result for the caller: squeeze a single record, wrap a Dataset's."""
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


# --------------------------------------------------------------------------- per neuron
def spike_counts(source):
    """Spikes per neuron in the window: ``(n,)`` int64 for a record, ``(M, n_max)`` float64 for
    several instances (NaN beyond an instance's ``n``)."""
    data = spike_data(source)
    counts = _counts(data)
    if not data.single:
        counts = np.where(data.neurons, counts, np.nan)
    return _out(data, counts, name="count")


def _counts(data):
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
    return _out(data, _rates(data), name="rate")


def _rates(data):
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
    return _out(data, rate, extra_dims=(), name="mean_rate")


def cv_isi(source):
    """Per-neuron coefficient of variation of the inter-spike intervals in the window.

    CV = std / mean of the neuron's ISIs, the std with ddof=0 (as ``SpikeRecord.cv_isi``).
    Computed exactly from the spikes (two passes) when they are there, else from the stored ISI
    moments. NaN with fewer than two intervals (silent neurons, single spikes, two spikes) and
    beyond an instance's ``n``.
    """
    data = spike_data(source)
    return _out(data, _cv(data), name="cv_isi")


def _cv(data):
    m, width = len(data), data.n_max
    if not data.has_spikes:
        if data.isi_sum is None:
            stored = getattr(data, "cv_stored", None)
            if stored is None:
                raise ValueError("cv_isi needs the spikes or the ISI moments (per_neuron = "
                                 "[\"count\", \"isi_sum\", \"isi_sumsq\"] or [\"cv_isi\"])")
            return np.where(data.neurons, stored, np.nan)
        from .runs.record import cv_from_moments
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
    m, width = len(data), data.n_max
    with np.errstate(invalid="ignore"):
        n_win = np.floor(data.duration / window * (1 + 1e-12))
    n_win = np.where(np.isfinite(n_win) & (n_win > 0), n_win, 0).astype(np.int64)
    inst = data.instance_of_spike()
    w = np.floor((data.times - data.t_start[inst]) / window).astype(np.int64)
    inside = (w >= 0) & (w < n_win[inst])
    w_max = int(n_win.max()) if m else 0
    if population:
        unit = inst[inside]
        units = m
    else:
        unit = inst[inside] * width + data.senders[inside]
        units = m * width
    keys, c = np.unique(unit * max(w_max, 1) + w[inside], return_counts=True)
    owner = keys // max(w_max, 1)
    s1 = np.bincount(owner, c, minlength=units)
    s2 = np.bincount(owner, c.astype(np.float64) ** 2, minlength=units)
    nw = (n_win if population else np.repeat(n_win, width)).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = s1 / nw
        var = (s2 - s1 * mean) / (nw - 1)
        ff = np.maximum(var, 0.0) / mean
    ff[(nw < 2) | (mean == 0) | ~np.isfinite(mean)] = np.nan
    if population:
        return _out(data, ff, extra_dims=(), name="fano_factor")
    ff = np.where(data.neurons, ff.reshape(m, width), np.nan)
    return _out(data, ff, name="fano_factor")


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
    return edges, _out(data, rate, extra_dims=("time_bin",), name="population_rate")


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
    if pooled:
        edges, hist = _histogram(values.reshape(1, -1), bins, range_, density)
        return edges, hist[0]
    edges, hist = _histogram(values, bins, range_, density)
    return edges, _out(data, hist, extra_dims=("bin",), name=name)


# --------------------------------------------------------------------------- synchrony
LIF_KIND, QIF_KIND, OTHER_KIND = 0, 1, 2


@njit(cache=True)
def _replay(kind, times, senders, start, table, phi, t_last, known, speed, drive, coupling,
            omega, phi_reset, phi_th, grid, out, check):
    """Advance every neuron's phase through the spikes up to each grid time, and sample it.

    Events at a time ``<= grid[g]`` are applied before sample ``g``. A neuron's phase is known
    from the start (``known``) or from its first own spike on; unknown phases are NaN. ``check[0]``
    collects the largest |phase - threshold| of a known neuron just before its own spike (0 for
    spikes consistent with the network), ``check[1]`` how many such spikes were checked.
    Returns the index of the first spike not yet applied.
    """
    s = start
    n_spk = times.shape[0]
    k = table.shape[1]
    for g in range(grid.shape[0]):
        tg = grid[g]
        while s < n_spk and times[s] <= tg:
            t = times[s]
            j = senders[s]
            if known[j]:
                pre = phi[j] + (t - t_last[j]) * speed[j]
                dev = abs(pre - phi_th)
                if dev > check[0]:
                    check[0] = dev
                check[1] += 1.0
            for c in range(k):
                i = table[j, c]
                if known[i]:
                    p = phi[i] + (t - t_last[i]) * speed[i]
                    if kind == 0:
                        p = -omega[i] * math.log(math.exp(-p / omega[i]) - coupling / drive[i])
                    else:
                        p = 2.0 * math.atan(math.tan(0.5 * p) + coupling / math.sqrt(drive[i]))
                    phi[i] = p
                    t_last[i] = t
            phi[j] = phi_reset
            t_last[j] = t
            known[j] = True
            s += 1
        for i in range(phi.shape[0]):
            if known[i]:
                out[i, g] = min(phi[i] + (tg - t_last[i]) * speed[i], phi_th)
            else:
                out[i, g] = math.nan
    return s


class _Replay:
    """Exact phase reconstruction of one instance from its spikes (see ``voltage_traces``)."""

    def __init__(self, network, times, senders, t_start, initial_known):
        model = network.model
        n = network.n
        self.model, self.network = model, network
        self.times = np.ascontiguousarray(times, np.float64)
        self.senders = np.ascontiguousarray(senders, np.int64)
        if self.times.size > 1 and np.any(np.diff(self.times) < 0):
            order = np.argsort(self.times, kind="stable")
            self.times, self.senders = self.times[order], self.senders[order]
        self.table = np.ascontiguousarray(network.target_table(), np.int64)
        self.drive = np.broadcast_to(np.asarray(network.drive, float), (n,)).copy()
        tau = np.broadcast_to(np.asarray(network.tau, float), (n,))
        self.omega = np.asarray(model.omega(self.drive), float).copy()
        self.speed = self.omega / tau
        self.coupling = float(network.coupling)
        self.kind = {"lif": LIF_KIND, "qif": QIF_KIND}.get(model.name, OTHER_KIND)
        if initial_known:
            self.phi = np.array(network.initial_phases, float)
            self.known = np.ones(n, np.bool_)
        else:
            self.phi = np.full(n, model.phase_reset)
            self.known = np.zeros(n, np.bool_)
        self.t_last = np.full(n, float(t_start))
        self.next = 0
        self.check = np.zeros(2)

    def phases(self, grid):
        """(n, G) phases at the increasing times ``grid`` (after the previous call's grid)."""
        grid = np.ascontiguousarray(grid, np.float64)
        out = np.empty((self.phi.size, grid.size))
        m = self.model
        if self.kind != OTHER_KIND:
            self.next = _replay(self.kind, self.times, self.senders, self.next, self.table,
                                self.phi, self.t_last, self.known, self.speed, self.drive,
                                self.coupling, self.omega, float(m.phase_reset),
                                float(m.phase_threshold), grid, out, self.check)
            return out
        # any other model (e.g. table models): the same loop with the model's own vectorised
        # PTC applied to the K targets of each spike (one Python step per spike)
        th = float(m.phase_threshold)
        for g, tg in enumerate(grid):
            while self.next < self.times.size and self.times[self.next] <= tg:
                t, j = self.times[self.next], self.senders[self.next]
                if self.known[j]:
                    pre = self.phi[j] + (t - self.t_last[j]) * self.speed[j]
                    self.check[0] = max(self.check[0], abs(pre - th))
                    self.check[1] += 1
                tg_ = self.table[j]
                tg_ = tg_[self.known[tg_]]
                p = self.phi[tg_] + (t - self.t_last[tg_]) * self.speed[tg_]
                self.phi[tg_] = m.ptc(p, self.drive[tg_], self.coupling)
                self.t_last[tg_] = t
                self.phi[j], self.t_last[j], self.known[j] = m.phase_reset, t, True
                self.next += 1
            out[:, g] = np.where(self.known, np.minimum(
                self.phi + (tg - self.t_last) * self.speed, th), np.nan)
        return out

    def observe(self, phases, observable):
        if observable == "phase":
            return phases
        return self.model.phase_to_voltage(phases, self.drive[:, None])


def _observable(model, observable):
    if observable == "auto":
        return "phase" if model.name == "qif" else "voltage"
    if observable not in ("voltage", "phase"):
        raise ValueError(f"observable must be 'auto', 'voltage' or 'phase'; got {observable!r}")
    return observable


def _networks(data, network):
    """A function m -> Network for the instances of ``data``."""
    from .runs.ensemble import Ensemble
    from .spec.network import Network
    if network is None:
        if data.networks is None:
            raise ValueError("pass network= (the simulated Network, or the Ensemble)")
        return data.networks
    if isinstance(network, Network):
        if len(data) != 1:
            raise ValueError("network= must be an Ensemble or a list of Networks, one per "
                             f"instance ({len(data)}), for several instances")
        return lambda _m: network
    if isinstance(network, Ensemble):
        network = network.instances
    network = list(network)
    if len(network) != len(data):
        raise ValueError(f"network= has {len(network)} networks for {len(data)} instances")
    return lambda m: network[m]


def _initial_known(data, net, m):
    return float(data.t_start[m]) == 0.0 and net.initial_phases is not None


def voltage_traces(source, grid, network=None, observable="voltage", instance=None):
    """Exact membrane potentials (or phases) of every neuron at the times ``grid``.

    Between events a neuron's phase grows at its constant velocity; at each recorded spike the
    sender resets and its K targets (``network.target_table()``) jump through the model's phase
    transition curve. Replaying the spike record through these rules gives the phases, hence the
    voltages, exactly (to rounding), at any time. The phases are known from the start when the
    record begins at t = 0 (the network's ``initial_phases``); after a warm-up, a neuron's phase
    is known from its first spike in the record on, and NaN before it.

    Parameters
    ----------
    source : SpikeRecord, EnsembleResult, Dataset or SpikeData, with spikes
    grid : array_like (G,)
        Increasing sample times (s).
    network : Network, Ensemble or list of Networks, optional
        The simulated network(s). Default: rebuilt from the record's metadata (or the sweep's
        specification): right unless the network had user-given targets or initial state.
    observable : {"voltage", "phase", "auto"}
    instance : int, optional
        Which instance (required for several).

    Returns
    -------
    ndarray (n, G)
    """
    data = spike_data(source)
    data.need_spikes("voltage_traces")
    if len(data) > 1:
        if instance is None:
            raise ValueError(f"instance= is needed: this source has {len(data)} instances")
        nets = _networks(data, network)
        data, net = data.instance(instance), nets(instance)
    else:
        net = _networks(data, network)(0)
    grid = np.asarray(grid, np.float64)
    if grid.ndim != 1 or np.any(np.diff(grid) < 0):
        raise ValueError("grid must be a 1-d array of increasing times")
    rep = _Replay(net, data.times, data.senders, data.t_start[0], _initial_known(data, net, 0))
    return rep.observe(rep.phases(grid), _observable(net.model, observable))


def chi_from_traces(traces):
    """Golomb-Hansel synchrony chi of sampled traces, shape (neuron, time).

    chi^2 = Var_t(mean_i V_i(t)) / mean_i Var_t(V_i(t)): 1 for identical traces, about
    1/sqrt(N) for N independent ones. NaN when no trace varies (or there are none).
    """
    v = np.asarray(traces, np.float64)
    if v.ndim != 2 or v.shape[0] == 0 or v.shape[1] < 2:
        return math.nan
    pop = v.mean(axis=0)
    denominator = v.var(axis=1).mean()
    if not denominator > 0:
        return math.nan
    return float(math.sqrt(pop.var() / denominator))


def chi(source, network=None, n_samples=1000, t_from=None, t_to=None, observable="auto",
        known_fraction=0.95, return_info=False):
    """Golomb-Hansel synchrony measure chi from exact voltages on a time grid.

    The voltages are reconstructed exactly from the spikes (``voltage_traces``) at
    ``n_samples`` equally spaced times in ``[t_from, t_to]`` and
    chi^2 = Var_t(mean_i V_i) / mean_i Var_t(V_i) (``chi_from_traces``), accumulated in chunks
    of the grid so memory stays O(n) per chunk. chi is 1 for perfect synchrony and of order
    1/sqrt(N) for asynchronous activity.

    Parameters
    ----------
    source : with spikes (record="spikes")
    network : Network, Ensemble or list of Networks, optional
        As in ``voltage_traces``.
    n_samples : int
    t_from, t_to : float, optional
        The grid's ends (default: the window). When the phases at ``t_start`` are unknown (a
        warm-up was discarded) ``t_from`` defaults to the time by which ``known_fraction`` of the
        neurons that fire in the window have fired once; neurons whose phase is still unknown at
        ``t_from`` (they have not fired yet, silent ones included) are left out.
    observable : {"auto", "voltage", "phase"}
        "auto": the voltage for LIF (and other models with bounded voltage), the phase for QIF,
        whose voltage tan(phase / 2) has no finite variance over time.
    return_info : bool
        Also return a dict per instance: neurons used, t_from, t_to, and ``max_phase_error``,
        the largest |phase - threshold| of the replay at a recorded spike (about 1e-12 when the
        spikes belong to ``network``; a large value means the wrong network).

    Returns
    -------
    float (a record) or ndarray (M,); NaN where undefined (fewer than two samples, no neuron
    known, no variance). With ``return_info``, ``(chi, info)``.
    """
    data = spike_data(source)
    data.need_spikes("chi")
    nets = _networks(data, network)
    n_samples = int(n_samples)
    values = np.full(len(data), np.nan)
    infos = []
    for m in range(len(data)):
        one = data.instance(m) if len(data) > 1 else data
        net = nets(m)
        values[m], info = _chi_one(one, net, n_samples, t_from, t_to, observable, known_fraction)
        infos.append(info)
    if data.single:
        out = float(values[0])
        return (out, infos[0]) if return_info else out
    out = _out(data, values, extra_dims=(), name="chi")
    return (out, infos) if return_info else out


def _chi_one(data, net, n_samples, t_from, t_to, observable, known_fraction):
    t0, t1 = float(data.t_start[0]), float(data.t_stop[0])
    info = {"neurons": 0, "t_from": math.nan, "t_to": math.nan, "max_phase_error": math.nan}
    if not np.isfinite(t1) or data.n[0] != net.n:
        if data.n[0] != net.n:
            raise ValueError(f"network has n = {net.n}, the record {int(data.n[0])}")
        return math.nan, info
    initial = _initial_known(data, net, 0)
    if t_from is None:
        t_from = t0
        if not initial and data.times.size:
            first = np.full(net.n, np.inf)
            np.minimum.at(first, data.senders, data.times)
            fired = np.sort(first[np.isfinite(first)])
            if fired.size:
                t_from = float(fired[min(fired.size - 1,
                                         int(math.ceil(known_fraction * fired.size)) - 1)])
    t_to = t1 if t_to is None else float(t_to)
    info.update(t_from=float(t_from), t_to=t_to)
    if n_samples < 2 or not t_to > t_from:
        return math.nan, info
    grid = np.linspace(t_from, t_to, n_samples)
    rep = _Replay(net, data.times, data.senders, t0, initial)
    obs = _observable(net.model, observable)
    chunk = max(2, (1 << 22) // max(net.n, 1))
    pop = np.empty(n_samples)
    use = None
    for lo in range(0, n_samples, chunk):
        v = rep.observe(rep.phases(grid[lo:lo + chunk]), obs)
        if use is None:
            use = np.isfinite(v[:, 0])
            if not use.any():
                return math.nan, info
            shift = v[use, 0].copy()
            s1 = np.zeros(int(use.sum()))
            s2 = np.zeros_like(s1)
        x = v[use] - shift[:, None]
        s1 += x.sum(axis=1)
        s2 += (x * x).sum(axis=1)
        pop[lo:lo + chunk] = v[use].mean(axis=0)
    mean = s1 / n_samples
    var_i = np.maximum(s2 / n_samples - mean * mean, 0.0)
    denominator = var_i.mean()
    info.update(neurons=int(use.sum()),
                max_phase_error=float(rep.check[0]) if rep.check[1] else math.nan)
    if not denominator > 0:
        return math.nan, info
    return float(math.sqrt(pop.var() / denominator)), info


# --------------------------------------------------------------------------- conversions
def to_neo(source, instance=None):
    """Spikes as the arrays of ``neo.SpikeTrainList.from_spike_time_array``.

    Returns a dict with ``spike_time_array`` (s), ``channel_id_array``, ``all_channel_ids``,
    ``t_start``, ``t_stop`` and ``units`` ("s"), so that
    ``neo.core.spiketrainlist.SpikeTrainList.from_spike_time_array(**to_neo(rec))`` builds the
    spike trains (neo is not needed here). For several instances pass ``instance``, or get all
    of them with channel ids numbered instance by instance (``unit = unit_offset[m] + neuron``,
    as in ``to_nwb_units``); then ``t_start``/``t_stop`` are the earliest start and latest stop.
    """
    data = spike_data(source)
    data.need_spikes("to_neo")
    if instance is not None:
        data = data.instance(int(instance))
    unit_offset = np.concatenate([[0], np.cumsum(data.n)])
    ids = unit_offset[data.instance_of_spike()] + data.senders
    return {"spike_time_array": data.times.copy(), "channel_id_array": ids,
            "all_channel_ids": np.arange(unit_offset[-1]),
            "t_start": float(np.nanmin(data.t_start)), "t_stop": float(np.nanmax(data.t_stop)),
            "units": "s"}


def to_nwb_units(source):
    """Spikes in the NWB Units table layout (ragged column ``spike_times``).

    One unit per neuron (silent ones included, with no spikes), instance by instance. Returns a
    dict of arrays: ``id`` (U,), ``spike_times`` (flat, each unit's spikes in time order, unit
    by unit), ``spike_times_index`` (U,) int64, the *end* of each unit's slice (NWB's
    VectorIndex: unit u is ``spike_times[index[u - 1]:index[u]]``, ``index[-1] = 0``),
    ``obs_intervals`` (U, 2) (the window), ``instance`` and ``neuron`` (U,). With pynwb:
    ``nwb.add_unit(spike_times=..., obs_intervals=...)`` per unit, or hand the arrays to
    ``Units.from_dataframe``/hdmf directly.
    """
    data = spike_data(source)
    data.need_spikes("to_nwb_units")
    unit_offset = np.concatenate([[0], np.cumsum(data.n)])
    inst = data.instance_of_spike()
    unit = unit_offset[inst] + data.senders
    order = np.lexsort((data.times, unit))
    total = int(unit_offset[-1])
    index = np.cumsum(np.bincount(unit, minlength=total)).astype(np.int64)
    owner = np.repeat(np.arange(len(data)), data.n)
    return {"id": np.arange(total), "spike_times": data.times[order],
            "spike_times_index": index,
            "obs_intervals": np.stack([data.t_start[owner], data.t_stop[owner]], axis=1),
            "instance": owner, "neuron": np.arange(total) - unit_offset[owner]}


# --------------------------------------------------------------------------- benchmarks
def parse_scaling(text):
    """The table ``benchmarks/engine_scaling.py`` prints (or README's Markdown table) as arrays.

    Returns a dict of equal-length arrays: ``n``, ``connectivity`` (str), ``auto`` (bool, the
    connectivity "auto" picks), ``ns_per_spike``, ``ns_per_event``, ``bytes_per_neuron``,
    ``conventional_ns_per_spike`` and ``extrapolated`` (bool, the conventional figure was
    extrapolated, ``(x)``); NaN where a row lacks a figure.
    """
    import re
    rows = []
    sup = str.maketrans("⁰¹²³⁴⁵⁶⁷⁸⁹", "0123456789")

    def value(text_):
        text_ = text_.replace("≈", "").replace(",", "").strip()
        m = re.match(r"^([0-9.]+)\s*[×x]\s*10([⁰¹²³⁴⁵⁶⁷⁸⁹]+)$", text_)
        if m:
            return float(m.group(1)) * 10 ** int(m.group(2).translate(sup))
        m = re.match(r"^10([⁰¹²³⁴⁵⁶⁷⁸⁹]+)$", text_)
        if m:
            return float(10 ** int(m.group(1).translate(sup)))
        text_ = text_.replace(" ", "").replace("\u202f", "").replace("\u2009", "")
        try:
            return float(text_)
        except ValueError:
            return math.nan
    for line in str(text).splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")] if "|" in line else None
        if cells and len(cells) >= 6:                  # Markdown table (README)
            n = value(cells[0])
            conn = cells[1]
            if not np.isfinite(n) or not re.search(r"stored|fly", conn):
                continue
            conv = cells[5]
            rows.append((n, "stored" if "stored" in conn else "on_the_fly", "auto" in conn,
                         value(cells[2]), value(cells[3]), value(cells[4]),
                         value(conv.split("(")[0]), "extrapolated" in conv or "(x)" in conv))
            continue
        m = re.match(r"^\s*(\d+)\s+(stored|on_the_fly)(\*?)\s+([0-9.]+)\s+([0-9.]+)\s+"
                     r"([0-9.]+)(?:\s+([0-9.]+)(\s*\(x\))?)?", line)
        if m:
            rows.append((float(m.group(1)), m.group(2), m.group(3) == "*", float(m.group(4)),
                         float(m.group(5)), float(m.group(6)),
                         float(m.group(7)) if m.group(7) else math.nan, bool(m.group(8))))
    if not rows:
        raise ValueError("no rows of the engine_scaling table found in the text")
    cols = list(zip(*rows))
    return {"n": np.array(cols[0]), "connectivity": np.array(cols[1]),
            "auto": np.array(cols[2], bool), "ns_per_spike": np.array(cols[3]),
            "ns_per_event": np.array(cols[4]), "bytes_per_neuron": np.array(cols[5]),
            "conventional_ns_per_spike": np.array(cols[6]),
            "extrapolated": np.array(cols[7], bool)}
