"""Raw objects of a store by key (the lock, the manifests): bytes read and written through
Zarr's store API, so that a local path and an fsspec URL work alike."""
import asyncio
import json
import zlib

from .location import is_url, normalise


def store_at(path):
    """A Zarr store rooted at the folder or URL ``path`` (writable)."""
    from zarr.storage import FsspecStore, LocalStore
    path = normalise(path)
    return FsspecStore.from_url(path, read_only=False) if is_url(path) else LocalStore(path)


def _run(coroutine):
    from zarr.core.sync import sync
    return sync(coroutine)


def get(store, key):
    """The bytes at ``key``, or None if there is nothing there."""
    from zarr.core.buffer import default_buffer_prototype
    found = _run(store.get(key, default_buffer_prototype()))
    return None if found is None else found.to_bytes()


def put(store, key, data, new=False):
    """Write ``data`` (bytes) at ``key`` (replacing it at once where the store can; with
    ``new``, only if nothing is there: atomic on a local path, not on most URLs)."""
    from zarr.core.buffer import default_buffer_prototype
    buffer = default_buffer_prototype().buffer.from_bytes(data)
    _run(store.set_if_not_exists(key, buffer) if new else store.set(key, buffer))


def delete(store, key):
    """Delete ``key`` if it is there."""
    _run(store.delete(key))


def sizes(store, keys):
    """{key: its size in bytes, or None where it is missing}."""
    async def one(key):
        try:
            return await store.getsize(key)
        except (FileNotFoundError, KeyError):
            return None

    async def every():
        return await asyncio.gather(*(one(key) for key in keys))
    return dict(zip(keys, _run(every())))


def get_json(store, key):
    """The JSON object at ``key``; None if missing or unreadable (damaged)."""
    data = get(store, key)
    try:
        return None if data is None else json.loads(data)
    except ValueError:
        return None


def put_json(store, key, value, new=False):
    put(store, key, json.dumps(value, separators=(",", ":")).encode(), new=new)


def checksum(data):
    """The CRC-32 of ``data`` (bytes): what a manifest keeps of every object."""
    return zlib.crc32(data)
