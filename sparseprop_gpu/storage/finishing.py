"""Finishing a sweep store: each array the workers wrote in small chunks rewritten in its
final chunks, crash-safely (a killed ``finish`` is completed by running it again), and the
finished store's manifest written."""
import numpy as np

from ..config import FINAL_CHUNK_BYTES, SMALL_CHUNK_BYTES
from ..specification.sweep import Sweep
from .integrity import message, store_manifest, verify
from .layout import MARKERS, compact, is_packed
from .location import normalise
from .metadata import attributes, done_batches
from .writing import create_arrays, record_backends

V2_KEYS = {"name": "v2", "configuration": {"separator": "."}}


def finish(path, used=()):
    """Finish the store at ``path`` once every batch is committed.

    Checks the committed batches against their manifests (ValueError if damaged), rewrites
    the small-chunked arrays into large chunks (crash-safe), records the backends ``used``
    and those the batch manifests name, marks the store finished with its manifest (one
    write), and deletes the commit markers and the batch manifests. Does nothing to a
    finished store; completes a ``finish`` that was killed.

    Returns
    -------
    bool
        False (and nothing changed) if some batch is not committed.
    """
    import zarr
    path = normalise(path)
    group = zarr.open_group(path, mode="r+")
    meta = attributes(group)
    if meta.get("finished"):
        if not set(used) <= set(meta["backend"]["used"]):
            record_backends(path, used)
        _drop_markers(group)                 # where a finish was killed before it did
        return True
    if not done_batches(path).all():
        return False
    problems = verify(path)
    if problems:
        raise ValueError(message(path, problems, Sweep.from_spec(meta["spec"]),
                                 "run the sweep again with --resume to repair it"))
    for name, arr in group.arrays():
        if name != MARKERS:
            _rechunk(arr)
    manifest, ran = store_manifest(path, group, Sweep.from_spec(meta["spec"]))
    record_backends(path, set(used) | ran, manifest=manifest)
    _drop_markers(group)
    return True


def _drop_markers(group):
    """Delete the commit markers and the batch manifests beside them: in a finished store,
    ``finished`` says every batch is committed, and its manifest holds what they wrote."""
    from zarr.core.sync import sync
    prefix = group.store_path.path
    sync(group.store_path.store.delete_dir(f"{prefix}/{MARKERS}" if prefix else MARKERS))


def expected_metadata(sweep, name, finished):
    """The bytes of array ``name``'s ``zarr.json`` in the store of ``sweep`` (in its final
    chunks if ``finished``), as creating and finishing it write them: a missing one is
    written again from these."""
    import zarr
    from zarr.core.sync import sync
    from zarr.storage import MemoryStore
    memory = MemoryStore()
    with compact():
        create_arrays(zarr.open_group(memory, mode="w", zarr_format=3), sweep)
    arr = zarr.open_group(memory, mode="r")[name]
    chunks = _final_chunks(arr) if finished else None
    if chunks is None:
        return sync(memory.get(f"{name}/zarr.json", _prototype())).to_bytes()
    _, final = _in_memory(arr, chunks)
    return sync(final.get("zarr.json", _prototype())).to_bytes()


def _final_chunks(arr):
    """The chunks ``arr`` gets in a finished store, or None if it keeps its own."""
    chunks = arr.chunks
    if is_packed(arr):          # integers: all rows in one block; floats: a row a block
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
    """Rewrite ``arr`` in its final chunks: new chunks (v2 keys), new metadata (an atomic
    replacement), old chunks deleted; killed at any step, the whole is run again."""
    from zarr.core.sync import sync
    store, prefix = arr.store_path.store, arr.store_path.path + "/"
    if arr.metadata.chunk_key_encoding.name == "v2":      # rewritten: the old chunks may remain
        sync(store.delete_dir(prefix + "c"))
        return
    chunks = _final_chunks(arr)
    if chunks is None:
        return
    new, memory = _in_memory(arr, chunks)
    metadata = sync(memory.get("zarr.json", _prototype()))
    sync(memory.delete("zarr.json"))

    async def move():          # the chunks of the rows written, from memory to the store
        keys = [key async for key in memory.list()]
        for key in keys:
            await store.set(prefix + key, await memory.get(key, _prototype()))
            await memory.delete(key)

    axis = 1 if is_packed(arr) else 0           # along instances
    step = chunks[axis]
    for lo in range(0, arr.shape[axis], step):
        index = (slice(None),) * axis + (slice(lo, lo + step),)
        new[index] = arr[index]
        sync(move())
    sync(store.set(prefix + "zarr.json", metadata))    # now readers see the new chunks
    sync(store.delete_dir(prefix + "c"))


def _in_memory(arr, chunks):
    """(array, its MemoryStore): an empty copy of ``arr`` with ``chunks`` and v2 keys."""
    import zarr
    from zarr.storage import MemoryStore
    memory = MemoryStore()
    with compact():
        new = zarr.create_array(memory, shape=arr.shape, chunks=chunks, dtype=arr.dtype,
                                fill_value=arr.fill_value, compressors=arr.compressors,
                                filters=arr.filters, serializer=arr.serializer,
                                chunk_key_encoding=V2_KEYS, attributes=dict(arr.attrs),
                                dimension_names=arr.metadata.dimension_names)
    return new, memory


def _prototype():
    from zarr.core.buffer import default_buffer_prototype
    return default_buffer_prototype()
