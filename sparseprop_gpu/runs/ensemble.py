"""Ensembles: many instances of one network specification, run side by side.

``Ensemble(network, seeds=range(4096), j0=np.linspace(0.5, 2.0, 4096))`` gives each instance
its own parameters (an ``InstanceTable``); ``run_ensemble`` runs them on the CPU cores or one
per CUDA thread and returns per-instance, per-neuron statistics (and spikes, if asked). An
instance's result depends only on its own parameters and seeds: not on the batch it ran in,
its position there, or the backend.
"""
import numbers

import numpy as np

from .. import config, validate
from ..specification import memory
from ..specification.instances import InstanceTable, PopulationTable
from ..specification.populations import PopulationNetwork
from ..specification.settings import UNLIMITED, check_run
from . import continuation
from .execute import batch_of, execute, resolve_backend
from .results import EnsembleRecord, to_dataset

PER_INSTANCE = {"seeds": "seed", "ic_seeds": "ic_seed", "n": "n", "k": "k", "tau": "tau",
                "j0": "j0", "target_rate": "target_rate", "drive": "drive",
                "coupling": "coupling", "t_ref": "t_ref"}
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
    t_ref : float or sequence, optional
        Refractory period (s) per instance.
    n_max, k_max : int, optional
        Capacity of a batch: every instance must fit (default: the largest).
    **parameters : float or sequence
        For a ``PopulationNetwork`` made by ``sp.brunel`` or ``sp.balanced``: any of that
        constructor's parameters per instance (``g``, ``eta``, ``j``, ``delay``, ``t_ref``,
        ``n_e``, ...). A network of populations takes ``seeds``, ``ic_seeds`` and these.
    noise_seeds : int or sequence of int, optional
        A network of populations with external input: the Poisson input's seed per instance
        (default: ``seeds`` where given, as ``ic_seeds``).
    stimuli : sequence of sp.Stimulus or None, optional
        A network of populations: each instance's stimulus (None: the network's), e.g. one
        per value of a stimulus parameter or one per trial.
    initial_phases : array_like (M, n), optional
        A single-population network: every instance's initial phases (e.g. one per sample of
        a mini-batch); ``n`` and ``ic_seeds`` then do not vary.

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
                 target_rate=None, drive=None, coupling=None, t_ref=None, n_max=None,
                 k_max=None, noise_seeds=None, stimuli=None, initial_phases=None,
                 **parameters):
        given = dict(seeds=seeds, ic_seeds=ic_seeds, n=n, k=k, tau=tau, j0=j0,
                     target_rate=target_rate, drive=drive, coupling=coupling, t_ref=t_ref)
        columns = {PER_INSTANCE[name]: _per_instance(name, value)
                   for name, value in given.items() if value is not None}
        if isinstance(network, PopulationNetwork):
            if initial_phases is not None:
                raise ValueError("initial_phases: per-instance phases are for a single-"
                                 "population network; a network of populations draws them "
                                 "from ic_seeds")
            if noise_seeds is not None:
                parameters["noise_seed"] = noise_seeds
            columns.update({name: _per_instance(name, value)
                            for name, value in parameters.items()})
            self.table = PopulationTable(network, stimuli, **columns)
        elif parameters or noise_seeds is not None or stimuli is not None:
            name = next(iter(parameters)) if parameters else \
                "noise_seeds" if noise_seeds is not None else "stimuli"
            raise ValueError(f"unknown Ensemble parameter {name!r} for a single-population "
                             f"network; allowed: {', '.join(PER_INSTANCE)}, initial_phases")
        else:
            self.table = InstanceTable(network, initial_phases, **columns)
        self.network = network
        self.size = len(self.table)
        ns, ks = self.table.columns["n"], self.table.columns["k"]
        self.n_max = self._capacity("n", ns, n_max, 2)
        self.k_max = self._capacity("k", ks, k_max, 1)

    @classmethod
    def from_sweep(cls, sweep, lo, hi):
        """The instances ``lo .. hi - 1`` of ``sweep`` (a ``sp.Sweep``) as an Ensemble."""
        pars = sweep.parameters(lo, hi)
        names = {"seed": "seeds", "ic_seed": "ic_seeds", "noise_seed": "noise_seeds"}
        derived = ("drive", "coupling") if "j0" in pars else ()
        if sweep.kind != "single":          # n follows from the constructor's parameters
            derived = ("n", "k")
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


def _per_instance(name, value):
    """Ensemble argument ``name``: a number, or a 1-D sequence of one value per instance."""
    if isinstance(value, (numbers.Number, range)):
        return value
    if isinstance(value, np.ndarray) and value.ndim == 0:
        return value.item()
    try:
        shape = np.shape(value)
    except ValueError:
        raise ValueError(f"{name} must be a number or a 1-D sequence of one value per "
                         "instance; got a ragged sequence") from None
    if len(shape) != 1:
        raise ValueError(f"{name} must be a number or a 1-D sequence of one value per "
                         f"instance, shape (M,); got shape {shape}")
    return value


def run_ensemble(ensemble, t_end=None, n_spikes=None, warmup=None, record=None,
                 backend="auto", key="auto", batch_size=None, buffer_spikes=None,
                 progress=False, continue_from=None, state=True):
    """Run every instance of ``ensemble``.

    Parameters
    ----------
    ensemble : Ensemble
    t_end, n_spikes, warmup, key :
        As in ``simulate`` (``n_spikes`` per instance; ``warmup`` 0 by default).
    record : {"summary", "spikes"}, default "summary"
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
    continue_from : xarray.Dataset, optional
        The result of an earlier ``run_ensemble`` of this ensemble: go on from where each
        instance stopped, as ``simulate``'s ``continue_from`` does (the result covers the
        whole run, bitwise as one that never stopped; ``warmup``, ``record`` and ``key`` are
        the earlier run's).
    state : bool
        Keep each instance's final state (``state_*``), to continue from.

    Returns
    -------
    xarray.Dataset
        The shape ``open_results`` gives a sweep store (``runs.results``): per instance the
        summaries and ``t_stop``, per (instance, neuron) ``count``, ``rate``, ``cv_isi``,
        ``isi_sum``, ``isi_sumsq`` (NaN, or 0 counts, beyond an instance's n), the
        parameters as coordinates, the spikes flat as ``spike_time``/``spike_sender``, the
        final state (``state_*``), and ``ds.sp`` (``spikes(i)``, ``record(i)``,
        ``network(i)``, ``meta``).
    """
    return to_dataset(record_ensemble(ensemble, t_end, n_spikes, warmup, record, backend, key,
                                      batch_size, buffer_spikes, progress, continue_from, state))


def record_ensemble(ensemble, t_end=None, n_spikes=None, warmup=None, record=None,
                    backend="auto", key="auto", batch_size=None, buffer_spikes=None,
                    progress=False, continue_from=None, state=True):
    """``run_ensemble``'s run, returned as the raw ``EnsembleRecord`` (what a sweep's workers
    write into the store, without xarray)."""
    if not isinstance(ensemble, Ensemble):
        raise ValueError(f"ensemble must be a sp.Ensemble; got {ensemble!r}")
    previous = None
    if continue_from is not None:
        previous = _previous(continue_from, ensemble)
        warmup, record, key = continuation.settings(previous, warmup, record, key)
    warmup = 0.0 if warmup is None else warmup
    record = "summary" if record is None else record
    t_end, n_spikes, warmup, key = check_run(t_end, n_spikes, warmup, record, key,
                                             ensemble.network, ensemble.table)
    size = len(ensemble)
    batch_size = size if batch_size is None else validate.integer("batch_size", batch_size, 1,
                                                                  2**31 - 1)
    keep = record == "spikes"
    if buffer_spikes is None:
        buffer_spikes = config.ENSEMBLE_SPIKE_BUFFER if keep else config.SUMMARY_BUFFER
    buffer_spikes = validate.integer("buffer_spikes (spikes per instance per launch)",
                                     buffer_spikes, 1, 2**31 - 1)
    carried, to_record = None, n_spikes
    if previous is not None:
        carried = previous["carried"]
        recorded = carried["counts"].sum(axis=1)
        for m in range(size):
            continuation.check_stop(previous["t_stop"][m],
                                    previous["t_stop"][m] == previous["meta"].get("t_end"),
                                    int(recorded[m]), t_end, n_spikes)
        to_record = continuation.remaining(n_spikes, recorded)
    backend = resolve_backend(backend)
    _check_memory(ensemble, n_spikes, keep, backend, batch_size, buffer_spikes)
    run = execute(ensemble.table, t_end, to_record, warmup, key, keep, backend, batch_size,
                  buffer_spikes, progress, carried=carried)
    spikes = run.spikes
    if previous is not None and keep:
        spikes = [(np.concatenate([before[0], now[0]]), np.concatenate([before[1], now[1]]))
                  for before, now in zip(previous["spikes"], spikes)]
    width = ensemble.n_max
    meta = {**ensemble.network.describe(), "key": key, "record": record, "backend": backend,
            "t_end": continuation.finite(t_end)}
    final = None
    if state and not ensemble.table.blocked:    # populations: their spikes in flight, not yet
        final = {"keys": _pad(run.carried["keys"], width, np.nan),
                 "clock": run.carried["clock"],
                 "last_spike": _pad(np.where(np.isnan(run.carried["keys"]), np.nan,
                                             run.isi[..., 0]), width, np.nan)}
    return EnsembleRecord(ensemble.parameters(), _pad(run.counts, width),
                          _pad(run.isi[..., 1], width), _pad(run.isi[..., 2], width), warmup,
                          run.t_stop, spikes, meta, engine_seconds=run.seconds, state=final,
                          populations=ensemble.table.population_starts()
                          if ensemble.table.blocked else None)


def _check_memory(ensemble, n_spikes, keep, backend, batch_size, buffer_spikes):
    """Refuse a run whose batches and results would not fit in memory (or on the device)."""
    table = ensemble.table
    net = table.base
    n_max, k_max = int(table.columns["n"].max()), int(table.columns["k"].max())
    memory.check_run(
        f"batch_size = {min(batch_size, len(ensemble))}: {len(ensemble)} instances of "
        f"n <= {n_max}, k <= {k_max}", len(ensemble), batch_size, n_max, k_max, buffer_spikes,
        (net.n, net.k) if table.shared_table else None, net.heterogeneous,
        len(ensemble) * n_spikes if keep and n_spikes < UNLIMITED else 0,
        memory.device_bytes() if backend == "cuda" else None,
        fifo=table.fifo_total() if table.blocked else 1,
        stimulus=table.stimulus_total() if table.blocked else 1)


def _previous(ds, ensemble):
    """What the result ``ds`` of an earlier run of ``ensemble`` says about where it stopped:
    its ``t_start``, ``meta``, ``t_stop`` (M,), ``spikes`` (a list of (times, senders)) and
    the engine state it ``carried``. Raises ValueError where ``ds`` is not such a result."""
    try:
        meta = ds.sp.meta
    except (AttributeError, ValueError):
        raise ValueError("continue_from must be a Dataset of sp.run_ensemble or "
                         "sp.open_results") from None
    if "state_keys" not in ds:
        raise ValueError("continue_from: this result holds no final state to continue from "
                         "(run_ensemble results since 0.3 do, sweep stores with [run] "
                         "state = true)")
    described = ensemble.network.describe()
    if meta["kind"] == "sweep":       # the instances' networks, and the run's settings
        run = meta["spec"]["run"]
        meta = {**ds.sp.network(0).describe(), "warmup": ds.sp.t_start, "key": run["key"],
                "record": run["record"], "t_end": run["t_end"]}
        described = ensemble.table.network(0).describe()
    if ds.sizes["instance"] != len(ensemble):
        raise ValueError(f"continue_from has {ds.sizes['instance']} instances, the ensemble "
                         f"{len(ensemble)}; continue a run with the ensemble it ran")
    ours = ensemble.parameters()
    for name, values in ds.sp.parameters().items():
        if name in ours and not np.array_equal(np.asarray(ours[name]), values):
            raise ValueError(f"continue_from: its instances' {name} differ from the ensemble's; "
                             "continue a run with the ensemble it ran")
    continuation.check_network(meta, described)
    width = int(np.asarray(ours["n"]).max())

    def values(name):
        return np.nan_to_num(np.asarray(ds[name].values)[:, :width], nan=0.0)

    carried = continuation.carried_state(
        values("count"), values("isi_sum"), values("isi_sumsq"),
        {"keys": np.asarray(ds["state_keys"].values)[:, :width],
         "clock": np.asarray(ds["state_clock"].values),
         "last_spike": values("state_last_spike")})
    spikes = ([ds.sp.spikes(i) for i in range(len(ensemble))]
              if meta["record"] == "spikes" else None)
    return {"t_start": meta["warmup"], "meta": meta, "t_stop": np.asarray(ds["t_stop"].values),
            "spikes": spikes, "carried": carried}


def _pad(values, width, fill=0):
    """``values`` (M, n) widened with ``fill`` to (M, width) (an ensemble's capacity n_max)."""
    out = np.full((values.shape[0], width), fill, values.dtype)
    out[:, :values.shape[1]] = values
    return out
