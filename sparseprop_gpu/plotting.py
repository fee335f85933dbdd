"""Figures of records, ensembles, sweeps and benchmarks (matplotlib, imported when first used).

Every function draws into ``ax`` when given one, else into a new figure (``plt.subplots``, so
notebooks show it; without a display matplotlib falls back to the headless Agg backend), and
returns the matplotlib Axes it drew on. ``write_sweep_figures`` (behind
``sparseprop sweep --plots``) draws on figures that are not registered with pyplot, so it runs
headless in any process. Sources are those of ``sparseprop_gpu.analysis``: a SpikeRecord, a
result Dataset (``sp.run_ensemble`` or ``sp.open_results``), a store path, or a SpikeData.

Install matplotlib with ``pip install -e ".[plots]"``.
"""
from pathlib import Path

import numpy as np

from . import analysis

__all__ = ["raster", "rate_histogram", "cv_histogram", "sweep_heatmap", "sweep_curve",
           "scaling_plot", "ptc_plot", "write_sweep_figures"]

SEED_KEYS = ("seed", "ic_seed")


def _mpl():
    try:
        import matplotlib
    except ImportError:
        raise ImportError("plotting needs matplotlib: pip install -e \".[plots]\" "
                          "(or pip install matplotlib)") from None
    return matplotlib


def _axes(ax, figsize=(6.0, 4.0)):
    if ax is not None:
        return ax
    _mpl()
    import matplotlib.pyplot as plt
    _, ax = plt.subplots(figsize=figsize, layout="constrained")
    return ax


def _headless_axes(figsize=(6.0, 4.0)):
    """An Axes on a Figure that pyplot does not know (no GUI, freed with the object)."""
    _mpl()
    from matplotlib.figure import Figure
    fig = Figure(figsize=figsize, layout="constrained")
    return fig.add_subplot()


# --------------------------------------------------------------------------- spikes
def raster(source, instance=None, t_from=None, t_to=None, neurons=None, ax=None, rate_bin=None,
           color="k", markersize=2.0, max_spikes=500_000):
    """Spike raster (time against neuron index) of a record or of one instance.

    Parameters
    ----------
    source : SpikeRecord, result Dataset (or store path) or SpikeData, with spikes
    instance : int, optional
        Which instance of several (default 0).
    t_from, t_to : float, optional
        Time range (s); default the window.
    neurons : int or array_like of int, optional
        The first ``neurons`` neurons, or these indices (default: all).
    rate_bin : float, optional
        Also draw the population rate in bins of this width (s) on a twin axis (right, red).
    max_spikes : int
        Draw at most this many spikes (the earliest ones; the range is cut and the title says so).

    Returns
    -------
    matplotlib.axes.Axes
    """
    data = analysis.spike_data(source)
    data.need_spikes("raster")
    m = 0 if instance is None else int(instance)
    if len(data) > 1 or instance is not None:
        data = data.instance(m)
    t0 = float(data.t_start[0]) if t_from is None else float(t_from)
    t1 = float(data.t_stop[0]) if t_to is None else float(t_to)
    n = int(data.n[0])
    times, senders = data.times, data.senders
    keep = (times >= t0) & (times <= t1)
    if neurons is not None:
        ids = np.arange(int(neurons)) if np.ndim(neurons) == 0 else np.asarray(neurons)
        keep &= np.isin(senders, ids)
        shown = ids.size
    else:
        shown = n
    times, senders = times[keep], senders[keep]
    note = ""
    if times.size > max_spikes:
        t1 = float(times[max_spikes - 1])
        times, senders = times[:max_spikes], senders[:max_spikes]
        note = f" (first {max_spikes} spikes)"
    ax = _axes(ax, (7.0, 4.0))
    ax.plot(times, senders, linestyle="none", marker="|", markersize=markersize, color=color,
            markeredgewidth=0.6, rasterized=times.size > 20_000)
    ax.set_xlim(t0, t1)
    ax.set_ylim(-0.5, (senders.max() + 0.5) if neurons is not None and senders.size else n - 0.5)
    ax.set_xlabel("time (s)")
    ax.set_ylabel("neuron")
    ax.set_title(f"{times.size} spikes of {shown} neurons{note}")
    if rate_bin is not None:
        edges, rate = analysis.population_rate(data, rate_bin, t_from=t0, t_to=t1)
        twin = ax.twinx()
        twin.step(edges[:-1], rate, where="post", color="tab:red", linewidth=1.0)
        twin.set_ylabel("population rate (Hz)", color="tab:red")
        twin.tick_params(axis="y", colors="tab:red")
        twin.set_ylim(bottom=0)
    return ax


def _grouped_histogram(edges, hist, data, by):
    """Histograms summed over the instances that share a value of ``by``."""
    if by is None:
        return [(None, np.nansum(np.atleast_2d(hist), axis=0))]
    if isinstance(by, str):
        if data.coords is None:
            raise ValueError("by='name' needs a Dataset from sp.open_results; pass an array "
                             "of one label per instance instead")
        labels = np.asarray(data.coords[0][by].values)
    else:
        labels = np.asarray(by)
    if labels.shape != (len(data),):
        raise ValueError(f"by must give one label per instance ({len(data)}); got shape "
                         f"{labels.shape}")
    values, inverse = np.unique(labels, return_inverse=True)
    summed = np.zeros((values.size, edges.size - 1))
    np.add.at(summed, inverse, np.asarray(hist))
    return list(zip(values, summed))


def _histogram_plot(kind, source, bins, range_, ax, by, density, log, xlabel):
    data = analysis.spike_data(source)
    fn = analysis.rate_distribution if kind == "rate" else analysis.cv_distribution
    edges, hist = fn(data, bins=bins, range=range_)
    hist = np.atleast_2d(np.asarray(hist))
    groups = _grouped_histogram(edges, hist, data, by)
    ax = _axes(ax)
    name = by if isinstance(by, str) else "group"
    for label, h in groups:
        if density:
            total = h.sum()
            h = h / (total * np.diff(edges)) if total > 0 else np.full_like(h, np.nan)
        text = None if label is None else f"{name} = {label:.3g}" if isinstance(
            label, (float, np.floating)) else f"{name} = {label}"
        ax.stairs(h, edges, label=text, linewidth=1.4)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("density" if density else "neurons")
    if log:
        ax.set_yscale("log")
    if by is not None:
        ax.legend(fontsize="small", frameon=False)
    return ax


def rate_histogram(source, bins=30, range=None, ax=None, by=None, density=True, log=False):
    """Histogram of the per-neuron rates (Hz), over all instances or one curve per value of
    ``by`` (a coordinate of a sweep Dataset such as ``"j0"``, or one label per instance).

    Returns the Axes.
    """
    return _histogram_plot("rate", source, bins, range, ax, by, density, log, "rate (Hz)")


def cv_histogram(source, bins=30, range=None, ax=None, by=None, density=True, log=False):
    """Histogram of the per-neuron ISI CVs (neurons with fewer than two intervals left out);
    as ``rate_histogram``. Returns the Axes."""
    return _histogram_plot("cv", source, bins, range, ax, by, density, log, "ISI CV")


# --------------------------------------------------------------------------- sweeps
def _open(ds):
    if isinstance(ds, (str, Path)):
        from .storage.reading import open_results
        return open_results(ds)
    return ds


def _swept(ds):
    meta = ds.sp.meta
    if meta["kind"] != "sweep":
        raise ValueError("sweep plots need a sweep store's Dataset (sp.open_results); this is an "
                         "ensemble's (sp.run_ensemble), with no grid of swept parameters")
    shape = dict(zip(meta["swept"], meta["shape"])) if meta["mode"] == "grid" else {}
    return [k for k in meta["swept"] if shape.get(k, 1) > 1 and k not in SEED_KEYS]


def _reduce(arr, keep, reduce):
    import xarray as xr
    if "neuron" in arr.dims:
        arr = arr.mean("neuron", skipna=True)
    other = [d for d in arr.dims if d not in keep]
    if not other:
        return arr
    if callable(reduce):
        return reduce(arr, other)
    if reduce not in ("mean", "median", "std", "min", "max"):
        raise ValueError(f"reduce must be mean, median, std, min, max or a function; got {reduce!r}")
    return getattr(arr, reduce)(other, skipna=True) if isinstance(arr, xr.DataArray) else arr


def sweep_heatmap(ds, name="rate_mean", x=None, y=None, reduce="mean", ax=None, cmap="viridis",
                  annotate=None, fmt="{:.3g}"):
    """Heat map of a summary over two swept parameters.

    Parameters
    ----------
    ds : Dataset from ``sp.open_results`` (or its path), or a 2-d ``xarray.DataArray``
    name : str
        A per-instance variable (``rate_mean``, ``cv_isi_mean``, ``silent_fraction``, ... or
        a per-neuron one, first averaged over neurons).
    x, y : str, optional
        Swept keys on the axes; default the first two swept keys with more than one value
        other than the seeds (``y`` the first, varying slowest).
    reduce : {"mean", "median", "std", "min", "max"} or callable
        How the other swept keys (the seeds) are reduced, NaN skipped.
    annotate : bool, optional
        Write the values in the cells (default: at most 100 cells).

    The cells are evenly spaced whatever the parameter values (linspace or geomspace), each
    tick labelled by its value. Returns the Axes (the colour bar is on its figure).
    """
    arr, x, y, label = _heatmap_array(ds, name, x, y, reduce)
    arr = arr.transpose(y, x)
    values = np.asarray(arr.values, float)
    ax = _axes(ax, (6.0, 4.5))
    mesh = ax.pcolormesh(np.arange(values.shape[1] + 1) - 0.5,
                         np.arange(values.shape[0] + 1) - 0.5,
                         np.ma.masked_invalid(values), cmap=cmap, shading="flat")
    for axis, dim, size in ((ax.xaxis, x, values.shape[1]), (ax.yaxis, y, values.shape[0])):
        coord = np.asarray(arr[dim].values) if dim in arr.coords else np.arange(size)
        step = max(1, size // 10)
        axis.set_ticks(np.arange(0, size, step))
        axis.set_ticklabels([fmt.format(v) for v in coord[::step]])
    ax.set_xlabel(x)
    ax.set_ylabel(y)
    ax.figure.colorbar(mesh, ax=ax, label=label)
    if annotate is None:
        annotate = values.size <= 100
    if annotate:
        _annotate(ax, values, fmt)
    return ax


def _heatmap_array(ds, name, x, y, reduce):
    """The 2-d DataArray of ``sweep_heatmap``, its x and y dimensions and its colour-bar label."""
    import xarray as xr
    if isinstance(ds, xr.DataArray):
        if ds.ndim != 2:
            raise ValueError(f"a DataArray for sweep_heatmap must be 2-d; got dims {ds.dims}")
        return ds, (x or ds.dims[1]), (y or ds.dims[0]), ds.name or ""
    ds = _open(ds)
    swept = _swept(ds)
    if x is None or y is None:
        rest = [k for k in swept if k not in (x, y)]
        if y is None and rest:
            y = rest.pop(0)
        if x is None and rest:
            x = rest.pop(0)
    if x is None or y is None:
        raise ValueError(f"sweep_heatmap needs two swept parameters; this sweep has "
                         f"{swept or 'none'} (use sweep_curve for one)")
    how = reduce if isinstance(reduce, str) else "reduced"
    label = name if reduce == "mean" else f"{name} ({how})"
    return _reduce(ds.sp.grid(name), (y, x), reduce), x, y, label


def _annotate(ax, values, fmt):
    """Write each finite value of ``values`` (rows y, columns x) in its cell."""
    finite = values[np.isfinite(values)]
    mid = (finite.min() + finite.max()) / 2 if finite.size else 0
    for (i, j), v in np.ndenumerate(values):
        if np.isfinite(v):
            ax.text(j, i, fmt.format(v), ha="center", va="center", fontsize=7,
                    color="white" if v < mid else "black")


def sweep_curve(ds, name="rate_mean", x=None, hue=None, ax=None, band="std"):
    """A summary against one swept parameter: the mean over the seeds (and the other keys but
    ``hue``) with a band of +- one standard deviation (``band="std"``) or none (``None``),
    one line per value of ``hue``. Returns the Axes."""
    ds = _open(ds)
    swept = _swept(ds)
    x = x or (swept[0] if swept else None)
    if x is None:
        raise ValueError("sweep_curve needs a swept parameter other than the seeds")
    keep = (x,) if hue is None else (hue, x)
    grid = ds.sp.grid(name)
    mean = _reduce(grid, keep, "mean")
    std = _reduce(grid, keep, "std")
    ax = _axes(ax)
    xs = np.asarray(mean[x].values, float)
    rows = [(None, mean, std)] if hue is None else [
        (v, mean.sel({hue: v}), std.sel({hue: v})) for v in mean[hue].values]
    for label, mu, sd in rows:
        mu, sd = np.asarray(mu.transpose(x).values, float), np.asarray(sd.transpose(x).values, float)
        line, = ax.plot(xs, mu, marker="o", markersize=3,
                        label=None if label is None else f"{hue} = {label:.3g}")
        if band == "std":
            ax.fill_between(xs, mu - sd, mu + sd, color=line.get_color(), alpha=0.2, linewidth=0)
    ax.set_xlabel(x)
    ax.set_ylabel(name)
    if hue is not None:
        ax.legend(fontsize="small", frameon=False)
    return ax


# --------------------------------------------------------------------------- benchmarks, models
def _scaling_data(data):
    """The columns of ``scaling_plot``'s ``data`` by name."""
    if isinstance(data, dict):
        out = {k: np.asarray(v) for k, v in data.items()}
        if "n" not in out or "ns_per_spike" not in out:
            raise ValueError("scaling data needs the keys 'n' and 'ns_per_spike'")
        return out
    arr = np.asarray(data)
    if arr.dtype.names:
        return {k: arr[k] for k in arr.dtype.names}
    if arr.ndim == 2 and arr.shape[1] in (2, 3):
        out = {"n": arr[:, 0], "ns_per_spike": arr[:, 1]}
        if arr.shape[1] == 3:
            out["conventional_ns_per_spike"] = arr[:, 2]
        return out
    raise ValueError("scaling data must be a dict (benchmarks/report.py's parse_scaling reads "
                     "the benchmark's text into one), a structured array or an (rows, 2 or 3) "
                     "array of N, ns per spike (, conventional ns per spike)")


def scaling_plot(data, ax=None, guides=True):
    """Cost per spike against N, log-log: SparseProp per connectivity and the conventional
    O(N)-per-spike engine (hollow markers: extrapolated).

    ``data``: a dict with ``n`` and ``ns_per_spike`` (ns; optional ``connectivity``,
    ``conventional_ns_per_spike``, ``extrapolated``), as ``parse_scaling`` of
    ``benchmarks/report.py`` reads it from the text ``benchmarks/engine_scaling.py`` prints (or
    README's table); a structured array; or an array of rows (N, ns per spike[, conventional]).
    ``guides`` draws dotted reference lines proportional to N and to log N. Returns the Axes.
    """
    d = _scaling_data(data)
    n = np.asarray(d["n"], float)
    cost = np.asarray(d["ns_per_spike"], float)
    conn = np.asarray(d.get("connectivity", np.full(n.size, "sparseprop")))
    ax = _axes(ax, (6.0, 4.5))
    for c in dict.fromkeys(conn):
        sel = conn == c
        order = np.argsort(n[sel])
        label = {"stored": "SparseProp, stored targets", "on_the_fly": "SparseProp, on the fly"}
        ax.plot(n[sel][order], cost[sel][order], marker="o", label=label.get(c, f"SparseProp, {c}"))
    if "conventional_ns_per_spike" in d:
        conv = np.asarray(d["conventional_ns_per_spike"], float)
        extrap = np.asarray(d.get("extrapolated", np.zeros(n.size, bool)), bool)
        uniq, first = np.unique(n, return_index=True)
        cv, ex = conv[first], extrap[first]
        ok = np.isfinite(cv)
        ax.plot(uniq[ok], cv[ok], color="0.3", linestyle="--", label="conventional, O(N) per spike")
        ax.plot(uniq[ok & ~ex], cv[ok & ~ex], "s", color="0.3")
        if (ok & ex).any():
            ax.plot(uniq[ok & ex], cv[ok & ex], "s", color="0.3", markerfacecolor="none",
                    label="conventional, extrapolated")
    if guides and n.size:
        lo = np.argmin(n)
        xs = np.geomspace(n.min(), n.max(), 50)
        ax.plot(xs, cost[lo] * xs / n[lo], ":", color="0.6", linewidth=1, label="∝ N")
        ax.plot(xs, cost[lo] * np.log(xs) / np.log(n[lo]), ":", color="tab:green", linewidth=1,
                label="∝ log N")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("N (neurons)")
    ax.set_ylabel("cost per network spike (ns)")
    ax.legend(fontsize="small", frameon=False)
    return ax


def ptc_plot(model, drive, coupling, ax=None, label=None, points=400):
    """Phase response of ``model``: the phase change g(phi; J) - phi against phi, both in units
    of the model's phase range (reset 0, threshold 1). Returns the Axes."""
    lo, hi = float(model.phase_reset), float(model.phase_threshold)
    span = hi - lo
    phi = lo + span * np.linspace(0.0, 1.0, points + 2)[1:-1]
    response = (np.asarray(model.ptc(phi, drive, coupling)) - phi) / span
    ax = _axes(ax)
    ax.plot((phi - lo) / span, response, label=label or type(model).__name__)
    ax.axhline(0, color="0.7", linewidth=0.8)
    ax.set_xlabel("phase (reset 0, threshold 1)")
    ax.set_ylabel("phase change per input")
    ax.legend(fontsize="small", frameon=False)
    return ax


# --------------------------------------------------------------------------- sparseprop sweep --plots
def write_sweep_figures(path, out_dir=None, dpi=110):
    """Write the figures of the sweep store ``path`` as PNG files next to it.

    Heat maps (two swept parameters or more) or curves (one) of ``rate_mean``, ``cv_isi_mean``
    and ``silent_fraction``; rate and ISI CV histograms per value of the first swept parameter
    when the store holds spikes or per-neuron counts; a raster of instance 0 when it holds
    spikes. Files are named ``<store stem>_<figure>.png`` in ``out_dir`` (default: the store's
    folder). Returns the list of paths written.
    """
    ds = _open(path)
    store = Path(ds.attrs["sparseprop_path"])
    out_dir = store.parent if out_dir is None else Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = store.name[:-5] if store.name.endswith(".zarr") else store.name
    written = []

    def save(ax, what):
        target = out_dir / f"{stem}_{what}.png"
        ax.figure.savefig(target, dpi=dpi)
        written.append(target)

    swept = _swept(ds) if ds.sp.meta["mode"] == "grid" else []
    for name in ("rate_mean", "cv_isi_mean", "silent_fraction"):
        if len(swept) >= 2:
            save(sweep_heatmap(ds, name, ax=_headless_axes((6.0, 4.5))), f"heatmap_{name}")
        elif len(swept) == 1:
            save(sweep_curve(ds, name, ax=_headless_axes()), f"curve_{name}")
    try:
        data = analysis.spike_data(ds)
    except ValueError:
        data = None
    if data is not None:
        by = swept[0] if swept else None
        save(rate_histogram(data, by=by, ax=_headless_axes()), "rate_histogram")
        try:
            save(cv_histogram(data, by=by, ax=_headless_axes()), "cv_histogram")
        except ValueError:      # per-neuron counts without ISI moments: no CVs to show
            pass
        if data.has_spikes:
            save(raster(data, instance=0, ax=_headless_axes((7.0, 4.0))), "raster_instance0")
    return written
