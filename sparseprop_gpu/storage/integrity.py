"""What each batch wrote, and checking a store against it (docs/design.md §4.5).

A batch's worker writes, after its data and before its commit marker, the manifest
``batch_done/manifest/<b>.json`` (beside the markers, not a Zarr node): for every object it
wrote (each chunk and each spike array's metadata) its size, CRC-32 and instance range, and
the backend that ran it (so that a store finished by another run names it too).
``finish`` gathers them, with what its rewrite wrote, into the store's manifest (the root
attribute ``sparseprop.manifest``, written with ``finished``) and drops the batch manifests
with the markers. Sizes are checked by listing (cheap: ``open_results`` always does),
checksums by reading every object (``verify="full"``, and ``--resume``).
"""
import itertools

from .layout import MARKERS, PACKED, stored_arrays
from .metadata import attributes, done_batches
from .objects import checksum, get, get_json, put_json, sizes, store_at
from .spikes import batch_key

MANIFEST = "manifest"
VERIFY = ("sizes", "full")
"""The allowed values of ``verify``: sizes against the manifests, or checksums too."""


def batch_manifest(b):
    """The key of batch ``b``'s manifest."""
    return f"{MARKERS}/{MANIFEST}/{b:06d}.json"


class Problem:
    """One damaged object: the array, its instances [lo, hi), what is wrong, and its key
    (None: the array's metadata; "manifest": a manifest)."""

    def __init__(self, array, lo, hi, what, key=None):
        self.array, self.lo, self.hi, self.what, self.key = array, lo, hi, what, key

    def batches(self, batch_size):
        return range(self.lo // batch_size, (self.hi - 1) // batch_size + 1)

    def describe(self, sweep):
        batches = self.batches(sweep.batch_size)
        where = sweep.describe_batch(batches[0]) if len(batches) == 1 else \
            f"batches {batches[0]}..{batches[-1]} (instances {self.lo}..{self.hi - 1})"
        return f"array {self.array}, {where}: {self.what}"


def _coords(relative):
    """The chunk coordinates of a chunk key relative to its array (either encoding)."""
    return tuple(int(i) for i in relative.removeprefix("c/").replace(".", "/").split("/"))


def _axis(arr):
    return arr.metadata.dimension_names.index("instance")


def _record(store, array, keys):
    """{relative key: [size, crc32, lo, hi]} of the ``keys`` (relative key: (lo, hi)) that
    are there (a chunk all fill value is not written)."""
    out = {}
    for relative, (lo, hi) in keys.items():
        data = get(store, f"{array}/{relative}")
        if data is not None:
            out[relative] = [len(data), checksum(data), int(lo), int(hi)]
    return out


def write_batch_manifest(path, group, sweep, b, backend):
    """Write the manifest of batch ``b`` (its data is written, by ``backend``): every chunk of
    its instances in every (instance, ...) array of the store's root, and its spike arrays
    whole."""
    lo, hi = sweep.batch_bounds(b)
    manifest = {}
    store = store_at(path)
    for name, arr in sorted(group.arrays(), key=lambda item: item[0]):
        if "instance" not in arr.metadata.dimension_names:     # the markers
            continue
        axis, step = _axis(arr), arr.chunks[_axis(arr)]
        ranges = [range(n) for n in arr.cdata_shape]
        ranges[axis] = range(lo // step, (hi - 1) // step + 1)
        manifest[name] = _record(store, name, {arr.metadata.encode_chunk_key(c): (lo, hi)
                                               for c in itertools.product(*ranges)})
    if sweep.record == "spikes":
        for kind in ("times", "senders"):
            name = batch_key(kind, b)
            arr = group[name]
            keys = {arr.metadata.encode_chunk_key(c): (lo, hi)
                    for c in itertools.product(*(range(n) for n in arr.cdata_shape))}
            manifest[name] = _record(store, name, {"zarr.json": (lo, hi), **keys})
    put_json(store, batch_manifest(b), {"backend": backend, "arrays": manifest})


def store_manifest(path, group, sweep):
    """(manifest, backends) of a store whose arrays ``finish`` rewrote: their objects read
    back, and the spike arrays of the batch manifests; the backends that ran its batches."""
    store = store_at(path)
    manifest = {}
    for name, arr in group.arrays():
        if name == MARKERS:
            continue
        axis, step, m = _axis(arr), arr.chunks[_axis(arr)], arr.shape[_axis(arr)]
        keys = {}
        for key in sorted(_listed(store, f"{name}/")):
            relative = key[len(name) + 1:]
            if relative == "zarr.json":
                keys[relative] = (0, m)
                continue
            try:
                first = _coords(relative)[axis] * step
            except (ValueError, IndexError):          # not a chunk (a writer's leftover)
                continue
            keys[relative] = (first, min(m, first + step))
        manifest[name] = _record(store, name, keys)
    backends = set()
    for b in range(sweep.n_batches):
        batch = get_json(store, batch_manifest(b))
        backends.add(batch["backend"])
        manifest.update({name: keys for name, keys in batch["arrays"].items()
                         if name.startswith("spikes/")})
    return dict(sorted(manifest.items())), backends   # the same bytes however it was listed


def _listed(store, prefix):
    from zarr.core.sync import sync

    async def every():
        return [key async for key in store.list_prefix(prefix)]
    return sync(every())


def verify(path, full=False):
    """The damaged objects of the sweep store at ``path``.

    Checks that every array's metadata is there and that every object the manifests of the
    committed batches (or the finished store's manifest) name is there with its size; with
    ``full``, also its checksum.

    Returns
    -------
    list of Problem
    """
    import zarr
    group = zarr.open_group(path, mode="r")
    meta = attributes(group)
    store, m = store_at(path), meta["instances"]
    problems, manifest = [], {}
    names = [*PACKED, *stored_arrays(meta), *(() if meta.get("finished") else (MARKERS,))]
    rewritten = set()                     # by a finish under way: its batch entries are old
    for name in names:
        try:
            arr = group[name]
        except Exception:                 # missing or unreadable
            problems.append(Problem(name, 0, m, "its metadata (zarr.json) is missing or "
                                              "unreadable"))
            continue
        if not meta.get("finished") and arr.metadata.chunk_key_encoding.name == "v2":
            rewritten.add(name)
    if meta.get("finished"):
        manifest = meta.get(MANIFEST)
        if not isinstance(manifest, dict):
            return problems + [Problem(MANIFEST, 0, m, "the store's manifest (the attribute "
                                       "sparseprop.manifest) is missing", key=MANIFEST)]
    else:
        done = done_batches(path)
        for b in (b for b in range(meta["batches"]) if done[b]):
            batch = get_json(store, batch_manifest(b))
            if not isinstance(batch, dict) or not isinstance(batch.get("arrays"), dict):
                lo, hi = b * meta["batch_size"], min(m, (b + 1) * meta["batch_size"])
                problems.append(Problem(MANIFEST, lo, hi, f"its manifest ({batch_manifest(b)}) "
                                        "is missing or unreadable", key=MANIFEST))
                continue
            for name, keys in batch["arrays"].items():
                if name not in rewritten:
                    manifest.setdefault(name, {}).update(keys)
    listed = sizes(store, [f"{name}/{key}" for name, keys in manifest.items() for key in keys])
    for name, keys in manifest.items():
        for key, (size, crc, lo, hi) in keys.items():
            found = listed[f"{name}/{key}"]
            if found is None:
                what = f"{key} is missing"
            elif found != size:
                what = f"{key} has {found} bytes; {size} were written"
            elif full and checksum(get(store, f"{name}/{key}")) != crc:
                what = f"{key} does not match its checksum (its bytes changed)"
            else:
                continue
            problems.append(Problem(name, lo, hi, what, key=f"{name}/{key}"))
    return problems


def message(path, problems, sweep, advice):
    """The ValueError text for the ``problems`` of the store at ``path``."""
    shown = [f"  {p.describe(sweep)}" for p in problems[:20]]
    more = [f"  ... and {len(problems) - 20} more"] if len(problems) > 20 else []
    return "\n".join([f"path: {path} is damaged ({len(problems)} damaged objects); {advice}:",
                      *shown, *more])
