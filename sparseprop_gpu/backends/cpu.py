"""CPU backend: the ``kernels/`` device code compiled with ``numba.njit`` (cached on disk)."""
import hashlib
from pathlib import Path

import numpy as np
from numba import njit

from ..kernels import connectivity, engine, models as km, pqueue

FAN_BITS = 5          # 32 children per node: measured fastest (README, performance)
SCRATCH_SPIKES = 4096  # spikes buffered between batches of statistics when none are kept


def _kernels_digest():
    """SHA-256 of the kernels/ sources."""
    digest = hashlib.sha256()
    for path in sorted(Path(engine.__file__).parent.glob("*.py")):
        digest.update(path.read_bytes())
    return digest.hexdigest()


def _compile(digest):
    """The njit entry points into kernels/, cached on disk.

    Numba keys its cache on the source file of the cached function only, not on
    the files it calls into; ``digest`` (of kernels/) sits in each function's
    closure, which Numba does hash, so editing a kernel recompiles them.
    """
    @njit(cache=True)
    def fill_table(seed, n, k, bitmap, candidates, table):
        digest
        connectivity.fill_target_table(seed, n, k, bitmap, candidates, table)

    @njit(cache=True)
    def build(heap, geom, n):
        digest
        pqueue.pq_build(heap, geom, n)

    @njit(cache=True)
    def advance(*args):
        digest
        return engine.advance(*args)

    return fill_table, build, advance


_fill_table, _build, _advance = _compile(_kernels_digest())


def target_table(seed, n, k):
    """The (n, k) int32 target table of network ``seed`` (same as drawn on the fly)."""
    table = np.empty((n, k), dtype=np.int32)
    _fill_table(np.int64(seed), np.int64(n), np.int64(k), np.zeros(bitmap_words(n), np.uint64),
                candidate_scratch(k), table)
    return table


def bitmap_words(n):
    """64-bit words of an n-bit set."""
    return -(-n // 64)


def candidate_scratch(k):
    """Scratch for one batch of target candidates: k rounded up to even."""
    return np.zeros(k + (k & 1), np.int64)


class EngineState:
    """Every array one instance's engine reads and writes, laid out for ``kernels.engine``.

    Parameters
    ----------
    model_id, key_kind : int
        ``kernels.models`` constants.
    par : ndarray
        Model parameter vector.
    phases : ndarray (n,)
        Initial phases.
    k, seed : int
        Out-degree and network seed.
    table : ndarray (n, k) of int32 or None
        Stored targets, or None for on-the-fly targets.
    fan_bits : int
        log2 of the priority queue's fan-out.
    """

    def __init__(self, model_id, key_kind, par, phases, k, seed, table, fan_bits=FAN_BITS):
        n = phases.shape[0]
        self.model_id, self.key_kind, self.par = model_id, key_kind, par
        self.n, self.k, self.seed = n, k, seed
        self.geom, size = pqueue.tree_geometry(n, fan_bits)
        self.heap = np.empty(size)
        phi_th = par[km.P_PHI_TH]
        if key_kind == km.KEY_EXP:
            self.heap[:n] = np.exp(-phases / par[km.P_OMEGA])
        else:
            self.heap[:n] = phi_th - phases
        _build(self.heap, self.geom, np.int64(n))
        if table is None:
            self.conn_mode = engine.ON_THE_FLY
            self.table = np.zeros((1, 1), np.int32)
            self.bitmap = np.zeros(bitmap_words(n), np.uint64)
            self.targets = np.zeros(k, np.int32)
            self.candidates = candidate_scratch(k)
        else:
            self.conn_mode = engine.STORED
            self.table = table
            self.bitmap = np.zeros(1, np.uint64)
            self.targets = np.zeros(1, np.int32)
            self.candidates = candidate_scratch(1)
        self.gathered = np.zeros(k)
        self.clock = np.zeros(2)
        self.counts = np.zeros(n, np.int32)
        self.isi = np.zeros((n, 3))
        self.scratch = (np.empty(SCRATCH_SPIKES), np.empty(SCRATCH_SPIKES, np.int32))

    def nbytes(self):
        """Bytes of state the engine holds (a stored table counts in full)."""
        arrays = (self.heap, self.geom, self.table, self.bitmap, self.targets, self.candidates, self.gathered, self.clock,
                  self.counts, self.isi, self.par) + self.scratch
        return sum(a.nbytes for a in arrays)

    def advance(self, t_end, warmup, rec_cap, max_spikes, out=None):
        """Run the event loop until a stop condition.

        Parameters
        ----------
        t_end, warmup : float
            End time and start of recording (s).
        rec_cap, max_spikes : int
            Stop after recording or processing this many spikes.
        out : (float64[B], int32[B]), optional
            Buffers that receive the recorded spikes (the call stops when they are
            full); without them only the statistics are kept.

        Returns
        -------
        (status, recorded, processed)
        """
        keep = out is not None
        times, senders = out if keep else self.scratch
        status, n_rec, n_proc = _advance(
            np.int64(self.model_id), np.int64(self.key_kind), self.par, self.heap, self.geom,
            np.int64(self.n), np.int64(self.k), np.int64(self.conn_mode), np.int64(self.seed),
            self.table, self.bitmap, self.targets, self.candidates, self.gathered, self.clock, float(t_end),
            float(warmup), self.counts, self.isi, keep, times, senders, np.int64(rec_cap),
            np.int64(max_spikes))
        return int(status), int(n_rec), int(n_proc)

    def _shift(self):
        return km.shift_of(self.key_kind, self.heap[-1], self.par)

    def phases(self):
        """Phases at ``time()``, the instant of the next spike."""
        keys = self.heap[:self.n]
        shift = self._shift()
        if self.key_kind == km.KEY_EXP:
            return -self.par[km.P_OMEGA] * np.log(keys / shift)
        return self.par[km.P_PHI_TH] - (keys - shift)

    def time(self):
        """Time of the next spike (s)."""
        return self.clock[0] + (self.clock[1] + km.elapsed(self.key_kind, self._shift(), self.par))
