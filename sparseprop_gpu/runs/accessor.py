"""``ds.sp``: spikes, records, networks and metadata of a result Dataset.

The same accessor serves an ensemble's result in memory (``run_ensemble``) and a sweep store
opened with ``open_results``: both hold the spikes flat, as ``spike_time`` and
``spike_sender`` along ``spike``, instance ``i``'s from ``spike_start[i]`` for ``n_recorded[i]``
spikes (the NWB Units layout). Registered when the first such Dataset is made, not at import:
the workers of a sweep, which only write, do not import xarray.
"""
import functools
import json
import warnings

import numpy as np

from ..specification.network import Network
from .continuation import STATE
from .record import SpikeRecord
from .summaries import PARAMETERS


class ResultsAccessor:
    """``ds.sp`` of a Dataset from ``run_ensemble`` or ``open_results``."""

    def __init__(self, ds):
        self._ds = ds

    @property
    def meta(self):
        """The result's metadata: ``kind`` ("ensemble" or "sweep"), ``record``, and the
        network's description (ensembles) or the specification and sizes (sweeps)."""
        meta = self._ds.attrs.get("sparseprop")
        if meta is None:
            raise ValueError("this Dataset is not a result of sp.run_ensemble or "
                             "sp.open_results")
        return json.loads(meta) if isinstance(meta, str) else meta

    @property
    def kind(self):
        return self.meta["kind"]

    @property
    def t_start(self):
        """Start of every instance's analysis window: the warm-up time (s)."""
        meta = self.meta
        if meta["kind"] == "sweep":
            return float(meta["spec"]["run"].get("warmup") or 0.0)
        return float(meta["warmup"])

    @property
    def spec(self):
        """The sweep's full specification (network, sweep, run)."""
        return self._sweep_meta()["spec"]

    def sweep(self):
        """The specification of a sweep store as a ``sp.Sweep``."""
        from ..specification.sweep import Sweep
        return Sweep.from_spec(self.spec)

    def parameters(self, i=None):
        """Per-instance parameters by name: arrays, or instance ``i``'s values."""
        names = [name for name in PARAMETERS if name in self._ds.coords]
        if i is None:
            return {name: np.asarray(self._ds[name].values) for name in names}
        return {name: self._ds[name].values[i].item() for name in names}

    def network(self, i):
        """The Network (PopulationNetwork) of instance ``i``, rebuilt from its parameters and
        seeds."""
        meta = self.meta
        if meta["kind"] == "sweep" and meta["spec"]["network"].get("network", "single") != \
                "single":                   # a network of populations: its constructor's
            return self.sweep().network(i)
        if meta["kind"] == "sweep":
            net = meta["spec"]["network"]
            meta = {"model": net["model"], "model_params": net.get("model_params") or {}}
        return Network.from_description({**meta, **self.parameters(i)})

    # ---------------------------------------------------------------- spikes
    @property
    def offsets(self):
        """(instance + 1,) int64: instance i's spikes are at offsets[i]:offsets[i+1] of
        ``times`` (for every instance of the result as it was made)."""
        self._need_spikes()
        counts = np.asarray(self._ds["n_recorded"].values, np.int64)
        return np.concatenate([[0], np.cumsum(np.maximum(counts, 0))])

    def spikes(self, i):
        """(times, senders) of instance ``i``: spike times (s) and neuron indices."""
        self._need_spikes()
        size = self._ds.sizes["instance"]
        i = int(i)
        if not -size <= i < size:
            raise IndexError(f"instance {i} out of range [0, {size})")
        count = int(self._ds["n_recorded"].values[i])
        if count < 0:
            raise ValueError(f"instance {i} has no results yet (its batch is not done)")
        start = int(self._ds["spike_start"].values[i])
        window = slice(start, start + count)
        return (np.asarray(self._ds["spike_time"][window].values),
                np.asarray(self._ds["spike_sender"][window].values))

    @property
    def times(self):
        """All spike times (s), flat (instance i at offsets[i]:offsets[i+1])."""
        self._need_spikes()
        return np.asarray(self._ds["spike_time"].values)

    @property
    def senders(self):
        """All senders, flat, in the order of ``times``."""
        self._need_spikes()
        return np.asarray(self._ds["spike_sender"].values)

    def record(self, i):
        """Instance ``i`` as a SpikeRecord (its spikes, if kept, and per-neuron statistics)."""
        ds = self._ds
        missing = [name for name in ("count", "isi_sum", "isi_sumsq") if name not in ds]
        if missing:
            raise ValueError(f"record() needs the per-neuron arrays {', '.join(missing)}: run "
                             "the sweep with [run] per_neuron = [\"count\", \"isi_sum\", "
                             "\"isi_sumsq\"]")
        n = int(ds["n"].values[i])
        times, senders = (self.spikes(i) if "spike_time" in ds else
                          (np.empty(0), np.empty(0, np.int32)))
        meta = {key: value for key, value in self.meta.items()
                if key not in ("kind", "instances", "engine_seconds", "warmup")}
        if self.kind == "sweep":
            run = self.spec["run"]
            meta = {**self.network(i).describe(), "key": run["key"], "record": run["record"],
                    "backend": meta["backend"]}
        state = ({name: np.asarray(ds[f"state_{name}"].values[i, :n] if name != "clock" else
                                   ds["state_clock"].values[i]) for name in STATE}
                 if "state_keys" in ds else None)
        return SpikeRecord(times=times, senders=senders,
                           counts=np.asarray(ds["count"].values[i, :n], np.int64),
                           isi_sum=np.asarray(ds["isi_sum"].values[i, :n]),
                           isi_sumsq=np.asarray(ds["isi_sumsq"].values[i, :n]),
                           t_start=self.t_start, t_stop=float(ds["t_stop"].values[i]),
                           meta={**meta, **self.parameters(i)}, state=state)

    # ---------------------------------------------------------------- sweeps
    def grid(self, name):
        """Variable ``name`` on the grid of swept parameters (dims: the swept keys; a
        per-neuron variable keeps its neuron dimension)."""
        import xarray as xr
        meta = self._sweep_meta()
        if meta["mode"] != "grid" or not meta["swept"]:
            raise ValueError("grid() needs a sweep with mode = 'grid' and swept keys")
        var = self._ds[name]
        shape = tuple(meta["shape"])
        dims = tuple(meta["swept"]) + var.dims[1:]
        data = np.asarray(var.values).reshape(shape + var.shape[1:])
        return xr.DataArray(data, dims=dims, coords=dict(self.sweep().axes), name=name,
                            attrs=var.attrs)

    def _sweep_meta(self):
        meta = self.meta
        if meta["kind"] != "sweep":
            raise ValueError("this result is an ensemble's, not a sweep store's: it has no "
                             "specification or grid")
        return meta

    def _need_spikes(self):
        if self.meta["record"] != "spikes":
            raise ValueError(f"this {self.kind} kept no spikes: run it with "
                             "record = \"spikes\"")


@functools.cache
def register():
    """Register ``ds.sp`` with xarray (once)."""
    import xarray as xr
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        xr.register_dataset_accessor("sp")(ResultsAccessor)
