"""A store's ``sparseprop`` attributes: what the root ``zarr.json`` keeps, what is derived.

The sizes (instances, batches, shape, ...) are not stored: they are derived from the stored
specification, through the ``Sweep`` it describes.
"""

import numpy as np

from .._version import __version__
from ..specification.sweep import Sweep
from ..specification.sweep_sections import RUN_KEYS, network_keys
from .layout import FORMAT, MARKERS
from .location import normalise

STORED = ("kind", "format", "ready", "spec", "version", "backend", "finished", "token",
          "manifest")


def metadata(path):
    """The attributes of the sweep store at ``path``.

    Returns
    -------
    dict
        kind, format, spec, version, backend, ready, finished, and the sizes derived from the
        specification (instances, batch_size, batches, neurons, swept, mode, shape, record,
        per_neuron).
    """
    import zarr
    return attributes(zarr.open_group(normalise(path), mode="r"))


def attributes(group):
    """The ``sparseprop`` attributes of the Zarr group ``group``, expanded (``expanded``);
    a store of another format's, or an unfinished creation's, as they are."""
    meta = dict(group.attrs).get("sparseprop")
    if isinstance(meta, dict) and meta.get("kind") == "sweep" and meta.get("format") == FORMAT \
            and meta.get("ready"):
        return expanded(meta)
    return meta


def stored(meta):
    """What the root ``zarr.json`` keeps of ``meta``: no key that the specification gives
    (sizes, swept keys, mode, record), and the specification without its unset (null) keys."""
    out = {key: meta[key] for key in STORED if key in meta}
    spec = out.get("spec")
    if isinstance(spec, dict) and meta.get("ready"):
        out["spec"] = {**spec, **{section: {k: v for k, v in spec[section].items()
                                            if v is not None}
                                  for section in ("network", "run")}}
    return out


def expanded(meta):
    """The inverse of ``stored``: the specification's null keys back, and the sizes."""
    given = meta["spec"]
    spec = {"network": {key: given["network"].get(key) for key in network_keys(given["network"])},
            "sweep": given["sweep"],
            "run": {key: given["run"].get(key) for key in RUN_KEYS}}
    sweep = Sweep.from_spec(spec)
    run = spec["run"]
    return {**meta, "spec": spec, "instances": sweep.size, "batch_size": sweep.batch_size,
            "batches": sweep.n_batches, "neurons": sweep.n_max,
            "swept": list(spec["sweep"]["order"]), "mode": spec["sweep"]["mode"],
            "shape": list(sweep.shape), "record": run["record"],
            "per_neuron": list(run["per_neuron"]), "state": bool(run.get("state"))}


def check_format(meta, where):
    """Raise ValueError, naming the format and the version that wrote it, unless ``meta``
    is of this version's format."""
    if meta.get("format") != FORMAT:
        raise ValueError(f"{where} is a sweep store of format {meta.get('format')} (written by "
                         f"sparseprop-gpu {meta.get('version', '?')}); this version "
                         f"({__version__}) reads format {FORMAT} only: read it with the version "
                         "that wrote it, or run the sweep again into a new store "
                         "(--overwrite replaces it)")


def done_batches(path):
    """(n_batches,) bool: which batches are committed (all, in a finished store, which
    keeps no markers)."""
    import zarr
    group = zarr.open_group(normalise(path), mode="r")
    meta = attributes(group)
    if not meta.get("finished"):
        try:
            return group[MARKERS][:] == 1
        except KeyError:                   # finished (and the markers dropped) meanwhile
            meta = attributes(zarr.open_group(normalise(path), mode="r"))
    return np.ones(meta["batches"], bool)
