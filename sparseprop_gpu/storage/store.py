"""The Zarr 3 store of a sweep, written batch by batch by the workers; ``open_results``.

Layout, format 2 (root group, Zarr format 3; dimension names for xarray)::

    zarr.json             attributes["sparseprop"]: kind, format, ready, finished, the full
                          specification (its unset, null keys left out), package version,
                          backend (asked for and used)
    instance_int64        (quantity_int64, instance)    n, k, seed, ic_seed, spike_count
                                                         [, n_recorded]
    instance_float64      (quantity_float64, instance)  tau, drive, coupling[, j0, target_rate],
                          rate_mean, rate_std, cv_isi_mean, silent_fraction, t_stop
    count, rate, cv_isi, isi_sum, isi_sumsq             (instance, neuron)  if per_neuron
    spikes/times_<b>, spikes/senders_<b>                (spike,)  batch b's spikes, flat
    batch_done            (batch,)  the commit markers, while the sweep runs

The per-instance parameters and summaries are packed by dtype, one row a quantity, its name in
the array's ``quantities`` attribute (parameters first); ``open_results`` splits them into one
variable each, named as the rows, so the Dataset is the one of format 1. Why: the summary store
of the quickstart (384 instances) holds ~10 kB of compressed data, and with one array a
quantity its 15 ``zarr.json`` of ~470 B each made it 1.82x the size of its arrays compressed as
one block each; packed, the metadata is 1.8 kB (the root's 0.6 kB and two arrays') and the store
1.17x (``python benchmarks/sweep_overhead.py``). The sizes (instances, batches, shape, ...) are
not stored: ``metadata(path)`` and ``ds.sp.meta`` derive them from the specification. In a
finished store the integers are one chunk (all rows), the floats one chunk a row, each of up to
8 MiB: zstd's entropy tables are per block, and the float columns differ (measured on the
quickstart's arrays at t_end = 1.2: integers 644 B as one block against 740 B one block a row;
floats 8.9 kB one block a row against 9.9 kB as one block).

The client creates every array before the first batch runs, and writes no chunk. While the
sweep runs, the packed arrays have chunks of (all rows, ``batch_size`` instances), so each
batch writes its own chunk of each, parameters and summaries together, and no two workers
touch one. A worker writes all of a batch's data first and its ``batch_done`` entry last: a
batch is complete exactly when its marker is 1, and ``resume`` recomputes the batches whose
marker is not. ``open_results(partial=True)`` takes the parameters of batches not yet run from
the specification. The spikes of instance ``i`` are, in the NWB Units layout,
``times[offsets[i]:offsets[i + 1]]`` with ``offsets = [0, cumsum(n_recorded)]``;
``open_results(...).sp`` assembles them.

Once every batch is committed, ``finish`` (the client) rewrites each array that the workers wrote
in small chunks (the packed arrays, per-neuron arrays of small networks) in its final chunks.
Each array is rewritten crash-safely: its new chunks first, under the "v2" chunk-key encoding
(keys ``0.0``, ``1.0``, ... next to the old ``c/0/0``, ``c/0/1``, ...), then its new
``zarr.json`` (an atomic replacement: readers see either the old chunks or the new ones), then
the old chunks are deleted. An array whose metadata names the v2 encoding is rewritten; one
that does not is rewritten again from its (intact) old chunks, so a killed ``finish`` is
completed by running it again (``--resume``, or the same command). Then ``finished`` is set in
the attributes, and last the markers are deleted: in a finished store ``finished`` says that
every batch is committed (``open_results`` gives ``batch_done``, all 1, as before). A finish
killed while deleting them is completed the same way. A store of another format is refused by
``open_results`` and by a sweep run into it (``--resume`` included), with a message naming
its format; ``--overwrite`` replaces it.
"""
import json
import os
import shutil
import warnings
from pathlib import Path

import numpy as np

from ..runs.record import cv_from_moments

FORMAT = 2
SUMMARIES = {"rate_mean": np.float64, "rate_std": np.float64, "cv_isi_mean": np.float64,
             "spike_count": np.int64, "silent_fraction": np.float64, "t_stop": np.float64}
NEURON_DTYPES = {"count": np.int64, "rate": np.float64, "cv_isi": np.float64,
                 "isi_sum": np.float64, "isi_sumsq": np.float64}
PARAMETERS = ("n", "k", "seed", "ic_seed", "tau", "drive", "coupling", "j0", "target_rate")
INTEGER_PARAMETERS = ("n", "k", "seed", "ic_seed")
PACKED = {"instance_int64": np.int64, "instance_float64": np.float64}   # (quantity, instance)
MARKERS = "batch_done"
NEURON_CHUNK_BYTES = 1 << 24
SMALL_CHUNK_BYTES = 1 << 20       # finish() rewrites arrays whose chunks are smaller than this
FINAL_CHUNK_BYTES = 1 << 23       # ... into chunks of about this many bytes (2**20 float64)
V2_KEYS = {"name": "v2", "configuration": {"separator": "."}}


def _is_url(path):
    return "://" in str(path)


def normalise(path):
    """An absolute local path (workers may run elsewhere in the tree) or a URL, as a str."""
    return str(path) if _is_url(path) else os.path.abspath(os.fspath(path))


def _fill(dtype):
    return -1 if np.dtype(dtype).kind in "iu" else np.nan


def _attrs(group):
    """The store's ``sparseprop`` attributes, with what they leave out filled in (see
    ``_expand``); a store of another format's as they are (``_check_format`` refuses it)."""
    meta = dict(group.attrs).get("sparseprop")
    if isinstance(meta, dict) and meta.get("kind") == "sweep" and meta.get("format") == FORMAT \
            and meta.get("ready"):
        return _expand(meta)
    return meta


def metadata(path):
    """The attributes of the sweep store at ``path``: kind, format, spec, version, backend,
    ready, finished, and the sizes derived from the specification (instances, batch_size,
    batches, neurons, swept, mode, shape, record, per_neuron)."""
    import zarr
    return _attrs(zarr.open_group(normalise(path), mode="r"))


STORED = ("kind", "format", "ready", "spec", "version", "backend", "finished")


def _stored(meta):
    """What the root ``zarr.json`` keeps of ``meta``: no key that the specification gives
    (sizes, swept keys, mode, record), and the specification without its unset (null) keys."""
    out = {key: meta[key] for key in STORED if key in meta}
    spec = out.get("spec")
    if isinstance(spec, dict) and meta.get("ready"):
        out["spec"] = {**spec, **{section: {k: v for k, v in spec[section].items()
                                            if v is not None}
                                  for section in ("network", "run")}}
    return out


def _expand(meta):
    """The inverse of ``_stored``: the specification's null keys back, and the sizes."""
    from ..spec.sweep import NETWORK_KEYS, RUN_KEYS, _expand as axis_values
    stored = meta["spec"]
    spec = {"network": {key: stored["network"].get(key) for key in NETWORK_KEYS},
            "sweep": stored["sweep"],
            "run": {key: stored["run"].get(key) for key in RUN_KEYS}}
    order, mode = spec["sweep"]["order"], spec["sweep"]["mode"]
    axes = {name: axis_values(name, spec["sweep"]["values"][name]) for name in order}
    if mode == "grid":
        shape = [axis.size for axis in axes.values()]
        size = int(np.prod(shape, dtype=np.int64)) if shape else 1
    else:
        shape = [next(iter(axes.values())).size if axes else 1]
        size = shape[0]
    run = spec["run"]
    neurons = int(axes["n"].max()) if "n" in axes else spec["network"]["n"]
    return {**meta, "spec": spec, "instances": size, "batch_size": run["batch_size"],
            "batches": -(-size // run["batch_size"]), "neurons": neurons, "swept": list(order),
            "mode": mode, "shape": shape, "record": run["record"],
            "per_neuron": list(run["per_neuron"])}


def _check_format(meta, where):
    if meta.get("format") != FORMAT:
        from .. import __version__
        raise ValueError(f"{where} is a sweep store of format {meta.get('format')} (written by "
                         f"sparseprop-gpu {meta.get('version', '?')}); this version "
                         f"({__version__}) reads format {FORMAT} only: read it with the version "
                         "that wrote it, or run the sweep again into a new store "
                         "(--overwrite replaces it)")


def exists(path):
    """Whether something is at ``path`` (a local check needs no Zarr)."""
    return _exists(normalise(path))


def _exists(path):
    if _is_url(path):
        import zarr
        try:
            zarr.open_group(path, mode="r")
            return True
        except Exception:
            return False
    return Path(path).exists()


def prepare(path, sweep, resume=False, overwrite=False):
    """Create the store of ``sweep`` at ``path``, or check the one there.

    Returns the batches still to run (all of them for a new store, none for a finished one).
    Raises ValueError when ``path`` holds something else, a different sweep, or an
    unfinished run of this sweep without ``resume``.
    """
    todo = plan(path, sweep, resume=resume, overwrite=overwrite)
    return create(path, sweep) if todo is None else todo


def plan(path, sweep, resume=False, overwrite=False):
    """Check what ``path`` holds against ``sweep`` (reading only, except with ``overwrite``).

    Returns the batches still to run of the store there, or None when the store must be
    created (``create``). Raises ValueError as ``prepare`` does."""
    import zarr
    from ..spec.sweep import first_difference
    path = normalise(path)
    if _exists(path):
        try:
            group = zarr.open_group(path, mode="r")
            meta = _attrs(group)
        except Exception:
            meta = None
        if meta is None or meta.get("kind") != "sweep":   # never deleted, even with overwrite
            raise ValueError(f"out: {path} exists and is not a sparseprop sweep store; "
                             "choose another path")
        if overwrite:
            _remove(path)
    if _exists(path):
        if meta.get("ready"):
            _check_format(meta, f"out: {path}")
            theirs, ours = meta["spec"], json.loads(sweep.to_json())
            if theirs != ours:
                key = first_difference(theirs, ours)
                there = _lookup(theirs, key)
                here = _lookup(ours, key)
                shown = key.replace("sweep.values.", "sweep.")
                raise ValueError(f"out: {path} holds a different sweep ({shown} is {there!r} "
                                 f"there, {here!r} here); choose another --out, or "
                                 "--overwrite it")
            if meta.get("finished"):
                return []
            done = done_batches(path)
            todo = [b for b in range(sweep.n_batches) if not done[b]]
            if todo and not resume and done.any():
                raise ValueError(f"out: {path} holds an unfinished run of this sweep "
                                 f"({int(done.sum())} of {sweep.n_batches} batches complete); "
                                 "add --resume (resume=True) to run the missing batches, or "
                                 "--overwrite to start again")
            if not _is_url(path):
                _clean_partials(path)
            return todo
        # created but not finished creating (killed during creation): nothing was computed
    return None


def create(path, sweep):
    """Create the (empty) store of ``sweep`` at ``path``; returns all its batches."""
    from .. import __version__
    _create(normalise(path), sweep, __version__)
    return list(range(sweep.n_batches))


def _lookup(spec, key):
    value = spec
    for part in key.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def _remove(path):
    if _is_url(path):
        import zarr
        zarr.open_group(path, mode="w")
    else:
        shutil.rmtree(path) if Path(path).is_dir() else Path(path).unlink()


def _clean_partials(path):
    """Remove the temporary files a killed writer left (Zarr's LocalStore writes name.*.partial
    and renames it)."""
    for root, _, files in os.walk(path):
        for name in files:
            if name.endswith(".partial"):
                try:
                    os.unlink(os.path.join(root, name))
                except OSError:
                    pass


def _compact():
    """Zarr writes its JSON metadata indented; one line each keeps small stores small."""
    import zarr
    return zarr.config.set({"json_indent": None})


def _create(path, sweep, version):
    with _compact():
        _create_arrays(path, sweep, version)


def _create_arrays(path, sweep, version):
    import zarr
    group = zarr.open_group(path, mode="w", zarr_format=3)
    meta = {"kind": "sweep", "format": FORMAT, "ready": False,
            "spec": json.loads(sweep.to_json()), "version": version,
            "backend": {"requested": sweep.spec["run"]["backend"], "used": []}}
    group.attrs.update({"sparseprop": meta})
    m, bs = sweep.size, sweep.batch_size
    for name, quantities in layout(sweep.parameters(0, 1), sweep.record).items():
        dtype = PACKED[name]
        group.create_array(name, shape=(len(quantities), m), chunks=(len(quantities), bs),
                           dtype=dtype, fill_value=_fill(dtype),
                           dimension_names=[_row_dim(name), "instance"],
                           attributes={"quantities": quantities})
    neuron_chunk = max(1, min(sweep.n_max, NEURON_CHUNK_BYTES // (8 * bs)))
    for name in sweep.per_neuron:
        dtype = NEURON_DTYPES[name]
        group.create_array(name, shape=(m, sweep.n_max), chunks=(bs, neuron_chunk), dtype=dtype,
                           fill_value=_fill(dtype), dimension_names=["instance", "neuron"])
    if sweep.record == "spikes":
        group.create_group("spikes")
    group.create_array(MARKERS, shape=(sweep.n_batches,), chunks=(1,), dtype=np.uint8,
                       fill_value=0, compressors=None, dimension_names=["batch"])
    group.attrs.update({"sparseprop": _stored({**meta, "ready": True})})


def _dtype(quantity):
    if quantity in INTEGER_PARAMETERS or quantity == "n_recorded":
        return np.int64
    return SUMMARIES.get(quantity, np.float64)


def layout(parameters, record):
    """{packed array: its quantities (rows)}: the parameters first, then the summaries and
    ``n_recorded``, split by dtype."""
    names = [*(q for q in PARAMETERS if q in parameters), *SUMMARIES,
             *(("n_recorded",) if record == "spikes" else ())]
    return {name: [q for q in names if _dtype(q) == dtype] for name, dtype in PACKED.items()}


def done_batches(path):
    """(n_batches,) bool: which batches are committed (all, in a finished store, which
    keeps no markers)."""
    import zarr
    group = zarr.open_group(normalise(path), mode="r")
    meta = _attrs(group)
    if not meta.get("finished"):
        try:
            return group[MARKERS][:] == 1
        except KeyError:                   # finished (and the markers dropped) meanwhile
            meta = _attrs(zarr.open_group(normalise(path), mode="r"))
    return np.ones(meta["batches"], bool)


def summaries(result):
    """Per-instance summaries of an EnsembleResult, each computed from its own instance's
    neurons only (so independent of the batch it ran in)."""
    size = len(result)
    out = {name: np.empty(size, dtype) for name, dtype in SUMMARIES.items()}
    ns = result.parameters["n"]
    for m in range(size):
        n = int(ns[m])
        counts = result.counts[m, :n]
        duration = result.t_stop[m] - result.t_start
        with np.errstate(invalid="ignore", divide="ignore"):
            rates = counts / duration
        cv = cv_from_moments(counts, result.isi_sum[m, :n], result.isi_sumsq[m, :n])
        valid = cv[~np.isnan(cv)]
        out["rate_mean"][m] = rates.mean()
        out["rate_std"][m] = rates.std()
        out["cv_isi_mean"][m] = valid.mean() if valid.size else np.nan
        out["spike_count"][m] = counts.sum()
        out["silent_fraction"][m] = np.count_nonzero(counts == 0) / n
        out["t_stop"][m] = result.t_stop[m]
    return out


def per_neuron(result, names, n_max):
    """(instance, n_max) arrays of the per-neuron statistics ``names``, padded."""
    size = len(result)
    width = result.counts.shape[1]
    alive = result.neurons
    out = {}
    for name in names:
        dtype = NEURON_DTYPES[name]
        arr = np.full((size, n_max), _fill(dtype) if name != "count" else 0, dtype)
        if name == "count":
            arr[:, :width] = result.counts
        elif name == "rate":
            arr[:, :width] = result.rates
        elif name == "cv_isi":
            arr[:, :width] = result.cv_isi
        else:
            arr[:, :width] = np.where(alive, getattr(result, name), np.nan)
        out[name] = arr
    return out


def write_batch(path, sweep, b, result):
    """Write batch ``b``'s result into its chunks, then its commit marker (last)."""
    import zarr
    group = zarr.open_group(normalise(path), mode="r+")
    lo, hi = sweep.batch_bounds(b)
    values = {**sweep.parameters(lo, hi), **summaries(result)}
    if sweep.record == "spikes":
        values["n_recorded"] = np.diff(result.offsets)
    for name, dtype in PACKED.items():      # the batch's whole chunk of each
        arr = group[name]
        arr[:, lo:hi] = np.stack([values[q] for q in arr.attrs["quantities"]]).astype(dtype)
    for name, values in per_neuron(result, sweep.per_neuron, sweep.n_max).items():
        group[name][lo:hi, :] = values
    if sweep.record == "spikes":
        spikes = group["spikes"]
        chunk = 1 << 20
        for name, data in (("times", result.times), ("senders", result.senders)):
            data = np.ascontiguousarray(data)
            with _compact():
                spikes.create_array(f"{name}_{b:06d}", data=data,
                                    chunks=(max(1, min(chunk, data.size)),), overwrite=True,
                                    dimension_names=["spike"])
    group[MARKERS][b] = 1


def record_backends(path, used, finished=False):
    """Add the backends the workers used to the store's attributes (client only); with
    ``finished``, mark the store finished (``finish`` does, after rewriting its chunks)."""
    import zarr
    group = zarr.open_group(normalise(path), mode="r+")
    meta = _attrs(group)
    have = set(meta["backend"]["used"])
    if not set(used) <= have or (finished and not meta.get("finished")):
        meta["backend"]["used"] = sorted(have | set(used))
        if finished:
            meta["finished"] = True
        with _compact():
            group.attrs.update({"sparseprop": _stored(meta)})


def finish(path, used=()):
    """After every batch is committed: rewrite the small-chunked arrays into large chunks
    (crash-safe, see the module's docstring), record the backends ``used`` and mark the store
    finished. Does nothing to a finished store; completes a ``finish`` that was killed.
    Returns False (and changes nothing) if some batch is not committed."""
    import zarr
    path = normalise(path)
    group = zarr.open_group(path, mode="r+")
    meta = _attrs(group)
    if meta.get("finished"):
        if not set(used) <= set(meta["backend"]["used"]):
            record_backends(path, used)
        _drop_markers(group)                 # where a finish was killed before it did
        return True
    if not done_batches(path).all():
        return False
    for name, arr in group.arrays():
        if name != MARKERS:
            _rechunk(arr)
    record_backends(path, used, finished=True)
    _drop_markers(group)
    return True


def _drop_markers(group):
    """Delete the commit markers: in a finished store, ``finished`` says every batch is."""
    from zarr.core.sync import sync
    prefix = group.store_path.path
    sync(group.store_path.store.delete_dir(f"{prefix}/{MARKERS}" if prefix else MARKERS))


def _row_dim(name):
    """The quantity dimension of packed array ``name`` (one each: their lengths differ)."""
    return "quantity_" + name.rsplit("_", 1)[1]


def _packed(arr):
    return arr.metadata.dimension_names[0].startswith("quantity_")


def _final_chunks(arr):
    """The chunks ``arr`` gets in a finished store, or None if it keeps its own."""
    chunks = arr.chunks
    if _packed(arr):          # integers: all rows in one block; floats: a row a block
        height, m = arr.shape
        rows = height if arr.dtype.kind in "iu" else 1
        width = min(m, max(1, FINAL_CHUNK_BYTES // (rows * arr.dtype.itemsize)))
        if chunks[0] == rows and (chunks[1] == width or chunks[1] >= m):
            return None
        return (rows, width)
    inner = int(np.prod(chunks[1:], dtype=np.int64)) * arr.dtype.itemsize
    if chunks[0] >= arr.shape[0] or chunks[0] * inner >= SMALL_CHUNK_BYTES:
        return None
    rows = min(arr.shape[0], max(chunks[0], FINAL_CHUNK_BYTES // inner))
    return (rows, *chunks[1:])


def _rechunk(arr):
    """Rewrite ``arr`` in its final chunks: new chunks (v2 keys), new metadata, old chunks
    deleted; each step can be killed and the whole run again (see the module docstring)."""
    import zarr
    from zarr.core.sync import sync
    from zarr.storage import MemoryStore
    store, prefix = arr.store_path.store, arr.store_path.path + "/"
    if arr.metadata.chunk_key_encoding.name == "v2":      # rewritten: the old chunks may remain
        sync(store.delete_dir(prefix + "c"))
        return
    chunks = _final_chunks(arr)
    if chunks is None:
        return
    memory = MemoryStore()
    with _compact():
        new = zarr.create_array(memory, shape=arr.shape, chunks=chunks, dtype=arr.dtype,
                                fill_value=arr.fill_value, compressors=arr.compressors,
                                filters=arr.filters, serializer=arr.serializer,
                                chunk_key_encoding=V2_KEYS, attributes=dict(arr.attrs),
                                dimension_names=arr.metadata.dimension_names)
    metadata = sync(memory.get("zarr.json", _prototype()))
    sync(memory.delete("zarr.json"))

    async def move():          # the chunks of the rows written, from memory to the store
        keys = [key async for key in memory.list()]
        for key in keys:
            await store.set(prefix + key, await memory.get(key, _prototype()))
            await memory.delete(key)

    axis = 1 if _packed(arr) else 0           # along instances
    step = chunks[axis]
    for lo in range(0, arr.shape[axis], step):
        index = (slice(None),) * axis + (slice(lo, lo + step),)
        new[index] = arr[index]
        sync(move())
    sync(store.set(prefix + "zarr.json", metadata))    # now readers see the new chunks
    sync(store.delete_dir(prefix + "c"))


def _prototype():
    from zarr.core.buffer import default_buffer_prototype
    return default_buffer_prototype()


# ------------------------------------------------------------------------ reading
def open_results(path, partial=False):
    """The results of a sweep as an ``xarray.Dataset``.

    Dimensions ``instance`` (and ``neuron``, ``batch``); the parameters of every instance
    (n, k, seed, ic_seed, drive, coupling, j0, target_rate) are coordinates, so
    ``ds.rate_mean.groupby("j0").mean()`` works. Summaries: rate_mean, rate_std (Hz, across
    neurons), cv_isi_mean (over neurons with two or more intervals), spike_count,
    silent_fraction, t_stop; per-neuron arrays where the sweep asked for them. ``ds.sp``
    gives the spikes (``ds.sp.spikes(i)``, ``ds.sp.offsets``), the specification, and
    ``ds.sp.grid(name)``, a variable on the grid of swept parameters.

    Data are read lazily (with dask where it is installed). Raises ValueError if some
    batches are not complete, unless ``partial=True`` (then ``ds.done`` says which instances
    hold results; the others hold NaN, or -1 for integers).
    """
    import xarray as xr
    import zarr
    _accessor()
    path = normalise(path)
    try:
        meta = _attrs(zarr.open_group(path, mode="r"))
    except Exception:
        meta = None
    if not meta or meta.get("kind") != "sweep":
        raise ValueError(f"path: {path} is not a sparseprop sweep store")
    _check_format(meta, f"path: {path}")
    done = done_batches(path)
    if not partial and not done.all():
        raise ValueError(f"path: {path} is incomplete ({int(done.sum())} of {done.size} batches "
                         "done); finish it with `sparseprop sweep SPEC --out PATH --resume`, or "
                         "pass partial=True")
    ds = xr.open_zarr(path, consolidated=False, zarr_format=3, mask_and_scale=False,
                      chunks={} if _has_dask() else None)
    ds = _unpack(ds.drop_vars([MARKERS], errors="ignore"))
    params = [name for name in PARAMETERS if name in ds]
    values = {name: ds[name].values for name in params}          # small: in memory
    if not done.all():        # the parameters of the batches not run: from the specification
        from ..spec.sweep import Sweep
        given = Sweep.from_dict(_spec_to_dict(meta["spec"])).parameters()
        ran = done[np.arange(meta["instances"]) // meta["batch_size"]]
        values = {name: np.where(ran, value, given[name]) for name, value in values.items()}
    ds = ds.set_coords(params).assign_coords(
        {name: ("instance", value) for name, value in values.items()})
    ds[MARKERS] = ("batch", done.astype(np.uint8))
    order = [name for name in (*SUMMARIES, "n_recorded", *NEURON_DTYPES, MARKERS)
             if name in ds]
    ds = ds[order]
    batch_of = np.arange(meta["instances"]) // meta["batch_size"]
    ds = ds.assign_coords(done=("instance", done[batch_of]))
    ds.attrs["sparseprop_path"] = path
    ds.attrs["sparseprop"] = json.dumps(meta) if not isinstance(meta, str) else meta
    return ds


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


def _has_dask():
    try:
        import dask.array  # noqa: F401
        return True
    except ImportError:
        return False


def _register_accessor():
    import xarray as xr

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")

        @xr.register_dataset_accessor("sp")
        class SweepAccessor:
            """``ds.sp``: spikes, specification and grids of a sweep opened by open_results."""

            def __init__(self, ds):
                self._ds = ds

            @property
            def meta(self):
                meta = self._ds.attrs.get("sparseprop")
                if meta is None:
                    raise ValueError("this Dataset was not opened by sp.open_results")
                return json.loads(meta) if isinstance(meta, str) else meta

            @property
            def spec(self):
                """The sweep's full specification (network, sweep, run)."""
                return self.meta["spec"]

            def sweep(self):
                """The specification as a ``sp.Sweep``."""
                from ..spec.sweep import Sweep
                return Sweep.from_dict(_spec_to_dict(self.spec))

            def _group(self):
                import zarr
                return zarr.open_group(self._ds.attrs["sparseprop_path"], mode="r")

            @property
            def offsets(self):
                """(instance + 1,) int64: instance i's spikes are at offsets[i]:offsets[i+1]."""
                self._need_spikes()
                counts = np.asarray(self._ds["n_recorded"].values, np.int64)
                return np.concatenate([[0], np.cumsum(np.maximum(counts, 0))])

            def _need_spikes(self):
                if self.meta["record"] != "spikes":
                    raise ValueError("this sweep kept no spikes: run it with "
                                     "[run] record = \"spikes\"")

            def _batch(self, b):
                spikes = self._group()["spikes"]
                return spikes[f"times_{b:06d}"][:], spikes[f"senders_{b:06d}"][:]

            def spikes(self, i):
                """(times, senders) of instance ``i``: spike times (s) and neuron indices."""
                self._need_spikes()
                meta = self.meta
                i = int(i)
                if not 0 <= i < meta["instances"]:
                    raise IndexError(f"instance {i} out of range [0, {meta['instances']})")
                b = i // meta["batch_size"]
                lo = b * meta["batch_size"]
                counts = np.asarray(self._ds["n_recorded"].values[lo:i + 1], np.int64)
                if counts[-1] < 0:
                    raise ValueError(f"instance {i} has no results yet (batch {b} is not done)")
                start = int(counts[:-1].sum())
                spikes = self._group()["spikes"]
                stop = start + int(counts[-1])
                return (spikes[f"times_{b:06d}"][start:stop],
                        spikes[f"senders_{b:06d}"][start:stop])

            @property
            def times(self):
                """All spike times, flat (instance i at offsets[i]:offsets[i+1])."""
                self._need_spikes()
                return np.concatenate([self._batch(b)[0] for b in range(self.meta["batches"])])

            @property
            def senders(self):
                """All senders, flat, in the order of ``times``."""
                self._need_spikes()
                return np.concatenate([self._batch(b)[1] for b in range(self.meta["batches"])])

            def grid(self, name):
                """Variable ``name`` on the grid of swept parameters (dims: the swept keys;
                a per-neuron variable keeps its neuron dimension)."""
                meta = self.meta
                if meta["mode"] != "grid" or not meta["swept"]:
                    raise ValueError("grid() needs a sweep with mode = 'grid' and swept keys")
                var = self._ds[name]
                shape = tuple(meta["shape"])
                dims = tuple(meta["swept"]) + var.dims[1:]
                data = np.asarray(var.values).reshape(shape + var.shape[1:])
                sweep = self.sweep()
                coords = {key: axis for key, axis in sweep.axes.items()}
                return xr.DataArray(data, dims=dims, coords=coords, name=name, attrs=var.attrs)

        return SweepAccessor


def _spec_to_dict(spec):
    values = spec["sweep"]["values"]
    sweep = {name: values[name] for name in spec["sweep"]["order"]}
    sweep["mode"] = spec["sweep"]["mode"]
    return {"network": spec["network"], "sweep": sweep, "run": spec["run"]}


_ACCESSOR = []


def _accessor():
    """Register ``ds.sp`` (once), when the first store is opened: not at import, so that the
    workers, which only write, do not import xarray and pandas (a quarter of a second)."""
    if not _ACCESSOR:
        _ACCESSOR.append(_register_accessor())
