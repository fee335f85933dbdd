"""Batch: the engine arrays of M network instances, one row per instance.

Every backend runs ``kernels.engine.advance_instance`` on rows of these arrays: the CPU
backend over a ``prange``, the CUDA backend one thread per instance. The arrays are the ones
``engine.layout.ARGUMENTS`` declares, held as attributes of those names. Instances in a batch
share the model, the priority-queue key and the connectivity mode; their size, out-degree,
drive, coupling and seeds may differ (rows are sized for the largest).
"""
import numpy as np

from .. import config
from ..compiled import bitmap_words, build_queues, candidate_scratch
from ..kernels import engine, models as km, pqueue
from . import layout


def initial_keys(key_kind, par, phases, neuron):
    """Queue keys of neurons at ``phases`` with the global shift (or time) at zero."""
    if key_kind == km.KEY_EXP:
        return np.exp(-phases / par[km.P_OMEGA])
    if key_kind == km.KEY_TIME:
        return (par[km.P_PHI_TH] - phases) * neuron[:, km.N_TPP]
    if key_kind == km.KEY_EXP_TIME:      # exp(t_next / tau) = (I / (I - 1)) ** (1 - phi)
        return np.exp((par[km.P_PHI_TH] - phases) * np.log(neuron[:, km.N_EXP_RESET]))
    return par[km.P_PHI_TH] - phases


def _shared_lookups(lookups, m):
    """(lookup, lookup_base): the distinct lookup tables (the same array object) stored once,
    one after another, and where each instance's starts; a (1,) dummy without tables."""
    starts, parts, size = {}, [], 0
    base = np.zeros(m, np.int64)
    for i, table in enumerate(lookups or ()):
        if id(table) not in starts:
            starts[id(table)] = size
            parts.append(table)
            size += table.shape[0]
        base[i] = starts[id(table)]
    return (np.concatenate(parts) if parts else np.zeros(1)), base


class Batch:
    """Engine state of M instances.

    Parameters
    ----------
    model_id, key_kind : int
        ``kernels.models`` constants shared by every instance.
    pars : ndarray (M, N_PAR)
        Model parameter vector of each instance.
    phases : list of M ndarrays
        Initial phases of each instance (length n of that instance).
    ks, seeds : sequences of M ints
        Out-degree and network seed of each instance.
    target_table : ndarray (n, k) of int32, optional
        One stored target table shared by all instances; None: targets drawn on the fly
        from each instance's seed.
    buffer_spikes : int
        Spike-buffer length per instance (>= 1).
    fan_bits : int
        log2 of the priority queue's fan-out.
    neurons : list of M ndarrays (n, N_NEURON), optional
        Per-neuron constants of each instance, for the time keys.
    lookups : list of M 1-D float64 ndarrays, optional
        Each instance's lookup tables (``kernels.lookup``), needed by the ``TABLE`` model.
        Instances that share one (the same array object) read one copy.
    """

    def __init__(self, model_id, key_kind, pars, phases, ks, seeds, target_table=None,
                 buffer_spikes=config.SUMMARY_BUFFER, fan_bits=config.FAN_BITS, neurons=None,
                 lookups=None):
        m = len(phases)
        if model_id == km.TABLE and (lookups is None or len(lookups) != m):
            raise ValueError("a TABLE model needs one lookup table per instance (lookups)")
        pars = np.asarray(pars, np.float64).reshape(m, km.N_PAR)
        ns = np.array([p.shape[0] for p in phases], np.int64)
        ks = np.asarray(ks, np.int64).reshape(m)
        geoms = [pqueue.tree_geometry(int(n), fan_bits) for n in ns]
        lookup, lookup_base = _shared_lookups(lookups, m)
        n_max, k_max = int(ns.max()), int(ks.max())
        stored = target_table is not None
        if stored:
            target_table = np.ascontiguousarray(target_table, np.int32)
        sizes = layout.Sizes(
            m=m, n_max=n_max, k_max=k_max, heap=max(size for _, size in geoms),
            geom=max(g.shape[0] for g, _ in geoms),
            bitmap=1 if stored else bitmap_words(n_max), drawn=1 if stored else k_max,
            candidates=2 if stored else candidate_scratch(k_max),
            neuron_rows=n_max if neurons is not None else 1,
            refractory_rows=n_max if np.any(pars[:, km.P_T_REF] > 0.0) else 1,
            buffer=buffer_spikes,
            table_rows=target_table.shape[0] if stored else 1,
            table_cols=target_table.shape[1] if stored else 1, lookup=lookup.shape[0])
        self.__dict__.update(layout.allocate(sizes))
        self.model, self.key_kind = int(model_id), int(key_kind)
        self.conn_mode = engine.STORED if stored else engine.ON_THE_FLY
        if stored:
            self.target_table[...] = target_table
        self.lookup[...] = lookup
        self.lookup_base[...] = lookup_base
        self.par[...] = pars
        self.n[...], self.k[...] = ns, ks
        self.seed[...] = np.asarray(seeds, np.int64).reshape(m)
        for i, ((g, _), p) in enumerate(zip(geoms, phases)):
            self.geom[i, :g.shape[0]] = g
            if neurons is not None:
                self.neuron[i, :p.shape[0]] = neurons[i]
            self.heap[i, :p.shape[0]] = initial_keys(key_kind, self.par[i], p,
                                                     self.neuron[i, :p.shape[0]])
        build_queues(self.heap, self.geom, self.n)
        self.rec_cap[...] = np.iinfo(np.int64).max

    @property
    def size(self):
        """Number of instances."""
        return self.n.shape[0]

    @property
    def featured(self):
        """Whether some instance has a refractory period or excitatory coupling (the event
        loop compiled with their code)."""
        return bool(np.any(self.par[:, km.P_T_REF] > 0.0) or np.any(self.par[:, km.P_KICK] > 0.0))

    @property
    def tabulated(self):
        """Whether the model is a TABLE model (its own compiled event loop)."""
        return self.model == km.TABLE

    def arrays(self):
        """Every SHARED and INSTANCE array, by name."""
        return {name: getattr(self, name) for name in layout.ARRAYS}

    def constants(self):
        """The CONSTANT scalars, by name."""
        return {"model": self.model, "key_kind": self.key_kind, "conn_mode": self.conn_mode}

    def nbytes(self, instance=0):
        """Bytes of engine state per instance (a stored table and the lookup tables count in
        full)."""
        per_row = sum(getattr(self, name)[instance].nbytes for name in layout.PER_INSTANCE)
        return per_row + self.target_table.nbytes + self.lookup.nbytes

    def carried(self):
        """The state a run carries on from (``layout.CARRIED``), by name, each (M, ...) and
        padded to the largest n: ``keys`` (the queue's keys; NaN beyond an instance's n), and
        views of ``clock``, ``counts`` and ``isi``."""
        n_max = self.counts.shape[1]
        keys = np.where(np.arange(n_max) < self.n[:, None], self.heap[:, :n_max], np.nan)
        return {"keys": keys, "clock": self.clock, "counts": self.counts, "isi": self.isi,
                "refractory_end": self.refractory_end}

    def carry_on(self, keys, clock, counts, isi, refractory_end=None):
        """Put every instance back where ``carried`` found it (arrays (M, ...) as it gives
        them): the next launch continues those runs bitwise as if they had never stopped.

        ``refractory_end`` is needed where an instance has a refractory period (records and
        stores do not keep it yet: such runs cannot be continued from them)."""
        if self.refractory_end.shape[1] > 1:
            if refractory_end is None:
                raise ValueError("continuing a run with a refractory period (t_ref > 0) needs "
                                 "each neuron's end of refractoriness, which records and "
                                 "stores do not keep yet: run it again from the start")
            self.refractory_end[...] = refractory_end
        for m, n in enumerate(self.n):
            self.heap[m, :n] = keys[m, :n]
        build_queues(self.heap, self.geom, self.n)
        self.clock[...] = clock
        width = self.counts.shape[1]
        self.counts[...] = counts[:, :width]
        self.isi[...] = isi[:, :width]

    def time(self, m=0):
        """Time of the next spike of instance ``m`` (s)."""
        root = pqueue.pq_root(self.geom[m])
        shift = km.shift_of(self.key_kind, self.heap[m, root], self.par[m])
        clock = self.clock[m]
        return clock[0] + (clock[1] + km.elapsed(self.key_kind, shift, self.par[m]))
