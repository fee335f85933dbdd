"""Writing a sweep store: checked against the sweep, created by the client, filled batch by
batch by the workers (each batch's data first, then its manifest, its commit marker last),
only while the store's run token is their sweep's."""
import json
import os
import shutil
from pathlib import Path

import numpy as np

from .._version import __version__
from ..config import NEURON_CHUNK_BYTES
from ..runs.summaries import NEURON_DTYPES, missing, per_neuron, summaries
from ..specification.sweep_sections import first_difference
from .integrity import write_batch_manifest
from .layout import FORMAT, MARKERS, PACKED, STATE_ARRAYS, compact, layout, row_dim
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


def create(path, sweep, token=None):
    """Create the (empty) store of ``sweep`` at ``path``: every array, no chunk; the
    attributes (with the run ``token``) are marked ready last. Returns all its batches."""
    import zarr
    meta = {"kind": "sweep", "format": FORMAT, "ready": False,
            "spec": json.loads(sweep.to_json()), "version": __version__,
            "backend": {"requested": sweep.spec["run"]["backend"], "used": []},
            **({"token": token} if token else {})}
    with compact():      # the root's metadata and attributes in one write: always ours
        group = zarr.open_group(normalise(path), mode="w", zarr_format=3,
                                attributes={"sparseprop": meta})
        create_arrays(group, sweep)
        group.attrs.update({"sparseprop": stored({**meta, "ready": True})})
    return list(range(sweep.n_batches))


def create_arrays(group, sweep):
    m, bs = sweep.size, sweep.batch_size
    for name, quantities in layout(sweep.parameters(0, 1), sweep.record,
                                   sweep.population_names).items():
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
    for name, dim in (STATE_ARRAYS.items() if sweep.keeps_state else ()):
        width = 2 if dim == "clock" else sweep.n_max
        group.create_array(name, shape=(m, width), chunks=(bs, min(width, neuron_chunk)),
                           dtype=np.float64, fill_value=np.nan,
                           dimension_names=["instance", dim])
    if sweep.record == "spikes":
        group.create_group("spikes")
    group.create_array(MARKERS, shape=(sweep.n_batches,), chunks=(1,), dtype=np.uint8,
                       fill_value=0, compressors=None, dimension_names=["batch"])


def write_batch(path, sweep, b, result, token=None):
    """Write batch ``b``'s result (an EnsembleResult) into its chunks, its manifest, then its
    commit marker (last); in a finished store (a repair, by the client alone), its data only.

    Each step is taken only while the store's run token is ``token`` (the one this batch's
    sweep wrote): checked before the data and again before the marker, so that a batch of a
    sweep whose store another sweep took over is never committed (ValueError)."""
    import zarr
    path = normalise(path)
    finished = check_token(path, token, sweep.describe_batch(b))
    group = zarr.open_group(path, mode="r+")
    lo, hi = sweep.batch_bounds(b)
    values = {**sweep.parameters(lo, hi), **summaries(result)}
    if sweep.record == "spikes":
        values["n_recorded"] = np.diff(result.offsets)
    for name, dtype in PACKED.items():      # the batch's whole chunk of each
        arr = group[name]
        arr[:, lo:hi] = np.stack([values[q] for q in arr.attrs["quantities"]]).astype(dtype)
    for name, data in per_neuron(result, sweep.per_neuron, sweep.n_max).items():
        group[name][lo:hi, :] = data
    for name, data in (result.state.items() if sweep.keeps_state else ()):
        group[f"state_{name}"][lo:hi, :data.shape[1]] = data
    if sweep.record == "spikes":
        spikes = group["spikes"]
        chunk = 1 << 20
        for name, data in (("times", result.times), ("senders", result.senders)):
            data = np.ascontiguousarray(data)
            with compact():
                spikes.create_array(f"{name}_{b:06d}", data=data,
                                    chunks=(max(1, min(chunk, data.size)),), overwrite=True,
                                    dimension_names=["spike"])
    if finished:
        return
    write_batch_manifest(path, group, sweep, b, result.meta["backend"])
    check_token(path, token, sweep.describe_batch(b))
    group[MARKERS][b] = 1


def check_token(path, token, what):
    """Whether the store at ``path`` is finished; ValueError unless its run token is
    ``token`` (``what`` is then not written)."""
    import zarr
    try:
        meta = dict(zarr.open_group(path, mode="r").attrs).get("sparseprop") or {}
    except Exception:                         # removed or replaced meanwhile
        meta = {}
    if meta.get("token") != token:
        raise ValueError(f"out: {path} is no longer this sweep's store (its run token is "
                         f"{meta.get('token')}, this sweep's {token}: another sweep took it "
                         f"over, or this one stopped); {what} was not written")
    return bool(meta.get("finished"))


def claim(path, token):
    """Write the run ``token`` into the store's attributes: from now on only the batches of
    the sweep holding the lock (with this token) write into it."""
    _set_token(_group(path), token)


def unclaim(path, token):
    """Remove the run token from the store's attributes if it is still ``token`` (the store of
    another run, or what is not a store, is left alone)."""
    try:
        group = _group(path)
        mine = dict(group.attrs)["sparseprop"].get("token") == token
    except Exception:
        return
    if mine:
        _set_token(group, None)


def _group(path):
    """The root group of the store at ``path``, writable."""
    import zarr
    return zarr.open_group(normalise(path), mode="r+")


def _set_token(group, token):
    """Write ``token`` (None: none) into the attributes of the root ``group``."""
    meta = {key: value for key, value in dict(group.attrs)["sparseprop"].items()
            if key != "token"}
    with compact():
        group.attrs.update({"sparseprop": {**meta, **({"token": token} if token else {})}})


def uncommit(path, batches):
    """Clear the commit markers of ``batches`` (damaged: they are run again)."""
    markers = _group(path)[MARKERS]
    for b in batches:
        markers[b] = 0


def record_backends(path, used, manifest=None):
    """Add the backends the workers used to the store's attributes (client only); with the
    store's ``manifest``, mark it finished (``finish`` does, after rewriting its chunks)."""
    import zarr
    group = zarr.open_group(normalise(path), mode="r+")
    meta = attributes(group)
    have = set(meta["backend"]["used"])
    if not set(used) <= have or (manifest is not None and not meta.get("finished")):
        meta["backend"]["used"] = sorted(have | set(used))
        if manifest is not None:
            meta.update(finished=True, manifest=manifest)
            meta.pop("token", None)             # a finished store is no run's
        with compact():
            group.attrs.update({"sparseprop": stored(meta)})
