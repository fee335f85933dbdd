"""Record files: named arrays and JSON attributes in .npz or .zarr. ``SpikeRecord.save`` and
``load`` use them.

Nothing the project did not write is ever removed or replaced: an existing path is refused
unless ``overwrite`` is given and the path holds a record of ours. A file is written under a
temporary name beside its destination and moved into place only once complete; a record it
replaces is moved aside first and removed last, so a failure or a kill at any point leaves
the old record (or the new one) whole, never a mix.

Each array's dtype, shape and CRC-32 are written with it (the attribute ``checksums``) and
checked when it is loaded: a damaged record is a ValueError naming the array.
"""
import json
import os
import shutil
import uuid
import zlib
from pathlib import Path

import numpy as np

FORMATS = (".npz", ".zarr")
KIND = "sparseprop-record"
"""The ``kind`` attribute of every record file written since 0.2."""


def check_path(path):
    """Return ``path`` as a Path after checking its suffix names a known format."""
    path = Path(path)
    if path.suffix not in FORMATS:
        raise ValueError(f"out must end in {' or '.join(FORMATS)}; got {str(path)!r}")
    return path


def check_destination(path, overwrite=False):
    """Check, before anything is computed, that a record can be written to ``path``: a known
    suffix, an existing writable folder, and nothing there (or, with ``overwrite``, a record
    of ours). Returns ``path`` as a Path."""
    path = check_path(path)
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise ValueError(f"out: the folder {str(folder)!r} does not exist; create it first")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise ValueError(f"out: the folder {str(folder)!r} is not writable")
    if os.path.lexists(path):
        if not overwrite:
            raise ValueError(f"out: {str(path)!r} exists; choose another path, or pass "
                             "overwrite=True (--overwrite) to replace a record written by "
                             "sparseprop")
        if not is_record(path):
            raise ValueError(f"out: {str(path)!r} exists and is not a sparseprop record; it is "
                             "never replaced, even with overwrite: choose another path")
    return path


def is_record(path):
    """Whether ``path`` holds a record file of ours (any version)."""
    path = Path(path)
    try:
        if path.suffix == ".npz" and path.is_file():
            with np.load(path) as f:
                attrs = json.loads(str(f["attrs"])) if "attrs" in f.files else {}
                return "t_start" in attrs and "times" in f.files
        if path.suffix == ".zarr" and path.is_dir():
            import zarr
            group = zarr.open_group(path, mode="r")
            attrs = dict(group.attrs)
            return attrs.get("kind") == KIND or ("t_start" in attrs and "times" in group)
    except Exception:          # unreadable: not ours as far as we can tell
        return False
    return False


def save(arrays, attrs, path, overwrite=False):
    """Write ``arrays`` (name: ndarray) and ``attrs`` (JSON-serialisable) to ``path`` (.npz
    or .zarr); see the module docstring for what is refused and how it is replaced."""
    path = check_destination(path, overwrite)
    token = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
    tmp = path.with_name(f".{path.name}.partial-{token}")
    aside = path.with_name(f".{path.name}.replaced-{token}")
    attrs = {"kind": KIND, **attrs,
             "checksums": {name: _checksum(data) for name, data in arrays.items()}}
    try:
        _write(tmp, arrays, attrs, path.suffix)
        if os.path.lexists(path):
            os.rename(path, aside)          # the old record stays whole until the new is in
        os.rename(tmp, path)
    except BaseException:
        if os.path.lexists(aside) and not os.path.lexists(path):
            os.rename(aside, path)          # put the old record back
        raise
    finally:
        for leftover in (tmp, aside):
            _remove(leftover)


def _write(tmp, arrays, attrs, suffix):
    if suffix == ".npz":
        with open(tmp, "wb") as f:
            np.savez(f, attrs=np.array(json.dumps(attrs)), **arrays)
        return
    import zarr
    group = zarr.open_group(tmp, mode="w-")
    for name, data in arrays.items():
        group.create_array(name, data=data)
    group.attrs.update(attrs)


def _remove(path):
    """Remove a temporary file or folder of ours, if it is there."""
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path)
    elif os.path.lexists(path):
        os.unlink(path)


def load(path, names, optional=()):
    """(arrays, attrs) of a record file written by ``save``: the arrays ``names``, and those of
    ``optional`` that it holds, by name, each checked against its checksum (records written
    before 0.2 keep none). A record replaced while it is read (``save`` renames the new one
    into place) is read again. Raises ValueError, naming the path (and the array), for
    anything else or a damaged record."""
    path = check_path(path)
    for _ in range(3):
        before = _identity(path)
        try:
            found = _load(path, names, optional)
        except ValueError:
            if before is not None and _identity(path) == before:
                raise
            continue                              # replaced meanwhile: read it again
        if _identity(path) == before:
            return found
    return _load(path, names, optional)


def _identity(path):
    """What changes when a record is replaced at ``path`` (None if nothing is there)."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        return None
    return info.st_ino, info.st_mtime_ns


def _load(path, names, optional):
    if not os.path.exists(path):
        raise ValueError(f"path: no such record {str(path)!r}")
    if not is_record(path):
        raise ValueError(f"path: {str(path)!r} is not a sparseprop record (a sweep store opens "
                         "with sp.open_results)")
    if path.suffix == ".npz":
        with np.load(path) as f:
            attrs = json.loads(str(f["attrs"]))
            wanted = [*names, *(name for name in optional if name in f.files)]
            arrays = {name: _read(path, name, lambda name: f[name]) for name in wanted}
    else:
        import zarr
        group = zarr.open_group(path, mode="r")
        attrs = dict(group.attrs)
        wanted = [*names, *(name for name in optional if name in group)]
        arrays = {name: _read(path, name, lambda name: group[name][:]) for name in wanted}
    attrs.pop("kind", None)
    expected = attrs.pop("checksums", {})
    for name, data in arrays.items():
        if name in expected and _checksum(data) != expected[name]:
            raise ValueError(f"path: the record {str(path)!r} is damaged: array {name!r} does "
                             "not match the checksum written with it")
    return arrays, attrs


def _checksum(data):
    """[dtype, shape, CRC-32 of the bytes] of an array, as a record keeps it."""
    data = np.ascontiguousarray(data)
    return [data.dtype.str, list(data.shape), zlib.crc32(data.tobytes())]


def _read(path, name, read):
    """``read(name)``, with a ValueError naming the record and the array if it fails."""
    try:
        return read(name)
    except Exception as exc:
        raise ValueError(f"path: the record {str(path)!r} is damaged: its array {name!r} "
                         f"cannot be read ({type(exc).__name__}: {exc})") from None
