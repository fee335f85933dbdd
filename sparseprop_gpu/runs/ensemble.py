"""Ensembles: many instances of one network specification, run side by side.

``Ensemble(network, seeds=range(4096), j0=np.linspace(0.5, 2.0, 4096))`` gives each instance
its own parameters (an ``InstanceTable``); ``run_ensemble`` runs them on the CPU cores or one
per CUDA thread and returns per-instance, per-neuron statistics (and spikes, if asked). An
instance's result depends only on its own parameters and seeds: not on the batch it ran in,
its position there, or the backend.
"""
import numpy as np

from .. import config, validate
from ..specification.instances import InstanceTable
from ..specification.settings import check_run
from .execute import batch_of, execute, resolve_backend
from .results import EnsembleRecord, to_dataset

PER_INSTANCE = {"seeds": "seed", "ic_seeds": "ic_seed", "n": "n", "k": "k", "tau": "tau",
                "j0": "j0", "target_rate": "target_rate", "drive": "drive",
                "coupling": "coupling"}
"""Ensemble's keyword arguments and the InstanceTable columns they fill."""


class Ensemble:
    """M instances of ``network`` with per-instance parameters.

    Parameters
    ----------
    network : Network
        The specification every instance starts from (model, sizes, coupling, seeds,
        connectivity).
    seeds, ic_seeds : int or sequence of int, optional
        Network and initial-condition seeds per instance; ``ic_seeds`` defaults to ``seeds``
        when those are given.
    n, k : int or sequence of int, optional
        Size and out-degree per instance.
    tau : float or sequence, optional
        Membrane time constant (s) per instance (the model's, with that tau).
    j0, target_rate : float or sequence, optional
        Balanced-state parameters per instance (if ``network`` uses them).
    drive, coupling : float or sequence, optional
        Direct parameters per instance (if ``network`` uses them).
    n_max, k_max : int, optional
        Capacity of a batch: every instance must fit (default: the largest).

    Every sequence must have the same length M, the number of instances. Instances share the
    network's stored target table when all of them have its ``n``, ``k`` and ``seed`` (or it
    is a user-supplied table); otherwise each draws its own targets on the fly from its seed
    (the same network a stored table of that seed would give). Initial phases are the
    network's where an instance has its ``n`` and ``ic_seed``, else drawn from the instance's
    ``ic_seed``. A network with per-neuron drive or tau (``sp.heterogeneous``) gives every
    instance that profile, resolved for the instance's ``n``; that parameter cannot also vary
    per instance, and ``parameters()`` leaves it out.
    """

    def __init__(self, network, *, seeds=None, ic_seeds=None, n=None, k=None, tau=None, j0=None,
                 target_rate=None, drive=None, coupling=None, n_max=None, k_max=None):
        given = dict(seeds=seeds, ic_seeds=ic_seeds, n=n, k=k, tau=tau, j0=j0,
                     target_rate=target_rate, drive=drive, coupling=coupling)
        self.table = InstanceTable(network, **{PER_INSTANCE[name]: value
                                               for name, value in given.items()
                                               if value is not None})
        self.network = network
        self.size = len(self.table)
        ns, ks = self.table.columns["n"], self.table.columns["k"]
        self.n_max = self._capacity("n", ns, n_max, 2)
        self.k_max = self._capacity("k", ks, k_max, 1)

    @classmethod
    def from_sweep(cls, sweep, lo, hi):
        """The instances ``lo .. hi - 1`` of ``sweep`` (a ``sp.Sweep``) as an Ensemble."""
        pars = sweep.parameters(lo, hi)
        names = {"seed": "seeds", "ic_seed": "ic_seeds"}
        derived = ("drive", "coupling") if "j0" in pars else ()
        return cls(sweep.network(lo), **{names.get(name, name): values
                                         for name, values in pars.items()
                                         if name not in derived})

    @staticmethod
    def _capacity(name, values, given, low):
        if given is None:
            return int(values.max())
        capacity = validate.integer(f"{name}_max", given, low, 2**31 - 1)
        if values.max() > capacity:
            raise ValueError(f"{name} of instance {int(values.argmax())} is {int(values.max())}, "
                             f"above the batch capacity {name}_max = {capacity}")
        return capacity

    @property
    def shared_table(self):
        """Whether every instance reads the network's one stored target table."""
        return self.table.shared_table

    @property
    def instances(self):
        """The Network of every instance (built when asked)."""
        return [self.table.network(i) for i in range(self.size)]

    def parameters(self):
        """Per-instance parameters as arrays, by name (``InstanceTable.parameters``)."""
        return self.table.parameters()

    def batch(self, members, key, buffer_spikes, rebase=True):
        """The engine state of the instances ``members``."""
        return batch_of(self.table, members, key, buffer_spikes, rebase)

    def __len__(self):
        return self.size

    def __repr__(self):
        return f"Ensemble({self.size} instances of {self.network!r})"


def run_ensemble(ensemble, t_end=None, n_spikes=None, warmup=0.0, record="summary",
                 backend="auto", key="auto", batch_size=None, buffer_spikes=None,
                 progress=False):
    """Run every instance of ``ensemble``.

    Parameters
    ----------
    ensemble : Ensemble
    t_end, n_spikes, warmup, key :
        As in ``simulate`` (``n_spikes`` per instance).
    record : {"summary", "spikes"}
        Per-neuron counts and ISI moments only, or every spike as well.
    backend : {"auto", "cpu", "cuda"}
        "auto" takes the GPU when one is usable (``sparseprop info`` says).
    batch_size : int, optional
        Instances per batch (default: all); results do not depend on it.
    buffer_spikes : int, optional
        Spike buffer per instance per launch (>= 1); with ``record="spikes"`` the
        host drains it and relaunches, so memory stays bounded for any run.
    progress : bool
        Show a progress bar when the run looks long.

    Returns
    -------
    xarray.Dataset
        The shape ``open_results`` gives a sweep store (``runs.results``): per instance the
        summaries and ``t_stop``, per (instance, neuron) ``count``, ``rate``, ``cv_isi``,
        ``isi_sum``, ``isi_sumsq`` (NaN, or 0 counts, beyond an instance's n), the
        parameters as coordinates, the spikes flat as ``spike_time``/``spike_sender``, and
        ``ds.sp`` (``spikes(i)``, ``record(i)``, ``network(i)``, ``meta``).
    """
    return to_dataset(record_ensemble(ensemble, t_end, n_spikes, warmup, record, backend, key,
                                      batch_size, buffer_spikes, progress))


def record_ensemble(ensemble, t_end=None, n_spikes=None, warmup=0.0, record="summary",
                    backend="auto", key="auto", batch_size=None, buffer_spikes=None,
                    progress=False):
    """``run_ensemble``'s run, returned as the raw ``EnsembleRecord`` (what a sweep's workers
    write into the store, without xarray)."""
    if not isinstance(ensemble, Ensemble):
        raise ValueError(f"ensemble must be a sp.Ensemble; got {ensemble!r}")
    t_end, n_spikes, warmup, key = check_run(t_end, n_spikes, warmup, record, key,
                                             ensemble.network)
    size = len(ensemble)
    batch_size = size if batch_size is None else validate.integer("batch_size", batch_size, 1,
                                                                  2**31 - 1)
    keep = record == "spikes"
    if buffer_spikes is None:
        buffer_spikes = config.ENSEMBLE_SPIKE_BUFFER if keep else config.SUMMARY_BUFFER
    buffer_spikes = validate.integer("buffer_spikes (spikes per instance per launch)",
                                     buffer_spikes, 1, 2**31 - 1)
    backend = resolve_backend(backend)
    counts, isi, t_stop, spikes, seconds = execute(ensemble.table, t_end, n_spikes, warmup, key,
                                                   keep, backend, batch_size, buffer_spikes,
                                                   progress)
    width = ensemble.n_max
    meta = {**ensemble.network.describe(), "key": key, "record": record, "backend": backend}
    return EnsembleRecord(ensemble.parameters(), _pad(counts, width), _pad(isi[..., 1], width),
                          _pad(isi[..., 2], width), warmup, t_stop, spikes, meta,
                          engine_seconds=seconds)


def _pad(values, width):
    """``values`` (M, n) widened with zeros to (M, width) (an ensemble's capacity n_max)."""
    out = np.zeros((values.shape[0], width), values.dtype)
    out[:, :values.shape[1]] = values
    return out
