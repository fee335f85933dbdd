"""Batch: the engine arrays of M network instances, one row per instance.

Every backend runs ``kernels.engine.advance_instance`` on rows of these arrays:
the CPU backend over a ``prange``, the CUDA backend one thread per instance. A
single ``simulate`` is a batch of one. Instances in a batch share the model, the
priority-queue key and the connectivity mode; their size, out-degree, drive,
coupling and seeds may differ (rows are sized for the largest).
"""
import numpy as np

from ..kernels import engine, models as km, pqueue

FAN_BITS = 5                # 32 children per node: measured fastest (README, performance)
SUMMARY_BUFFER = 4096       # spikes buffered between batches of statistics when none are kept

# the per-instance arrays, in the order ``advance_instance`` takes them after (model, key_kind)
STATE = ("par", "neuron", "tab_base", "heap", "geom", "n", "k", "seed")
SCRATCH = ("bitmap", "targets", "candidates", "gathered", "clock", "counts", "isi")
OUTPUT = ("buf_times", "buf_senders", "rec_cap")
OUTCOME = ("status", "n_rec", "n_proc")


def bitmap_words(n):
    """64-bit words of an n-bit set."""
    return -(-n // 64)


def candidate_scratch(k):
    """Length of the scratch for one batch of target candidates: k rounded up to even."""
    return k + (k & 1)


def initial_keys(key_kind, par, phases, neuron):
    """Queue keys of neurons at ``phases`` with the global shift (or time) at zero."""
    if key_kind == km.KEY_EXP:
        return np.exp(-phases / par[km.P_OMEGA])
    if key_kind == km.KEY_TIME:
        return (par[km.P_PHI_TH] - phases) * neuron[:, km.N_TPP]
    if key_kind == km.KEY_EXP_TIME:      # exp(t_next / tau) = (I / (I - 1)) ** (1 - phi)
        return np.exp((par[km.P_PHI_TH] - phases) * np.log(neuron[:, km.N_EXP_RESET]))
    return par[km.P_PHI_TH] - phases


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
    neurons : list of M ndarrays (n, N_NEURON), optional
        Per-neuron constants of each instance, for the time key.
    tabs : list of M 1-D float64 ndarrays, optional
        Each instance's tables (``kernels.tables``), needed by the ``TABLE`` model. The
        distinct ones (the same array object) are stored once, one after another, in
        the shared ``tab``, and ``tab_base[m]`` says where instance m's start: instances
        that differ only in seeds read one table (a (1,) dummy without tables).
    table : ndarray (n, k) of int32 or None
        One stored target table shared by all instances, or None for targets
        drawn on the fly from each instance's seed.
    buffer_spikes : int
        Spike-buffer length per instance (>= 1).
    fan_bits : int
        log2 of the priority queue's fan-out.
    """

    def __init__(self, model_id, key_kind, pars, phases, ks, seeds, table=None,
                 buffer_spikes=SUMMARY_BUFFER, fan_bits=FAN_BITS, neurons=None, tabs=None):
        from .cpu import build_queues
        m = len(phases)
        ns = np.array([p.shape[0] for p in phases], np.int64)
        self.model_id, self.key_kind = int(model_id), int(key_kind)
        self.par = np.ascontiguousarray(pars, np.float64).reshape(m, km.N_PAR)
        self.n = ns
        if self.model_id == km.TABLE and (tabs is None or len(tabs) != m):
            raise ValueError("a TABLE model needs one table per instance (tabs)")
        starts, parts, size = {}, [], 0
        self.tab_base = np.zeros(m, np.int64)
        for i, t in enumerate(tabs or ()):
            if id(t) not in starts:
                starts[id(t)] = size
                parts.append(t)
                size += t.shape[0]
            self.tab_base[i] = starts[id(t)]
        self.tab = np.concatenate(parts) if parts else np.zeros(1)
        self.k = np.asarray(ks, np.int64).reshape(m)
        self.seed = np.asarray(seeds, np.int64).reshape(m)
        geoms = [pqueue.tree_geometry(int(n), fan_bits) for n in ns]
        width = max(g.shape[0] for g, _ in geoms)
        self.geom = np.zeros((m, width), np.int64)
        self.heap = np.zeros((m, max(size for _, size in geoms)))
        n_max, k_max = int(ns.max()), int(self.k.max())
        self.neuron = np.zeros((m, n_max if neurons is not None else 1, km.N_NEURON))
        for i, ((g, _), p) in enumerate(zip(geoms, phases)):
            self.geom[i, :g.shape[0]] = g
            if neurons is not None:
                self.neuron[i, :p.shape[0]] = neurons[i]
            self.heap[i, :p.shape[0]] = initial_keys(key_kind, self.par[i], p,
                                                     self.neuron[i, :p.shape[0]])
        build_queues(self.heap, self.geom, self.n)
        if table is None:
            self.conn_mode = engine.ON_THE_FLY
            self.table = np.zeros((1, 1), np.int32)
            self.bitmap = np.zeros((m, bitmap_words(n_max)), np.uint64)
            self.targets = np.zeros((m, k_max), np.int32)
            self.candidates = np.zeros((m, candidate_scratch(k_max)), np.int64)
        else:
            self.conn_mode = engine.STORED
            self.table = np.ascontiguousarray(table, np.int32)
            self.bitmap = np.zeros((m, 1), np.uint64)
            self.targets = np.zeros((m, 1), np.int32)
            self.candidates = np.zeros((m, 2), np.int64)
        self.gathered = np.zeros((m, k_max))
        self.clock = np.zeros((m, 2))
        self.counts = np.zeros((m, n_max), np.int32)
        self.isi = np.zeros((m, n_max, 3))
        self.buf_times = np.zeros((m, buffer_spikes))
        self.buf_senders = np.zeros((m, buffer_spikes), np.int32)
        self.rec_cap = np.full(m, np.iinfo(np.int64).max, np.int64)
        self.status = np.zeros(m, np.int64)
        self.n_rec = np.zeros(m, np.int64)
        self.n_proc = np.zeros(m, np.int64)

    @property
    def size(self):
        """Number of instances."""
        return self.n.shape[0]

    def arrays(self, names):
        """The named arrays, in order."""
        return tuple(getattr(self, name) for name in names)

    def nbytes(self, instance=0):
        """Bytes of engine state per instance (a stored table and the model tables count in
        full)."""
        per_row = sum(a[instance].nbytes for a in self.arrays(STATE + SCRATCH + OUTPUT + OUTCOME))
        return per_row + self.table.nbytes + self.tab.nbytes

    def _shift(self, m):
        root = pqueue.pq_root(self.geom[m])
        return km.shift_of(self.key_kind, self.heap[m, root], self.par[m])

    def phases(self, m=0):
        """Phases of instance ``m`` at ``time(m)``, the instant of its next spike."""
        keys = self.heap[m, :self.n[m]]
        shift = self._shift(m)
        if self.key_kind == km.KEY_EXP:
            return -self.par[m, km.P_OMEGA] * np.log(keys / shift)
        return self.par[m, km.P_PHI_TH] - (keys - shift)

    def time(self, m=0):
        """Time of the next spike of instance ``m`` (s)."""
        clock = self.clock[m]
        return clock[0] + (clock[1] + km.elapsed(self.key_kind, self._shift(m), self.par[m]))
