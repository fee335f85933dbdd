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
from numba import njit

from .kernels import connectivity, engine, pqueue


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

    return fill_table, build


_fill_table, _build = _compile(kernels_digest())


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


def build_queues(heap, geom, n):
    """Fill every instance's priority queue above its keys ``heap[m, :n[m]]``."""
    _build(heap, geom, n)
