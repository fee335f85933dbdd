"""Reading a sweep store: ``open_results``, an ``xarray.Dataset`` with one variable a quantity."""
import json

import numpy as np

from ..runs.summaries import NEURON_DTYPES, PARAMETERS, SUMMARIES, population_summary_names
from ..runs.accessor import register
from .layout import MARKERS, PACKED, STATE_ARRAYS
from . import integrity
from .integrity import VERIFY
from .location import check_url, normalise
from .spikes import spike_variables
from ..specification.sweep import Sweep
from .metadata import attributes, check_format, done_batches


def open_results(path, partial=False, verify="sizes"):
    """The results of a sweep as an ``xarray.Dataset``.

    Dimensions ``instance`` (and ``neuron``, ``batch``); the parameters of every instance
    (n, k, seed, ic_seed, drive, coupling, j0, target_rate) are coordinates, so
    ``ds.rate_mean.groupby("j0").mean()`` works. Summaries: rate_mean, rate_std (Hz, across
    neurons), cv_isi_mean (over neurons with two or more intervals), spike_count,
    silent_fraction, t_stop; of a network of populations also rate_mean_<pop>,
    cv_isi_mean_<pop> and fano_mean_<pop> (``runs.summaries.POPULATION_SUMMARIES``; the last
    NaN without recorded spikes, absent from stores written before it); per-neuron arrays
    where the sweep asked for them; the spikes,
    flat and read lazily, as ``spike_time`` and ``spike_sender``. The same shape as
    ``run_ensemble``'s result, and the same ``ds.sp`` (``runs.accessor``): ``ds.sp.spikes(i)``,
    ``ds.sp.record(i)``, the specification, and ``ds.sp.grid(name)``, a variable on the grid
    of swept parameters.

    Data are read lazily (with dask where it is installed). Raises ValueError if some
    batches are not complete, unless ``partial=True`` (then ``ds.done`` says which instances
    hold results; the others hold NaN, or -1 for integers).

    The store is checked against its manifests first (``storage.integrity``):
    ``verify="sizes"`` (default) lists its objects and compares their sizes, finding missing
    and truncated chunks and missing array metadata in a few milliseconds; ``verify="full"``
    also reads every object and compares its CRC-32, finding changed bytes. A damaged store
    raises ValueError naming each damaged array, its batch and its instances (repaired by
    ``sparseprop sweep SPEC --out PATH --resume``).
    """
    import xarray as xr
    import zarr
    register()
    if verify not in VERIFY:
        raise ValueError(f"verify must be one of {', '.join(map(repr, VERIFY))}; got {verify!r}")
    path = check_url(normalise(path), "path")
    meta = _sweep_attributes(path)
    _check(path, meta, verify == "full")
    done = done_batches(path)
    if not partial and not done.all():
        raise ValueError(f"path: {path} is incomplete ({int(done.sum())} of {done.size} batches "
                         "done); finish it with `sparseprop sweep SPEC --out PATH --resume`, or "
                         "pass partial=True")
    ds = xr.open_zarr(path, consolidated=False, zarr_format=3, mask_and_scale=False,
                      chunks={} if _has_dask() else None)
    ds = _unpack(ds.drop_vars([MARKERS], errors="ignore"))
    instance_done = done[np.arange(meta["instances"]) // meta["batch_size"]]
    try:                              # reads the parameters (and n_recorded) now
        ds = _with_parameters(ds, meta, instance_done)
        n_recorded = ds["n_recorded"].values if meta["record"] == "spikes" else None
    except Exception:                 # bytes changed, sizes not: name the damage
        _check(path, meta, full=True)
        raise
    ds[MARKERS] = ("batch", done.astype(np.uint8))
    populations = population_summary_names(Sweep.from_spec(meta["spec"]).population_names)
    ds = ds[[name for name in (*SUMMARIES, *populations, "n_recorded", *NEURON_DTYPES,
                               *STATE_ARRAYS, MARKERS) if name in ds]]
    ds = ds.assign_coords(done=("instance", instance_done))
    if meta["record"] == "spikes":
        spikes = spike_variables(zarr.open_group(path, mode="r"), n_recorded,
                                 meta["batch_size"])
        ds = ds.assign(spike_time=spikes["spike_time"], spike_sender=spikes["spike_sender"])
        ds = ds.assign_coords(spike_start=spikes["spike_start"])
    ds.attrs["sparseprop_path"] = path
    ds.attrs["sparseprop"] = json.dumps({k: v for k, v in meta.items() if k != "manifest"})
    return ds


def _check(path, meta, full):
    """ValueError naming every damaged object of the store (``integrity.verify``)."""
    problems = integrity.verify(path, full=full)
    if problems:
        raise ValueError(integrity.message(path, problems, Sweep.from_spec(meta["spec"]),
                                           "repair it with `sparseprop sweep SPEC --out PATH "
                                           "--resume`"))


def _sweep_attributes(path):
    """The attributes of the sweep store at ``path``; ValueError if it is none, or not of
    this format."""
    import zarr
    try:
        meta = attributes(zarr.open_group(path, mode="r"))
    except Exception:
        meta = None
    if not meta or meta.get("kind") != "sweep":
        raise ValueError(f"path: {path} is not a sparseprop sweep store")
    check_format(meta, f"path: {path}")
    return meta


def _unpack(ds):
    """Each row of the packed (quantity, instance) arrays as its own (instance,) variable,
    named by the array's ``quantities`` attribute (lazy, as the rest)."""
    for name in PACKED:
        if name in ds:
            packed = ds[name].variable
            for i, quantity in enumerate(packed.attrs["quantities"]):
                row = packed[i].copy(deep=False)       # still lazy
                row.attrs, row.encoding = {}, {}
                ds[quantity] = row
            ds = ds.drop_vars(name)
    return ds


def _with_parameters(ds, meta, instance_done):
    """``ds`` with the parameters as (in-memory) coordinates; those of the instances not run
    taken from the specification."""
    params = [name for name in PARAMETERS if name in ds]
    values = {name: ds[name].values for name in params}          # small: in memory
    if not instance_done.all():
        given = Sweep.from_spec(meta["spec"]).parameters()
        values = {name: np.where(instance_done, value, given[name])
                  for name, value in values.items()}
    return ds.set_coords(params).assign_coords(
        {name: ("instance", value) for name, value in values.items()})


def _has_dask():
    try:
        import dask.array  # noqa: F401
        return True
    except ImportError:
        return False
