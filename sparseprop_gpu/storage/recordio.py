"""SpikeRecord files: .npz and .zarr, written atomically (temporary name, then rename)."""
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


def save(record, path):
    """Write ``record`` to ``path`` (.npz or .zarr), replacing it only once complete."""
    path = check_path(path)
    tmp = path.with_name(f".{path.name}.partial-{os.getpid()}")
    try:
        if path.suffix == ".npz":
            with open(tmp, "wb") as f:
                np.savez(f, attrs=np.array(json.dumps(record.attrs())), **record.arrays())
        else:
            import zarr
            group = zarr.open_group(tmp, mode="w")
            for name, data in record.arrays().items():
                group.create_array(name, data=data)
            group.attrs.update(record.attrs())
        if path.is_dir():
            shutil.rmtree(path)
        os.replace(tmp, path)
    finally:
        if tmp.is_dir():
            shutil.rmtree(tmp)
        elif tmp.exists():
            tmp.unlink()


def load(path):
    """Read a SpikeRecord written by ``save``."""
    from ..runs.record import SpikeRecord
    path = check_path(path)
    if path.suffix == ".npz":
        with np.load(path) as f:
            attrs = json.loads(str(f["attrs"]))
            arrays = {name: f[name] for name in f.files if name != "attrs"}
    else:
        import zarr
        group = zarr.open_group(path, mode="r")
        attrs = dict(group.attrs)
        arrays = {name: group[name][:] for name in ("times", "senders", "counts", "isi_sum",
                                                     "isi_sumsq")}
    return SpikeRecord(**arrays, **attrs)
