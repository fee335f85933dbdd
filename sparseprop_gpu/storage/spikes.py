"""The spikes of a sweep store as two flat, lazily read arrays: ``spike_time`` and
``spike_sender``, batch after batch (``spikes/times_<b>``, ``spikes/senders_<b>``)."""
import numpy as np
from xarray.backends import BackendArray
from xarray.core import indexing

DTYPES = {"times": np.float64, "senders": np.int32}


def batch_key(name, b):
    """The store key of batch ``b``'s array ``name`` ("times" or "senders")."""
    return f"spikes/{name}_{b:06d}"


class FlatSpikes(BackendArray):
    """Batch ``b``'s array ``name`` at ``starts[b]:starts[b + 1]`` of one flat array, read
    only where indexed.

    Parameters
    ----------
    group : zarr.Group
        The store's root.
    name : {"times", "senders"}
    sizes : sequence of int
        Spikes of each batch (0 for a batch not written).
    """

    def __init__(self, group, name, sizes):
        self.group, self.name = group, name
        self.starts = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
        self.shape = (int(self.starts[-1]),)
        self.dtype = np.dtype(DTYPES[name])

    def __getitem__(self, key):
        return indexing.explicit_indexing_adapter(key, self.shape, indexing.IndexingSupport.BASIC,
                                                  self._read)

    def _read(self, key):
        lo, hi, step = key[0].indices(self.shape[0]) if isinstance(key[0], slice) else \
            (int(key[0]), int(key[0]) + 1, 1)
        parts = []
        first = int(np.searchsorted(self.starts, lo, side="right")) - 1
        for b in range(max(first, 0), self.starts.size - 1):
            start, stop = self.starts[b], self.starts[b + 1]
            if start >= hi:
                break
            if stop > max(lo, start):
                parts.append(self.group[batch_key(self.name, b)][max(lo, start) - start:
                                                                 min(hi, stop) - start])
        flat = np.concatenate(parts) if parts else np.empty(0, self.dtype)
        flat = flat.astype(self.dtype, copy=False)[::step]
        return flat if isinstance(key[0], slice) else flat[0]


def spike_variables(group, n_recorded, batch_size):
    """{name: Variable} of the store's spikes and the coordinate ``spike_start``, from the
    per-instance spike counts ``n_recorded`` (negative: not yet run)."""
    import xarray as xr
    counts = np.maximum(np.asarray(n_recorded, np.int64), 0)
    sizes = np.add.reduceat(counts, np.arange(0, counts.size, batch_size)) if counts.size else []
    start = np.concatenate([[0], np.cumsum(counts)[:-1]])
    return {"spike_time": xr.Variable(("spike",), indexing.LazilyIndexedArray(
                FlatSpikes(group, "times", sizes))),
            "spike_sender": xr.Variable(("spike",), indexing.LazilyIndexedArray(
                FlatSpikes(group, "senders", sizes))),
            "spike_start": xr.Variable(("instance",), start)}
