"""The host's compiled entry points into ``kernels/`` that do not run the event loop, and the
digest every cached entry point needs.

Numba keys its disk cache on the source file of the cached function only, not on the files
it calls into. An entry point that calls ``kernels/`` code therefore holds
``kernels_digest()`` in its closure (Numba hashes closure values into the key), so editing a
kernel recompiles it instead of serving stale machine code.
"""
import functools
import hashlib
from pathlib import Path

import numpy as np
from numba import njit, prange

from .kernels import connectivity, engine, inputs, models, pqueue, tangent


@functools.lru_cache(maxsize=None)
def kernels_digest():
    """SHA-256 of the kernels/ sources."""
    digest = hashlib.sha256()
    for path in sorted(Path(engine.__file__).parent.glob("*.py")):
        digest.update(path.read_bytes())
    return digest.hexdigest()


def _compile(digest):
    """The entry points, cached on disk; ``digest`` sits in each one's closure."""
    @njit(cache=True)
    def fill_table(seed, n, k, bitmap, candidates, table):
        digest  # noqa: B018  (captured: puts the kernels digest in the cache key)
        connectivity.fill_target_table(seed, n, k, bitmap, candidates, table)

    @njit(cache=True)
    def build(heap, geom, n):
        digest  # noqa: B018  (captured: puts the kernels digest in the cache key)
        for m in range(n.shape[0]):
            pqueue.pq_build(heap[m], geom[m], n[m])

    @njit(cache=True)
    def fill_distinct(seed, block, count, span, same, k, offset, bitmap, candidates, out):
        digest  # noqa: B018  (captured: puts the kernels digest in the cache key)
        for j in range(count):
            connectivity.draw_distinct(connectivity.block_key(seed, block, j), span,
                                       j if same else span, k, offset, bitmap,
                                       out[j * k:(j + 1) * k], candidates)

    @njit(cache=True)
    def fill_bernoulli(seed, block, count, span, same, log_q, offset, degrees, out):
        digest  # noqa: B018  (captured: puts the kernels digest in the cache key)
        at = 0
        for j in range(count):
            key = connectivity.block_key(seed, block, j)
            got = connectivity.bernoulli_targets(key, span, j if same else span, log_q, offset,
                                                 out[at:], out.shape[0] > 0)
            degrees[j] = got
            at += got

    @njit(cache=True)
    def fill_poisson(noise_seed, b, rate, n, t_end, times, targets):
        digest  # noqa: B018  (captured: puts the kernels digest in the cache key)
        key = inputs.poisson_key(noise_seed, b)
        t = inputs.poisson_gap(key, 0, rate)      # as the engine sums them
        event = 0
        while t <= t_end and event < times.shape[0]:
            times[event] = t
            targets[event] = inputs.poisson_target(key, event, n)
            event += 1
            t += inputs.poisson_gap(key, event, rate)
        return event if t > t_end else -1

    @njit(cache=True, _nrt=False, nogil=True)      # nogil: spectra replayed in threads
    def replay(model, par, conn_mode, target_table, kicks, seed, n, k, bitmap, drawn,
               candidates, refractory_end, offsets, senders, times, t0, lo, hi, vectors,
               log_slopes):
        digest  # noqa: B018  (captured: puts the kernels digest in the cache key)
        return tangent.replay_tangents(model, models.constants(par), conn_mode, target_table,
                                       kicks, seed, n, k, bitmap, drawn, candidates,
                                       refractory_end, offsets, senders, times, t0, lo, hi,
                                       vectors, log_slopes)

    @njit(cache=True, _nrt=False, nogil=True)      # nogil: mini-batches replayed in threads
    def inputs_of(model, par, drive, conn_mode, target_table, kicks, seed, n, k, bitmap, drawn,
                  candidates, refractory_end, offsets, senders, times, t0, lo, hi, targets,
                  slopes, d_coupling, d_drive, sources, roots):
        digest  # noqa: B018  (captured: puts the kernels digest in the cache key)
        return tangent.record_inputs(model, models.constants(par), drive, conn_mode,
                                     target_table, kicks, seed, n, k, bitmap, drawn, candidates,
                                     refractory_end, offsets, senders, times, t0, lo, hi,
                                     targets, slopes, d_coupling, d_drive, sources, roots)

    # tangent.backward_instance of every sample, in turn and over the cores (two functions, as
    # engine/cpu.py's loops): numba's parallel loop costs ~5 % per spike for one sample (2.38
    # against 2.25 us at N = 1e6). args: backward_instance's after mp; args[8] the times (B, S)
    @njit(cache=True, _nrt=False)
    def backward_serial(model, par, *args):
        digest  # noqa: B018  (captured: puts the kernels digest in the cache key)
        mp = models.constants(par)
        for b in range(args[8].shape[0]):
            tangent.backward_instance(b, model, mp, *args)

    @njit(cache=True, parallel=True, _nrt=False)
    def backward_parallel(model, par, *args):
        digest  # noqa: B018  (captured: puts the kernels digest in the cache key)
        mp = models.constants(par)
        for b in prange(args[8].shape[0]):
            tangent.backward_instance(b, model, mp, *args)

    return (fill_table, build, fill_distinct, fill_bernoulli, fill_poisson, replay, inputs_of,
            backward_serial, backward_parallel)


(_fill_table, _build, _fill_distinct, _fill_bernoulli, _fill_poisson, replay_tangents,
 record_inputs, backward_serial, backward_parallel) = _compile(kernels_digest())
"""``replay_tangents(...)``, ``record_inputs(...)``: ``kernels.tangent``'s, with the model
constants as the parameter vector ``par`` (float64[N_PAR]); ``backward_serial(model, par, ...)``
and ``backward_parallel``: ``tangent.backward_instance`` of every sample of a mini-batch, in turn
or over the cores."""


def bitmap_words(n):
    """64-bit words of an n-bit set."""
    return -(-n // 64)


def candidate_scratch(k):
    """Length of the scratch for one batch of target candidates: k rounded up to even."""
    return k + (k & 1)


def target_table(seed, n, k):
    """The (n, k) int32 target table of network ``seed`` (the targets drawn on the fly)."""
    table = np.empty((n, k), dtype=np.int32)
    _fill_table(np.int64(seed), np.int64(n), np.int64(k), np.zeros(bitmap_words(n), np.uint64),
                np.zeros(candidate_scratch(k), np.int64), table)
    return table


def distinct_draws(seed, block, count, n_other, same, k, offset=0):
    """(count * k,) int32: for each of ``count`` neurons of block ``block``, ``k`` distinct
    neurons of a population of ``n_other`` (itself left out where ``same``), plus
    ``offset``: the targets of a fixed out-degree block as the engine draws them on the fly,
    or the sources of a fixed in-degree block."""
    span = n_other - 1 if same else n_other
    out = np.empty(count * k, np.int32)
    _fill_distinct(np.int64(seed), np.int64(block), np.int64(count), np.int64(span), bool(same),
                   np.int64(k), np.int64(offset), np.zeros(bitmap_words(n_other), np.uint64),
                   np.zeros(candidate_scratch(k), np.int64), out)
    return out


def _bernoulli_args(seed, block, count, n_other, same, p, offset):
    span = n_other - 1 if same else n_other
    log_q = np.log1p(-p) if p < 1.0 else -np.inf
    return (np.int64(seed), np.int64(block), np.int64(count), np.int64(span), bool(same),
            np.float64(log_q), np.int64(offset), np.zeros(count, np.int64))


def bernoulli_degrees(seed, block, count, n_other, same, p):
    """(count,) int64: the out-degrees of ``bernoulli_draws``, counted without keeping the
    targets (O(count) memory)."""
    args = _bernoulli_args(seed, block, count, n_other, same, p, 0)
    _fill_bernoulli(*args, np.empty(0, np.int32))
    return args[-1]


def bernoulli_draws(seed, block, count, n_other, same, p, offset=0):
    """(degrees (count,), targets): each of ``count`` neurons of block ``block`` connects to
    each neuron of a population of ``n_other`` (itself left out where ``same``) with
    probability ``p``; targets in increasing order, plus ``offset``: the targets the engine
    draws on the fly."""
    args = _bernoulli_args(seed, block, count, n_other, same, p, offset)
    _fill_bernoulli(*args, np.empty(0, np.int32))            # count first, then fill
    out = np.empty(int(args[-1].sum()), np.int32)
    _fill_bernoulli(*args, out)
    return args[-1], out


def build_queues(heap, geom, n):
    """Fill every instance's priority queue above its keys ``heap[m, :n[m]]``."""
    _build(heap, geom, n)


def poisson_events(noise_seed, b, rate, n, t_end):
    """(times (s), targets 0 .. n - 1) of population ``b``'s Poisson input of merged ``rate``
    (Hz) over its ``n`` neurons up to ``t_end`` (s): the events the engine draws."""
    size = int(rate * t_end + 10 * np.sqrt(rate * t_end) + 100)
    while True:
        times, targets = np.empty(size), np.empty(size, np.int64)
        got = _fill_poisson(np.int64(noise_seed), np.int64(b), np.float64(rate), np.int64(n),
                            np.float64(t_end), times, targets)
        if got >= 0:
            return times[:got], targets[:got]
        size *= 2
