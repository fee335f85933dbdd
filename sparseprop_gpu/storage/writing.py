"""Writing a sweep store: checked against the sweep, created by the client, filled batch by
batch by the workers (each batch's data first, its commit marker last)."""
import json
import os
import shutil
from pathlib import Path

import numpy as np

from .._version import __version__
from ..config import NEURON_CHUNK_BYTES
from ..runs.summaries import NEURON_DTYPES, missing, per_neuron, summaries
from ..specification.sweep_sections import first_difference
from .layout import FORMAT, MARKERS, PACKED, compact, layout, row_dim
from .location import exists, is_url, normalise
from .metadata import attributes, check_format, done_batches, stored


def prepare(path, sweep, resume=False, overwrite=False):
    """Create the store of ``sweep`` at ``path``, or check the one there.

    Returns
    -------
    list of int
        The batches still to run: all of them for a new store, none for a finished one.

    Raises
    ------
    ValueError
        When ``path`` holds something else, a different sweep, or an unfinished run of this
        sweep without ``resume``.
    """
    todo = plan(path, sweep, resume=resume, overwrite=overwrite)
    return create(path, sweep) if todo is None else todo


def plan(path, sweep, resume=False, overwrite=False):
    """Check what ``path`` holds against ``sweep`` (reading only, except with ``overwrite``).

    Returns the batches still to run of the store there, or None when the store must be
    created (``create``). Raises ValueError as ``prepare`` does."""
    import zarr
    path = normalise(path)
    if exists(path):
        try:
            meta = attributes(zarr.open_group(path, mode="r"))
        except Exception:
            meta = None
        if meta is None or meta.get("kind") != "sweep":   # never deleted, even with overwrite
            raise ValueError(f"out: {path} exists and is not a sparseprop sweep store; "
                             "choose another path")
        if overwrite:
            _remove(path)
    if exists(path) and meta.get("ready"):
        # (not ready: killed during creation, before anything was computed; created again)
        check_format(meta, f"out: {path}")
        _check_same(path, meta["spec"], json.loads(sweep.to_json()))
        if meta.get("finished"):
            return []
        done = done_batches(path)
        todo = [b for b in range(sweep.n_batches) if not done[b]]
        if todo and not resume and done.any():
            raise ValueError(f"out: {path} holds an unfinished run of this sweep "
                             f"({int(done.sum())} of {sweep.n_batches} batches complete); "
                             "add --resume (resume=True) to run the missing batches, or "
                             "--overwrite to start again")
        if not is_url(path):
            _clean_partials(path)
        return todo
    return None


def _check_same(path, theirs, ours):
    """Raise ValueError naming the first key where the stored specification differs."""
    if theirs != ours:
        key = first_difference(theirs, ours)
        shown = key.replace("sweep.values.", "sweep.")
        raise ValueError(f"out: {path} holds a different sweep ({shown} is "
                         f"{_lookup(theirs, key)!r} there, {_lookup(ours, key)!r} here); "
                         "choose another --out, or --overwrite it")


def _lookup(spec, key):
    value = spec
    for part in key.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def _remove(path):
    if is_url(path):
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


def create(path, sweep):
    """Create the (empty) store of ``sweep`` at ``path``: every array, no chunk; the
    attributes are marked ready last. Returns all its batches."""
    import zarr
    with compact():
        group = zarr.open_group(normalise(path), mode="w", zarr_format=3)
        meta = {"kind": "sweep", "format": FORMAT, "ready": False,
                "spec": json.loads(sweep.to_json()), "version": __version__,
                "backend": {"requested": sweep.spec["run"]["backend"], "used": []}}
        group.attrs.update({"sparseprop": meta})
        _create_arrays(group, sweep)
        group.attrs.update({"sparseprop": stored({**meta, "ready": True})})
    return list(range(sweep.n_batches))


def _create_arrays(group, sweep):
    m, bs = sweep.size, sweep.batch_size
    for name, quantities in layout(sweep.parameters(0, 1), sweep.record).items():
        dtype = PACKED[name]
        group.create_array(name, shape=(len(quantities), m), chunks=(len(quantities), bs),
                           dtype=dtype, fill_value=missing(dtype),
                           dimension_names=[row_dim(name), "instance"],
                           attributes={"quantities": quantities})
    neuron_chunk = max(1, min(sweep.n_max, NEURON_CHUNK_BYTES // (8 * bs)))
    for name in sweep.per_neuron:
        dtype = NEURON_DTYPES[name]
        group.create_array(name, shape=(m, sweep.n_max), chunks=(bs, neuron_chunk), dtype=dtype,
                           fill_value=missing(dtype), dimension_names=["instance", "neuron"])
    if sweep.record == "spikes":
        group.create_group("spikes")
    group.create_array(MARKERS, shape=(sweep.n_batches,), chunks=(1,), dtype=np.uint8,
                       fill_value=0, compressors=None, dimension_names=["batch"])


def write_batch(path, sweep, b, result):
    """Write batch ``b``'s result (an EnsembleResult) into its chunks, then its commit marker
    (last)."""
    import zarr
    group = zarr.open_group(normalise(path), mode="r+")
    lo, hi = sweep.batch_bounds(b)
    values = {**sweep.parameters(lo, hi), **summaries(result)}
    if sweep.record == "spikes":
        values["n_recorded"] = np.diff(result.offsets)
    for name, dtype in PACKED.items():      # the batch's whole chunk of each
        arr = group[name]
        arr[:, lo:hi] = np.stack([values[q] for q in arr.attrs["quantities"]]).astype(dtype)
    for name, data in per_neuron(result, sweep.per_neuron, sweep.n_max).items():
        group[name][lo:hi, :] = data
    if sweep.record == "spikes":
        spikes = group["spikes"]
        chunk = 1 << 20
        for name, data in (("times", result.times), ("senders", result.senders)):
            data = np.ascontiguousarray(data)
            with compact():
                spikes.create_array(f"{name}_{b:06d}", data=data,
                                    chunks=(max(1, min(chunk, data.size)),), overwrite=True,
                                    dimension_names=["spike"])
    group[MARKERS][b] = 1


def record_backends(path, used, finished=False):
    """Add the backends the workers used to the store's attributes (client only); with
    ``finished``, mark the store finished (``finish`` does, after rewriting its chunks)."""
    import zarr
    group = zarr.open_group(normalise(path), mode="r+")
    meta = attributes(group)
    have = set(meta["backend"]["used"])
    if not set(used) <= have or (finished and not meta.get("finished")):
        meta["backend"]["used"] = sorted(have | set(used))
        if finished:
            meta["finished"] = True
        with compact():
            group.attrs.update({"sparseprop": stored(meta)})
