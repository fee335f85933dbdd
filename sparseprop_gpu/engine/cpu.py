"""CPU backend: the ``kernels/`` event loop compiled with ``numba.njit`` (cached on disk).

Instances of a batch run in parallel over the cores (``prange``); a batch of one runs without
the thread pool.
"""
import numpy as np
from numba import njit, prange

from ..compiled import kernels_digest
from ..kernels import engine
from . import layout


def _event_loops(digest, tabulated, featured, blocked):
    """The event loop over a batch, serial and parallel, for table or closed-form models,
    with or without refractory periods and excitation (``Batch.featured``), or of
    populations (``blocked``): one of ``layout.VARIANTS``.

    The three flags are constants of the closure, so the closed forms' loop is
    compiled without the lookup code (measured: 0.35 ns per synaptic event at N = 1e3) and a
    loop without the features without their branches; ``digest`` puts the kernels' sources in
    the disk cache's key (``sparseprop_gpu.compiled``). Each is compiled at its first call,
    without Numba's runtime (``_nrt=False``: the kernels allocate nothing, and its reference
    counts cost ~110 ns per out-of-line call of a helper taking arrays; docs/design.md §5.7).
    """
    @njit(cache=True, _nrt=False)
    def advance_serial(active, *args):
        digest  # noqa: B018  (captured: puts the kernels digest in the cache key)
        for a in range(active.shape[0]):
            engine.advance_instance(active[a], tabulated, featured, blocked, *args)

    @njit(cache=True, parallel=True, _nrt=False)
    def advance_parallel(active, *args):
        digest  # noqa: B018  (captured: puts the kernels digest in the cache key)
        for a in prange(active.shape[0]):
            engine.advance_instance(active[a], tabulated, featured, blocked, *args)

    return advance_serial, advance_parallel


_LOOPS = {variant: _event_loops(kernels_digest(), *variant) for variant in layout.VARIANTS}


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

    def advance(self, active, **launch):
        """One launch: every instance of ``active`` (int64) runs until it stops.

        ``launch`` gives the LAUNCH scalars of ``engine.layout`` by name: ``t_end`` and
        ``warmup`` (s), ``keep``, ``max_spikes``. The outcome lands in ``batch.status``,
        ``n_rec`` and ``n_proc``.
        """
        serial, parallel = _LOOPS[self.batch.variant]
        run = parallel if self.parallel and active.shape[0] > 1 else serial
        run(np.ascontiguousarray(active, np.int64),
            *layout.arguments(self.batch.arrays(), self.batch.constants(), launch))

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
