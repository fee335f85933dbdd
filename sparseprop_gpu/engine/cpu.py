"""CPU backend: the ``kernels/`` device code compiled with ``numba.njit`` (cached on disk).

Instances of a batch run in parallel over the cores (``prange``); a batch of one
runs without the thread pool.
"""
import numpy as np
from numba import njit, prange

from .batch import OUTCOME, OUTPUT, SCRATCH, STATE, bitmap_words, candidate_scratch
from ..compiled import kernels_digest
from ..kernels import connectivity, engine, models as km, pqueue


def _compile(digest):
    """The njit entry points into kernels/ that do not run the event loop, cached on disk.

    ``digest`` (``jit.kernels_digest()``) sits in each function's closure, so that
    editing a kernel recompiles them (see ``sparseprop_gpu.compiled``).
    """
    @njit(cache=True)
    def fill_table(seed, n, k, bitmap, candidates, table):
        digest  # noqa: B018  (captured: puts the kernels digest in the cache key)
        connectivity.fill_target_table(seed, n, k, bitmap, candidates, table)

    @njit(cache=True)
    def build(heap, geom, n):
        digest  # noqa: B018  (captured: puts the kernels digest in the cache key)
        for m in range(n.shape[0]):
            pqueue.pq_build(heap[m], geom[m], n[m])

    return fill_table, build


def _event_loops(digest, tables):
    """The event loop over a batch, serial and parallel, for table or closed-form models.

    ``tables`` is a constant of the closure, so the closed forms' loop is compiled
    without the table code (measured: 0.35 ns per synaptic event at N = 1e3); cached
    like ``_compile``'s.
    """
    @njit(cache=True)
    def advance_serial(active, *args):
        digest  # noqa: B018  (captured: puts the kernels digest in the cache key)
        for a in range(active.shape[0]):
            engine.advance_instance(active[a], tables, *args)

    @njit(cache=True, parallel=True)
    def advance_parallel(active, *args):
        digest  # noqa: B018  (captured: puts the kernels digest in the cache key)
        for a in prange(active.shape[0]):
            engine.advance_instance(active[a], tables, *args)

    return advance_serial, advance_parallel


_fill_table, _build = _compile(kernels_digest())
_LOOPS = {tables: _event_loops(kernels_digest(), tables) for tables in (False, True)}
_advance_serial, _advance_parallel = _LOOPS[False]


def target_table(seed, n, k):
    """The (n, k) int32 target table of network ``seed`` (same as drawn on the fly)."""
    table = np.empty((n, k), dtype=np.int32)
    _fill_table(np.int64(seed), np.int64(n), np.int64(k), np.zeros(bitmap_words(n), np.uint64),
                np.zeros(candidate_scratch(k), np.int64), table)
    return table


def build_queues(heap, geom, n):
    """Fill every instance's priority queue above its keys ``heap[m, :n[m]]``."""
    _build(heap, geom, n)


def advance(batch, active, t_end, warmup, max_spikes, keep, parallel=True):
    """Run the instances ``active`` of ``batch`` until each stops; see ``kernels.engine``.

    Parameters
    ----------
    batch : Batch
    active : ndarray of int64
        Instances to run; their outcome lands in ``batch.status``, ``n_rec``, ``n_proc``.
    t_end, warmup : float
        End time and start of recording (s).
    max_spikes : int
        Network spikes per instance in this call, at most.
    keep : bool
        Keep the recorded spikes in the batch's buffers (stop when full).
    parallel : bool
        Spread the instances over the cores.
    """
    serial, parallel_loop = _LOOPS[batch.model_id == km.TABLE]
    run = parallel_loop if parallel and active.shape[0] > 1 else serial
    run(np.ascontiguousarray(active, np.int64), np.int64(batch.model_id),
        np.int64(batch.key_kind), *batch.arrays(STATE + SCRATCH + OUTPUT + OUTCOME),
        np.int64(batch.conn_mode), batch.table, batch.tab, float(t_end), float(warmup), bool(keep),
        np.int64(max_spikes))


class CpuRunner:
    """Runs a batch on the CPU; the batch's own arrays are the state.

    Parameters
    ----------
    batch : Batch
    parallel : bool
        Spread the instances of a launch over the cores.
    """

    name = "cpu"

    def __init__(self, batch, parallel=True):
        self.batch = batch
        self.parallel = parallel

    def advance(self, active, t_end, warmup, max_spikes, keep):
        """One launch over ``active``; see ``advance``."""
        advance(self.batch, active, t_end, warmup, max_spikes, keep, self.parallel)

    def outcome(self, active):
        """(status, recorded) of the instances ``active`` after the last launch."""
        return self.batch.status[active], self.batch.n_rec[active]

    def spikes(self, m, count):
        """Copies of the first ``count`` buffered spikes (times, senders) of instance ``m``."""
        return self.batch.buf_times[m, :count].copy(), self.batch.buf_senders[m, :count].copy()

    def set_rec_cap(self, active, caps):
        """Recording budget of each active instance for the next launch."""
        self.batch.rec_cap[active] = caps

    def sync(self):
        """Bring the batch's host arrays up to date (nothing to do on the CPU)."""
        return self.batch
