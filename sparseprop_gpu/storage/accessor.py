"""``ds.sp``: the spikes, specification and grids of a Dataset opened by ``open_results``.

Registered by the first ``open_results``, not at import: the workers, which only write, do
not import xarray and pandas (a quarter of a second).
"""
import functools
import json
import warnings

import numpy as np

from ..spec.sweep import Sweep
from .metadata import as_dict


class SweepAccessor:
    """``ds.sp``: spikes, specification and grids of a sweep opened by open_results."""

    def __init__(self, ds):
        self._ds = ds

    @property
    def meta(self):
        """The store's attributes, sizes included (``metadata``)."""
        meta = self._ds.attrs.get("sparseprop")
        if meta is None:
            raise ValueError("this Dataset was not opened by sp.open_results")
        return json.loads(meta) if isinstance(meta, str) else meta

    @property
    def spec(self):
        """The sweep's full specification (network, sweep, run)."""
        return self.meta["spec"]

    def sweep(self):
        """The specification as a ``sp.Sweep``."""
        return Sweep.from_dict(as_dict(self.spec))

    @property
    def offsets(self):
        """(instance + 1,) int64: instance i's spikes are at offsets[i]:offsets[i+1]."""
        self._need_spikes()
        counts = np.asarray(self._ds["n_recorded"].values, np.int64)
        return np.concatenate([[0], np.cumsum(np.maximum(counts, 0))])

    def spikes(self, i):
        """(times, senders) of instance ``i``: spike times (s) and neuron indices."""
        self._need_spikes()
        meta = self.meta
        i = int(i)
        if not 0 <= i < meta["instances"]:
            raise IndexError(f"instance {i} out of range [0, {meta['instances']})")
        b = i // meta["batch_size"]
        lo = b * meta["batch_size"]
        counts = np.asarray(self._ds["n_recorded"].values[lo:i + 1], np.int64)
        if counts[-1] < 0:
            raise ValueError(f"instance {i} has no results yet (batch {b} is not done)")
        start = int(counts[:-1].sum())
        stop = start + int(counts[-1])
        times, senders = self._batch(b)
        return times[start:stop], senders[start:stop]

    @property
    def times(self):
        """All spike times, flat (instance i at offsets[i]:offsets[i+1])."""
        return self._flat(0)

    @property
    def senders(self):
        """All senders, flat, in the order of ``times``."""
        return self._flat(1)

    def grid(self, name):
        """Variable ``name`` on the grid of swept parameters (dims: the swept keys; a
        per-neuron variable keeps its neuron dimension)."""
        import xarray as xr
        meta = self.meta
        if meta["mode"] != "grid" or not meta["swept"]:
            raise ValueError("grid() needs a sweep with mode = 'grid' and swept keys")
        var = self._ds[name]
        shape = tuple(meta["shape"])
        dims = tuple(meta["swept"]) + var.dims[1:]
        data = np.asarray(var.values).reshape(shape + var.shape[1:])
        return xr.DataArray(data, dims=dims, coords=dict(self.sweep().axes), name=name,
                            attrs=var.attrs)

    def _need_spikes(self):
        if self.meta["record"] != "spikes":
            raise ValueError("this sweep kept no spikes: run it with "
                             "[run] record = \"spikes\"")

    def _batch(self, b):
        """The Zarr arrays (times, senders) of batch ``b``'s spikes."""
        import zarr
        spikes = zarr.open_group(self._ds.attrs["sparseprop_path"], mode="r")["spikes"]
        return spikes[f"times_{b:06d}"], spikes[f"senders_{b:06d}"]

    def _flat(self, which):
        """Batch after batch, the spike times (``which`` 0) or senders (1), flat."""
        self._need_spikes()
        return np.concatenate([self._batch(b)[which][:] for b in range(self.meta["batches"])])


@functools.cache
def register():
    """Register ``ds.sp`` with xarray (once)."""
    import xarray as xr
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        xr.register_dataset_accessor("sp")(SweepAccessor)
