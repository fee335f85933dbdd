"""Record files: named arrays and JSON attributes in .npz or .zarr, written atomically
(temporary name, then rename). ``SpikeRecord.save`` and ``load`` use them."""
import json
import os
import shutil
from pathlib import Path

import numpy as np

FORMATS = (".npz", ".zarr")


def check_path(path):
    """Return ``path`` as a Path after checking its suffix names a known format."""
    path = Path(path)
    if path.suffix not in FORMATS:
        raise ValueError(f"out must end in {' or '.join(FORMATS)}; got {str(path)!r}")
    return path


def save(arrays, attrs, path):
    """Write ``arrays`` (name: ndarray) and ``attrs`` (JSON-serialisable) to ``path`` (.npz
    or .zarr), replacing what is there only once complete."""
    path = check_path(path)
    tmp = path.with_name(f".{path.name}.partial-{os.getpid()}")
    try:
        if path.suffix == ".npz":
            with open(tmp, "wb") as f:
                np.savez(f, attrs=np.array(json.dumps(attrs)), **arrays)
        else:
            import zarr
            group = zarr.open_group(tmp, mode="w")
            for name, data in arrays.items():
                group.create_array(name, data=data)
            group.attrs.update(attrs)
        if path.is_dir():
            shutil.rmtree(path)
        os.replace(tmp, path)
    finally:
        if tmp.is_dir():
            shutil.rmtree(tmp)
        elif tmp.exists():
            tmp.unlink()


def load(path, names):
    """(arrays, attrs) of a file written by ``save``: the arrays ``names``, by name."""
    path = check_path(path)
    if path.suffix == ".npz":
        with np.load(path) as f:
            return {name: f[name] for name in names}, json.loads(str(f["attrs"]))
    import zarr
    group = zarr.open_group(path, mode="r")
    return {name: group[name][:] for name in names}, dict(group.attrs)
