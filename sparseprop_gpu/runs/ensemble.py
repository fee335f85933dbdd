"""Ensembles: many instances of one network specification, run side by side.

``Ensemble(network, seeds=range(4096), j0=np.linspace(0.5, 2.0, 4096))`` gives each
instance its own parameters; ``run_ensemble`` runs them on the CPU cores or one per
CUDA thread and returns per-instance, per-neuron statistics (and spikes, if asked).
An instance's result depends only on its own parameters and seeds: not on the
batch it ran in, its position there, or the backend.
"""
import numbers

import numpy as np

from .. import validate
from ..engine.batch import SUMMARY_BUFFER, Batch
from ..engine.launch import drive
from ..spec.network import Network
from .record import SpikeRecord, cv_from_moments
from ..kernels import models as km
from .simulate import check_run, instance_params, instance_table, key_kind_of

PER_INSTANCE = ("seeds", "ic_seeds", "n", "k", "tau", "j0", "target_rate", "drive", "coupling")
BACKENDS = ("auto", "cpu", "cuda")


class Ensemble:
    """M instances of ``network`` with per-instance parameters.

    Parameters
    ----------
    network : Network
        The specification every instance starts from (model, sizes, coupling,
        seeds, connectivity).
    seeds, ic_seeds : int or sequence of int, optional
        Network and initial-condition seeds per instance; ``ic_seeds`` defaults to
        ``seeds`` when those are given.
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

    Every sequence must have the same length M, the number of instances.
    Instances share the network's stored target table when all of them have its
    ``n``, ``k`` and ``seed`` (or it is a user-supplied table); otherwise each
    draws its own targets on the fly from its seed (the same network a stored
    table of that seed would give). Initial phases are the network's where an
    instance has its ``n`` and ``ic_seed``, else drawn from the instance's ``ic_seed``.
    A network with per-neuron drive or tau (``sp.heterogeneous``) gives every instance
    that profile, resolved for the instance's ``n``; that parameter cannot also vary per
    instance, and ``parameters()`` leaves it out.
    """

    def __init__(self, network, *, seeds=None, ic_seeds=None, n=None, k=None, tau=None, j0=None,
                 target_rate=None, drive=None, coupling=None, n_max=None, k_max=None):
        if not isinstance(network, Network):
            raise ValueError(f"network must be a sp.Network; got {network!r}")
        given = {name: value for name, value in zip(
            PER_INSTANCE, (seeds, ic_seeds, n, k, tau, j0, target_rate, drive, coupling))
            if value is not None}
        for name in network.profiles:
            if name in given:
                raise ValueError(f"{name} is per neuron in this network (sp.heterogeneous), so "
                                 "it cannot also be given per instance")
        lengths = {name: len(value) for name, value in given.items()
                   if not isinstance(value, (numbers.Number, np.number))}
        if len(set(lengths.values())) > 1:
            listed = ", ".join(f"{name}: {length}" for name, length in lengths.items())
            raise ValueError(f"per-instance parameters must all have the same length; got {listed}")
        size = next(iter(lengths.values()), 1)
        if size < 1:
            raise ValueError("an ensemble needs at least one instance; got empty parameter lists")
        balanced = network.j0 is not None
        for name in ("j0", "target_rate") if not balanced else ("drive", "coupling"):
            if name in given:
                other = "j0/target_rate" if not balanced else "drive/coupling"
                raise ValueError(f"{name} given per instance, but the network uses {other}")
        self.network = network
        self.size = size
        column = {name: np.broadcast_to(np.asarray(value), (size,)) for name, value in given.items()}
        if "seeds" in column and "ic_seeds" not in column:
            column["ic_seeds"] = column["seeds"]
        same_topology = all(np.all(column[name] == base) for name, base in
                            (("n", network.n), ("k", network.k), ("seeds", network.seed))
                            if name in column)
        if network.targets is not None and not all(
                np.all(column[name] == base) for name, base in (("n", network.n), ("k", network.k))
                if name in column):
            raise ValueError("n and k cannot vary per instance when the network has a "
                             "user-supplied targets table")
        self.shared_table = network.connectivity == "stored" and (
            same_topology or network.targets is not None)
        self.instances = [self._instance(i, column) for i in range(size)]
        ns = np.array([net.n for net in self.instances])
        ks = np.array([net.k for net in self.instances])
        self.n_max = int(ns.max()) if n_max is None else validate.integer("n_max", n_max, 2, 2**31 - 1)
        self.k_max = int(ks.max()) if k_max is None else validate.integer("k_max", k_max, 1, 2**31 - 1)
        if ns.max() > self.n_max:
            raise ValueError(f"n of instance {int(ns.argmax())} is {int(ns.max())}, above the batch "
                             f"capacity n_max = {self.n_max}")
        if ks.max() > self.k_max:
            raise ValueError(f"k of instance {int(ks.argmax())} is {int(ks.max())}, above the batch "
                             f"capacity k_max = {self.k_max}")

    def _instance(self, i, column):
        base = self.network
        value = {name: column[name][i].item() for name in column}
        kw = dict(n=value.get("n", base.n), k=value.get("k", base.k),
                  seed=value.get("seeds", base.seed), ic_seed=value.get("ic_seeds", base.ic_seed))
        if base.j0 is not None:
            kw.update(j0=value.get("j0", base.j0), target_rate=value.get("target_rate", base.target_rate))
        else:
            kw.update(drive=value.get("drive", base.drive), coupling=value.get("coupling", base.coupling))
        if kw["n"] == base.n and kw["ic_seed"] == base.ic_seed:
            kw.update(initial_phases=base.initial_phases)
        if "drive" in base.profiles:           # resolved again for this instance's n
            kw["drive"] = base.profiles["drive"]
        try:
            model = base.model.with_tau(value.get("tau", base.model.tau))
            net = Network(model=model, connectivity="on_the_fly", tau=base.profiles.get("tau"),
                          **kw)
        except ValueError as exc:
            raise ValueError(f"instance {i}: {exc}") from None
        if self.shared_table:              # the network's own table, validated once
            net.targets, net.connectivity = base.target_table(), "stored"
        return net

    def parameters(self):
        """Per-instance parameters as arrays, by name."""
        nets = self.instances
        out = {"n": [x.n for x in nets], "k": [x.k for x in nets], "seed": [x.seed for x in nets],
               "ic_seed": [x.ic_seed for x in nets], "tau": [x.model.tau for x in nets],
               "drive": [x.drive for x in nets],
               "coupling": [x.coupling for x in nets]}
        for name in self.network.profiles:     # per neuron: in the network, not per instance
            del out[name]
        if self.network.j0 is not None:
            out.update(j0=[x.j0 for x in nets], target_rate=[x.target_rate for x in nets])
        return {name: np.asarray(values) for name, values in out.items()}

    def batch(self, members, key, buffer_spikes, rebase=True):
        """The engine state of the instances ``members``."""
        nets = [self.instances[i] for i in members]
        model = self.network.model
        params = [instance_params(x, key, rebase) for x in nets]
        pars = np.stack([par for par, _ in params])
        neurons = None if params[0][1] is None else [neuron for _, neuron in params]
        table = self.network.target_table() if self.shared_table else None
        return Batch(model.kernel_id, key_kind_of(key, self.network), pars, [x.initial_phases for x in nets],
                     [x.k for x in nets], [x.seed for x in nets], table,
                     buffer_spikes=buffer_spikes, neurons=neurons,
                     tabs=[instance_table(x) for x in nets] if model.kernel_id == km.TABLE else None)

    def __len__(self):
        return self.size

    def __repr__(self):
        return f"Ensemble({self.size} instances of {self.network!r})"


class EnsembleResult:
    """Per-instance, per-neuron results of ``run_ensemble``.

    Attributes
    ----------
    parameters : dict of ndarray (M,)
        Each instance's n, k, seed, ic_seed, drive, coupling (and j0, target_rate).
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
    backend : str
    """

    def __init__(self, parameters, counts, isi_sum, isi_sumsq, t_start, t_stop, spikes,
                 backend, meta):
        self.parameters = parameters
        self.counts, self.isi_sum, self.isi_sumsq = counts, isi_sum, isi_sumsq
        self.t_start, self.t_stop = t_start, t_stop
        self.offsets = np.concatenate([[0], np.cumsum([t.size for t, _ in spikes])])
        self.times = np.concatenate([t for t, _ in spikes]) if spikes else np.empty(0)
        self.senders = (np.concatenate([s for _, s in spikes]) if spikes
                        else np.empty(0, np.int32))
        self.backend = backend
        self.meta = meta

    def __len__(self):
        return self.counts.shape[0]

    @property
    def neurons(self):
        """(M, n_max) bool: True where the neuron exists in its instance."""
        return np.arange(self.counts.shape[1]) < self.parameters["n"][:, None]

    @property
    def rates(self):
        """(M, n_max) per-neuron rates (Hz); NaN beyond an instance's n."""
        duration = (self.t_stop - self.t_start)[:, None]
        with np.errstate(invalid="ignore", divide="ignore"):
            rates = self.counts / duration
        return np.where(self.neurons, rates, np.nan)

    @property
    def mean_rate(self):
        """(M,) population-averaged rate of each instance (Hz)."""
        return np.nanmean(self.rates, axis=1)

    @property
    def cv_isi(self):
        """(M, n_max) ISI coefficient of variation; NaN with fewer than two intervals."""
        return cv_from_moments(self.counts, self.isi_sum, self.isi_sumsq)

    def spikes(self, m):
        """(times, senders) of instance ``m``."""
        lo, hi = self.offsets[m], self.offsets[m + 1]
        return self.times[lo:hi], self.senders[lo:hi]

    def record(self, m):
        """Instance ``m`` as a SpikeRecord."""
        n = int(self.parameters["n"][m])
        times, senders = self.spikes(m)
        meta = {**self.meta, **{name: values[m].item() for name, values in self.parameters.items()}}
        return SpikeRecord(times=times, senders=senders, counts=self.counts[m, :n],
                           isi_sum=self.isi_sum[m, :n], isi_sumsq=self.isi_sumsq[m, :n],
                           t_start=self.t_start, t_stop=float(self.t_stop[m]), meta=meta)

    def __repr__(self):
        return (f"EnsembleResult({len(self)} instances, backend={self.backend!r}, "
                f"spikes={int(self.counts.sum())})")


def resolve_backend(backend):
    """The backend a run uses: "cuda" only where a usable GPU (or the simulator) is."""
    validate.choice("backend", backend, BACKENDS)
    if backend == "cpu":
        return "cpu"
    from ..engine import cuda
    usable, message = cuda.status()
    if backend == "cuda" and not usable:
        raise RuntimeError(f"backend 'cuda' is not usable: {message}")
    return "cuda" if usable else "cpu"


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
    EnsembleResult
    """
    if not isinstance(ensemble, Ensemble):
        raise ValueError(f"ensemble must be a sp.Ensemble; got {ensemble!r}")
    t_end, n_spikes, warmup, key = check_run(t_end, n_spikes, warmup, record, key,
                                             ensemble.network)
    size = len(ensemble)
    batch_size = size if batch_size is None else validate.integer("batch_size", batch_size, 1,
                                                                  2**31 - 1)
    keep = record == "spikes"
    if buffer_spikes is None:
        buffer_spikes = 4096 if keep else SUMMARY_BUFFER
    buffer_spikes = validate.integer("buffer_spikes (spikes per instance per launch)",
                                     buffer_spikes, 1, 2**31 - 1)
    backend = resolve_backend(backend)
    n_max = ensemble.n_max
    counts = np.zeros((size, n_max), np.int64)
    isi = np.zeros((size, n_max, 3))
    t_stop = np.full(size, t_end)
    spikes = []
    for start in range(0, size, batch_size):
        members = np.arange(start, min(start + batch_size, size))
        batch = ensemble.batch(members, key, buffer_spikes)
        runner = _runner(backend, batch)
        found, reached_end = drive(runner, t_end, n_spikes, warmup, keep, progress)
        runner.sync()
        width = batch.counts.shape[1]
        counts[members, :width] = batch.counts
        isi[members, :width] = batch.isi
        for row, m in enumerate(members):
            if not reached_end[row]:
                last = found[row][0]
                t_stop[m] = last[-1] if keep and last.size else batch.isi[row, :, 0].max()
        spikes.extend(found)
    meta = {**ensemble.network.describe(), "key": key, "record": record, "backend": backend,
            "instances": size}
    return EnsembleResult(ensemble.parameters(), counts, isi[..., 1], isi[..., 2], warmup,
                          t_stop, spikes, backend, meta)


def _runner(backend, batch):
    if backend == "cuda":
        from ..engine.cuda import CudaRunner
        return CudaRunner(batch)
    from ..engine.cpu import CpuRunner
    return CpuRunner(batch, parallel=True)
