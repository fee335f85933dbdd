"""The result of an ensemble run: an ``EnsembleRecord`` of raw arrays, and as a Dataset.

``run_ensemble`` returns the Dataset (``to_dataset``), the same shape ``open_results`` gives a
sweep store: the same variables, coordinates, flat spikes and ``ds.sp`` accessor
(``runs.accessor``), so that analysis, plots and a user's code take either. The workers of a
sweep write the record itself, without xarray.
"""
import json

import numpy as np

from .continuation import STATE
from .record import cv_from_moments, rates_from_counts
from .summaries import (NEURON_DTYPES, SUMMARIES, per_neuron, population_summary_names,
                        summaries)


class EnsembleRecord:
    """What the engine recorded for M instances, padded to the largest n.

    Attributes
    ----------
    parameters : dict of ndarray (M,)
        Each instance's n, k, seed, ic_seed, tau, drive, coupling (and j0, target_rate).
    counts : ndarray (M, n_max) of int64
        Spikes per neuron in ``[t_start, t_stop[m]]``; 0 beyond an instance's n.
    isi_sum, isi_sumsq : ndarray (M, n_max)
        Sums of each neuron's inter-spike intervals (s) and of their squares.
    t_start : float
        Warm-up time (s).
    t_stop : ndarray (M,)
        End of each instance's window (s).
    times, senders, offsets : ndarray
        With ``record="spikes"``: every instance's spikes, flat, instance ``m`` at
        ``offsets[m]:offsets[m + 1]`` (the NWB Units layout); empty otherwise.
    meta : dict
        The network's description and the run's settings (``record``, ``key``, ``backend``).
    engine_seconds : float
        Wall time spent in the engine's launches (s), for benchmarks.
    state : dict, optional
        Where each instance stopped (``runs.continuation.STATE``, each (M, n_max), ``clock``
        (M, 2)), to continue the runs from.
    populations : (names, starts), optional
        A network of populations: the population names and (M, P + 1) each instance's
        first neuron of each (and its n).
    """

    def __init__(self, parameters, counts, isi_sum, isi_sumsq, t_start, t_stop, spikes, meta,
                 engine_seconds=float("nan"), state=None, populations=None):
        self.parameters = parameters
        self.counts, self.isi_sum, self.isi_sumsq = counts, isi_sum, isi_sumsq
        self.t_start, self.t_stop = t_start, t_stop
        self.offsets = np.concatenate([[0], np.cumsum([t.size for t, _ in spikes])])
        self.times = np.concatenate([t for t, _ in spikes]) if spikes else np.empty(0)
        self.senders = (np.concatenate([s for _, s in spikes]) if spikes
                        else np.empty(0, np.int32))
        self.meta = meta
        self.engine_seconds = engine_seconds
        self.state = state
        self.populations = populations

    def __len__(self):
        return self.counts.shape[0]

    @property
    def neurons(self):
        """(M, n_max) bool: True where the neuron exists in its instance."""
        return np.arange(self.counts.shape[1]) < self.parameters["n"][:, None]

    @property
    def rates(self):
        """(M, n_max) per-neuron rates (Hz); NaN beyond an instance's n."""
        return np.where(self.neurons, rates_from_counts(self.counts, self.t_start,
                                                        self.t_stop[:, None]), np.nan)

    @property
    def cv_isi(self):
        """(M, n_max) ISI coefficient of variation; NaN with fewer than two intervals."""
        return cv_from_moments(self.counts, self.isi_sum, self.isi_sumsq)

    def __repr__(self):
        return f"EnsembleRecord({len(self)} instances, spikes={int(self.counts.sum())})"


def to_dataset(record):
    """``record`` as the Dataset ``open_results`` gives a store (see the module docstring)."""
    import xarray as xr
    from .accessor import register
    register()
    keep = record.meta["record"] == "spikes"
    variables = {name: ("instance", values) for name, values in summaries(record).items()}
    if keep:
        variables["n_recorded"] = ("instance", np.diff(record.offsets))
    width = record.counts.shape[1]
    variables.update({name: (("instance", "neuron"), values) for name, values in
                      per_neuron(record, NEURON_DTYPES, width).items()})
    coords = {name: ("instance", np.asarray(values)) for name, values in
              record.parameters.items()}
    coords["done"] = ("instance", np.ones(len(record), bool))
    for name, values in (record.state or {}).items():
        variables[f"state_{name}"] = (("instance", "clock" if name == "clock" else "neuron"),
                                      values)
    if keep:
        variables["spike_time"] = ("spike", record.times)
        variables["spike_sender"] = ("spike", record.senders)
        coords["spike_start"] = ("instance", record.offsets[:-1])
    meta = {"kind": "ensemble", **record.meta, "warmup": record.t_start,
            "instances": len(record), "engine_seconds": record.engine_seconds}
    populations = population_summary_names(record.populations[0] if record.populations else ())
    order = [name for name in (*SUMMARIES, *populations, "n_recorded", *NEURON_DTYPES,
                               *(f"state_{name}" for name in STATE), "spike_time",
                               "spike_sender") if name in variables]
    return xr.Dataset({name: variables[name] for name in order}, coords=coords,
                      attrs={"sparseprop": json.dumps(meta)})
